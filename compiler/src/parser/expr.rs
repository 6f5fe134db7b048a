//! Expressions: literals (money `20 USD`, percent, durations, times, dates,
//! `none`), names, calls with named arguments (`within: 90d`), lambdas
//! (`p => ...`), lists, record literals, event-field paths
//! (`"Order Completed".revenue`), and the operators by precedence, loosest
//! first: `or`, `and`, `not`, comparisons and `in`, `??`, `+ -`, `* /`,
//! unary `-`, then postfix `.f`, `?.f`, `.m(args)`.

use super::error::{Expected, ParseError};
use super::text::string_text;
use super::tokens::{Ex, In, Inp, Tk, colon, comma, ident, lparen, rparen, tok};
use crate::ast::{Arg, BinaryOp, Expr, ExprKind, FieldInit, Ident, Lit, Name, UnaryOp};
use crate::lexer::Tok;
use crate::span::Span;
use chumsky::pratt::{infix, left, postfix, prefix, right};
use chumsky::prelude::*;
use rust_decimal::Decimal;

/// The boxed expression parser; strings inside expressions may hold holes
/// that hold expressions, so text and expressions are built together.
pub(crate) type ExprP<'a> = Boxed<'a, 'a, In<'a>, Expr, Ex<'a>>;

enum Post {
    Field(Ident),
    OptField(Ident),
    Method(Ident, Vec<Arg>, Span),
}

