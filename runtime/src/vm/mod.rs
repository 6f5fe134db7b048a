//! The stackless VM: runs a journey until it needs the world, then hands the
//! engine an `Effect` and suspends.
//!
//! "Stackless" twice over: the VM keeps no native or operand stack across a
//! suspension (the verifier proves the operand stack is empty at every
//! effect), so a suspended journey is just `JourneyState`; and it never
//! blocks or does I/O — everything it reads about the world comes through
//! the `Env` trait, so the simulator, the tests and the daemon share it.
//!
//! Usage by the engine:
//! 1. `Vm::start(flow_index, Some(&trigger_event), env)` → a new journey and
//!    its first effect.
//! 2. Act on the effect (deliver, arm a timer, ...), then
//!    `Vm::resume(&mut journey, Resume::Continue, env)` for the next one;
//!    after `WaitFor` use `Resume::EventArrived(event)` (once
//!    `Vm::wait_for_matches` said yes) or `Resume::TimedOut`.
//! 3. Stop at `Effect::Exit` (the journey is over).
//!
//! `Vm::eval` runs expression code (segment conditions, trigger dates,
//! template holes); `Vm::event_matches` runs a `where` filter.

pub mod arith;
pub mod text;

use crate::journey::JourneyState;
use arith::Arith;
use nudge_bytecode::format::{Bundle, EventKeep, KeepField, Trigger};
use nudge_bytecode::op::{Builtin, Channel, Code, Op, SplitDef};
use nudge_bytecode::{Record, TimeOfDay, Value};
use sha2::{Digest, Sha256};
use std::fmt;

/// Most instructions one `start`/`resume`/`eval` may run: flow bodies are
/// trees and lambdas cannot recurse, so a verified bundle stays far below;
/// the limit turns a hand-made looping bundle into an error, not a hang.
pub const FUEL: u32 = 1_000_000;

/// What the VM reads about the world. Implementations do no blocking work
/// the VM could observe: the VM calls these as pure lookups.
pub trait Env {
    /// The current instant, unix milliseconds (the engine's virtual or real
    /// clock).
    fn now(&self) -> i64;
    /// The profile's stable id (used for split assignment).
    fn profile_id(&self) -> &str;
    /// `profile.<name>`; `Value::None` when absent.
    fn profile_trait(&self, name: &str) -> Value;
    /// The current value of history aggregate `index` (`Bundle::aggregates`).
    fn aggregate(&self, index: u16) -> Value;
    /// `profile in segment` for segment `index` (`Bundle::segments`).
    fn in_segment(&self, index: u16) -> bool;
    /// The code just read the clock: what it read stays the same until
    /// `until` (`days_since`, `age`), or changes continuously (`None`:
    /// `now` itself). The engine uses it to re-check segments that time
    /// alone may change; other environments ignore it.
    fn clock_read(&self, until: Option<i64>) {
        let _ = until;
    }
}

/// What a journey asks of the world (serde, so a store can keep pending
/// effects in an outbox).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Effect {
    /// Render template `template` (`Bundle::templates`) with `args` and
    /// deliver it. Resume with `Continue` whatever the outcome.
    Send {
        template: u16,
        channel: Channel,
        args: Vec<Value>,
    },
    /// Resume with `Continue` at `at` (unix ms).
    WaitUntil { at: i64 },
    /// Resume with `Continue` at the next `time` (on `weekday`, 0 = Monday,
    /// when given) in the profile's timezone (else the project default); the
    /// engine resolves the instant because only it knows timezones.
    WaitUntilLocal {
        time: TimeOfDay,
        weekday: Option<u8>,
    },
    /// Resume with `EventArrived` when a matching `event` arrives before
    /// `deadline` (unix ms), else with `TimedOut` at the deadline.
    WaitFor { event: String, deadline: i64 },
    /// Emit an event for this profile. Resume with `Continue`.
    Track { event: String, properties: Record },
    /// `set profile.<name> = value`. Resume with `Continue`.
    SetTrait { name: String, value: Value },
    /// Call an external system. Resume with `Continue`.
    Webhook {
        method: String,
        url: String,
        body: Value,
    },
    /// The journey was assigned to `variant` of split `split` (for traces
    /// and reports). Resume with `Continue`.
    SplitAssigned { split: String, variant: String },
    /// The journey is over.
    Exit,
}

/// How a suspended journey continues.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Resume {
    /// After any effect but `WaitFor`.
    Continue,
    /// The awaited event arrived (and passed the filter).
    EventArrived(Value),
    /// The `wait for` deadline passed.
    TimedOut,
}

/// A failure while running code: a bundle/journey mismatch or a value the
/// code cannot handle (division by zero, overflow). The engine ends the
/// journey and records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmError {
    pub pc: Option<u32>,
    pub message: String,
}

