//! The instruction set: a compact stack machine.
//!
//! One `Code` holds a flow body, a segment condition, a `where` filter or a
//! template hole. Expressions compile to pure instructions that push and pop
//! an operand stack; flow steps compile to *effect* instructions that hand the
//! runtime an effect and suspend. The verifier (`verify`) guarantees the
//! operand stack is empty after every effect instruction, so a suspended
//! journey needs only its resume point and its locals — no stack.
//!
//! Conventions:
//! - `ConstIdx` indexes `Code::consts`; names (fields, traits, events) are
//!   `Value::Str` constants.
//! - `Local` indexes the frame's locals (`Code::locals` of them).
//! - `Target` is an instruction index into the same op list.
//! - Lambdas (`c.products.any(p => ...)`) are small sub-functions in
//!   `Code::lambdas`: they share the parent's constants and locals; the VM
//!   stores each list element into the lambda's `param` local, runs its ops to
//!   `Return`, and clears the local afterwards. A lambda may use only lambdas
//!   with a smaller index, so evaluation always terminates.
//! - `LoadEvent` pushes the event the code is judged against: the arriving
//!   event in trigger / `exit when` / `goal` / `wait for` filters (`it` or its
//!   `as` name).

use crate::value::{TimeOfDay, Value};
use serde::{Deserialize, Serialize};

pub type ConstIdx = u16;
pub type Local = u16;
pub type Target = u32;
pub type LambdaIdx = u16;
pub type TemplateIdx = u16;
pub type AggregateIdx = u16;
pub type SegmentIdx = u16;
pub type SplitIdx = u16;

/// Message channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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

/// Built-in functions callable from expressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Builtin {
    /// `days_since(ts)`: whole days from `ts` to now (int).
    DaysSince,
    /// `age(date)`: whole years from the date to today (int, UTC date of now).
    Age,
}

impl Builtin {
    pub fn arity(self) -> usize {
        match self {
            Builtin::DaysSince | Builtin::Age => 1,
        }
    }
}

