//! Warnings (W0001–W0009 of LANGUAGE.md §7): code that is valid but probably
//! not what the author meant, or that the runtime will quietly hold back.
//!
//! | code  | what | where |
//! |-------|------|-------|
//! | W0001 | steps after a step that always exits | this module |
//! | W0002 | marketing SMS without "STOP" / "opt out" wording | `sms` |
//! | W0003 | SMS body longer than one segment | `sms` |
//! | W0004 | a flow's own schedule exceeds a frequency cap | `schedule` |
//! | W0005 | `exit when` / `goal` that can never match | `never_match` |
//! | W0006 | marketing SMS without a consent check | this module |
//! | W0007 | `wait until` a time inside quiet hours | `schedule` |
//! | W0008 | aggregate window longer than kept history | this module |
//! | W0009 | marketing email without `shop.address` | this module |
//!
//! "Marketing" means a flow without `category transactional`; a template is
//! a marketing template when some marketing flow sends it. Template-level
//! lints are reported at the template (in its file), with the marketing send
//! as a secondary label.

mod never_match;
mod schedule;
mod sms;

use crate::ast::{
    self, BinaryOp, Block, Category, Channel, Expr, ExprKind, File, FlowDecl, FlowSettingKind,
    Item, Lit, Step, StepKind, TemplateDecl, TriggerKind, UnaryOp,
};
use crate::diagnostic::{Code, Diagnostic};
use crate::manifest::Manifest;
use crate::policy::Policy;
use crate::rules::{self, ProjectDecls, TemplateTextLookup, const_duration, flow_category, walk};
use crate::span::{FileId, Span};
use std::collections::HashMap;

pub use schedule::format_duration;

/// All lints of one file.
pub fn lint_file_with(
    project: &ProjectDecls<'_>,
    policy: &Policy,
    manifest: &Manifest,
    file: FileId,
    ast: &File,
    template_text: &TemplateTextLookup<'_>,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let has_templates = ast.items.iter().any(|i| matches!(i, Item::Template(_)));
    let marketing_sends = if has_templates {
        marketing_sends(project)
    } else {
        HashMap::new()
    };
    for item in &ast.items {
        match item {
            Item::Flow(flow) => {
                unreachable_steps(file, &flow.body, &mut out);
                let marketing = flow_category(flow) == Category::Marketing;
                if marketing {
                    sms_consent(file, &flow.body, false, &mut out);
                    schedule::frequency(file, flow, policy, &mut out);
                }
                schedule::quiet_hours(file, flow, policy, &mut out);
                never_match::flow(project, file, flow, &mut out);
                inactive_window(file, flow, policy, &mut out);
            }
            Item::Template(t) => {
                let sent = marketing_sends.get(&(t.channel, t.name.name.as_str()));
                match t.channel {
                    Channel::Sms => {
                        sms::segments(file, t, manifest, template_text, &mut out);
                        if let Some(&(send_file, send_span)) = sent {
                            sms::opt_out(file, t, template_text, send_file, send_span, &mut out);
                        }
                    }
                    Channel::Email => {
                        if let Some(&(send_file, send_span)) = sent {
                            postal_address(file, t, template_text, send_file, send_span, &mut out);
                        }
                    }
                    Channel::Push => {}
                }
            }
            _ => {}
        }
    }
    history_windows(file, ast, policy, &mut out);
    out
}

/// The first send of each template from a marketing flow, project-wide,
/// keyed by channel and template name.
fn marketing_sends<'a>(project: &ProjectDecls<'a>) -> HashMap<(Channel, &'a str), (FileId, Span)> {
    let mut sends = HashMap::new();
    for (file, flow) in &project.flows {
        if flow_category(flow) != Category::Marketing {
            continue;
        }
        walk::walk_steps(&flow.body, &mut |step| {
            if let StepKind::Send {
                channel, template, ..
            } = &step.kind
            {
                sends
                    .entry((*channel, template.name.as_str()))
                    .or_insert((*file, step.span));
            }
        });
    }
    sends
}

// ---- W0001 unreachable steps ---------------------------------------------

