//! Loading a project from disk for the database: the project folder's
//! `nudge.toml`, every `.flow` file under it (sorted, hidden folders and
//! `target/` skipped), or a lone `.flow` file. Files that cannot be used as
//! text are still loaded (as [`SourceContents::NotUtf8`] / `TooLarge`) so
//! the database reports them as diagnostics; only real I/O failures
//! (missing path, unreadable file) are errors here.

use nudge_compiler::db::{MAX_SOURCE_BYTES, SourceContents};
use std::fmt;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

/// A file read from disk, with the path shown to users.
pub struct LoadedFile {
    pub path: String,
    pub contents: SourceContents,
}

/// What `nudge check PATH` checks.
pub struct LoadedProject {
    /// The folder template file paths (`html file "..."`) are relative to:
    /// the project folder, or a lone file's folder.
    pub root: PathBuf,
    pub manifest: Option<LoadedFile>,
    pub files: Vec<LoadedFile>,
}

/// Why a path could not be loaded (exit code 2).
#[derive(Debug)]
pub enum LoadError {
    NotFound(PathBuf),
    NoManifest(PathBuf),
    NotFlowFile(PathBuf),
    Io(PathBuf, std::io::Error),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::NotFound(p) => write!(f, "{}: no such file or folder", p.display()),
            LoadError::NoManifest(p) => write!(
                f,
                "{}: not a Nudge project (no nudge.toml); run `nudge init {}` or check a single .flow file",
                p.display(),
                p.display()
            ),
            LoadError::NotFlowFile(p) => {
                write!(
                    f,
                    "{}: expected a project folder or a .flow file",
                    p.display()
                )
            }
            LoadError::Io(p, e) => write!(f, "{}: {e}", p.display()),
        }
    }
}

/// Loads a project folder or a lone `.flow` file.
pub fn load(path: &Path) -> Result<LoadedProject, LoadError> {
    let meta = fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => LoadError::NotFound(path.to_path_buf()),
        _ => LoadError::Io(path.to_path_buf(), e),
    })?;
    if meta.is_dir() {
        let manifest_path = path.join("nudge.toml");
        if !manifest_path.is_file() {
            return Err(LoadError::NoManifest(path.to_path_buf()));
        }
        let manifest = read_file(&manifest_path)?;
        let mut paths = Vec::new();
        walk_flow_files(path, &mut paths)?;
        paths.sort();
        let files = paths
            .iter()
            .map(|p| read_file(p))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(LoadedProject {
            root: path.to_path_buf(),
            manifest: Some(manifest),
            files,
        })
    } else if path.extension().is_some_and(|e| e == "flow") {
        Ok(LoadedProject {
            root: path
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from(".")),
            manifest: None,
            files: vec![read_file(path)?],
        })
    } else {
        Err(LoadError::NotFlowFile(path.to_path_buf()))
    }
}

/// Reads a template file named by a `file "..."` part, relative to the
/// project root. `None` when there is no such file (the database reports
/// E0007 at the reference); a file that exists but cannot be read is an
/// error.
pub fn read_template_file(root: &Path, relative: &str) -> Result<Option<LoadedFile>, LoadError> {
    // The database never asks for such a path (it reports E0010); refuse
    // here too, so no caller can read outside the project by mistake.
    if !nudge_compiler::db::is_inside_project(relative) {
        return Ok(None);
    }
    let path = root.join(relative);
    if !path.is_file() {
        return Ok(None);
    }
    read_file(&path).map(Some)
}

/// Reads a file, refusing to read more than the size limit into memory.
pub fn read_file(path: &Path) -> Result<LoadedFile, LoadError> {
    let io = |e| LoadError::Io(path.to_path_buf(), e);
    let file = fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    // Read one byte past the limit: enough to know the file is too large.
    file.take(MAX_SOURCE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    let contents = if bytes.len() as u64 > MAX_SOURCE_BYTES {
        let size = fs::metadata(path)
            .map(|m| m.len())
            .unwrap_or(bytes.len() as u64);
        SourceContents::TooLarge { bytes: size }
    } else {
        SourceContents::from_bytes(bytes)
    };
    Ok(LoadedFile {
        path: display_path(path),
        contents,
    })
}

fn display_path(path: &Path) -> String {
    let shown = path.strip_prefix(".").unwrap_or(path);
    shown.to_string_lossy().into_owned()
}

fn walk_flow_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), LoadError> {
    let entries = fs::read_dir(dir).map_err(|e| LoadError::Io(dir.to_path_buf(), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| LoadError::Io(dir.to_path_buf(), e))?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let kind = entry
            .file_type()
            .map_err(|e| LoadError::Io(path.clone(), e))?;
        if kind.is_dir() {
            if !name.starts_with('.') && name != "target" {
                walk_flow_files(&path, out)?;
            }
        } else if path.extension().is_some_and(|e| e == "flow") {
            out.push(path);
        }
    }
    Ok(())
}