/// One instruction. Stack effects are written `[inputs] -> [outputs]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    // ---- data -------------------------------------------------------------
    /// `[] -> [consts[i]]`
    Const(ConstIdx),
    /// `[] -> [locals[i]]`
    LoadLocal(Local),
    /// `[v] -> []`, locals[i] = v
    StoreLocal(Local),
    /// `[] -> [profile.<name>]` (`none` when the profile lacks it)
    LoadTrait(ConstIdx),
    /// `[] -> [shop record]`
    LoadShop,
    /// `[] -> [now]` (timestamp)
    LoadNow,
    /// `[] -> [event under judgement]`
    LoadEvent,
    /// `[] -> [aggregate value]` (per-profile history aggregate slot)
    LoadAggregate(AggregateIdx),
    /// `[] -> [bool]`: `profile in segment`
    InSegment(SegmentIdx),
    /// `[record] -> [record.<name>]`; with `optional`, `none` passes through
    /// (`a?.b`); a missing field reads as `none`.
    GetField {
        name: ConstIdx,
        optional: bool,
    },
    /// `[v] -> []`
    Pop,
    /// `[v] -> [v, v]`
    Dup,
    /// `[v1..vn] -> [list]`
    MakeList(u16),
    /// `[v1..vn] -> [record]`; `names` is a constant list of n strings.
    MakeRecord {
        names: ConstIdx,
    },
    /// `[v1..vn] -> [string]`: each value in its plain text form, joined.
    Concat(u16),

    // ---- arithmetic and logic ---------------------------------------------
    /// `[a, b] -> [a + b]`: numbers, money (same currency), durations,
    /// timestamp + duration, date + duration (whole days), strings.
    Add,
    Sub,
    Mul,
    Div,
    /// `[a] -> [-a]`
    Neg,
    /// `[bool] -> [!bool]`
    Not,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `[x, list] -> [bool]`
    In,
    /// `[args..] -> [result]`
    Call(Builtin),

    // ---- lists with lambdas ------------------------------------------------
    /// `[list] -> [bool]`
    ListAny(LambdaIdx),
    /// `[list] -> [bool]`
    ListAll(LambdaIdx),
    /// `[list] -> [int]`: elements (matching the lambda, when given)
    ListCount(Option<LambdaIdx>),
    /// `[list] -> [sum]`: of elements or of the lambda's results; the sum
    /// of an empty list is `Int(0)`.
    ListSum(Option<LambdaIdx>),
    /// `[list] -> [list]`
    ListMap(LambdaIdx),
    /// `[list] -> [element or none]`
    ListFirst(Option<LambdaIdx>),

    // ---- control -----------------------------------------------------------
    Jump(Target),
    /// `[bool] -> []`
    JumpIfFalse(Target),
    /// `[bool] -> []`
    JumpIfTrue(Target),
    /// `a ?? b`: `[a] -> [a]` and jump when `a` is not `none`, else
    /// `[a] -> []` and fall through to compute `b`.
    JumpIfSome(Target),
    /// `[v] -> ` end of expression code with result v (stack must hold
    /// exactly v).
    Return,

    // ---- effects (flow code only; stack empty afterwards) ------------------
    /// `[args..] -> []`: render and deliver a template.
    Send {
        template: TemplateIdx,
        argc: u8,
    },
    /// `[duration] -> []`: suspend until now + duration.
    Wait,
    /// `[timestamp] -> []`: suspend until that instant.
    WaitUntil,
    /// `[] -> []`: suspend until the next `time` (optionally on `weekday`,
    /// 0 = Monday) in the profile's timezone; the engine resolves it.
    WaitUntilLocal {
        time: TimeOfDay,
        weekday: Option<u8>,
    },
    /// `[within duration] -> []`: suspend until `event` (a constant name)
    /// arrives and passes `filter` (a lambda run with `LoadEvent` = the
    /// arriving event), or the deadline passes. On arrival the event is
    /// stored in `bind` (when some) and execution continues after this op;
    /// on timeout it continues at `timeout`.
    WaitFor {
        event: ConstIdx,
        filter: Option<LambdaIdx>,
        bind: Option<Local>,
        timeout: Target,
    },
    /// `[record] -> []`: emit an event named by the constant.
    Track {
        event: ConstIdx,
    },
    /// `[value] -> []`: `set profile.<trait> = value`.
    SetTrait {
        name: ConstIdx,
    },
    /// `[url, body] -> []`: call an external system; `method` is a constant
    /// (`"post"`); body may be `none`.
    Webhook {
        method: ConstIdx,
    },
    /// `[] -> []`: assign the profile to a split arm (deterministic) and
    /// continue at that arm's target.
    Split(SplitIdx),
    /// `[] -> []`: leave the flow.
    Exit,
}

impl Op {
    /// True for instructions that hand the runtime an effect.
    pub fn is_effect(&self) -> bool {
        matches!(
            self,
            Op::Send { .. }
                | Op::Wait
                | Op::WaitUntil
                | Op::WaitUntilLocal { .. }
                | Op::WaitFor { .. }
                | Op::Track { .. }
                | Op::SetTrait { .. }
                | Op::Webhook { .. }
                | Op::Split(_)
                | Op::Exit
        )
    }
}

/// A lambda: a sub-function of one parameter sharing its parent's frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lambda {
    pub param: Local,
    pub ops: Vec<Op>,
}

/// A compiled unit: a flow body or one expression.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Code {
    pub ops: Vec<Op>,
    pub consts: Vec<Value>,
    /// Number of local slots the frame needs.
    pub locals: u16,
    pub lambdas: Vec<Lambda>,
}

/// One arm of a split: name, weight in basis points (1% = 100), target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitArm {
    pub name: String,
    pub weight_bp: u16,
    pub target: Target,
}

/// A `split name { ... }` in a flow; weights add up to 10,000 bp.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitDef {
    pub name: String,
    pub arms: Vec<SplitArm>,
}
