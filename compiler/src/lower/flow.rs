//! Lowering flows: the trigger, the settings, and the body of steps.
//!
//! Frame layout: local 0 is the trigger event (for event triggers, kept as
//! `usage` decides); `wait for ... as x` bindings, `match` scrutinees and
//! lambda parameters get further locals. `exit when` and `goal` filters run
//! on the journey's frame, so they are lowered after the body and reserve
//! its locals.

use super::expr::{Binding, Unit, const_duration, const_percent_bp};
use super::usage::trigger_keep;
use super::{Decls, LowerError, Tables, err};
use crate::ast::{
    self, Block, FlowDecl, FlowSettingKind, Pattern, StepKind, TriggerKind, WaitUntil,
};
use nudge_bytecode::format::{
    Category, EventKeep, EventMatch, Flow, FlowSettings, Goal, Reentry, Trigger,
};
use nudge_bytecode::op::{Code, Op, SplitArm, SplitDef};
use nudge_bytecode::{TimeOfDay, Value};

pub(crate) fn lower_flow(
    decls: &Decls,
    tables: &mut Tables,
    f: &FlowDecl,
) -> Result<Flow, LowerError> {
    let mut trigger = None;
    let mut category = Category::Marketing;
    let mut priority = 0;
    let mut reentry = Reentry::AfterExit;
    let mut exits = Vec::new();
    let mut goal = None;
    let mut holdout_bp = 0;
    for setting in &f.settings {
        match &setting.kind {
            FlowSettingKind::Description(_) => {}
            FlowSettingKind::Category(c, _) => {
                category = match c {
                    ast::Category::Marketing => Category::Marketing,
                    ast::Category::Transactional => Category::Transactional,
                }
            }
            FlowSettingKind::Priority(p) => priority = p.node,
            FlowSettingKind::Trigger(t) => trigger = Some(t),
            FlowSettingKind::Reentry(r) => {
                reentry = match r {
                    ast::Reentry::Always => Reentry::Always,
                    ast::Reentry::Once => Reentry::Once,
                    ast::Reentry::OncePer(d) => Reentry::OncePer {
                        secs: const_duration(d)?,
                    },
                    ast::Reentry::AfterExit => Reentry::AfterExit,
                }
            }
            FlowSettingKind::ExitWhen(m) => exits.push(m),
            FlowSettingKind::Goal { event, within } => {
                goal = Some((event, const_duration(within)?))
            }
            FlowSettingKind::Holdout(e) => holdout_bp = const_percent_bp(e)?,
            FlowSettingKind::Error => {
                return err(setting.span, "cannot lower a broken flow setting");
            }
        }
    }
    let Some(trigger) = trigger else {
        return err(
            f.name.span,
            format!("flow `{}` has no trigger", f.name.name),
        );
    };
    let binding = match &trigger.kind {
        TriggerKind::Event(m) => Some(m.binding.as_ref().map(|b| b.name.as_str()).unwrap_or("it")),
        _ => None,
    };

    // The body.
    let mut unit = Unit::new(decls, tables);
    let mut splits = Vec::new();
    if let Some(name) = binding {
        let l = unit.b.local();
        unit.bind(name, Binding::Local(l));
    }
    block(&mut unit, &mut splits, &f.body)?;
    unit.b.emit(Op::Exit);
    let mut pending = Vec::new();
    for (split, labels) in splits {
        let mut arms = Vec::new();
        for (name, weight_bp, label) in labels {
            arms.push(SplitArm {
                name,
                weight_bp,
                target: unit.b.label_target(label)?,
            });
        }
        pending.push(SplitDef { name: split, arms });
    }
    let code = unit.b.finish()?;
    let frame = code.locals;

    // Filters over the journey's frame.
    let filter = |tables: &mut Tables, m: &ast::EventMatch| -> Result<Option<Code>, LowerError> {
        let Some(cond) = &m.condition else {
            return Ok(None);
        };
        let mut u = Unit::new(decls, tables);
        u.b.reserve_locals(frame);
        if let Some(name) = binding {
            u.bind(name, Binding::Local(0));
        }
        u.bind("it", Binding::Event);
        if let Some(b) = &m.binding {
            u.bind(&b.name, Binding::Event);
        }
        Ok(Some(u.finish_expr(cond)?.0))
    };
    let mut exit_when = Vec::new();
    for m in &exits {
        exit_when.push(EventMatch {
            event: m.event.value.clone(),
            filter: filter(tables, m)?,
        });
    }
    let goal = match goal {
        Some((m, within_secs)) => Some(Goal {
            event: EventMatch {
                event: m.event.value.clone(),
                filter: filter(tables, m)?,
            },
            within_secs,
        }),
        None => None,
    };

    let trigger = match &trigger.kind {
        TriggerKind::Event(m) => {
            let filter = match &m.condition {
                Some(cond) => {
                    let mut u = Unit::new(decls, tables);
                    u.bind("it", Binding::Event);
                    if let Some(b) = &m.binding {
                        u.bind(&b.name, Binding::Event);
                    }
                    Some(u.finish_expr(cond)?.0)
                }
                None => None,
            };
            let keep = match binding {
                Some(name) => trigger_keep(decls, f, name),
                None => EventKeep::Nothing,
            };
            Trigger::Event {
                event: m.event.value.clone(),
                filter,
                keep,
            }
        }
        TriggerKind::Entering(s) | TriggerKind::Leaving(s) => {
            let Some(i) = decls.segment(&s.name) else {
                return err(s.span, format!("unknown segment `{}`", s.name));
            };
            if matches!(trigger.kind, TriggerKind::Entering(_)) {
                Trigger::Entering(i)
            } else {
                Trigger::Leaving(i)
            }
        }
        TriggerKind::Date { date, at } => {
            let yearly = is_date_typed(decls, date);
            let code = Unit::new(decls, tables).finish_expr(date)?.0;
            let at = match at {
                Some(t) => match TimeOfDay::new(t.hour, t.minute) {
                    Some(t) => Some(t),
                    None => return err(t.span, "not a time of day"),
                },
                None => None,
            };
            Trigger::Date {
                date: code,
                at,
                yearly,
            }
        }
        TriggerKind::Inactive { event, duration } => Trigger::Inactive {
            event: event.value.clone(),
            for_secs: const_duration(duration)?,
        },
    };
    let mut flow = Flow {
        name: f.name.name.clone(),
        version: [0; 32],
        trigger,
        settings: FlowSettings {
            category,
            priority,
            reentry,
            exit_when,
            goal,
            holdout_bp,
        },
        splits: pending,
        code,
    };
    flow.version = flow.compute_version();
    Ok(flow)
}

