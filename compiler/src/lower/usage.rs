//! Which fields of the trigger event a journey must keep: the fields the
//! flow reads (`checkout.checkout_id`), plus the fields the templates it
//! sends read of the parameter it passes the event as. A bare use anywhere
//! else (passing the event into a list, a record, a `track`) keeps it whole.
//! Shadowing is ignored: that can only keep more than needed, never less.

use super::Decls;
use crate::ast::{
    self, Expr, ExprKind, FlowDecl, FlowSettingKind, StepKind, TemplateSource, Text, TextNode,
};
use nudge_bytecode::format::EventKeep;
use std::collections::BTreeSet;

#[derive(Default)]
struct Usage {
    whole: bool,
    fields: BTreeSet<String>,
}

pub(crate) fn trigger_keep(decls: &Decls, f: &FlowDecl, name: &str) -> EventKeep {
    let mut u = Usage::default();
    for s in &f.settings {
        match &s.kind {
            FlowSettingKind::ExitWhen(m) | FlowSettingKind::Goal { event: m, .. } => {
                if let Some(c) = &m.condition {
                    expr(c, name, &mut u);
                }
            }
            _ => {}
        }
    }
    block(decls, &f.body, name, &mut u);
    if u.whole {
        EventKeep::Whole
    } else if u.fields.is_empty() {
        EventKeep::Nothing
    } else {
        EventKeep::Fields(u.fields.into_iter().collect())
    }
}

fn block(decls: &Decls, b: &ast::Block, name: &str, u: &mut Usage) {
    for s in &b.steps {
        step(decls, s, name, u);
    }
}

fn step(decls: &Decls, s: &ast::Step, name: &str, u: &mut Usage) {
    match &s.kind {
        StepKind::Send { template, args, .. } => {
            for (i, a) in args.iter().enumerate() {
                if matches!(&a.kind, ExprKind::Name(id) if id.name == name) {
                    // Passed bare: keep what the template reads of that parameter.
                    match decls
                        .template(&template.name)
                        .and_then(|(_, t)| t.params.get(i).map(|p| (t, p)))
                    {
                        Some((t, p)) => template_usage(decls, t, &p.name.name, u),
                        None => u.whole = true,
                    }
                } else {
                    expr(a, name, u);
                }
            }
        }
        StepKind::Wait(e) | StepKind::WaitUntil(ast::WaitUntil::Timestamp(e)) => expr(e, name, u),
        StepKind::WaitUntil(_) | StepKind::Exit | StepKind::Error => {}
        StepKind::WaitFor {
            event,
            within,
            on_arrival,
            on_timeout,
        } => {
            if let Some(c) = &event.condition {
                expr(c, name, u);
            }
            if let Some(w) = within {
                expr(w, name, u);
            }
            for b in [on_arrival, on_timeout].into_iter().flatten() {
                block(decls, b, name, u);
            }
        }
        StepKind::If {
            branches,
            else_block,
        } => {
            for (c, b) in branches {
                expr(c, name, u);
                block(decls, b, name, u);
            }
            if let Some(b) = else_block {
                block(decls, b, name, u);
            }
        }
        StepKind::Match { scrutinee, arms } => {
            expr(scrutinee, name, u);
            for a in arms {
                block(decls, &a.body, name, u);
            }
        }
        StepKind::Split { arms, .. } => {
            for a in arms {
                block(decls, &a.body, name, u);
            }
        }
        StepKind::Set { value, .. } => expr(value, name, u),
        StepKind::Track { fields, .. } => {
            for f in fields {
                expr(&f.value, name, u);
            }
        }
        StepKind::Webhook { url, body, .. } => {
            text(url, name, u);
            if let Some(b) = body {
                expr(b, name, u);
            }
        }
    }
}

fn template_usage(decls: &Decls, t: &ast::TemplateDecl, param: &str, u: &mut Usage) {
    for part in &t.parts {
        match &part.value {
            TemplateSource::Inline(tx) => text(tx, param, u),
            TemplateSource::File(path) => match decls.template_files.get(&path.value) {
                Some(tx) => text(tx, param, u),
                None => u.whole = true,
            },
        }
    }
}

fn text(t: &Text, name: &str, u: &mut Usage) {
    for n in &t.nodes {
        match n {
            TextNode::Literal(..) | TextNode::Error(_) => {}
            TextNode::Hole(h) => {
                expr(&h.expr, name, u);
                for f in &h.filters {
                    for a in &f.args {
                        expr(a, name, u);
                    }
                }
            }
            TextNode::If {
                branches,
                else_branch,
                ..
            } => {
                for (c, b) in branches {
                    expr(c, name, u);
                    text(b, name, u);
                }
                if let Some(b) = else_branch {
                    text(b, name, u);
                }
            }
            TextNode::For { iterable, body, .. } => {
                expr(iterable, name, u);
                text(body, name, u);
            }
        }
    }
}

fn expr(e: &Expr, name: &str, u: &mut Usage) {
    match &e.kind {
        ExprKind::Field { base, field } | ExprKind::OptionalField { base, field } => {
            if matches!(&base.kind, ExprKind::Name(id) if id.name == name) {
                u.fields.insert(field.name.clone());
            } else {
                expr(base, name, u);
            }
        }
        ExprKind::Name(id) => {
            if id.name == name {
                u.whole = true;
            }
        }
        ExprKind::Str(t) => text(t, name, u),
        ExprKind::Call { args, .. } => {
            for a in args {
                expr(&a.value, name, u);
            }
        }
        ExprKind::Method { receiver, args, .. } => {
            expr(receiver, name, u);
            for a in args {
                expr(&a.value, name, u);
            }
        }
        ExprKind::Lambda { body, .. } => expr(body, name, u),
        ExprKind::Unary { operand, .. } => expr(operand, name, u),
        ExprKind::Binary { lhs, rhs, .. } => {
            expr(lhs, name, u);
            expr(rhs, name, u);
        }
        ExprKind::List(items) => items.iter().for_each(|i| expr(i, name, u)),
        ExprKind::Record(fields) => fields.iter().for_each(|f| expr(&f.value, name, u)),
        ExprKind::Paren(inner) => expr(inner, name, u),
        ExprKind::Lit(_) | ExprKind::EventField { .. } | ExprKind::Error => {}
    }
}
