//! Output formats of `nudge check`: human (miette, with source snippets),
//! `json` (JSON Lines: one object per diagnostic per line), `github`
//! (workflow command annotations) and `sarif` (SARIF 2.1.0).

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};
use nudge_compiler::{Code, Diagnostic, FileId, LineIndex, Severity, Span};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::fmt;

/// Path and text of every file diagnostics may point into.
#[derive(Default)]
pub struct Files {
    files: HashMap<FileId, (String, String)>,
}

impl Files {
    pub fn insert(&mut self, id: FileId, path: String, text: String) {
        self.files.insert(id, (path, text));
    }

    fn get(&self, id: FileId) -> (&str, &str) {
        self.files
            .get(&id)
            .map(|(p, t)| (p.as_str(), t.as_str()))
            .unwrap_or(("<unknown file>", ""))
    }

    /// 1-based (line, column) of the start and end of a span.
    fn position(&self, id: FileId, span: Span) -> Position {
        let (path, text) = self.get(id);
        let index = LineIndex::new(text);
        let (line, column) = index.line_col(text, span.start);
        let (end_line, end_column) = index.line_col(text, span.end.max(span.start));
        Position {
            path: path.to_string(),
            line,
            column,
            end_line,
            end_column,
        }
    }
}

struct Position {
    path: String,
    line: u32,
    column: u32,
    end_line: u32,
    end_column: u32,
}

/// Human output: one miette report per diagnostic.
pub fn human(diagnostics: &[Diagnostic], files: &Files, color: bool, width: usize) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(width)
        .with_links(false);
    let mut out = String::new();
    for d in diagnostics {
        let report = Report::new(d, files);
        if handler.render_report(&mut out, &report).is_err() {
            // Should the snippet fail to render, still say what is wrong.
            let p = files.position(d.primary.file, d.primary.span);
            out.push_str(&format!(
                "{}[{}]: {} at {}:{}:{}\n",
                d.severity.as_str(),
                d.code.as_str(),
                d.message,
                p.path,
                p.line,
                p.column
            ));
        }
        out.push('\n');
    }
    out
}

/// "2 errors, 1 warning in 5 files".
pub fn summary(diagnostics: &[Diagnostic], checked_files: usize) -> String {
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    format!(
        "{}, {} in {}",
        plural(errors, "error"),
        plural(warnings, "warning"),
        plural(checked_files, "file")
    )
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// A diagnostic as miette sees it.
struct Report {
    code: Code,
    severity: Severity,
    message: String,
    help: Option<String>,
    source: Option<NamedSource<String>>,
    labels: Vec<LabeledSpan>,
}

impl Report {
    fn new(d: &Diagnostic, files: &Files) -> Report {
        let (path, text) = files.get(d.primary.file);
        let clamp = |span: Span| -> SourceSpan {
            let len = text.len();
            let start = (span.start as usize).min(len);
            let end = (span.end as usize).clamp(start, len);
            SourceSpan::new(start.into(), end - start)
        };
        let mut message = d.message.clone();
        let (source, labels) = if text.is_empty() {
            // Nothing to show (e.g. a file that is not UTF-8): name the file instead.
            message = format!("{path}: {message}");
            (None, Vec::new())
        } else {
            let label_text = |s: &str| (!s.is_empty()).then(|| s.to_string());
            let mut labels = vec![LabeledSpan::new_primary_with_span(
                label_text(&d.primary.message),
                clamp(d.primary.span),
            )];
            let mut elsewhere = Vec::new();
            for l in &d.secondary {
                if l.file == d.primary.file {
                    labels.push(LabeledSpan::new_with_span(
                        label_text(&l.message),
                        clamp(l.span),
                    ));
                } else {
                    let p = files.position(l.file, l.span);
                    elsewhere.push(format!("{}:{}:{}: {}", p.path, p.line, p.column, l.message));
                }
            }
            if !elsewhere.is_empty() {
                message = format!("{message}\n  see also {}", elsewhere.join("\n  see also "));
            }
            (
                Some(NamedSource::new(path, text.to_string()).with_language("nudge")),
                labels,
            )
        };
        Report {
            code: d.code,
            severity: d.severity,
            message,
            help: d.help.clone(),
            source,
            labels,
        }
    }
}

impl fmt::Debug for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Report {}

impl miette::Diagnostic for Report {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code.as_str()))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display + 'a>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() {
            None
        } else {
            Some(Box::new(self.labels.iter().cloned()))
        }
    }
}

/// One diagnostic as the JSON object of `--format json`.
pub fn json_object(d: &Diagnostic, files: &Files) -> Value {
    let p = files.position(d.primary.file, d.primary.span);
    json!({
        "code": d.code.as_str(),
        "severity": d.severity.as_str(),
        "file": p.path,
        "line": p.line,
        "column": p.column,
        "end": { "line": p.end_line, "column": p.end_column },
        "message": d.message,
        "help": d.help,
    })
}

/// `--format json`: JSON Lines, one object per diagnostic.
pub fn json_lines(diagnostics: &[Diagnostic], files: &Files) -> String {
    let mut out = String::new();
    for d in diagnostics {
        out.push_str(&json_object(d, files).to_string());
        out.push('\n');
    }
    out
}