/// `profile.birthday` (a `date` trait) and date arithmetic on it are yearly;
/// anything else (a timestamp) fires once.
fn is_date_typed(decls: &Decls, e: &ast::Expr) -> bool {
    use ast::ExprKind as K;
    match &e.kind {
        K::Paren(inner) => is_date_typed(decls, inner),
        K::Field { base, field } | K::OptionalField { base, field } => {
            matches!(&base.kind, K::Name(id) if id.name == "profile")
                && decls.trait_is_date(&field.name)
        }
        K::Binary {
            op: ast::BinaryOp::Add | ast::BinaryOp::Sub,
            lhs,
            ..
        } => is_date_typed(decls, lhs),
        K::Binary {
            op: ast::BinaryOp::Default,
            lhs,
            rhs,
            ..
        } => is_date_typed(decls, lhs) || is_date_typed(decls, rhs),
        K::Lit(ast::Lit::Date { .. }) => true,
        _ => false,
    }
}

/// Sets a local back to `none` so suspended journeys stay small.
fn clear(u: &mut Unit, local: u16) -> Result<(), LowerError> {
    let none = u.b.constant(Value::None)?;
    u.b.emit(Op::Const(none));
    u.b.emit(Op::StoreLocal(local));
    Ok(())
}

type SplitLabels = Vec<(String, Vec<(String, u16, nudge_bytecode::assemble::Label)>)>;

