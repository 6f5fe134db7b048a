//! Expressions: literals, names, field access, operators, list and record
//! literals, and the narrowing of optionals by `!= none` tests. Calls,
//! aggregates and list methods are in `call.rs`.

use super::Checker;
use super::builtins;
use super::ty::{Misfit, Ty, fits, join};
use crate::ast::{BinaryOp, Expr, ExprKind, FieldInit, Ident, Lit, UnaryOp};
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

fn is_none_literal(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Lit(Lit::None) => true,
        ExprKind::Paren(inner) => is_none_literal(inner),
        _ => false,
    }
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

    /// Reports E0203 if `ty` is optional; returns the present type.
    pub(super) fn present(&mut self, e: &Expr, ty: Ty) -> Ty {
        match ty {
            Ty::Optional(inner) => {
                self.optional_error(e, &inner);
                *inner
            }
            Ty::None => {
                self.report(
                    Diagnostic::new(
                        Code::OptionalWithoutDefault,
                        self.file,
                        e.span,
                        "`none` is used where a value is needed",
                    )
                    .with_help("use a value here"),
                );
                Ty::Error
            }
            other => other,
        }
    }

    fn optional_error(&mut self, e: &Expr, inner: &Ty) {
        self.report(
            Diagnostic::new(
                Code::OptionalWithoutDefault,
                self.file,
                e.span,
                format!(
                    "{} may be none (`{}`)",
                    describe(e),
                    Ty::optional(inner.clone())
                ),
            )
            .with_label("may be none")
            .with_help(format!(
                "give a default with `?? ...`, or check `{} != none` first",
                match path_of(e) {
                    Some(p) => p.join("."),
                    None => "it".to_string(),
                }
            )),
        );
    }

    /// A condition: must be a present `bool`.
    pub(super) fn condition(&mut self, e: &Expr, what: &str) {
        let t = self.infer(e);
        let t = self.present(e, t);
        if !matches!(t, Ty::Bool | Ty::Error) {
            self.report(
                Diagnostic::new(
                    Code::TypeMismatch,
                    self.file,
                    e.span,
                    format!("{what} needs a `bool`, found `{t}`"),
                )
                .with_label(format!("this is `{t}`"))
                .with_help("write a comparison such as `x > 0` or `x != none`"),
            );
        }
    }

    /// Checks that `e` can be used where a value of type `expected` is;
    /// `code` is the code of a plain type mismatch (E0201, or E0202 for
    /// template arguments). Returns `false` if something was reported.
    pub(super) fn check_fits(&mut self, e: &Expr, expected: &Ty, code: Code, what: &str) -> bool {
        let present = expected.unwrap_optional();
        // A string literal where a union is expected must be one of it.
        if let Ty::Union(items) = present
            && let Some(s) = string_literal(e)
        {
            return self.union_member(e.span, &s, items);
        }
        match (&e.kind, present) {
            (ExprKind::Record(fields), Ty::Record(_) | Ty::Event(_)) => {
                return self.record_literal(e.span, fields, present);
            }
            (ExprKind::List(items), Ty::List(elem)) => {
                let mut ok = true;
                for item in items {
                    ok &= self.check_fits(item, elem, code, what);
                }
                return ok;
            }
            (ExprKind::Paren(inner), _) => return self.check_fits(inner, expected, code, what),
            _ => {}
        }
        let found = self.infer(e);
        self.report_misfit(e, &found, expected, code, what)
    }

    /// Reports why `found` (the type of `e`) does not fit `expected`.
    pub(super) fn report_misfit(
        &mut self,
        e: &Expr,
        found: &Ty,
        expected: &Ty,
        code: Code,
        what: &str,
    ) -> bool {
        match fits(found, expected) {
            Ok(()) => true,
            Err(Misfit::Optional) => {
                self.optional_error(e, found.unwrap_optional());
                false
            }
            Err(Misfit::Currency(found_c, expected_c)) => {
                self.report(
                    Diagnostic::new(
                        Code::MixedCurrencies,
                        self.file,
                        e.span,
                        format!("{what} is in {expected_c}, but this is {found_c}"),
                    )
                    .with_label(format!("money in {found_c}"))
                    .with_help(format!("use an amount in {expected_c}")),
                );
                false
            }
            Err(Misfit::Type) => {
                let d = Diagnostic::new(
                    code,
                    self.file,
                    e.span,
                    format!("{what} should be `{expected}`, found `{found}`"),
                )
                .with_label(format!("this is `{found}`"));
                self.report(d.with_help(conversion_help(found, expected)));
                false
            }
        }
    }

    /// A string literal that must be one of a union's members.
    pub(super) fn union_member(&mut self, span: Span, s: &str, items: &[String]) -> bool {
        if items.iter().any(|i| i == s) {
            return true;
        }
        let union = Ty::Union(items.to_vec());
        let d = Diagnostic::new(
            Code::TypeMismatch,
            self.file,
            span,
            format!("\"{s}\" is not one of {union}"),
        )
        .with_label("not a member of the union");
        self.report(match did_you_mean(s, items.iter().map(String::as_str)) {
            Some(m) => d.with_help(format!("did you mean \"{m}\"?")),
            None => d.with_help(format!("use one of {union}")),
        });
        false
    }

    /// `{ field: value, ... }` where a record or event type is expected.
    pub(super) fn record_literal(
        &mut self,
        span: Span,
        fields: &[FieldInit],
        expected: &Ty,
    ) -> bool {
        let index = self.index;
        let Some(declared) = index.fields_of(expected) else {
            return true;
        };
        let mut ok = true;
        for f in fields {
            match declared.iter().find(|d| d.name == f.name.value) {
                Some(d) => {
                    let what = format!("field `{}`", d.name);
                    ok &= self.check_fits(&f.value, &d.ty, Code::TypeMismatch, &what);
                }
                None => {
                    self.infer(&f.value);
                    let names = declared.iter().map(|d| d.name.as_str());
                    self.report(unknown_field(
                        self.file,
                        f.name.span,
                        &f.name.value,
                        expected,
                        names,
                    ));
                    ok = false;
                }
            }
        }
        let missing: Vec<String> = declared
            .iter()
            .filter(|d| !d.ty.is_optional() && !d.ty.is_error())
            .filter(|d| !fields.iter().any(|f| f.name.value == d.name))
            .map(|d| format!("`{}: {}`", d.name, d.ty))
            .collect();
        if !missing.is_empty() {
            self.report(
                Diagnostic::new(
                    Code::TypeMismatch,
                    self.file,
                    span,
                    format!("{expected} is missing {}", missing.join(", ")),
                )
                .with_help("give every field that is not optional"),
            );
            ok = false;
        }
        ok
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

    fn binary(&mut self, op: BinaryOp, op_span: Span, lhs: &Expr, rhs: &Expr) -> Ty {
        match op {
            BinaryOp::And | BinaryOp::Or => {
                let word = format!("`{}`", op.as_str());
                self.condition(lhs, &word);
                let narrowed = facts(lhs, op == BinaryOp::And);
                self.narrowing(narrowed, |cx| cx.condition(rhs, &word));
                Ty::Bool
            }
            BinaryOp::Eq | BinaryOp::Ne => {
                if is_none_literal(rhs) || is_none_literal(lhs) {
                    // Testing for none is how optionals are unwrapped.
                    self.infer(lhs);
                    self.infer(rhs);
                    return Ty::Bool;
                }
                let l = self.infer(lhs);
                let r = self.infer(rhs);
                let l = self.present(lhs, l);
                let r = self.present(rhs, r);
                self.comparable(op, op_span, lhs, &l, rhs, &r, false);
                Ty::Bool
            }
            BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
                let l = self.infer(lhs);
                let r = self.infer(rhs);
                let l = self.present(lhs, l);
                let r = self.present(rhs, r);
                self.comparable(op, op_span, lhs, &l, rhs, &r, true);
                Ty::Bool
            }
            BinaryOp::In => self.membership(op_span, lhs, rhs),
            BinaryOp::Default => self.default(lhs, rhs),
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div => {
                let l = self.infer(lhs);
                let r = self.infer(rhs);
                let l = self.present(lhs, l);
                let r = self.present(rhs, r);
                self.arithmetic(op, op_span, &l, &r)
            }
        }
    }

    /// `==`, `!=` (any compatible types) and `<`-style comparisons (ordered
    /// types only).
    #[allow(clippy::too_many_arguments)]
    fn comparable(
        &mut self,
        op: BinaryOp,
        op_span: Span,
        lhs: &Expr,
        l: &Ty,
        rhs: &Expr,
        r: &Ty,
        ordered: bool,
    ) {
        if l.is_error() || r.is_error() {
            return;
        }
        // A union compared with a literal: the literal must be a member.
        let lint_owns = self.never_match_is_lint && op == BinaryOp::Eq;
        if let (Ty::Union(items), Some(s)) = (l, string_literal(rhs)) {
            if !lint_owns {
                self.union_member(rhs.span, &s, items);
            }
            return;
        }
        if let (Some(s), Ty::Union(items)) = (string_literal(lhs), r) {
            if !lint_owns {
                self.union_member(lhs.span, &s, items);
            }
            return;
        }
        let joined = join(l, r);
        let order_ok = !ordered || (l.is_ordered() && r.is_ordered());
        match joined {
            Some(_) if order_ok => {}
            _ => {
                if let (Ty::Money(Some(a)), Ty::Money(Some(b))) = (l, r) {
                    self.report(mixed_currencies(self.file, op_span, op, a, b));
                    return;
                }
                let help = if ordered && joined.is_some() {
                    format!("`{l}` values have no order; compare with `==` or `!=`")
                } else {
                    conversion_help(r, l)
                };
                self.report(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        self.file,
                        op_span,
                        format!("cannot compare `{l}` with `{r}` using `{}`", op.as_str()),
                    )
                    .with_help(help),
                );
            }
        }
    }

    /// `profile in segment` or `x in list`.
    fn membership(&mut self, op_span: Span, lhs: &Expr, rhs: &Expr) -> Ty {
        let is_profile = matches!(&strip(lhs).kind, ExprKind::Name(id)
            if id.name == "profile" && self.lookup("profile").is_none());
        if is_profile {
            match &strip(rhs).kind {
                ExprKind::Name(seg) => {
                    if self.index.segment(&seg.name).is_none() {
                        let d = Diagnostic::new(
                            Code::UnknownSegment,
                            self.file,
                            seg.span,
                            format!("unknown segment `{}`", seg.name),
                        )
                        .with_label("no such segment");
                        let names = self.index.segments().map(|s| s.name.as_str());
                        self.report(match did_you_mean(&seg.name, names) {
                            Some(s) => d.with_help(format!("did you mean `{s}`?")),
                            None => d.with_help(format!(
                                "declare it with `segment {} \"...\" = <condition>`",
                                seg.name
                            )),
                        });
                    }
                }
                _ => {
                    self.infer(rhs);
                    self.report(
                        Diagnostic::new(
                            Code::TypeMismatch,
                            self.file,
                            rhs.span,
                            "`profile in` needs a segment name",
                        )
                        .with_help("write `profile in vip` with a declared segment"),
                    );
                }
            }
            return Ty::Bool;
        }
        let l = self.infer(lhs);
        let l = self.present(lhs, l);
        let r = self.infer(rhs);
        let r = self.present(rhs, r);
        match (&l, &r) {
            (Ty::Error, _) | (_, Ty::Error) => {}
            (Ty::Union(items), Ty::List(_)) => {
                // Literal items of a list literal must be members.
                if let ExprKind::List(list) = &strip(rhs).kind
                    && !self.never_match_is_lint
                {
                    for item in list {
                        if let Some(s) = string_literal(item) {
                            self.union_member(item.span, &s, items);
                        }
                    }
                }
            }
            (_, Ty::List(elem)) => {
                if let (Some(s), Ty::Union(items)) = (string_literal(lhs), &**elem) {
                    self.union_member(lhs.span, &s, items);
                } else if !elem.is_error() && join(&l, elem).is_none() {
                    self.report(
                        Diagnostic::new(
                            mismatch_code(&l, elem),
                            self.file,
                            op_span,
                            format!("cannot look for `{l}` in a `{r}`"),
                        )
                        .with_help("the value and the list items must have the same type"),
                    );
                }
            }
            _ => {
                self.report(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        self.file,
                        rhs.span,
                        format!("`in` needs a list on the right, found `{r}`"),
                    )
                    .with_help("write `x in [a, b]`, or `profile in segment` for a segment"),
                );
            }
        }
        Ty::Bool
    }

    /// `a ?? b`.
    fn default(&mut self, lhs: &Expr, rhs: &Expr) -> Ty {
        let l = self.infer(lhs);
        let present = match &l {
            Ty::Optional(inner) => (**inner).clone(),
            Ty::None => return self.infer(rhs),
            other => other.clone(),
        };
        if let (Ty::Union(items), Some(s)) = (&present, string_literal(rhs)) {
            self.union_member(rhs.span, &s, items);
            return present;
        }
        let r = self.infer(rhs);
        let r_present = r.unwrap_optional().clone();
        let result = if fits(&r_present, &present).is_ok() {
            present
        } else if fits(&present, &r_present).is_ok() {
            r_present
        } else {
            if let (Ty::Money(Some(a)), Ty::Money(Some(b))) = (&present, &r_present) {
                self.report(mixed_currencies(
                    self.file,
                    rhs.span,
                    BinaryOp::Default,
                    a,
                    b,
                ));
            } else {
                self.report(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        self.file,
                        rhs.span,
                        format!("the default is `{r_present}`, but the value is `{present}`"),
                    )
                    .with_label(format!("this is `{r_present}`"))
                    .with_help(format!("give a default of type `{present}`")),
                );
            }
            Ty::Error
        };
        if r.is_optional() {
            Ty::optional(result)
        } else {
            result
        }
    }

    fn arithmetic(&mut self, op: BinaryOp, op_span: Span, l: &Ty, r: &Ty) -> Ty {
        use BinaryOp::{Add, Div, Mul, Sub};
        use Ty as T;
        let result = match (op, l, r) {
            (_, T::Error, _) | (_, _, T::Error) => Some(T::Error),
            (Div, T::Int, T::Int) => Some(T::Decimal),
            (_, T::Int, T::Int) => Some(T::Int),
            (_, T::Int | T::Decimal, T::Int | T::Decimal) => Some(T::Decimal),
            (Add | Sub | Div, T::Money(a), T::Money(b)) => {
                if let (Some(a), Some(b)) = (a, b)
                    && a != b
                {
                    self.report(mixed_currencies(self.file, op_span, op, a, b));
                    return T::Error;
                }
                if op == Div {
                    Some(T::Decimal)
                } else {
                    Some(T::Money(a.clone().or_else(|| b.clone())))
                }
            }
            (Mul, T::Money(c), T::Int | T::Decimal | T::Percent) => Some(T::Money(c.clone())),
            (Div, T::Money(c), T::Int | T::Decimal) => Some(T::Money(c.clone())),
            (Mul, T::Int | T::Decimal | T::Percent, T::Money(c)) => Some(T::Money(c.clone())),
            (Mul, T::Int | T::Decimal, T::Percent) | (Mul, T::Percent, T::Int | T::Decimal) => {
                Some(T::Decimal)
            }
            (Add | Sub, T::Percent, T::Percent) => Some(T::Percent),
            (Add | Sub, T::Duration, T::Duration) => Some(T::Duration),
            (Mul, T::Duration, T::Int) | (Mul, T::Int, T::Duration) => Some(T::Duration),
            (Div, T::Duration, T::Int) => Some(T::Duration),
            (Div, T::Duration, T::Duration) => Some(T::Decimal),
            (Add, T::Timestamp, T::Duration) | (Add, T::Duration, T::Timestamp) => {
                Some(T::Timestamp)
            }
            (Sub, T::Timestamp, T::Duration) => Some(T::Timestamp),
            (Sub, T::Timestamp, T::Timestamp) => Some(T::Duration),
            (Add, T::Date, T::Duration) | (Add, T::Duration, T::Date) => Some(T::Date),
            (Sub, T::Date, T::Duration) => Some(T::Date),
            (Sub, T::Date, T::Date) => Some(T::Duration),
            (Add, a, b) if a.is_text() && b.is_text() => Some(T::String),
            _ => None,
        };
        match result {
            Some(t) => t,
            None => self.arith_error(op, op_span, l, r),
        }
    }

    fn arith_error(&mut self, op: BinaryOp, op_span: Span, l: &Ty, r: &Ty) -> Ty {
        let verb = match op {
            BinaryOp::Add => "add",
            BinaryOp::Sub => "subtract",
            BinaryOp::Mul => "multiply",
            _ => "divide",
        };
        let help = match (l, r) {
            (Ty::Money(_), Ty::Int | Ty::Decimal) | (Ty::Int | Ty::Decimal, Ty::Money(_))
                if matches!(op, BinaryOp::Add | BinaryOp::Sub) =>
            {
                "write the number as money, e.g. `5 USD`".to_string()
            }
            (Ty::Duration, Ty::Int | Ty::Decimal) | (Ty::Int | Ty::Decimal, Ty::Duration)
                if matches!(op, BinaryOp::Add | BinaryOp::Sub) =>
            {
                "write the number as a duration, e.g. `3d`".to_string()
            }
            _ => "see the arithmetic table in docs/language.md".to_string(),
        };
        self.report(
            Diagnostic::new(
                Code::TypeMismatch,
                self.file,
                op_span,
                format!("cannot {verb} `{l}` and `{r}` with `{}`", op.as_str()),
            )
            .with_help(help),
        );
        Ty::Error
    }
}

fn strip(e: &Expr) -> &Expr {
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

fn mismatch_code(a: &Ty, b: &Ty) -> Code {
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
