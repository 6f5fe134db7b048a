//! Expressions: literals, names, field access, list and record literals,
//! and the narrowing of optionals by `!= none` tests. Operators are in
//! `ops.rs`, calls in `call.rs`, what a value must be where it is used in
//! `fit.rs`.

use super::Checker;
use super::builtins;
use super::ty::{Ty, join};
use crate::ast::{BinaryOp, Expr, ExprKind, Ident, Lit, UnaryOp};
use crate::diagnostic::{Code, Diagnostic, did_you_mean};
use crate::span::Span;

/// The name path of an expression (`profile.first_name` → `["profile",
/// "first_name"]`), if it is a name followed by fields.
pub(super) fn path_of(e: &Expr) -> Option<Vec<String>> {
    match &e.kind {
        ExprKind::Name(id) => Some(vec![id.name.clone()]),
        ExprKind::Field { base, field } | ExprKind::OptionalField { base, field } => {
            let mut p = path_of(base)?;
            p.push(field.name.clone());
            Some(p)
        }
        ExprKind::Paren(inner) => path_of(inner),
        _ => None,
    }
}

/// How an expression is named in a message.
pub(super) fn describe(e: &Expr) -> String {
    match path_of(e) {
        Some(p) => format!("`{}`", p.join(".")),
        None => "this value".to_string(),
    }
}

/// The text of a plain string literal (`"gold"`), through parentheses.
pub(super) fn string_literal(e: &Expr) -> Option<String> {
    match &e.kind {
        ExprKind::Str(text) => text.as_plain(),
        ExprKind::Paren(inner) => string_literal(inner),
        _ => None,
    }
}

pub(super) fn is_none_literal(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Lit(Lit::None) => true,
        ExprKind::Paren(inner) => is_none_literal(inner),
        _ => false,
    }
}

/// Whether lowering can read `e` as a constant duration: a literal,
/// perhaps in parentheses. Literal arithmetic that folds to zero or less
/// counts too: rule E0303 reports it, once.
pub(super) fn constant_duration(e: &Expr) -> bool {
    fn literal(e: &Expr) -> bool {
        match &e.kind {
            ExprKind::Lit(Lit::Duration(_)) => true,
            ExprKind::Paren(inner) => literal(inner),
            _ => false,
        }
    }
    literal(e) || crate::rules::const_duration(e).is_some_and(|secs| secs <= 0)
}

/// Whether lowering can read `e` as a constant percentage: a literal,
/// perhaps in parentheses. One outside 0%..100% counts too: rule E0310
/// reports it, once.
pub(super) fn constant_percent(e: &Expr) -> bool {
    fn literal(e: &Expr) -> bool {
        match &e.kind {
            ExprKind::Lit(Lit::Percent(_)) => true,
            ExprKind::Paren(inner) => literal(inner),
            _ => false,
        }
    }
    literal(e)
        || crate::rules::const_percent(e).is_some_and(|p| {
            p < rust_decimal::Decimal::ZERO || p > rust_decimal::Decimal::ONE_HUNDRED
        })
}

