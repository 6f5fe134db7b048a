//! Operators: `and` / `or` (with narrowing of their right side), `==` and
//! `<`-style comparisons, `in` (lists and `profile in segment`), `??` and
//! arithmetic over numbers, money, percentages, durations and time.

use super::Checker;
use super::expr::{
    conversion_help, facts, is_none_literal, mismatch_code, mixed_currencies, string_literal, strip,
};
use super::ty::{Ty, fits, join};
use crate::ast::{BinaryOp, Expr, ExprKind};
use crate::diagnostic::{Code, Diagnostic, did_you_mean};
use crate::span::Span;

impl Checker<'_> {
    pub(super) fn binary(&mut self, op: BinaryOp, op_span: Span, lhs: &Expr, rhs: &Expr) -> Ty {
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
                // An optional compared with a present value needs no guard:
                // a missing value equals no present one (`==` is false,
                // `!=` true). Two optionals still need one, or two missing
                // values would match (`it.id == c.id` with both absent).
                let (l, r) = match (&l, &r) {
                    (Ty::Optional(inner), other) if !other.is_optional() => ((**inner).clone(), r),
                    (other, Ty::Optional(inner)) if !other.is_optional() => (l, (**inner).clone()),
                    // Both optional: one diagnostic, at the left side.
                    (_, Ty::Optional(inner)) if l.is_optional() => {
                        let r = (**inner).clone();
                        (self.present(lhs, l), r)
                    }
                    _ => (self.present(lhs, l), self.present(rhs, r)),
                };
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
