//! The verifier: proves a decoded bundle safe for the VM to run without
//! bounds surprises. It checks every jump target, constant, local, lambda,
//! template, aggregate, segment and split index; that names are string
//! constants; that effects appear only in flow bodies; and, by abstract
//! interpretation of stack depths, that the operand stack is balanced: the
//! same depth on every path into an instruction, never popped below empty,
//! exactly one value at each `Return`, and empty after every effect (so a
//! suspended journey needs no stack).

use crate::format::{Bundle, Flow, Trigger};
use crate::op::{Code, Op, SplitDef};
use crate::template::{Filter, Template, Text, TextNode};
use crate::value::Value;
use std::fmt;

/// Deepest operand stack a verified unit may use.
pub const MAX_STACK: u32 = 1024;

/// What is wrong, and where (e.g. `flow "welcome" body, op 12`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyError {
    pub location: String,
    pub message: String,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

impl std::error::Error for VerifyError {}

/// Whether a unit may hold effects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// A flow body: effects allowed, ends by `Exit`.
    Flow,
    /// An expression: pure, ends by `Return` with one value.
    Expr,
}

struct Ctx<'a> {
    bundle: &'a Bundle,
    splits: &'a [SplitDef],
    location: String,
}

impl Ctx<'_> {
    fn err<T>(&self, at: Option<usize>, message: impl Into<String>) -> Result<T, VerifyError> {
        let location = match at {
            Some(pc) => format!("{}, op {pc}", self.location),
            None => self.location.clone(),
        };
        Err(VerifyError {
            location,
            message: message.into(),
        })
    }
}

/// Verifies the whole bundle.
pub fn verify_bundle(bundle: &Bundle) -> Result<(), VerifyError> {
    for flow in &bundle.flows {
        verify_flow(bundle, flow)?;
    }
    for template in &bundle.templates {
        verify_template(bundle, template)?;
    }
    for segment in &bundle.segments {
        let ctx = Ctx {
            bundle,
            splits: &[],
            location: format!("segment {:?}", segment.name),
        };
        verify_code(&ctx, &segment.condition, Mode::Expr)?;
        for &a in &segment.aggregates {
            if usize::from(a) >= bundle.aggregates.len() {
                return ctx.err(None, format!("input aggregate {a} does not exist"));
            }
        }
        for &s in &segment.segments {
            if usize::from(s) >= bundle.segments.len() {
                return ctx.err(None, format!("input segment {s} does not exist"));
            }
        }
    }
    Ok(())
}

fn verify_flow(bundle: &Bundle, flow: &Flow) -> Result<(), VerifyError> {
    let ctx = Ctx {
        bundle,
        splits: &flow.splits,
        location: format!("flow {:?}", flow.name),
    };
    if flow.version != flow.compute_version() {
        return ctx.err(None, "version hash does not match the flow's content");
    }
    if flow.settings.holdout_bp > 10_000 {
        return ctx.err(
            None,
            format!("holdout {} bp is above 100%", flow.settings.holdout_bp),
        );
    }
    let body = Ctx {
        location: format!("flow {:?} body", flow.name),
        ..ctx
    };
    if matches!(flow.trigger, Trigger::Event { .. }) && flow.code.locals == 0 {
        return body.err(
            None,
            "an event-triggered flow needs local 0 for its trigger event",
        );
    }
    verify_code(&body, &flow.code, Mode::Flow)?;
    for (i, split) in flow.splits.iter().enumerate() {
        let total: u32 = split.arms.iter().map(|a| u32::from(a.weight_bp)).sum();
        if total != 10_000 {
            return body.err(
                None,
                format!(
                    "split {i} ({:?}) weights add to {total} bp, not 10000",
                    split.name
                ),
            );
        }
    }
    let sub = |what: &str| Ctx {
        bundle,
        splits: &[],
        location: format!("flow {:?} {what}", flow.name),
    };
    match &flow.trigger {
        Trigger::Event {
            filter: Some(code), ..
        } => verify_code(&sub("trigger filter"), code, Mode::Expr)?,
        Trigger::Date { date, .. } => verify_code(&sub("trigger date"), date, Mode::Expr)?,
        Trigger::Entering(s) | Trigger::Leaving(s) if usize::from(*s) >= bundle.segments.len() => {
            return sub("trigger").err(None, format!("segment {s} does not exist"));
        }
        _ => {}
    }
    for (i, m) in flow.settings.exit_when.iter().enumerate() {
        if let Some(code) = &m.filter {
            verify_code(&sub(&format!("exit when #{i} filter")), code, Mode::Expr)?;
        }
    }
    if let Some(goal) = &flow.settings.goal
        && let Some(code) = &goal.event.filter
    {
        verify_code(&sub("goal filter"), code, Mode::Expr)?;
    }
    Ok(())
}

