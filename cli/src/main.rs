//! `aisopod`: the command line of aisopod-loader, for plugin authors and operators.
//!
//! Exit codes, for every command: 0 when the command ran (and, for `validate`, every check passed, warnings
//! allowed; for `probe`, every probe passed), 1 when `validate` found a FAIL, a probe failed, or `inspect`,
//! `probe` or `quarantine clear` could not find the plugin, 2 for a usage or I/O error. `sign` keeps
//! `aisopod-sign`'s: 1 when `verify` rejects the plugin, 3 for a file that cannot be read or is malformed.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

mod elf_facts;
mod hash;
mod inspect;
mod list;
mod probe;
mod quarantine;
mod report;
mod scaffold;
mod sign;
mod validate;

/// Exit code: a check failed, or the plugin asked for does not exist.
const EXIT_FAILED: u8 = 1;
/// Exit code: bad arguments, or a file that could not be read or written.
const EXIT_USAGE: u8 = 2;

#[derive(Parser)]
#[command(
    name = "aisopod",
    version,
    about = "List, inspect, validate, probe, pin, sign and scaffold aisopod plugins",
    after_help = "Exit codes: 0 when the command ran (validate: no FAIL; probe: every probe passed); 1 when validate \
                  found a FAIL, a probe failed, or inspect, probe or quarantine clear found no such plugin; 2 for a \
                  usage or I/O error. sign: 1 when verify rejects the plugin, 3 for a file that cannot be read, \
                  written or parsed."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Discover plugins and print each one found and each candidate refused, with its status.
    List {
        /// A directory of plugin directories to search, in order; repeatable. Without any, the loader's
        /// defaults and AISOPOD_PLUGIN_PATH are searched.
        #[arg(long = "path", value_name = "DIR")]
        paths: Vec<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Show a plugin's manifest, library facts, pin, signature and quarantine state, without loading it.
    Inspect {
        /// A plugin directory, or the id of a plugin found on the search paths.
        plugin: String,
        /// Search these directories for an id instead of the loader's defaults; repeatable.
        #[arg(long = "path", value_name = "DIR")]
        paths: Vec<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Run the conformance suite on plugin directories, each in a process of its own.
    Validate(validate::Args),
    /// Write a new plugin directory that builds and passes `aisopod validate` as it is.
    New {
        /// The plugin's language.
        #[arg(long, value_enum)]
        lang: Lang,
        /// The plugin id: lower-case letters, digits and underscores, starting with a letter.
        name: String,
        /// Where to create the plugin directory (default: the current directory).
        #[arg(long, value_name = "D", default_value = ".")]
        dir: PathBuf,
    },
    /// Probe plugins as the loader does, each in a helper process, and print each verdict.
    ///
    /// A probe loads the plugin, creates and registers it, calls init when --init is given, then unloads it. A
    /// verdict names its status, the step that failed, the signal or exit code that ended the helper, and the
    /// tail of the helper's stderr.
    Probe(probe::Args),
    /// List the quarantine records of a registry cache, or lift them.
    Quarantine {
        #[command(subcommand)]
        action: quarantine::Action,
    },
    /// Print the SHA-256 of a plugin's library as the manifest line that pins it: sha256 = "...".
    Hash {
        /// A plugin directory (its manifest names the library) or a library file.
        target: PathBuf,
    },
    /// Make publisher keys, sign plugin directories and verify their signatures (as aisopod-sign).
    Sign {
        #[command(subcommand)]
        action: sign::Action,
    },
    /// Discover plugins, load and initialize those asked for, and print the loader's load report.
    Report {
        /// A directory of plugin directories to search, in order; repeatable. Without any, the loader's
        /// defaults and AISOPOD_PLUGIN_PATH are searched.
        #[arg(long = "path", value_name = "DIR")]
        paths: Vec<PathBuf>,
        /// A plugin to load and initialize (with config `{}`) before reporting; repeatable, loaded in order.
        #[arg(long = "load", value_name = "ID")]
        loads: Vec<String>,
        /// The host version to pose as (default: the loader's own version).
        #[arg(long, value_name = "V")]
        host_version: Option<String>,
        /// Print the JSON report (schema aisopod-loader-report/1) instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// The child process of `validate`: runs one plugin's suite and reports each step on stdout.
    #[command(name = "__validate-child", hide = true)]
    ValidateChild {
        dir: PathBuf,
        #[arg(long)]
        host_version: Option<String>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Lang {
    C,
    Zig,
    Rust,
}

fn main() -> ExitCode {
    // Rust ignores SIGPIPE, so a closed pipe (`aisopod list | head`) would make the next print panic; a command
    // line tool should end quietly instead, as C tools do.
    // SAFETY: setting a signal's action to its default before any thread starts.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::List { paths, json } => list::run(&paths, json),
        Command::Inspect { plugin, paths, json } => inspect::run(&plugin, &paths, json),
        Command::Validate(args) => validate::run(&args),
        Command::New { lang, name, dir } => scaffold::run(lang, &name, &dir),
        Command::Probe(args) => probe::run(&args),
        Command::Quarantine { action } => quarantine::run(&action),
        Command::Hash { target } => hash::run(&target),
        Command::Sign { action } => Ok(sign::run(&action)),
        Command::Report { paths, loads, host_version, json } => {
            report::run(&paths, &loads, host_version.as_deref(), json)
        }
        Command::ValidateChild { dir, host_version } => validate::child_main(&dir, host_version.as_deref()),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            eprintln!("aisopod: {message}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}
