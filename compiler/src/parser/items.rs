//! Top-level items: `event`/`extend event`, `type`/`extend type`, `profile`,
//! `segment`, `template`, `test`, plus type expressions and field lists; and
//! the file itself, a list of items where unparseable text becomes one
//! `Item::Error` (skipped to the next item keyword at a line start).

use super::error::{Expected, ParseError};
use super::expr::ExprP;
use super::text::string_text;
use super::tokens::{
    Ex, ITEM_KEYWORDS, In, Inp, bad_entry, close_brace, colon, comma, docs, ident_named, kw, kw_of,
    lbrace, lparen, name_lit, recover_item, recover_statement, rparen, skip_parens, skip_to_item,
    sp, statement_end, tok, unclosed,
};
use crate::ast::{
    Channel, EventDecl, FieldDecl, File, Item, Param, ProfileDecl, SegmentDecl, TemplateDecl,
    TemplatePart, TemplateSource, Text, TextNode, TypeDecl, TypeExpr, TypeExprKind,
};
use crate::lexer::Tok;
use crate::span::Span;
use chumsky::prelude::*;

pub(crate) const CHANNELS: &[(&str, Channel)] = &[
    ("email", Channel::Email),
    ("sms", Channel::Sms),
    ("push", Channel::Push),
];

/// The whole file: items until the end.
pub(crate) fn file<'a>(expr: ExprP<'a>) -> impl Parser<'a, In<'a>, File, Ex<'a>> {
    let item = docs()
        .then(choice((
            event_or_type(),
            profile(),
            segment(expr.clone()),
            template(expr.clone()),
            super::flow::flow(expr.clone()),
            super::policy::policy(expr.clone()),
            super::test_block::test(expr.clone()),
            bad_item(),
        )))
        .map(|(doc, mut item)| {
            match &mut item {
                Item::Event(d) => d.doc = doc,
                Item::Type(d) => d.doc = doc,
                _ => {}
            }
            item
        });
    item.repeated()
        .collect::<Vec<_>>()
        .then_ignore(docs())
        .then_ignore(end())
        .map(|items| File { items })
}

/// Text that starts no item: one diagnostic, skipped to the next item.
fn bad_item<'a>() -> impl Parser<'a, In<'a>, Item, Ex<'a>> + Clone {
    custom(|inp: &mut Inp<'a, '_>| {
        let Some(first) = inp.peek_ref() else {
            return Err(ParseError::expected(Expected::Thing("an item"), None));
        };
        let span0 = first.span;
        let silent = first.tok == Tok::Error;
        let found = super::error::describe_found(Some(&first.tok));
        let suggestion = match &first.tok {
            Tok::Ident(w) => crate::diagnostic::did_you_mean(w, ITEM_KEYWORDS.iter().copied()),
            _ => None,
        };
        let span = skip_to_item(inp, true).unwrap_or(span0);
        if !silent {
            inp.emit(ParseError::custom(super::error::Custom {
                code: crate::diagnostic::Code::UnexpectedToken,
                secondary: None,
                span: span0,
                message: format!(
                    "expected a declaration such as `flow`, `template`, `segment` or `event`, found {found}"
                ),
                label: match suggestion {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => "not a declaration".into(),
                },
                help: Some(match suggestion {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => "a file holds `event`, `type`, `profile`, `segment`, `template`, `flow`, `policy` and `test` declarations".into(),
                }),
            }));
        }
        Ok(Item::Error(span))
    })
}

/// `event "X" { .. }`, `type T { .. }`, and their `extend` forms.
fn event_or_type<'a>() -> impl Parser<'a, In<'a>, Item, Ex<'a>> + Clone {
    let event_rest = name_lit("an event name in quotes")
        .then(field_block("the event"))
        .map(Some)
        .map_err(|e: ParseError| {
            e.with_help("declare an event as `event \"Order Completed\" { order_id: string }`")
        })
        .recover_with(via_parser(recover_item()));
    let type_rest = ident_named("a type name")
        .then(field_block("the type"))
        .map(Some)
        .map_err(|e: ParseError| {
            e.with_help("declare a record type as `type Product { product_id: string }`")
        })
        .recover_with(via_parser(recover_item()));
    let body = choice((
        kw("event")
            .ignore_then(event_rest)
            .map(|r| r.map(|(name, fields)| (true, name, fields))),
        kw("type").ignore_then(type_rest).map(|r| {
            r.map(|(id, fields)| {
                (
                    false,
                    crate::ast::Name {
                        value: id.name,
                        span: id.span,
                    },
                    fields,
                )
            })
        }),
    ));
    kw("extend")
        .or_not()
        .then(body)
        .map_with(|(extend, decl), e| {
            let span = sp(e.span());
            let extend = extend.is_some();
            match decl {
                Some((true, name, fields)) => Item::Event(EventDecl {
                    extend,
                    name,
                    fields,
                    doc: None,
                    span,
                }),
                Some((false, name, fields)) => Item::Type(TypeDecl {
                    extend,
                    name: crate::ast::Ident {
                        name: name.value,
                        span: name.span,
                    },
                    fields,
                    doc: None,
                    span,
                }),
                None => Item::Error(span),
            }
        })
}

