//! Invariant checks shared by the fuzz targets (`fuzz/fuzz_targets/`) and the regression test
//! (`tests/fuzz_regressions.rs`). Each check takes raw input bytes and panics when an invariant does not hold.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use aisopod_loader::isolation::protocol::hosting::{
    CallResult, EmitRequest, InitRequest, InvokeRequest, LoadRequest, LogRecord,
};
use aisopod_loader::isolation::protocol::{
    Decoder, ErrorReply, Frame, FrameError, FrameKind, Handshake, PayloadError, ProbeProgress, ProbeReport,
    ProbeRequest, HEADER_LEN, MAX_PAYLOAD_LEN,
};
use aisopod_loader::signature::{SignatureFile, SIGNATURE_FILE_MAX_BYTES};
use aisopod_loader::{
    check_capability_name, CapabilityKind, Diagnostic, Discovery, Logger, Manifest, PluginInfo, Status, ID_MAX_LEN,
    MANIFEST_FILE_NAME, MANIFEST_MAX_BYTES,
};

/// The path `check_manifest` gives the parser; every error message must start with it.
pub const MANIFEST_PATH: &str = "fuzz/plugins/p/aisopod.plugin.toml";

/// Parses `data` as a manifest. An accepted manifest must satisfy every documented field rule; a refused one
/// must carry a message of the form `<path>:<line>: <why>`, with a line inside the input.
///
/// The result must also equal the full TOML parser's alone: the fast reader may only take inputs on which the
/// two agree exactly, values and error messages alike.
pub fn check_manifest(data: &[u8]) {
    let path = Path::new(MANIFEST_PATH);
    let parsed = Manifest::parse_bytes(data, path);
    if let Ok(text) = std::str::from_utf8(data) {
        assert_eq!(
            parsed,
            Manifest::parse_str_with_full_parser(text, path),
            "the fast reader disagrees with the full parser"
        );
    }
    match parsed {
        Ok(manifest) => {
            check_valid_manifest(&manifest);
            for warning in &manifest.warnings {
                check_located(data, path, warning);
                assert!(warning.contains("manifest_version"), "a warning without the versions: {warning:?}");
            }
        }
        Err(e) => check_manifest_error(data, path, e.status(), e.message()),
    }
}

fn check_valid_manifest(m: &Manifest) {
    let id = m.id.as_bytes();
    assert!(!id.is_empty() && id.len() <= ID_MAX_LEN, "id {:?} has a bad length", m.id);
    assert!(id[0].is_ascii_lowercase() || id[0].is_ascii_digit(), "id {:?} has a bad first byte", m.id);
    assert!(
        id.iter().all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)),
        "id {:?} does not match [a-z0-9][a-z0-9._-]*",
        m.id
    );

    assert!(!m.name.trim().is_empty(), "name {:?} is blank", m.name);
    for (field, value) in [("name", &m.name), ("description", &m.description), ("author", &m.author)] {
        assert!(!value.contains('\0'), "{field} {value:?} holds a NUL");
    }

    let entry = &m.entry_point;
    assert!(!entry.is_empty(), "entry_point is empty");
    assert!(
        !entry.contains(['/', '\\', '\0']) && !entry.contains(".."),
        "entry_point {entry:?} holds a separator, '..' or NUL"
    );
    assert!(!entry.trim().is_empty() && entry.trim() == entry, "entry_point {entry:?} is blank or padded");
    let lower = entry.to_ascii_lowercase();
    let version = lower.find(".so.").map(|at| &lower[at + 4..]).unwrap_or_default();
    let versioned = !version.is_empty() && version.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    assert!(
        !([".so", ".dll", ".dylib"].iter().any(|suffix| lower.ends_with(suffix)) || versioned),
        "entry_point {entry:?} is a library file name, not a stem"
    );
    let library = m.library_file_name();
    let mut components = Path::new(&library).components();
    assert!(
        matches!(components.next(), Some(std::path::Component::Normal(_))) && components.next().is_none(),
        "library file name {library:?} is not a single path component"
    );

    if let Some(license) = &m.license {
        assert!(!license.trim().is_empty(), "license {license:?} is blank");
        assert!(license.bytes().all(|b| b.is_ascii_graphic() || b == b' ' || b == b'\t'), "license {license:?}");
    }
    for url in [&m.homepage, &m.repository].into_iter().flatten() {
        assert!(url.contains("://") && !url.contains(char::is_whitespace), "URL {url:?} is not absolute or has spaces");
    }
    if let Some(digest) = &m.sha256 {
        let hex = digest.to_string();
        assert!(
            hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "sha256 {hex}"
        );
        assert_eq!(
            aisopod_loader::Sha256Digest::from_hex(&hex).as_ref(),
            Ok(&**digest),
            "sha256 {hex} does not read back"
        );
    }

    if let (Some(min), Some(max)) = (&m.min_host_version, &m.max_host_version) {
        assert!(min <= max, "min_host_version {min} > max_host_version {max}");
    }
    // Both bounds are inclusive, so each bound is itself an acceptable host version.
    for bound in [&m.min_host_version, &m.max_host_version].into_iter().flatten() {
        if let Err(e) = m.check_host_version(bound, Path::new(MANIFEST_PATH)) {
            panic!("host version {bound} is inside the declared range but refused: {e}");
        }
    }

    for kind in CapabilityKind::ALL {
        let names = m.declared(kind);
        let mut seen = HashSet::new();
        for name in names {
            if let Err(why) = check_capability_name(name) {
                panic!("{kind} name {name:?} was accepted but fails check_capability_name: {why}");
            }
            assert!(seen.insert(name), "{kind} name {name:?} is listed twice");
        }
    }
}

