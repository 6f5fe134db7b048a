//! The project database's diagnostics for one open file, as LSP
//! diagnostics (range, severity, code, message with help, related places).

use crate::position::{LineIndex, Range};
use nudge_compiler::db::{self, Db, Project, SourceFile};
use nudge_compiler::{FileId, Severity};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LspDiagnostic {
    pub range: Range,
    /// 1 = error, 2 = warning (LSP `DiagnosticSeverity`).
    pub severity: u8,
    pub code: &'static str,
    /// The message, then `help: ...` on its own line when there is help.
    pub message: String,
    /// Secondary labels: (path, range, message).
    pub related: Vec<(String, Range, String)>,
}

/// Diagnostics whose primary place is in `file`.
pub fn file_diagnostics(db: &dyn Db, project: Project, file: SourceFile) -> Vec<LspDiagnostic> {
    let id = file.id(db);
    let text = file.contents(db).display_text();
    let index = LineIndex::new(text);
    let lookup = |fid: FileId| -> Option<SourceFile> {
        project
            .files(db)
            .iter()
            .chain(project.manifest_file(db).iter())
            .copied()
            .find(|f| f.id(db) == fid)
    };
    db::diagnostics(db, project)
        .iter()
        .filter(|d| d.primary.file == id)
        .map(|d| {
            let related = d
                .secondary
                .iter()
                .filter_map(|l| {
                    let other = lookup(l.file)?;
                    let other_text = other.contents(db).display_text();
                    let range = LineIndex::new(other_text).range(other_text, l.span);
                    Some((other.path(db).clone(), range, l.message.clone()))
                })
                .collect();
            let message = match &d.help {
                Some(help) => format!("{}\nhelp: {help}", d.message),
                None => d.message.clone(),
            };
            LspDiagnostic {
                range: index.range(text, d.primary.span),
                severity: match d.severity {
                    Severity::Error => 1,
                    Severity::Warning => 2,
                },
                code: d.code.as_str(),
                message,
                related,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::position::Position;
    use nudge_compiler::db::{Database, SourceContents};

    #[test]
    fn manifest_diagnostics_map_to_lsp_ranges() {
        let db = Database::default();
        let manifest = SourceFile::new(
            &db,
            "nudge.toml".into(),
            FileId(50),
            SourceContents::Text("[project]\nnme = \"x\"\n".into()),
        );
        let project = Project::new(&db, db.stdlib_files(), Some(manifest), Vec::new());
        let found = file_diagnostics(&db, project, manifest);
        let unknown_key = found.iter().find(|d| d.message.contains("nme"));
        assert!(
            unknown_key.is_some(),
            "no diagnostic for the unknown key: {found:?}"
        );
        let Some(d) = unknown_key else { return };
        assert_eq!(d.code, "E0008");
        assert_eq!(d.severity, 1);
        assert_eq!(
            d.range.start,
            Position {
                line: 1,
                character: 0
            }
        );
        assert_eq!(
            d.range.end,
            Position {
                line: 1,
                character: 3
            }
        );
        assert!(
            d.message.contains("help: did you mean `name`?"),
            "{}",
            d.message
        );
    }
}
