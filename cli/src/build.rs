//! `nudge build PROJECT -o FILE`: check the project, then lower it to a
//! bundle (`nudge_bytecode::Bundle`) and write its deterministic encoding.
//! `compile` is shared with `nudge simulate`, which runs what it builds.
//!
//! The same sources always give the same bytes: files are read in sorted
//! path order, lowering sorts declarations by name, and the encoding has no
//! hash maps.

use crate::check::{Checked, check_project};
use crate::project::{self, LoadedProject};
use crate::render;
use clap::Args;
use nudge_bytecode::Bundle;
use nudge_compiler::ast;
use nudge_compiler::db::{self, SourceContents};
use nudge_compiler::lower::{LowerInput, lower_project};
use nudge_compiler::manifest::Manifest;
use nudge_compiler::parser::{parse_file, parse_template_text};
use nudge_compiler::policy::Policy;
use nudge_compiler::span::FileId;
use std::collections::BTreeMap;
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

/// Loads, checks and lowers a project.
pub fn compile(path: &Path) -> Result<Bundle, CompileError> {
    let loaded = project::load(path).map_err(|e| CompileError::Load(e.to_string()))?;
    let checked = check_project(&loaded);
    if checked.diagnostics.iter().any(|d| d.is_error()) {
        return Err(CompileError::Diagnostics(rendered(&checked)));
    }
    lower_loaded(path, &loaded)
}

fn lower_loaded(path: &Path, loaded: &LoadedProject) -> Result<Bundle, CompileError> {
    let root = if path.is_dir() {
        path.to_path_buf()
    } else {
        path.parent().map(Path::to_path_buf).unwrap_or_default()
    };
    // The same FileIds as `check_project`: stdlib, manifest, project files.
    let mut next = db::first_project_file_id().0;
    let mut id = || {
        let i = FileId(next);
        next += 1;
        i
    };
    let manifest = match &loaded.manifest {
        Some(m) => Manifest::parse(m.contents.text(), id()).0,
        None => Manifest::default(),
    };
    let mut asts: Vec<(FileId, ast::File)> = nudge_stdlib::FILES
        .iter()
        .enumerate()
        .map(|(i, (_, text))| {
            let file = db::stdlib_file_id(i);
            (file, parse_file(text, file).file)
        })
        .collect();
    for f in &loaded.files {
        let file = id();
        let text = match &f.contents {
            SourceContents::Text(t) => t.as_str(),
            _ => {
                return Err(CompileError::Lower(format!(
                    "{}: not readable text",
                    f.path
                )));
            }
        };
        asts.push((file, parse_file(text, file).file));
    }
    let mut template_files = BTreeMap::new();
    for (_, file) in &asts {
        for item in &file.items {
            let ast::Item::Template(t) = item else {
                continue;
            };
            for part in &t.parts {
                let ast::TemplateSource::File(name) = &part.value else {
                    continue;
                };
                if template_files.contains_key(&name.value) {
                    continue;
                }
                let full = root.join(&name.value);
                let text = std::fs::read_to_string(&full)
                    .map_err(|e| CompileError::Load(format!("{}: {e}", full.display())))?;
                let (parsed, _) = parse_template_text(&text, id());
                template_files.insert(name.value.clone(), parsed);
            }
        }
    }
    let with_ids: Vec<(FileId, &ast::File)> = asts.iter().map(|(i, f)| (*i, f)).collect();
    let (policy, _) = Policy::collect_files(&manifest, &with_ids);
    let files: Vec<&ast::File> = asts.iter().map(|(_, f)| f).collect();
    lower_project(&LowerInput {
        files: &files,
        template_files: &template_files,
        policy: &policy,
        shop: &manifest.shop,
    })
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
    if let Err(e) = std::fs::write(&args.output, &bytes) {
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
