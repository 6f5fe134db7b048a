//! Calls: history aggregates (`count`, `sum`, `last`, `first`, `exists`),
//! time helpers (`days_since`, `age`) and list methods with lambdas (`any`,
//! `all`, `count`, `sum`, `map`, `first`).

use super::Checker;
use super::builtins;
use super::expr::{constant_duration, string_literal, unknown_field};
use super::ty::Ty;
use crate::ast::{Arg, Expr, ExprKind, Ident, Name};
use crate::diagnostic::{Code, Diagnostic, did_you_mean};
use crate::span::Span;

/// What an aggregate is given: an event, or one field of an event.
enum Subject {
    Event(Name),
    Field(Name, Ident),
}

impl Checker<'_> {
    pub(super) fn call(&mut self, e: &Expr, callee: &Ident, args: &[Arg]) -> Ty {
        match callee.name.as_str() {
            "count" | "sum" | "last" | "first" | "exists" => self.aggregate(e, callee, args),
            "days_since" | "age" => self.time_helper(e, callee, args),
            _ => {
                for a in args {
                    self.infer_arg(&a.value);
                }
                let d = Diagnostic::new(
                    Code::UnknownFunction,
                    self.file,
                    callee.span,
                    format!("unknown function `{}`", callee.name),
                )
                .with_label("no such function");
                let names = builtins::AGGREGATES
                    .iter()
                    .chain(builtins::FUNCTIONS)
                    .copied();
                self.report(match did_you_mean(&callee.name, names) {
                    Some(s) => d.with_help(format!("did you mean `{s}`?")),
                    None => d.with_help(format!(
                        "functions are {} and {}",
                        builtins::AGGREGATES.join(", "),
                        builtins::FUNCTIONS.join(", ")
                    )),
                });
                Ty::Error
            }
        }
    }

    /// Checks an argument of a call that failed, skipping what only makes
    /// sense as an argument (lambdas, event field paths, event names).
    fn infer_arg(&mut self, e: &Expr) {
        match &e.kind {
            ExprKind::Lambda { .. } | ExprKind::EventField { .. } | ExprKind::Str(_) => {}
            _ => {
                self.infer(e);
            }
        }
    }

    fn wrong_args(&mut self, span: Span, message: String, help: &str) {
        self.report(
            Diagnostic::new(Code::WrongArguments, self.file, span, message).with_help(help),
        );
    }

    fn aggregate(&mut self, e: &Expr, callee: &Ident, args: &[Arg]) -> Ty {
        let name = callee.name.as_str();
        let usage = match name {
            "sum" => "write `sum(\"Event\".field, within: 365d)`",
            "count" => "write `count(\"Event\", within: 90d)`",
            "exists" => "write `exists(\"Event\", within: 30d)`",
            _ => "write `last(\"Event\")` or `last(\"Event\".field)`",
        };
        let mut subject = None;
        let mut within = None;
        for arg in args {
            match &arg.name {
                Some(n) if n.name == "within" => {
                    if within.is_some() {
                        self.wrong_args(n.span, "`within:` is given twice".to_string(), usage);
                    }
                    within = Some(&arg.value);
                }
                Some(n) => {
                    self.infer_arg(&arg.value);
                    self.wrong_args(
                        n.span,
                        format!("`{name}` has no argument `{}`", n.name),
                        "the only named argument is `within:`",
                    );
                }
                None if subject.is_some() => {
                    self.infer_arg(&arg.value);
                    self.wrong_args(arg.value.span, format!("`{name}` takes one event"), usage);
                }
                None => match &arg.value.kind {
                    ExprKind::EventField { event, field } => {
                        subject = Some(Subject::Field(event.clone(), field.clone()));
                    }
                    _ => match string_literal(&arg.value) {
                        Some(s) => {
                            subject = Some(Subject::Event(Name {
                                value: s,
                                span: arg.value.span,
                            }));
                        }
                        None => {
                            self.infer_arg(&arg.value);
                            self.wrong_args(
                                arg.value.span,
                                format!("`{name}` needs an event name as a string literal"),
                                usage,
                            );
                            return Ty::Error;
                        }
                    },
                },
            }
        }
        if let Some(w) = within
            && self.check_fits(w, &Ty::Duration, Code::TypeMismatch, "`within:`")
            && !constant_duration(w)
        {
            self.wrong_args(
                w.span,
                "`within:` must be a duration literal".to_string(),
                "write the window as a literal such as `90d`: the runtime keeps history by it",
            );
        }
        let Some(subject) = subject else {
            self.wrong_args(e.span, format!("`{name}` needs an event"), usage);
            return Ty::Error;
        };
        let index = self.index;
        let (event, field) = match &subject {
            Subject::Event(ev) | Subject::Field(ev, _) => {
                let Some(info) = index.event(&ev.value) else {
                    self.report(index.unknown_event(self.file, ev));
                    return Ty::Error;
                };
                let field = match &subject {
                    Subject::Field(_, f) => match info.fields.iter().find(|x| x.name == f.name) {
                        Some(x) => Some((f, x.ty.clone())),
                        None => {
                            let names = info.fields.iter().map(|x| x.name.as_str());
                            self.report(unknown_field(
                                self.file,
                                f.span,
                                &f.name,
                                &Ty::Event(ev.value.clone()),
                                names,
                            ));
                            return Ty::Error;
                        }
                    },
                    Subject::Event(_) => None,
                };
                (ev.value.clone(), field)
            }
        };
        match (name, field) {
            ("count", None) => Ty::Int,
            ("exists", None) => Ty::Bool,
            ("count" | "exists", Some((f, _))) => {
                self.wrong_args(f.span, format!("`{name}` counts events, not fields"), usage);
                Ty::Error
            }
            ("sum", None) => {
                self.wrong_args(
                    callee.span,
                    format!("`sum` needs a field to add up: `sum(\"{event}\".field)`"),
                    usage,
                );
                Ty::Error
            }
            ("sum", Some((f, ty))) => {
                let ty = ty.unwrap_optional().clone();
                if ty.is_summable() || ty.is_error() {
                    ty
                } else {
                    self.wrong_args(
                        f.span,
                        format!("cannot sum `{}`, a `{ty}` field", f.name),
                        "sum a field of numbers, money, percentages or durations",
                    );
                    Ty::Error
                }
            }
            (_, None) => Ty::optional(Ty::Event(event)),
            (_, Some((_, ty))) => Ty::optional(ty),
        }
    }

    /// `days_since(ts)` and `age(date)`.
    fn time_helper(&mut self, e: &Expr, callee: &Ident, args: &[Arg]) -> Ty {
        let name = callee.name.as_str();
        let [arg] = args else {
            for a in args {
                self.infer_arg(&a.value);
            }
            self.wrong_args(
                e.span,
                format!("`{name}` takes one argument, given {}", args.len()),
                if name == "age" {
                    "write `age(profile.birthday)`"
                } else {
                    "write `days_since(order.created_at)`"
                },
            );
            return Ty::Int;
        };
        if let Some(n) = &arg.name {
            self.wrong_args(
                n.span,
                format!("`{name}` has no argument `{}`", n.name),
                "pass the value without a name",
            );
        }
        let t = self.infer(&arg.value);
        let t = self.present(&arg.value, t);
        let ok = match name {
            "age" => matches!(t, Ty::Date | Ty::Error),
            _ => matches!(t, Ty::Date | Ty::Timestamp | Ty::Error),
        };
        if !ok {
            let wanted = if name == "age" {
                "a `date`"
            } else {
                "a `timestamp` or `date`"
            };
            self.wrong_args(
                arg.value.span,
                format!("`{name}` needs {wanted}, found `{t}`"),
                "pass a date or timestamp field",
            );
        }
        Ty::Int
    }

    /// `list.method(args)`.
    pub(super) fn method(&mut self, receiver: &Expr, method: &Ident, args: &[Arg]) -> Ty {
        let name = method.name.as_str();
        let known = builtins::LIST_METHODS.contains(&name);
        let t = self.infer(receiver);
        if t.is_error() {
            return Ty::Error;
        }
        if !known {
            let d = Diagnostic::new(
                Code::UnknownFunction,
                self.file,
                method.span,
                format!("unknown method `{name}`"),
            )
            .with_label("no such method");
            self.report(
                match did_you_mean(name, builtins::LIST_METHODS.iter().copied()) {
                    Some(s) => d.with_help(format!("did you mean `{s}`?")),
                    None => {
                        d.with_help(format!("lists have {}", builtins::LIST_METHODS.join(", ")))
                    }
                },
            );
            return Ty::Error;
        }
        let t = self.present(receiver, t);
        let elem = match t {
            Ty::List(elem) => *elem,
            Ty::Error => return Ty::Error,
            other => {
                self.report(
                    Diagnostic::new(
                        Code::TypeMismatch,
                        self.file,
                        method.span,
                        format!("`.{name}` needs a list, found `{other}`"),
                    )
                    .with_help("list methods work on lists such as `c.products`"),
                );
                return Ty::Error;
            }
        };
        let lambda = match args {
            [] => None,
            [Arg { name: None, value }] => match &value.kind {
                ExprKind::Lambda { param, body } => Some((param, &**body)),
                _ => {
                    self.infer(value);
                    self.wrong_args(
                        value.span,
                        format!("`.{name}` takes a lambda such as `p => ...`"),
                        "write `.any(p => p.price > 10 USD)`",
                    );
                    return Ty::Error;
                }
            },
            _ => {
                self.wrong_args(
                    method.span,
                    format!("`.{name}` takes at most one argument"),
                    "write `.any(p => p.price > 10 USD)`",
                );
                return Ty::Error;
            }
        };
        let needs_lambda = matches!(name, "any" | "all" | "map");
        let Some((param, body)) = lambda else {
            if needs_lambda {
                self.wrong_args(
                    method.span,
                    format!("`.{name}` needs a lambda such as `p => ...`"),
                    "write `.any(p => p.price > 10 USD)`",
                );
                return Ty::Error;
            }
            return match name {
                "count" => Ty::Int,
                "first" => Ty::optional(elem),
                _ => self.summable(method, elem),
            };
        };
        self.hints
            .push((param.name.clone(), "inside the lambda that names it"));
        let bindings = vec![(param.name.clone(), elem.clone())];
        match name {
            "any" | "all" | "count" | "first" => {
                let what = format!("the lambda of `.{name}`");
                self.scoped(bindings, |cx| cx.condition(body, &what));
                match name {
                    "count" => Ty::Int,
                    "first" => Ty::optional(elem),
                    _ => Ty::Bool,
                }
            }
            "map" => {
                let t = self.scoped(bindings, |cx| cx.infer(body));
                Ty::list(t)
            }
            _ => {
                let t = self.scoped(bindings, |cx| {
                    let t = cx.infer(body);
                    cx.present(body, t)
                });
                self.summable(method, t)
            }
        }
    }

    fn summable(&mut self, method: &Ident, t: Ty) -> Ty {
        if t.is_summable() || t.is_error() {
            return t;
        }
        self.wrong_args(
            method.span,
            format!("cannot sum values of type `{t}`"),
            "sum numbers, money, percentages or durations: `.sum(p => p.price)`",
        );
        Ty::Error
    }
}
