//! The in-process case harness shared by `check_cases.rs` and
//! `lint_cases.rs`: reads `tests/cases/<dir>/**` (single files, and folders
//! holding `nudge.toml` as one project), runs the parser, the project index,
//! the type checker, the test checker, the structural rules and the lints,
//! and compares the diagnostics of the codes a harness owns with the
//! expectations written inline (format: TEAM.md "Test layout"). The expected text must be a
//! substring of the message or of the help line. A case that does not
//! parse fails.

// Each test binary uses the part it needs.
#![allow(dead_code)]

use nudge_compiler::ast;
use nudge_compiler::diagnostic::{Code, Diagnostic};
use nudge_compiler::lint;
use nudge_compiler::manifest::Manifest;
use nudge_compiler::parser;
use nudge_compiler::policy::Policy;
use nudge_compiler::resolve::ProjectIndex;
use nudge_compiler::rules::{self, ProjectDecls};
use nudge_compiler::span::{FileId, LineIndex};
use nudge_compiler::types;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Found {
    file: String,
    line: u32,
    column: u32,
    code: String,
    message: String,
    help: String,
}

#[derive(Debug, Clone)]
struct Expected {
    file: String,
    line: u32,
    column: u32,
    code: String,
    text: Option<String>,
}

/// Parses `// ^ CODE text` / `# ^ CODE text`: (caret column, code, text).
fn expectation(line: &str) -> Option<(u32, String, Option<String>)> {
    let trimmed = line.trim_start();
    let rest = trimmed
        .strip_prefix("//")
        .or_else(|| trimmed.strip_prefix('#'))?;
    let after_marker = rest.trim_start();
    let after_caret = after_marker.strip_prefix('^')?;
    let caret_byte = line.len() - after_marker.len();
    let column = line.get(..caret_byte)?.chars().count() as u32 + 1;
    let mut words = after_caret.trim().splitn(2, ' ');
    let code = words.next()?.to_string();
    Code::from_str_code(&code)?;
    let text = words
        .next()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    Some((column, code, text))
}

