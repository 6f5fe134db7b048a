//! Rendering compiled templates (`nudge_bytecode::template`) with runtime
//! values: holes, filters, `{% if %}`, `{% for %}`.
//!
//! What the delivery shell fills in afterwards (the renderer does not know
//! per-message URLs):
//! - `unsubscribe_url`, `preferences_url`, `view_in_browser_url` render as
//!   the markers of `Placeholder::marker` (`{{nudge:unsubscribe_url}}`).
//! - `http(s)` links in the HTML part become `{{nudge:link:N}}` markers and
//!   their destinations are listed in `RenderedEmail::tracked_links`, so the
//!   shell puts its click-tracking redirect there (see `crate::links`).
//! - `short_link` renders its URL unchanged and lists it in
//!   `links_to_shorten`, so the SMS shell can replace it with a short link.
//!
//! Hole values in the HTML part are HTML-escaped; literal template text is
//! not (it is the author's markup). `money` prints a symbol for common
//! currencies (`$12.50`, `€9.99`) and the code otherwise (`12.50 CHF`);
//! `date` prints `November 25, 2026` (timestamps by their UTC date).

use crate::vm::text::write_plain;
use crate::vm::{Env, Vm, VmError};
use nudge_bytecode::Code;
use nudge_bytecode::op::{Channel, Op};
use nudge_bytecode::template::{Filter, PartKind, Template, Text, TextNode};
use nudge_bytecode::{Date, Value};
use nudge_stdlib::sms::{SmsMeasure, measure};
use rust_decimal::{Decimal, RoundingStrategy};
use std::fmt;

/// A rendered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rendered {
    Email(RenderedEmail),
    Sms(RenderedSms),
    Push(RenderedPush),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    pub subject: String,
    pub preheader: Option<String>,
    pub from: Option<String>,
    pub reply_to: Option<String>,
    /// With each tracked link's `href` replaced by `{{nudge:link:N}}`.
    pub html: Option<String>,
    pub text: String,
    /// Destination of marker `N` of `html`, in order.
    pub tracked_links: Vec<String>,
    pub links_to_shorten: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedSms {
    pub body: String,
    /// Encoding, units and segment count of `body` as rendered (before the
    /// shell shortens links).
    pub measure: SmsMeasure,
    pub links_to_shorten: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedPush {
    pub title: String,
    pub body: String,
    pub url: Option<String>,
    pub links_to_shorten: Vec<String>,
}

/// Why a template could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenderError {
    NoSuchTemplate(u16),
    WrongArgumentCount {
        template: String,
        expected: u16,
        given: usize,
    },
    /// A required part (email `subject`/`text`, sms `body`, push `title`/`body`) is missing.
    MissingPart {
        template: String,
        part: &'static str,
    },
    Eval {
        template: String,
        error: VmError,
    },
    Filter {
        template: String,
        message: String,
    },
}

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RenderError::NoSuchTemplate(i) => write!(f, "template {i} does not exist"),
            RenderError::WrongArgumentCount {
                template,
                expected,
                given,
            } => {
                write!(
                    f,
                    "template {template:?} takes {expected} arguments, {given} given"
                )
            }
            RenderError::MissingPart { template, part } => {
                write!(f, "template {template:?} has no {part} part")
            }
            RenderError::Eval { template, error } => write!(f, "template {template:?}: {error}"),
            RenderError::Filter { template, message } => {
                write!(f, "template {template:?}: {message}")
            }
        }
    }
}

impl std::error::Error for RenderError {}

