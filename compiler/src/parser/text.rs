//! Template text: the inside of a string literal or a template file, as
//! literal runs, `{{ expr | filter(arg) }}` holes and `{% %}` tags. Tags are
//! parsed flat first, then [`build_tree`] nests `if`/`else if`/`else`/`endif`
//! and `for`/`endfor`, reporting unbalanced tags once each (E0009).

use super::error::{Custom, Expected, ParseError};
use super::expr::ExprP;
use super::tokens::{Ex, In, Inp, Tk, comma, ident, kw, lparen, rparen, sp, tok};
use crate::ast::{Expr, FilterCall, Hole, Ident, Text, TextNode};
use crate::diagnostic::{Code, did_you_mean};
use crate::lexer::Tok;
use crate::span::Span;
use chumsky::prelude::*;

/// One flat piece of template text before tags are nested.
#[derive(Debug, Clone)]
pub(crate) enum Piece {
    Node(TextNode),
    Tag(Tag, Span),
}

#[derive(Debug, Clone)]
pub(crate) enum Tag {
    If(Expr),
    ElseIf(Expr),
    Else,
    EndIf,
    For(Ident, Expr),
    EndFor,
}

const TAG_WORDS: &[&str] = &["if", "else", "endif", "for", "endfor"];

/// A string literal: `StrStart pieces StrEnd` → [`Text`] spanning the quotes.
pub(crate) fn string_text<'a>(expr: ExprP<'a>) -> impl Parser<'a, In<'a>, Text, Ex<'a>> + Clone {
    tok(Tok::StrStart, "\"")
        .labelled(Expected::Thing("a string"))
        .then(pieces(expr))
        .then(tok(Tok::StrEnd, "\""))
        .validate(|((open, pieces), close), _, emitter| {
            let (nodes, errors) = build_tree(pieces, open.to(close));
            for e in errors {
                emitter.emit(e);
            }
            Text {
                nodes,
                span: open.to(close),
            }
        })
}

/// A whole template file (no quotes around it).
pub(crate) fn file_text<'a>(
    expr: ExprP<'a>,
    whole: Span,
) -> impl Parser<'a, In<'a>, Text, Ex<'a>> + Clone {
    pieces(expr).validate(move |pieces, _, emitter| {
        let (nodes, errors) = build_tree(pieces, whole);
        for e in errors {
            emitter.emit(e);
        }
        Text { nodes, span: whole }
    })
}

fn pieces<'a>(expr: ExprP<'a>) -> impl Parser<'a, In<'a>, Vec<Piece>, Ex<'a>> + Clone {
    let literal = custom(|inp: &mut Inp<'a, '_>| match inp.peek_ref() {
        Some(Tk {
            tok: Tok::Text(s),
            span,
            ..
        }) => {
            let node = TextNode::Literal(s.clone(), *span);
            let _ = inp.next_ref();
            Ok(Piece::Node(node))
        }
        other => Err(ParseError::expected(Expected::Thing("text"), other)),
    });

    let filter = tok(Tok::Pipe, "|")
        .ignore_then(ident())
        .then(
            expr.clone()
                .separated_by(comma())
                .allow_trailing()
                .collect::<Vec<_>>()
                .delimited_by(lparen(), rparen())
                .or_not(),
        )
        .map_with(|(name, args), e| FilterCall {
            name,
            args: args.unwrap_or_default(),
            span: sp(e.span()),
        });

    let hole_body = expr
        .clone()
        .then(filter.repeated().collect::<Vec<_>>())
        .then_ignore(tok(Tok::HoleClose, "}}"))
        .map(Some)
        .map_err(|e: ParseError| {
            e.with_help("a hole holds one expression, then filters: `{{ c.total | money }}`")
        })
        .recover_with(via_parser(skip_through(Tok::HoleClose)));
    let hole = tok(Tok::HoleOpen, "{{")
        .then(hole_body)
        .map_with(|(_, body), e| {
            let span = sp(e.span());
            match body {
                Some((expr, filters)) => Piece::Node(TextNode::Hole(Hole {
                    expr,
                    filters,
                    span,
                })),
                None => Piece::Node(TextNode::Error(span)),
            }
        });

    let tag_kind = choice((
        kw("if").ignore_then(expr.clone()).map(Tag::If),
        kw("else")
            .ignore_then(kw("if").ignore_then(expr.clone()).or_not())
            .map(|c| match c {
                Some(c) => Tag::ElseIf(c),
                None => Tag::Else,
            }),
        kw("endif").to(Tag::EndIf),
        kw("for")
            .ignore_then(ident())
            .then_ignore(tok(Tok::In, "in"))
            .then(expr.clone())
            .map(|(b, it)| Tag::For(b, it)),
        kw("endfor").to(Tag::EndFor),
    ));
    let tag_body = tag_kind
        .then_ignore(tok(Tok::TagClose, "%}"))
        .map(Some)
        .or(bad_tag())
        .recover_with(via_parser(skip_through(Tok::TagClose)));
    let tag = tok(Tok::TagOpen, "{%")
        .then(tag_body)
        .map_with(|(_, t), e| {
            let span = sp(e.span());
            match t {
                Some(t) => Piece::Tag(t, span),
                None => Piece::Node(TextNode::Error(span)),
            }
        });

    choice((literal, hole, tag)).repeated().collect::<Vec<_>>()
}

