//! What the library file says about itself, read with the `object` crate: its ELF header, checked before
//! `dlopen` so that a library built for another machine or a file that is no shared library is refused with a
//! message saying so, and its `DT_NEEDED` list, read only after `dlopen` failed, to name a missing dependency.
//!
//! glibc reports a library for another machine as "cannot open shared object file: No such file or
//! directory", and a missing dependency under the dependency's name alone; both read as if the plugin's own
//! library were missing.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use object::elf::{self, FileHeader32, FileHeader64};
use object::read::elf::FileHeader;
use object::Endianness;

use crate::io_error;
use crate::open_file;

/// The size of a 64-bit ELF header, the most the header check reads.
const HEADER_BYTES: usize = 64;
/// The offset of the class byte (32 or 64 bits) in the ELF identification.
const EI_CLASS: usize = 4;
/// The largest library read whole to list its dependencies after a failed `dlopen`.
const MAX_DEPENDENCY_SCAN_BYTES: u64 = 512 * 1024 * 1024;

/// What an ELF header says about the machine a file was built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Target {
    machine: u16,
    is_64: bool,
    is_little_endian: bool,
}

impl Target {
    /// This process's target, when its ELF machine number is known here.
    fn host() -> Option<Target> {
        let machine = match std::env::consts::ARCH {
            "x86_64" => elf::EM_X86_64,
            "x86" => elf::EM_386,
            "aarch64" => elf::EM_AARCH64,
            "arm" => elf::EM_ARM,
            "riscv64" | "riscv32" => elf::EM_RISCV,
            "powerpc64" => elf::EM_PPC64,
            "powerpc" => elf::EM_PPC,
            "s390x" => elf::EM_S390,
            "mips" | "mips64" => elf::EM_MIPS,
            "loongarch64" => elf::EM_LOONGARCH,
            "sparc64" => elf::EM_SPARCV9,
            _ => return None,
        };
        Some(Target {
            machine,
            is_64: cfg!(target_pointer_width = "64"),
            is_little_endian: cfg!(target_endian = "little"),
        })
    }

    /// The usual name of the architecture: "x86_64", "aarch64", "riscv64", "powerpc64le".
    fn name(self) -> String {
        let bits = if self.is_64 { "64" } else { "32" };
        let base = match self.machine {
            elf::EM_X86_64 => "x86_64".to_owned(),
            elf::EM_386 => "i386".to_owned(),
            elf::EM_AARCH64 => if self.is_little_endian { "aarch64" } else { "aarch64_be" }.to_owned(),
            elf::EM_ARM => "arm".to_owned(),
            elf::EM_RISCV => format!("riscv{bits}"),
            elf::EM_PPC64 => if self.is_little_endian { "powerpc64le" } else { "powerpc64" }.to_owned(),
            elf::EM_PPC => "powerpc".to_owned(),
            elf::EM_S390 => "s390x".to_owned(),
            elf::EM_MIPS => format!("mips{}", if self.is_64 { "64" } else { "" }),
            elf::EM_LOONGARCH => format!("loongarch{bits}"),
            elf::EM_SPARCV9 => "sparc64".to_owned(),
            other => format!("ELF machine {other}"),
        };
        base
    }

    /// The name, with class and byte order spelled out when they alone differ from `other`'s.
    fn describe_against(self, other: Target) -> String {
        let mut name = self.name();
        if self.machine == other.machine && name == other.name() {
            let bits = if self.is_64 { "64-bit" } else { "32-bit" };
            let order = if self.is_little_endian { "little-endian" } else { "big-endian" };
            name = format!("{name} ({bits}, {order})");
        }
        name
    }
}

/// Reads the ELF header of the open library and refuses a file that is not an ELF shared object for this
/// machine. Returns the reason, worded for the message that names the plugin and the file.
pub(super) fn check_header(file: &File) -> Result<(), String> {
    let header = read_header(file)?;
    let header = header.as_slice();
    if header.len() < 16 || header[..4] != elf::ELFMAG {
        return Err("it is not an ELF file (it does not start with the ELF magic bytes)".to_owned());
    }
    let (target, e_type) = match header[EI_CLASS] {
        elf::ELFCLASS64 => parse::<FileHeader64<Endianness>>(header)?,
        elf::ELFCLASS32 => parse::<FileHeader32<Endianness>>(header)?,
        other => return Err(format!("its ELF header has an unknown class {other}")),
    };
    if let Some(host) = Target::host() {
        if target != host {
            return Err(format!(
                "it is built for {}; this host is {}",
                target.describe_against(host),
                host.describe_against(target)
            ));
        }
    }
    if e_type != elf::ET_DYN {
        let kind = match e_type {
            elf::ET_REL => "a relocatable object file (ET_REL)",
            elf::ET_EXEC => "an executable (ET_EXEC)",
            elf::ET_CORE => "a core dump (ET_CORE)",
            _ => "an ELF file of an unknown type",
        };
        return Err(format!("it is {kind}, not a shared library (ET_DYN)"));
    }
    Ok(())
}

fn parse<Elf: FileHeader<Endian = Endianness>>(bytes: &[u8]) -> Result<(Target, u16), String> {
    let header = Elf::parse(bytes).map_err(|_| "its ELF header is truncated or malformed".to_owned())?;
    let endian = header.endian().map_err(|_| "its ELF header has an unknown byte order".to_owned())?;
    let target = Target {
        machine: header.e_machine(endian),
        is_64: header.is_class_64(),
        is_little_endian: header.is_little_endian(),
    };
    Ok((target, header.e_type(endian)))
}

