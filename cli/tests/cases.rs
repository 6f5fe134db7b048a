//! The data-driven cases under `tests/cases/**` (format: TEAM.md "Test
//! layout"). Each `.flow` file outside a project folder is checked alone
//! (stdlib + that file, default settings); each folder holding a
//! `nudge.toml` is checked as one project. Expected diagnostics are written
//! inline on comment lines below the offending line:
//!
//! ```flow
//! send email cart_remindr(c)
//! //         ^ E0104 unknown template
//! ```
//!
//! The caret's column (in chars) is the column where the primary span
//! starts, on the nearest line above that is not an expectation line; the
//! optional text must be a substring of the message or of its help line
//! (so a "did you mean" can be expected). In `nudge.toml` the
//! comment marker is `#`. Every diagnostic must be expected and every
//! expectation met. All cases run; all failures are reported together, per
//! file, with the source line.
//!
//! The cases run through the built binary (`nudge check --format json`), so
//! they test exactly what a user sees.

// A failing test reports by panicking.
#![allow(clippy::panic)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One expected or reported diagnostic, located by 1-based line and
/// 0-based char column.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Expectation {
    line: usize,
    column: usize,
    code: String,
    /// Must be a substring of the message (expectations only).
    text: Option<String>,
}

#[derive(Debug, Clone)]
struct Actual {
    line: usize,
    column: usize,
    code: String,
    message: String,
    help: String,
}

/// Parses `// ^ CODE [text]` (or `# ^ CODE [text]`); returns the caret's
/// char column, the code and the text.
fn expectation_line(line: &str, marker: &str) -> Option<(usize, String, Option<String>)> {
    let rest = line.trim_start().strip_prefix(marker)?;
    let after_marker = rest.trim_start();
    let after_caret = after_marker.strip_prefix('^')?;
    let after_caret = after_caret.strip_prefix(' ')?;
    let (code, text) = match after_caret.split_once(' ') {
        Some((code, text)) => (code, Some(text.trim().to_string())),
        None => (after_caret.trim(), None),
    };
    let is_code = code.len() == 5
        && (code.starts_with('E') || code.starts_with('W'))
        && code[1..].chars().all(|c| c.is_ascii_digit());
    if !is_code {
        return None;
    }
    let caret_byte = line.len() - after_marker.len();
    let column = line[..caret_byte].chars().count();
    Some((column, code.to_string(), text.filter(|t| !t.is_empty())))
}

/// Every expectation in a file's text.
fn expectations(text: &str, marker: &str) -> Vec<Expectation> {
    let mut out = Vec::new();
    let mut target: Option<usize> = None;
    for (i, line) in text.lines().enumerate() {
        match expectation_line(line, marker) {
            Some((column, code, text)) => {
                // An expectation on the first line has no line above: it can
                // never match, which the report then shows.
                out.push(Expectation {
                    line: target.unwrap_or(0),
                    column,
                    code,
                    text,
                });
            }
            None => target = Some(i + 1),
        }
    }
    out
}

/// A unit checked in one `nudge check` run: a project folder or a lone file.
enum Unit {
    Project(PathBuf),
    File(PathBuf),
}

fn collect_units(dir: &Path, out: &mut Vec<Unit>) {
    if dir.join("nudge.toml").is_file() {
        out.push(Unit::Project(dir.to_path_buf()));
        return;
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect_units(&path, out);
        } else if path.extension().is_some_and(|e| e == "flow") {
            out.push(Unit::File(path));
        }
    }
}

/// The files of a unit that may hold expectations, relative to `root`.
fn unit_files(unit: &Unit, root: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "flow")
                || path.file_name().is_some_and(|n| n == "nudge.toml")
            {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    match unit {
        Unit::Project(dir) => walk(dir, &mut files),
        Unit::File(file) => files.push(file.clone()),
    }
    files.sort();
    files
        .into_iter()
        .map(|f| f.strip_prefix(root).map(Path::to_path_buf).unwrap_or(f))
        .collect()
}

