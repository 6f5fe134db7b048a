//! SMS lints: W0002 (marketing SMS without opt-out wording) and W0003 (body
//! longer than one segment).
//!
//! W0003 measures the body as the runtime would send it, with each `{{ }}`
//! hole replaced by an estimate of its rendered length:
//! - `shop.name` / `shop.url`: their length in `nudge.toml` when set;
//! - a string literal: its own length; `a ?? b`: the longer estimate;
//! - filters: `short_link` 23 characters (a typical short link,
//!   `https://nudge.link/Ab3dE`), `truncate(n)` n, `money` 9 (`$1,234.56`),
//!   `date` 12 (`Dec 24, 2026`), `count` 2; `upper`/`lower`/`title`/`default`
//!   keep the estimate of what they filter;
//! - any other hole: 10 characters.
//!
//! Holes are assumed to render GSM-7 text, so only literal text can switch
//! the body to UCS-2. `{% if %}` counts its longest branch (the empty
//! branch when there is no `else`), `{% for %}` counts its body once.
//! The message says "about N segments", since holes are estimates.

use crate::ast::{self, Expr, ExprKind, Hole, Lit, TemplateDecl, Text, TextNode};
use crate::diagnostic::{Code, Diagnostic};
use crate::manifest::Manifest;
use crate::rules::{self, TemplateTextLookup};
use crate::span::{FileId, Span};
use nudge_stdlib::sms::{Encoding, SmsCounter, SmsMeasure};

/// Estimated rendered length of a hole without a known size.
pub const DEFAULT_HOLE_CHARS: usize = 10;
pub const SHORT_LINK_CHARS: usize = 23;
const MONEY_CHARS: usize = 9;
const DATE_CHARS: usize = 12;
const COUNT_CHARS: usize = 2;

/// One piece of an SMS body: literal text or an estimated hole.
#[derive(Debug, Clone)]
enum Piece<'a> {
    Text(&'a str),
    Hole(usize),
}

fn expr_estimate(e: &Expr, manifest: &Manifest) -> usize {
    match &rules::strip_parens(e).kind {
        ExprKind::Str(text) => text
            .as_plain()
            .map_or(DEFAULT_HOLE_CHARS, |s| s.chars().count()),
        ExprKind::Lit(Lit::Int(n)) => n.to_string().len(),
        ExprKind::Field { base, field } => {
            let shop =
                matches!(&rules::strip_parens(base).kind, ExprKind::Name(n) if n.name == "shop");
            let known = match (shop, field.name.as_str()) {
                (true, "name") => manifest.shop.name.as_deref(),
                (true, "url") => manifest.shop.url.as_deref(),
                _ => None,
            };
            known.map_or(DEFAULT_HOLE_CHARS, |s| s.chars().count())
        }
        ExprKind::Binary {
            op: ast::BinaryOp::Default,
            lhs,
            rhs,
            ..
        } => expr_estimate(lhs, manifest).max(expr_estimate(rhs, manifest)),
        _ => DEFAULT_HOLE_CHARS,
    }
}

fn hole_estimate(hole: &Hole, manifest: &Manifest) -> usize {
    let mut chars = expr_estimate(&hole.expr, manifest);
    for filter in &hole.filters {
        chars = match filter.name.name.as_str() {
            "short_link" => SHORT_LINK_CHARS,
            "money" => MONEY_CHARS,
            "date" => DATE_CHARS,
            "count" => COUNT_CHARS,
            "truncate" => match filter.args.first().map(|a| &rules::strip_parens(a).kind) {
                Some(ExprKind::Lit(Lit::Int(n))) => chars.min(usize::try_from(*n).unwrap_or(0)),
                _ => chars,
            },
            "default" => {
                let fallback = filter
                    .args
                    .first()
                    .map_or(0, |a| expr_estimate(a, manifest));
                chars.max(fallback)
            }
            _ => chars,
        };
    }
    chars
}

/// Flattens template text to pieces, choosing the longest branch of each
/// `{% if %}`.
fn pieces<'a>(text: &'a Text, manifest: &Manifest, out: &mut Vec<Piece<'a>>) {
    for node in &text.nodes {
        match node {
            TextNode::Literal(s, _) => out.push(Piece::Text(s)),
            TextNode::Hole(h) => out.push(Piece::Hole(hole_estimate(h, manifest))),
            TextNode::If {
                branches,
                else_branch,
                ..
            } => {
                let mut best: Option<(SmsMeasure, Vec<Piece<'a>>)> = None;
                let alternatives = branches
                    .iter()
                    .map(|(_, t)| Some(t))
                    .chain(std::iter::once(else_branch.as_ref()));
                for alt in alternatives {
                    let mut alt_pieces = Vec::new();
                    if let Some(t) = alt {
                        pieces(t, manifest, &mut alt_pieces);
                    }
                    let m = measure(&alt_pieces);
                    let longer = best.as_ref().is_none_or(|(b, _)| {
                        (m.encoding == Encoding::Ucs2, m.units)
                            > (b.encoding == Encoding::Ucs2, b.units)
                    });
                    if longer {
                        best = Some((m, alt_pieces));
                    }
                }
                if let Some((_, p)) = best {
                    out.extend(p);
                }
            }
            TextNode::For { body, .. } => pieces(body, manifest, out),
            TextNode::Error(_) => {}
        }
    }
}