fn profile<'a>() -> impl Parser<'a, In<'a>, Item, Ex<'a>> + Clone {
    kw("profile")
        .ignore_then(
            field_block("the profile")
                .map(Some)
                .recover_with(via_parser(recover_item())),
        )
        .map_with(|fields, e| {
            let span = sp(e.span());
            match fields {
                Some(fields) => Item::Profile(ProfileDecl { fields, span }),
                None => Item::Error(span),
            }
        })
}

/// `{ name: Type, ... }`, fields separated by commas or newlines, each with
/// its `///` doc lines.
fn field_block<'a>(what: &'static str) -> impl Parser<'a, In<'a>, Vec<FieldDecl>, Ex<'a>> + Clone {
    let rest = colon()
        .ignore_then(type_expr())
        .then_ignore(comma().ignored().or(field_boundary()))
        .map(Some)
        .map_err(|e: ParseError| {
            e.with_help("write a field as `name: Type`, e.g. `order_id: string`")
        })
        .recover_with(via_parser(recover_statement()));
    let field = docs()
        .then(ident_named("a field name"))
        .then(rest)
        .map_with(|((doc, name), ty), e| {
            ty.map(|ty| FieldDecl {
                name,
                ty,
                doc,
                span: sp(e.span()),
            })
        });
    let field = choice((
        field,
        bad_entry(
            "a field such as `order_id: string`",
            &[],
            "write a field as `name: Type`, e.g. `order_id: string`",
        )
        .map(|_| None),
    ));
    lbrace()
        .then(field.repeated().collect::<Vec<_>>())
        .then_ignore(docs())
        .then(close_brace())
        .validate(move |((open, fields), close), _, emitter| {
            if close.is_none() {
                emitter.emit(unclosed(open, what));
            }
            fields.into_iter().flatten().collect()
        })
}

/// Where a field may end without a comma: at the end of its line, or
/// before the next `name:` on the same line.
fn field_boundary<'a>() -> impl Parser<'a, In<'a>, (), Ex<'a>> + Clone {
    statement_end().or(ident_named("a field name").then(colon()).ignored().rewind())
}

/// `int`, `Product`, `list<T>`, `T?`, `"Checkout Started"`, `"a" | "b"`.
pub(crate) fn type_expr<'a>() -> impl Parser<'a, In<'a>, TypeExpr, Ex<'a>> + Clone {
    recursive(|ty| {
        let list = kw("list")
            .then_ignore(tok(Tok::Lt, "<"))
            .then(ty)
            .then(tok(Tok::Gt, ">"))
            .map(|((s, inner), e): ((Span, TypeExpr), Span)| TypeExpr {
                kind: TypeExprKind::List(Box::new(inner)),
                span: s.to(e),
            });
        let named = ident_named("a type").map(|id| TypeExpr {
            span: id.span,
            kind: TypeExprKind::Named(id),
        });
        let strings = name_lit("a type")
            .separated_by(tok(Tok::Pipe, "|"))
            .at_least(1)
            .collect::<Vec<_>>()
            .map(|mut names| {
                let span = match (names.first(), names.last()) {
                    (Some(a), Some(b)) => a.span.to(b.span),
                    _ => Span::default(),
                };
                let kind = if names.len() == 1 {
                    match names.pop() {
                        Some(n) => TypeExprKind::Event(n),
                        None => TypeExprKind::Error,
                    }
                } else {
                    TypeExprKind::Union(names)
                };
                TypeExpr { kind, span }
            });
        choice((list, strings, named))
            .labelled(Expected::Thing("a type"))
            .then(tok(Tok::Question, "?").repeated().collect::<Vec<_>>())
            .map(|(mut t, qs)| {
                for q in qs {
                    t = TypeExpr {
                        span: t.span.to(q),
                        kind: TypeExprKind::Optional(Box::new(t)),
                    };
                }
                t
            })
    })
}