/// True if every path through the step leaves the flow (an `exit`, or a
/// branch step all of whose branches exit).
fn always_exits(step: &Step) -> bool {
    match &step.kind {
        StepKind::Exit => true,
        StepKind::If {
            branches,
            else_block,
        } => {
            else_block.as_ref().is_some_and(block_always_exits)
                && branches.iter().all(|(_, b)| block_always_exits(b))
        }
        StepKind::Match { arms, .. } => {
            // Only a match with `_` is known to cover every value here.
            arms.iter()
                .any(|a| matches!(a.pattern, ast::Pattern::Wildcard(_)))
                && arms.iter().all(|a| block_always_exits(&a.body))
        }
        StepKind::Split { arms, .. } => {
            !arms.is_empty() && arms.iter().all(|a| block_always_exits(&a.body))
        }
        StepKind::WaitFor {
            on_arrival,
            on_timeout,
            ..
        } => {
            on_arrival.as_ref().is_some_and(block_always_exits)
                && on_timeout.as_ref().is_some_and(block_always_exits)
        }
        _ => false,
    }
}

fn block_always_exits(block: &Block) -> bool {
    block.steps.iter().any(always_exits)
}

fn unreachable_steps(file: FileId, block: &Block, out: &mut Vec<Diagnostic>) {
    let mut exit_at: Option<Span> = None;
    for step in &block.steps {
        if let Some(exit) = exit_at {
            out.push(
                Diagnostic::new(
                    Code::UnreachableStep,
                    file,
                    step.span,
                    "this step can never run: every path before it leaves the flow",
                )
                .with_secondary(file, exit, "the flow always exits here")
                .with_help("remove the unreachable steps or the `exit` before them"),
            );
            return;
        }
        for child in walk::child_blocks(step) {
            unreachable_steps(file, child, out);
        }
        if always_exits(step) {
            exit_at = Some(step.span);
        }
    }
}

// ---- W0006 SMS consent ----------------------------------------------------

/// True if `e` is `profile.sms_consent`.
fn is_sms_consent(e: &Expr) -> bool {
    matches!(&rules::strip_parens(e).kind,
        ExprKind::Field { base, field }
            if field.name == "sms_consent"
            && matches!(&rules::strip_parens(base).kind, ExprKind::Name(n) if n.name == "profile"))
}

fn is_bool(e: &Expr, value: bool) -> bool {
    matches!(&rules::strip_parens(e).kind, ExprKind::Lit(Lit::Bool(b)) if *b == value)
}

/// `profile.sms_consent`, `profile.sms_consent == true` or `!= false`
/// (either operand order).
fn is_consent_true(e: &Expr) -> bool {
    consent_compared(e, true) || is_sms_consent(e)
}

/// `profile.sms_consent == false` or `!= true` (either operand order).
fn is_consent_false(e: &Expr) -> bool {
    consent_compared(e, false)
}

/// True if `e` compares `profile.sms_consent` so that it holds exactly
/// when consent is `value`.
fn consent_compared(e: &Expr, value: bool) -> bool {
    let ExprKind::Binary { op, lhs, rhs, .. } = &rules::strip_parens(e).kind else {
        return false;
    };
    let against = |b: bool| {
        (is_sms_consent(lhs) && is_bool(rhs, b)) || (is_bool(lhs, b) && is_sms_consent(rhs))
    };
    match op {
        BinaryOp::Eq => against(value),
        BinaryOp::Ne => against(!value),
        _ => false,
    }
}

/// True if the condition can only hold when the profile consented to SMS:
/// a consent check, or an `and` with one on either side.
fn implies_sms_consent(cond: &Expr) -> bool {
    match &rules::strip_parens(cond).kind {
        ExprKind::Binary {
            op: BinaryOp::And,
            lhs,
            rhs,
            ..
        } => implies_sms_consent(lhs) || implies_sms_consent(rhs),
        _ => is_consent_true(cond),
    }
}

/// True if the condition holds whenever consent is missing:
/// `not profile.sms_consent`, `profile.sms_consent == false`, or an `or`
/// with one of those on either side.
fn implies_no_sms_consent(cond: &Expr) -> bool {
    match &rules::strip_parens(cond).kind {
        ExprKind::Unary {
            op: UnaryOp::Not,
            operand,
        } => is_consent_true(operand),
        ExprKind::Binary {
            op: BinaryOp::Or,
            lhs,
            rhs,
            ..
        } => implies_no_sms_consent(lhs) || implies_no_sms_consent(rhs),
        _ => is_consent_false(cond),
    }
}

