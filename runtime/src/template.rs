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
use nudge_bytecode::op::{Channel, Local, Op};
use nudge_bytecode::template::{Filter, PartKind, Template, Text, TextNode};
use nudge_bytecode::{Date, Kind, SmolStr, Value};
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
/// order (holes, filters, conditions, loops) but its text is not built,
/// unless the arguments meet what its analysis (`ExcerptPlans`) says it
/// needs to certainly render, in which case it is not walked at all. A
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
    // Room for a typical subject or SMS opening: growing from empty
    // reallocated three or four times per send.
    let mut excerpt = String::with_capacity(96);
    for &(kind, required) in parts_of(template.channel) {
        match (template.part(kind), required) {
            (Some(text), _) if kind == wanted => {
                r.text(text, kind == PartKind::Html, &mut excerpt)?
            }
            (Some(text), _) => {
                // A part that certainly renders without error is skipped:
                // its text would be thrown away.
                if !skippable(vm, index, kind, &r.frame) {
                    r.text(text, kind == PartKind::Html, &mut Discard)?
                }
            }
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

// ---- Skipping discarded parts that cannot fail ------------------------------
//
// `render_excerpt` would walk every part it throws away only to find out
// whether `render` fails. Most parts cannot fail whatever the profile, given
// that the template's arguments have the right shape: `c.products` a list
// of records or `none`, `c.value` money or `none`. `ExcerptPlans` analyses
// every part of every template once (per `Vm`) into such a list of `Need`s,
// or into "walk it" when the analysis cannot prove it; a send then checks
// the needs against the frame (a few field reads) instead of walking.
//
// Soundness rests on what a part's walk can see in a local: the value it
// had when the part started (the frame the needs are checked against),
// `none` (a loop variable after its loop), or an item of a loop's list
// while the loop runs (a need on the list with `Step::Each`). Every need's
// kinds include `none`, so the first two are both covered by checking the
// starting value. Only expression code without effects on the frame
// (no `StoreLocal`, no lambdas) is analysed, so nothing else writes a local.

/// A set of value kinds, one bit per `Kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Kinds(u16);

impl Kinds {
    const NONE: Kinds = Kinds(1 << 0);
    const BOOL: Kinds = Kinds(1 << 1);
    const INT: Kinds = Kinds(1 << 2);
    const DECIMAL: Kinds = Kinds(1 << 3);
    const STR: Kinds = Kinds(1 << 4);
    const MONEY: Kinds = Kinds(1 << 5);
    const DATE: Kinds = Kinds(1 << 9);
    const LIST: Kinds = Kinds(1 << 11);
    const RECORD: Kinds = Kinds(1 << 12);
    const ANY: Kinds = Kinds((1 << 13) - 1);

    fn of(v: &Value) -> Kinds {
        let bit = match v.kind() {
            Kind::None => 0,
            Kind::Bool => 1,
            Kind::Int => 2,
            Kind::Decimal => 3,
            Kind::Str => 4,
            Kind::Money => 5,
            Kind::Percent => 6,
            Kind::Duration => 7,
            Kind::Timestamp => 8,
            Kind::Date => 9,
            Kind::Time => 10,
            Kind::List => 11,
            Kind::Record => 12,
        };
        Kinds(1 << bit)
    }

    const fn or(self, other: Kinds) -> Kinds {
        Kinds(self.0 | other.0)
    }

    fn within(self, other: Kinds) -> bool {
        self.0 & !other.0 == 0
    }

    fn admits(self, v: &Value) -> bool {
        Kinds::of(v).within(self)
    }
}

/// A step from a value to the values under it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// A record's field (`none` for a missing field or a `none` record).
    Field(SmolStr),
    /// Every item of a list (none of `none`).
    Each,
}

/// Every value reached from `local` by `steps` is one of `kinds`, and every
/// step on the way can be taken (a record or `none` before a field, a list
/// or `none` before `Each`). `kinds` always includes `none`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Need {
    local: Local,
    steps: Vec<Step>,
    kinds: Kinds,
}

