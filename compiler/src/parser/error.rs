//! The parser's error value and its conversion to a [`Diagnostic`].
//!
//! Chumsky builds a `ParseError` for every alternative that fails; it must be
//! cheap, because most of them are thrown away when another alternative
//! succeeds. Only the errors that survive (emitted by recovery or by our own
//! error productions) become diagnostics.

use super::tokens::Tk;
use crate::diagnostic::{Code, Diagnostic};
use crate::lexer::Tok;
use crate::span::{FileId, Span};
use chumsky::DefaultExpected;
use chumsky::error::{Error, LabelError};
use chumsky::input::Input;
use chumsky::util::MaybeRef;

/// Something the parser would have accepted at the failing position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expected {
    /// A contextual keyword such as `send`, shown as `` `send` ``.
    Keyword(&'static str),
    /// A punctuation token, shown as `` `(` ``.
    Symbol(&'static str),
    /// A described thing: "an expression", "a name".
    Thing(&'static str),
    EndOfFile,
}

impl Expected {
    fn render(self) -> String {
        match self {
            Expected::Keyword(k) | Expected::Symbol(k) => format!("`{k}`"),
            Expected::Thing(t) => t.to_string(),
            Expected::EndOfFile => "the end of the file".into(),
        }
    }
}

/// A ready-made diagnostic from an error production ("expected a step such as
/// `send`, found `sned`"), carried through chumsky unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Custom {
    pub code: Code,
    pub span: Span,
    pub message: String,
    pub label: String,
    pub help: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ParseError<'a> {
    /// The found token's span; `None` at the end of input.
    pub span: Option<Span>,
    pub found: Option<Tok<'a>>,
    pub expected: Vec<Expected>,
    pub help: Option<&'static str>,
    pub custom: Option<Box<Custom>>,
}

impl<'a> ParseError<'a> {
    pub fn expected(what: Expected, found: Option<&Tk<'a>>) -> Self {
        ParseError {
            span: found.map(|t| t.span),
            found: found.map(|t| t.tok.clone()),
            expected: vec![what],
            help: None,
            custom: None,
        }
    }

    pub fn custom(c: Custom) -> Self {
        ParseError {
            span: Some(c.span),
            found: None,
            expected: Vec::new(),
            help: None,
            custom: Some(Box::new(c)),
        }
    }

    pub fn with_help(mut self, help: &'static str) -> Self {
        if self.help.is_none() {
            self.help = Some(help);
        }
        self
    }

    /// True when the error sits on a token the lexer (or the nesting check)
    /// already reported; reporting it again would be a cascade.
    pub fn already_reported(&self) -> bool {
        self.custom.is_none() && matches!(self.found, Some(Tok::Error))
    }

    /// `line_end`: when the found token starts a new line, the point just
    /// after the previous token — a reader sees the statement stop there.
    pub fn into_diagnostic(self, file: FileId, eof: Span, line_end: Option<Span>) -> Diagnostic {
        if let Some(c) = self.custom {
            let mut d = Diagnostic::new(c.code, file, c.span, c.message).with_label(c.label);
            if let Some(h) = c.help {
                d = d.with_help(h);
            }
            return d;
        }
        let found = match line_end {
            Some(_) if self.found.is_some() => "the end of the line".to_string(),
            _ => describe_found(self.found.as_ref()),
        };
        let span = line_end.or(self.span).unwrap_or(eof);
        let mut expected: Vec<String> = Vec::new();
        // After a complete expression every operator is possible; naming
        // them all would drown the point.
        let ends_line = self
            .expected
            .contains(&Expected::Thing("the end of the line"));
        if ends_line {
            expected.push("the end of the line".into());
        }
        // Prefix operators are part of "an expression".
        let wants_expr = self.expected.contains(&Expected::Thing("an expression"));
        for e in &self.expected {
            if ends_line && matches!(e, Expected::Symbol(_) | Expected::Keyword(_)) {
                continue;
            }
            if wants_expr && matches!(e, Expected::Symbol("not" | "-")) {
                continue;
            }
            let r = e.render();
            if !expected.contains(&r) {
                expected.push(r);
            }
        }
        let message = if expected.is_empty() {
            format!("unexpected {found}")
        } else {
            format!("expected {}, found {found}", join_or(&expected))
        };
        let label = if expected.is_empty() {
            "not expected here".to_string()
        } else {
            format!("expected {} here", join_or(&expected))
        };
        let help = self
            .help
            .unwrap_or("check the syntax here against docs/language.md");
        Diagnostic::new(Code::UnexpectedToken, file, span, message)
            .with_label(label)
            .with_help(help)
    }
}

pub(crate) fn describe_found(found: Option<&Tok<'_>>) -> String {
    match found {
        None => "the end of the file".into(),
        Some(Tok::StrStart) => "a string".into(),
        Some(t) => t.describe(),
    }
}

/// `a`, `a or b`, `a, b or c` — long lists are cut to keep the sentence short.
pub(crate) fn join_or(items: &[String]) -> String {
    let items = if items.len() > 5 { &items[..5] } else { items };
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// How a token reads as an expectation (`` `(` ``, "a name").
fn expected_of(tok: &Tok<'_>) -> Expected {
    match tok {
        Tok::Ident(_) => Expected::Thing("a name"),
        Tok::Int(_) => Expected::Thing("a number"),
        Tok::Decimal(_) => Expected::Thing("a number"),
        Tok::Percent(_) => Expected::Thing("a percentage"),
        Tok::Duration(_) => Expected::Thing("a duration"),
        Tok::Time(..) => Expected::Thing("a time of day"),
        Tok::Date(..) => Expected::Thing("a date"),
        Tok::StrStart => Expected::Thing("a string"),
        Tok::Doc(_) => Expected::Thing("a doc comment"),
        _ => Expected::Thing("a token"),
    }
}

impl<'a, I> Error<'a, I> for ParseError<'a>
where
    I: Input<'a, Token = Tk<'a>>,
{
    fn merge(mut self, other: Self) -> Self {
        if self.custom.is_some() {
            return self;
        }
        if other.custom.is_some() {
            return other;
        }
        for e in other.expected {
            if !self.expected.contains(&e) {
                self.expected.push(e);
            }
        }
        if self.help.is_none() {
            self.help = other.help;
        }
        self
    }
}

impl<'a, I> LabelError<'a, I, DefaultExpected<'a, Tk<'a>>> for ParseError<'a>
where
    I: Input<'a, Token = Tk<'a>>,
{
    fn expected_found<E: IntoIterator<Item = DefaultExpected<'a, Tk<'a>>>>(
        expected: E,
        found: Option<MaybeRef<'a, Tk<'a>>>,
        _span: I::Span,
    ) -> Self {
        let expected = expected
            .into_iter()
            .filter_map(|e| match e {
                DefaultExpected::Token(t) => Some(expected_of(&t.tok)),
                DefaultExpected::EndOfInput => Some(Expected::EndOfFile),
                _ => None,
            })
            .collect();
        let found = found.as_deref();
        ParseError {
            span: found.map(|t| t.span),
            found: found.map(|t| t.tok.clone()),
            expected,
            help: None,
            custom: None,
        }
    }
}

impl<'a, I> LabelError<'a, I, Expected> for ParseError<'a>
where
    I: Input<'a, Token = Tk<'a>>,
{
    fn expected_found<E: IntoIterator<Item = Expected>>(
        expected: E,
        found: Option<MaybeRef<'a, Tk<'a>>>,
        _span: I::Span,
    ) -> Self {
        let found = found.as_deref();
        ParseError {
            span: found.map(|t| t.span),
            found: found.map(|t| t.tok.clone()),
            expected: expected.into_iter().collect(),
            help: None,
            custom: None,
        }
    }

    fn label_with(&mut self, label: Expected) {
        if self.custom.is_none() {
            self.expected.clear();
            self.expected.push(label);
        }
    }
}
