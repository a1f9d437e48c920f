//! What a plugin's library says about itself, read from the file with the `object` crate and never loaded:
//! its ELF machine, the `aisopod_` symbols it exports, and whether each library it needs (`DT_NEEDED`) can be
//! found.
//!
//! Each `DT_NEEDED` entry is looked for the way the dynamic linker looks (ld.so(8)), and the first match wins:
//! a name with a slash is a path; otherwise `DT_RPATH` (only when there is no `DT_RUNPATH`), then
//! `LD_LIBRARY_PATH`, then `DT_RUNPATH`, with `$ORIGIN` expanded to the library's directory, then the
//! ldconfig cache (`ldconfig -p`), then the default directories. A candidate counts only when it is an ELF
//! file of the library's class and machine, as the linker skips others. Not modelled: `LD_PRELOAD`,
//! `$LIB`/`$PLATFORM` in run paths, hardware-capability subdirectories, and libraries the host process has
//! already loaded.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use object::elf;
use object::read::elf::{FileHeader, Sym};
use object::Endianness;
use serde::Serialize;

/// The largest library read whole.
const MAX_LIBRARY_BYTES: u64 = 512 * 1024 * 1024;

/// The facts `inspect` shows.
#[derive(Debug, Serialize)]
pub struct LibraryFacts {
    /// "x86_64", "aarch64", ... or "ELF machine <n>".
    pub machine: String,
    /// 32 or 64.
    pub class_bits: u8,
    /// Defined, global dynamic symbols whose name starts with `aisopod_`, sorted.
    pub aisopod_exports: Vec<String>,
    pub needed: Vec<Needed>,
    pub run_paths: Vec<String>,
}

/// One `DT_NEEDED` entry and where the dynamic linker would find it.
#[derive(Debug, Serialize)]
pub struct Needed {
    pub name: String,
    /// The file found, or `None` when it cannot be found.
    pub resolved: Option<PathBuf>,
    /// How it was found: "path", "DT_RPATH", "LD_LIBRARY_PATH", "DT_RUNPATH", "ldconfig cache", "default path".
    pub via: Option<&'static str>,
}

/// Class and machine, which a needed library must share with the plugin's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Target {
    is_64: bool,
    machine: u16,
}

/// Reads the library at `path`. The error names the file and what is wrong with it.
pub fn read(path: &Path) -> Result<LibraryFacts, String> {
    let size = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?.len();
    if size > MAX_LIBRARY_BYTES {
        return Err(format!("{}: {size} bytes, more than the {MAX_LIBRARY_BYTES} read here", path.display()));
    }
    let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let parsed = match data.get(4).copied() {
        Some(elf::ELFCLASS64) if data.starts_with(&elf::ELFMAG) => parse::<elf::FileHeader64<Endianness>>(&data),
        Some(elf::ELFCLASS32) if data.starts_with(&elf::ELFMAG) => parse::<elf::FileHeader32<Endianness>>(&data),
        _ => Err("not an ELF file".to_owned()),
    };
    let (target, mut exports, needed, runpath, rpath) = parsed.map_err(|why| format!("{}: {why}", path.display()))?;
    exports.sort();
    let origin = path.parent().unwrap_or(Path::new("."));
    let needed = needed.iter().map(|name| resolve(name, target, origin, &runpath, &rpath)).collect();
    Ok(LibraryFacts {
        machine: machine_name(target.machine),
        class_bits: if target.is_64 { 64 } else { 32 },
        aisopod_exports: exports,
        needed,
        run_paths: if runpath.is_empty() { rpath } else { runpath },
    })
}

type Parsed = (Target, Vec<String>, Vec<String>, Vec<String>, Vec<String>);

fn parse<Elf: FileHeader<Endian = Endianness>>(data: &[u8]) -> Result<Parsed, String> {
    let header = Elf::parse(data).map_err(|e| e.to_string())?;
    let endian = header.endian().map_err(|e| e.to_string())?;
    let target = Target { is_64: header.is_type_64(), machine: header.e_machine(endian) };
    let sections = header.sections(endian, data).map_err(|e| e.to_string())?;
    let symbols = sections.symbols(endian, data, elf::SHT_DYNSYM).map_err(|e| e.to_string())?;
    let exports = symbols
        .iter()
        .filter(|sym| sym.st_shndx(endian) != elf::SHN_UNDEF)
        .filter(|sym| matches!(sym.st_bind(), elf::STB_GLOBAL | elf::STB_WEAK))
        .filter_map(|sym| sym.name(endian, symbols.strings()).ok())
        .filter(|name| name.starts_with(b"aisopod_"))
        .map(|name| String::from_utf8_lossy(name).into_owned())
        .collect();
    let (mut needed, mut runpath, mut rpath) = (Vec::new(), Vec::new(), Vec::new());
    if let Ok(table) = sections.dynamic_table(endian, data) {
        for entry in table.iter() {
            let list = match entry.tag {
                elf::DT_NEEDED => &mut needed,
                elf::DT_RUNPATH => &mut runpath,
                elf::DT_RPATH => &mut rpath,
                _ => continue,
            };
            if let Ok(text) = table.string(entry) {
                list.push(String::from_utf8_lossy(text).into_owned());
            }
        }
    }
    let split = |paths: Vec<String>| paths.iter().flat_map(|p| p.split(':').map(str::to_owned)).collect();
    Ok((target, exports, needed, split(runpath), split(rpath)))
}