impl Need {
    fn holds(&self, frame: &[Value]) -> bool {
        fn reach(v: &Value, steps: &[Step], kinds: Kinds) -> bool {
            match steps.split_first() {
                None => kinds.admits(v),
                Some((Step::Field(f), rest)) => match v {
                    Value::Record(r) => reach(r.get(f).unwrap_or(&Value::None), rest, kinds),
                    Value::None => reach(v, rest, kinds),
                    _ => false,
                },
                Some((Step::Each, rest)) => match v {
                    Value::List(items) => items.iter().all(|i| reach(i, rest, kinds)),
                    Value::None => true,
                    _ => false,
                },
            }
        }
        frame
            .get(usize::from(self.local))
            .is_some_and(|v| reach(v, &self.steps, self.kinds))
    }
}

/// What a part needs of the frame to render without error.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PartPlan {
    /// The template's locals: every loop variable has its slot.
    locals: usize,
    /// `None` when the analysis cannot tell (the part is walked).
    needs: Option<Vec<Need>>,
}

impl PartPlan {
    fn holds(&self, frame: &[Value]) -> bool {
        frame.len() >= self.locals
            && self
                .needs
                .as_ref()
                .is_some_and(|needs| needs.iter().all(|n| n.holds(frame)))
    }
}

/// Per template of a bundle, per part, its plan (built once per `Vm`).
#[derive(Debug, Clone, Default)]
pub(crate) struct ExcerptPlans(Vec<Vec<(PartKind, PartPlan)>>);

impl ExcerptPlans {
    pub(crate) fn of(bundle: &nudge_bytecode::Bundle) -> ExcerptPlans {
        ExcerptPlans(
            bundle
                .templates
                .iter()
                .map(|t| {
                    t.parts
                        .iter()
                        .map(|(kind, text)| (*kind, plan(t, text)))
                        .collect()
                })
                .collect(),
        )
    }
}

/// Whether part `kind` of template `index` certainly renders without error
/// with `frame`, by its plan (made for the whole bundle at the first call).
fn skippable(vm: &Vm, index: u16, kind: PartKind, frame: &[Value]) -> bool {
    vm.excerpt_plans
        .get_or_init(|| ExcerptPlans::of(vm.bundle()))
        .0
        .get(usize::from(index))
        .and_then(|parts| parts.iter().find(|(k, _)| *k == kind))
        .is_some_and(|(_, plan)| plan.holds(frame))
}

/// Which parts other than the excerpt `render_excerpt` skips without
/// walking them for these arguments (for tests and measurements), by the
/// same plans it uses.
#[doc(hidden)]
pub fn skipped_parts(vm: &Vm, index: u16, args: &[Value]) -> Vec<PartKind> {
    let Some(template) = vm.bundle().templates.get(usize::from(index)) else {
        return Vec::new();
    };
    let mut frame = args.to_vec();
    frame.resize(usize::from(template.locals), Value::None);
    let wanted = excerpt_part(template.channel);
    template
        .parts
        .iter()
        .filter(|(kind, _)| *kind != wanted && skippable(vm, index, *kind, &frame))
        .map(|(kind, _)| *kind)
        .collect()
}

fn plan(template: &Template, text: &Text) -> PartPlan {
    let mut a = Analysis {
        locals: template.locals,
        needs: Vec::new(),
        bound: Vec::new(),
    };
    PartPlan {
        locals: usize::from(template.locals),
        needs: a.text(text).map(|()| a.needs),
    }
}

/// What an expression gives: a place in the frame, or a value of some kinds.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Abs {
    Path(Local, Vec<Step>),
    Kinds(Kinds),
}

/// Longest expression analysed (far below the VM's fuel).
const MAX_OPS: usize = 64;

struct Analysis {
    locals: u16,
    needs: Vec<Need>,
    /// Loop variables in scope, innermost last: what each one holds.
    bound: Vec<(Local, Abs)>,
}

impl Analysis {
    /// Requires `v` to be one of `kinds` (which include `none`): a need on
    /// a path, a check of a known kind. `None` when it may not be.
    fn need(&mut self, v: &Abs, kinds: Kinds) -> Option<()> {
        debug_assert!(Kinds::NONE.within(kinds));
        match v {
            Abs::Kinds(k) => k.within(kinds).then_some(()),
            Abs::Path(local, steps) => {
                match self
                    .needs
                    .iter_mut()
                    .find(|n| n.local == *local && n.steps == *steps)
                {
                    Some(n) => n.kinds = Kinds(n.kinds.0 & kinds.0),
                    None => self.needs.push(Need {
                        local: *local,
                        steps: steps.clone(),
                        kinds,
                    }),
                }
                Some(())
            }
        }
    }