/// A tag whose first word is not a tag keyword: one diagnostic, skipped.
fn bad_tag<'a, O: 'a>() -> impl Parser<'a, In<'a>, Option<O>, Ex<'a>> + Clone {
    custom(|inp: &mut Inp<'a, '_>| {
        let Some(first) = inp.peek_ref() else {
            return Err(ParseError::expected(Expected::Thing("a tag"), None));
        };
        if matches!(
            first.tok,
            Tok::Ident("if" | "else" | "endif" | "for" | "endfor")
        ) {
            // A known tag that failed further in: let recovery report where.
            return Err(ParseError::expected(Expected::Thing("a tag"), Some(first)));
        }
        let span = first.span;
        let found = super::error::describe_found(Some(&first.tok));
        let silent = first.tok == Tok::Error;
        let suggestion = match &first.tok {
            Tok::Ident(w) => did_you_mean(w, TAG_WORDS.iter().copied()),
            _ => None,
        };
        skip_through_raw(inp, &Tok::TagClose);
        if !silent {
            inp.emit(ParseError::custom(Custom {
                code: Code::UnexpectedToken,
                secondary: None,
                span,
                message: format!(
                    "expected `if`, `else`, `endif`, `for` or `endfor` in a `{{% %}}` tag, found {found}"
                ),
                label: "unknown tag".into(),
                help: Some(match suggestion {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => "tags are `{% if c %}`, `{% else %}`, `{% endif %}`, `{% for x in xs %}` and `{% endfor %}`; use `{{ }}` to show a value".into(),
                }),
            }));
        }
        Ok(None)
    })
}

/// Skips to and through the closer of the current hole or tag (nested
/// strings and holes are balanced by the lexer).
fn skip_through<'a, O: 'a>(
    closer: Tok<'static>,
) -> impl Parser<'a, In<'a>, Option<O>, Ex<'a>> + Clone {
    custom(move |inp: &mut Inp<'a, '_>| {
        skip_through_raw(inp, &closer);
        Ok(None)
    })
}

fn skip_through_raw(inp: &mut Inp<'_, '_>, closer: &Tok<'static>) {
    let mut depth = 0usize;
    while let Some(t) = inp.peek_ref() {
        let tk = &t.tok;
        if depth == 0 && tk == closer {
            let _ = inp.next_ref();
            return;
        }
        // The enclosing string ends: the closer is missing (the lexer said so).
        if depth == 0 && *tk == Tok::StrEnd {
            return;
        }
        match tk {
            Tok::HoleOpen | Tok::TagOpen | Tok::StrStart => depth += 1,
            Tok::HoleClose | Tok::TagClose | Tok::StrEnd => depth = depth.saturating_sub(1),
            _ => {}
        }
        let _ = inp.next_ref();
    }
}

enum Frame {
    If {
        open: Span,
        branches: Vec<(Expr, Text)>,
        /// Condition of the branch being collected; `None` in `else`.
        cond: Option<Expr>,
        body_start: u32,
        nodes: Vec<TextNode>,
    },
    For {
        open: Span,
        binding: Ident,
        iterable: Expr,
        body_start: u32,
        nodes: Vec<TextNode>,
    },
}

impl Frame {
    fn nodes(&mut self) -> &mut Vec<TextNode> {
        match self {
            Frame::If { nodes, .. } | Frame::For { nodes, .. } => nodes,
        }
    }

    /// Closes this frame at `end` (the closing tag's span) into a node.
    fn close(self, end: Span) -> TextNode {
        match self {
            Frame::If {
                open,
                mut branches,
                cond,
                body_start,
                nodes,
            } => {
                let body = Text {
                    nodes,
                    span: Span::new(body_start, end.start.max(body_start)),
                };
                let else_branch = match cond {
                    Some(c) => {
                        branches.push((c, body));
                        None
                    }
                    None => Some(body),
                };
                TextNode::If {
                    branches,
                    else_branch,
                    span: open.to(end),
                }
            }
            Frame::For {
                open,
                binding,
                iterable,
                body_start,
                nodes,
            } => TextNode::For {
                binding,
                iterable,
                body: Text {
                    nodes,
                    span: Span::new(body_start, end.start.max(body_start)),
                },
                span: open.to(end),
            },
        }
    }
}

fn unbalanced(span: Span, message: String, label: &str, help: &str) -> ParseError {
    ParseError::custom(Custom {
        code: Code::UnbalancedTemplateTag,
        secondary: None,
        span,
        message,
        label: label.into(),
        help: Some(help.into()),
    })
}

