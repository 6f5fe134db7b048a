//! What a value must be where it is used: present (E0203), a `bool`
//! condition, a value that fits a declared type (E0201/E0202, E0204 for
//! currencies), a member of a string union, a record literal with the
//! declared fields.

use super::Checker;
use super::expr::{conversion_help, describe, path_of, string_literal, unknown_field};
use super::ty::{Misfit, Ty, fits};
use crate::ast::{Expr, ExprKind, FieldInit};
use crate::diagnostic::{Code, Diagnostic, did_you_mean};
use crate::span::Span;

/// How one field's value is checked against its declared type.
pub(super) type Fit<'a> = fn(&mut Checker<'a>, &Expr, &Ty, &str) -> bool;

impl<'a> Checker<'a> {
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
            .with_help(match path_of(e) {
                Some(p) if self.narrowed_before_wait(&p) => format!(
                    "`{}` was checked before a wait, and profile traits may change while a journey waits: check it again after the wait, or use `??`",
                    p.join(".")
                ),
                Some(p) => format!(
                    "give a default with `?? ...`, or check `{} != none` first",
                    p.join(".")
                ),
                None => "give a default with `?? ...`".to_string(),
            }),
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
        let fit: Fit<'a> = |cx, value, ty, what| cx.check_fits(value, ty, Code::TypeMismatch, what);
        self.record_fields(span, fields, expected, fit, true)
    }

    /// The fields of a record literal against a record or event type:
    /// unknown fields (E0102), each value checked by `fit` (which gets the
    /// declared type and "field `x`"), missing non-optional fields (E0201
    /// at `span`; a list only if `lists_required`: the simulator's
    /// ingestion reads an absent list as empty, `track` needs every field).
    pub(super) fn record_fields(
        &mut self,
        span: Span,
        fields: &[FieldInit],
        expected: &Ty,
        fit: Fit<'a>,
        lists_required: bool,
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
                    ok &= fit(self, &f.value, &d.ty, &what);
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
            .filter(|d| lists_required || !matches!(d.ty, Ty::List(_)))
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
                .with_help(if lists_required {
                    "give every field that is not optional"
                } else {
                    "give every field that is not optional (lists may be left out: they are empty)"
                }),
            );
            ok = false;
        }
        ok
    }
}
