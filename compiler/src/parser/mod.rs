//! The recovering parser: lexer tokens → [`ast::File`], built with chumsky.
//!
//! Parsing never fails. Broken text becomes `Error` nodes (items, settings,
//! steps, expressions, template nodes) with one diagnostic each, and
//! everything after a mistake is still parsed. Recovery happens at three
//! levels: items (skip to the next item keyword at a line start), statements
//! inside blocks (skip to the end of the statement, brackets balanced), and
//! holes/tags inside template text (skip to `}}` / `%}`).
//!
//! Files: `tokens` (token-level parsers and skippers), `error` (the error
//! value and its diagnostic), `expr`, `text` (template text), `items`,
//! `flow`, `policy`, `test_block` (`test` blocks).

// Parse errors are built for every failed alternative and returned by
// value; boxing them would allocate on that hot path (measured: allocation
// was a third of parse time), so their size is accepted.
#![allow(clippy::result_large_err)]

mod error;
mod expr;
mod flow;
mod items;
mod policy;
mod test_block;
mod text;
mod tokens;

use crate::ast;
use crate::diagnostic::{Code, Diagnostic};
use crate::lexer::{self, Tok, Token};
use crate::span::{FileId, Span};
use chumsky::Parser;

/// Deepest nesting of brackets, blocks and unary operators accepted; deeper
/// text is reported (E0006) instead of risking the stack.
pub const MAX_DEPTH: usize = 256;

/// A parsed file and every syntax diagnostic (lexer and parser), in source
/// order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub file: ast::File,
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses a `.flow` file.
pub fn parse_file(text: &str, file: FileId) -> Parsed {
    let (toks, mut diagnostics) = lexer::lex(text, file);
    let toks = limit_depth(text, toks, file, &mut diagnostics);
    let toks = tokens::prepare(text, toks);
    let eof = text.len();
    let (out, errors) = items::file(expr::expr())
        .parse(tokens::input(&toks, eof))
        .into_output_errors();
    add_errors(&mut diagnostics, errors, file, &toks);
    sort(&mut diagnostics);
    Parsed {
        file: out.unwrap_or_default(),
        diagnostics,
    }
}

/// Parses the contents of a template file (`html file "x.html"`): literal
/// text with `{{ }}` holes and `{% %}` tags.
pub fn parse_template_text(text: &str, file: FileId) -> (ast::Text, Vec<Diagnostic>) {
    let (toks, mut diagnostics) = lexer::lex_template_text(text, file);
    let toks = limit_depth(text, toks, file, &mut diagnostics);
    let toks = tokens::prepare(text, toks);
    let eof = text.len();
    let whole = Span::from(0..eof);
    let parser = text::file_text(expr::expr(), whole).then_ignore(chumsky::prelude::end());
    let (out, errors) = parser.parse(tokens::input(&toks, eof)).into_output_errors();
    add_errors(&mut diagnostics, errors, file, &toks);
    sort(&mut diagnostics);
    let text = out.unwrap_or(ast::Text {
        nodes: vec![ast::TextNode::Error(whole)],
        span: whole,
    });
    (text, diagnostics)
}