/// Nests flat pieces into `if`/`for` nodes. Every unbalanced tag is reported
/// once; the text around it is kept.
pub(crate) fn build_tree(pieces: Vec<Piece>, whole: Span) -> (Vec<TextNode>, Vec<ParseError>) {
    let mut root: Vec<TextNode> = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut errors = Vec::new();
    for piece in pieces {
        match piece {
            // Indentation removal can leave empty runs; they carry nothing.
            Piece::Node(TextNode::Literal(s, _)) if s.is_empty() => {}
            Piece::Node(n) => match stack.last_mut() {
                Some(f) => f.nodes().push(n),
                None => root.push(n),
            },
            Piece::Tag(tag, span) => match tag {
                Tag::If(c) => stack.push(Frame::If {
                    open: span,
                    branches: Vec::new(),
                    cond: Some(c),
                    body_start: span.end,
                    nodes: Vec::new(),
                }),
                Tag::For(binding, iterable) => stack.push(Frame::For {
                    open: span,
                    binding,
                    iterable,
                    body_start: span.end,
                    nodes: Vec::new(),
                }),
                Tag::ElseIf(_) | Tag::Else => {
                    let is_else = matches!(tag, Tag::Else);
                    match stack.last_mut() {
                        Some(Frame::If {
                            branches,
                            cond,
                            body_start,
                            nodes,
                            ..
                        }) if cond.is_some() => {
                            let body = Text {
                                nodes: std::mem::take(nodes),
                                span: Span::new(*body_start, span.start.max(*body_start)),
                            };
                            if let Some(c) = cond.take() {
                                branches.push((c, body));
                            }
                            if let Tag::ElseIf(c) = tag {
                                *cond = Some(c);
                            }
                            *body_start = span.end;
                        }
                        Some(Frame::If { .. }) => {
                            errors.push(unbalanced(
                                span,
                                if is_else {
                                    "this `{% else %}` comes after the `{% else %}` of the same `{% if %}`".into()
                                } else {
                                    "this `{% else if %}` comes after the `{% else %}` of its `{% if %}`".into()
                                },
                                "after `{% else %}`",
                                "an `{% if %}` has at most one `{% else %}`, and it comes last",
                            ));
                            let node = TextNode::Error(span);
                            if let Some(f) = stack.last_mut() {
                                f.nodes().push(node);
                            }
                        }
                        _ => {
                            errors.push(unbalanced(
                                span,
                                "this `{% else %}` has no matching `{% if %}`".into(),
                                "no `{% if %}` is open here",
                                "add `{% if condition %}` before it, or remove it",
                            ));
                            let node = TextNode::Error(span);
                            match stack.last_mut() {
                                Some(f) => f.nodes().push(node),
                                None => root.push(node),
                            }
                        }
                    }
                }
                Tag::EndIf | Tag::EndFor => {
                    let (word, opener) = if matches!(tag, Tag::EndIf) {
                        ("endif", "if")
                    } else {
                        ("endfor", "for")
                    };
                    match stack.pop() {
                        Some(frame) => {
                            let matches = matches!(
                                (&frame, &tag),
                                (Frame::If { .. }, Tag::EndIf) | (Frame::For { .. }, Tag::EndFor)
                            );
                            if !matches {
                                let (want, open) = match &frame {
                                    Frame::If { open, .. } => ("endif", *open),
                                    Frame::For { open, .. } => ("endfor", *open),
                                };
                                let mut e = unbalanced(
                                    span,
                                    format!("expected `{{% {want} %}}`, found `{{% {word} %}}`"),
                                    &format!("expected `{{% {want} %}}`"),
                                    &format!(
                                        "close the innermost open tag with `{{% {want} %}}` first"
                                    ),
                                );
                                if let Some(c) = e.custom.as_mut() {
                                    c.secondary = Some((open, "the tag still open".into()));
                                }
                                errors.push(e);
                            }
                            let node = frame.close(span);
                            match stack.last_mut() {
                                Some(f) => f.nodes().push(node),
                                None => root.push(node),
                            }
                        }
                        None => {
                            errors.push(unbalanced(
                                span,
                                format!("this `{{% {word} %}}` has no matching `{{% {opener} %}}`"),
                                &format!("no `{{% {opener} %}}` is open here"),
                                "remove it, or add the opening tag before it",
                            ));
                            root.push(TextNode::Error(span));
                        }
                    }
                }
            },
        }
    }
    // Tags still open at the end: report each, close them at the end.
    while let Some(frame) = stack.pop() {
        let (open, word, closer) = match &frame {
            Frame::If { open, .. } => (*open, "if", "endif"),
            Frame::For { open, .. } => (*open, "for", "endfor"),
        };
        errors.push(unbalanced(
            open,
            format!("this `{{% {word} %}}` is never closed"),
            &format!("needs a `{{% {closer} %}}`"),
            &format!("add `{{% {closer} %}}` where the block ends"),
        ));
        let end = Span::new(whole.end, whole.end);
        let node = frame.close(end);
        match stack.last_mut() {
            Some(f) => f.nodes().push(node),
            None => root.push(node),
        }
    }
    (root, errors)
}
