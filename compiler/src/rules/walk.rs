//! Read-only traversals of the syntax tree and constant folding of the
//! literal-only expressions rules and lints reason about (durations,
//! percentages), and how durations are written back in messages. Shared by
//! `rules`, `policy` and `lint`.
//!
//! Recursion depth is bounded by the parser's nesting limit (E0006).

use crate::ast::{
    BinaryOp, Block, EventMatch, Expr, ExprKind, File, FlowSettingKind, Item, Lit, PolicyRuleKind,
    Reentry, Step, StepKind, TemplateSource, Text, TextNode, TriggerKind, UnaryOp,
};
use rust_decimal::Decimal;

/// The value in seconds of a duration expression made only of literals
/// (`1d`, `(1h)`, `-1d`, `1d + 2h`, `2 * 1d`); `None` for anything else.
pub fn const_duration(e: &Expr) -> Option<i64> {
    match &e.kind {
        ExprKind::Lit(Lit::Duration(s)) => Some(*s),
        ExprKind::Paren(inner) => const_duration(inner),
        ExprKind::Unary {
            op: UnaryOp::Neg,
            operand,
        } => const_duration(operand)?.checked_neg(),
        ExprKind::Binary { op, lhs, rhs, .. } => match op {
            BinaryOp::Add => const_duration(lhs)?.checked_add(const_duration(rhs)?),
            BinaryOp::Sub => const_duration(lhs)?.checked_sub(const_duration(rhs)?),
            BinaryOp::Mul => match (const_int(lhs), const_int(rhs)) {
                (Some(n), _) => n.checked_mul(const_duration(rhs)?),
                (_, Some(n)) => const_duration(lhs)?.checked_mul(n),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    }
}

fn const_int(e: &Expr) -> Option<i64> {
    match &e.kind {
        ExprKind::Lit(Lit::Int(n)) => Some(*n),
        ExprKind::Paren(inner) => const_int(inner),
        ExprKind::Unary {
            op: UnaryOp::Neg,
            operand,
        } => const_int(operand)?.checked_neg(),
        _ => None,
    }
}

/// The number of a percentage literal (`10%` → 10, `-5%` → -5).
pub fn const_percent(e: &Expr) -> Option<Decimal> {
    match &e.kind {
        ExprKind::Lit(Lit::Percent(p)) => Some(*p),
        ExprKind::Paren(inner) => const_percent(inner),
        ExprKind::Unary {
            op: UnaryOp::Neg,
            operand,
        } => Some(-const_percent(operand)?),
        _ => None,
    }
}

/// Visits `e` and every expression inside it (pre-order), including the
/// holes of string literals.
pub fn walk_expr<'a>(e: &'a Expr, f: &mut dyn FnMut(&'a Expr)) {
    f(e);
    match &e.kind {
        ExprKind::Lit(_) | ExprKind::Name(_) | ExprKind::EventField { .. } | ExprKind::Error => {}
        ExprKind::Str(text) => walk_text(text, f),
        ExprKind::Field { base, .. } | ExprKind::OptionalField { base, .. } => walk_expr(base, f),
        ExprKind::Call { args, .. } => {
            for a in args {
                walk_expr(&a.value, f);
            }
        }
        ExprKind::Method { receiver, args, .. } => {
            walk_expr(receiver, f);
            for a in args {
                walk_expr(&a.value, f);
            }
        }
        ExprKind::Lambda { body, .. } => walk_expr(body, f),
        ExprKind::Unary { operand, .. } => walk_expr(operand, f),
        ExprKind::Binary { lhs, rhs, .. } => {
            walk_expr(lhs, f);
            walk_expr(rhs, f);
        }
        ExprKind::List(items) => {
            for i in items {
                walk_expr(i, f);
            }
        }
        ExprKind::Record(fields) => {
            for fi in fields {
                walk_expr(&fi.value, f);
            }
        }
        ExprKind::Paren(inner) => walk_expr(inner, f),
    }
}

/// Visits every expression in template text: holes, filter arguments,
/// `{% if %}` conditions and `{% for %}` iterables.
pub fn walk_text<'a>(text: &'a Text, f: &mut dyn FnMut(&'a Expr)) {
    for node in &text.nodes {
        match node {
            TextNode::Literal(..) | TextNode::Error(_) => {}
            TextNode::Hole(h) => {
                walk_expr(&h.expr, f);
                for filter in &h.filters {
                    for a in &filter.args {
                        walk_expr(a, f);
                    }
                }
            }
            TextNode::If {
                branches,
                else_branch,
                ..
            } => {
                for (cond, body) in branches {
                    walk_expr(cond, f);
                    walk_text(body, f);
                }
                if let Some(e) = else_branch {
                    walk_text(e, f);
                }
            }
            TextNode::For { iterable, body, .. } => {
                walk_expr(iterable, f);
                walk_text(body, f);
            }
        }
    }
}

fn walk_event_match<'a>(m: &'a EventMatch, f: &mut dyn FnMut(&'a Expr)) {
    if let Some(c) = &m.condition {
        walk_expr(c, f);
    }
}

/// Visits every step of a block and of the blocks nested in it (pre-order).
pub fn walk_steps<'a>(block: &'a Block, f: &mut dyn FnMut(&'a Step)) {
    for step in &block.steps {
        f(step);
        for child in child_blocks(step) {
            walk_steps(child, f);
        }
    }
}

/// The blocks directly inside a step (branches, arms, wait-for blocks).
pub fn child_blocks(step: &Step) -> Vec<&Block> {
    match &step.kind {
        StepKind::WaitFor {
            on_arrival,
            on_timeout,
            ..
        } => on_arrival.iter().chain(on_timeout.iter()).collect(),
        StepKind::If {
            branches,
            else_block,
        } => branches
            .iter()
            .map(|(_, b)| b)
            .chain(else_block.iter())
            .collect(),
        StepKind::Match { arms, .. } => arms.iter().map(|a| &a.body).collect(),
        StepKind::Split { arms, .. } => arms.iter().map(|a| &a.body).collect(),
        _ => Vec::new(),
    }
}

/// Visits the expressions written directly in one step (not in nested blocks).
pub fn step_exprs<'a>(step: &'a Step, f: &mut dyn FnMut(&'a Expr)) {
    match &step.kind {
        StepKind::Send { args, .. } => {
            for a in args {
                walk_expr(a, f);
            }
        }
        StepKind::Wait(d) => walk_expr(d, f),
        StepKind::WaitUntil(crate::ast::WaitUntil::Timestamp(e)) => walk_expr(e, f),
        StepKind::WaitUntil(_) => {}
        StepKind::WaitFor { event, within, .. } => {
            walk_event_match(event, f);
            if let Some(w) = within {
                walk_expr(w, f);
            }
        }
        StepKind::If { branches, .. } => {
            for (c, _) in branches {
                walk_expr(c, f);
            }
        }
        StepKind::Match { scrutinee, .. } => walk_expr(scrutinee, f),
        StepKind::Split { arms, .. } => {
            for a in arms {
                walk_expr(&a.weight, f);
            }
        }
        StepKind::Set { target, value } => {
            walk_expr(target, f);
            walk_expr(value, f);
        }
        StepKind::Track { fields, .. } => {
            for fi in fields {
                walk_expr(&fi.value, f);
            }
        }
        StepKind::Webhook { url, body, .. } => {
            walk_text(url, f);
            if let Some(b) = body {
                walk_expr(b, f);
            }
        }
        StepKind::Exit | StepKind::Error => {}
    }
}

/// Visits every expression in a file: segment conditions, flow settings
/// and steps, inline template text, policy values.
pub fn walk_file_exprs<'a>(file: &'a File, f: &mut dyn FnMut(&'a Expr)) {
    for item in &file.items {
        match item {
            Item::Segment(s) => walk_expr(&s.condition, f),
            Item::Template(t) => {
                for part in &t.parts {
                    if let TemplateSource::Inline(text) = &part.value {
                        walk_text(text, f);
                    }
                }
            }
            Item::Flow(flow) => {
                for setting in &flow.settings {
                    match &setting.kind {
                        FlowSettingKind::Trigger(t) => match &t.kind {
                            TriggerKind::Event(m) => walk_event_match(m, f),
                            TriggerKind::Date { date, .. } => walk_expr(date, f),
                            TriggerKind::Inactive { duration, .. } => walk_expr(duration, f),
                            TriggerKind::Entering(_) | TriggerKind::Leaving(_) => {}
                        },
                        FlowSettingKind::Reentry(Reentry::OncePer(d)) => walk_expr(d, f),
                        FlowSettingKind::ExitWhen(m) => walk_event_match(m, f),
                        FlowSettingKind::Goal { event, within } => {
                            walk_event_match(event, f);
                            walk_expr(within, f);
                        }
                        FlowSettingKind::Holdout(e) => walk_expr(e, f),
                        _ => {}
                    }
                }
                walk_steps(&flow.body, &mut |step| step_exprs(step, f));
            }
            Item::Policy(p) => {
                for rule in &p.rules {
                    match &rule.kind {
                        PolicyRuleKind::Frequency { caps, .. } => {
                            for c in caps {
                                walk_expr(&c.window, f);
                            }
                        }
                        PolicyRuleKind::KeepHistory(e) => walk_expr(e, f),
                        _ => {}
                    }
                }
            }
            Item::Event(_) | Item::Type(_) | Item::Profile(_) | Item::Test(_) | Item::Error(_) => {}
        }
    }
}

/// True if the text mentions the name anywhere in a hole or tag
/// (`{{ unsubscribe_url }}`, `{{ shop.address }}` for `shop`+`address`).
pub fn text_mentions(text: &Text, pred: &dyn Fn(&Expr) -> bool) -> bool {
    let mut found = false;
    walk_text(text, &mut |e| found |= pred(e));
    found
}

/// `90061` → `1d1h1m1s`; whole weeks are written in days (`14d`).
pub fn format_duration(secs: i64) -> String {
    if secs == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    if secs < 0 {
        out.push('-');
    }
    let mut rest = secs.unsigned_abs();
    for (unit, name) in [(86_400u64, 'd'), (3600, 'h'), (60, 'm'), (1, 's')] {
        if rest >= unit {
            out.push_str(&(rest / unit).to_string());
            out.push(name);
            rest %= unit;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_durations() {
        assert_eq!(format_duration(86_400), "1d");
        assert_eq!(format_duration(7 * 86_400), "7d");
        assert_eq!(format_duration(5400), "1h30m");
        assert_eq!(format_duration(90_061), "1d1h1m1s");
        assert_eq!(format_duration(-60), "-1m");
        assert_eq!(format_duration(0), "0s");
    }
}