impl fmt::Display for VmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pc {
            Some(pc) => write!(f, "at op {pc}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for VmError {}

fn fail<T>(pc: Option<usize>, message: impl Into<String>) -> Result<T, VmError> {
    Err(VmError {
        pc: pc.and_then(|p| u32::try_from(p).ok()),
        message: message.into(),
    })
}

/// Where a run of instructions stopped.
enum Stop {
    Returned(Value),
    Effect { effect: Effect, resume_pc: usize },
}

/// Everything one run needs besides the ops.
/// The operand stack: room for a typical expression held in place, so a
/// run allocates no stack of its own (one allocation per resume before;
/// a deeper expression spills to the heap).
pub type Stack = smallvec::SmallVec<[Value; 16]>;

struct Run<'a> {
    bundle: &'a Bundle,
    code: &'a Code,
    splits: &'a [SplitDef],
    event: Option<&'a Value>,
    env: &'a dyn Env,
    fuel: u32,
}

/// The VM over one loaded bundle.
#[derive(Debug, Clone)]
pub struct Vm<'b> {
    bundle: &'b Bundle,
    /// Which template parts `template::render_excerpt` may skip, analysed
    /// on its first call.
    pub(crate) excerpt_plans: std::sync::OnceLock<crate::template::ExcerptPlans>,
}

impl<'b> Vm<'b> {
    pub fn new(bundle: &'b Bundle) -> Vm<'b> {
        Vm {
            bundle,
            excerpt_plans: std::sync::OnceLock::new(),
        }
    }

    pub fn bundle(&self) -> &'b Bundle {
        self.bundle
    }

    /// Starts flow `flow` (index into `Bundle::flows`) for a profile. For an
    /// event trigger, `trigger_event` is the arriving event; the journey
    /// keeps only the fields the flow reads.
    pub fn start(
        &self,
        flow: usize,
        trigger_event: Option<&Value>,
        env: &dyn Env,
    ) -> Result<(JourneyState, Effect), VmError> {
        let Some(f) = self.bundle.flows.get(flow) else {
            return fail(None, format!("flow {flow} does not exist"));
        };
        let mut locals = vec![Value::None; usize::from(f.code.locals)];
        if let (Trigger::Event { keep, .. }, Some(event), Some(slot)) =
            (&f.trigger, trigger_event, locals.first_mut())
        {
            *slot = match keep {
                EventKeep::Nothing => Value::None,
                EventKeep::Fields(fields) => project(event, fields),
                EventKeep::Whole => event.clone(),
            };
        }
        let mut state = JourneyState {
            flow_version: f.version,
            pc: 0,
            locals,
        };
        let effect = self.resume(&mut state, Resume::Continue, env)?;
        Ok((state, effect))
    }

    /// Continues a suspended journey until its next effect.
    pub fn resume(
        &self,
        state: &mut JourneyState,
        input: Resume,
        env: &dyn Env,
    ) -> Result<Effect, VmError> {
        let Some(flow) = self.bundle.flow_by_version(&state.flow_version) else {
            return fail(None, "the journey's flow version is not in this bundle");
        };
        let code = &flow.code;
        if state.locals.len() != usize::from(code.locals) {
            return fail(
                None,
                format!(
                    "the journey has {} locals, its flow needs {}",
                    state.locals.len(),
                    code.locals
                ),
            );
        }
        let pc = state.pc as usize;
        let Some(op) = code.ops.get(pc) else {
            return fail(Some(pc), "the journey's resume point is outside its flow");
        };
        let start = match (op, input) {
            (Op::WaitFor { bind, .. }, Resume::EventArrived(event)) => {
                if let Some(slot) = bind.and_then(|b| state.locals.get_mut(usize::from(b))) {
                    *slot = event;
                }
                pc + 1
            }
            (Op::WaitFor { timeout, .. }, Resume::TimedOut) => *timeout as usize,
            (Op::WaitFor { .. }, Resume::Continue) => {
                return fail(
                    Some(pc),
                    "the journey waits for an event: resume with EventArrived or TimedOut",
                );
            }
            (_, Resume::Continue) => pc,
            (_, _) => return fail(Some(pc), "the journey is not waiting for an event"),
        };
        let mut run = Run {
            bundle: self.bundle,
            code,
            splits: &flow.splits,
            event: None,
            env,
            fuel: FUEL,
        };
        let mut stack = Stack::new();
        match run.exec(&code.ops, start, &mut state.locals, &mut stack, true)? {
            Stop::Effect { effect, resume_pc } => {
                state.pc = u32::try_from(resume_pc).unwrap_or(u32::MAX);
                Ok(effect)
            }
            Stop::Returned(_) => fail(Some(pc), "a flow body returned a value instead of exiting"),
        }
    }