/// `segment vip "doc" = <expr>`
fn segment<'a>(expr: ExprP<'a>) -> impl Parser<'a, In<'a>, Item, Ex<'a>> + Clone {
    // Once the name is read, a broken rest keeps the segment (with an error
    // condition), so its uses are not reported as unknown too.
    let rest = name_lit("a description")
        .or_not()
        .then_ignore(tok(Tok::Assign, "="))
        .then(expr)
        .then_ignore(statement_end())
        .map(Some)
        .map_err(|e: ParseError| {
            e.with_help("write a segment as `segment name \"description\" = <condition>`")
        })
        .recover_with(via_parser(recover_item()));
    let named = ident_named("a segment name")
        .then(rest)
        .map(Some)
        .recover_with(via_parser(recover_item()));
    kw("segment").ignore_then(named).map_with(|r, e| {
        let span = sp(e.span());
        match r {
            Some((name, Some((doc, condition)))) => Item::Segment(SegmentDecl {
                name,
                doc,
                condition,
                span,
            }),
            Some((name, None)) => Item::Segment(SegmentDecl {
                condition: crate::ast::Expr::error(Span::new(name.span.end, span.end)),
                name,
                doc: None,
                span,
            }),
            None => Item::Error(span),
        }
    })
}

/// `template email name(p: T, ...) { key "..."  key file "path" }`
fn template<'a>(expr: ExprP<'a>) -> impl Parser<'a, In<'a>, Item, Ex<'a>> + Clone {
    let param = ident_named("a parameter name")
        .then_ignore(colon())
        .then(type_expr())
        .map_with(|(name, ty), e| Param {
            name,
            ty,
            span: sp(e.span()),
        });
    // A broken parameter list is reported and skipped to its `)`, keeping
    // the template (and its name) for the rest of the checks.
    let params = lparen()
        .ignore_then(
            param
                .separated_by(comma())
                .allow_trailing()
                .collect::<Vec<_>>()
                .then_ignore(rparen())
                .map_err(|e: ParseError| {
                    e.with_help("write parameters as `(name: Type, other: Type)`")
                })
                .recover_with(via_parser(skip_parens())),
        )
        .or_not()
        .map(Option::unwrap_or_default);
    let source = choice((
        kw("file")
            .ignore_then(name_lit("a file path in quotes"))
            .map(TemplateSource::File),
        string_text(expr).map(TemplateSource::Inline),
    ))
    .labelled(Expected::Thing("a string or `file \"path\"`"));
    let value = source
        .then_ignore(statement_end())
        .map(Some)
        .map_err(|e: ParseError| {
            e.with_help(
                "write a part as `subject \"...\"`, `text \"\"\"...\"\"\"` or `html file \"path\"`",
            )
        })
        .recover_with(via_parser(recover_statement()))
        // A broken value still makes a part (an error node), so the
        // template is not also reported as missing it.
        .map_with(|value, e| {
            Some(value.unwrap_or_else(|| {
                let span = sp(e.span());
                TemplateSource::Inline(Text {
                    nodes: vec![TextNode::Error(span)],
                    span,
                })
            }))
        });
    let part = choice((
        ident_named("a template part")
            .then(value)
            .map_with(|(key, value), e| {
                value.map(|value| TemplatePart {
                    key,
                    value,
                    span: sp(e.span()),
                })
            }),
        bad_entry(
            "a template part such as `subject \"...\"`",
            &[],
            "write a part as `subject \"...\"`, `text \"\"\"...\"\"\"` or `html file \"path\"`",
        )
        .map(|_| None),
    ));
    let part = docs().ignore_then(part);
    let body = lbrace()
        .then(part.repeated().collect::<Vec<_>>())
        .then_ignore(docs())
        .then(close_brace())
        .validate(|((open, parts), close), _, emitter| {
            if close.is_none() {
                emitter.emit(unclosed(open, "the template"));
            }
            parts.into_iter().flatten().collect::<Vec<_>>()
        });
    let rest = kw_of(CHANNELS, "a channel (`email`, `sms` or `push`)")
        .then(ident_named("a template name"))
        .then(params)
        .then(body)
        .map(Some)
        .map_err(|e: ParseError| {
            e.with_help("write a template as `template email name(param: Type) { ... }`")
        })
        .recover_with(via_parser(recover_item()));
    kw("template").ignore_then(rest).map_with(|r, e| {
        let span = sp(e.span());
        match r {
            Some(((((channel, channel_span), name), params), parts)) => {
                Item::Template(TemplateDecl {
                    channel,
                    channel_span,
                    name,
                    params,
                    parts,
                    span,
                })
            }
            None => Item::Error(span),
        }
    })
}