/// The paths a condition narrows to their present type when it is `true`
/// (`when == true`) or when it is `false`.
pub(super) fn facts(e: &Expr, when: bool) -> Vec<Vec<String>> {
    match &e.kind {
        ExprKind::Paren(inner) => facts(inner, when),
        ExprKind::Unary {
            op: UnaryOp::Not,
            operand,
        } => facts(operand, !when),
        ExprKind::Binary { op, lhs, rhs, .. } => match (op, when) {
            (BinaryOp::Ne, true) | (BinaryOp::Eq, false) => {
                if is_none_literal(rhs) {
                    path_of(lhs).into_iter().collect()
                } else if is_none_literal(lhs) {
                    path_of(rhs).into_iter().collect()
                } else {
                    Vec::new()
                }
            }
            // Both sides hold when `a and b` is true, or when `a or b` is false.
            (BinaryOp::And, true) | (BinaryOp::Or, false) => {
                let mut out = facts(lhs, when);
                out.extend(facts(rhs, when));
                out
            }
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

impl Checker<'_> {
    /// The type of `e`, reporting what is wrong inside it.
    pub(super) fn infer(&mut self, e: &Expr) -> Ty {
        match &e.kind {
            ExprKind::Lit(lit) => literal(lit),
            ExprKind::Str(text) => {
                self.text(text);
                Ty::String
            }
            ExprKind::Name(id) => {
                let ty = self.name(id);
                self.narrow(e, ty)
            }
            ExprKind::Field { base, field } => {
                let base_ty = self.field_base(base);
                let base_ty = match base_ty {
                    Ty::Optional(inner) => {
                        self.report(
                            Diagnostic::new(
                                Code::OptionalWithoutDefault,
                                self.file,
                                base.span,
                                format!(
                                    "{} may be none (`{}`), so `.{}` may fail",
                                    describe(base),
                                    Ty::optional((*inner).clone()),
                                    field.name
                                ),
                            )
                            .with_label("may be none")
                            .with_help(format!(
                                "use `?.{}` (giving an optional) or check `!= none` first",
                                field.name
                            )),
                        );
                        *inner
                    }
                    other => other,
                };
                let ty = self.field(&base_ty, field);
                self.narrow(e, ty)
            }
            ExprKind::OptionalField { base, field } => {
                let base_ty = self.field_base(base);
                let optional = base_ty.is_optional();
                let ty = self.field(base_ty.unwrap_optional(), field);
                let ty = if optional { Ty::optional(ty) } else { ty };
                self.narrow(e, ty)
            }
            ExprKind::Call { callee, args } => self.call(e, callee, args),
            ExprKind::Method {
                receiver,
                method,
                args,
            } => self.method(receiver, method, args),
            ExprKind::Lambda { .. } => {
                self.report(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        self.file,
                        e.span,
                        "a lambda is only allowed as the argument of a list method",
                    )
                    .with_help("use it in a list method: `c.products.any(p => p.price > 10 USD)`"),
                );
                Ty::Error
            }
            ExprKind::Unary { op, operand } => match op {
                UnaryOp::Not => {
                    self.condition(operand, "`not`");
                    Ty::Bool
                }
                UnaryOp::Neg => {
                    let t = self.infer(operand);
                    let t = self.present(operand, t);
                    match t {
                        Ty::Int
                        | Ty::Decimal
                        | Ty::Money(_)
                        | Ty::Percent
                        | Ty::Duration
                        | Ty::Error => t,
                        other => {
                            self.report(
                                Diagnostic::new(
                                    Code::TypeMismatch,
                                    self.file,
                                    operand.span,
                                    format!("cannot negate `{other}`"),
                                )
                                .with_help(
                                    "`-` works on numbers, money, percentages and durations",
                                ),
                            );
                            Ty::Error
                        }
                    }
                }
            },
            ExprKind::Binary {
                op,
                op_span,
                lhs,
                rhs,
            } => self.binary(*op, *op_span, lhs, rhs),
            ExprKind::List(items) => self.list(items),
            ExprKind::Record(fields) => {
                let fields = fields
                    .iter()
                    .map(|f| (f.name.value.clone(), self.infer(&f.value)))
                    .collect();
                Ty::Literal(fields)
            }
            ExprKind::EventField { event, field } => {
                self.report(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        self.file,
                        e.span,
                        format!(
                            "\"{}\".{} is an event field path, only allowed as the argument of an aggregate",
                            event.value, field.name
                        ),
                    )
                    .with_help(format!(
                        "use it in an aggregate: `sum(\"{}\".{}, within: 365d)`",
                        event.value, field.name
                    )),
                );
                Ty::Error
            }
            ExprKind::Paren(inner) => self.infer(inner),
            ExprKind::Error => Ty::Error,
        }
    }

    /// The type of the base of a field access: `profile` is a record here.
    fn field_base(&mut self, base: &Expr) -> Ty {
        match &strip(base).kind {
            ExprKind::Name(id) if id.name == "profile" && self.lookup("profile").is_none() => {
                Ty::Profile
            }
            _ => self.infer(base),
        }
    }

    /// An optional type narrowed to its present type where a `!= none` test
    /// guards this path.
    fn narrow(&self, e: &Expr, ty: Ty) -> Ty {
        if let Ty::Optional(inner) = &ty
            && let Some(path) = path_of(e)
            && self.is_narrowed(&path)
        {
            return (**inner).clone();
        }
        ty
    }

    /// What a plain name stands for.
    fn name(&mut self, id: &Ident) -> Ty {
        if let Some((_, t)) = self.lookup(&id.name) {
            return t.clone();
        }
        match id.name.as_str() {
            "profile" => {
                // `profile` is read trait by trait (`profile.x`, `profile in
                // segment`); the whole customer record is not a value.
                self.report(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        self.file,
                        id.span,
                        "`profile` is not a value by itself",
                    )
                    .with_label("use one of its traits")
                    .with_help(
                        "read a trait such as `profile.first_name`, or test `profile in segment`",
                    ),
                );
                return Ty::Error;
            }
            "shop" => return Ty::Shop,
            "now" => return Ty::Timestamp,
            _ => {}
        }
        let link = builtins::TEMPLATE_NAMES.contains(&id.name.as_str());
        if link && self.in_template {
            return Ty::Url;
        }
        let d = Diagnostic::new(
            Code::UnknownName,
            self.file,
            id.span,
            format!("unknown name `{}`", id.name),
        )
        .with_label("not defined here");
        let d = if link {
            Diagnostic {
                message: format!("`{}` is only available in templates", id.name),
                ..d
            }
            .with_help("pass what you need to a template and use the link there")
        } else if self.index.segment(&id.name).is_some() {
            Diagnostic {
                message: format!("`{}` is a segment, not a value", id.name),
                ..d
            }
            .with_help(format!("test membership with `profile in {}`", id.name))
        } else if let Some((_, place)) = self.hints.iter().find(|(n, _)| *n == id.name) {
            d.with_help(format!("`{}` is only visible {place}", id.name))
        } else if id.name == "it" {
            d.with_help(
                "`it` is the arriving event inside `where`, or the trigger event of a flow without `as`; name the event with `as`",
            )
        } else {
            let mut candidates: Vec<&str> = self.scope.iter().map(|(n, _)| n.as_str()).collect();
            candidates.extend(builtins::GLOBAL_NAMES);
            if self.in_template {
                candidates.extend(builtins::TEMPLATE_NAMES);
            }
            match did_you_mean(&id.name, candidates) {
                Some(s) => d.with_help(format!("did you mean `{s}`?")),
                None => d.with_help(
                    "names in scope are the trigger's `as` name, template parameters, `profile`, `shop` and `now`",
                ),
            }
        };
        self.report(d);
        Ty::Error
    }

    /// The declared type of `profile.<field>`, reporting an unknown trait.
    pub(super) fn profile_field(&mut self, field: &Ident) -> Ty {
        self.field(&Ty::Profile, field)
    }

    /// The type of `base.field`.
    fn field(&mut self, base: &Ty, field: &Ident) -> Ty {
        let index = self.index;
        match base {
            Ty::Error => Ty::Error,
            Ty::Profile => match index.profile_trait(&field.name) {
                Some(t) => t.ty.clone(),
                None => {
                    let d = Diagnostic::new(
                        Code::UnknownTrait,
                        self.file,
                        field.span,
                        format!("unknown profile trait `{}`", field.name),
                    )
                    .with_label("no such trait");
                    let names = index.profile_traits().map(|t| t.name.as_str());
                    self.report(match did_you_mean(&field.name, names) {
                        Some(s) => d.with_help(format!("did you mean `{s}`?")),
                        None => d.with_help(format!(
                            "declare it in a `profile {{ {}: ... }}` block",
                            field.name
                        )),
                    });
                    Ty::Error
                }
            },
            Ty::Shop => match builtins::shop_field(&field.name) {
                Some(t) => t,
                None => {
                    let names = builtins::SHOP_FIELDS.iter().copied();
                    self.report(unknown_field(
                        self.file,
                        field.span,
                        &field.name,
                        base,
                        names,
                    ));
                    Ty::Error
                }
            },
            Ty::Event(_) | Ty::Record(_) => {
                let declared = index.fields_of(base).unwrap_or_default();
                match declared.iter().find(|f| f.name == field.name) {
                    Some(f) => f.ty.clone(),
                    None => {
                        let names = declared.iter().map(|f| f.name.as_str());
                        self.report(unknown_field(
                            self.file,
                            field.span,
                            &field.name,
                            base,
                            names,
                        ));
                        Ty::Error
                    }
                }
            }
            Ty::Literal(fields) => match fields.iter().find(|(n, _)| *n == field.name) {
                Some((_, t)) => t.clone(),
                None => {
                    let names = fields.iter().map(|(n, _)| n.as_str());
                    self.report(unknown_field(
                        self.file,
                        field.span,
                        &field.name,
                        base,
                        names,
                    ));
                    Ty::Error
                }
            },
            other => {
                let help = if matches!(other, Ty::List(_)) {
                    "a list has no fields: use a method such as `.first()`, `.map(p => p.x)` or `.count()`"
                        .to_string()
                } else {
                    format!("a value of type `{other}` has no fields")
                };
                self.report(
                    Diagnostic::new(
                        Code::UnknownField,
                        self.file,
                        field.span,
                        format!("`{other}` has no field `{}`", field.name),
                    )
                    .with_help(help),
                );
                Ty::Error
            }
        }
    }

    fn list(&mut self, items: &[Expr]) -> Ty {
        let mut elem: Option<Ty> = None;
        for item in items {
            let t = self.infer(item);
            elem = Some(match elem {
                None => t,
                Some(prev) => match join(&prev, &t) {
                    Some(j) => j,
                    None => {
                        self.report(
                            Diagnostic::new(
                                mismatch_code(&prev, &t),
                                self.file,
                                item.span,
                                format!("list items differ in type: `{prev}` and `{t}`"),
                            )
                            .with_help("a list holds values of one type"),
                        );
                        Ty::Error
                    }
                },
            });
        }
        Ty::list(elem.unwrap_or(Ty::Error))
    }
}