    /// The event a journey waits for, when it waits for one.
    pub fn waiting_for(&self, state: &JourneyState) -> Option<&'b str> {
        let flow = self.bundle.flow_by_version(&state.flow_version)?;
        match flow.code.ops.get(state.pc as usize)? {
            Op::WaitFor { event, .. } => flow.code.consts.get(usize::from(*event))?.as_str(),
            _ => None,
        }
    }

    /// Whether `event` (already known to have the awaited name) passes the
    /// `wait for`'s `where` filter.
    pub fn wait_for_matches(
        &self,
        state: &JourneyState,
        event: &Value,
        env: &dyn Env,
    ) -> Result<bool, VmError> {
        let Some(flow) = self.bundle.flow_by_version(&state.flow_version) else {
            return fail(None, "the journey's flow version is not in this bundle");
        };
        let Some(Op::WaitFor { filter, .. }) = flow.code.ops.get(state.pc as usize) else {
            return fail(
                Some(state.pc as usize),
                "the journey is not waiting for an event",
            );
        };
        let Some(lambda) = filter.and_then(|l| flow.code.lambdas.get(usize::from(l))) else {
            return Ok(true);
        };
        let mut frame = state.locals.clone();
        frame.resize(usize::from(flow.code.locals), Value::None);
        let mut run = Run {
            bundle: self.bundle,
            code: &flow.code,
            splits: &[],
            event: Some(event),
            env,
            fuel: FUEL,
        };
        let mut stack = Stack::new();
        match run.exec(&lambda.ops, 0, &mut frame, &mut stack, false)? {
            Stop::Returned(Value::Bool(b)) => Ok(b),
            Stop::Returned(other) => fail(
                None,
                format!("a `where` filter gave {}, not bool", other.kind()),
            ),
            Stop::Effect { .. } => fail(None, "a filter tried to perform an effect"),
        }
    }

    /// Runs a `where` filter (trigger, `exit when`, `goal`) against `event`
    /// with the journey's `locals` (empty for a trigger). No filter = match.
    pub fn event_matches(
        &self,
        filter: Option<&Code>,
        locals: &[Value],
        event: &Value,
        env: &dyn Env,
    ) -> Result<bool, VmError> {
        let Some(code) = filter else { return Ok(true) };
        if let Some(matched) = simple_filter(code, locals, event) {
            return Ok(matched);
        }
        let mut frame = locals.to_vec();
        match self.eval(code, &mut frame, Some(event), env)? {
            Value::Bool(b) => Ok(b),
            other => fail(
                None,
                format!("a `where` filter gave {}, not bool", other.kind()),
            ),
        }
    }

    /// Evaluates expression code. `frame` is resized to the code's locals
    /// (a template passes its parameters in the first slots).
    pub fn eval(
        &self,
        code: &Code,
        frame: &mut Vec<Value>,
        event: Option<&Value>,
        env: &dyn Env,
    ) -> Result<Value, VmError> {
        self.eval_with(code, frame, event, env, &mut Stack::new())
    }

    /// The expression shapes most template holes compile to, evaluated
    /// without the interpreter: a constant, a local, a field of a local or
    /// of the shop, a trait or a local's field with a `??` default
    /// (`{{ profile.first_name ?? "friend" }}`, `{{ p.name ?? "gear" }}`).
    /// Each send renders a few; the interpreter set up a stack and ran four
    /// or five instructions for each. Same value as `eval` (its field reads,
    /// `??` taking anything but `none`). `None` for any other code, and for
    /// anything `eval` would fail on, which it then runs and reports.
    pub fn simple_eval(&self, code: &Code, frame: &[Value], env: &dyn Env) -> Option<Value> {
        let name = |i: u16| code.consts.get(usize::from(i))?.as_str();
        let constant = |i: u16| code.consts.get(usize::from(i));
        let local = |l: u16| frame_local(code, frame, l);
        let field = |base: &Value, n: u16| read_field(code, base, n).cloned();
        let or = |v: Value, i: u16| -> Option<Value> {
            if v.is_none() {
                constant(i).cloned()
            } else {
                Some(v)
            }
        };
        match code.ops.as_slice() {
            [Op::Const(i), Op::Return] => constant(*i).cloned(),
            [Op::LoadLocal(l), Op::Return] => local(*l).cloned(),
            [Op::LoadLocal(l), Op::GetField { name: n, .. }, Op::Return] => field(local(*l)?, *n),
            [Op::LoadShop, Op::GetField { name: n, .. }, Op::Return] => Some(
                self.bundle
                    .shop
                    .get(name(*n)?)
                    .cloned()
                    .unwrap_or(Value::None),
            ),
            [
                Op::LoadTrait(n),
                Op::JumpIfSome(3),
                Op::Const(i),
                Op::Return,
            ] => or(env.profile_trait(name(*n)?), *i),
            [
                Op::LoadLocal(l),
                Op::GetField { name: n, .. },
                Op::JumpIfSome(4),
                Op::Const(i),
                Op::Return,
            ] => or(field(local(*l)?, *n)?, *i),
            _ => None,
        }
    }

    /// `eval` on the caller's operand `stack` (left empty, its buffer kept):
    /// a template evaluates dozens of holes per message, each of which
    /// would allocate a stack of its own.
    pub fn eval_with(
        &self,
        code: &Code,
        frame: &mut Vec<Value>,
        event: Option<&Value>,
        env: &dyn Env,
        stack: &mut Stack,
    ) -> Result<Value, VmError> {
        stack.clear();
        if frame.len() < usize::from(code.locals) {
            frame.resize(usize::from(code.locals), Value::None);
        }
        let mut run = Run {
            bundle: self.bundle,
            code,
            splits: &[],
            event,
            env,
            fuel: FUEL,
        };
        let stop = run.exec(&code.ops, 0, frame, stack, false);
        stack.clear();
        match stop? {
            Stop::Returned(v) => Ok(v),
            Stop::Effect { .. } => fail(None, "expression code tried to perform an effect"),
        }
    }
}