fn verify_template(bundle: &Bundle, template: &Template) -> Result<(), VerifyError> {
    let ctx = Ctx {
        bundle,
        splits: &[],
        location: format!("template {:?}", template.name),
    };
    if template.params > template.locals {
        return ctx.err(None, "has more parameters than frame locals");
    }
    for (_, text) in &template.parts {
        verify_text(&ctx, template, text)?;
    }
    Ok(())
}

fn verify_text(ctx: &Ctx, template: &Template, text: &Text) -> Result<(), VerifyError> {
    let hole = |code: &Code| -> Result<(), VerifyError> {
        if code.locals > template.locals {
            return ctx.err(
                None,
                format!(
                    "a hole uses {} locals, the frame has {}",
                    code.locals, template.locals
                ),
            );
        }
        verify_code(ctx, code, Mode::Expr)
    };
    for node in &text.0 {
        match node {
            TextNode::Lit(_) | TextNode::Placeholder(_) => {}
            TextNode::Hole { expr, filters } => {
                hole(expr)?;
                for f in filters {
                    if let Filter::Default(code) = f {
                        hole(code)?;
                    }
                }
            }
            TextNode::If {
                branches,
                otherwise,
            } => {
                for (cond, body) in branches {
                    hole(cond)?;
                    verify_text(ctx, template, body)?;
                }
                if let Some(body) = otherwise {
                    verify_text(ctx, template, body)?;
                }
            }
            TextNode::For { var, list, body } => {
                if *var >= template.locals {
                    return ctx.err(
                        None,
                        format!("loop variable local {var} is outside the frame"),
                    );
                }
                hole(list)?;
                verify_text(ctx, template, body)?;
            }
        }
    }
    Ok(())
}

/// Verifies one unit and its lambdas.
fn verify_code(ctx: &Ctx, code: &Code, mode: Mode) -> Result<(), VerifyError> {
    verify_ops(ctx, code, &code.ops, mode, code.lambdas.len())?;
    for (i, lambda) in code.lambdas.iter().enumerate() {
        let lctx = Ctx {
            bundle: ctx.bundle,
            splits: ctx.splits,
            location: format!("{} lambda {i}", ctx.location),
        };
        if lambda.param >= code.locals {
            return lctx.err(
                None,
                format!(
                    "parameter local {} is outside the frame of {}",
                    lambda.param, code.locals
                ),
            );
        }
        // A lambda may use only earlier lambdas: no recursion.
        verify_ops(&lctx, code, &lambda.ops, Mode::Expr, i)?;
    }
    Ok(())
}