/// `--format github`: one workflow command per diagnostic.
pub fn github(diagnostics: &[Diagnostic], files: &Files) -> String {
    let mut out = String::new();
    for d in diagnostics {
        let p = files.position(d.primary.file, d.primary.span);
        let kind = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut message = d.message.clone();
        if let Some(help) = &d.help {
            message = format!("{message}\nhelp: {help}");
        }
        out.push_str(&format!(
            "::{kind} file={},line={},col={},endLine={},endColumn={},title={}::{}\n",
            escape_property(&p.path),
            p.line,
            p.column,
            p.end_line,
            p.end_column,
            d.code.as_str(),
            escape_data(&message)
        ));
    }
    out
}

/// Escaping of a workflow command's message.
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escaping of a workflow command's property value.
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// `--format sarif`: one SARIF 2.1.0 log, one run (covering every checked
/// path), the rules of every code.
pub fn sarif_many<'a>(checked: impl Iterator<Item = (&'a [Diagnostic], &'a Files)>) -> String {
    let level = |s: Severity| match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    let rules: Vec<Value> = Code::ALL
        .iter()
        .map(|c| {
            json!({
                "id": c.as_str(),
                "shortDescription": { "text": c.title() },
                "helpUri": format!("https://example.invalid/nudge/docs/diagnostics.md#{}", c.as_str().to_lowercase()),
                "defaultConfiguration": { "level": level(c.severity()) },
            })
        })
        .collect();
    let results: Vec<Value> = checked
        .flat_map(|(diagnostics, files)| diagnostics.iter().map(move |d| (d, files)))
        .map(|(d, files)| {
            let p = files.position(d.primary.file, d.primary.span);
            let rule_index = Code::ALL.iter().position(|c| *c == d.code).unwrap_or(0);
            let mut text = d.message.clone();
            if let Some(help) = &d.help {
                text = format!("{text}\nhelp: {help}");
            }
            json!({
                "ruleId": d.code.as_str(),
                "ruleIndex": rule_index,
                "level": level(d.severity),
                "message": { "text": text },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": p.path.replace('\\', "/") },
                        "region": {
                            "startLine": p.line,
                            "startColumn": p.column,
                            "endLine": p.end_line,
                            "endColumn": p.end_column,
                        }
                    }
                }],
            })
        })
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "nudge",
                    "version": env!("CARGO_PKG_VERSION"),
                    "informationUri": "https://example.invalid/nudge",
                    "rules": rules,
                }
            },
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    });
    let mut out = serde_json::to_string_pretty(&log).unwrap_or_default();
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    //! Snapshots of every format for hand-built diagnostics of the shapes the
    //! checker and lints produce (primary label, secondary label, help).
    use super::*;

    const FLOW: &str =
        "flow cart {\n  when \"Checkout Startd\"\n  send email cart_reminder(it)\n}\n";

    fn sample() -> (Vec<Diagnostic>, Files) {
        let mut files = Files::default();
        files.insert(FileId(3), "flows/cart.flow".into(), FLOW.into());
        files.insert(
            FileId(4),
            "templates.flow".into(),
            "template email cart_reminder() {}\n".into(),
        );
        let event = FLOW.find("\"Checkout").unwrap_or(0) as u32;
        let args = FLOW.find("(it)").unwrap_or(0) as u32;
        let diagnostics = vec![
            Diagnostic::new(
                Code::UnknownEvent,
                FileId(3),
                Span::new(event, event + 17),
                "unknown event \"Checkout Startd\"",
            )
            .with_label("not a declared event")
            .with_help("did you mean \"Checkout Started\"?"),
            Diagnostic::new(
                Code::WrongTemplateArguments,
                FileId(3),
                Span::new(args, args + 4),
                "`cart_reminder` takes no arguments, but 1 is given",
            )
            .with_secondary(FileId(4), Span::new(15, 28), "declared here")
            .with_help("remove the argument, or add a parameter to the template"),
            Diagnostic::new(
                Code::UnreachableStep,
                FileId(3),
                Span::new(0, 4),
                "a warning with a comma, a colon: and 100% escaping",
            ),
        ];
        (diagnostics, files)
    }

    #[test]
    fn human_output() {
        let (diagnostics, files) = sample();
        let mut out = human(&diagnostics, &files, false, 80);
        out.push_str(&summary(&diagnostics, 2));
        insta::assert_snapshot!(out);
    }

    #[test]
    fn json_output() {
        let (diagnostics, files) = sample();
        insta::assert_snapshot!(json_lines(&diagnostics, &files));
    }

    #[test]
    fn github_output() {
        let (diagnostics, files) = sample();
        insta::assert_snapshot!(github(&diagnostics, &files));
    }

    #[test]
    fn sarif_output() {
        let (diagnostics, files) = sample();
        let log: Value =
            serde_json::from_str(&sarif_many(std::iter::once((&diagnostics[..], &files))))
                .unwrap_or_default();
        assert_eq!(
            log["runs"][0]["tool"]["driver"]["rules"]
                .as_array()
                .map(Vec::len),
            Some(Code::ALL.len())
        );
        // The rules are many; snapshot the results only.
        insta::assert_json_snapshot!(log["runs"][0]["results"]);
    }

    #[test]
    fn spans_past_the_end_are_clamped() {
        let mut files = Files::default();
        files.insert(FileId(0), "x.flow".into(), "abc".into());
        let d = Diagnostic::new(Code::UnexpectedToken, FileId(0), Span::new(2, 99), "x");
        assert!(human(&[d], &files, false, 80).contains("E0003"));
    }

    #[test]
    fn summary_counts() {
        assert_eq!(summary(&[], 1), "0 errors, 0 warnings in 1 file");
    }
}