/// `none`, for the fast paths below to lend.
static NONE: Value = Value::None;

/// Local `l` as `eval` sees it: the frame's, or `none` past the frame
/// while the code has that many locals (`eval` grows the frame to them);
/// `None` when the code has no such local.
fn frame_local<'v>(code: &Code, frame: &'v [Value], l: u16) -> Option<&'v Value> {
    match frame.get(usize::from(l)) {
        Some(v) => Some(v),
        None if l < code.locals => Some(&NONE),
        None => None,
    }
}

/// Field `name` (a constant) of `base` as the interpreter's `load;
/// get_field` reads it: a missing field and any field of `none` are
/// `none`. `None` where the interpreter would fail (a name that is not
/// text, a base that is not a record).
fn read_field<'v>(code: &Code, base: &'v Value, name: u16) -> Option<&'v Value> {
    let name = code.consts.get(usize::from(name))?.as_str()?;
    match base {
        Value::Record(r) => Some(r.get(name).unwrap_or(&NONE)),
        Value::None => Some(&NONE),
        _ => None,
    }
}

/// The `where` filters most flows have, answered without the interpreter:
/// `event.f == c` or `!= c` for a constant `c`, and `event.f == x.g` or
/// `!=` for a local `x` (`when "Product Viewed" as view where view.name !=
/// none`, `exit when "Order Completed" where event.checkout_id ==
/// cart.checkout_id`). The interpreter set up a frame and a stack and
/// dispatched six instructions for them (about 980 instructions a filter).
/// Same answer as running the code: fields read as its `load; get_field`
/// reads them (a field of `none` is `none`, a missing one is `none`), then
/// `arith::equal`. `None` for any other code, and for anything the
/// interpreter would fail on (a field name that is not text, a local the
/// code does not have, a field of a value that is not a record), which it
/// then runs and reports.
fn simple_filter(code: &Code, locals: &[Value], event: &Value) -> Option<bool> {
    let (a, b, op) = match code.ops.as_slice() {
        [
            Op::LoadEvent,
            Op::GetField { name: f, .. },
            Op::Const(c),
            op @ (Op::Eq | Op::Ne),
            Op::Return,
        ] => (
            read_field(code, event, *f)?,
            code.consts.get(usize::from(*c))?,
            op,
        ),
        [
            Op::LoadEvent,
            Op::GetField { name: f, .. },
            Op::LoadLocal(l),
            Op::GetField { name: g, .. },
            op @ (Op::Eq | Op::Ne),
            Op::Return,
        ] => (
            read_field(code, event, *f)?,
            read_field(code, frame_local(code, locals, *l)?, *g)?,
            op,
        ),
        _ => return None,
    };
    let eq = arith::equal(a, b);
    Some(if matches!(op, Op::Eq) { eq } else { !eq })
}

/// Keeps only the `keep` fields of a record (element-wise for a list),
/// recursively; other values pass through (`Value::project`).
pub fn project(value: &Value, keep: &[KeepField]) -> Value {
    value.project(keep)
}

/// Which arm of `split` a profile lands in: a stable hash of (profile, flow,
/// split) mapped to 0..10,000 basis points, then the arm whose cumulative
/// weight covers it. The same inputs give the same arm on every machine.
pub fn split_arm(profile_id: &str, flow: &str, split: &SplitDef) -> Option<usize> {
    let bucket = split_bucket(profile_id, flow, &split.name);
    let mut upto = 0u32;
    for (i, arm) in split.arms.iter().enumerate() {
        upto += u32::from(arm.weight_bp);
        if bucket < upto {
            return Some(i);
        }
    }
    split.arms.len().checked_sub(1)
}

