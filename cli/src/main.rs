//! The `nudge` command. Argument parsing only; each command lives in its own
//! module (`check`, `build`, `simulate`, `test`, `init`), output formats in `render`, disk loading in
//! `project`.

mod build;
mod check;
mod init;
mod project;
mod render;
mod simulate;
mod test;

/// mimalloc instead of the system allocator: the engine allocates and frees
/// many small blocks per event (records, strings, trace records), and glibc
/// malloc spent about a fifth of a `nudge simulate` run in malloc/free.
/// Built without transparent huge pages (see the workspace Cargo.toml);
/// `nudge-sys` says why not through the `mimalloc` crate.
#[global_allocator]
static GLOBAL: nudge_sys::Mimalloc = nudge_sys::Mimalloc;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Nudge: statically checked lifecycle messaging flows.
#[derive(Parser)]
#[command(name = "nudge", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check projects or single files and report errors and warnings.
    ///
    /// Each PATH is either a project folder (it must hold `nudge.toml`; every
    /// `.flow` file under it is part of the project) or a single `.flow` file,
    /// checked alone with the stdlib and default settings. Several paths are
    /// checked one after the other. Exit code: 0 clean, 1 errors (or
    /// warnings with `--deny warnings`), 2 usage or I/O error.
    Check(check::CheckArgs),
    /// Check a project and compile it to a bundle file (deterministic: the
    /// same sources give the same bytes).
    Build(build::BuildArgs),
    /// Replay a Segment-shaped event log (JSONL) through a project on a
    /// virtual clock and print what every customer would have received,
    /// and why not.
    Simulate(simulate::SimulateArgs),
    /// Run the project's `test "name" { ... }` blocks on the simulator
    /// (a fresh engine and virtual clock per test). Exit code 1 on a failure.
    Test(test::TestArgs),
    /// Create a new project (nudge.toml, a welcome flow, an HTML template).
    Init {
        /// The folder to create the project in (created if missing).
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version print to stdout and exit 0; real usage errors exit 2.
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let code = match cli.command {
        Command::Check(args) => check::run(&args),
        Command::Build(args) => build::run(&args),
        Command::Simulate(args) => simulate::run(&args),
        Command::Test(args) => test::run(&args),
        Command::Init { dir } => init::run(&dir),
    };
    ExitCode::from(code)
}