pub(crate) fn expr<'a>() -> ExprP<'a> {
    recursive(|expr| {
        let expr = expr.boxed();
        let text = string_text(expr.clone());

        // `"Order Completed".revenue` or a string (maybe with holes).
        let string = text
            .then(tok(Tok::Dot, ".").ignore_then(ident()).or_not())
            .map_with(|(text, field), e| {
                let span = super::tokens::sp(e.span());
                match (text.as_plain(), field) {
                    (Some(value), Some(field)) => Expr {
                        kind: ExprKind::EventField {
                            event: Name {
                                value,
                                span: text.span,
                            },
                            field,
                        },
                        span,
                    },
                    (None, Some(field)) => Expr {
                        kind: ExprKind::Field {
                            base: Box::new(Expr {
                                kind: ExprKind::Str(text.clone()),
                                span: text.span,
                            }),
                            field,
                        },
                        span,
                    },
                    (_, None) => Expr {
                        span: text.span,
                        kind: ExprKind::Str(text),
                    },
                }
            });

        let named_arg = ident().then_ignore(colon()).or_not().then(expr.clone());
        let args = named_arg
            .map(|(name, value)| Arg { name, value })
            .separated_by(comma())
            .allow_trailing()
            .collect::<Vec<_>>()
            .delimited_by(lparen(), rparen())
            .boxed();

        // Name, call `f(..)` or lambda `p => ..`.
        let name_led = super::tokens::expr_ident()
            .then(
                choice((
                    tok(Tok::FatArrow, "=>")
                        .ignore_then(expr.clone())
                        .map(|body| Suffix::Lambda(Box::new(body))),
                    args.clone().map(Suffix::Call),
                ))
                .or_not(),
            )
            .map_with(|(id, suffix), e| {
                let span = super::tokens::sp(e.span());
                let kind = match suffix {
                    None => ExprKind::Name(id),
                    Some(Suffix::Lambda(body)) => ExprKind::Lambda { param: id, body },
                    Some(Suffix::Call(args)) => ExprKind::Call { callee: id, args },
                };
                Expr { kind, span }
            });

        let paren = expr
            .clone()
            .delimited_by(lparen(), rparen())
            .map_with(|inner, e| Expr {
                kind: ExprKind::Paren(Box::new(inner)),
                span: super::tokens::sp(e.span()),
            });

        let list = expr
            .clone()
            .separated_by(comma())
            .allow_trailing()
            .collect::<Vec<_>>()
            .delimited_by(tok(Tok::LBracket, "["), tok(Tok::RBracket, "]"))
            .map_with(|items, e| Expr {
                kind: ExprKind::List(items),
                span: super::tokens::sp(e.span()),
            });

        let record = record_fields(expr.clone()).map_with(|fields, e| Expr {
            kind: ExprKind::Record(fields),
            span: super::tokens::sp(e.span()),
        });

        let atom = choice((
            literal(),
            name_led,
            string,
            paren,
            list,
            record,
            lexed_error(),
        ))
        .labelled(Expected::Thing("an expression"))
        .boxed();

        // One parser per precedence level: a failed operator check costs one
        // error, not one per operator.
        let op = binary_ops;
        let bin = |l: Expr, (op, op_span): (BinaryOp, Span), r: Expr| Expr {
            span: l.span.to(r.span),
            kind: ExprKind::Binary {
                op,
                op_span,
                lhs: Box::new(l),
                rhs: Box::new(r),
            },
        };
        let un = |(op, s): (UnaryOp, Span), r: Expr| Expr {
            span: s.to(r.span),
            kind: ExprKind::Unary {
                op,
                operand: Box::new(r),
            },
        };

        let post = choice((
            tok(Tok::Dot, ".")
                .ignore_then(ident())
                .then(
                    args.clone()
                        .map_with(|a, e| (a, super::tokens::sp(e.span())))
                        .or_not(),
                )
                .map(|(id, args)| match args {
                    Some((args, s)) => Post::Method(id, args, s),
                    None => Post::Field(id),
                }),
            tok(Tok::QDot, "?.")
                .ignore_then(ident())
                .map(Post::OptField),
        ));

        atom.pratt((
            infix(
                left(1),
                op(&[(Tok::Or, "or", BinaryOp::Or)]),
                move |l, o, r, _| bin(l, o, r),
            ),
            infix(
                left(2),
                op(&[(Tok::And, "and", BinaryOp::And)]),
                move |l, o, r, _| bin(l, o, r),
            ),
            prefix(
                3,
                tok(Tok::Not, "not").map(|s| (UnaryOp::Not, s)),
                move |o, r, _| un(o, r),
            ),
            infix(
                left(4),
                op(&[
                    (Tok::EqEq, "==", BinaryOp::Eq),
                    (Tok::Ne, "!=", BinaryOp::Ne),
                    (Tok::Le, "<=", BinaryOp::Le),
                    (Tok::Ge, ">=", BinaryOp::Ge),
                    (Tok::Lt, "<", BinaryOp::Lt),
                    (Tok::Gt, ">", BinaryOp::Gt),
                    (Tok::In, "in", BinaryOp::In),
                ]),
                move |l, o, r, _| bin(l, o, r),
            ),
            infix(
                right(5),
                op(&[(Tok::QQ, "??", BinaryOp::Default)]),
                move |l, o, r, _| bin(l, o, r),
            ),
            infix(
                left(6),
                op(&[
                    (Tok::Plus, "+", BinaryOp::Add),
                    (Tok::Minus, "-", BinaryOp::Sub),
                ]),
                move |l, o, r, _| bin(l, o, r),
            ),
            infix(
                left(7),
                op(&[
                    (Tok::Star, "*", BinaryOp::Mul),
                    (Tok::Slash, "/", BinaryOp::Div),
                ]),
                move |l, o, r, _| bin(l, o, r),
            ),
            prefix(
                8,
                tok(Tok::Minus, "-").map(|s| (UnaryOp::Neg, s)),
                move |o, r, _| un(o, r),
            ),
            postfix(9, post, |l: Expr, p: Post, _| match p {
                Post::Field(field) => Expr {
                    span: l.span.to(field.span),
                    kind: ExprKind::Field {
                        base: Box::new(l),
                        field,
                    },
                },
                Post::OptField(field) => Expr {
                    span: l.span.to(field.span),
                    kind: ExprKind::OptionalField {
                        base: Box::new(l),
                        field,
                    },
                },
                Post::Method(method, args, s) => Expr {
                    span: l.span.to(s),
                    kind: ExprKind::Method {
                        receiver: Box::new(l),
                        method,
                        args,
                    },
                },
            }),
        ))
        .labelled(Expected::Thing("an expression"))
    })
    .boxed()
}

enum Suffix {
    Lambda(Box<Expr>),
    Call(Vec<Arg>),
}