pub(super) fn strip(e: &Expr) -> &Expr {
    match &e.kind {
        ExprKind::Paren(inner) => strip(inner),
        _ => e,
    }
}

fn literal(lit: &Lit) -> Ty {
    match lit {
        Lit::Bool(_) => Ty::Bool,
        Lit::Int(_) => Ty::Int,
        Lit::Decimal(_) => Ty::Decimal,
        Lit::Money { currency, .. } => Ty::Money(Some(currency.clone())),
        Lit::Percent(_) => Ty::Percent,
        Lit::Duration(_) => Ty::Duration,
        Lit::Time { .. } => Ty::Time,
        Lit::Date { .. } => Ty::Date,
        Lit::None => Ty::None,
    }
}

pub(super) fn mismatch_code(a: &Ty, b: &Ty) -> Code {
    match (a, b) {
        (Ty::Money(Some(x)), Ty::Money(Some(y))) if x != y => Code::MixedCurrencies,
        _ => Code::TypeMismatch,
    }
}

pub(super) fn mixed_currencies(
    file: crate::span::FileId,
    span: Span,
    op: BinaryOp,
    a: &str,
    b: &str,
) -> Diagnostic {
    Diagnostic::new(
        Code::MixedCurrencies,
        file,
        span,
        format!("`{}` mixes money in {a} and {b}", op.as_str()),
    )
    .with_label(format!("{a} and {b}"))
    .with_help("use amounts of one currency; Nudge does not convert currencies")
}

