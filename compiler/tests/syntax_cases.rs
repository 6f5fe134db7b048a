//! Runs `tests/cases/syntax/*.flow` through the parser alone and compares
//! its diagnostics (E0001–E0009) with the expectations written inline
//! (format: TEAM.md "Test layout"; `cli/tests/cases.rs` runs the same files
//! through the whole checker). Codes of later stages are left to that
//! harness.

#![allow(clippy::panic)]

use nudge_compiler::parser::parse_file;
use nudge_compiler::span::{FileId, LineIndex};
use std::fmt::Write as _;

#[derive(Debug)]
struct Expected {
    line: u32,
    column: u32,
    code: String,
    text: Option<String>,
}

/// `// ^ CODE text` below the offending line.
fn expectations(text: &str) -> Vec<Expected> {
    let mut out = Vec::new();
    let mut target = 0u32;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let parsed = trimmed.strip_prefix("//").and_then(|rest| {
            let after = rest.trim_start();
            let caret = after.strip_prefix('^')?;
            let caret_byte = line.len() - after.len();
            let column = line[..caret_byte].chars().count() as u32 + 1;
            let mut words = caret.trim().splitn(2, ' ');
            let code = words.next()?.to_string();
            code.starts_with('E').then_some(())?;
            let text = words.next().map(|t| t.trim().to_string());
            Some((column, code, text))
        });
        match parsed {
            Some((column, code, text)) => out.push(Expected {
                line: target,
                column,
                code,
                text,
            }),
            None => target = i as u32 + 1,
        }
    }
    out
}

fn owned(code: &str) -> bool {
    code.starts_with("E000")
}

#[test]
fn syntax_cases() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/cases/syntax");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "flow"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no cases in {}", dir.display());
    let mut report = String::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let parsed = parse_file(&text, FileId(0));
        let index = LineIndex::new(&text);
        let mut expected: Vec<Expected> = expectations(&text)
            .into_iter()
            .filter(|e| owned(&e.code))
            .collect();
        let mut unexpected = Vec::new();
        for d in &parsed.diagnostics {
            let (line, column) = index.line_col(&text, d.primary.span.start);
            let help = d.help.clone().unwrap_or_default();
            let hit = expected.iter().position(|e| {
                e.line == line
                    && e.column == column
                    && e.code == d.code.as_str()
                    && e.text
                        .as_ref()
                        .is_none_or(|t| d.message.contains(t.as_str()) || help.contains(t.as_str()))
            });
            match hit {
                Some(i) => {
                    expected.remove(i);
                }
                None => unexpected.push(format!(
                    "  unexpected {line}:{column} {} {} (help: {help})",
                    d.code.as_str(),
                    d.message
                )),
            }
        }
        if !unexpected.is_empty() || !expected.is_empty() {
            let _ = writeln!(report, "{}:", path.display());
            for u in unexpected {
                let _ = writeln!(report, "{u}");
            }
            for e in expected {
                let _ = writeln!(
                    report,
                    "  missing    {}:{} {} {}",
                    e.line,
                    e.column,
                    e.code,
                    e.text.unwrap_or_default()
                );
            }
        }
    }
    assert!(report.is_empty(), "\n{report}");
}