fn add_errors(
    out: &mut Vec<Diagnostic>,
    errors: Vec<error::ParseError>,
    file: FileId,
    toks: &[(tokens::Tk<'_>, chumsky::span::SimpleSpan)],
) {
    // An error at the end of input points just after the last token.
    let end = toks.last().map_or(0, |t| t.0.span.end);
    let eof = Span::new(end, end);
    for e in errors {
        let at = e.span.and_then(|s| {
            let i = toks.partition_point(|t| t.0.span.start < s.start);
            toks.get(i).filter(|t| t.0.span == s).map(|t| (i, &t.0))
        });
        let found = at.map(|(_, t)| &t.tok);
        // The lexer (or the nesting check) already reported this token.
        if e.custom.is_none() && found == Some(&Tok::Error) {
            continue;
        }
        let line_end = at.and_then(|(i, t)| {
            let prev = &toks.get(i.checked_sub(1)?)?.0;
            t.nl.then(|| Span::new(prev.span.end, prev.span.end))
        });
        let d = e.into_diagnostic(file, eof, found, line_end);
        // Two recovery levels may see the same broken token; say it once.
        if !out
            .iter()
            .any(|o| o.code == d.code && o.primary.span == d.primary.span)
        {
            out.push(d);
        }
    }
}

fn sort(d: &mut [Diagnostic]) {
    d.sort_by_key(|d| (d.primary.span.start, d.primary.span.end));
}

fn opens(t: &Tok<'_>) -> bool {
    matches!(
        t,
        Tok::LParen | Tok::LBracket | Tok::LBrace | Tok::HoleOpen | Tok::TagOpen | Tok::StrStart
    )
}

fn closes(t: &Tok<'_>) -> bool {
    matches!(
        t,
        Tok::RParen | Tok::RBracket | Tok::RBrace | Tok::HoleClose | Tok::TagClose | Tok::StrEnd
    )
}

/// Longest run of prefix operators (`not`, `-`) accepted.
const MAX_UNARY: usize = 64;

fn too_deep(file: FileId, span: Span, limit: usize) -> Diagnostic {
    Diagnostic::new(
        Code::NestingTooDeep,
        file,
        span,
        format!("this is nested more than {limit} levels deep"),
    )
    .with_label("too deep")
    .with_help("split it into smaller parts (named segments, simpler expressions)")
}

/// Replaces text nested deeper than [`MAX_DEPTH`] (brackets, or a run of
/// unary operators) with one `Tok::Error` token and reports it once, so the
/// parser's recursion stays bounded and the rest of the file still parses.
fn limit_depth<'a>(
    src: &str,
    toks: Vec<Token<'a>>,
    file: FileId,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Token<'a>> {
    let mut out: Vec<Token<'a>> = Vec::with_capacity(toks.len());
    let mut depth = 0usize;
    let mut unary_run = 0usize;
    let mut iter = toks.into_iter().peekable();
    let mut prev_end = 0usize;
    while let Some((t, span)) = iter.next() {
        // Brackets left open by a broken item do not count against the
        // next one: depth restarts at each item keyword on a new line.
        let gap = src
            .as_bytes()
            .get(prev_end.min(span.start as usize)..span.start as usize)
            .unwrap_or(&[]);
        if (prev_end == 0 || gap.contains(&b'\n'))
            && tokens::starts_item(&t, iter.peek().map(|(n, _)| n))
        {
            depth = 0;
        }
        prev_end = span.end as usize;
        let unary = matches!(t, Tok::Minus | Tok::Not);
        if unary && unary_run >= MAX_UNARY {
            // Drop the excess operators of a long run; report the run once.
            let mut end = span;
            while let Some((Tok::Minus | Tok::Not, s2)) = iter.peek() {
                end = *s2;
                iter.next();
            }
            diags.push(too_deep(file, span.to(end), MAX_UNARY));
            continue;
        }
        if opens(&t) && depth >= MAX_DEPTH {
            // Replace the too-deep group, up to its matching closer, with
            // one error token.
            let mut end = span;
            let mut d = 1usize;
            for (t2, s2) in iter.by_ref() {
                end = s2;
                if opens(&t2) {
                    d += 1;
                } else if closes(&t2) {
                    d -= 1;
                    if d == 0 {
                        break;
                    }
                }
            }
            diags.push(too_deep(file, span, MAX_DEPTH));
            unary_run = 0;
            out.push((Tok::Error, span.to(end)));
            continue;
        }
        unary_run = if unary { unary_run + 1 } else { 0 };
        if opens(&t) {
            depth += 1;
        } else if closes(&t) {
            depth = depth.saturating_sub(1);
        }
        out.push((t, span));
    }
    out
}

#[cfg(test)]
mod tests;
