//! The token stream as the parser sees it, and the small token-level parsers
//! every grammar file shares: punctuation, contextual keywords, names, plain
//! string literals, and the skippers recovery uses to find the end of a
//! broken statement or item.
//!
//! Newlines are not tokens, but recovery needs lines: each token carries
//! whether it starts a line (`nl`) and whether it starts an item (`item`:
//! an item keyword at the start of a line followed by what that item needs),
//! computed once in [`prepare`].

use super::error::{Custom, Expected, ParseError};
use crate::ast::{Ident, Name};
use crate::diagnostic::Code;
use crate::lexer::{Tok, Token};
use crate::span::Span;
use chumsky::input::{Input as _, InputRef, MappedInput};
use chumsky::prelude::*;

/// One token with what recovery needs to know about its place.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tk<'a> {
    pub tok: Tok<'a>,
    pub span: Span,
    /// First token on its line.
    pub nl: bool,
    /// Starts an item: `flow x`, `template email`, `event "`, ... at a line start.
    pub item: bool,
}

pub(crate) type In<'a> = MappedInput<'a, Tk<'a>, SimpleSpan, &'a [(Tk<'a>, SimpleSpan)]>;
pub(crate) type Ex<'a> = extra::Err<ParseError>;
pub(crate) type Inp<'a, 'p> = InputRef<'a, 'p, In<'a>, Ex<'a>>;

/// Our span of a chumsky span.
pub(crate) fn sp(s: SimpleSpan) -> Span {
    Span::from(s.start..s.end)
}

/// Turns lexer tokens into parser tokens (line and item starts).
pub(crate) fn prepare<'a>(src: &str, toks: Vec<Token<'a>>) -> Vec<(Tk<'a>, SimpleSpan)> {
    let mut out: Vec<(Tk<'a>, SimpleSpan)> = Vec::with_capacity(toks.len());
    let bytes = src.as_bytes();
    let mut prev_end = 0usize;
    for (tok, span) in toks {
        let start = span.start as usize;
        let gap = bytes.get(prev_end.min(start)..start).unwrap_or(&[]);
        let nl = out.is_empty() || gap.contains(&b'\n');
        // A `///` after code on the same line documents nothing: read it as
        // the comment it looks like.
        if matches!(tok, Tok::Doc(_)) && !nl {
            continue;
        }
        prev_end = prev_end.max(span.end as usize);
        let s = SimpleSpan::from(span.start as usize..span.end as usize);
        out.push((
            Tk {
                tok,
                span,
                nl,
                item: false,
            },
            s,
        ));
    }
    for i in 0..out.len() {
        let is_item = {
            let t = &out[i].0;
            let next = out.get(i + 1).map(|n| &n.0.tok);
            t.nl && starts_item(&t.tok, next)
        };
        out[i].0.item = is_item;
    }
    out
}

/// An item keyword followed by what that item needs next.
pub(crate) fn starts_item(t: &Tok<'_>, next: Option<&Tok<'_>>) -> bool {
    let Tok::Ident(k) = t else { return false };
    match (*k, next) {
        ("flow" | "segment" | "template", Some(Tok::Ident(_))) => true,
        ("type", Some(Tok::Ident(n))) => n.starts_with(|c: char| c.is_ascii_uppercase()),
        ("event" | "test", Some(Tok::StrStart)) => true,
        ("profile" | "policy", Some(Tok::LBrace)) => true,
        ("extend", Some(Tok::Ident("event" | "type"))) => true,
        _ => false,
    }
}

pub(crate) const ITEM_KEYWORDS: &[&str] = &[
    "event", "extend", "type", "profile", "segment", "template", "flow", "policy", "test",
];

fn peek_err<'a>(inp: &mut Inp<'a, '_>, what: Expected) -> ParseError {
    ParseError::expected(what, inp.peek_ref())
}

/// An exact punctuation (or operator keyword) token; yields its span.
pub(crate) fn tok<'a>(
    t: Tok<'static>,
    shown: &'static str,
) -> impl Parser<'a, In<'a>, Span, Ex<'a>> + Clone {
    custom(move |inp: &mut Inp<'a, '_>| match inp.peek_ref() {
        Some(tk) if tk.tok == t => {
            let s = tk.span;
            let _ = inp.next_ref();
            Ok(s)
        }
        _ => Err(peek_err(inp, Expected::Symbol(shown))),
    })
}