/// Any of `ops` (one precedence level), with its span.
fn binary_ops<'a>(
    ops: &'static [(Tok<'static>, &'static str, BinaryOp)],
) -> impl Parser<'a, In<'a>, (BinaryOp, Span), Ex<'a>> + Clone {
    custom(move |inp: &mut Inp<'a, '_>| {
        let next = inp.peek_ref();
        if let Some(t) = next
            && let Some((_, _, op)) = ops.iter().find(|(k, _, _)| *k == t.tok)
        {
            let s = t.span;
            let _ = inp.next_ref();
            return Ok((*op, s));
        }
        let first = ops.first().map_or("", |o| o.1);
        let mut e = ParseError::expected(Expected::Symbol(first), next);
        for (_, shown, _) in ops.iter().skip(1) {
            e.expected.push(Expected::Symbol(shown));
        }
        Err(e)
    })
}

/// `{ name: expr, "key": expr }`: entries separated by commas or newlines.
pub(crate) fn record_fields<'a>(
    expr: ExprP<'a>,
) -> impl Parser<'a, In<'a>, Vec<FieldInit>, Ex<'a>> + Clone {
    let key = choice((
        ident().map(|i| Name {
            value: i.name,
            span: i.span,
        }),
        super::tokens::name_lit("a field name"),
    ));
    key.then_ignore(colon())
        .then(expr)
        .map(|(name, value)| FieldInit {
            span: name.span.to(value.span),
            name,
            value,
        })
        .then_ignore(comma().or_not())
        .repeated()
        .collect::<Vec<_>>()
        .delimited_by(tok(Tok::LBrace, "{"), tok(Tok::RBrace, "}"))
}

/// A token the lexer (or the nesting check) already reported: an error
/// expression with no second diagnostic.
fn lexed_error<'a>() -> impl Parser<'a, In<'a>, Expr, Ex<'a>> + Clone {
    custom(|inp: &mut Inp<'a, '_>| match inp.peek_ref() {
        Some(Tk {
            tok: Tok::Error,
            span,
            ..
        }) => {
            let s = *span;
            let _ = inp.next_ref();
            Ok(Expr::error(s))
        }
        other => Err(ParseError::expected(
            Expected::Thing("an expression"),
            other,
        )),
    })
}

/// Literal tokens, with money (`20 USD`: a number, then a three-letter
/// upper-case code on the same line).
fn literal<'a>() -> impl Parser<'a, In<'a>, Expr, Ex<'a>> + Clone {
    custom(|inp: &mut Inp<'a, '_>| {
        let Some(t) = inp.peek_ref() else {
            return Err(ParseError::expected(Expected::Thing("an expression"), None));
        };
        let span = t.span;
        let (lit, amount) = match &t.tok {
            Tok::Int(i) => (Lit::Int(*i), Some(Decimal::from(*i))),
            Tok::Decimal(d) => (Lit::Decimal(*d), Some(*d)),
            Tok::Percent(d) => (Lit::Percent(*d), None),
            Tok::Duration(s) => (Lit::Duration(*s), None),
            Tok::Time(h, m) => (
                Lit::Time {
                    hour: *h,
                    minute: *m,
                },
                None,
            ),
            Tok::Date(y, m, d) => (
                Lit::Date {
                    year: *y,
                    month: *m,
                    day: *d,
                },
                None,
            ),
            Tok::True => (Lit::Bool(true), None),
            Tok::False => (Lit::Bool(false), None),
            Tok::None => (Lit::None, None),
            _ => {
                return Err(ParseError::expected(
                    Expected::Thing("an expression"),
                    Some(t),
                ));
            }
        };
        let _ = inp.next_ref();
        if let Some(amount) = amount
            && let Some(Tk {
                tok: Tok::Ident(code),
                span: cs,
                nl: false,
                ..
            }) = inp.peek_ref()
            && is_currency(code)
        {
            let currency = (*code).to_string();
            let s = span.to(*cs);
            let _ = inp.next_ref();
            return Ok(Expr {
                kind: ExprKind::Lit(Lit::Money { amount, currency }),
                span: s,
            });
        }
        Ok(Expr {
            kind: ExprKind::Lit(lit),
            span,
        })
    })
}

fn is_currency(s: &str) -> bool {
    s.len() == 3 && s.bytes().all(|b| b.is_ascii_uppercase())
}
