//! Templates and template text: part keys per channel, holes (a present,
//! printable value after its filters), filters, `{% if %}` blocks (with
//! narrowing) and `{% for %}` loops. String literals with holes elsewhere
//! are checked the same way.

use super::builtins;
use super::expr::facts;
use super::ty::Ty;
use super::{Checker, TemplateFiles};
use crate::ast::{
    Expr, ExprKind, FilterCall, Hole, Lit, TemplateDecl, TemplateSource, Text, TextNode,
};
use crate::diagnostic::{Code, Diagnostic, did_you_mean};

impl Checker<'_> {
    pub(super) fn template(&mut self, t: &TemplateDecl, files: TemplateFiles<'_, '_>) {
        let index = self.index;
        let params: Vec<(String, Ty)> = t
            .params
            .iter()
            .map(|p| (p.name.name.clone(), index.type_of(&p.ty)))
            .collect();
        let keys = builtins::part_keys(t.channel);
        self.in_template = true;
        self.hints.clear();
        self.scoped(params, |cx| {
            for part in &t.parts {
                if !keys.contains(&part.key.name.as_str()) {
                    let d = Diagnostic::new(
                        Code::UnknownName,
                        cx.file,
                        part.key.span,
                        format!(
                            "`{}` is not a part of {} templates",
                            part.key.name,
                            t.channel.as_str()
                        ),
                    )
                    .with_label("unknown part");
                    cx.report(match did_you_mean(&part.key.name, keys.iter().copied()) {
                        Some(s) => d.with_help(format!("did you mean `{s}`?")),
                        None => d.with_help(format!(
                            "{} templates have {}",
                            t.channel.as_str(),
                            keys.join(", ")
                        )),
                    });
                }
                match &part.value {
                    TemplateSource::Inline(text) => cx.text(text),
                    TemplateSource::File(path) => match files {
                        TemplateFiles::AtPath(lookup) => {
                            if let Some(text) = lookup(&path.value) {
                                // Without the file's id, its problems are
                                // reported at its path here.
                                let start = cx.diagnostics.len();
                                cx.text(text);
                                for d in cx.diagnostics.iter_mut().skip(start) {
                                    d.message = format!("in `{}`: {}", path.value, d.message);
                                    d.primary.span = path.span;
                                    d.primary.file = cx.file;
                                    d.secondary.clear();
                                }
                            }
                        }
                        TemplateFiles::InFile(lookup) => {
                            if let Some((id, text)) = lookup(&path.value) {
                                let here = std::mem::replace(&mut cx.file, id);
                                cx.text(text);
                                cx.file = here;
                            }
                        }
                    },
                }
            }
        });
        self.in_template = false;
    }

    /// Template text or a string literal's holes and tags.
    pub(super) fn text(&mut self, text: &Text) {
        for node in &text.nodes {
            match node {
                TextNode::Literal(..) | TextNode::Error(_) => {}
                TextNode::Hole(h) => self.hole(h),
                TextNode::If {
                    branches,
                    else_branch,
                    span,
                } => {
                    self.tag_outside_template(*span, "if");
                    let mut otherwise: Vec<Vec<String>> = Vec::new();
                    for (cond, body) in branches {
                        self.narrowing(otherwise.clone(), |cx| {
                            cx.condition(cond, "`{% if %}`");
                            cx.narrowing(facts(cond, true), |cx| cx.text(body));
                        });
                        otherwise.extend(facts(cond, false));
                    }
                    if let Some(body) = else_branch {
                        self.narrowing(otherwise, |cx| cx.text(body));
                    }
                }
                TextNode::For {
                    binding,
                    iterable,
                    body,
                    span,
                } => {
                    self.tag_outside_template(*span, "for");
                    self.hints
                        .push((binding.name.clone(), "inside its `{% for %}` block"));
                    let t = self.infer(iterable);
                    let t = self.present(iterable, t);
                    let elem = match t {
                        Ty::List(elem) => *elem,
                        Ty::Error => Ty::Error,
                        other => {
                            self.report(
                                Diagnostic::new(
                                    Code::TypeMismatch,
                                    self.file,
                                    iterable.span,
                                    format!("`{{% for %}}` needs a list, found `{other}`"),
                                )
                                .with_help("loop over a list such as `c.products`"),
                            );
                            Ty::Error
                        }
                    };
                    self.scoped(vec![(binding.name.clone(), elem)], |cx| cx.text(body));
                }
            }
        }
    }

    /// `{% if %}` / `{% for %}` exist in template text only.
    fn tag_outside_template(&mut self, span: crate::span::Span, tag: &str) {
        if self.in_template {
            return;
        }
        self.report(
            Diagnostic::new(
                Code::TypeMismatch,
                self.file,
                span,
                format!("`{{% {tag} %}}` tags are only allowed in templates"),
            )
            .with_help(
                "build the value with `??` or with `if` steps, or move the text into a template",
            ),
        );
    }

    fn hole(&mut self, h: &Hole) {
        let mut t = self.infer(&h.expr);
        for f in &h.filters {
            t = self.filter(&h.expr, t, f);
            if t.is_error() {
                return;
            }
        }
        let t = if h.filters.is_empty() {
            self.present(&h.expr, t)
        } else if t.is_optional() {
            self.report(
                Diagnostic::new(
                    Code::OptionalWithoutDefault,
                    self.file,
                    h.expr.span,
                    format!("this hole may print nothing (`{t}`)"),
                )
                .with_help("end the filters with `| default(...)` or use `??`"),
            );
            Ty::Error
        } else {
            t
        };
        if !t.is_printable() {
            self.report(
                Diagnostic::new(
                    Code::TypeMismatch,
                    self.file,
                    h.expr.span,
                    format!("a hole cannot print a `{t}`"),
                )
                .with_label(format!("this is `{t}`"))
                .with_help(match t {
                    Ty::List(_) => "print one field of each item with `{% for %}`, or `| count`",
                    _ => "print one of its fields, e.g. `{{ c.checkout_url }}`",
                }),
            );
        }
    }

    /// Applies one filter to a value of type `input`.
    fn filter(&mut self, subject: &Expr, input: Ty, f: &FilterCall) -> Ty {
        let name = f.name.name.as_str();
        if !builtins::FILTERS.contains(&name) {
            for a in &f.args {
                self.infer(a);
            }
            let d = Diagnostic::new(
                Code::UnknownFunction,
                self.file,
                f.name.span,
                format!("unknown filter `{name}`"),
            )
            .with_label("no such filter");
            self.report(
                match did_you_mean(name, builtins::FILTERS.iter().copied()) {
                    Some(s) => d.with_help(format!("did you mean `{s}`?")),
                    None => d.with_help(format!("filters are {}", builtins::FILTERS.join(", "))),
                },
            );
            return Ty::Error;
        }
        if !self.in_template {
            self.report(
                Diagnostic::new(
                    Code::UnknownFunction,
                    self.file,
                    f.name.span,
                    format!("the filter `{name}` is only available in templates"),
                )
                .with_help("format the value in the template that shows it"),
            );
            return Ty::Error;
        }
        let arity = match name {
            "truncate" | "default" => 1,
            _ => 0,
        };
        if f.args.len() != arity {
            for a in &f.args {
                self.infer(a);
            }
            self.report(
                Diagnostic::new(
                    Code::WrongArguments,
                    self.file,
                    f.name.span,
                    match arity {
                        0 => format!("the filter `{name}` takes no arguments"),
                        _ => format!("the filter `{name}` takes one argument"),
                    },
                )
                .with_help(match name {
                    "truncate" => "write `| truncate(40)`",
                    "default" => "write `| default(\"there\")`",
                    _ => "remove the arguments",
                }),
            );
            return Ty::Error;
        }
        if input.is_error() {
            return Ty::Error;
        }
        match name {
            "default" => {
                let present = input.unwrap_optional().clone();
                if let Some(arg) = f.args.first()
                    && !self.check_fits(arg, &present, Code::TypeMismatch, "the default")
                {
                    return Ty::Error;
                }
                present
            }
            "count" => match input.unwrap_optional() {
                Ty::List(_) => Ty::Int,
                t if t.is_text() => Ty::Int,
                t => self.filter_input(f, name, t, "a list or text"),
            },
            _ => {
                let t = self.present(subject, input);
                let ok = match name {
                    "money" => matches!(t, Ty::Money(_) | Ty::Int | Ty::Decimal),
                    "date" => matches!(t, Ty::Date | Ty::Timestamp),
                    _ => t.is_text(),
                };
                if name == "truncate"
                    && let Some(n) = f.args.first()
                {
                    self.truncate_length(n);
                }
                if t.is_error() {
                    return Ty::Error;
                }
                if !ok {
                    let wanted = match name {
                        "money" => "money or a number",
                        "date" => "a date or timestamp",
                        _ => "text",
                    };
                    return self.filter_input(f, name, &t, wanted);
                }
                Ty::String
            }
        }
    }

    fn filter_input(&mut self, f: &FilterCall, name: &str, t: &Ty, wanted: &str) -> Ty {
        self.report(
            Diagnostic::new(
                Code::TypeMismatch,
                self.file,
                f.name.span,
                format!("the filter `{name}` needs {wanted}, found `{t}`"),
            )
            .with_help("apply it to a value of the right type, or drop it"),
        );
        Ty::Error
    }

    /// `truncate(n)`: a whole number literal.
    fn truncate_length(&mut self, n: &Expr) {
        let ok = matches!(&n.kind, ExprKind::Lit(Lit::Int(i)) if *i >= 0);
        if !ok {
            let t = self.infer(n);
            if t.is_error() {
                return;
            }
            self.report(
                Diagnostic::new(
                    Code::WrongArguments,
                    self.file,
                    n.span,
                    format!("`truncate` needs a whole number of characters, found `{t}`"),
                )
                .with_help("write `| truncate(40)`"),
            );
        }
    }
}