pub(crate) fn lbrace<'a>() -> impl Parser<'a, In<'a>, Span, Ex<'a>> + Clone {
    tok(Tok::LBrace, "{")
}
pub(crate) fn lparen<'a>() -> impl Parser<'a, In<'a>, Span, Ex<'a>> + Clone {
    tok(Tok::LParen, "(")
}
pub(crate) fn rparen<'a>() -> impl Parser<'a, In<'a>, Span, Ex<'a>> + Clone {
    tok(Tok::RParen, ")")
}
pub(crate) fn comma<'a>() -> impl Parser<'a, In<'a>, Span, Ex<'a>> + Clone {
    tok(Tok::Comma, ",")
}
pub(crate) fn colon<'a>() -> impl Parser<'a, In<'a>, Span, Ex<'a>> + Clone {
    tok(Tok::Colon, ":")
}

/// A contextual keyword (an identifier with this text); yields its span.
pub(crate) fn kw<'a>(word: &'static str) -> impl Parser<'a, In<'a>, Span, Ex<'a>> + Clone {
    custom(move |inp: &mut Inp<'a, '_>| match inp.peek_ref() {
        Some(Tk {
            tok: Tok::Ident(w),
            span,
            ..
        }) if *w == word => {
            let s = *span;
            let _ = inp.next_ref();
            Ok(s)
        }
        _ => Err(peek_err(inp, Expected::Keyword(word))),
    })
}

/// One of several keywords, mapped to a value; yields the value and span.
pub(crate) fn kw_of<'a, T: Copy + 'a>(
    words: &'static [(&'static str, T)],
    what: &'static str,
) -> impl Parser<'a, In<'a>, (T, Span), Ex<'a>> + Clone {
    custom(move |inp: &mut Inp<'a, '_>| {
        if let Some(Tk {
            tok: Tok::Ident(w),
            span,
            ..
        }) = inp.peek_ref()
            && let Some((_, v)) = words.iter().find(|(k, _)| k == w)
        {
            let s = *span;
            let _ = inp.next_ref();
            return Ok((*v, s));
        }
        Err(peek_err(inp, Expected::Thing(what)))
    })
}

/// Any identifier.
pub(crate) fn ident<'a>() -> impl Parser<'a, In<'a>, Ident, Ex<'a>> + Clone {
    ident_named("a name")
}

/// A name in expression position. A word that starts an item at a line
/// start (`template email ...`, `flow x {`) is not taken: after a dangling
/// operator (`segment s = a >`) the expression is then reported as missing
/// and the next item still parses, instead of being swallowed as a name.
pub(crate) fn expr_ident<'a>() -> impl Parser<'a, In<'a>, Ident, Ex<'a>> + Clone {
    custom(move |inp: &mut Inp<'a, '_>| match inp.peek_ref() {
        Some(Tk {
            tok: Tok::Ident(w),
            span,
            item: false,
            ..
        }) => {
            let id = Ident {
                name: (*w).to_string(),
                span: *span,
            };
            let _ = inp.next_ref();
            Ok(id)
        }
        _ => Err(peek_err(inp, Expected::Thing("a name"))),
    })
}

pub(crate) fn ident_named<'a>(
    what: &'static str,
) -> impl Parser<'a, In<'a>, Ident, Ex<'a>> + Clone {
    custom(move |inp: &mut Inp<'a, '_>| match inp.peek_ref() {
        Some(Tk {
            tok: Tok::Ident(w),
            span,
            ..
        }) => {
            let id = Ident {
                name: (*w).to_string(),
                span: *span,
            };
            let _ = inp.next_ref();
            Ok(id)
        }
        _ => Err(peek_err(inp, Expected::Thing(what))),
    })
}