/// Checks indices of every op, then stack depths along every path.
#[allow(
    clippy::collapsible_match,
    reason = "one arm per op with its own check reads better than guards"
)]
fn verify_ops(
    ctx: &Ctx,
    code: &Code,
    ops: &[Op],
    mode: Mode,
    lambdas_visible: usize,
) -> Result<(), VerifyError> {
    if ops.is_empty() {
        return ctx.err(None, "has no instructions");
    }
    let len = ops.len();
    let name = |pc: usize, idx: u16| -> Result<(), VerifyError> {
        match code.consts.get(usize::from(idx)) {
            Some(Value::Str(_)) => Ok(()),
            Some(other) => ctx.err(
                Some(pc),
                format!(
                    "constant {idx} should be a name (string), found {}",
                    other.kind()
                ),
            ),
            None => ctx.err(
                Some(pc),
                format!(
                    "constant {idx} does not exist ({} constants)",
                    code.consts.len()
                ),
            ),
        }
    };
    let local = |pc: usize, l: u16| -> Result<(), VerifyError> {
        if l >= code.locals {
            return ctx.err(
                Some(pc),
                format!("local {l} does not exist ({} locals)", code.locals),
            );
        }
        Ok(())
    };
    let lambda = |pc: usize, l: Option<u16>| -> Result<(), VerifyError> {
        match l {
            Some(l) if usize::from(l) >= lambdas_visible => ctx.err(
                Some(pc),
                format!("lambda {l} does not exist or is not callable here"),
            ),
            _ => Ok(()),
        }
    };
    let target = |pc: usize, t: u32| -> Result<usize, VerifyError> {
        let t = t as usize;
        if t >= len {
            return ctx.err(
                Some(pc),
                format!("jump target {t} is out of range ({len} ops)"),
            );
        }
        Ok(t)
    };

    // Index checks.
    for (pc, op) in ops.iter().enumerate() {
        if op.is_effect() && mode == Mode::Expr {
            return ctx.err(Some(pc), format!("effect {op:?} inside an expression"));
        }
        match op {
            Op::Const(i) => {
                if usize::from(*i) >= code.consts.len() {
                    return ctx.err(
                        Some(pc),
                        format!(
                            "constant {i} does not exist ({} constants)",
                            code.consts.len()
                        ),
                    );
                }
            }
            Op::LoadLocal(l) | Op::StoreLocal(l) => local(pc, *l)?,
            Op::LoadTrait(n)
            | Op::GetField { name: n, .. }
            | Op::Track { event: n }
            | Op::SetTrait { name: n }
            | Op::Webhook { method: n } => name(pc, *n)?,
            Op::LoadAggregate(a) => {
                if usize::from(*a) >= ctx.bundle.aggregates.len() {
                    return ctx.err(Some(pc), format!("aggregate {a} does not exist"));
                }
            }
            Op::InSegment(s) => {
                if usize::from(*s) >= ctx.bundle.segments.len() {
                    return ctx.err(Some(pc), format!("segment {s} does not exist"));
                }
            }
            Op::MakeRecord { names } => match code.consts.get(usize::from(*names)) {
                Some(Value::List(items)) if items.iter().all(|v| matches!(v, Value::Str(_))) => {}
                _ => {
                    return ctx.err(
                        Some(pc),
                        format!("constant {names} should be a list of field names"),
                    );
                }
            },
            Op::ListAny(l) | Op::ListAll(l) | Op::ListMap(l) => lambda(pc, Some(*l))?,
            Op::ListCount(l) | Op::ListSum(l) | Op::ListFirst(l) => lambda(pc, *l)?,
            Op::Jump(t) | Op::JumpIfFalse(t) | Op::JumpIfTrue(t) | Op::JumpIfSome(t) => {
                target(pc, *t)?;
            }
            Op::Send { template, argc } => match ctx.bundle.templates.get(usize::from(*template)) {
                Some(t) if t.params == u16::from(*argc) => {}
                Some(t) => {
                    return ctx.err(
                        Some(pc),
                        format!(
                            "template {:?} takes {} arguments, {argc} given",
                            t.name, t.params
                        ),
                    );
                }
                None => return ctx.err(Some(pc), format!("template {template} does not exist")),
            },
            Op::WaitUntilLocal { time, weekday } => {
                if time.0 >= 86_400 || weekday.is_some_and(|w| w > 6) {
                    return ctx.err(Some(pc), "time of day or weekday out of range");
                }
            }
            Op::WaitFor {
                event,
                filter,
                bind,
                timeout,
            } => {
                name(pc, *event)?;
                lambda(pc, *filter)?;
                if let Some(b) = bind {
                    local(pc, *b)?;
                }
                target(pc, *timeout)?;
            }
            Op::Split(s) => match ctx.splits.get(usize::from(*s)) {
                Some(split) => {
                    if split.arms.is_empty() {
                        return ctx.err(Some(pc), format!("split {s} has no arms"));
                    }
                    for arm in &split.arms {
                        target(pc, arm.target)?;
                    }
                }
                None => return ctx.err(Some(pc), format!("split {s} does not exist")),
            },
            _ => {}
        }
    }

    // Stack depths.
    let mut depth: Vec<Option<u32>> = vec![None; len];
    let mut work: Vec<(usize, u32)> = vec![(0, 0)];
    while let Some((pc, d)) = work.pop() {
        let Some(slot) = depth.get_mut(pc) else {
            return ctx.err(Some(pc), "execution runs past the last instruction");
        };
        match *slot {
            Some(seen) if seen == d => continue,
            Some(seen) => {
                return ctx.err(
                    Some(pc),
                    format!("stack depth differs between paths ({seen} and {d})"),
                );
            }
            None => *slot = Some(d),
        }
        let Some(op) = ops.get(pc) else {
            return ctx.err(Some(pc), "execution runs past the last instruction");
        };
        let (pops, pushes) = stack_effect(op, code);
        if d < pops {
            return ctx.err(
                Some(pc),
                format!("{op:?} needs {pops} values, the stack holds {d}"),
            );
        }
        let after = d - pops + pushes;
        if after > MAX_STACK {
            return ctx.err(Some(pc), format!("stack deeper than {MAX_STACK}"));
        }
        if op.is_effect() && after != 0 {
            return ctx.err(
                Some(pc),
                format!("{op:?} leaves {after} values on the stack; effects need it empty"),
            );
        }
        let next = pc + 1;
        match op {
            Op::Return => {
                if d != 1 {
                    return ctx.err(
                        Some(pc),
                        format!("returns with {d} values on the stack, expected 1"),
                    );
                }
            }
            Op::Exit => {}
            Op::Jump(t) => work.push((*t as usize, after)),
            Op::JumpIfFalse(t) | Op::JumpIfTrue(t) => {
                work.push((*t as usize, after));
                work.push((next, after));
            }
            Op::JumpIfSome(t) => {
                work.push((*t as usize, d));
                work.push((next, d - 1));
            }
            Op::WaitFor { timeout, .. } => {
                work.push((*timeout as usize, 0));
                work.push((next, 0));
            }
            Op::Split(s) => {
                for arm in ctx
                    .splits
                    .get(usize::from(*s))
                    .map(|s| s.arms.as_slice())
                    .unwrap_or(&[])
                {
                    work.push((arm.target as usize, 0));
                }
            }
            _ => work.push((next, after)),
        }
    }
    if mode == Mode::Flow && ops.iter().any(|op| matches!(op, Op::Return)) {
        return ctx.err(None, "a flow body cannot `Return`; it ends with `Exit`");
    }
    Ok(())
}

