//! `nudge check [PATH...]`: loads each path, checks it through the project
//! database and prints the diagnostics in the chosen format.

use crate::project::{self, LoadedProject};
use crate::render::{self, Files};
use clap::{Args, ValueEnum};
use nudge_compiler::Diagnostic;
use nudge_compiler::db::{self, Database, Project, SourceContents, SourceFile};
use nudge_compiler::span::FileId;
use salsa::Setter;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

#[derive(Args)]
pub struct CheckArgs {
    /// Project folders (holding nudge.toml) or single .flow files.
    #[arg(default_value = ".")]
    paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Treat these as errors for the exit code.
    #[arg(long, value_enum)]
    deny: Vec<Deny>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Source snippets with labels and help (miette).
    Human,
    /// JSON Lines: one object per diagnostic.
    Json,
    /// GitHub Actions workflow commands (annotations).
    Github,
    /// One SARIF 2.1.0 log.
    Sarif,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Deny {
    /// Exit with 1 when there are warnings.
    Warnings,
}

/// The diagnostics of one checked path and the files they point into.
pub struct Checked {
    /// The database the project was checked in (`nudge build` lowers from it).
    pub db: Database,
    pub project: Project,
    pub diagnostics: Vec<Diagnostic>,
    pub files: Files,
    /// Number of the project's own files (stdlib and manifest not counted).
    pub checked_files: usize,
}

/// Checks a loaded project through the database.
pub fn check_project(loaded: &LoadedProject) -> Result<Checked, project::LoadError> {
    let mut db = Database::default();
    let mut files = Files::default();
    let mut sources: Vec<SourceFile> = db.stdlib_files();
    for &s in &sources {
        files.insert(
            s.id(&db),
            s.path(&db).clone(),
            s.contents(&db).display_text().to_string(),
        );
    }
    let mut next = db::first_project_file_id().0;
    let mut add = |path: &str, contents: &SourceContents, files: &mut Files| {
        let id = FileId(next);
        next += 1;
        files.insert(id, path.to_string(), contents.display_text().to_string());
        SourceFile::new(&db, path.to_string(), id, contents.clone())
    };
    let manifest = loaded
        .manifest
        .as_ref()
        .map(|m| add(&m.path, &m.contents, &mut files));
    for f in &loaded.files {
        sources.push(add(&f.path, &f.contents, &mut files));
    }
    let project = Project::new(&db, sources, manifest, Vec::new());
    // Second step: read the template files the sources name.
    let mut templates = Vec::new();
    for relative in db::template_references(&db, project).clone() {
        if let Some(file) = project::read_template_file(&loaded.root, &relative)? {
            templates.push((relative, add(&file.path, &file.contents, &mut files)));
        }
    }
    project.set_template_files(&mut db).to(templates);
    Ok(Checked {
        diagnostics: db::diagnostics(&db, project).clone(),
        db,
        project,
        files,
        checked_files: loaded.files.len(),
    })
}

pub fn run(args: &CheckArgs) -> u8 {
    let mut exit = 0u8;
    let mut all: Vec<Checked> = Vec::new();
    for path in &args.paths {
        match project::load(path).and_then(|loaded| check_project(&loaded)) {
            Ok(checked) => all.push(checked),
            Err(e) => {
                eprintln!("error: {e}");
                exit = 2;
            }
        }
    }
    let deny_warnings = args.deny.contains(&Deny::Warnings);
    let failed = all
        .iter()
        .flat_map(|c| &c.diagnostics)
        .any(|d| d.is_error() || deny_warnings);
    if failed && exit == 0 {
        exit = 1;
    }
    let out = match args.format {
        Format::Human => {
            let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            let mut out = String::new();
            let mut diagnostics = Vec::new();
            let mut checked_files = 0;
            for c in &all {
                out.push_str(&render::human(&c.diagnostics, &c.files, color, 100));
                diagnostics.extend(c.diagnostics.iter().cloned());
                checked_files += c.checked_files;
            }
            if !all.is_empty() {
                out.push_str(&render::summary(&diagnostics, checked_files));
                out.push('\n');
            }
            out
        }
        Format::Json => all
            .iter()
            .map(|c| render::json_lines(&c.diagnostics, &c.files))
            .collect(),
        Format::Github => all
            .iter()
            .map(|c| render::github(&c.diagnostics, &c.files))
            .collect(),
        Format::Sarif => render::sarif_many(all.iter().map(|c| (&c.diagnostics[..], &c.files))),
    };
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
        .is_err()
    {
        return 2;
    }
    exit
}