/// W0006: walks a marketing flow's steps; `guarded` is true inside a
/// consent check. An `if` that leaves the flow when consent is missing
/// (`if not profile.sms_consent { exit }`) guards the steps after it.
fn sms_consent(file: FileId, block: &Block, guarded: bool, out: &mut Vec<Diagnostic>) {
    let mut guarded = guarded;
    for step in &block.steps {
        match &step.kind {
            StepKind::Send {
                channel: Channel::Sms,
                template,
                ..
            } if !guarded => {
                out.push(
                    Diagnostic::new(
                        Code::SmsWithoutConsentCheck,
                        file,
                        step.span,
                        format!(
                            "marketing SMS `{}` is sent without checking `profile.sms_consent`",
                            template.name
                        ),
                    )
                    .with_help("wrap the send in `if profile.sms_consent { ... }`"),
                );
            }
            StepKind::If {
                branches,
                else_block,
            } => {
                // A branch runs only when every earlier condition was false:
                // after `if not profile.sms_consent { .. }`, later branches
                // and `else` know the profile consented.
                let mut negated = false;
                for (cond, body) in branches {
                    sms_consent(
                        file,
                        body,
                        guarded || negated || implies_sms_consent(cond),
                        out,
                    );
                    negated |= implies_no_sms_consent(cond);
                }
                if let Some(e) = else_block {
                    sms_consent(file, e, guarded || negated, out);
                }
                if let Some((cond, body)) = branches.first()
                    && branches.len() == 1
                    && implies_no_sms_consent(cond)
                    && block_always_exits(body)
                {
                    guarded = true;
                }
            }
            _ => {
                for child in walk::child_blocks(step) {
                    sms_consent(file, child, guarded, out);
                }
            }
        }
    }
}

// ---- W0008 history windows --------------------------------------------------

fn history_warning(file: FileId, span: Span, what: &str, secs: i64, policy: &Policy) -> Diagnostic {
    Diagnostic::new(
        Code::WindowExceedsHistory,
        file,
        span,
        format!(
            "{what} looks back {}, but the project keeps only {} of event history",
            format_duration(secs),
            format_duration(policy.keep_history_secs)
        ),
    )
    .with_help(format!(
        "shorten the window or raise `keep history` to at least {}",
        format_duration(secs)
    ))
}

/// W0008 for `within:` arguments of aggregates anywhere in the file.
fn history_windows(file: FileId, ast: &File, policy: &Policy, out: &mut Vec<Diagnostic>) {
    walk::walk_file_exprs(ast, &mut |e| {
        if let ExprKind::Call { callee, args } = &e.kind {
            for a in args {
                if a.name.as_ref().is_some_and(|n| n.name == "within")
                    && let Some(secs) = const_duration(&a.value)
                    && secs > policy.keep_history_secs
                {
                    let what = format!("`{}`", callee.name);
                    out.push(history_warning(file, a.value.span, &what, secs, policy));
                }
            }
        }
    });
}

/// W0008 for `when inactive "E" for d`: telling silence from forgetting
/// needs the last event of the whole period.
fn inactive_window(file: FileId, flow: &FlowDecl, policy: &Policy, out: &mut Vec<Diagnostic>) {
    for s in &flow.settings {
        if let FlowSettingKind::Trigger(t) = &s.kind
            && let TriggerKind::Inactive { duration, .. } = &t.kind
            && let Some(secs) = const_duration(duration)
            && secs > policy.keep_history_secs
        {
            out.push(history_warning(
                file,
                duration.span,
                "this inactivity trigger",
                secs,
                policy,
            ));
        }
    }
}

// ---- W0009 postal address ---------------------------------------------------

fn is_shop_address(e: &Expr) -> bool {
    matches!(&e.kind,
        ExprKind::Field { base, field } | ExprKind::OptionalField { base, field }
            if field.name == "address"
            && matches!(&rules::strip_parens(base).kind, ExprKind::Name(n) if n.name == "shop"))
}

/// W0009: each body part (`text`, `html`) of a marketing email must show
/// `{{ shop.address }}` (a reader sees one of the two).
fn postal_address(
    file: FileId,
    t: &TemplateDecl,
    template_text: &TemplateTextLookup<'_>,
    send_file: FileId,
    send_span: Span,
    out: &mut Vec<Diagnostic>,
) {
    for part in &t.parts {
        let key = part.key.name.as_str();
        if key != "text" && key != "html" {
            continue;
        }
        let Some(text) = rules::part_text(&part.value, template_text) else {
            continue;
        };
        if walk::text_mentions(text, &is_shop_address) {
            continue;
        }
        out.push(
            Diagnostic::new(
                Code::EmailWithoutAddress,
                file,
                part.key.span,
                format!(
                    "the `{key}` part of marketing email `{}` does not show the shop's postal address",
                    t.name.name
                ),
            )
            .with_secondary(send_file, send_span, "sent by a marketing flow here")
            .with_help("add `{{ shop.address }}` (CAN-SPAM requires a postal address in marketing email)"),
        );
    }
}