    fn text(&mut self, text: &Text) -> Option<()> {
        for node in &text.0 {
            match node {
                TextNode::Lit(_) | TextNode::Placeholder(_) => {}
                TextNode::Hole { expr, filters } => {
                    let v = self.expr(expr)?;
                    self.filters(v, filters)?;
                }
                TextNode::If {
                    branches,
                    otherwise,
                } => {
                    for (cond, body) in branches {
                        match self.expr(cond)? {
                            Abs::Kinds(k) if k.within(Kinds::BOOL) => {}
                            _ => return None,
                        }
                        self.text(body)?;
                    }
                    if let Some(body) = otherwise {
                        self.text(body)?;
                    }
                }
                TextNode::For { var, list, body } => {
                    if *var >= self.locals {
                        return None;
                    }
                    let items = self.expr(list)?;
                    self.need(&items, Kinds::LIST.or(Kinds::NONE))?;
                    let item = match items {
                        Abs::Path(local, mut steps) => {
                            steps.push(Step::Each);
                            Abs::Path(local, steps)
                        }
                        Abs::Kinds(_) => Abs::Kinds(Kinds::ANY),
                    };
                    self.bound.push((*var, item));
                    let body = self.text(body);
                    self.bound.pop();
                    body?;
                }
            }
        }
        Some(())
    }

    fn filters(&mut self, mut v: Abs, filters: &[Filter]) -> Option<()> {
        let text = Abs::Kinds(Kinds::STR.or(Kinds::NONE));
        for filter in filters {
            v = match filter {
                Filter::Money => {
                    let number = Kinds::MONEY.or(Kinds::INT).or(Kinds::DECIMAL);
                    self.need(&v, number.or(Kinds::NONE))?;
                    text.clone()
                }
                // Not timestamps: one out of the calendar's range fails.
                Filter::Date => {
                    self.need(&v, Kinds::DATE.or(Kinds::NONE))?;
                    text.clone()
                }
                Filter::Upper | Filter::Lower | Filter::Title | Filter::Truncate(_) => text.clone(),
                Filter::ShortLink => Abs::Kinds(Kinds::STR),
                Filter::Count => {
                    self.need(&v, Kinds::LIST.or(Kinds::STR).or(Kinds::NONE))?;
                    Abs::Kinds(Kinds::INT)
                }
                Filter::Default(code) => {
                    self.expr(code)?;
                    Abs::Kinds(Kinds::ANY)
                }
            };
        }
        Some(())
    }

