//! Which parts of the trigger event a journey must keep: the field paths the
//! flow reads (`checkout.checkout_id`), followed through `{% for %}` loops
//! and list lambdas (`{% for p in c.products %}{{ p.name }}` keeps only each
//! product's `name`) and into the templates the event is passed to. A path
//! used as a value keeps that value whole; the bare event used as a value
//! keeps everything. Anything this analysis cannot follow keeps more, never
//! less.

use super::Decls;
use crate::ast::{
    self, Expr, ExprKind, FlowDecl, FlowSettingKind, StepKind, TemplateSource, Text, TextNode,
};
use nudge_bytecode::format::{EventKeep, KeepField};
use std::collections::BTreeMap;

/// A tree of used paths.
#[derive(Default)]
struct Usage {
    whole: bool,
    fields: BTreeMap<String, Usage>,
}

impl Usage {
    fn at(&mut self, path: &[String]) -> &mut Usage {
        let mut node = self;
        for name in path {
            node = node.fields.entry(name.clone()).or_default();
        }
        node
    }

    fn whole_at(&mut self, path: &[String]) {
        self.at(path).whole = true;
    }

    fn to_keep(&self) -> Option<Vec<KeepField>> {
        if self.whole {
            return None;
        }
        Some(
            self.fields
                .iter()
                .map(|(name, u)| KeepField {
                    name: name.clone(),
                    sub: u.to_keep(),
                })
                .collect(),
        )
    }
}

/// Names in scope: an alias of a path inside the trigger event, or `None`
/// for a name that shadows one (a lambda parameter, a `wait for` event).
type Scope = Vec<(String, Option<Vec<String>>)>;

struct Walk<'d, 'a> {
    decls: &'d Decls<'a>,
    usage: Usage,
}

pub(crate) fn trigger_keep(decls: &Decls, f: &FlowDecl, name: &str) -> EventKeep {
    let mut w = Walk {
        decls,
        usage: Usage::default(),
    };
    let mut scope: Scope = vec![(name.to_string(), Some(Vec::new()))];
    for s in &f.settings {
        if let FlowSettingKind::ExitWhen(m) | FlowSettingKind::Goal { event: m, .. } = &s.kind
            && let Some(c) = &m.condition
        {
            w.with_event_names(&mut scope, m.binding.as_ref(), |w, scope| w.expr(c, scope));
        }
    }
    w.block(&f.body, &mut scope);
    if w.usage.whole {
        EventKeep::Whole
    } else if w.usage.fields.is_empty() {
        EventKeep::Nothing
    } else {
        EventKeep::Fields(w.usage.to_keep().unwrap_or_default())
    }
}

fn path_of(e: &Expr, scope: &Scope) -> Option<Vec<String>> {
    match &e.kind {
        ExprKind::Name(id) => scope
            .iter()
            .rev()
            .find(|(n, _)| *n == id.name)
            .and_then(|(_, p)| p.clone()),
        ExprKind::Paren(inner) => path_of(inner, scope),
        ExprKind::Field { base, field } | ExprKind::OptionalField { base, field } => {
            let mut p = path_of(base, scope)?;
            p.push(field.name.clone());
            Some(p)
        }
        _ => None,
    }
}

impl Walk<'_, '_> {
    /// Runs `f` with `it` (and an `as` name) naming another event.
    fn with_event_names(
        &mut self,
        scope: &mut Scope,
        binding: Option<&ast::Ident>,
        f: impl FnOnce(&mut Self, &mut Scope),
    ) {
        let len = scope.len();
        scope.push(("it".to_string(), None));
        if let Some(b) = binding {
            scope.push((b.name.clone(), None));
        }
        f(self, scope);
        scope.truncate(len);
    }

    fn block(&mut self, b: &ast::Block, scope: &mut Scope) {
        for s in &b.steps {
            self.step(s, scope);
        }
    }

    fn step(&mut self, s: &ast::Step, scope: &mut Scope) {
        match &s.kind {
            StepKind::Send { template, args, .. } => {
                let decl = self.decls.template(&template.name).map(|(_, t)| t);
                for (i, a) in args.iter().enumerate() {
                    match (
                        path_of(a, scope),
                        decl.and_then(|t| t.params.get(i).map(|p| (t, p))),
                    ) {
                        (Some(path), Some((t, p))) => {
                            // The template sees only its own parameters.
                            let mut inner: Scope = vec![(p.name.name.clone(), Some(path))];
                            self.template(t, &mut inner);
                        }
                        (Some(path), None) => self.usage.whole_at(&path),
                        (None, _) => self.expr(a, scope),
                    }
                }
            }
            StepKind::Wait(e) | StepKind::WaitUntil(ast::WaitUntil::Timestamp(e)) => {
                self.expr(e, scope)
            }
            StepKind::WaitUntil(_) | StepKind::Exit | StepKind::Error => {}
            StepKind::WaitFor {
                event,
                within,
                on_arrival,
                on_timeout,
            } => {
                if let Some(w) = within {
                    self.expr(w, scope);
                }
                self.with_event_names(scope, event.binding.as_ref(), |w, scope| {
                    if let Some(c) = &event.condition {
                        w.expr(c, scope);
                    }
                    if let Some(b) = on_arrival {
                        w.block(b, scope);
                    }
                });
                if let Some(b) = on_timeout {
                    self.block(b, scope);
                }
            }
            StepKind::If {
                branches,
                else_block,
            } => {
                for (c, b) in branches {
                    self.expr(c, scope);
                    self.block(b, scope);
                }
                if let Some(b) = else_block {
                    self.block(b, scope);
                }
            }
            StepKind::Match { scrutinee, arms } => {
                self.expr(scrutinee, scope);
                for a in arms {
                    self.block(&a.body, scope);
                }
            }
            StepKind::Split { arms, .. } => {
                for a in arms {
                    self.block(&a.body, scope);
                }
            }
            StepKind::Set { value, .. } => self.expr(value, scope),
            StepKind::Track { fields, .. } => {
                for f in fields {
                    self.expr(&f.value, scope);
                }
            }
            StepKind::Webhook { url, body, .. } => {
                self.text(url, scope);
                if let Some(b) = body {
                    self.expr(b, scope);
                }
            }
        }
    }

