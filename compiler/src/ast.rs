//! The syntax tree of one `.flow` file (or one template file), as the parser
//! builds it. Parsing never fails: where the source is broken, the tree holds
//! an `Error` node covering the broken text and the parser has reported a
//! diagnostic, so later stages still see everything around it.
//!
//! The tree is plain data (`Eq + Hash`) so the project database can cache it
//! and tell when an edit did not change it. It knows nothing of types or of
//! other files: names are just names here; `resolve` and `types` give them
//! meaning.
//!
//! Concrete syntax of each node is shown in its doc comment; see
//! `docs/language.md` for the full reference.

use crate::span::Span;
use rust_decimal::Decimal;

/// A name as written, with its span.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// A plain string literal without holes (event names, descriptions, file
/// paths, timezone names): `"Order Completed"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Name {
    pub value: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct File {
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Item {
    Event(EventDecl),
    Type(TypeDecl),
    Profile(ProfileDecl),
    Segment(SegmentDecl),
    Template(TemplateDecl),
    Flow(FlowDecl),
    Policy(PolicyDecl),
    Test(TestDecl),
    /// Unparseable text between items; a diagnostic was reported.
    Error(Span),
}

impl Item {
    pub fn span(&self) -> Span {
        match self {
            Item::Event(d) => d.span,
            Item::Type(d) => d.span,
            Item::Profile(d) => d.span,
            Item::Segment(d) => d.span,
            Item::Template(d) => d.span,
            Item::Flow(d) => d.span,
            Item::Policy(d) => d.span,
            Item::Test(d) => d.span,
            Item::Error(s) => *s,
        }
    }
}

/// `event "Order Completed" { order_id: string  revenue: money? }`
/// `extend event "Order Completed" { gift_wrap: bool? }` adds fields to an
/// event declared elsewhere (typically the stdlib).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventDecl {
    pub extend: bool,
    pub name: Name,
    pub fields: Vec<FieldDecl>,
    pub doc: Option<String>,
    pub span: Span,
}

/// `type Product { product_id: string  price: money }`;
/// `extend type Product { color: string? }`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TypeDecl {
    pub extend: bool,
    pub name: Ident,
    pub fields: Vec<FieldDecl>,
    pub doc: Option<String>,
    pub span: Span,
}

/// `profile { tier: "bronze" | "silver" | "gold"  points: int }` — several
/// blocks (in the stdlib and the project) merge.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProfileDecl {
    pub fields: Vec<FieldDecl>,
    pub span: Span,
}

/// `name: Type` inside an event, type or profile block. Fields are separated
/// by newlines or commas.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldDecl {
    pub name: Ident,
    pub ty: TypeExpr,
    /// `///` doc comment lines directly above the field, joined with `\n`.
    pub doc: Option<String>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TypeExpr {
    pub kind: TypeExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TypeExprKind {
    /// A builtin (`int`, `money`, ...) or a declared record type (`Product`);
    /// `resolve` decides which.
    Named(Ident),
    /// `list<T>`
    List(Box<TypeExpr>),
    /// `T?`
    Optional(Box<TypeExpr>),
    /// `"bronze" | "silver" | "gold"` (two or more literals). A single string
    /// literal in type position names an event: `c: "Checkout Started"`.
    Union(Vec<Name>),
    /// `"Checkout Started"`: the record of an event's properties.
    Event(Name),
    Error,
}

/// `segment vip "Spent 500 USD or more in the last year" = <bool expr>`
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SegmentDecl {
    pub name: Ident,
    pub doc: Option<Name>,
    pub condition: Expr,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    Email,
    Sms,
    Push,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Push => "push",
        }
    }
}