    /// What straight-line expression code gives, if it certainly evaluates
    /// without error once the needs it adds hold: constants, locals, fields,
    /// the shop, traits, `==`/`!=`, `not`, string joins and `a ?? b ?? c`.
    fn expr(&mut self, code: &Code) -> Option<Abs> {
        let ops = &code.ops;
        let last = ops.len().checked_sub(1)?;
        if ops.len() > MAX_OPS || !matches!(ops.get(last), Some(Op::Return)) {
            return None;
        }
        let name = |i: u16| match code.consts.get(usize::from(i)) {
            Some(Value::Str(s)) => Some(s.clone()),
            _ => None,
        };
        let mut stack: Vec<Abs> = Vec::new();
        // What `??` jumps to `Return` with (never `none`).
        let mut jumped: Option<Kinds> = None;
        for (pc, op) in ops.iter().enumerate() {
            match op {
                Op::Const(i) => {
                    stack.push(Abs::Kinds(Kinds::of(code.consts.get(usize::from(*i))?)))
                }
                Op::LoadLocal(l) => {
                    if *l >= self.locals {
                        return None;
                    }
                    let v = match self.bound.iter().rev().find(|(var, _)| var == l) {
                        Some((_, v)) => v.clone(),
                        None => Abs::Path(*l, Vec::new()),
                    };
                    stack.push(v);
                }
                Op::LoadShop => stack.push(Abs::Kinds(Kinds::RECORD)),
                Op::LoadTrait(n) => {
                    name(*n)?;
                    stack.push(Abs::Kinds(Kinds::ANY));
                }
                Op::GetField { name: n, .. } => {
                    let field = name(*n)?;
                    let base = stack.pop()?;
                    self.need(&base, Kinds::RECORD.or(Kinds::NONE))?;
                    stack.push(match base {
                        Abs::Path(local, mut steps) => {
                            steps.push(Step::Field(field));
                            Abs::Path(local, steps)
                        }
                        Abs::Kinds(k) if k == Kinds::NONE => Abs::Kinds(Kinds::NONE),
                        Abs::Kinds(_) => Abs::Kinds(Kinds::ANY),
                    });
                }
                Op::Eq | Op::Ne => {
                    stack.pop()?;
                    stack.pop()?;
                    stack.push(Abs::Kinds(Kinds::BOOL));
                }
                Op::Not => match stack.pop()? {
                    Abs::Kinds(k) if k.within(Kinds::BOOL) => stack.push(Abs::Kinds(Kinds::BOOL)),
                    _ => return None,
                },
                Op::Concat(n) => {
                    for _ in 0..*n {
                        stack.pop()?;
                    }
                    stack.push(Abs::Kinds(Kinds::STR));
                }
                Op::JumpIfSome(t) => {
                    // `a ?? b`: jumps straight to the final `Return` with `a`.
                    if usize::try_from(*t).ok()? != last || stack.len() != 1 {
                        return None;
                    }
                    let a = match stack.pop()? {
                        Abs::Kinds(k) => Kinds(k.0 & !Kinds::NONE.0),
                        Abs::Path(..) => Kinds::ANY,
                    };
                    jumped = Some(jumped.map_or(a, |j| j.or(a)));
                }
                Op::Return if pc == last => {
                    let v = stack.pop()?;
                    return Some(match (jumped, v) {
                        (None, v) => v,
                        (Some(j), Abs::Kinds(k)) => Abs::Kinds(j.or(k)),
                        (Some(_), Abs::Path(..)) => Abs::Kinds(Kinds::ANY),
                    });
                }
                _ => return None,
            }
        }
        None
    }
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
    stack: crate::vm::Stack,
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
            stack: crate::vm::Stack::new(),
            scratch: String::new(),
        };
        Ok((template, r))
    }

    fn eval(&mut self, code: &nudge_bytecode::Code) -> Result<Value, RenderError> {
        if let Some(v) = self.vm.simple_eval(code, &self.frame, self.env) {
            return Ok(v);
        }
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

    /// Code: `local.f1.f2...` (the local itself without fields).
    fn path(local: u16, fields: &[&str]) -> Code {
        let mut ops = vec![Op::LoadLocal(local)];
        let mut consts = Vec::new();
        for (i, f) in fields.iter().enumerate() {
            consts.push(Value::str(*f));
            ops.push(Op::GetField {
                name: i as u16,
                optional: false,
            });
        }
        ops.push(Op::Return);
        Code {
            ops,
            consts,
            locals: 0,
            lambdas: Vec::new(),
        }
    }

    /// Code: `local.field != none`.
    fn is_set(local: u16, field: &str) -> Code {
        Code {
            ops: vec![
                Op::LoadLocal(local),
                Op::GetField {
                    name: 0,
                    optional: false,
                },
                Op::Const(1),
                Op::Ne,
                Op::Return,
            ],
            consts: vec![Value::str(field), Value::None],
            locals: 0,
            lambdas: Vec::new(),
        }
    }

    /// Code: `local.field ?? "x"` and `profile.first_name ?? shop.url`.
    fn or_else(local: u16, field: &str) -> Code {
        Code {
            ops: vec![
                Op::LoadLocal(local),
                Op::GetField {
                    name: 0,
                    optional: false,
                },
                Op::JumpIfSome(4),
                Op::Const(1),
                Op::Return,
            ],
            consts: vec![Value::str(field), Value::str("x")],
            locals: 0,
            lambdas: Vec::new(),
        }
    }

    fn trait_or_shop() -> Code {
        Code {
            ops: vec![
                Op::LoadTrait(0),
                Op::JumpIfSome(4),
                Op::LoadShop,
                Op::GetField {
                    name: 1,
                    optional: false,
                },
                Op::Return,
            ],
            consts: vec![Value::str("first_name"), Value::str("url")],
            locals: 0,
            lambdas: Vec::new(),
        }
    }

    fn hole(expr: Code, filters: Vec<Filter>) -> TextNode {
        TextNode::Hole { expr, filters }
    }

    fn lit(s: &str) -> TextNode {
        TextNode::Lit(s.into())
    }

    /// A two-parameter email template (c, discount; p is local 2) whose
    /// HTML part is `html`.
    fn template(html: Vec<TextNode>) -> Template {
        Template {
            name: "t".into(),
            channel: Channel::Email,
            params: 2,
            locals: 3,
            parts: vec![
                (PartKind::Subject, Text(vec![lit("Hi")])),
                (PartKind::Html, Text(html)),
                (PartKind::Text, Text(vec![lit("Hi")])),
            ],
        }
    }

    fn plan_of(html: Vec<TextNode>) -> PartPlan {
        let t = template(html);
        let text = t.part(PartKind::Html).cloned().unwrap_or_default();
        plan(&t, &text)
    }

    fn record(fields: Vec<(&str, Value)>) -> Value {
        Value::Record(nudge_bytecode::Record::from_fields(fields))
    }

    fn usd(cents: i64) -> Value {
        match nudge_bytecode::Currency::new("USD") {
            Some(currency) => Value::Money(nudge_bytecode::Money {
                amount: Decimal::new(cents, 2),
                currency,
            }),
            None => Value::None,
        }
    }

    fn product(price: Value) -> Value {
        record(vec![("name", Value::str("Boot")), ("price", price)])
    }

    /// `c` with these products and total.
    fn checkout(products: Value, value: Value) -> Vec<Value> {
        vec![
            record(vec![("products", products), ("value", value)]),
            Value::Percent(Decimal::new(15, 0)),
        ]
    }

    /// The shapes of the shop's HTML bodies: shop fields, traits with a
    /// default, fields of an argument, `if x.f != none`, a loop over a
    /// list of records whose fields go through `money`, `count`.
    fn shop_like() -> Vec<TextNode> {
        vec![
            lit("<p>"),
            hole(trait_or_shop(), vec![]),
            hole(path(1, &[]), vec![]),
            hole(path(0, &["products"]), vec![Filter::Count]),
            TextNode::For {
                var: 2,
                list: path(0, &["products"]),
                body: Text(vec![
                    hole(or_else(2, "name"), vec![Filter::Upper]),
                    TextNode::If {
                        branches: vec![(
                            is_set(2, "price"),
                            Text(vec![hole(path(2, &["price"]), vec![Filter::Money])]),
                        )],
                        otherwise: Some(Text(vec![lit("-")])),
                    },
                ]),
            },
            TextNode::If {
                branches: vec![(
                    is_set(0, "value"),
                    Text(vec![hole(path(0, &["value"]), vec![Filter::Money])]),
                )],
                otherwise: None,
            },
            TextNode::Placeholder(nudge_bytecode::template::Placeholder::UnsubscribeUrl),
        ]
    }

    #[test]
    fn a_part_of_the_common_shapes_is_skipped_when_the_arguments_fit() {
        let plan = plan_of(shop_like());
        let needs = plan.needs.clone().unwrap_or_default();
        assert!(!needs.is_empty(), "{plan:?}");
        let products = Value::List(vec![product(usd(1250)), product(Value::None)]);
        assert!(plan.holds(&[checkout(products.clone(), usd(99)), vec![Value::None]].concat()));
        // `none` for the whole argument, the list, the total, an item.
        assert!(plan.holds(&[Value::None, Value::None, Value::None]));
        assert!(plan.holds(&[checkout(Value::None, Value::None), vec![Value::None]].concat()));
        let with_none = Value::List(vec![Value::None, product(Value::Int(3))]);
        assert!(plan.holds(&[checkout(with_none, Value::None), vec![Value::None]].concat()));
        // Missing fields read as `none`.
        assert!(plan.holds(&[record(vec![]), Value::None, Value::None]));
        // Wrong kinds: walked (and `render` fails or not, as it decides).
        let frames = [
            vec![Value::str("c"), Value::None, Value::None],
            [
                checkout(Value::str("boots"), Value::None),
                vec![Value::None],
            ]
            .concat(),
            [checkout(Value::Int(2), Value::None), vec![Value::None]].concat(),
            [
                checkout(Value::List(vec![Value::Int(1)]), Value::None),
                vec![Value::None],
            ]
            .concat(),
            [
                checkout(Value::List(vec![product(Value::str("9"))]), Value::None),
                vec![Value::None],
            ]
            .concat(),
            [checkout(products, Value::Bool(true)), vec![Value::None]].concat(),
            // A frame shorter than the template's locals.
            vec![Value::None],
        ];
        for frame in frames {
            assert!(!plan.holds(&frame), "{frame:?}");
        }
    }

    #[test]
    fn parts_that_may_fail_whatever_the_arguments_are_walked() {
        // An `if` on a field: the field need not be a bool.
        let if_field = TextNode::If {
            branches: vec![(path(0, &["gift"]), Text(vec![lit("gift")]))],
            otherwise: None,
        };
        // A loop over a trait: it need not be a list.
        let trait_list = Code {
            ops: vec![Op::LoadTrait(0), Op::Return],
            consts: vec![Value::str("tags")],
            locals: 0,
            lambdas: Vec::new(),
        };
        let loop_trait = TextNode::For {
            var: 2,
            list: trait_list.clone(),
            body: Text(vec![lit("-")]),
        };
        // A filter that needs a kind of a value of unknown kind.
        let money_trait = hole(trait_list.clone(), vec![Filter::Money]);
        // A field of the items of a list of unknown items.
        let loop_const = TextNode::For {
            var: 2,
            list: Code {
                ops: vec![Op::Const(0), Op::Return],
                consts: vec![Value::List(vec![Value::Int(1)])],
                locals: 0,
                lambdas: Vec::new(),
            },
            body: Text(vec![hole(path(2, &["name"]), vec![])]),
        };
        // Arithmetic, comparisons, builtins: not analysed.
        let less = Code {
            ops: vec![Op::LoadLocal(1), Op::Const(0), Op::Lt, Op::Return],
            consts: vec![Value::Int(3)],
            locals: 0,
            lambdas: Vec::new(),
        };
        let if_less = TextNode::If {
            branches: vec![(less, Text(vec![]))],
            otherwise: None,
        };
        // A loop variable or local outside the frame, a missing constant.
        let far = TextNode::For {
            var: 3,
            list: path(0, &["products"]),
            body: Text(vec![]),
        };
        let missing_const = hole(
            Code {
                ops: vec![Op::Const(4), Op::Return],
                consts: Vec::new(),
                locals: 0,
                lambdas: Vec::new(),
            },
            vec![],
        );
        let cases = [
            if_field,
            loop_trait,
            money_trait,
            loop_const,
            if_less,
            far,
            missing_const,
            hole(path(5, &[]), vec![]),
            hole(
                path(0, &[]),
                vec![Filter::Date, Filter::Default(path(7, &[]))],
            ),
        ];
        for node in cases {
            let plan = plan_of(vec![lit("<p>"), node.clone()]);
            assert_eq!(plan.needs, None, "{node:?}");
            assert!(!plan.holds(&[Value::None, Value::None, Value::None]));
        }
        // A field of a local that holds no record: a need the frame fails.
        let field = plan_of(vec![hole(path(1, &["x"]), vec![])]);
        assert!(field.holds(&[Value::None, record(vec![]), Value::None]));
        assert!(!field.holds(&[Value::None, Value::Percent(Decimal::ONE), Value::None]));
        // Literal text alone needs nothing.
        assert!(plan_of(vec![lit("x")]).holds(&[Value::None, Value::None, Value::None]));
    }

    #[test]
    fn needs_on_one_place_merge() {
        let plan = plan_of(vec![
            hole(path(0, &["products"]), vec![Filter::Count]),
            TextNode::For {
                var: 2,
                list: path(0, &["products"]),
                body: Text(vec![]),
            },
        ]);
        let products = |kinds| Need {
            local: 0,
            steps: vec![Step::Field("products".into())],
            kinds,
        };
        let c = Need {
            local: 0,
            steps: Vec::new(),
            kinds: Kinds::RECORD.or(Kinds::NONE),
        };
        assert_eq!(
            plan.needs,
            Some(vec![c, products(Kinds::LIST.or(Kinds::NONE))])
        );
    }
}