/// E0102 for a field a record, event or `shop` does not have.
pub(super) fn unknown_field<'n>(
    file: crate::span::FileId,
    span: Span,
    name: &str,
    owner: &Ty,
    candidates: impl IntoIterator<Item = &'n str>,
) -> Diagnostic {
    let owner_text = match owner {
        Ty::Event(e) => format!("event \"{e}\""),
        Ty::Record(r) => format!("type `{r}`"),
        Ty::Shop => "`shop`".to_string(),
        other => format!("`{other}`"),
    };
    let d = Diagnostic::new(
        Code::UnknownField,
        file,
        span,
        format!("{owner_text} has no field `{name}`"),
    )
    .with_label("no such field");
    match did_you_mean(name, candidates) {
        Some(s) => d.with_help(format!("did you mean `{s}`?")),
        None => match owner {
            Ty::Event(e) => d.with_help(format!(
                "add it with `extend event \"{e}\" {{ {name}: ... }}`"
            )),
            Ty::Record(r) => {
                d.with_help(format!("add it with `extend type {r} {{ {name}: ... }}`"))
            }
            Ty::Shop => d.with_help(format!("`shop` has {}", builtins::SHOP_FIELDS.join(", "))),
            _ => d.with_help("check the spelling"),
        },
    }
}

/// A help line for a value of type `found` where `expected` is needed.
pub(super) fn conversion_help(found: &Ty, expected: &Ty) -> String {
    match (found.unwrap_optional(), expected.unwrap_optional()) {
        (Ty::Int | Ty::Decimal, Ty::Money(c)) => format!(
            "write money with its currency, e.g. `20 {}`",
            c.as_deref().unwrap_or("USD")
        ),
        (Ty::Int, Ty::Duration) => "write a duration with its unit, e.g. `3d` or `2h`".to_string(),
        (Ty::Int | Ty::Decimal, Ty::Percent) => "write a percentage, e.g. `10%`".to_string(),
        (Ty::String, Ty::Union(items)) => {
            format!("use a literal: one of {}", Ty::Union(items.clone()))
        }
        (Ty::Event(a), Ty::Event(b)) => format!("pass a \"{b}\" event, not a \"{a}\" one"),
        _ => format!("use a value of type `{expected}`"),
    }
}