/// A plain string literal (`"Order Completed"`). A string with holes is
/// reported and its literal parts kept, so the item still parses.
pub(crate) fn name_lit<'a>(what: &'static str) -> impl Parser<'a, In<'a>, Name, Ex<'a>> + Clone {
    custom(move |inp: &mut Inp<'a, '_>| {
        let start = match inp.peek_ref() {
            Some(Tk {
                tok: Tok::StrStart,
                span,
                ..
            }) => *span,
            _ => return Err(peek_err(inp, Expected::Thing(what))),
        };
        let _ = inp.next_ref();
        let mut value = String::new();
        let mut depth = 0usize;
        let mut hole: Option<Span> = None;
        let mut end = start;
        while let Some(tk) = inp.peek_ref() {
            end = tk.span;
            match &tk.tok {
                Tok::StrEnd if depth == 0 => {
                    let _ = inp.next_ref();
                    break;
                }
                Tok::Text(s) if depth == 0 => value.push_str(s),
                Tok::HoleOpen | Tok::TagOpen | Tok::StrStart => {
                    if depth == 0 && hole.is_none() {
                        hole = Some(tk.span);
                    }
                    depth += 1;
                }
                Tok::HoleClose | Tok::TagClose | Tok::StrEnd => depth = depth.saturating_sub(1),
                _ => {}
            }
            let _ = inp.next_ref();
        }
        if let Some(h) = hole {
            inp.emit(ParseError::custom(Custom {
                code: Code::UnexpectedToken,
                secondary: None,
                span: h,
                message: format!(
                    "expected {what} without `{{{{ }}}}` or `{{% %}}`, found a template hole"
                ),
                label: "holes are not allowed here".into(),
                help: Some("write the text as it is, without holes or tags".into()),
            }));
        }
        Ok(Name {
            value,
            span: start.to(end),
        })
    })
}

/// Whether the next token ends the enclosing block or starts an item, so an
/// entry parser must stop here.
fn at_block_end(tk: Option<&Tk<'_>>) -> bool {
    match tk {
        None => true,
        Some(t) => t.item || t.tok == Tok::RBrace,
    }
}

fn opener(t: &Tok<'_>) -> bool {
    matches!(
        t,
        Tok::LParen | Tok::LBracket | Tok::LBrace | Tok::HoleOpen | Tok::TagOpen | Tok::StrStart
    )
}

fn closer(t: &Tok<'_>) -> bool {
    matches!(
        t,
        Tok::RParen | Tok::RBracket | Tok::RBrace | Tok::HoleClose | Tok::TagClose | Tok::StrEnd
    )
}

/// Skips the rest of one statement: up to the next line start outside
/// brackets, a `}` closing the enclosing block, or an item start. With
/// `consume_first`, the first token is taken whatever it is (the caller knows
/// it starts the broken statement). Returns the span skipped, if any.
pub(crate) fn skip_statement(inp: &mut Inp<'_, '_>, consume_first: bool) -> Option<Span> {
    let mut stack: Vec<bool> = Vec::new(); // true for `{`
    let mut first: Option<Span> = None;
    let mut last: Option<Span> = None;
    while let Some(t) = inp.peek_ref() {
        let forced = consume_first && first.is_none();
        if !forced {
            if t.item {
                break;
            }
            if stack.is_empty() && (t.tok == Tok::RBrace || t.nl) {
                break;
            }
        }
        if opener(&t.tok) {
            stack.push(t.tok == Tok::LBrace);
        } else if closer(&t.tok) {
            if t.tok == Tok::RBrace {
                // A `}` closes the innermost `{` and any `(`/`[` left open
                // inside it; without an open `{` it closes the enclosing block.
                match stack.iter().rposition(|b| *b) {
                    Some(i) => stack.truncate(i),
                    None if forced => {}
                    None => break,
                }
            } else {
                stack.pop();
            }
        }
        first.get_or_insert(t.span);
        last = Some(t.span);
        let _ = inp.next_ref();
    }
    Some(first?.to(last?))
}

/// Skips to the next item start; with `consume_first` the first token is
/// taken even when it starts an item.
pub(crate) fn skip_to_item(inp: &mut Inp<'_, '_>, consume_first: bool) -> Option<Span> {
    let mut first: Option<Span> = None;
    let mut last: Option<Span> = None;
    while let Some(t) = inp.peek_ref() {
        if t.item && (first.is_some() || !consume_first) {
            break;
        }
        first.get_or_insert(t.span);
        last = Some(t.span);
        let _ = inp.next_ref();
    }
    Some(first?.to(last?))
}

