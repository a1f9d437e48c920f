//! `aisopod sign`: publisher keys and plugin signatures, the same steps as `aisopod-sign`, from the library's
//! `signing` module that both call.

use std::path::PathBuf;

use aisopod_loader::signing::{self, Failure};
use clap::Subcommand;

#[derive(Subcommand)]
pub enum Action {
    /// Make a key pair: the secret key in a new file (mode 0600), the public key in another.
    Keygen { secret_key: PathBuf, public_key: PathBuf },
    /// Sign a plugin directory: writes aisopod.plugin.sig over its manifest and library as they are now.
    Sign { secret_key: PathBuf, plugin_dir: PathBuf },
    /// Check a plugin directory's signature file against a public key, as the loader does.
    Verify { public_key: PathBuf, plugin_dir: PathBuf },
}

/// Runs `action`; the exit code is `aisopod-sign`'s: 0, 1 when `verify` rejects the plugin, 3 for a file that
/// cannot be read or written or is malformed.
pub fn run(action: &Action) -> u8 {
    let result = match action {
        Action::Keygen { secret_key, public_key } => signing::keygen(secret_key, public_key),
        Action::Sign { secret_key, plugin_dir } => signing::sign(secret_key, plugin_dir),
        Action::Verify { public_key, plugin_dir } => signing::verify(public_key, plugin_dir),
    };
    match result {
        Ok(line) => {
            println!("{line}");
            0
        }
        Err(Failure { exit_status, message }) => {
            eprintln!("aisopod sign: {message}");
            exit_status
        }
    }
}