/// `template email cart_reminder(c: "Checkout Started", discount: percent) { ... }`
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TemplateDecl {
    pub channel: Channel,
    pub channel_span: Span,
    pub name: Ident,
    pub params: Vec<Param>,
    pub parts: Vec<TemplatePart>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Param {
    pub name: Ident,
    pub ty: TypeExpr,
    pub span: Span,
}

/// One `key value` line of a template body: `subject "..."`,
/// `html file "templates/x.html"`, `text """..."""`, `body "..."`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TemplatePart {
    /// `subject`, `preheader`, `from`, `reply_to`, `html`, `text` (email);
    /// `body` (sms); `title`, `body`, `url` (push). The checker validates
    /// which keys a channel allows.
    pub key: Ident,
    pub value: TemplateSource,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TemplateSource {
    /// `"..."` or `"""..."""` with holes and tags.
    Inline(Text),
    /// `file "templates/cart.html"`: the path as written (relative to the
    /// project root). The database loads and parses it as template text.
    File(Name),
}

/// Template text: a string literal or a template file, parsed into literal
/// runs, `{{ holes }}` and `{% tags %}`. Holes are ordinary expressions.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Text {
    pub nodes: Vec<TextNode>,
    pub span: Span,
}

impl Text {
    /// The literal text if this has no holes or tags.
    pub fn as_plain(&self) -> Option<String> {
        let mut out = String::new();
        for n in &self.nodes {
            match n {
                TextNode::Literal(s, _) => out.push_str(s),
                _ => return None,
            }
        }
        Some(out)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TextNode {
    /// Literal text after escapes are processed and (for `"""`) the common
    /// indentation removed. The span covers the source text.
    Literal(String, Span),
    /// `{{ expr | filter | filter(arg) }}`
    Hole(Hole),
    /// `{% if c %} ... {% else if c %} ... {% else %} ... {% endif %}`
    If {
        branches: Vec<(Expr, Text)>,
        else_branch: Option<Text>,
        span: Span,
    },
    /// `{% for p in c.products %} ... {% endfor %}`
    For {
        binding: Ident,
        iterable: Expr,
        body: Text,
        span: Span,
    },
    /// A broken hole or tag; a diagnostic was reported.
    Error(Span),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Hole {
    pub expr: Expr,
    pub filters: Vec<FilterCall>,
    pub span: Span,
}

/// `| truncate(20)` inside a hole.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FilterCall {
    pub name: Ident,
    pub args: Vec<Expr>,
    pub span: Span,
}

/// `flow name { settings... trigger... steps... }`
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FlowDecl {
    pub name: Ident,
    /// Settings and the trigger, in source order.
    pub settings: Vec<FlowSetting>,
    pub body: Block,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FlowSetting {
    pub kind: FlowSettingKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FlowSettingKind {
    /// `description "..."`
    Description(Name),
    /// `category marketing | transactional`
    Category(Category, Span),
    /// `priority 10`
    Priority(Spanned<i64>),
    /// `when ...`
    Trigger(Trigger),
    /// `reentry always | once | once per 7d | after exit`
    Reentry(Reentry),
    /// `exit when "Event" [as x] [where cond]`
    ExitWhen(EventMatch),
    /// `goal "Event" [as x] [where cond] within 5d`
    Goal {
        event: EventMatch,
        within: Expr,
    },
    /// `holdout 10%`
    Holdout(Expr),
    Error,
}

pub use crate::span::Spanned;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    Marketing,
    Transactional,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Reentry {
    Always,
    Once,
    OncePer(Expr),
    AfterExit,
}

/// `"Order Completed" [as x] [where cond]` — used by `when`, `exit when`,
/// `goal` and `wait for`. Without `as`, the event is called `it` in `where`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventMatch {
    pub event: Name,
    pub binding: Option<Ident>,
    pub condition: Option<Expr>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Trigger {
    pub kind: TriggerKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TriggerKind {
    /// `when "Checkout Started" as checkout where checkout.value >= 20 USD`
    Event(EventMatch),
    /// `when entering vip`
    Entering(Ident),
    /// `when leaving vip`
    Leaving(Ident),
    /// `when date profile.birthday at 10:00 local` — yearly when the
    /// expression is a `date`, once when it is a `timestamp`
    /// (`when date profile.created_at + 30d`).
    Date { date: Expr, at: Option<TimeOfDay> },
    /// `when inactive "Order Completed" for 90d`
    Inactive { event: Name, duration: Expr },
}

/// `10:00 local` or `10:00` (a time of day in the profile's timezone; `local`
/// is the only zone and may be written for clarity).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TimeOfDay {
    pub hour: u8,
    pub minute: u8,
    pub local: bool,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Block {
    pub steps: Vec<Step>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Step {
    pub kind: StepKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StepKind {
    /// `send email cart_reminder(checkout, 10%)`
    Send {
        channel: Channel,
        template: Ident,
        args: Vec<Expr>,
    },
    /// `wait 1h`
    Wait(Expr),
    /// `wait until 10:00 local`, `wait until monday 09:00 local`,
    /// `wait until order.created_at + 3d`
    WaitUntil(WaitUntil),
    /// `wait for "Order Completed" [as o] [where ...] within 2d { ... } timeout { ... }`
    /// (`within` is required; the checker reports it missing as E0302; both
    /// blocks are optional).
    WaitFor {
        event: EventMatch,
        within: Option<Expr>,
        on_arrival: Option<Block>,
        on_timeout: Option<Block>,
    },
    /// `if c { } else if c { } else { }`
    If {
        branches: Vec<(Expr, Block)>,
        else_block: Option<Block>,
    },
    /// `match expr { "gold" => { } "silver" | "bronze" => { } _ => { } }`
    Match {
        scrutinee: Expr,
        arms: Vec<MatchArm>,
    },
    /// `split name { 50% a { } 50% b { } }`
    Split {
        name: Ident,
        arms: Vec<SplitArm>,
    },
    /// `set profile.trait = expr`
    Set {
        target: Expr,
        value: Expr,
    },
    /// `track "Event" { field: expr, ... }`
    Track {
        event: Name,
        fields: Vec<FieldInit>,
    },
    /// `webhook post "https://..." { key: expr, "key": expr, ... }`
    Webhook {
        method: Ident,
        url: Text,
        body: Option<Expr>,
    },
    /// `exit`
    Exit,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum WaitUntil {
    /// `10:00 local` or `monday 09:00 local`
    TimeOfDay {
        weekday: Option<Spanned<Weekday>>,
        time: TimeOfDay,
    },
    /// any timestamp expression
    Timestamp(Expr),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MatchArm {
    pub pattern: Pattern,
    pub body: Block,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Pattern {
    /// `"silver" | "bronze"`
    Literals(Vec<Name>),
    /// `_`
    Wildcard(Span),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SplitArm {
    /// The percentage literal as an expression (normally `Lit::Percent`).
    pub weight: Expr,
    pub name: Ident,
    pub body: Block,
    pub span: Span,
}

/// `field: expr` in a record literal, `track` body or webhook body; the key
/// may be an identifier or a string (`"first-name": ...`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldInit {
    pub name: Name,
    pub value: Expr,
    pub span: Span,
}

/// `policy { ... }`
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PolicyDecl {
    pub rules: Vec<PolicyRule>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PolicyRule {
    pub kind: PolicyRuleKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PolicyRuleKind {
    /// `frequency email: 1 per 1d, 4 per 7d`
    Frequency {
        channel: Channel,
        caps: Vec<FrequencyCap>,
    },
    /// `quiet hours sms: 21:00 to 09:00 local` (channel optional: all channels)
    QuietHours {
        channel: Option<Channel>,
        from: TimeOfDay,
        to: TimeOfDay,
    },
    /// `when capped: skip | defer`
    WhenCapped(CappedAction, Span),
    /// `default timezone "Europe/Istanbul"`
    DefaultTimezone(Name),
    /// `keep history 400d` — how far back the runtime keeps event history
    /// for aggregates.
    KeepHistory(Expr),
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FrequencyCap {
    pub count: Spanned<i64>,
    pub window: Expr,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CappedAction {
    Skip,
    Defer,
}

/// `test "an order cancels the cart reminder" { ... }` — flow tests run by
/// `nudge test`. Its statements are designed with the simulator (see
/// `docs/testing.md`); the front end parses them into this node.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TestDecl {
    pub name: Name,
    pub body: Vec<TestStmt>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TestStmt {
    pub kind: TestStmtKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TestStmtKind {
    /// `start 2026-03-02 09:00` — the virtual clock's start (UTC); the time
    /// is optional (midnight).
    Start { date: Expr, time: Option<TimeOfDay> },
    /// `profile "u1" { first_name: "Ana" }` — an identify for that profile,
    /// which becomes the current profile of the test.
    Profile { id: Name, traits: Option<Expr> },
    /// `event "Order Completed" { ... }` — a track for the current profile,
    /// at the current virtual time.
    Event {
        name: Name,
        properties: Option<Expr>,
    },
    /// `wait 3d` — the clock moves on; due timers fire.
    Wait { duration: Expr },
    /// `expect [not] <what>`.
    Expect { negated: bool, what: Expectation },
    /// A statement that did not parse (already reported).
    Error,
}

/// What an `expect` looks for in the current profile's trace so far.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Expectation {
    /// `sent email cart_offer [variant ten_off] [at 2026-03-09 13:00]`
    Sent {
        channel: Ident,
        template: Ident,
        variant: Option<Ident>,
        at: Option<(Expr, Option<TimeOfDay>)>,
    },
    /// `suppressed email welcome [because frequency_cap ["2 per 7d"]]`
    Suppressed {
        channel: Ident,
        template: Ident,
        because: Option<Ident>,
        /// Text the reason, as the trace prints it, must contain.
        says: Option<Name>,
    },
    /// `deferred sms last_call [because quiet_hours ["..."]] [until 2026-03-09 13:00]`
    Deferred {
        channel: Ident,
        template: Ident,
        because: Option<Ident>,
        says: Option<Name>,
        until: Option<(Expr, Option<TimeOfDay>)>,
    },
    /// `entered abandoned_checkout`
    Entered { flow: Ident },
    /// `exited abandoned_checkout`
    Exited { flow: Ident },
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

impl Expr {
    pub fn error(span: Span) -> Expr {
        Expr {
            kind: ExprKind::Error,
            span,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ExprKind {
    Lit(Lit),
    /// A string literal, possibly with holes: `"Hi {{ profile.first_name ?? "there" }}"`.
    Str(Text),
    /// `x`, `profile`, `shop`, `now`, `it`, `unsubscribe_url`, a segment name.
    Name(Ident),
    /// `a.b`
    Field {
        base: Box<Expr>,
        field: Ident,
    },
    /// `a?.b`
    OptionalField {
        base: Box<Expr>,
        field: Ident,
    },
    /// `f(args)` — builtins (`count`, `sum`, `days_since`, ...) and
    /// aggregates. The callee is always a plain name.
    Call {
        callee: Ident,
        args: Vec<Arg>,
    },
    /// `x.any(p => ...)`, `c.products.first()`.
    Method {
        receiver: Box<Expr>,
        method: Ident,
        args: Vec<Arg>,
    },
    /// `p => p.price > 10 USD`
    Lambda {
        param: Ident,
        body: Box<Expr>,
    },
    Unary {
        op: UnaryOp,
        operand: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        op_span: Span,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `[a, b, c]`
    List(Vec<Expr>),
    /// `{ field: expr, ... }`
    Record(Vec<FieldInit>),
    /// `"Order Completed".revenue` — an event field path, only meaningful as
    /// an aggregate argument (`sum("Order Completed".revenue, within: 365d)`).
    EventField {
        event: Name,
        field: Ident,
    },
    /// `(e)` — kept so spans and the formatter see the parentheses.
    Paren(Box<Expr>),
    Error,
}

/// A call argument, positional or named (`within: 90d`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Arg {
    pub name: Option<Ident>,
    pub value: Expr,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Lit {
    Bool(bool),
    Int(i64),
    /// `9.99`
    Decimal(Decimal),
    /// `20 USD`, `9.99 EUR` (currency is an ISO 4217 code, upper case).
    Money {
        amount: Decimal,
        currency: String,
    },
    /// `10%` — stored as the number before the sign (10 → 10%).
    Percent(Decimal),
    /// `30m`, `1h`, `7d`, `2w`, `1h30m`; in seconds.
    Duration(i64),
    /// `10:00`
    Time {
        hour: u8,
        minute: u8,
    },
    /// `2026-12-24`
    Date {
        year: i32,
        month: u8,
        day: u8,
    },
    /// `none`
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    Not,
    Neg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `x in [..]`, `profile in segment`
    In,
    /// `a ?? b`
    Default,
    Add,
    Sub,
    Mul,
    Div,
}

impl BinaryOp {
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryOp::Or => "or",
            BinaryOp::And => "and",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::In => "in",
            BinaryOp::Default => "??",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
        }
    }
}