fn block(u: &mut Unit, splits: &mut SplitLabels, block_: &Block) -> Result<(), LowerError> {
    for step in &block_.steps {
        self::step(u, splits, step)?;
    }
    Ok(())
}

fn step(u: &mut Unit, splits: &mut SplitLabels, s: &ast::Step) -> Result<(), LowerError> {
    match &s.kind {
        StepKind::Send {
            channel: ch,
            template,
            args,
        } => {
            let Some((idx, decl)) = u.decls.template(&template.name) else {
                return err(
                    template.span,
                    format!("unknown template `{}`", template.name),
                );
            };
            if decl.channel != *ch {
                return err(
                    template.span,
                    format!(
                        "`{}` is a {} template",
                        template.name,
                        decl.channel.as_str()
                    ),
                );
            }
            for a in args {
                u.expr(a)?;
            }
            let argc =
                u8::try_from(args.len()).or_else(|_| err(s.span, "too many template arguments"))?;
            u.b.emit(Op::Send {
                template: idx,
                argc,
            });
        }
        StepKind::Wait(d) => {
            u.expr(d)?;
            u.b.emit(Op::Wait);
        }
        StepKind::WaitUntil(WaitUntil::TimeOfDay { weekday, time }) => {
            let Some(t) = TimeOfDay::new(time.hour, time.minute) else {
                return err(time.span, "not a time of day");
            };
            let weekday = weekday.as_ref().map(|w| w.node as u8);
            u.b.emit(Op::WaitUntilLocal { time: t, weekday });
        }
        StepKind::WaitUntil(WaitUntil::Timestamp(e)) => {
            u.expr(e)?;
            u.b.emit(Op::WaitUntil);
        }
        StepKind::WaitFor {
            event,
            within,
            on_arrival,
            on_timeout,
        } => {
            let Some(within) = within else {
                return err(s.span, "`wait for` needs `within`");
            };
            let filter = match &event.condition {
                Some(cond) => {
                    let param = u.b.local();
                    let scope = u.b.begin_lambda();
                    u.bind("it", Binding::Event);
                    if let Some(b) = &event.binding {
                        u.bind(&b.name, Binding::Event);
                    }
                    let lowered = u.expr(cond);
                    if event.binding.is_some() {
                        u.unbind();
                    }
                    u.unbind();
                    u.b.emit(Op::Return);
                    let idx = u.b.end_lambda(scope, param)?;
                    lowered?;
                    Some(idx)
                }
                None => None,
            };
            // The arrival block sees the event under its `as` name (or `it`).
            let bind = match on_arrival {
                Some(_) => Some(u.b.local()),
                None => None,
            };
            u.expr(within)?;
            let name = u.b.name(&event.event.value)?;
            let timeout = u.b.label();
            let end = u.b.label();
            u.b.emit_to(
                Op::WaitFor {
                    event: name,
                    filter,
                    bind,
                    timeout: 0,
                },
                timeout,
            );
            if let (Some(arrival), Some(local)) = (on_arrival, bind) {
                let n = event
                    .binding
                    .as_ref()
                    .map(|b| b.name.as_str())
                    .unwrap_or("it");
                u.bind(n, Binding::Local(local));
                let r = block(u, splits, arrival);
                u.unbind();
                r?;
                // The event is out of scope now: do not carry it in the
                // journey through later waits.
                clear(u, local)?;
            }
            u.b.emit_to(Op::Jump(0), end);
            u.b.place(timeout)?;
            if let Some(t) = on_timeout {
                block(u, splits, t)?;
            }
            u.b.place(end)?;
        }
        StepKind::If {
            branches,
            else_block,
        } => {
            let end = u.b.label();
            for (cond, body) in branches {
                let next = u.b.label();
                u.expr(cond)?;
                u.b.emit_to(Op::JumpIfFalse(0), next);
                block(u, splits, body)?;
                u.b.emit_to(Op::Jump(0), end);
                u.b.place(next)?;
            }
            if let Some(body) = else_block {
                block(u, splits, body)?;
            }
            u.b.place(end)?;
        }
        StepKind::Match { scrutinee, arms } => {
            let tmp = u.b.local();
            u.expr(scrutinee)?;
            u.b.emit(Op::StoreLocal(tmp));
            let end = u.b.label();
            for arm in arms {
                match &arm.pattern {
                    Pattern::Wildcard(_) => {
                        block(u, splits, &arm.body)?;
                        u.b.emit_to(Op::Jump(0), end);
                    }
                    Pattern::Literals(lits) => {
                        let body = u.b.label();
                        let next = u.b.label();
                        for lit in lits {
                            u.b.emit(Op::LoadLocal(tmp));
                            let c = u.b.constant(Value::str(lit.value.as_str()))?;
                            u.b.emit(Op::Const(c));
                            u.b.emit(Op::Eq);
                            u.b.emit_to(Op::JumpIfTrue(0), body);
                        }
                        u.b.emit_to(Op::Jump(0), next);
                        u.b.place(body)?;
                        block(u, splits, &arm.body)?;
                        u.b.emit_to(Op::Jump(0), end);
                        u.b.place(next)?;
                    }
                }
            }
            u.b.place(end)?;
            clear(u, tmp)?;
        }
        StepKind::Split { name, arms } => {
            let idx = u16::try_from(splits.len()).or_else(|_| err(name.span, "too many splits"))?;
            let end = u.b.label();
            let mut labels = Vec::new();
            let bodies: Vec<_> = arms.iter().map(|a| (a, u.b.label())).collect();
            u.b.emit(Op::Split(idx));
            // Reserve the slot now so nested splits get later indices.
            splits.push((name.name.clone(), Vec::new()));
            for (arm, label) in &bodies {
                labels.push((
                    arm.name.name.clone(),
                    const_percent_bp(&arm.weight)?,
                    *label,
                ));
                u.b.place(*label)?;
                block(u, splits, &arm.body)?;
                u.b.emit_to(Op::Jump(0), end);
            }
            if let Some(slot) = splits.get_mut(usize::from(idx)) {
                slot.1 = labels;
            }
            u.b.place(end)?;
        }
        StepKind::Set { target, value } => {
            let ast::ExprKind::Field { base, field } = &target.kind else {
                return err(target.span, "`set` needs `profile.<trait>`");
            };
            if !matches!(&base.kind, ast::ExprKind::Name(id) if id.name == "profile") {
                return err(target.span, "`set` needs `profile.<trait>`");
            }
            u.expr(value)?;
            let name = u.b.name(&field.name)?;
            u.b.emit(Op::SetTrait { name });
        }
        StepKind::Track { event, fields } => {
            let mut names = Vec::new();
            for f in fields {
                u.expr(&f.value)?;
                names.push(Value::str(f.name.value.as_str()));
            }
            let names = u.b.constant(Value::List(names))?;
            u.b.emit(Op::MakeRecord { names });
            let ev = u.b.name(&event.value)?;
            u.b.emit(Op::Track { event: ev });
        }
        StepKind::Webhook { method, url, body } => {
            u.string(url)?;
            match body {
                Some(b) => u.expr(b)?,
                None => {
                    let c = u.b.constant(Value::None)?;
                    u.b.emit(Op::Const(c));
                }
            }
            let m = u.b.name(&method.name)?;
            u.b.emit(Op::Webhook { method: m });
        }
        StepKind::Exit => {
            u.b.emit(Op::Exit);
        }
        StepKind::Error => return err(s.span, "cannot lower a broken step"),
    }
    Ok(())
}