/// `sha256(profile \0 flow \0 split)` reduced to 0..10,000.
pub fn split_bucket(profile_id: &str, flow: &str, split: &str) -> u32 {
    let mut h = Sha256::new();
    h.update(profile_id.as_bytes());
    h.update([0]);
    h.update(flow.as_bytes());
    h.update([0]);
    h.update(split.as_bytes());
    let digest = h.finalize();
    let mut first = [0u8; 8];
    for (dst, src) in first.iter_mut().zip(digest.iter()) {
        *dst = *src;
    }
    (u64::from_be_bytes(first) % 10_000) as u32
}

impl Run<'_> {
    fn name(&self, idx: u16, pc: usize) -> Result<&str, VmError> {
        match self.code.consts.get(usize::from(idx)) {
            Some(Value::Str(s)) => Ok(s),
            _ => fail(Some(pc), format!("constant {idx} is not a name")),
        }
    }

    fn flow_name(&self) -> &str {
        self.bundle
            .flows
            .iter()
            .find(|f| std::ptr::eq(&f.code, self.code))
            .map(|f| f.name.as_str())
            .unwrap_or("")
    }

    /// Runs `ops` from `pc`. In flow mode an effect instruction stops the
    /// run; in expression mode `Return` does.
    fn exec(
        &mut self,
        ops: &[Op],
        mut pc: usize,
        frame: &mut [Value],
        stack: &mut Stack,
        flow_mode: bool,
    ) -> Result<Stop, VmError> {
        macro_rules! pop {
            () => {
                match stack.pop() {
                    Some(v) => v,
                    None => return fail(Some(pc), "operand stack underflow"),
                }
            };
        }
        macro_rules! try_at {
            ($e:expr) => {
                match $e {
                    Ok(v) => v,
                    Err(message) => return fail(Some(pc), message),
                }
            };
        }
        loop {
            if self.fuel == 0 {
                return fail(
                    Some(pc),
                    "instruction budget exhausted (does the code loop?)",
                );
            }
            self.fuel -= 1;
            let Some(op) = ops.get(pc) else {
                return fail(Some(pc), "ran past the last instruction");
            };
            if op.is_effect() && !flow_mode {
                return fail(Some(pc), "effect instruction in expression code");
            }
            // `load x; get_field f` (how `order.total`, `shop.name` and
            // `event.x` compile): read the field in place rather than clone
            // the whole record onto the stack only to drop it. Same result,
            // same fuel; anything unusual takes the general path below.
            if let (Some(Op::GetField { name, .. }), true) = (ops.get(pc + 1), self.fuel > 0) {
                let base = match op {
                    Op::LoadLocal(l) => frame.get(usize::from(*l)),
                    Op::LoadEvent => Some(self.event.unwrap_or(&Value::None)),
                    _ => None,
                };
                let record = match (op, base) {
                    (Op::LoadShop, _) => Some(Some(&self.bundle.shop)),
                    (_, Some(Value::Record(r))) => Some(Some(r)),
                    (_, Some(Value::None)) => Some(None),
                    _ => None,
                };
                if let Some(record) = record {
                    self.fuel -= 1;
                    let field = self.name(*name, pc + 1)?;
                    stack.push(
                        record
                            .and_then(|r| r.get(field).cloned())
                            .unwrap_or(Value::None),
                    );
                    pc += 2;
                    continue;
                }
            }
            let mut next = pc + 1;
            match op {
                Op::Const(i) => match self.code.consts.get(usize::from(*i)) {
                    Some(v) => stack.push(v.clone()),
                    None => return fail(Some(pc), format!("constant {i} does not exist")),
                },
                Op::LoadLocal(l) => match frame.get(usize::from(*l)) {
                    Some(v) => stack.push(v.clone()),
                    None => return fail(Some(pc), format!("local {l} does not exist")),
                },
                Op::StoreLocal(l) => {
                    let v = pop!();
                    match frame.get_mut(usize::from(*l)) {
                        Some(slot) => *slot = v,
                        None => return fail(Some(pc), format!("local {l} does not exist")),
                    }
                }
                Op::LoadTrait(n) => {
                    let v = self.env.profile_trait(self.name(*n, pc)?);
                    stack.push(v);
                }
                Op::LoadShop => stack.push(Value::Record(self.bundle.shop.clone())),
                Op::LoadNow => {
                    self.env.clock_read(None);
                    stack.push(Value::Timestamp(self.env.now()));
                }
                Op::LoadEvent => stack.push(self.event.cloned().unwrap_or(Value::None)),
                Op::LoadAggregate(a) => stack.push(self.env.aggregate(*a)),
                Op::InSegment(s) => stack.push(Value::Bool(self.env.in_segment(*s))),
                Op::GetField { name, optional: _ } => {
                    let base = pop!();
                    let field = self.name(*name, pc)?;
                    // Missing data reads as `none` whether or not the access
                    // was `?.`: events from the outside world may lack a
                    // field their schema promises, and a blank is safer than
                    // a failed journey (the checker guards customer-facing
                    // holes).
                    let v = match &base {
                        Value::Record(r) => r.get(field).cloned().unwrap_or(Value::None),
                        Value::None => Value::None,
                        other => {
                            return fail(
                                Some(pc),
                                format!("cannot read field `{field}` of {}", other.kind()),
                            );
                        }
                    };
                    stack.push(v);
                }
                Op::Pop => {
                    pop!();
                }
                Op::Dup => {
                    let v = pop!();
                    stack.push(v.clone());
                    stack.push(v);
                }
                Op::MakeList(n) => {
                    let at = try_at!(
                        stack
                            .len()
                            .checked_sub(usize::from(*n))
                            .ok_or("operand stack underflow")
                    );
                    let items: Vec<Value> = stack.drain(at..).collect();
                    stack.push(Value::List(items));
                }
                Op::MakeRecord { names } => {
                    let Some(Value::List(names)) = self.code.consts.get(usize::from(*names)) else {
                        return fail(Some(pc), "record field names are not a list constant");
                    };
                    let at = try_at!(
                        stack
                            .len()
                            .checked_sub(names.len())
                            .ok_or("operand stack underflow")
                    );
                    let values: Vec<Value> = stack.drain(at..).collect();
                    let fields = names.iter().zip(values).map(|(n, v)| match n {
                        // A shared copy of the constant's name.
                        Value::Str(n) => (n.clone(), v),
                        _ => (nudge_bytecode::SmolStr::default(), v),
                    });
                    stack.push(Value::Record(Record::from_fields(fields)));
                }
                Op::Concat(n) => {
                    let at = try_at!(
                        stack
                            .len()
                            .checked_sub(usize::from(*n))
                            .ok_or("operand stack underflow")
                    );
                    // Room for a typical greeting or line: growing from
                    // empty reallocated a few times per concatenation.
                    let mut out = String::with_capacity(64);
                    for v in stack.drain(at..) {
                        text::write_plain(&mut out, &v);
                    }
                    stack.push(Value::str(out));
                }
                Op::Add | Op::Sub | Op::Mul | Op::Div => {
                    let b = pop!();
                    let a = pop!();
                    let kind = match op {
                        Op::Add => Arith::Add,
                        Op::Sub => Arith::Sub,
                        Op::Mul => Arith::Mul,
                        _ => Arith::Div,
                    };
                    stack.push(try_at!(arith::arith(kind, &a, &b)));
                }
                Op::Neg => {
                    let a = pop!();
                    stack.push(try_at!(arith::negate(&a)));
                }
                Op::Not => match pop!() {
                    Value::Bool(b) => stack.push(Value::Bool(!b)),
                    other => {
                        return fail(
                            Some(pc),
                            format!("`not` needs a bool, found {}", other.kind()),
                        );
                    }
                },
                Op::Eq | Op::Ne => {
                    let b = pop!();
                    let a = pop!();
                    let eq = arith::equal(&a, &b);
                    stack.push(Value::Bool(if matches!(op, Op::Eq) { eq } else { !eq }));
                }
                Op::Lt | Op::Le | Op::Gt | Op::Ge => {
                    let b = pop!();
                    let a = pop!();
                    let ord = try_at!(arith::compare(&a, &b));
                    let r = match op {
                        Op::Lt => ord.is_lt(),
                        Op::Le => ord.is_le(),
                        Op::Gt => ord.is_gt(),
                        _ => ord.is_ge(),
                    };
                    stack.push(Value::Bool(r));
                }
                Op::In => {
                    let list = pop!();
                    let x = pop!();
                    stack.push(Value::Bool(try_at!(arith::contains(&x, &list))));
                }
                Op::Call(builtin) => {
                    let arg = pop!();
                    let now = self.env.now();
                    let (v, until) = match builtin {
                        Builtin::DaysSince => (
                            arith::days_since(&arg, now),
                            arith::days_since_changes_at(&arg, now),
                        ),
                        Builtin::Age => (arith::age(&arg, now), arith::age_changes_at(&arg, now)),
                    };
                    if until.is_some() {
                        self.env.clock_read(until);
                    }
                    stack.push(try_at!(v));
                }
                Op::ListAny(l) | Op::ListAll(l) => {
                    let items = self.list_arg(pop!(), pc)?;
                    let any = matches!(op, Op::ListAny(_));
                    let mut result = !any;
                    for item in items {
                        if self.lambda_bool(*l, item, frame, pc)? == any {
                            result = any;
                            break;
                        }
                    }
                    self.clear_param(*l, frame);
                    stack.push(Value::Bool(result));
                }
                Op::ListCount(l) => {
                    let items = self.list_arg(pop!(), pc)?;
                    let n = match l {
                        None => items.len(),
                        Some(l) => {
                            let mut n = 0;
                            for item in items {
                                if self.lambda_bool(*l, item, frame, pc)? {
                                    n += 1;
                                }
                            }
                            self.clear_param(*l, frame);
                            n
                        }
                    };
                    stack.push(Value::Int(i64::try_from(n).unwrap_or(i64::MAX)));
                }
                Op::ListSum(l) => {
                    let items = self.list_arg(pop!(), pc)?;
                    let mut total: Option<Value> = None;
                    for item in items {
                        let v = match l {
                            None => item,
                            Some(l) => self.lambda_value(*l, item, frame, pc)?,
                        };
                        total = Some(match total {
                            None => v,
                            Some(t) => try_at!(arith::arith(Arith::Add, &t, &v)),
                        });
                    }
                    if let Some(l) = l {
                        self.clear_param(*l, frame);
                    }
                    stack.push(total.unwrap_or(Value::Int(0)));
                }
                Op::ListMap(l) => {
                    let items = self.list_arg(pop!(), pc)?;
                    let mut out = Vec::with_capacity(items.len());
                    for item in items {
                        out.push(self.lambda_value(*l, item, frame, pc)?);
                    }
                    self.clear_param(*l, frame);
                    stack.push(Value::List(out));
                }
                Op::ListFirst(l) => {
                    let items = self.list_arg(pop!(), pc)?;
                    let found = match l {
                        None => items.into_iter().next(),
                        Some(l) => {
                            let mut found = None;
                            for item in items {
                                if self.lambda_bool(*l, item.clone(), frame, pc)? {
                                    found = Some(item);
                                    break;
                                }
                            }
                            self.clear_param(*l, frame);
                            found
                        }
                    };
                    stack.push(found.unwrap_or(Value::None));
                }
                Op::Jump(t) => next = *t as usize,
                Op::JumpIfFalse(t) | Op::JumpIfTrue(t) => {
                    let want = matches!(op, Op::JumpIfTrue(_));
                    match pop!() {
                        Value::Bool(b) if b == want => next = *t as usize,
                        Value::Bool(_) => {}
                        other => {
                            return fail(
                                Some(pc),
                                format!("a condition gave {}, not bool", other.kind()),
                            );
                        }
                    }
                }
                Op::JumpIfSome(t) => {
                    let v = pop!();
                    if !v.is_none() {
                        stack.push(v);
                        next = *t as usize;
                    }
                }
                Op::Return => {
                    let v = pop!();
                    return Ok(Stop::Returned(v));
                }
                // ---- effects ----
                Op::Send { template, argc } => {
                    let at = try_at!(
                        stack
                            .len()
                            .checked_sub(usize::from(*argc))
                            .ok_or("operand stack underflow")
                    );
                    let args: Vec<Value> = stack.drain(at..).collect();
                    let Some(t) = self.bundle.templates.get(usize::from(*template)) else {
                        return fail(Some(pc), format!("template {template} does not exist"));
                    };
                    return Ok(Stop::Effect {
                        effect: Effect::Send {
                            template: *template,
                            channel: t.channel,
                            args,
                        },
                        resume_pc: next,
                    });
                }
                Op::Wait => {
                    let d = pop!();
                    let at = try_at!(arith::arith(
                        Arith::Add,
                        &Value::Timestamp(self.env.now()),
                        &d
                    ));
                    let Value::Timestamp(at) = at else {
                        return fail(
                            Some(pc),
                            format!("`wait` needs a duration, found {}", d.kind()),
                        );
                    };
                    return Ok(Stop::Effect {
                        effect: Effect::WaitUntil { at },
                        resume_pc: next,
                    });
                }
                Op::WaitUntil => match pop!() {
                    Value::Timestamp(at) => {
                        return Ok(Stop::Effect {
                            effect: Effect::WaitUntil { at },
                            resume_pc: next,
                        });
                    }
                    other => {
                        return fail(
                            Some(pc),
                            format!("`wait until` needs a timestamp, found {}", other.kind()),
                        );
                    }
                },
                Op::WaitUntilLocal { time, weekday } => {
                    return Ok(Stop::Effect {
                        effect: Effect::WaitUntilLocal {
                            time: *time,
                            weekday: *weekday,
                        },
                        resume_pc: next,
                    });
                }
                Op::WaitFor { event, .. } => {
                    let within = pop!();
                    let deadline = try_at!(arith::arith(
                        Arith::Add,
                        &Value::Timestamp(self.env.now()),
                        &within
                    ));
                    let Value::Timestamp(deadline) = deadline else {
                        return fail(
                            Some(pc),
                            format!("`within` needs a duration, found {}", within.kind()),
                        );
                    };
                    let event = self.name(*event, pc)?.to_string();
                    // Stay on this instruction: the resume input picks
                    // arrival or timeout.
                    return Ok(Stop::Effect {
                        effect: Effect::WaitFor { event, deadline },
                        resume_pc: pc,
                    });
                }
                Op::Track { event } => {
                    let properties = match pop!() {
                        Value::Record(r) => r,
                        Value::None => Record::new(),
                        other => {
                            return fail(
                                Some(pc),
                                format!("`track` needs a record, found {}", other.kind()),
                            );
                        }
                    };
                    let event = self.name(*event, pc)?.to_string();
                    return Ok(Stop::Effect {
                        effect: Effect::Track { event, properties },
                        resume_pc: next,
                    });
                }
                Op::SetTrait { name } => {
                    let value = pop!();
                    let name = self.name(*name, pc)?.to_string();
                    return Ok(Stop::Effect {
                        effect: Effect::SetTrait { name, value },
                        resume_pc: next,
                    });
                }
                Op::Webhook { method } => {
                    let body = pop!();
                    let url = match pop!() {
                        Value::Str(s) => s,
                        other => {
                            return fail(
                                Some(pc),
                                format!("a webhook url must be a string, found {}", other.kind()),
                            );
                        }
                    };
                    let method = self.name(*method, pc)?.to_string();
                    return Ok(Stop::Effect {
                        effect: Effect::Webhook {
                            method,
                            url: url.to_string(),
                            body,
                        },
                        resume_pc: next,
                    });
                }
                Op::Split(s) => {
                    let Some(split) = self.splits.get(usize::from(*s)) else {
                        return fail(Some(pc), format!("split {s} does not exist"));
                    };
                    let flow = self.flow_name();
                    let Some(arm) = split_arm(self.env.profile_id(), flow, split)
                        .and_then(|i| split.arms.get(i))
                    else {
                        return fail(Some(pc), format!("split {:?} has no arms", split.name));
                    };
                    return Ok(Stop::Effect {
                        effect: Effect::SplitAssigned {
                            split: split.name.clone(),
                            variant: arm.name.clone(),
                        },
                        resume_pc: arm.target as usize,
                    });
                }
                Op::Exit => {
                    return Ok(Stop::Effect {
                        effect: Effect::Exit,
                        resume_pc: pc,
                    });
                }
            }
            pc = next;
        }
    }

    fn list_arg(&self, v: Value, pc: usize) -> Result<Vec<Value>, VmError> {
        match v {
            Value::List(items) => Ok(items),
            // An absent optional list behaves as empty.
            Value::None => Ok(Vec::new()),
            other => fail(Some(pc), format!("expected a list, found {}", other.kind())),
        }
    }

    fn lambda_value(
        &mut self,
        l: u16,
        item: Value,
        frame: &mut [Value],
        pc: usize,
    ) -> Result<Value, VmError> {
        let code = self.code;
        let Some(lambda) = code.lambdas.get(usize::from(l)) else {
            return fail(Some(pc), format!("lambda {l} does not exist"));
        };
        match frame.get_mut(usize::from(lambda.param)) {
            Some(slot) => *slot = item,
            None => {
                return fail(
                    Some(pc),
                    format!("lambda parameter local {} does not exist", lambda.param),
                );
            }
        }
        let mut stack = Stack::new();
        match self.exec(&lambda.ops, 0, frame, &mut stack, false)? {
            Stop::Returned(v) => Ok(v),
            Stop::Effect { .. } => fail(Some(pc), "a lambda tried to perform an effect"),
        }
    }

    fn lambda_bool(
        &mut self,
        l: u16,
        item: Value,
        frame: &mut [Value],
        pc: usize,
    ) -> Result<bool, VmError> {
        match self.lambda_value(l, item, frame, pc)? {
            Value::Bool(b) => Ok(b),
            other => fail(
                Some(pc),
                format!("a predicate gave {}, not bool", other.kind()),
            ),
        }
    }

    /// Lambda parameters do not outlive the list operation: keeping them
    /// would bloat suspended journeys.
    fn clear_param(&self, l: u16, frame: &mut [Value]) {
        if let Some(lambda) = self.code.lambdas.get(usize::from(l))
            && let Some(slot) = frame.get_mut(usize::from(lambda.param))
        {
            *slot = Value::None;
        }
    }
}