/// Renders template `index` of the VM's bundle with `args`.
pub fn render(vm: &Vm, index: u16, args: &[Value], env: &dyn Env) -> Result<Rendered, RenderError> {
    let (template, mut r) = Renderer::start(vm, index, args, env)?;
    let mut part = |kind: PartKind| -> Result<Option<String>, RenderError> {
        match template.part(kind) {
            Some(text) => {
                let mut out = String::new();
                r.text(text, kind == PartKind::Html, &mut out)?;
                Ok(Some(out))
            }
            None => Ok(None),
        }
    };
    let missing = |part: &'static str| RenderError::MissingPart {
        template: template.name.clone(),
        part,
    };
    let rendered = match template.channel {
        Channel::Email => {
            let subject = part(PartKind::Subject)?.ok_or_else(|| missing("subject"))?;
            let preheader = part(PartKind::Preheader)?;
            let from = part(PartKind::From)?;
            let reply_to = part(PartKind::ReplyTo)?;
            let html = part(PartKind::Html)?.map(|h| crate::links::track_links(&h));
            let text = part(PartKind::Text)?.ok_or_else(|| missing("text"))?;
            let (html, tracked_links) = match html {
                Some(t) => (Some(t.html), t.links),
                None => (None, Vec::new()),
            };
            Rendered::Email(RenderedEmail {
                subject,
                preheader,
                from,
                reply_to,
                html,
                text,
                tracked_links,
                links_to_shorten: r.links,
            })
        }
        Channel::Sms => {
            let body = part(PartKind::Body)?.ok_or_else(|| missing("body"))?;
            Rendered::Sms(RenderedSms {
                measure: measure(&body),
                body,
                links_to_shorten: r.links,
            })
        }
        Channel::Push => {
            let title = part(PartKind::Title)?.ok_or_else(|| missing("title"))?;
            let body = part(PartKind::Body)?.ok_or_else(|| missing("body"))?;
            let url = part(PartKind::Url)?;
            Rendered::Push(RenderedPush {
                title,
                body,
                url,
                links_to_shorten: r.links,
            })
        }
    };
    Ok(rendered)
}

/// The parts of a message in the order `render` renders them, each with
/// whether the message needs it.
fn parts_of(channel: Channel) -> &'static [(PartKind, Option<&'static str>)] {
    match channel {
        Channel::Email => &[
            (PartKind::Subject, Some("subject")),
            (PartKind::Preheader, None),
            (PartKind::From, None),
            (PartKind::ReplyTo, None),
            (PartKind::Html, None),
            (PartKind::Text, Some("text")),
        ],
        Channel::Sms => &[(PartKind::Body, Some("body"))],
        Channel::Push => &[
            (PartKind::Title, Some("title")),
            (PartKind::Body, Some("body")),
            (PartKind::Url, None),
        ],
    }
}

/// The part a one-line excerpt of a message shows: the email subject, the
/// SMS body, the push title (as `trace::Content::excerpt`).
pub fn excerpt_part(channel: Channel) -> PartKind {
    match channel {
        Channel::Email => PartKind::Subject,
        Channel::Sms => PartKind::Body,
        Channel::Push => PartKind::Title,
    }
}

/// Renders only the part a trace shows (`excerpt_part`) and returns its
/// text; `render` of the same arguments succeeds exactly when this does,
/// with the same error: every other part is still evaluated in the same
/// order (holes, filters, conditions, loops) but its text is not built. A
/// simulation that keeps no messages saves building the HTML and text
/// bodies.
pub fn render_excerpt(
    vm: &Vm,
    index: u16,
    args: &[Value],
    env: &dyn Env,
) -> Result<String, RenderError> {
    let (template, mut r) = Renderer::start(vm, index, args, env)?;
    let wanted = excerpt_part(template.channel);
    let mut excerpt = String::new();
    for &(kind, required) in parts_of(template.channel) {
        match (template.part(kind), required) {
            (Some(text), _) if kind == wanted => {
                r.text(text, kind == PartKind::Html, &mut excerpt)?
            }
            (Some(text), _) => r.text(text, kind == PartKind::Html, &mut Discard)?,
            (None, Some(part)) => {
                return Err(RenderError::MissingPart {
                    template: template.name.clone(),
                    part,
                });
            }
            (None, None) => {}
        }
    }
    Ok(excerpt)
}

/// Whether a hole certainly evaluates without error (so one whose text is
/// not kept can be skipped): the shapes the compiler emits for the most
/// common holes — a constant, a local, a field of a local that holds a
/// record (or `none`) in `frame`, a shop setting, a trait with a `??`
/// default — followed only by filters that take any value.
fn cannot_fail(code: &Code, filters: &[Filter], frame: &[Value]) -> bool {
    let name = |i: u16| matches!(code.consts.get(usize::from(i)), Some(Value::Str(_)));
    let constant = |i: u16| code.consts.get(usize::from(i)).is_some();
    // A local the frame has, or one `eval` adds (as `none`).
    let local = |l: u16| usize::from(l) < frame.len().max(usize::from(code.locals));
    let record_or_none = |l: u16| {
        local(l)
            && matches!(
                frame.get(usize::from(l)),
                None | Some(Value::None | Value::Record(_))
            )
    };
    let shape = match code.ops.as_slice() {
        [Op::Const(i), Op::Return] => constant(*i),
        [Op::LoadLocal(l), Op::Return] => local(*l),
        [Op::LoadLocal(l), Op::GetField { name: n, .. }, Op::Return] => {
            record_or_none(*l) && name(*n)
        }
        [Op::LoadShop, Op::GetField { name: n, .. }, Op::Return] => name(*n),
        [
            Op::LoadTrait(n),
            Op::JumpIfSome(3),
            Op::Const(i),
            Op::Return,
        ] => name(*n) && constant(*i),
        _ => false,
    };
    shape
        && filters.iter().all(|f| {
            matches!(
                f,
                Filter::Upper
                    | Filter::Lower
                    | Filter::Title
                    | Filter::Truncate(_)
                    | Filter::ShortLink
            )
        })
}

