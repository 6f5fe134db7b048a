//! W0005: an `exit when` or `goal` whose `where` condition can never hold,
//! so the flow never exits there or never records the conversion.
//!
//! Reported cases (each is certain, never a guess):
//! 1. the condition is constant false: `false`, `not true`, `x and false`,
//!    or a comparison of two literals that is false (`"a" == "b"`, `1 > 2`);
//! 2. one of the `and`-joined parts compares a field whose declared type is
//!    a string union (`status: "pending" | "paid"`, optional or not) with a
//!    string that is not in the union: `it.status == "shipped"`, or
//!    `it.status in ["shipped", "lost"]` with none of them in it. Fields are
//!    looked up on the matched event (`it` or its `as` name), on the
//!    trigger's event (through the trigger's `as` name) and on `profile`;
//! 3. two `and`-joined parts require the same field to equal two different
//!    strings (`it.status == "paid" and it.status == "pending"`).
//!
//! Anything else (a comparison with a runtime value, `or` of such
//! parts) is not reported.

use crate::ast::{
    BinaryOp, EventMatch, Expr, ExprKind, FlowDecl, FlowSettingKind, Lit, TriggerKind,
    TypeExprKind, UnaryOp,
};
use crate::diagnostic::{Code, Diagnostic};
use crate::rules::{ProjectDecls, strip_parens};
use crate::span::FileId;
use std::cmp::Ordering;

/// The value of a condition made of literals only.
fn const_bool(e: &Expr) -> Option<bool> {
    match &strip_parens(e).kind {
        ExprKind::Lit(Lit::Bool(b)) => Some(*b),
        ExprKind::Unary {
            op: UnaryOp::Not,
            operand,
        } => const_bool(operand).map(|b| !b),
        ExprKind::Binary { op, lhs, rhs, .. } => match op {
            BinaryOp::And => match (const_bool(lhs), const_bool(rhs)) {
                (Some(false), _) | (_, Some(false)) => Some(false),
                (Some(true), Some(true)) => Some(true),
                _ => None,
            },
            BinaryOp::Or => match (const_bool(lhs), const_bool(rhs)) {
                (Some(true), _) | (_, Some(true)) => Some(true),
                (Some(false), Some(false)) => Some(false),
                _ => None,
            },
            BinaryOp::Eq
            | BinaryOp::Ne
            | BinaryOp::Lt
            | BinaryOp::Le
            | BinaryOp::Gt
            | BinaryOp::Ge => {
                let ord = compare_literals(lhs, rhs)?;
                Some(match op {
                    BinaryOp::Eq => ord == Ordering::Equal,
                    BinaryOp::Ne => ord != Ordering::Equal,
                    BinaryOp::Lt => ord == Ordering::Less,
                    BinaryOp::Le => ord != Ordering::Greater,
                    BinaryOp::Gt => ord == Ordering::Greater,
                    _ => ord != Ordering::Less,
                })
            }
            _ => None,
        },
        _ => None,
    }
}

fn plain_string(e: &Expr) -> Option<String> {
    match &strip_parens(e).kind {
        ExprKind::Str(t) => t.as_plain(),
        _ => None,
    }
}

/// Order of two literals of the same kind (ints, decimals, strings for
/// equality only).
fn compare_literals(a: &Expr, b: &Expr) -> Option<Ordering> {
    match (&strip_parens(a).kind, &strip_parens(b).kind) {
        (ExprKind::Lit(Lit::Int(x)), ExprKind::Lit(Lit::Int(y))) => Some(x.cmp(y)),
        (ExprKind::Lit(Lit::Decimal(x)), ExprKind::Lit(Lit::Decimal(y))) => Some(x.cmp(y)),
        (ExprKind::Lit(Lit::Bool(x)), ExprKind::Lit(Lit::Bool(y))) => Some(x.cmp(y)),
        _ => {
            let (x, y) = (plain_string(a)?, plain_string(b)?);
            // Strings only compare for equality here.
            Some(if x == y {
                Ordering::Equal
            } else {
                Ordering::Less
            })
        }
    }
}

fn conjuncts<'a>(e: &'a Expr, out: &mut Vec<&'a Expr>) {
    match &strip_parens(e).kind {
        ExprKind::Binary {
            op: BinaryOp::And,
            lhs,
            rhs,
            ..
        } => {
            conjuncts(lhs, out);
            conjuncts(rhs, out);
        }
        _ => out.push(strip_parens(e)),
    }
}

/// What names in the condition stand for.
struct Scope<'a> {
    /// (name, event) pairs: `it` / the `as` name, and the trigger's binding.
    events: Vec<(&'a str, &'a str)>,
}