fn expectations(name: &str, text: &str) -> Vec<Expected> {
    let mut out = Vec::new();
    let mut target = 0u32;
    for (i, line) in text.lines().enumerate() {
        match expectation(line) {
            Some((column, code, text)) => out.push(Expected {
                file: name.to_string(),
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

struct Source {
    name: String,
    text: String,
}

struct Case {
    sources: Vec<Source>,
    manifest: Option<Source>,
    root: PathBuf,
}

fn run_case(case: &Case, owned: fn(Code) -> bool) -> Result<(), String> {
    let stdlib: Vec<Source> = nudge_stdlib::FILES
        .iter()
        .map(|(name, text)| Source {
            name: (*name).to_string(),
            text: (*text).to_string(),
        })
        .collect();
    let all: Vec<&Source> = stdlib.iter().chain(case.sources.iter()).collect();
    let mut parsed = Vec::new();
    let mut problems = String::new();
    for (i, src) in all.iter().enumerate() {
        let p = parser::parse_file(&src.text, FileId(i as u32));
        for d in &p.diagnostics {
            let _ = writeln!(
                problems,
                "{}: parse error {}: {}",
                src.name,
                d.code.as_str(),
                d.message
            );
        }
        parsed.push(p.file);
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let manifest_id = FileId(all.len() as u32);
    let mut diagnostics: Vec<Diagnostic> = Vec::new();
    let manifest = match &case.manifest {
        Some(m) => {
            let (manifest, d) = Manifest::parse(&m.text, manifest_id);
            diagnostics.extend(d);
            manifest
        }
        None => Manifest::default(),
    };
    let files: Vec<(FileId, &ast::File)> = parsed
        .iter()
        .enumerate()
        .map(|(i, f)| (FileId(i as u32), f))
        .collect();
    let project = ProjectDecls::from_files(&files);
    let (policy, d) = Policy::collect_files(&manifest, &files);
    diagnostics.extend(d);
    let (index, d) = ProjectIndex::build(&files);
    diagnostics.extend(d);

    // Template files referenced with `file "..."`, relative to the case root.
    let mut template_files: HashMap<String, ast::Text> = HashMap::new();
    for (_, f) in &files {
        for item in &f.items {
            if let ast::Item::Template(t) = item {
                for part in &t.parts {
                    if let ast::TemplateSource::File(path) = &part.value
                        && let Ok(text) = std::fs::read_to_string(case.root.join(&path.value))
                    {
                        let (text, _) = parser::parse_template_text(&text, FileId(u32::MAX));
                        template_files.insert(path.value.clone(), text);
                    }
                }
            }
        }
    }
    let lookup = |p: &str| template_files.get(p);
    let flow_facts = types::FlowFacts::collect(&files);
    let test_names = types::TestNames::collect(&files);
    for (id, f) in files.iter().skip(stdlib.len()) {
        diagnostics.extend(types::check_file(&index, *id, f, &lookup));
        diagnostics.extend(types::check_tests(
            &index,
            &flow_facts,
            &test_names,
            &policy,
            *id,
            f,
        ));
        diagnostics.extend(rules::check_file_with(&project, *id, f, &lookup));
        diagnostics.extend(lint::lint_file_with(
            &project, &policy, &manifest, *id, f, &lookup,
        ));
    }

    let source_of = |id: FileId| -> Option<&Source> {
        if id == manifest_id {
            case.manifest.as_ref()
        } else {
            all.get(id.0 as usize).copied()
        }
    };
    let mut found = Vec::new();
    for d in diagnostics.iter().filter(|d| owned(d.code)) {
        let Some(src) = source_of(d.primary.file) else {
            return Err(format!("diagnostic in an unknown file: {d:?}"));
        };
        let (line, column) = LineIndex::new(&src.text).line_col(&src.text, d.primary.span.start);
        assert!(
            d.help.is_some(),
            "{} has no help line: {}",
            d.code.as_str(),
            d.message
        );
        found.push(Found {
            file: src.name.clone(),
            line,
            column,
            code: d.code.as_str().to_string(),
            message: d.message.clone(),
            help: d.help.clone().unwrap_or_default(),
        });
    }
    found.sort();
    let mut expected: Vec<Expected> = case
        .sources
        .iter()
        .chain(case.manifest.iter())
        .flat_map(|s| expectations(&s.name, &s.text))
        .filter(|e| Code::from_str_code(&e.code).is_some_and(owned))
        .collect();

    let mut unmatched_found = Vec::new();
    for f in found {
        let hit = expected.iter().position(|e| {
            e.file == f.file
                && e.line == f.line
                && e.column == f.column
                && e.code == f.code
                && e.text
                    .as_ref()
                    .is_none_or(|t| f.message.contains(t.as_str()) || f.help.contains(t.as_str()))
        });
        match hit {
            Some(i) => {
                expected.remove(i);
            }
            None => unmatched_found.push(f),
        }
    }
    if unmatched_found.is_empty() && expected.is_empty() {
        return Ok(());
    }
    let mut report = String::new();
    for f in &unmatched_found {
        let _ = writeln!(
            report,
            "  unexpected {}:{}:{} {} {}",
            f.file, f.line, f.column, f.code, f.message
        );
    }
    for e in &expected {
        let _ = writeln!(
            report,
            "  missing    {}:{}:{} {} {}",
            e.file,
            e.line,
            e.column,
            e.code,
            e.text.as_deref().unwrap_or("")
        );
    }
    Err(report)
}

fn read(path: &Path, name: String) -> Source {
    Source {
        name,
        text: std::fs::read_to_string(path).unwrap_or_default(),
    }
}

fn collect_cases(dir: &Path, out: &mut Vec<(String, Case)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        let label = path.display().to_string();
        if path.is_dir() {
            let manifest = path.join("nudge.toml");
            if !manifest.exists() {
                collect_cases(&path, out);
                continue;
            }
            let mut sources = Vec::new();
            let mut stack = vec![path.clone()];
            while let Some(d) = stack.pop() {
                let Ok(es) = std::fs::read_dir(&d) else {
                    continue;
                };
                let mut es: Vec<PathBuf> = es.filter_map(|e| e.ok().map(|e| e.path())).collect();
                es.sort();
                for p in es {
                    if p.is_dir() {
                        stack.push(p);
                    } else if p.extension().is_some_and(|e| e == "flow") {
                        let name = p.display().to_string();
                        sources.push(read(&p, name));
                    }
                }
            }
            let case = Case {
                sources,
                manifest: Some(read(&manifest, manifest.display().to_string())),
                root: path.clone(),
            };
            out.push((label, case));
        } else if path.extension().is_some_and(|e| e == "flow") {
            let case = Case {
                sources: vec![read(&path, label.clone())],
                manifest: None,
                root: dir.to_path_buf(),
            };
            out.push((label, case));
        }
    }
}
/// Runs every case under `tests/cases/<dir>` for each of `dirs`, comparing
/// the codes `owned` selects; panics with a report of every failure.
pub fn run_dirs(dirs: &[&str], owned: fn(Code) -> bool) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/cases");
    let mut cases = Vec::new();
    for dir in dirs {
        collect_cases(&root.join(dir), &mut cases);
    }
    assert!(cases.len() >= 8, "cases not found under {}", root.display());
    let mut failures = String::new();
    for (label, case) in &cases {
        if let Err(report) = run_case(case, owned) {
            let _ = writeln!(failures, "{label}:\n{report}");
        }
    }
    assert!(failures.is_empty(), "\n{failures}");
}

/// Every code expected somewhere under `tests/cases/<dir>` for `dirs`
/// (sources and manifests).
pub fn expected_codes(dirs: &[&str]) -> std::collections::HashSet<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/cases");
    let mut cases = Vec::new();
    for dir in dirs {
        collect_cases(&root.join(dir), &mut cases);
    }
    let mut seen = std::collections::HashSet::new();
    for (_, case) in &cases {
        for s in case.sources.iter().chain(case.manifest.iter()) {
            for e in expectations(&s.name, &s.text) {
                seen.insert(e.code);
            }
        }
    }
    seen
}