/// Where rendered text goes: a string, or nowhere (evaluated, not built).
trait Out {
    /// Whether the text is kept.
    fn keeps(&self) -> bool;
    fn push(&mut self, s: &str);
    /// The string to write a hole's value into, if text is kept.
    fn text(&mut self) -> Option<&mut String>;
}

impl Out for String {
    fn keeps(&self) -> bool {
        true
    }
    fn push(&mut self, s: &str) {
        self.push_str(s);
    }
    fn text(&mut self) -> Option<&mut String> {
        Some(self)
    }
}

struct Discard;

impl Out for Discard {
    fn keeps(&self) -> bool {
        false
    }
    fn push(&mut self, _: &str) {}
    fn text(&mut self) -> Option<&mut String> {
        None
    }
}

struct Renderer<'a> {
    vm: &'a Vm<'a>,
    env: &'a dyn Env,
    template: &'a str,
    frame: Vec<Value>,
    links: Vec<String>,
    /// The VM's operand stack, reused by every hole.
    stack: Vec<Value>,
    /// A hole's text before HTML escaping, reused by every hole.
    scratch: String,
}

impl<'a> Renderer<'a> {
    /// Template `index` of the bundle and a renderer whose frame holds
    /// `args`, checked against the template's parameters.
    fn start(
        vm: &'a Vm<'a>,
        index: u16,
        args: &[Value],
        env: &'a dyn Env,
    ) -> Result<(&'a Template, Renderer<'a>), RenderError> {
        let Some(template) = vm.bundle().templates.get(usize::from(index)) else {
            return Err(RenderError::NoSuchTemplate(index));
        };
        if args.len() != usize::from(template.params) {
            return Err(RenderError::WrongArgumentCount {
                template: template.name.clone(),
                expected: template.params,
                given: args.len(),
            });
        }
        let mut frame = args.to_vec();
        frame.resize(usize::from(template.locals), Value::None);
        let r = Renderer {
            vm,
            env,
            template: &template.name,
            frame,
            links: Vec::new(),
            stack: Vec::new(),
            scratch: String::new(),
        };
        Ok((template, r))
    }

    fn eval(&mut self, code: &nudge_bytecode::Code) -> Result<Value, RenderError> {
        self.vm
            .eval_with(code, &mut self.frame, None, self.env, &mut self.stack)
            .map_err(|error| RenderError::Eval {
                template: self.template.to_string(),
                error,
            })
    }

    fn text<O: Out>(&mut self, text: &Text, html: bool, out: &mut O) -> Result<(), RenderError> {
        for node in &text.0 {
            match node {
                TextNode::Lit(s) => out.push(s),
                TextNode::Placeholder(p) => out.push(p.marker()),
                TextNode::Hole { expr, filters } => {
                    if !out.keeps() && cannot_fail(expr, filters, &self.frame) {
                        // Its text would be thrown away, and it cannot fail.
                        continue;
                    }
                    let mut v = self.eval(expr)?;
                    for filter in filters {
                        v = self.filter(filter, v)?;
                    }
                    if let Some(out) = out.text() {
                        if html {
                            self.scratch.clear();
                            write_plain(&mut self.scratch, &v);
                            escape_html(&self.scratch, out);
                        } else {
                            write_plain(out, &v);
                        }
                    }
                }
                TextNode::If {
                    branches,
                    otherwise,
                } => {
                    let mut taken = false;
                    for (cond, body) in branches {
                        match self.eval(cond)? {
                            Value::Bool(true) => {
                                self.text(body, html, out)?;
                                taken = true;
                                break;
                            }
                            Value::Bool(false) => {}
                            other => {
                                return Err(self.filter_error(format!(
                                    "`if` condition gave {}",
                                    other.kind()
                                )));
                            }
                        }
                    }
                    if !taken && let Some(body) = otherwise {
                        self.text(body, html, out)?;
                    }
                }
                TextNode::For { var, list, body } => {
                    let items = match self.eval(list)? {
                        Value::List(items) => items,
                        Value::None => Vec::new(),
                        other => {
                            return Err(self.filter_error(format!(
                                "`for` needs a list, found {}",
                                other.kind()
                            )));
                        }
                    };
                    let slot = usize::from(*var);
                    for item in items {
                        if let Some(s) = self.frame.get_mut(slot) {
                            *s = item;
                        }
                        self.text(body, html, out)?;
                    }
                    if let Some(s) = self.frame.get_mut(slot) {
                        *s = Value::None;
                    }
                }
            }
        }
        Ok(())
    }

