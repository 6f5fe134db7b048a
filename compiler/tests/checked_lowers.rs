//! What the checker accepts, lowering can compile: the shop example, with
//! one word replaced by another (a name, a literal, a keyword-like word), is
//! either rejected by the front end (syntax, names, types, structural
//! rules) or lowered to a bundle without a `LowerError`. A lowering error on
//! accepted input is a gap in the checker.

// A failing property reports by panicking.
#![allow(clippy::panic)]

use nudge_compiler::ast::{self, Item, TemplateSource};
use nudge_compiler::diagnostic::Diagnostic;
use nudge_compiler::lower::{LowerInput, lower_project};
use nudge_compiler::manifest::Manifest;
use nudge_compiler::parser;
use nudge_compiler::policy::Policy;
use nudge_compiler::resolve::ProjectIndex;
use nudge_compiler::rules::{self, ProjectDecls};
use nudge_compiler::span::FileId;
use nudge_compiler::types;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

/// Words put in place of another: names that exist somewhere, names that
/// do not, literals of several types, `none`.
const WORDS: &[&str] = &[
    "none",
    "now",
    "profile",
    "shop",
    "it",
    "1d",
    "5 USD",
    "10%",
    "\"x\"",
    "true",
    "3",
    "first_name",
    "products",
    "revenue",
    "price",
    "value",
    "count",
    "sum",
    "any",
    "map",
    "first",
    "vip",
    "p",
    "order",
    "checkout",
    "unsubscribe_url",
    "sms_consent",
    "birthday",
    "created_at",
    "checkout_url",
    "upper",
    "money",
    "date",
];

struct Example {
    flows: Vec<String>,
    templates: BTreeMap<String, ast::Text>,
}

fn example() -> &'static Example {
    static EXAMPLE: std::sync::OnceLock<Example> = std::sync::OnceLock::new();
    EXAMPLE.get_or_init(load_example)
}

fn load_example() -> Example {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/shop");
    let mut paths: Vec<_> = std::fs::read_dir(root.join("flows"))
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    paths.sort();
    let flows: Vec<String> = paths
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "flow"))
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .collect();
    let mut templates = BTreeMap::new();
    for src in &flows {
        let parsed = parser::parse_file(src, FileId(0));
        for item in &parsed.file.items {
            if let Item::Template(t) = item {
                for part in &t.parts {
                    if let TemplateSource::File(path) = &part.value
                        && let Ok(text) = std::fs::read_to_string(root.join(&path.value))
                    {
                        let (text, _) = parser::parse_template_text(&text, FileId(u32::MAX));
                        templates.insert(path.value.clone(), text);
                    }
                }
            }
        }
    }
    Example { flows, templates }
}

/// The front end's errors for the project, or the lowering result.
fn run(ex: &Example, flows: &[String]) -> Result<(), String> {
    let mut parsed: Vec<ast::File> = Vec::new();
    let mut texts: Vec<&str> = nudge_stdlib::FILES.iter().map(|(_, t)| *t).collect();
    texts.extend(flows.iter().map(String::as_str));
    for (i, text) in texts.iter().enumerate() {
        let p = parser::parse_file(text, FileId(i as u32));
        if !p.diagnostics.is_empty() {
            return Ok(());
        }
        parsed.push(p.file);
    }
    let files: Vec<(FileId, &ast::File)> = parsed
        .iter()
        .enumerate()
        .map(|(i, f)| (FileId(i as u32), f))
        .collect();
    let lookup = |p: &str| ex.templates.get(p);
    let (index, mut diagnostics) = ProjectIndex::build(&files);
    let decls = ProjectDecls::from_files(&files);
    let manifest = Manifest::default();
    let (policy, d) = Policy::collect_files(&manifest, &files);
    diagnostics.extend(d);
    for (id, f) in files.iter().skip(nudge_stdlib::FILES.len()) {
        diagnostics.extend(types::check_file(&index, *id, f, &lookup));
        diagnostics.extend(rules::check_file_with(&decls, *id, f, &lookup));
    }
    if diagnostics.iter().any(Diagnostic::is_error) {
        return Ok(());
    }
    // A template file that is not there is E0007 (the project database's).
    for (_, f) in files.iter().skip(nudge_stdlib::FILES.len()) {
        for item in &f.items {
            if let Item::Template(t) = item
                && t.parts.iter().any(|part| {
                    matches!(&part.value, TemplateSource::File(p) if !ex.templates.contains_key(&p.value))
                })
            {
                return Ok(());
            }
        }
    }
    let refs: Vec<&ast::File> = parsed.iter().collect();
    let input = LowerInput {
        files: &refs,
        template_files: &ex.templates,
        policy: &policy,
        shop: &manifest.shop,
    };
    lower_project(&input).map(|_| ()).map_err(|e| e.to_string())
}