fn measure(pieces: &[Piece<'_>]) -> SmsMeasure {
    let mut counter = SmsCounter::new();
    for p in pieces {
        match p {
            Piece::Text(s) => counter.push_text(s),
            Piece::Hole(n) => counter.push_placeholder(*n),
        }
    }
    counter.finish()
}

fn body_parts(t: &TemplateDecl) -> impl Iterator<Item = &ast::TemplatePart> {
    t.parts.iter().filter(|p| p.key.name == "body")
}

/// W0003: the body is estimated to need more than one segment.
pub(super) fn segments(
    file: FileId,
    t: &TemplateDecl,
    manifest: &Manifest,
    template_text: &TemplateTextLookup<'_>,
    out: &mut Vec<Diagnostic>,
) {
    for part in body_parts(t) {
        let Some(text) = rules::part_text(&part.value, template_text) else {
            continue;
        };
        let mut ps = Vec::new();
        pieces(text, manifest, &mut ps);
        let m = measure(&ps);
        if m.segments <= 1 {
            continue;
        }
        let why = match m.first_non_gsm {
            Some((c, _)) => format!(
                "UCS-2 because of '{c}' (U+{:04X}), {} units; 70 fit in one part, 67 per part when split",
                u32::from(c),
                m.units
            ),
            None => format!(
                "GSM-7, {} characters; 160 fit in one part, 153 per part when split",
                m.units
            ),
        };
        let help = match m.first_non_gsm {
            Some((c, _)) => format!(
                "replace '{c}' with a GSM-7 character to fit 160 characters per part, or shorten the text"
            ),
            None => {
                "shorten the text; every extra segment is billed as a separate message".to_string()
            }
        };
        let span = match &part.value {
            ast::TemplateSource::Inline(text) => text.span,
            ast::TemplateSource::File(path) => path.span,
        };
        out.push(
            Diagnostic::new(
                Code::SmsSegments,
                file,
                span,
                format!(
                    "SMS `{}` is about {} segments ({why})",
                    t.name.name, m.segments
                ),
            )
            .with_help(help),
        );
    }
}

/// The literal text of a template, all branches included (lower-cased).
fn literal_text(text: &Text, out: &mut String) {
    for node in &text.nodes {
        match node {
            TextNode::Literal(s, _) => {
                out.push_str(&s.to_lowercase());
                out.push(' ');
            }
            TextNode::If {
                branches,
                else_branch,
                ..
            } => {
                for (_, t) in branches {
                    literal_text(t, out);
                }
                if let Some(t) = else_branch {
                    literal_text(t, out);
                }
            }
            TextNode::For { body, .. } => literal_text(body, out),
            TextNode::Hole(h) => {
                // `{{ "Reply STOP" }}` still renders the words.
                if let ExprKind::Str(t) = &rules::strip_parens(&h.expr).kind {
                    literal_text(t, out);
                }
            }
            TextNode::Error(_) => {}
        }
    }
}

/// True if the text tells the reader how to opt out: the word "stop" (any
/// case, as a whole word), "opt out" / "opt-out", or "unsubscribe".
pub fn has_opt_out_wording(text: &Text) -> bool {
    let mut lower = String::new();
    literal_text(text, &mut lower);
    let has_word = |word: &str| {
        lower.match_indices(word).any(|(i, _)| {
            let before = lower.get(..i).and_then(|s| s.chars().next_back());
            let after = lower.get(i + word.len()..).and_then(|s| s.chars().next());
            !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
        })
    };
    has_word("stop") || has_word("opt out") || has_word("opt-out") || has_word("unsubscribe")
}

/// W0002: a marketing SMS body without opt-out wording.
pub(super) fn opt_out(
    file: FileId,
    t: &TemplateDecl,
    template_text: &TemplateTextLookup<'_>,
    send_file: FileId,
    send_span: Span,
    out: &mut Vec<Diagnostic>,
) {
    for part in body_parts(t) {
        let Some(text) = rules::part_text(&part.value, template_text) else {
            continue;
        };
        if has_opt_out_wording(text) {
            continue;
        }
        out.push(
            Diagnostic::new(
                Code::SmsWithoutOptOut,
                file,
                part.key.span,
                format!(
                    "marketing SMS `{}` does not tell the reader how to opt out",
                    t.name.name
                ),
            )
            .with_secondary(send_file, send_span, "sent by a marketing flow here")
            .with_help("add opt-out wording such as \"Reply STOP to opt out\""),
        );
    }
}
