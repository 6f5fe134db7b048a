//! The lexer: `.flow` source (or template-file text) to a flat token stream
//! with byte spans. String literals are lexed with their template structure:
//! `StrStart`, `Text`, `HoleOpen` ...code tokens... `HoleClose`, `TagOpen`
//! ...code... `TagClose`, `StrEnd`, so holes are ordinary code (and may hold
//! strings that hold holes). `"""` strings have their common indentation
//! removed here. Lexing never fails: mistakes become diagnostics (E0004
//! unterminated, E0005 invalid literal, E0006 nesting) and lexing goes on.

use crate::diagnostic::{Code, Diagnostic};
use crate::span::{FileId, Span};
use rust_decimal::Decimal;

/// Deepest nesting of strings inside holes inside strings.
const MAX_STRING_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq)]
pub enum Tok<'s> {
    Ident(&'s str),
    Int(i64),
    Decimal(Decimal),
    Percent(Decimal),
    /// In seconds.
    Duration(i64),
    Time(u8, u8),
    Date(i32, u8, u8),
    True,
    False,
    None,
    And,
    Or,
    Not,
    In,
    LParen,
    RParen,
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    Comma,
    Colon,
    Dot,
    QDot,
    QQ,
    FatArrow,
    Pipe,
    Assign,
    EqEq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Plus,
    Minus,
    Star,
    Slash,
    Question,
    /// One `///` line, without the slashes and one leading space.
    Doc(&'s str),
    StrStart,
    StrEnd,
    Text(String),
    HoleOpen,
    HoleClose,
    TagOpen,
    TagClose,
    /// A character that starts no token; a diagnostic was reported.
    Error,
}

impl Tok<'_> {
    /// How the token reads in an error message.
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Int(i) => format!("`{i}`"),
            Tok::Decimal(d) => format!("`{d}`"),
            Tok::Percent(d) => format!("`{d}%`"),
            Tok::Duration(_) => "a duration".into(),
            Tok::Time(h, m) => format!("`{h:02}:{m:02}`"),
            Tok::Date(..) => "a date".into(),
            Tok::Doc(_) => "a doc comment".into(),
            Tok::StrStart => "a string".into(),
            Tok::StrEnd => "the end of the string".into(),
            Tok::Text(_) => "text".into(),
            Tok::Error => "an invalid character".into(),
            other => format!("`{}`", other.symbol()),
        }
    }

    fn symbol(&self) -> &'static str {
        match self {
            Tok::True => "true",
            Tok::False => "false",
            Tok::None => "none",
            Tok::And => "and",
            Tok::Or => "or",
            Tok::Not => "not",
            Tok::In => "in",
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::LBrace => "{",
            Tok::RBrace => "}",
            Tok::LBracket => "[",
            Tok::RBracket => "]",
            Tok::Comma => ",",
            Tok::Colon => ":",
            Tok::Dot => ".",
            Tok::QDot => "?.",
            Tok::QQ => "??",
            Tok::FatArrow => "=>",
            Tok::Pipe => "|",
            Tok::Assign => "=",
            Tok::EqEq => "==",
            Tok::Ne => "!=",
            Tok::Lt => "<",
            Tok::Le => "<=",
            Tok::Gt => ">",
            Tok::Ge => ">=",
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Star => "*",
            Tok::Slash => "/",
            Tok::Question => "?",
            Tok::HoleOpen => "{{",
            Tok::HoleClose => "}}",
            Tok::TagOpen => "{%",
            Tok::TagClose => "%}",
            _ => "?",
        }
    }
}

pub type Token<'s> = (Tok<'s>, Span);

/// Lexes `.flow` source.
pub fn lex(src: &str, file: FileId) -> (Vec<Token<'_>>, Vec<Diagnostic>) {
    let mut lx = Lexer::new(src, file);
    lx.code(Closer::Eof, false);
    (lx.toks, lx.diags)
}

/// Lexes a whole template file: text from the first byte, holes and tags
/// inside. No `StrStart`/`StrEnd` around it.
pub fn lex_template_text(src: &str, file: FileId) -> (Vec<Token<'_>>, Vec<Diagnostic>) {
    let mut lx = Lexer::new(src, file);
    lx.text(Quote::File);
    (lx.toks, lx.diags)
}

