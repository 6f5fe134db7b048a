//! `nudge build PROJECT -o FILE`: check the project, then lower it to a
//! bundle (`nudge_bytecode::Bundle`) and write its deterministic encoding.
//! `compile` is shared with `nudge simulate`, which runs what it builds.
//!
//! The same sources always give the same bytes: files are read in sorted
//! path order, lowering sorts declarations by name, and the encoding has no
//! hash maps.

use crate::check::{Checked, check_project};
use crate::project;
use crate::render;
use clap::Args;
use nudge_bytecode::Bundle;
use nudge_compiler::db;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct BuildArgs {
    /// The project folder (holding nudge.toml) or a single .flow file.
    #[arg(default_value = ".")]
    project: PathBuf,
    /// Where to write the bundle.
    #[arg(short, long)]
    output: PathBuf,
}

/// Why a project did not compile.
pub enum CompileError {
    /// The path could not be loaded (exit 2).
    Load(String),
    /// The checker found errors (exit 1); rendered for a terminal.
    Diagnostics(String),
    /// Lowering failed on a checked project (exit 1).
    Lower(String),
}

impl CompileError {
    pub fn report(&self) -> u8 {
        match self {
            CompileError::Load(m) => {
                eprintln!("error: {m}");
                2
            }
            CompileError::Diagnostics(rendered) => {
                eprint!("{rendered}");
                1
            }
            CompileError::Lower(m) => {
                eprintln!("error: cannot build: {m}");
                1
            }
        }
    }
}

fn rendered(checked: &Checked) -> String {
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut out = render::human(&checked.diagnostics, &checked.files, color, 100);
    out.push_str(&render::summary(
        &checked.diagnostics,
        checked.checked_files,
    ));
    out.push('\n');
    out
}

/// Loads, checks and lowers a project, all through the project database
/// (the same queries `nudge check` runs, then `db::bundle`).
pub fn compile(path: &Path) -> Result<Bundle, CompileError> {
    let loaded = project::load(path).map_err(|e| CompileError::Load(e.to_string()))?;
    let checked = check_project(&loaded).map_err(|e| CompileError::Load(e.to_string()))?;
    if checked.diagnostics.iter().any(|d| d.is_error()) {
        return Err(CompileError::Diagnostics(rendered(&checked)));
    }
    db::bundle(&checked.db, checked.project)
        .clone()
        .map_err(|e| CompileError::Lower(e.to_string()))
}

pub fn run(args: &BuildArgs) -> u8 {
    let bundle = match compile(&args.project) {
        Ok(b) => b,
        Err(e) => return e.report(),
    };
    let bytes = match bundle.encode() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    if let Err(e) = write_atomically(&args.output, &bytes) {
        eprintln!("error: {}: {e}", args.output.display());
        return 2;
    }
    eprintln!(
        "built {} flows, {} templates, {} segments into {} ({} bytes)",
        bundle.flows.len(),
        bundle.templates.len(),
        bundle.segments.len(),
        args.output.display(),
        bytes.len()
    );
    0
}

/// Writes `bytes` to `path` whole or not at all: into a file beside it,
/// then renamed over it, so a killed build or a full disk never leaves a
/// truncated bundle where a good one was (a daemon reloading it reads the
/// old bundle or the new one). The folder is made if it is missing.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = std::fs::File::create(&tmp).and_then(|mut f| {
        std::io::Write::write_all(&mut f, bytes)?;
        f.sync_all()
    });
    let result = written.and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