    fn template(&mut self, t: &ast::TemplateDecl, scope: &mut Scope) {
        for part in &t.parts {
            match &part.value {
                TemplateSource::Inline(tx) => self.text(tx, scope),
                TemplateSource::File(path) => match self.decls.template_files.get(&path.value) {
                    Some(tx) => self.text(tx, scope),
                    // Not loaded: keep whatever the parameter stands for.
                    None => {
                        if let Some((_, Some(p))) = scope.first() {
                            let p = p.clone();
                            self.usage.whole_at(&p);
                        }
                    }
                },
            }
        }
    }

    fn text(&mut self, t: &Text, scope: &mut Scope) {
        for n in &t.nodes {
            match n {
                TextNode::Literal(..) | TextNode::Error(_) => {}
                TextNode::Hole(h) => {
                    let counted = h.filters.first().is_some_and(|f| f.name.name == "count");
                    match path_of(&h.expr, scope) {
                        // `{{ xs | count }}` needs the list, not its contents.
                        Some(p) if counted => {
                            self.usage.at(&p);
                        }
                        _ => self.expr(&h.expr, scope),
                    }
                    for f in &h.filters {
                        for a in &f.args {
                            self.expr(a, scope);
                        }
                    }
                }
                TextNode::If {
                    branches,
                    else_branch,
                    ..
                } => {
                    for (c, b) in branches {
                        self.expr(c, scope);
                        self.text(b, scope);
                    }
                    if let Some(b) = else_branch {
                        self.text(b, scope);
                    }
                }
                TextNode::For {
                    binding,
                    iterable,
                    body,
                    ..
                } => {
                    let alias = path_of(iterable, scope);
                    match &alias {
                        Some(p) => {
                            self.usage.at(p);
                        }
                        None => self.expr(iterable, scope),
                    }
                    scope.push((binding.name.clone(), alias));
                    self.text(body, scope);
                    scope.pop();
                }
            }
        }
    }

    fn lambda(&mut self, arg: Option<&ast::Arg>, alias: Option<Vec<String>>, scope: &mut Scope) {
        if let Some(ExprKind::Lambda { param, body }) = arg.map(|a| &a.value.kind) {
            scope.push((param.name.clone(), alias));
            self.expr(body, scope);
            scope.pop();
        } else if let Some(a) = arg {
            self.expr(&a.value, scope);
        }
    }

    fn expr(&mut self, e: &Expr, scope: &mut Scope) {
        if let Some(p) = path_of(e, scope) {
            self.usage.whole_at(&p);
            return;
        }
        match &e.kind {
            ExprKind::Field { base, .. } | ExprKind::OptionalField { base, .. } => {
                self.expr(base, scope)
            }
            ExprKind::Method {
                receiver,
                method,
                args,
            } => {
                let arg = args.first();
                let has_lambda =
                    matches!(arg.map(|a| &a.value.kind), Some(ExprKind::Lambda { .. }));
                match path_of(receiver, scope) {
                    Some(p) => {
                        match (method.name.as_str(), has_lambda) {
                            // These read elements only through the lambda.
                            ("any" | "all" | "count" | "sum" | "map", true) | ("count", false) => {
                                self.usage.at(&p);
                            }
                            // `first` returns an element; `sum()` adds them.
                            _ => self.usage.whole_at(&p),
                        }
                        self.lambda(arg, Some(p), scope);
                    }
                    None => {
                        self.expr(receiver, scope);
                        self.lambda(arg, None, scope);
                    }
                }
                for a in args.iter().skip(1) {
                    self.expr(&a.value, scope);
                }
            }
            ExprKind::Lambda { param, body } => {
                scope.push((param.name.clone(), None));
                self.expr(body, scope);
                scope.pop();
            }
            ExprKind::Str(t) => self.text(t, scope),
            ExprKind::Call { args, .. } => {
                for a in args {
                    self.expr(&a.value, scope);
                }
            }
            ExprKind::Unary { operand, .. } => self.expr(operand, scope),
            ExprKind::Binary { lhs, rhs, .. } => {
                self.expr(lhs, scope);
                self.expr(rhs, scope);
            }
            ExprKind::List(items) => items.iter().for_each(|i| self.expr(i, scope)),
            ExprKind::Record(fields) => fields.iter().for_each(|f| self.expr(&f.value, scope)),
            ExprKind::Paren(inner) => self.expr(inner, scope),
            ExprKind::Name(_)
            | ExprKind::Lit(_)
            | ExprKind::EventField { .. }
            | ExprKind::Error => {}
        }
    }
}