/// The first bytes of the open library, up to the size of a 64-bit ELF header, read from offset 0 whatever the
/// file position.
fn read_header(file: &File) -> Result<Vec<u8>, String> {
    use std::os::unix::fs::FileExt;
    let mut header = vec![0; HEADER_BYTES];
    let mut filled = 0;
    while filled < HEADER_BYTES {
        match file.read_at(&mut header[filled..], filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("cannot read it: {}", io_error::describe(&e))),
        }
    }
    header.truncate(filled);
    Ok(header)
}

/// Explains a failed `dlopen` of `path` whose error is `dlerror`, when the dynamic linker named a dependency it
/// could not find: says whether the library needs it directly (its `DT_NEEDED`) or through another library.
/// For a library opened through `/proc/self/fd` (a `pinned` one), says too when its run path relies on
/// `$ORIGIN`, which then names `/proc/self/fd` instead of the plugin directory.
pub(super) fn explain_missing_dependency(path: &Path, dlerror: &str, pinned: bool) -> Option<String> {
    let missing = missing_dependency(dlerror)?;
    if Path::new(missing).file_name() == path.file_name() {
        return None;
    }
    let Dynamic { needed, run_paths } = dynamic_section(path).unwrap_or_default();
    let origin = run_paths.iter().any(|p| p.contains("$ORIGIN") || p.contains("${ORIGIN}"));
    let note = match pinned && origin {
        true => format!(
            "; its run path ({}) uses $ORIGIN, which for a library pinned with [plugin].sha256 names /proc/self/fd, \
             not the plugin directory",
            run_paths.join(":")
        ),
        false => String::new(),
    };
    let why = if needed.iter().any(|n| n == missing) {
        format!(
            "it needs {missing} (DT_NEEDED), which the dynamic linker cannot find in the library's RUNPATH, \
             LD_LIBRARY_PATH, the ld.so cache or the system directories"
        )
    } else if needed.is_empty() {
        format!("a library it depends on, {missing}, cannot be found by the dynamic linker")
    } else {
        format!(
            "a library it depends on, {missing}, cannot be found by the dynamic linker (it needs {} directly, and \
             {missing} through one of them)",
            needed.join(", ")
        )
    };
    Some(why + &note)
}

/// The file a `dlerror` message says cannot be opened: glibc writes "NAME: cannot open shared object file: …".
fn missing_dependency(dlerror: &str) -> Option<&str> {
    let at = dlerror.find(": cannot open shared object file")?;
    let name = dlerror[..at].rsplit(": ").next()?.trim();
    (!name.is_empty()).then_some(name)
}

/// What the dynamic section of a library lists: its `DT_NEEDED` entries and its run paths (`DT_RUNPATH`, or
/// the older `DT_RPATH`), each in order.
#[derive(Default)]
struct Dynamic {
    needed: Vec<String>,
    run_paths: Vec<String>,
}

/// The dynamic section of the library at `path`, read whole (only after a failed `dlopen`).
fn dynamic_section(path: &Path) -> Option<Dynamic> {
    let (mut file, metadata) = open_file::open_regular(path).ok()?;
    if metadata.len() > MAX_DEPENDENCY_SCAN_BYTES {
        return None;
    }
    let mut data = Vec::new();
    file.read_to_end(&mut data).ok()?;
    match data.get(EI_CLASS).copied()? {
        elf::ELFCLASS64 => dynamic::<FileHeader64<Endianness>>(&data),
        elf::ELFCLASS32 => dynamic::<FileHeader32<Endianness>>(&data),
        _ => None,
    }
}

fn dynamic<Elf: FileHeader<Endian = Endianness>>(data: &[u8]) -> Option<Dynamic> {
    let header = Elf::parse(data).ok()?;
    let endian = header.endian().ok()?;
    let sections = header.sections(endian, data).ok()?;
    let table = sections.dynamic_table(endian, data).ok()?;
    let strings = |tag: i64| -> Vec<String> {
        table
            .iter()
            .filter(|d| d.tag == tag)
            .filter_map(|d| table.string(d).ok())
            .map(|name| String::from_utf8_lossy(name).into_owned())
            .collect()
    };
    Some(Dynamic {
        needed: strings(elf::DT_NEEDED),
        run_paths: [strings(elf::DT_RUNPATH), strings(elf::DT_RPATH)].concat(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_dependency_is_read_from_glibc_wording() {
        assert_eq!(
            missing_dependency("libdep.so.3: cannot open shared object file: No such file or directory"),
            Some("libdep.so.3")
        );
        assert_eq!(missing_dependency("/x/libp.so: undefined symbol: foo"), None);
    }

    #[test]
    fn names_are_the_usual_ones() {
        let t = |machine, is_64, is_little_endian| Target { machine, is_64, is_little_endian }.name();
        assert_eq!(t(elf::EM_AARCH64, true, true), "aarch64");
        assert_eq!(t(elf::EM_X86_64, true, true), "x86_64");
        assert_eq!(t(elf::EM_RISCV, true, true), "riscv64");
        assert_eq!(t(elf::EM_PPC64, true, true), "powerpc64le");
    }
}