/// `(values popped, values pushed)`. `JumpIfSome` is special-cased by the
/// caller.
fn stack_effect(op: &Op, code: &Code) -> (u32, u32) {
    match op {
        Op::Const(_)
        | Op::LoadLocal(_)
        | Op::LoadTrait(_)
        | Op::LoadShop
        | Op::LoadNow
        | Op::LoadEvent
        | Op::LoadAggregate(_)
        | Op::InSegment(_) => (0, 1),
        Op::StoreLocal(_) | Op::Pop => (1, 0),
        Op::GetField { .. } | Op::Neg | Op::Not => (1, 1),
        Op::Dup => (1, 2),
        Op::MakeList(n) | Op::Concat(n) => (u32::from(*n), 1),
        Op::MakeRecord { names } => match code.consts.get(usize::from(*names)) {
            Some(Value::List(items)) => (items.len() as u32, 1),
            _ => (0, 1),
        },
        Op::Add
        | Op::Sub
        | Op::Mul
        | Op::Div
        | Op::Eq
        | Op::Ne
        | Op::Lt
        | Op::Le
        | Op::Gt
        | Op::Ge
        | Op::In => (2, 1),
        Op::Call(b) => (b.arity() as u32, 1),
        Op::ListAny(_)
        | Op::ListAll(_)
        | Op::ListCount(_)
        | Op::ListSum(_)
        | Op::ListMap(_)
        | Op::ListFirst(_) => (1, 1),
        Op::Jump(_) => (0, 0),
        Op::JumpIfFalse(_) | Op::JumpIfTrue(_) => (1, 0),
        Op::JumpIfSome(_) => (1, 1),
        Op::Return => (1, 0),
        Op::Send { argc, .. } => (u32::from(*argc), 0),
        Op::Wait | Op::WaitUntil | Op::WaitFor { .. } | Op::Track { .. } | Op::SetTrait { .. } => {
            (1, 0)
        }
        Op::Webhook { .. } => (2, 0),
        Op::WaitUntilLocal { .. } | Op::Split(_) | Op::Exit => (0, 0),
    }
}