#[derive(Clone, Copy, PartialEq)]
enum Closer {
    Eof,
    Hole,
    Tag,
}

#[derive(Clone, Copy, PartialEq)]
enum Quote {
    Single,
    Triple,
    File,
}

/// How a code run inside a hole or tag ended.
#[derive(PartialEq)]
enum CodeEnd {
    Closed,
    /// The closer is missing; `true` when the enclosing single-line string
    /// ended too (a newline was reached).
    Unterminated(bool),
}

struct Lexer<'s> {
    src: &'s str,
    bytes: &'s [u8],
    pos: usize,
    file: FileId,
    depth: usize,
    toks: Vec<Token<'s>>,
    diags: Vec<Diagnostic>,
}

fn span(a: usize, b: usize) -> Span {
    Span::from(a..b)
}

impl<'s> Lexer<'s> {
    fn new(src: &'s str, file: FileId) -> Self {
        Lexer {
            src,
            bytes: src.as_bytes(),
            pos: 0,
            file,
            depth: 0,
            toks: Vec::with_capacity(src.len() / 4),
            diags: Vec::new(),
        }
    }

    fn peek(&self) -> u8 {
        self.bytes.get(self.pos).copied().unwrap_or(0)
    }

    fn peek_at(&self, n: usize) -> u8 {
        self.bytes.get(self.pos + n).copied().unwrap_or(0)
    }

    fn push(&mut self, t: Tok<'s>, start: usize) {
        self.toks.push((t, span(start, self.pos)));
    }

    fn error(&mut self, code: Code, start: usize, end: usize, msg: String, help: &str) {
        self.diags
            .push(Diagnostic::new(code, self.file, span(start, end), msg).with_help(help));
    }

