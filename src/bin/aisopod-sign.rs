//! `aisopod-sign`: makes publisher keys, and signs and verifies plugin directories.
//!
//! ```text
//! aisopod-sign keygen <secret-key-file> <public-key-file>
//! aisopod-sign sign <secret-key-file> <plugin-dir>
//! aisopod-sign verify <public-key-file> <plugin-dir>
//! ```
//!
//! `keygen` draws a 32-byte Ed25519 secret key from `/dev/urandom` and writes it, and its public key, each as
//! 64 lower-case hexadecimal digits and a newline; the secret key file is created with mode 0600. Neither file
//! may exist already. It prints the key id, the one signature files name.
//!
//! `sign` reads the plugin's `aisopod.plugin.toml` and the library it names, and writes `aisopod.plugin.sig`
//! next to the manifest (replacing one that is there), covering both as they are now; sign after the last change
//! to either. `verify` checks that signature file against a public key, as the loader does.
//!
//! Exit status: 0 on success; 1 when `verify` finds the plugin unsigned, signed by another key, or a signature
//! that does not verify; 2 for a usage error; 3 when a file cannot be read or written, or is malformed (a key,
//! a manifest, a signature file). Each message goes to standard error and names the file at fault; the line
//! printed on success goes to standard output. The work is done by `aisopod_loader::signing`, which
//! `aisopod sign` calls too.

use std::path::Path;
use std::process::ExitCode;

use aisopod_loader::signing::{self, Failure, EXIT_USAGE};

const USAGE: &str = "usage: aisopod-sign keygen <secret-key-file> <public-key-file>
       aisopod-sign sign <secret-key-file> <plugin-dir>
       aisopod-sign verify <public-key-file> <plugin-dir>";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["keygen", secret, public] => signing::keygen(Path::new(secret), Path::new(public)),
        ["sign", secret, dir] => signing::sign(Path::new(secret), Path::new(dir)),
        ["verify", public, dir] => signing::verify(Path::new(public), Path::new(dir)),
        _ => Err(Failure { exit_status: EXIT_USAGE, message: USAGE.to_string() }),
    };
    match result {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(Failure { exit_status, message }) => {
            eprintln!("aisopod-sign: {message}");
            ExitCode::from(exit_status)
        }
    }
}