/// Recovery for the rest of a statement after its keyword: skips it, yields
/// `None` (the caller builds an error node).
pub(crate) fn recover_statement<'a, O: 'a>() -> impl Parser<'a, In<'a>, Option<O>, Ex<'a>> + Clone {
    custom(|inp: &mut Inp<'a, '_>| {
        skip_statement(inp, false);
        Ok(None)
    })
}

/// Recovery for a whole item: skips to the next item start.
pub(crate) fn recover_item<'a, O: 'a>() -> impl Parser<'a, In<'a>, Option<O>, Ex<'a>> + Clone {
    custom(|inp: &mut Inp<'a, '_>| {
        skip_to_item(inp, false);
        Ok(None)
    })
}

/// An error production for a list of entries (steps, fields, rules...): when
/// no entry parser matched, reports the found token once, skips the
/// statement, and yields its span. Fails (consuming nothing) at the end of
/// the block, so the list ends there.
pub(crate) fn bad_entry<'a>(
    what: &'static str,
    keywords: &'static [&'static str],
    help: &'static str,
) -> impl Parser<'a, In<'a>, Span, Ex<'a>> + Clone {
    custom(move |inp: &mut Inp<'a, '_>| {
        let first = inp.peek_ref();
        if at_block_end(first) {
            return Err(peek_err(inp, Expected::Thing(what)));
        }
        let Some(first) = first else {
            return Err(peek_err(inp, Expected::Thing(what)));
        };
        let silent = first.tok == Tok::Error;
        let found_span = first.span;
        let found = super::error::describe_found(Some(&first.tok));
        let suggestion = match &first.tok {
            Tok::Ident(w) => crate::diagnostic::did_you_mean(w, keywords.iter().copied()),
            _ => None,
        };
        let span = skip_statement(inp, true).unwrap_or(found_span);
        if !silent {
            let help = match suggestion {
                Some(s) => format!("did you mean `{s}`?"),
                None => help.to_string(),
            };
            inp.emit(ParseError::custom(Custom {
                code: Code::UnexpectedToken,
                secondary: None,
                span: found_span,
                message: format!("expected {what}, found {found}"),
                // The help line carries the suggestion; the label says
                // what the word is not.
                label: match suggestion {
                    Some(_) => format!("not {what}"),
                    None => format!("expected {what}"),
                },
                help: Some(help),
            }));
        }
        Ok(span)
    })
}

/// Any doc comment lines, joined with `\n`.
pub(crate) fn docs<'a>() -> impl Parser<'a, In<'a>, Option<String>, Ex<'a>> + Clone {
    custom(|inp: &mut Inp<'a, '_>| {
        let mut out: Option<String> = None;
        while let Some(Tk {
            tok: Tok::Doc(d), ..
        }) = inp.peek_ref()
        {
            match &mut out {
                Some(s) => {
                    s.push('\n');
                    s.push_str(d);
                }
                None => out = Some((*d).to_string()),
            }
            let _ = inp.next_ref();
        }
        Ok(out)
    })
}

/// The closing `}` of a block: `Some(span)` when present, `None` (nothing
/// consumed) at the end of the file or the next item, where the block's
/// parser reports the unclosed `{`. Anything else is an error for recovery.
pub(crate) fn close_brace<'a>() -> impl Parser<'a, In<'a>, Option<Span>, Ex<'a>> + Clone {
    custom(move |inp: &mut Inp<'a, '_>| match inp.peek_ref() {
        Some(Tk {
            tok: Tok::RBrace,
            span,
            ..
        }) => {
            let s = *span;
            let _ = inp.next_ref();
            Ok(Some(s))
        }
        None => Ok(None),
        Some(t) if t.item => Ok(None),
        _ => Err(peek_err(inp, Expected::Symbol("}"))),
    })
}

/// The report for a `{` that is never closed.
pub(crate) fn unclosed(open: Span, what: &str) -> ParseError {
    ParseError::custom(Custom {
        code: Code::UnexpectedToken,
        secondary: None,
        span: open,
        message: format!("this `{{` of {what} is never closed"),
        label: "unclosed `{`".into(),
        help: Some("add the missing `}`".into()),
    })
}