/// Runs `nudge check --format json` on a unit; diagnostics by file.
fn run_unit(path: &Path, root: &Path) -> Result<BTreeMap<String, Vec<Actual>>, String> {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let out = Command::new(env!("CARGO_BIN_EXE_nudge"))
        .args(["check", "--format", "json"])
        .arg(rel)
        .current_dir(root)
        .output()
        .map_err(|e| format!("cannot run nudge: {e}"))?;
    if !matches!(out.status.code(), Some(0 | 1)) {
        return Err(format!(
            "nudge exited with {:?}: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let mut by_file: BTreeMap<String, Vec<Actual>> = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("bad JSON line {line:?}: {e}"))?;
        let field = |k: &str| v[k].as_str().unwrap_or_default().to_string();
        let number = |k: &str| v[k].as_u64().unwrap_or(0) as usize;
        by_file.entry(field("file")).or_default().push(Actual {
            line: number("line"),
            column: number("column").saturating_sub(1),
            code: field("code"),
            message: field("message"),
            help: field("help"),
        });
    }
    Ok(by_file)
}

fn matches(e: &Expectation, a: &Actual) -> bool {
    e.line == a.line
        && e.column == a.column
        && e.code == a.code
        && e.text
            .as_ref()
            .is_none_or(|t| a.message.contains(t.as_str()) || a.help.contains(t.as_str()))
}

/// Compares one file; returns a readable report of the differences.
fn compare(path: &str, text: &str, expected: &[Expectation], actual: &[Actual]) -> Option<String> {
    let mut unmatched_actual: Vec<&Actual> = actual.iter().collect();
    let mut missing = Vec::new();
    for e in expected {
        match unmatched_actual.iter().position(|a| matches(e, a)) {
            Some(i) => {
                unmatched_actual.remove(i);
            }
            None => missing.push(e),
        }
    }
    if missing.is_empty() && unmatched_actual.is_empty() {
        return None;
    }
    let lines: Vec<&str> = text.lines().collect();
    let source = |line: usize| lines.get(line.wrapping_sub(1)).copied().unwrap_or("");
    let mut report = format!("--- {path}\n");
    for e in &missing {
        let _ = writeln!(
            report,
            "  expected, not reported: {} at {}:{}{}\n    {:>4} | {}\n         | {}^",
            e.code,
            e.line,
            e.column + 1,
            e.text
                .as_ref()
                .map(|t| format!(" containing {t:?}"))
                .unwrap_or_default(),
            e.line,
            source(e.line),
            " ".repeat(e.column)
        );
    }
    for a in &unmatched_actual {
        let _ = writeln!(
            report,
            "  reported, not expected: {} at {}:{}: {}\n    {:>4} | {}\n         | {}^ {} {}",
            a.code,
            a.line,
            a.column + 1,
            a.message,
            a.line,
            source(a.line),
            " ".repeat(a.column),
            a.code,
            a.message
        );
    }
    Some(report)
}

fn marker_for(path: &Path) -> &'static str {
    if path.extension().is_some_and(|e| e == "toml") {
        "#"
    } else {
        "//"
    }
}

#[test]
fn cases() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/cases");
    let mut units = Vec::new();
    collect_units(&root, &mut units);
    assert!(!units.is_empty(), "no cases under {}", root.display());
    let mut failures = Vec::new();
    let mut checked = 0;
    for unit in &units {
        let path = match unit {
            Unit::Project(p) | Unit::File(p) => p,
        };
        checked += 1;
        let mut actual = match run_unit(path, &root) {
            Ok(a) => a,
            Err(e) => {
                failures.push(format!("--- {}\n  {e}\n", path.display()));
                continue;
            }
        };
        for file in unit_files(unit, &root) {
            let shown = file.to_string_lossy().into_owned();
            let bytes = std::fs::read(root.join(&file)).unwrap_or_default();
            let text = String::from_utf8_lossy(&bytes);
            let expected = expectations(&text, marker_for(&file));
            let got = actual.remove(&shown).unwrap_or_default();
            if let Some(report) = compare(&shown, &text, &expected, &got) {
                failures.push(report);
            }
        }
        // Diagnostics in files no expectation can be written in (the stdlib).
        for (file, rest) in actual {
            for a in rest {
                failures.push(format!(
                    "--- {file}\n  reported, not expected: {} at {}:{}: {}\n",
                    a.code,
                    a.line,
                    a.column + 1,
                    a.message
                ));
            }
        }
    }
    if !failures.is_empty() {
        panic!(
            "{} of {checked} cases failed:\n\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
}

#[test]
fn parses_expectation_lines() {
    assert_eq!(
        expectation_line("//         ^ E0104 unknown template", "//"),
        Some((11, "E0104".into(), Some("unknown template".into())))
    );
    assert_eq!(
        expectation_line("  //^ W0009", "//"),
        Some((4, "W0009".into(), None))
    );
    assert_eq!(
        expectation_line("# ^ E0008 bad", "#"),
        Some((2, "E0008".into(), Some("bad".into())))
    );
    assert_eq!(expectation_line("// ^ see above", "//"), None);
    assert_eq!(expectation_line("// a comment", "//"), None);
    assert_eq!(expectation_line("flow x { } // ^ E0101", "//"), None);
}

#[test]
fn expectations_attach_to_the_nearest_code_line_above() {
    let text = "a\nsend email x()\n//         ^ E0104\n//  ^ E0106 two\nnext\n";
    let found = expectations(text, "//");
    assert_eq!(
        found,
        vec![
            Expectation {
                line: 2,
                column: 11,
                code: "E0104".into(),
                text: None
            },
            Expectation {
                line: 2,
                column: 4,
                code: "E0106".into(),
                text: Some("two".into())
            },
        ]
    );
}

#[test]
fn compare_reports_both_directions() {
    let expected = vec![Expectation {
        line: 1,
        column: 2,
        code: "E0101".into(),
        text: Some("Startd".into()),
    }];
    let actual = vec![Actual {
        line: 1,
        column: 3,
        code: "E0101".into(),
        message: "unknown event \"Startd\"".into(),
        help: String::new(),
    }];
    let report = compare("x.flow", "a \"Startd\"\n", &expected, &actual).unwrap_or_default();
    assert!(
        report.contains("expected, not reported: E0101 at 1:3"),
        "{report}"
    );
    assert!(
        report.contains("reported, not expected: E0101 at 1:4"),
        "{report}"
    );
    let ok = vec![Actual {
        line: 1,
        column: 2,
        code: "E0101".into(),
        message: "unknown event \"Startd\"".into(),
        help: String::new(),
    }];
    assert_eq!(compare("x.flow", "", &expected, &ok), None);
    let in_help = vec![Actual {
        line: 1,
        column: 2,
        code: "E0101".into(),
        message: "unknown event".into(),
        help: "did you mean \"Startd\"?".into(),
    }];
    assert_eq!(compare("x.flow", "", &expected, &in_help), None);
}