/// Where the dynamic linker would find `name`, following the order in the module comment.
fn resolve(name: &str, target: Target, origin: &Path, runpath: &[String], rpath: &[String]) -> Needed {
    let found = |resolved: PathBuf, via| Needed { name: name.to_owned(), resolved: Some(resolved), via: Some(via) };
    if name.contains('/') {
        let path = PathBuf::from(name);
        return if matches_target(&path, target) {
            found(path, "path")
        } else {
            Needed { name: name.to_owned(), resolved: None, via: None }
        };
    }
    let expand =
        |dir: &String| PathBuf::from(dir.replace("${ORIGIN}", "$ORIGIN").replace("$ORIGIN", &origin.to_string_lossy()));
    let library_path: Vec<PathBuf> = std::env::var("LD_LIBRARY_PATH")
        .unwrap_or_default()
        .split([':', ';'])
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .collect();
    let mut searches: Vec<(&'static str, Vec<PathBuf>)> = Vec::new();
    if runpath.is_empty() {
        searches.push(("DT_RPATH", rpath.iter().map(expand).collect()));
    }
    searches.push(("LD_LIBRARY_PATH", library_path));
    searches.push(("DT_RUNPATH", runpath.iter().map(expand).collect()));
    for (via, dirs) in searches {
        if let Some(path) = dirs.iter().map(|d| d.join(name)).find(|p| matches_target(p, target)) {
            return found(path, via);
        }
    }
    if let Some(path) =
        ldconfig_cache().iter().filter(|(n, _)| n == name).map(|(_, p)| p).find(|p| matches_target(p, target))
    {
        return found(path.clone(), "ldconfig cache");
    }
    let defaults = ["/lib64", "/usr/lib64", "/lib", "/usr/lib"];
    if let Some(path) = defaults.iter().map(|d| Path::new(d).join(name)).find(|p| matches_target(p, target)) {
        return found(path, "default path");
    }
    Needed { name: name.to_owned(), resolved: None, via: None }
}

/// Whether `path` is an ELF file of `target`'s class and machine.
fn matches_target(path: &Path, target: Target) -> bool {
    use std::io::Read;
    let mut header = [0u8; 20];
    let read = std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut header));
    if read.is_err() || header[..4] != elf::ELFMAG {
        return false;
    }
    let is_64 = header[4] == elf::ELFCLASS64;
    let machine = if header[5] == elf::ELFDATA2MSB {
        u16::from_be_bytes([header[18], header[19]])
    } else {
        u16::from_le_bytes([header[18], header[19]])
    };
    is_64 == target.is_64 && machine == target.machine
}

/// The ldconfig cache as `ldconfig -p` prints it: (soname, path), in the cache's order. Empty when ldconfig
/// cannot be run.
fn ldconfig_cache() -> &'static [(String, PathBuf)] {
    static CACHE: OnceLock<Vec<(String, PathBuf)>> = OnceLock::new();
    CACHE.get_or_init(|| {
        let output = ["ldconfig", "/sbin/ldconfig", "/usr/sbin/ldconfig"].iter().find_map(|program| {
            std::process::Command::new(program).arg("-p").output().ok().filter(|o| o.status.success())
        });
        let Some(output) = output else { return Vec::new() };
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| {
                let (left, path) = line.split_once(" => ")?;
                let name = left.trim().split(' ').next()?;
                Some((name.to_owned(), PathBuf::from(path.trim())))
            })
            .collect()
    })
}

/// The usual name of an ELF machine.
fn machine_name(machine: u16) -> String {
    match machine {
        elf::EM_X86_64 => "x86_64".to_owned(),
        elf::EM_386 => "i386".to_owned(),
        elf::EM_AARCH64 => "aarch64".to_owned(),
        elf::EM_ARM => "arm".to_owned(),
        elf::EM_RISCV => "riscv".to_owned(),
        elf::EM_PPC64 => "powerpc64".to_owned(),
        elf::EM_PPC => "powerpc".to_owned(),
        elf::EM_S390 => "s390x".to_owned(),
        elf::EM_MIPS => "mips".to_owned(),
        elf::EM_LOONGARCH => "loongarch".to_owned(),
        other => format!("ELF machine {other}"),
    }
}