fn check_manifest_error(data: &[u8], path: &Path, status: Status, message: &str) {
    assert!(!message.is_empty(), "empty error message ({status:?})");
    assert!(
        matches!(status, Status::InvalidUtf8 | Status::ManifestParse | Status::ManifestInvalid),
        "unexpected status {status:?} for in-memory input: {message:?}"
    );
    assert_eq!(
        status == Status::InvalidUtf8,
        std::str::from_utf8(data).is_err(),
        "InvalidUtf8 must be returned exactly for non-UTF-8 input: {message:?}"
    );
    let why = check_located(data, path, message);
    if why.starts_with("duplicate key") {
        assert!(why.starts_with("duplicate key `"), "a duplicate key without its name: {message:?}");
    }
}

/// Checks that `message` reads "<path>:<line>: <why>", with a line that exists in `data`; returns the why.
fn check_located<'m>(data: &[u8], path: &Path, message: &'m str) -> &'m str {
    let shown = path.display().to_string();
    let Some(rest) = message.strip_prefix(&shown) else {
        panic!("message does not start with the path {shown:?}: {message:?}");
    };
    let (line, why) = rest
        .strip_prefix(':')
        .and_then(|r| r.split_once(": "))
        .and_then(|(line, why)| Some((line.parse::<usize>().ok()?, why)))
        .unwrap_or_else(|| panic!("message lacks a ':<line>: ' after the path: {message:?}"));
    let lines = 1 + data.iter().filter(|&&b| b == b'\n').count();
    assert!((1..=lines).contains(&line), "line {line} is outside the input's {lines} lines: {message:?}");
    why
}

/// The most plugin directories one input describes.
pub const MAX_ENTRIES: usize = 8;