    fn filter_error(&self, message: String) -> RenderError {
        RenderError::Filter {
            template: self.template.to_string(),
            message,
        }
    }

    fn filter(&mut self, filter: &Filter, v: Value) -> Result<Value, RenderError> {
        let wrong = |name: &str, v: &Value| format!("filter `{name}` cannot take {}", v.kind());
        Ok(match filter {
            Filter::Money => match &v {
                Value::Money(m) => Value::str(format_money(m.amount, m.currency.as_str())),
                Value::Int(_) | Value::Decimal(_) => {
                    let d = match &v {
                        Value::Int(i) => Decimal::from(*i),
                        Value::Decimal(d) => *d,
                        _ => Decimal::ZERO,
                    };
                    Value::str(group_thousands(d, 2))
                }
                Value::None => Value::None,
                _ => return Err(self.filter_error(wrong("money", &v))),
            },
            Filter::Date => match &v {
                Value::Date(d) => Value::str(format_date(d)),
                Value::Timestamp(ms) => {
                    match Date::from_days_since_epoch(ms.div_euclid(86_400_000)) {
                        Some(d) => Value::str(format_date(&d)),
                        None => {
                            return Err(
                                self.filter_error("timestamp out of the calendar's range".into())
                            );
                        }
                    }
                }
                Value::None => Value::None,
                _ => return Err(self.filter_error(wrong("date", &v))),
            },
            Filter::Upper => map_str(v, |s| s.to_uppercase()),
            Filter::Lower => map_str(v, |s| s.to_lowercase()),
            Filter::Title => map_str(v, |s| title_case(&s)),
            Filter::Truncate(n) => map_str(v, |s| truncate(&s, *n as usize)),
            Filter::Count => match &v {
                Value::List(items) => Value::Int(items.len() as i64),
                Value::Str(s) => Value::Int(s.chars().count() as i64),
                Value::None => Value::Int(0),
                _ => return Err(self.filter_error(wrong("count", &v))),
            },
            Filter::ShortLink => {
                let mut s = String::new();
                write_plain(&mut s, &v);
                if !s.is_empty() && !self.links.contains(&s) {
                    self.links.push(s.clone());
                }
                Value::str(s)
            }
            Filter::Default(code) => {
                let empty =
                    matches!(&v, Value::None) || matches!(&v, Value::Str(s) if s.is_empty());
                if empty { self.eval(code)? } else { v }
            }
        })
    }
}

/// Applies `f` to the plain text of a value (`none` stays `none`).
fn map_str(v: Value, f: impl Fn(String) -> String) -> Value {
    match v {
        Value::None => Value::None,
        Value::Str(s) => Value::str(f(s.to_string())),
        other => {
            let mut s = String::new();
            write_plain(&mut s, &other);
            Value::str(f(s))
        }
    }
}

fn escape_html(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

fn title_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut at_word_start = true;
    for c in s.chars() {
        if at_word_start {
            out.extend(c.to_uppercase());
        } else {
            out.extend(c.to_lowercase());
        }
        at_word_start = c.is_whitespace() || c == '-';
    }
    out
}

/// At most `n` characters; a cut string ends with `…` (counted in `n`).
fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let mut out: String = s.chars().take(n.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// `1234.5` → `1,234.50` (`places` decimals, half away from zero).
fn group_thousands(amount: Decimal, places: u32) -> String {
    let rounded = amount.round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero);
    let text = format!("{:.*}", places as usize, rounded.abs());
    let (int, frac) = text.split_once('.').unwrap_or((text.as_str(), ""));
    let negative = rounded.is_sign_negative() && !rounded.is_zero();
    let mut out = String::with_capacity(text.len() + int.len() / 3 + 2);
    if negative {
        out.push('-');
    }
    // The integer part is ASCII digits: one byte each.
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if text.contains('.') {
        out.push('.');
        out.push_str(frac);
    }
    out
}