    /// Lexes code until `closer` (or the end of input).
    fn code(&mut self, closer: Closer, single_line: bool) -> CodeEnd {
        loop {
            let c = self.peek();
            let start = self.pos;
            if self.pos >= self.bytes.len() {
                return if closer == Closer::Eof {
                    CodeEnd::Closed
                } else {
                    CodeEnd::Unterminated(false)
                };
            }
            match c {
                b'\n' if single_line => return CodeEnd::Unterminated(true),
                b' ' | b'\t' | b'\r' | b'\n' => self.pos += 1,
                b'/' if self.peek_at(1) == b'/' => self.comment(),
                b'}' if closer == Closer::Hole && self.peek_at(1) == b'}' => {
                    self.pos += 2;
                    self.push(Tok::HoleClose, start);
                    return CodeEnd::Closed;
                }
                b'%' if closer == Closer::Tag && self.peek_at(1) == b'}' => {
                    self.pos += 2;
                    self.push(Tok::TagClose, start);
                    return CodeEnd::Closed;
                }
                b'"' => {
                    if !self.string() {
                        // A single-line string ran into the newline; when we are
                        // inside a single-line hole, that ends the hole too.
                        if single_line {
                            return CodeEnd::Unterminated(true);
                        }
                    }
                }
                b'0'..=b'9' => self.number(),
                b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                    while matches!(self.peek(), b'a'..=b'z' | b'A'..=b'Z' | b'_' | b'0'..=b'9') {
                        self.pos += 1;
                    }
                    let word = &self.src[start..self.pos];
                    let t = match word {
                        "true" => Tok::True,
                        "false" => Tok::False,
                        "none" => Tok::None,
                        "and" => Tok::And,
                        "or" => Tok::Or,
                        "not" => Tok::Not,
                        "in" => Tok::In,
                        _ => Tok::Ident(word),
                    };
                    self.push(t, start);
                }
                _ => self.punct(c, start),
            }
        }
    }

    fn comment(&mut self) {
        let start = self.pos;
        let end = self.src[start..]
            .find('\n')
            .map_or(self.bytes.len(), |i| start + i);
        let is_doc =
            self.bytes.get(start + 2) == Some(&b'/') && self.bytes.get(start + 3) != Some(&b'/');
        self.pos = end;
        if is_doc {
            let body = &self.src[start + 3..end];
            let body = body.strip_prefix(' ').unwrap_or(body).trim_end();
            self.push(Tok::Doc(body), start);
        }
    }

    fn punct(&mut self, c: u8, start: usize) {
        let two = (c, self.peek_at(1));
        let (t, len) = match two {
            (b'?', b'.') => (Tok::QDot, 2),
            (b'?', b'?') => (Tok::QQ, 2),
            (b'=', b'>') => (Tok::FatArrow, 2),
            (b'=', b'=') => (Tok::EqEq, 2),
            (b'!', b'=') => (Tok::Ne, 2),
            (b'<', b'=') => (Tok::Le, 2),
            (b'>', b'=') => (Tok::Ge, 2),
            (b'(', _) => (Tok::LParen, 1),
            (b')', _) => (Tok::RParen, 1),
            (b'{', _) => (Tok::LBrace, 1),
            (b'}', _) => (Tok::RBrace, 1),
            (b'[', _) => (Tok::LBracket, 1),
            (b']', _) => (Tok::RBracket, 1),
            (b',', _) => (Tok::Comma, 1),
            (b':', _) => (Tok::Colon, 1),
            (b'.', _) => (Tok::Dot, 1),
            (b'|', _) => (Tok::Pipe, 1),
            (b'=', _) => (Tok::Assign, 1),
            (b'<', _) => (Tok::Lt, 1),
            (b'>', _) => (Tok::Gt, 1),
            (b'+', _) => (Tok::Plus, 1),
            (b'-', _) => (Tok::Minus, 1),
            (b'*', _) => (Tok::Star, 1),
            (b'/', _) => (Tok::Slash, 1),
            (b'?', _) => (Tok::Question, 1),
            _ => {
                let ch = self.src[start..].chars().next().unwrap_or('\u{fffd}');
                self.pos += ch.len_utf8().max(1);
                self.error(
                    Code::UnexpectedToken,
                    start,
                    self.pos,
                    format!("unexpected character `{}`", ch.escape_debug()),
                    "remove it; Nudge code uses letters, digits, quotes and the operators of the language",
                );
                self.push(Tok::Error, start);
                return;
            }
        };
        self.pos += len;
        self.push(t, start);
    }

    fn digits(&mut self) -> &'s str {
        let s = self.pos;
        while self.peek().is_ascii_digit() {
            self.pos += 1;
        }
        &self.src[s..self.pos]
    }

    fn number(&mut self) {
        let start = self.pos;
        let int = self.digits();
        // Date: 2026-12-24
        if int.len() == 4 && self.peek() == b'-' && self.peek_at(1).is_ascii_digit() {
            self.pos += 1;
            let m = self.digits();
            if self.peek() == b'-' && self.peek_at(1).is_ascii_digit() {
                self.pos += 1;
                let d = self.digits();
                let (y, m, d) = (
                    int.parse::<i32>().unwrap_or(0),
                    m.parse::<u8>().unwrap_or(0),
                    d.parse::<u8>().unwrap_or(0),
                );
                if !valid_date(y, m, d) {
                    self.error(
                        Code::InvalidLiteral,
                        start,
                        self.pos,
                        format!("`{}` is not a valid date", &self.src[start..self.pos]),
                        "write a date as YYYY-MM-DD, e.g. `2026-12-24`",
                    );
                }
                self.push(Tok::Date(y, m, d), start);
                return;
            }
            // Not a date after all: `2026-1` is subtraction.
            self.pos = start + int.len();
        }
        // Time of day: 10:00
        if self.peek() == b':'
            && self.peek_at(1).is_ascii_digit()
            && self.peek_at(2).is_ascii_digit()
            && int.len() <= 2
        {
            self.pos += 1;
            let m = self.digits();
            let h: u32 = int.parse().unwrap_or(99);
            let mm: u32 = m.parse().unwrap_or(99);
            if h > 23 || mm > 59 || m.len() != 2 {
                self.error(
                    Code::InvalidLiteral,
                    start,
                    self.pos,
                    format!(
                        "`{}` is not a valid time of day",
                        &self.src[start..self.pos]
                    ),
                    "write a time of day as HH:MM between 00:00 and 23:59",
                );
                self.push(Tok::Time(0, 0), start);
            } else {
                self.push(Tok::Time(h as u8, mm as u8), start);
            }
            return;
        }
        // Decimal part
        let mut is_decimal = false;
        if self.peek() == b'.' && self.peek_at(1).is_ascii_digit() {
            self.pos += 1;
            self.digits();
            is_decimal = true;
        }
        let num_end = self.pos;
        let text = &self.src[start..num_end];
        if self.peek() == b'%' && self.peek_at(1) != b'}' {
            self.pos += 1;
            let d = self.decimal(text, start);
            self.push(Tok::Percent(d), start);
            return;
        }
        if !is_decimal && is_unit(self.peek()) {
            self.duration(start, text);
            return;
        }
        if is_decimal {
            let d = self.decimal(text, start);
            self.push(Tok::Decimal(d), start);
        } else {
            match text.parse::<i64>() {
                Ok(i) => self.push(Tok::Int(i), start),
                Err(_) => {
                    self.error(
                        Code::InvalidLiteral,
                        start,
                        num_end,
                        format!("the number `{text}` is too large"),
                        "integers must fit in 64 bits (at most 9223372036854775807)",
                    );
                    self.push(Tok::Int(0), start);
                }
            }
        }
    }

    fn decimal(&mut self, text: &str, start: usize) -> Decimal {
        match text.parse::<Decimal>() {
            Ok(d) => d,
            Err(_) => {
                self.error(
                    Code::InvalidLiteral,
                    start,
                    start + text.len(),
                    format!("the number `{text}` is out of range"),
                    "decimals hold at most 28 significant digits",
                );
                Decimal::ZERO
            }
        }
    }

    /// `1h30m`: number-unit pairs without spaces. `first` is the first
    /// number, already consumed; the unit is next.
    fn duration(&mut self, start: usize, first: &str) {
        let mut total: Option<i64> = Some(0);
        let mut num = first;
        loop {
            let unit = self.peek();
            self.pos += 1;
            let secs = match unit {
                b's' => 1,
                b'm' => 60,
                b'h' => 3600,
                b'd' => 86_400,
                _ => 604_800,
            };
            total = num
                .parse::<i64>()
                .ok()
                .and_then(|n| n.checked_mul(secs))
                .and_then(|v| total.and_then(|t| t.checked_add(v)));
            if self.peek().is_ascii_digit() {
                num = self.digits();
                if !is_unit(self.peek()) {
                    // `1h30` — a number without a unit ends the literal badly.
                    self.error(
                        Code::InvalidLiteral,
                        start,
                        self.pos,
                        format!("`{}` is not a valid duration", &self.src[start..self.pos]),
                        "every part of a duration needs a unit: s, m, h, d or w (e.g. `1h30m`)",
                    );
                    self.push(Tok::Duration(total.unwrap_or(0)), start);
                    return;
                }
            } else {
                break;
            }
        }
        if is_ident_char(self.peek()) {
            while is_ident_char(self.peek()) {
                self.pos += 1;
            }
            self.error(
                Code::InvalidLiteral,
                start,
                self.pos,
                format!("`{}` is not a valid duration", &self.src[start..self.pos]),
                "durations use the units s, m, h, d and w, e.g. `30m`, `7d`, `1h30m`",
            );
            self.push(Tok::Duration(0), start);
            return;
        }
        match total {
            Some(t) => self.push(Tok::Duration(t), start),
            None => {
                self.error(
                    Code::InvalidLiteral,
                    start,
                    self.pos,
                    format!("the duration `{}` is too long", &self.src[start..self.pos]),
                    "use a shorter duration",
                );
                self.push(Tok::Duration(0), start);
            }
        }
    }

    /// Lexes a string literal starting at `"`. Returns false when a
    /// single-line string was cut off by a newline or the end of input.
    fn string(&mut self) -> bool {
        let start = self.pos;
        let triple = self.src[self.pos..].starts_with("\"\"\"");
        self.pos += if triple { 3 } else { 1 };
        self.push(Tok::StrStart, start);
        if self.depth >= MAX_STRING_DEPTH {
            self.error(
                Code::NestingTooDeep,
                start,
                self.pos,
                "strings are nested too deeply inside holes".into(),
                "split the expression into simpler parts",
            );
            // Skip the rest of the line to get out of the nesting.
            while self.pos < self.bytes.len() && self.peek() != b'\n' {
                self.pos += 1;
            }
            self.push(Tok::StrEnd, self.pos);
            return false;
        }
        self.depth += 1;
        let first_tok = self.toks.len();
        let closed = self.text(if triple { Quote::Triple } else { Quote::Single });
        self.depth -= 1;
        if triple && closed {
            trim_indent(&mut self.toks[first_tok..]);
        }
        if !closed {
            self.error(
                Code::UnterminatedString,
                start,
                start + if triple { 3 } else { 1 },
                "this string is never closed".into(),
                if triple {
                    "close it with `\"\"\"`"
                } else {
                    "close it with `\"` on the same line, or use `\"\"\"` for text over several lines"
                },
            );
            let p = self.pos;
            self.toks.push((Tok::StrEnd, span(p, p)));
        }
        closed
    }

    /// Lexes template text up to the closing quote (or end of input for
    /// files). Returns whether the closing quote was found.
    fn text(&mut self, quote: Quote) -> bool {
        let mut buf = String::new();
        let mut buf_start = self.pos;
        loop {
            if self.pos >= self.bytes.len() {
                self.flush(&mut buf, buf_start);
                return quote == Quote::File;
            }
            let c = self.peek();
            match c {
                b'"' if quote == Quote::Single => {
                    self.flush(&mut buf, buf_start);
                    let s = self.pos;
                    self.pos += 1;
                    self.push(Tok::StrEnd, s);
                    return true;
                }
                b'"' if quote == Quote::Triple && self.src[self.pos..].starts_with("\"\"\"") => {
                    self.flush(&mut buf, buf_start);
                    let s = self.pos;
                    self.pos += 3;
                    self.push(Tok::StrEnd, s);
                    return true;
                }
                b'\n' if quote == Quote::Single => {
                    self.flush(&mut buf, buf_start);
                    return false;
                }
                b'\\' if quote != Quote::File => {
                    let s = self.pos;
                    self.pos += 1;
                    let e = self.peek();
                    let out = match e {
                        b'n' => Some('\n'),
                        b't' => Some('\t'),
                        b'r' => Some('\r'),
                        b'"' => Some('"'),
                        b'\\' => Some('\\'),
                        b'{' => Some('{'),
                        b'}' => Some('}'),
                        b'%' => Some('%'),
                        _ => None,
                    };
                    match out {
                        Some(ch) => {
                            self.pos += 1;
                            buf.push(ch);
                        }
                        None => {
                            let ch = self.src[self.pos..].chars().next().unwrap_or(' ');
                            self.pos += ch.len_utf8().min(self.bytes.len() - self.pos);
                            self.error(
                                Code::InvalidLiteral,
                                s,
                                self.pos,
                                format!("unknown escape `\\{}` in a string", ch.escape_debug()),
                                "use one of \\n \\t \\r \\\" \\\\ \\{ \\} \\%",
                            );
                        }
                    }
                }
                b'{' if matches!(self.peek_at(1), b'{' | b'%') => {
                    self.flush(&mut buf, buf_start);
                    let s = self.pos;
                    let is_hole = self.peek_at(1) == b'{';
                    self.pos += 2;
                    self.push(if is_hole { Tok::HoleOpen } else { Tok::TagOpen }, s);
                    let closer = if is_hole { Closer::Hole } else { Closer::Tag };
                    let end = self.code(closer, quote == Quote::Single);
                    if let CodeEnd::Unterminated(string_ended) = end {
                        self.error(
                            Code::UnterminatedString,
                            s,
                            s + 2,
                            if is_hole {
                                "this `{{` hole is never closed".into()
                            } else {
                                "this `{%` tag is never closed".into()
                            },
                            if is_hole {
                                "close it with `}}`"
                            } else {
                                "close it with `%}`"
                            },
                        );
                        let p = self.pos;
                        self.toks.push((
                            if is_hole {
                                Tok::HoleClose
                            } else {
                                Tok::TagClose
                            },
                            span(p, p),
                        ));
                        if string_ended || self.pos >= self.bytes.len() {
                            // The enclosing string is cut off with it; its own
                            // diagnostic would repeat this one.
                            let p = self.pos;
                            self.toks.push((Tok::StrEnd, span(p, p)));
                            return quote != Quote::Single || string_ended;
                        }
                    }
                    buf_start = self.pos;
                }
                _ => {
                    let ch_len = utf8_len(c);
                    let end = (self.pos + ch_len).min(self.bytes.len());
                    buf.push_str(&self.src[self.pos..end]);
                    self.pos = end;
                }
            }
        }
    }

    fn flush(&mut self, buf: &mut String, start: usize) {
        if !buf.is_empty() {
            self.toks
                .push((Tok::Text(std::mem::take(buf)), span(start, self.pos)));
        }
    }
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