/// Bits of an entry's flag byte.
mod flag {
    /// `aisopod.plugin.toml` is a directory.
    pub const MANIFEST_IS_DIR: u8 = 0x01;
    /// There is no `aisopod.plugin.toml`: the directory is not a candidate.
    pub const MANIFEST_MISSING: u8 = 0x02;
    /// `aisopod.plugin.toml` is a symlink to a file outside the search path holding the bytes.
    pub const MANIFEST_SYMLINK: u8 = 0x04;
    /// With `MANIFEST_SYMLINK`, the symlink dangles; without it, the manifest is a symlink to itself.
    pub const SYMLINK_BROKEN: u8 = 0x08;
    /// The plugin directory is a symlink to a directory outside the search path.
    pub const DIR_SYMLINK: u8 = 0x10;
    /// The entry is a regular file holding the bytes, not a directory: not a candidate.
    pub const PLAIN_FILE: u8 = 0x20;
    /// The bytes are the plugin id, spliced into an otherwise valid manifest.
    pub const TEMPLATE: u8 = 0x40;
    /// The manifest is padded with newlines to the size cap, or one byte past it when its length is odd. Only
    /// the first entry with this flag is padded, and only when the global byte has both `global_flag::PAD_ENABLE` bits.
    pub const PAD: u8 = 0x80;
    /// Flags that need symbolic links.
    pub const SYMLINKS: u8 = MANIFEST_SYMLINK | SYMLINK_BROKEN | DIR_SYMLINK;
}

/// Bits of the global byte.
mod global_flag {
    /// A missing search path comes before the real one in the second scan, rather than after.
    pub const MISSING_FIRST: u8 = 0x01;
    /// A third scan searches the same path twice.
    pub const SCAN_TWICE: u8 = 0x02;
    /// Both bits let one entry's manifest be padded to the size cap (see `flag::PAD`); reading and parsing
    /// 64 KiB is slow, so most inputs do not.
    pub const PAD_ENABLE: u8 = 0x0c;
}

/// Directory names are drawn from this alphabet, so they are valid, distinct path components.
const NAME_ALPHABET: &[u8; 64] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._";

/// One entry of the search directory, as the input describes it.
struct Entry {
    name: String,
    flags: u8,
    manifest: Vec<u8>,
}

/// What scanning an entry must produce.
enum Expected {
    /// Not a candidate: nothing.
    Nothing,
    /// A diagnostic of class `Io` for the manifest path.
    Io,
    /// What reading these manifest bytes gives.
    Manifest(Vec<u8>),
}