/// `$12.50`, `€9.99`, `¥1,200`, `12.50 CHF`.
pub fn format_money(amount: Decimal, currency: &str) -> String {
    let places = match currency {
        "JPY" | "KRW" | "VND" | "CLP" | "ISK" => 0,
        _ => 2,
    };
    let number = group_thousands(amount, places);
    let symbol = match currency {
        "USD" => Some("$"),
        "EUR" => Some("€"),
        "GBP" => Some("£"),
        "JPY" => Some("¥"),
        "TRY" => Some("₺"),
        "INR" => Some("₹"),
        "CAD" => Some("CA$"),
        "AUD" => Some("A$"),
        _ => None,
    };
    match (symbol, number.strip_prefix('-')) {
        (Some(sym), Some(abs)) => format!("-{sym}{abs}"),
        (Some(sym), None) => format!("{sym}{number}"),
        (None, _) => format!("{number} {currency}"),
    }
}

fn format_date(d: &Date) -> String {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let month = MONTHS
        .get(usize::from(d.month).saturating_sub(1))
        .copied()
        .unwrap_or("?");
    format!("{month} {}, {}", d.day, d.year)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_and_text_helpers() {
        assert_eq!(format_money(Decimal::new(12_345, 1), "USD"), "$1,234.50");
        assert_eq!(format_money(Decimal::new(-999, 2), "EUR"), "-€9.99");
        assert_eq!(format_money(Decimal::new(1200, 0), "JPY"), "¥1,200");
        assert_eq!(format_money(Decimal::new(1250, 2), "CHF"), "12.50 CHF");
        assert_eq!(format_money(Decimal::new(5, 3), "USD"), "$0.01");
        assert_eq!(
            group_thousands(Decimal::new(1_234_567, 0), 2),
            "1,234,567.00"
        );
        assert_eq!(
            group_thousands(Decimal::new(-123_456_789, 2), 2),
            "-1,234,567.89"
        );
        assert_eq!(group_thousands(Decimal::new(999_999, 0), 0), "999,999");
        assert_eq!(group_thousands(Decimal::new(100, 0), 2), "100.00");
        assert_eq!(group_thousands(Decimal::new(-4, 3), 2), "0.00");
        assert_eq!(title_case("trail RUNNING shoe"), "Trail Running Shoe");
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
        let mut out = String::new();
        escape_html("<b>\"Tom & Jerry\"</b>", &mut out);
        assert_eq!(out, "&lt;b&gt;&quot;Tom &amp; Jerry&quot;&lt;/b&gt;");
        assert_eq!(
            Date::new(2026, 11, 25).map(|d| format_date(&d)),
            Some("November 25, 2026".into())
        );
    }

    #[test]
    fn holes_that_cannot_fail_are_the_plain_shapes() {
        let code = |ops: Vec<Op>| Code {
            ops,
            consts: vec![Value::str("name"), Value::str("there")],
            locals: 1,
            lambdas: Vec::new(),
        };
        let shop = code(vec![
            Op::LoadShop,
            Op::GetField {
                name: 0,
                optional: false,
            },
            Op::Return,
        ]);
        let default = code(vec![
            Op::LoadTrait(0),
            Op::JumpIfSome(3),
            Op::Const(1),
            Op::Return,
        ]);
        assert!(cannot_fail(&shop, &[], &[]));
        assert!(cannot_fail(
            &default,
            &[Filter::Upper, Filter::Truncate(5)],
            &[]
        ));
        assert!(cannot_fail(
            &code(vec![Op::LoadLocal(0), Op::Return]),
            &[],
            &[]
        ));
        let field_of_local = code(vec![
            Op::LoadLocal(0),
            Op::GetField {
                name: 0,
                optional: false,
            },
            Op::Return,
        ]);
        // A field of a local holding a record or `none` reads as a value
        // or `none`.
        let record = Value::Record(nudge_bytecode::Record::from_fields([(
            "name",
            Value::str("x"),
        )]));
        assert!(cannot_fail(&field_of_local, &[], &[record]));
        assert!(cannot_fail(&field_of_local, &[], &[Value::None]));
        // A filter that needs a kind of value, a field of a local that holds
        // no record, a constant or local that does not exist: evaluated.
        assert!(!cannot_fail(&shop, &[Filter::Money], &[]));
        assert!(!cannot_fail(&field_of_local, &[], &[Value::Int(1)]));
        assert!(!cannot_fail(
            &code(vec![Op::Const(7), Op::Return]),
            &[],
            &[]
        ));
        assert!(!cannot_fail(
            &code(vec![Op::LoadLocal(3), Op::Return]),
            &[],
            &[Value::None, Value::None]
        ));
    }
}