fn is_unit(c: u8) -> bool {
    matches!(c, b's' | b'm' | b'h' | b'd' | b'w')
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn valid_date(y: i32, m: u8, d: u8) -> bool {
    if !(1..=12).contains(&m) || d == 0 || y < 1 {
        return false;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    d <= days
}

/// Removes the common indentation of a `"""` string, and its first and last
/// lines when they are blank (like Kotlin's `trimIndent`). `toks` are the
/// string's tokens after `StrStart`, ending with `StrEnd`. Only top-level
/// `Text` tokens are touched; holes count as non-blank content.
fn trim_indent(toks: &mut [Token<'_>]) {
    // Pass 1: the smallest indentation of a non-blank line.
    let mut min = usize::MAX;
    let mut at_line_start = true;
    let mut indent = 0usize;
    let mut depth = 0usize;
    for (t, _) in toks.iter() {
        match t {
            Tok::Text(s) if depth == 0 => {
                for ch in s.chars() {
                    if ch == '\n' {
                        at_line_start = true;
                        indent = 0;
                    } else if at_line_start && (ch == ' ' || ch == '\t') {
                        indent += 1;
                    } else if at_line_start {
                        min = min.min(indent);
                        at_line_start = false;
                    }
                }
            }
            Tok::HoleOpen | Tok::TagOpen | Tok::StrStart => {
                if depth == 0 && at_line_start {
                    min = min.min(indent);
                    at_line_start = false;
                }
                depth += 1;
            }
            Tok::HoleClose | Tok::TagClose | Tok::StrEnd => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    if min == usize::MAX {
        min = 0;
    }
    // Pass 2: rewrite.
    let text_idx: Vec<usize> = {
        let mut depth = 0usize;
        let mut v = Vec::new();
        for (i, (t, _)) in toks.iter().enumerate() {
            match t {
                Tok::Text(_) if depth == 0 => v.push(i),
                Tok::HoleOpen | Tok::TagOpen | Tok::StrStart => depth += 1,
                Tok::HoleClose | Tok::TagClose | Tok::StrEnd => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        v
    };
    let last_top = toks.len().saturating_sub(2); // token before StrEnd
    let mut at_line_start = true;
    for (n, &i) in text_idx.iter().enumerate() {
        let Tok::Text(s) = &mut toks[i].0 else {
            continue;
        };
        let mut out = String::with_capacity(s.len());
        let mut chars = s.chars().peekable();
        let mut dropped = 0usize;
        // The first line (right after `"""`) is dropped when blank.
        if n == 0 && i == 0 {
            let first_line_end = s.find('\n');
            if let Some(e) = first_line_end
                && s[..e].trim().is_empty()
            {
                chars = s[e + 1..].chars().peekable();
            }
        }
        for ch in chars.by_ref() {
            if at_line_start && dropped < min && (ch == ' ' || ch == '\t') {
                dropped += 1;
                continue;
            }
            if ch == '\n' {
                at_line_start = true;
                dropped = 0;
                out.push(ch);
                continue;
            }
            at_line_start = false;
            out.push(ch);
        }
        // The last line (before the closing `"""`) is dropped when blank.
        if i == last_top
            && let Some(nl) = out.rfind('\n')
            && out[nl + 1..].trim().is_empty()
        {
            out.truncate(nl);
        }
        *s = out;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(src: &str) -> Vec<Tok<'_>> {
        let (t, d) = lex(src, FileId(0));
        assert!(d.is_empty(), "{d:?}");
        t.into_iter().map(|(t, _)| t).collect()
    }

    fn codes(src: &str) -> Vec<&'static str> {
        lex(src, FileId(0))
            .1
            .iter()
            .map(|d| d.code.as_str())
            .collect()
    }

    #[test]
    fn literals() {
        assert_eq!(
            toks("10 9.99 10% 30m 1h30m 2w 10:00 2026-12-24"),
            vec![
                Tok::Int(10),
                Tok::Decimal(Decimal::new(999, 2)),
                Tok::Percent(Decimal::from(10)),
                Tok::Duration(1800),
                Tok::Duration(5400),
                Tok::Duration(1_209_600),
                Tok::Time(10, 0),
                Tok::Date(2026, 12, 24),
            ]
        );
        assert_eq!(toks("20 USD"), vec![Tok::Int(20), Tok::Ident("USD")]);
    }

    #[test]
    fn operators() {
        assert_eq!(
            toks("a?.b ?? c => | == != <= >= = ."),
            vec![
                Tok::Ident("a"),
                Tok::QDot,
                Tok::Ident("b"),
                Tok::QQ,
                Tok::Ident("c"),
                Tok::FatArrow,
                Tok::Pipe,
                Tok::EqEq,
                Tok::Ne,
                Tok::Le,
                Tok::Ge,
                Tok::Assign,
                Tok::Dot,
            ]
        );
    }

    #[test]
    fn comments_and_docs() {
        assert_eq!(
            toks("// hi\n/// doc here\nx //// not doc"),
            vec![Tok::Doc("doc here"), Tok::Ident("x")]
        );
    }

    #[test]
    fn string_with_nested_hole() {
        assert_eq!(
            toks(r#""{{ a ?? "Hi {{ b }}" }}, x\n""#),
            vec![
                Tok::StrStart,
                Tok::HoleOpen,
                Tok::Ident("a"),
                Tok::QQ,
                Tok::StrStart,
                Tok::Text("Hi ".into()),
                Tok::HoleOpen,
                Tok::Ident("b"),
                Tok::HoleClose,
                Tok::StrEnd,
                Tok::HoleClose,
                Tok::Text(", x\n".into()),
                Tok::StrEnd,
            ]
        );
    }

    #[test]
    fn tags() {
        assert_eq!(
            toks(r#""{% if x %}y{% endif %}""#),
            vec![
                Tok::StrStart,
                Tok::TagOpen,
                Tok::Ident("if"),
                Tok::Ident("x"),
                Tok::TagClose,
                Tok::Text("y".into()),
                Tok::TagOpen,
                Tok::Ident("endif"),
                Tok::TagClose,
                Tok::StrEnd,
            ]
        );
    }

    #[test]
    fn triple_quoted_trims_indent() {
        let src = "\"\"\"\n    Hello {{ x }}\n      more\n    end\n  \"\"\"";
        let t = toks(src);
        let texts: String = t
            .iter()
            .filter_map(|t| match t {
                Tok::Text(s) => Some(s.as_str()),
                Tok::HoleOpen => Some("<"),
                _ => None,
            })
            .collect();
        assert_eq!(texts, "Hello <\n  more\nend");
    }

    #[test]
    fn invalid_literals() {
        assert_eq!(codes("25:99"), vec!["E0005"]);
        assert_eq!(codes("99999999999999999999"), vec!["E0005"]);
        assert_eq!(codes("2026-02-30"), vec!["E0005"]);
        assert_eq!(codes("3x"), Vec::<&str>::new()); // `3` then ident `x`
        assert_eq!(codes("3dx"), vec!["E0005"]);
    }

    #[test]
    fn unterminated() {
        let (t, d) = lex("a \"abc\nb", FileId(0));
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].code, Code::UnterminatedString);
        assert_eq!(t.last().map(|t| &t.0), Some(&Tok::Ident("b")));
        let (_, d) = lex("\"a {{ b \nc", FileId(0));
        assert_eq!(d.len(), 1, "{d:?}");
        let (_, d) = lex("\"\"\"abc", FileId(0));
        assert_eq!(d.len(), 1);
    }

    #[test]
    fn template_file_mode() {
        let (t, d) = lex_template_text("<p>\"Hi\" {{ x }}</p>", FileId(0));
        assert!(d.is_empty());
        assert_eq!(t[0].0, Tok::Text("<p>\"Hi\" ".into()));
        assert_eq!(t[1].0, Tok::HoleOpen);
    }
}