/// Converts a token slice into chumsky input.
pub(crate) fn input<'a>(toks: &'a [(Tk<'a>, SimpleSpan)], eof: usize) -> In<'a> {
    toks.split_token_span(SimpleSpan::from(eof..eof))
}

/// An integer literal, optionally negative: `10`, `-5`.
pub(crate) fn int_lit<'a>() -> impl Parser<'a, In<'a>, crate::ast::Spanned<i64>, Ex<'a>> + Clone {
    custom(|inp: &mut Inp<'a, '_>| {
        let cp = inp.save();
        let neg = match inp.peek_ref() {
            Some(Tk {
                tok: Tok::Minus,
                span,
                ..
            }) => {
                let s = *span;
                let _ = inp.next_ref();
                Some(s)
            }
            _ => None,
        };
        match inp.peek_ref() {
            Some(Tk {
                tok: Tok::Int(i),
                span,
                ..
            }) => {
                let (v, s) = (*i, *span);
                let _ = inp.next_ref();
                Ok(match neg {
                    Some(n) => crate::ast::Spanned::new(v.saturating_neg(), n.to(s)),
                    None => crate::ast::Spanned::new(v, s),
                })
            }
            other => {
                let e = ParseError::expected(Expected::Thing("a whole number"), other);
                inp.rewind(cp);
                Err(e)
            }
        }
    })
}

/// `10:00` or `10:00 local`.
pub(crate) fn time_of_day<'a>() -> impl Parser<'a, In<'a>, crate::ast::TimeOfDay, Ex<'a>> + Clone {
    custom(|inp: &mut Inp<'a, '_>| {
        let (hour, minute, span) = match inp.peek_ref() {
            Some(Tk {
                tok: Tok::Time(h, m),
                span,
                ..
            }) => (*h, *m, *span),
            other => {
                return Err(ParseError::expected(
                    Expected::Thing("a time of day such as `10:00`"),
                    other,
                ));
            }
        };
        let _ = inp.next_ref();
        let mut end = span;
        let mut local = false;
        if let Some(Tk {
            tok: Tok::Ident("local"),
            span: ls,
            nl: false,
            ..
        }) = inp.peek_ref()
        {
            end = *ls;
            local = true;
            let _ = inp.next_ref();
        }
        Ok(crate::ast::TimeOfDay {
            hour,
            minute,
            local,
            span: span.to(end),
        })
    })
}

/// The end of a statement: the next token starts a line, closes the block,
/// or there is none. A statement that stops mid-line fails here, so recovery
/// reports the furthest error inside it (where it really broke) instead of
/// the leftover text as a second mistake.
pub(crate) fn statement_end<'a>() -> impl Parser<'a, In<'a>, (), Ex<'a>> + Clone {
    custom(|inp: &mut Inp<'a, '_>| match inp.peek_ref() {
        None => Ok(()),
        Some(t) if t.nl || t.item || t.tok == Tok::RBrace => Ok(()),
        other => Err(ParseError::expected(
            Expected::Thing("the end of the line"),
            other,
        )),
    })
}

/// Succeeds, consuming nothing, unless the next token is one of `words`:
/// keeps a keyword that started another form from being read as a name.
pub(crate) fn not_keyword<'a>(
    words: &'static [&'static str],
) -> impl Parser<'a, In<'a>, (), Ex<'a>> + Clone {
    custom(move |inp: &mut Inp<'a, '_>| match inp.peek_ref() {
        Some(Tk {
            tok: Tok::Ident(w), ..
        }) if words.contains(w) => Err(peek_err(inp, Expected::Thing("an expression"))),
        _ => Ok(()),
    })
}

/// Recovery inside `( ... )` after the `(`: skips to and through the
/// matching `)`, stopping early at a `{`, `}` or item start outside it (the
/// `)` is missing then). Yields an empty list.
pub(crate) fn skip_parens<'a, O: 'a>() -> impl Parser<'a, In<'a>, Vec<O>, Ex<'a>> + Clone {
    custom(|inp: &mut Inp<'a, '_>| {
        let mut depth = 0usize;
        while let Some(t) = inp.peek_ref() {
            if t.item {
                break;
            }
            match t.tok {
                Tok::LParen | Tok::LBracket => depth += 1,
                Tok::RParen | Tok::RBracket if depth > 0 => depth -= 1,
                Tok::RParen => {
                    let _ = inp.next_ref();
                    break;
                }
                Tok::LBrace | Tok::RBrace if depth == 0 => break,
                _ => {}
            }
            let _ = inp.next_ref();
        }
        Ok(Vec::new())
    })
}