impl Entry {
    fn expected(&self) -> Expected {
        let f = self.flags;
        if f & flag::PLAIN_FILE != 0 || f & flag::MANIFEST_MISSING != 0 {
            Expected::Nothing
        } else if f & flag::MANIFEST_IS_DIR != 0 || f & flag::SYMLINK_BROKEN != 0 {
            Expected::Io
        } else {
            Expected::Manifest(self.manifest.clone())
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(first)
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let (taken, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        taken
    }
}

/// Decodes the input: one global byte, then up to [`MAX_ENTRIES`] entries of
/// `flags, name_len, name[1 + name_len % 12], manifest_len (u16 LE), manifest[manifest_len]`, each field cut
/// short when the input ends. Entries whose name repeats an earlier one are dropped.
fn decode(data: &[u8]) -> (u8, Vec<Entry>) {
    let mut input = Reader(data);
    let global = input.byte().unwrap_or(0);
    let mut pad_allowed = global & global_flag::PAD_ENABLE == global_flag::PAD_ENABLE;
    let mut entries: Vec<Entry> = Vec::new();
    while entries.len() < MAX_ENTRIES {
        let Some(mut flags) = input.byte() else { break };
        if !cfg!(unix) {
            flags &= !flag::SYMLINKS;
        }
        let name_len = 1 + usize::from(input.byte().unwrap_or(0)) % 12;
        let mut name: String =
            input.take(name_len).iter().map(|&b| char::from(NAME_ALPHABET[usize::from(b % 64)])).collect();
        if name.is_empty() {
            break;
        }
        if name == "." || name == ".." {
            name.push('_');
        }
        let len_bytes = input.take(2);
        let manifest_len = len_bytes.iter().rev().fold(0usize, |acc, &b| acc << 8 | usize::from(b));
        let raw = input.take(manifest_len);
        let mut manifest = if flags & flag::TEMPLATE != 0 {
            let mut text = b"[plugin]\nid = \"".to_vec();
            text.extend_from_slice(raw);
            text.extend_from_slice(b"\"\nname = \"Fuzz\"\nversion = \"1.0.0\"\nentry_point = \"fuzz\"\n");
            text
        } else {
            raw.to_vec()
        };
        if flags & flag::PAD != 0 && pad_allowed {
            pad_allowed = false;
            let target = MANIFEST_MAX_BYTES as usize + (manifest.len() & 1);
            if manifest.len() < target {
                manifest.resize(target, b'\n');
            }
        }
        if entries.iter().any(|e| e.name == name) {
            continue;
        }
        entries.push(Entry { name, flags, manifest });
    }
    (global, entries)
}

/// A fresh directory under the system temporary directory, removed on drop.
struct TempTree(PathBuf);

impl TempTree {
    fn new() -> TempTree {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let root = std::env::temp_dir().join(format!(
            "aisopod-fuzz-discovery-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap_or_else(|e| panic!("cannot create {}: {e}", root.display()));
        TempTree(root)
    }
}

impl Drop for TempTree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) {
    std::os::unix::fs::symlink(target, link)
        .unwrap_or_else(|e| panic!("cannot link {} -> {}: {e}", link.display(), target.display()));
}

#[cfg(not(unix))]
fn symlink(_target: &Path, _link: &Path) {
    unreachable!("symlink flags are cleared on this platform");
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

fn mkdir(path: &Path) {
    std::fs::create_dir(path).unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
}

/// Writes `entry` as `plugins/<name>`, keeping link targets in `store`.
fn materialise(index: usize, entry: &Entry, plugins: &Path, store: &Path) {
    let f = entry.flags;
    let path = plugins.join(&entry.name);
    if f & flag::PLAIN_FILE != 0 {
        return write(&path, &entry.manifest);
    }
    let dir = if f & flag::DIR_SYMLINK != 0 {
        let real = store.join(format!("dir{index}"));
        mkdir(&real);
        symlink(&real, &path);
        real
    } else {
        mkdir(&path);
        path
    };
    let manifest = dir.join(MANIFEST_FILE_NAME);
    if f & flag::MANIFEST_MISSING != 0 {
        // No manifest.
    } else if f & flag::MANIFEST_IS_DIR != 0 {
        mkdir(&manifest);
    } else if f & flag::MANIFEST_SYMLINK != 0 {
        let target = store.join(format!("manifest{index}"));
        if f & flag::SYMLINK_BROKEN == 0 {
            write(&target, &entry.manifest);
        }
        symlink(&target, &manifest);
    } else if f & flag::SYMLINK_BROKEN != 0 {
        symlink(&manifest, &manifest);
    } else {
        write(&manifest, &entry.manifest);
    }
}

/// What one candidate must yield.
#[derive(Clone)]
enum Outcome {
    Accepted(Box<PluginInfo>),
    Refused { path: PathBuf, status: Status, message: Option<String> },
}

/// The outcomes a scan of `plugins` must produce, in scan order, from the entries alone.
fn model(entries: &[Entry], plugins: &Path) -> Vec<Outcome> {
    let mut sorted: Vec<&Entry> = entries.iter().collect();
    sorted.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    let mut ids: Vec<(String, PathBuf)> = Vec::new();
    let mut outcomes = Vec::new();
    for entry in sorted {
        let directory = plugins.join(&entry.name);
        let path = directory.join(MANIFEST_FILE_NAME);
        let bytes = match entry.expected() {
            Expected::Nothing => continue,
            Expected::Io => {
                outcomes.push(Outcome::Refused { path, status: Status::Io, message: None });
                continue;
            }
            Expected::Manifest(bytes) => bytes,
        };
        if bytes.len() as u64 > MANIFEST_MAX_BYTES {
            outcomes.push(Outcome::Refused { path, status: Status::ManifestTooLarge, message: None });
            continue;
        }
        match Manifest::parse_bytes(&bytes, &path) {
            Err(e) => {
                outcomes.push(Outcome::Refused { path, status: e.status(), message: Some(e.message().to_owned()) })
            }
            Ok(manifest) => {
                if let Some((_, first)) = ids.iter().find(|(id, _)| *id == manifest.id) {
                    let message = format!(
                        "{}: plugin id '{}' is already provided by {}, earlier in the search path; this one is ignored",
                        path.display(),
                        manifest.id,
                        first.display()
                    );
                    outcomes.push(Outcome::Refused { path, status: Status::DuplicateId, message: Some(message) });
                } else {
                    ids.push((manifest.id.clone(), path.clone()));
                    outcomes.push(Outcome::Accepted(Box::new(PluginInfo { manifest, directory })));
                }
            }
        }
    }
    outcomes
}

/// Checks a scan against the outcomes the model predicts.
fn check_against_model(what: &str, scan: &Discovery, outcomes: &[Outcome]) {
    let mut plugins = scan.plugins().iter();
    let mut diagnostics = scan.diagnostics().iter();
    for outcome in outcomes {
        match outcome {
            Outcome::Accepted(info) => {
                let Some(found) = plugins.next() else {
                    panic!("{what}: {} was not accepted", info.directory.display())
                };
                assert_eq!(**found, **info, "{what}: accepted plugin differs from the model");
            }
            Outcome::Refused { path, status, message } => {
                let Some(d) = diagnostics.next() else { panic!("{what}: no diagnostic for {}", path.display()) };
                assert_eq!((&d.path, d.status), (path, *status), "{what}: diagnostic differs: {}", d.message);
                if let Some(message) = message {
                    assert_eq!(&d.message, message, "{what}: diagnostic message differs");
                }
            }
        }
    }
    assert!(plugins.next().is_none(), "{what}: more plugins than the model predicts");
    assert!(diagnostics.next().is_none(), "{what}: more diagnostics than the model predicts");
}

/// The invariants every scan of the tree must satisfy, whatever the entries.
fn check_scan_invariants(scan: &Discovery, root: &Path, plugins_dir: &Path, candidates: usize) {
    let mut ids = HashSet::new();
    for info in scan.plugins() {
        assert!(ids.insert(info.manifest.id.as_str()), "plugin id {:?} accepted twice", info.manifest.id);
        check_valid_manifest(&info.manifest);
        assert_eq!(info.directory.parent(), Some(plugins_dir), "plugin directory outside the search path");
        assert_eq!(info.manifest_path(), info.directory.join(MANIFEST_FILE_NAME));
        assert_eq!(info.library_path(), info.directory.join(info.manifest.library_file_name()));
        let found = scan.find(&info.manifest.id).expect("an accepted plugin can be found by id");
        assert!(std::ptr::eq(&**found, &**info), "find({:?}) returns another plugin", info.manifest.id);
    }
    let names: Vec<&[u8]> = scan
        .plugins()
        .iter()
        .map(|p| p.directory.file_name().expect("a plugin directory has a name").as_encoded_bytes())
        .collect();
    assert!(names.windows(2).all(|w| w[0] < w[1]), "plugins are not in directory-name order: {names:?}");
    for Diagnostic { path, status, message } in scan.diagnostics() {
        assert!(path.starts_with(root), "diagnostic path {} is outside the tree", path.display());
        assert!(std::fs::symlink_metadata(path).is_ok(), "diagnostic path {} does not exist", path.display());
        assert!(!message.is_empty(), "empty diagnostic message ({status:?}) for {}", path.display());
        assert_ne!(*status, Status::Ok, "diagnostic with status Ok for {}", path.display());
    }
    let reported = scan.plugins().len() + scan.diagnostics().len();
    assert!(reported <= candidates, "{reported} plugins and diagnostics from {candidates} candidates");
}

fn same_scan(a: &Discovery, b: &Discovery) -> bool {
    a.diagnostics() == b.diagnostics()
        && a.plugins().len() == b.plugins().len()
        && a.plugins().iter().zip(b.plugins()).all(|(x, y)| **x == **y)
}

/// Builds the directory tree `data` describes, scans it, and checks the result: no panic, unique ids,
/// diagnostics that name existing paths inside the tree, no more results than candidates, plugins in
/// directory-name order, and exactly the outcomes that reading each manifest on its own predicts. A second
/// scan adds a missing search path, which must change nothing; a third searches the same path twice, which
/// must refuse every candidate the second time.
pub fn check_discovery(data: &[u8]) {
    let (global, entries) = decode(data);
    let tree = TempTree::new();
    let root = &tree.0;
    let plugins = root.join("plugins");
    let store = root.join("store");
    mkdir(&plugins);
    mkdir(&store);
    for (index, entry) in entries.iter().enumerate() {
        materialise(index, entry, &plugins, &store);
    }
    let candidates = entries.iter().filter(|e| !matches!(e.expected(), Expected::Nothing)).count();
    let outcomes = model(&entries, &plugins);
    let logger = Logger::default();

    let scan = Discovery::scan(std::slice::from_ref(&plugins), &logger);
    check_scan_invariants(&scan, root, &plugins, candidates);
    check_against_model("scan", &scan, &outcomes);

    let missing = root.join("missing");
    let paths =
        if global & global_flag::MISSING_FIRST != 0 { [missing, plugins.clone()] } else { [plugins.clone(), missing] };
    let with_missing = Discovery::scan(&paths, &logger);
    check_scan_invariants(&with_missing, root, &plugins, candidates);
    assert!(same_scan(&scan, &with_missing), "a missing search path changed the scan");

    if global & global_flag::SCAN_TWICE != 0 {
        let twice = Discovery::scan(&[plugins.clone(), plugins.clone()], &logger);
        check_scan_invariants(&twice, root, &plugins, 2 * candidates);
        let again = outcomes.iter().map(|outcome| match outcome {
            Outcome::Accepted(info) => {
                Outcome::Refused { path: info.manifest_path(), status: Status::DuplicateId, message: None }
            }
            refused => refused.clone(),
        });
        let mut doubled = outcomes.clone();
        doubled.extend(again);
        check_against_model("scan of the same path twice", &twice, &doubled);
    }
}

/// What decoding a stream gives: its whole frames, where the last of them ends, and the error that stopped it.
#[derive(Debug, PartialEq)]
struct Decoded {
    frames: Vec<Frame>,
    frames_end: usize,
    error: Option<FrameError>,
}

/// Decodes `stream` fed in pieces of the sizes `chunk_sizes` gives, checking after every call that the decoder
/// has allocated no more than the maximum payload, nor much more than the bytes it has been given.
fn decode_stream(stream: &[u8], mut chunk_sizes: impl FnMut() -> usize) -> Decoded {
    let mut decoder = Decoder::new();
    let mut decoded = Decoded { frames: Vec::new(), frames_end: 0, error: None };
    let mut fed = 0;
    while fed < stream.len() {
        let chunk = &stream[fed..(fed + chunk_sizes()).min(stream.len())];
        let mut input = chunk;
        loop {
            let result = decoder.decode(&mut input);
            let taken = fed + chunk.len() - input.len();
            let allocated = decoder.allocated();
            assert!(allocated <= MAX_PAYLOAD_LEN as usize, "{allocated} bytes allocated, past the maximum payload");
            assert!(allocated <= 2 * taken + 4096, "{allocated} bytes allocated after {taken} bytes of input");
            match result {
                Ok(Some(frame)) => {
                    decoded.frames.push(frame);
                    decoded.frames_end = taken;
                }
                Ok(None) => {
                    assert!(input.is_empty(), "the decoder wants more input but left {} bytes", input.len());
                    break;
                }
                Err(error) => {
                    assert_eq!(decoder.decode(&mut &b"more"[..]), Err(error.clone()), "a decode error is not final");
                    decoded.error = Some(error);
                    return decoded;
                }
            }
        }
        fed += chunk.len();
    }
    decoded.error = decoder.finish().err();
    decoded
}

/// Piece sizes from a seed: all at once for 0, otherwise 1 to `seed % 64 + 1` bytes from a xorshift sequence.
fn chunk_sizes(seed: u8) -> impl FnMut() -> usize {
    let largest = usize::from(seed % 64) + 1;
    let mut state = 0x9e37_79b9_u32 ^ u32::from(seed);
    move || {
        if seed == 0 {
            return usize::MAX;
        }
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        1 + state as usize % largest
    }
}

/// Decodes `data[1..]` as a stream of frames, fed whole and in pieces whose sizes `data[0]` picks, and checks:
/// the pieces change nothing; the decoder never allocates past the maximum payload or far past its input; the
/// frames re-encode to exactly the bytes they came from; a stream that stops decoding stops for the reason the
/// next header (or its absence) gives; and handshake, error, probe, probe progress, probe report and hosting payloads that decode
/// re-encode to themselves, while those that do not are refused as malformed with a message.
pub fn check_frame(data: &[u8]) {
    let Some((&seed, stream)) = data.split_first() else { return };
    let whole = decode_stream(stream, || usize::MAX);
    let pieces = decode_stream(stream, chunk_sizes(seed));
    assert_eq!(whole, pieces, "feeding the stream in pieces changed what it decodes to");

    let mut reencoded = Vec::new();
    for frame in &whole.frames {
        frame.encode_into(&mut reencoded).expect("a decoded frame encodes");
        check_payload(frame);
    }
    assert_eq!(reencoded, &stream[..whole.frames_end], "the frames do not re-encode to their bytes");

    let rest = &stream[whole.frames_end..];
    let Some(error) = whole.error else {
        assert!(rest.is_empty(), "{} bytes after the last frame, and no error", rest.len());
        return;
    };
    let header = rest.first_chunk::<HEADER_LEN>().map(|h| {
        let length = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let kind = FrameKind(u16::from_le_bytes([h[4], h[5]]));
        let flags = u16::from_le_bytes([h[6], h[7]]);
        (length, kind, flags, u64::from_le_bytes(h[8..16].try_into().unwrap()))
    });
    let expected = match header {
        None => FrameError::Truncated { kind: None, received: rest.len(), expected: HEADER_LEN },
        Some((length, kind, _, request_id)) if length > MAX_PAYLOAD_LEN => {
            FrameError::TooLarge { kind, request_id, length: u64::from(length) }
        }
        Some((_, kind, flags, request_id)) if flags != 0 => FrameError::UnknownFlags { kind, request_id, flags },
        Some((length, kind, _, _)) => {
            let expected = HEADER_LEN + length as usize;
            assert!(rest.len() < expected, "a whole, valid frame was not decoded");
            FrameError::Truncated { kind: Some(kind), received: rest.len(), expected }
        }
    };
    assert_eq!(error, expected, "the decoder stopped for another reason than the stream gives");
    assert!(!error.to_string().is_empty());
}

fn check_payload(frame: &Frame) {
    match frame.kind {
        FrameKind::HANDSHAKE => match Handshake::decode(&frame.payload) {
            Ok(handshake) => assert_eq!(handshake.encode(), frame.payload, "a handshake does not re-encode"),
            Err(error) => assert!(!error.to_string().is_empty()),
        },
        FrameKind::ERROR => {
            if let Some(reply) = ErrorReply::decode(&frame.payload) {
                assert_eq!(reply.encode(), frame.payload, "an error reply does not re-encode");
            }
        }
        FrameKind::PROBE => match ProbeRequest::decode(&frame.payload) {
            Ok(request) => assert_eq!(request.encode().as_ref(), Ok(&frame.payload), "a probe does not re-encode"),
            Err(error) => check_payload_error(&error, FrameKind::PROBE),
        },
        FrameKind::PROBE_REPORT => match ProbeReport::decode(&frame.payload) {
            Ok(report) => assert_eq!(report.encode().as_ref(), Ok(&frame.payload), "a probe report does not re-encode"),
            Err(error) => check_payload_error(&error, FrameKind::PROBE_REPORT),
        },
        FrameKind::LOAD => match LoadRequest::decode(&frame.payload) {
            Ok(request) => assert_eq!(request.encode().as_ref(), Ok(&frame.payload), "a load does not re-encode"),
            Err(error) => check_payload_error(&error, FrameKind::LOAD),
        },
        FrameKind::INIT => match InitRequest::decode(&frame.payload) {
            Ok(request) => assert_eq!(request.encode().as_ref(), Ok(&frame.payload), "an init does not re-encode"),
            Err(error) => check_payload_error(&error, FrameKind::INIT),
        },
        FrameKind::INVOKE => match InvokeRequest::decode(&frame.payload) {
            Ok(request) => {
                let mut again = Vec::new();
                request.encode_into(&mut again).expect("a decoded invoke encodes");
                assert_eq!(again, frame.payload, "an invoke does not re-encode");
            }
            Err(error) => check_payload_error(&error, FrameKind::INVOKE),
        },
        FrameKind::EMIT => match EmitRequest::decode(&frame.payload) {
            Ok(request) => {
                let mut again = Vec::new();
                request.encode_into(&mut again).expect("a decoded emit encodes");
                assert_eq!(again, frame.payload, "an emit does not re-encode");
            }
            Err(error) => check_payload_error(&error, FrameKind::EMIT),
        },
        FrameKind::RESULT => match CallResult::decode(&frame.payload) {
            Ok(result) => {
                assert_eq!(result.frame(frame.request_id).payload, frame.payload, "a result does not re-encode")
            }
            Err(error) => check_payload_error(&error, FrameKind::RESULT),
        },
        FrameKind::LOG => {
            if let Err(error) = LogRecord::decode(&frame.payload) {
                check_payload_error(&error, FrameKind::LOG);
            }
        }
        FrameKind::PROBE_PROGRESS => match ProbeProgress::decode(&frame.payload) {
            Ok(progress) => {
                let again = progress.frame(frame.request_id);
                assert_eq!(again.payload, frame.payload, "a probe progress does not re-encode");
            }
            Err(error) => check_payload_error(&error, FrameKind::PROBE_PROGRESS),
        },
        _ => {}
    }
}

/// A payload decoder refuses bad bytes as malformed, for the frame's own kind, with a reason.
fn check_payload_error(error: &PayloadError, expected: FrameKind) {
    match error {
        PayloadError::Malformed { kind, why } => {
            assert_eq!(*kind, expected, "a payload error names another kind");
            assert!(!why.is_empty(), "a payload error without a reason");
        }
        PayloadError::Unencodable { .. } => panic!("a decoder returned an encoding error: {error}"),
    }
}

/// The path `check_signature` gives the parser; every error message must start with it.
pub const SIGNATURE_PATH: &str = "fuzz/plugins/p/aisopod.plugin.sig";

/// Parses `data` as a signature file. An accepted file must be exactly what [`SignatureFile::render`] writes for
/// what was read (so no two inputs mean the same signature); a refused one must be `MALFORMED_SIGNATURE` with a
/// message `<path>:<line>: <why>`, its line one of the four a file may hold.
pub fn check_signature(data: &[u8]) {
    match SignatureFile::parse(data, Path::new(SIGNATURE_PATH)) {
        Ok(file) => {
            assert_eq!(file.render().as_bytes(), data, "an accepted signature file is not its own rendering");
            assert!(data.len() <= SIGNATURE_FILE_MAX_BYTES);
        }
        Err(e) => {
            assert_eq!(e.status(), Status::MalformedSignature, "{}", e.message());
            let rest = e.message().strip_prefix(SIGNATURE_PATH).and_then(|rest| rest.strip_prefix(':'));
            let (line, why) = rest.and_then(|rest| rest.split_once(": ")).expect("<path>:<line>: <why>");
            let line: usize = line.parse().unwrap_or_else(|_| panic!("line {line:?} is no number"));
            assert!((1..=4).contains(&line), "line {line} of a signature file");
            assert!(!why.is_empty());
        }
    }
}