/// Byte ranges of the words (identifier-like runs) of a source.
fn words(src: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in src.char_indices() {
        let word = c.is_ascii_alphanumeric() || c == '_';
        match (word, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, src.len()));
    }
    out
}

#[test]
fn the_example_as_it_is_checks_and_lowers() {
    let ex = example();
    assert!(ex.flows.len() >= 5, "examples/shop/flows not found");
    assert_eq!(run(ex, &ex.flows), Ok(()));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(std::env::var("CHECKED_LOWERS_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(128)))]

    #[test]
    fn accepted_mutants_lower(file in 0usize..16, word in 0usize..10_000, with in 0usize..WORDS.len()) {
        let ex = example();
        let n = ex.flows.len().max(1);
        let mut flows = ex.flows.clone();
        let Some(src) = flows.get(file % n).cloned() else { return Ok(()) };
        let ws = words(&src);
        if ws.is_empty() {
            return Ok(());
        }
        let (a, b) = ws[word % ws.len()];
        let mutated = format!("{}{}{}", &src[..a], WORDS[with], &src[b..]);
        if let Some(slot) = flows.get_mut(file % n) {
            *slot = mutated.clone();
        }
        if let Err(e) = run(ex, &flows) {
            let line_start = mutated[..a].rfind('\n').map_or(0, |i| i + 1);
            let line_end = mutated[a..].find('\n').map_or(mutated.len(), |i| a + i);
            panic!(
                "accepted by the checker but not lowered: {e}\n  `{}` replaced by `{}` in:\n  {}",
                &src[a..b],
                WORDS[with],
                &mutated[line_start..line_end]
            );
        }
    }
}

/// Operators put in place of another.
const OPERATORS: &[&str] = &[
    "==", "!=", ">=", "<=", " < ", " > ", "??", "?.", ".", " + ", " - ", " * ", " / ", " and ",
    " or ", " in ",
];

/// Byte ranges of the operators of a source (outside nothing: strings
/// included, which only makes some mutants plain text).
fn operators(src: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for op in OPERATORS {
        let mut from = 0;
        while let Some(i) = src.get(from..).and_then(|s| s.find(op)) {
            out.push((from + i, from + i + op.len()));
            from += i + op.len();
        }
    }
    out.sort();
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(std::env::var("CHECKED_LOWERS_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(128)))]

    #[test]
    fn accepted_operator_mutants_lower(file in 0usize..16, at in 0usize..10_000, with in 0usize..OPERATORS.len()) {
        let ex = example();
        let n = ex.flows.len().max(1);
        let mut flows = ex.flows.clone();
        let Some(src) = flows.get(file % n).cloned() else { return Ok(()) };
        let ops = operators(&src);
        if ops.is_empty() {
            return Ok(());
        }
        let (a, b) = ops[at % ops.len()];
        let mutated = format!("{}{}{}", &src[..a], OPERATORS[with], &src[b..]);
        if let Some(slot) = flows.get_mut(file % n) {
            *slot = mutated.clone();
        }
        if let Err(e) = run(ex, &flows) {
            let line_start = mutated[..a].rfind('\n').map_or(0, |i| i + 1);
            let line_end = mutated[a..].find('\n').map_or(mutated.len(), |i| a + i);
            panic!(
                "accepted by the checker but not lowered: {e}\n  `{}` replaced by `{}` in:\n  {}",
                &src[a..b],
                OPERATORS[with],
                &mutated[line_start..line_end]
            );
        }
    }
}
