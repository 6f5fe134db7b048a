//! Keeps `docs/diagnostics.md` honest:
//! - every code of `Code::ALL` has a `### CODE title` section whose title is
//!   the code's own title, in code order, and no section names an unknown
//!   code;
//! - every ```` ```flow ```` block after a `**Bad:**` line reports its
//!   section's code (at the marked line and column, if the block marks one
//!   with a `// ^ CODE` line), and every ```` ```flow ```` block after a
//!   `**Fixed:**` line checks without errors and without the section's
//!   code. Each block is checked alone, as a lone `.flow` file, through the
//!   built binary (`nudge check --format json`), so the page shows exactly
//!   what a user gets.

// A failing test reports by panicking.
#![allow(clippy::panic)]

use nudge_compiler::diagnostic::Code;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

fn docs_text() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/diagnostics.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[derive(Debug)]
struct Section {
    code: String,
    title: String,
    /// 1-based line of the heading.
    line: usize,
    bad: Vec<Block>,
    fixed: Vec<Block>,
}

#[derive(Debug)]
struct Block {
    /// 1-based line of the opening fence.
    line: usize,
    text: String,
}

/// The `### CODE title` sections with their bad and fixed `flow` blocks.
fn sections(doc: &str) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    // Which list the next flow block goes to: Some(true) bad, Some(false) fixed.
    let mut kind: Option<bool> = None;
    let mut block: Option<(usize, String, String)> = None;
    for (i, line) in doc.lines().enumerate() {
        let n = i + 1;
        if let Some((start, lang, mut text)) = block.take() {
            if line.trim_start().starts_with("```") {
                if lang == "flow"
                    && let (Some(section), Some(bad)) = (out.last_mut(), kind)
                {
                    let b = Block { line: start, text };
                    if bad {
                        section.bad.push(b);
                    } else {
                        section.fixed.push(b);
                    }
                }
            } else {
                text.push_str(line);
                text.push('\n');
                block = Some((start, lang, text));
            }
            continue;
        }
        if let Some(lang) = line.trim_start().strip_prefix("```") {
            block = Some((n, lang.trim().to_string(), String::new()));
        } else if let Some(heading) = line.strip_prefix("### ") {
            let (code, title) = heading.split_once(' ').unwrap_or((heading, ""));
            out.push(Section {
                code: code.to_string(),
                title: title.to_string(),
                line: n,
                bad: Vec::new(),
                fixed: Vec::new(),
            });
            kind = None;
        } else if line.starts_with("**Bad:**") {
            kind = Some(true);
        } else if line.starts_with("**Fixed:**") {
            kind = Some(false);
        } else if line.starts_with("## ") {
            kind = None;
        }
    }
    out
}

#[test]
fn every_code_has_a_section_with_its_title() {
    let doc = docs_text();
    let found = sections(&doc);
    let mut problems = String::new();
    for (i, code) in Code::ALL.iter().enumerate() {
        match found.iter().position(|s| s.code == code.as_str()) {
            None => {
                let _ = writeln!(problems, "no section `### {}`", code.as_str());
            }
            Some(j) => {
                let s = &found[j];
                // Titles may quote code (`wait for`); compare the words.
                if s.title.replace('`', "") != code.title().replace('`', "") {
                    let _ = writeln!(
                        problems,
                        "line {}: section {} is titled {:?}, the code's title is {:?}",
                        s.line,
                        s.code,
                        s.title,
                        code.title()
                    );
                }
                if j != i {
                    let _ = writeln!(
                        problems,
                        "line {}: section {} is out of order (expected position {i})",
                        s.line, s.code
                    );
                }
            }
        }
    }
    for s in &found {
        if Code::from_str_code(&s.code).is_none() {
            let _ = writeln!(problems, "line {}: unknown code {}", s.line, s.code);
        }
    }
    assert!(problems.is_empty(), "docs/diagnostics.md:\n{problems}");
}

/// A reported diagnostic: code, 1-based line, 0-based char column.
struct Reported {
    code: String,
    line: usize,
    column: usize,
    message: String,
}

impl std::fmt::Debug for Reported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} at {}:{} {}",
            self.code, self.line, self.column, self.message
        )
    }
}

fn check_lone_file(dir: &Path, text: &str) -> Vec<Reported> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let path = dir.join("example.flow");
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let out = Command::new(env!("CARGO_BIN_EXE_nudge"))
        .args(["check", "--format", "json", "example.flow"])
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap_or_else(|e| panic!("cannot run nudge: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON {l:?}: {e}"));
            Reported {
                code: v["code"].as_str().unwrap_or_default().to_string(),
                line: v["line"].as_u64().unwrap_or_default() as usize,
                column: v["column"].as_u64().unwrap_or_default().saturating_sub(1) as usize,
                message: v["message"].as_str().unwrap_or_default().to_string(),
            }
        })
        .collect()
}

/// `//   ^ CODE` lines of a block: (1-based line of the code above, column).
fn marks(text: &str, code: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut last_code_line = 0;
    for (i, line) in text.lines().enumerate() {
        let is_mark = line
            .trim_start()
            .strip_prefix("//")
            .map(str::trim_start)
            .and_then(|r| r.strip_prefix('^'))
            .is_some_and(|r| r.trim_start().starts_with(code));
        if is_mark {
            if let Some(col) = line.chars().position(|c| c == '^') {
                out.push((last_code_line, col));
            }
        } else {
            last_code_line = i + 1;
        }
    }
    out
}

/// Codes documented but not reported by any stage yet: their bad examples
/// are not required to report them. Remove a code once it is implemented.
const NOT_YET_REPORTED: &[&str] = &["W0010"];

fn scratch_root() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("docs-examples")
}

#[test]
fn bad_examples_report_their_code_and_fixed_examples_are_clean() {
    let doc = docs_text();
    let root = scratch_root();
    let mut problems = String::new();
    for s in sections(&doc) {
        for b in s
            .bad
            .iter()
            .filter(|_| !NOT_YET_REPORTED.contains(&s.code.as_str()))
        {
            let dir = root.join(format!("{}-bad-{}", s.code, b.line));
            let got = check_lone_file(&dir, &b.text);
            if !got.iter().any(|r| r.code == s.code) {
                let _ = writeln!(
                    problems,
                    "line {}: the bad example of {} does not report it; got {:?}",
                    b.line, s.code, got
                );
            }
            for (line, column) in marks(&b.text, &s.code) {
                if !got
                    .iter()
                    .any(|r| r.code == s.code && r.line == line && r.column == column)
                {
                    let _ = writeln!(
                        problems,
                        "line {}: the bad example of {} marks line {line} column {column}; got {:?}",
                        b.line, s.code, got
                    );
                }
            }
        }
        for b in &s.fixed {
            let dir = root.join(format!("{}-fixed-{}", s.code, b.line));
            let got = check_lone_file(&dir, &b.text);
            let wrong: Vec<&Reported> = got
                .iter()
                .filter(|r| r.code == s.code || r.code.starts_with('E'))
                .collect();
            if !wrong.is_empty() {
                let _ = writeln!(
                    problems,
                    "line {}: the fixed example of {} reports {:?}",
                    b.line, s.code, wrong
                );
            }
        }
    }
    assert!(problems.is_empty(), "docs/diagnostics.md:\n{problems}");
}