/// `base.field` with `base` a plain name: (base, field).
fn simple_field(e: &Expr) -> Option<(&str, &str)> {
    match &strip_parens(e).kind {
        ExprKind::Field { base, field } | ExprKind::OptionalField { base, field } => {
            match &strip_parens(base).kind {
                ExprKind::Name(n) => Some((n.name.as_str(), field.name.as_str())),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The string union a field is declared with, if any.
fn union_of(
    project: &ProjectDecls<'_>,
    scope: &Scope<'_>,
    base: &str,
    field: &str,
) -> Option<Vec<String>> {
    let decl = if base == "profile" {
        project.profile_trait(field)?
    } else {
        let (_, event) = scope.events.iter().find(|(name, _)| *name == base)?;
        project.event_field(event, field)?
    };
    let mut ty = &decl.ty;
    while let TypeExprKind::Optional(inner) = &ty.kind {
        ty = inner;
    }
    match &ty.kind {
        TypeExprKind::Union(names) => Some(names.iter().map(|n| n.value.clone()).collect()),
        _ => None,
    }
}

fn quote_all(values: &[String]) -> String {
    values
        .iter()
        .map(|v| format!("\"{v}\""))
        .collect::<Vec<_>>()
        .join(" | ")
}

fn check_condition(
    project: &ProjectDecls<'_>,
    file: FileId,
    what: &str,
    scope: &Scope<'_>,
    cond: &Expr,
    out: &mut Vec<Diagnostic>,
) {
    if const_bool(cond) == Some(false) {
        out.push(
            Diagnostic::new(
                Code::NeverMatches,
                file,
                cond.span,
                format!("{what} can never match: its condition is always false"),
            )
            .with_help("fix the condition or remove the clause"),
        );
        return;
    }
    let mut parts = Vec::new();
    conjuncts(cond, &mut parts);
    let mut required: Vec<((&str, &str), String)> = Vec::new();
    for part in parts {
        let ExprKind::Binary { op, lhs, rhs, .. } = &part.kind else {
            continue;
        };
        match op {
            BinaryOp::Eq => {
                let (path, lit_expr) = match (simple_field(lhs), simple_field(rhs)) {
                    (Some(p), None) => (p, rhs),
                    (None, Some(p)) => (p, lhs),
                    _ => continue,
                };
                let Some(lit) = plain_string(lit_expr) else {
                    continue;
                };
                if let Some(union) = union_of(project, scope, path.0, path.1)
                    && !union.contains(&lit)
                {
                    out.push(
                        Diagnostic::new(
                            Code::NeverMatches,
                            file,
                            lit_expr.span,
                            format!(
                                "{what} can never match: `{}.{}` is {}, never \"{lit}\"",
                                path.0,
                                path.1,
                                quote_all(&union)
                            ),
                        )
                        .with_help(format!("compare with one of {}", quote_all(&union))),
                    );
                    return;
                }
                if let Some((_, other)) = required.iter().find(|(p, _)| *p == path)
                    && *other != lit
                {
                    out.push(
                        Diagnostic::new(
                            Code::NeverMatches,
                            file,
                            part.span,
                            format!(
                                "{what} can never match: `{}.{}` cannot be both \"{other}\" and \"{lit}\"",
                                path.0, path.1
                            ),
                        )
                        .with_help("join the two comparisons with `or`, or keep one of them"),
                    );
                    return;
                }
                required.push((path, lit));
            }
            BinaryOp::In => {
                let Some(path) = simple_field(lhs) else {
                    continue;
                };
                let ExprKind::List(items) = &strip_parens(rhs).kind else {
                    continue;
                };
                let lits: Option<Vec<String>> = items.iter().map(plain_string).collect();
                let Some(lits) = lits else { continue };
                if let Some(union) = union_of(project, scope, path.0, path.1)
                    && !lits.is_empty()
                    && lits.iter().all(|l| !union.contains(l))
                {
                    out.push(
                        Diagnostic::new(
                            Code::NeverMatches,
                            file,
                            rhs.span,
                            format!(
                                "{what} can never match: `{}.{}` is {}, never one of these",
                                path.0,
                                path.1,
                                quote_all(&union)
                            ),
                        )
                        .with_help(format!("compare with one of {}", quote_all(&union))),
                    );
                    return;
                }
            }
            _ => {}
        }
    }
}

/// W0005 for one flow's `exit when` and `goal` clauses.
pub(super) fn flow(
    project: &ProjectDecls<'_>,
    file: FileId,
    flow: &FlowDecl,
    out: &mut Vec<Diagnostic>,
) {
    let trigger: Option<(&str, &str)> = flow.settings.iter().find_map(|s| match &s.kind {
        FlowSettingKind::Trigger(t) => match &t.kind {
            TriggerKind::Event(m) => m
                .binding
                .as_ref()
                .map(|b| (b.name.as_str(), m.event.value.as_str())),
            _ => None,
        },
        _ => None,
    });
    let check = |what: String, m: &EventMatch, out: &mut Vec<Diagnostic>| {
        let Some(cond) = &m.condition else { return };
        let own = m.binding.as_ref().map_or("it", |b| b.name.as_str());
        let mut events = vec![(own, m.event.value.as_str())];
        // The trigger's binding is visible unless the clause shadows it.
        if let Some(t) = trigger
            && t.0 != own
        {
            events.push(t);
        }
        check_condition(project, file, &what, &Scope { events }, cond, out);
    };
    for s in &flow.settings {
        match &s.kind {
            FlowSettingKind::ExitWhen(m) => {
                check(format!("`exit when \"{}\"`", m.event.value), m, out)
            }
            FlowSettingKind::Goal { event, .. } => {
                check(format!("`goal \"{}\"`", event.event.value), event, out)
            }
            _ => {}
        }
    }
}
