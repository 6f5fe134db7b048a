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
    /// Equality by the text's address, not its bytes.
    fn same(self, other: Expected) -> bool {
        fn eq(a: &'static str, b: &'static str) -> bool {
            std::ptr::eq(a, b)
        }
        match (self, other) {
            (Expected::Keyword(a), Expected::Keyword(b))
            | (Expected::Symbol(a), Expected::Symbol(b))
            | (Expected::Thing(a), Expected::Thing(b)) => eq(a, b),
            (Expected::EndOfFile, Expected::EndOfFile) => true,
            _ => false,
        }
    }

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
    /// Another place worth showing (e.g. the tag left open).
    pub secondary: Option<(Span, String)>,
}

/// Most expectations kept per error; more would not fit in a sentence.
const MAX_EXPECTED: usize = 5;

/// What would have been accepted, kept inline: errors are built for every
/// failed alternative and must not allocate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct ExpectedSet {
    items: [Option<Expected>; MAX_EXPECTED],
}

impl ExpectedSet {
    pub fn one(e: Expected) -> Self {
        let mut s = ExpectedSet::default();
        s.push(e);
        s
    }

    pub fn push(&mut self, e: Expected) {
        for slot in &mut self.items {
            match slot {
                // Same static text at the same address: comparing addresses
                // is enough on this hot path (`render` removes any repeats
                // that differ only in address).
                Some(x) if x.same(e) => return,
                Some(_) => {}
                None => {
                    *slot = Some(e);
                    return;
                }
            }
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = Expected> + '_ {
        self.items.iter().map_while(|x| *x)
    }

    pub fn contains(&self, e: &Expected) -> bool {
        self.iter().any(|x| x == *e)
    }

    pub fn clear(&mut self) {
        *self = ExpectedSet::default();
    }
}

/// A parse error. The found token is not stored: it is looked up by span
/// when the error becomes a diagnostic (most errors never do).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ParseError {
    /// The found token's span; `None` at the end of input.
    pub span: Option<Span>,
    pub expected: ExpectedSet,
    pub help: Option<&'static str>,
    pub custom: Option<Box<Custom>>,
}

impl ParseError {
    pub fn expected(what: Expected, found: Option<&Tk<'_>>) -> Self {
        ParseError {
            span: found.map(|t| t.span),
            expected: ExpectedSet::one(what),
            help: None,
            custom: None,
        }
    }

    pub fn custom(c: Custom) -> Self {
        ParseError {
            span: Some(c.span),
            expected: ExpectedSet::default(),
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

    /// `found`: the token at the error (`None` at the end of input).
    /// `line_end`: when that token starts a new line, the point just after
    /// the previous token — a reader sees the statement stop there.
    pub fn into_diagnostic(
        self,
        file: FileId,
        eof: Span,
        found: Option<&Tok<'_>>,
        line_end: Option<Span>,
    ) -> Diagnostic {
        if let Some(c) = self.custom {
            let mut d = Diagnostic::new(c.code, file, c.span, c.message).with_label(c.label);
            if let Some(h) = c.help {
                d = d.with_help(h);
            }
            if let Some((span, msg)) = c.secondary {
                d = d.with_secondary(file, span, msg);
            }
            return d;
        }
        let found = match line_end {
            Some(_) if found.is_some() => "the end of the line".to_string(),
            _ => describe_found(found),
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
        for e in self.expected.iter() {
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

impl<'a, I> Error<'a, I> for ParseError
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
        for e in other.expected.iter() {
            self.expected.push(e);
        }
        if self.help.is_none() {
            self.help = other.help;
        }
        self
    }
}

impl<'a, I> LabelError<'a, I, DefaultExpected<'a, Tk<'a>>> for ParseError
where
    I: Input<'a, Token = Tk<'a>>,
{
    fn expected_found<E: IntoIterator<Item = DefaultExpected<'a, Tk<'a>>>>(
        expected: E,
        found: Option<MaybeRef<'a, Tk<'a>>>,
        _span: I::Span,
    ) -> Self {
        let mut set = ExpectedSet::default();
        for e in expected {
            match e {
                DefaultExpected::Token(t) => set.push(expected_of(&t.tok)),
                DefaultExpected::EndOfInput => set.push(Expected::EndOfFile),
                _ => {}
            }
        }
        ParseError {
            span: found.as_deref().map(|t| t.span),
            expected: set,
            help: None,
            custom: None,
        }
    }
}

impl<'a, I> LabelError<'a, I, Expected> for ParseError
where
    I: Input<'a, Token = Tk<'a>>,
{
    fn expected_found<E: IntoIterator<Item = Expected>>(
        expected: E,
        found: Option<MaybeRef<'a, Tk<'a>>>,
        _span: I::Span,
    ) -> Self {
        let mut set = ExpectedSet::default();
        for e in expected {
            set.push(e);
        }
        ParseError {
            span: found.as_deref().map(|t| t.span),
            expected: set,
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
