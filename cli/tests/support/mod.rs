//! Running the `nudge` binary from the integration tests, as a user would:
//! from the repository root, without colours.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root (paths in the tests are relative to it).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs `nudge ARGS` in the repository root.
pub fn nudge(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nudge"))
        .args(args)
        .current_dir(repo())
        .env("NO_COLOR", "1")
        .output()
        .unwrap_or_else(|e| panic!("cannot run nudge: {e}"))
}
