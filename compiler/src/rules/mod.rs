//! Structural errors (E03xx): the rules a well-typed project must still
//! satisfy — split weights, required `within`, positive durations, no
//! segment cycles, unsubscribe links in marketing email, required template
//! parts, one trigger per flow, no setting twice, settings before steps,
//! percentages in range.
//!
//! Decisions:
//! - E0305: an email template sent by at least one marketing flow (a flow
//!   without `category transactional`) must mention `unsubscribe_url` in
//!   **each** body part it has (`text`, and `html` if present): a reader sees
//!   one of them, so each must carry the link. Templates only sent from
//!   transactional flows, and templates no flow sends, need none.
//! - E0303 covers `wait`, `wait for ... within`, `reentry once per`,
//!   `goal ... within`, `when inactive ... for`, `within:` arguments of
//!   aggregates, frequency windows and `keep history`, whenever the value is
//!   made of literals (`0d`, `-1h`, `1h - 2h`).
//! - E0309 compares source positions: a flow setting whose span starts after
//!   the first step's span is reported.
//! - E0304 is reported once per cycle, in the file of the cycle's first
//!   segment (by file and position), at its reference to the next segment.

pub mod walk;

#[cfg(test)]
pub(crate) mod build;

use crate::ast::{
    self, Category, Channel, Expr, ExprKind, File, FlowDecl, FlowSettingKind, Item, PolicyRuleKind,
    SegmentDecl, Step, StepKind, TemplateDecl, TemplateSource, Text, TriggerKind,
};
use crate::diagnostic::{Code, Diagnostic};
use crate::span::{FileId, Span};
use rust_decimal::Decimal;
use std::collections::HashMap;
use std::sync::OnceLock;
pub use walk::{const_duration, const_percent, format_duration};

/// The declarations of the whole project that the file-level rules and lints
/// look across files for (which flows send a template, which segments refer
/// to which). Build it once per project: lookups are indexed and the
/// project-wide analyses (marketing sends, segment cycles) are computed on
/// first use and kept, so checking each file stays cheap.
#[derive(Debug, Default, Clone)]
pub struct ProjectDecls<'a> {
    segments: Vec<(FileId, &'a SegmentDecl)>,
    flows: Vec<(FileId, &'a FlowDecl)>,
    templates: Vec<(FileId, &'a TemplateDecl)>,
    /// Event declarations and `extend event`s, stdlib included.
    events: Vec<(FileId, &'a ast::EventDecl)>,
    /// Every `profile { }` block, stdlib included.
    profiles: Vec<(FileId, &'a ast::ProfileDecl)>,
    /// First declaration of each name.
    segment_index: HashMap<&'a str, usize>,
    template_index: HashMap<&'a str, usize>,
    marketing_sends: OnceLock<MarketingSends<'a>>,
    segment_cycles: OnceLock<Vec<SegmentCycle>>,
}

/// (channel, template name) → the first send of it from a marketing flow.
type MarketingSends<'a> = HashMap<(Channel, &'a str), (FileId, Span)>;

/// One cycle among segments, found project-wide.
#[derive(Debug, Clone)]
struct SegmentCycle {
    /// The file of the cycle's first segment, where it is reported.
    file: FileId,
    /// That segment's reference to the next segment of the cycle.
    span: Span,
    /// The segment names around the cycle, back to the first.
    names: Vec<String>,
}

impl<'a> ProjectDecls<'a> {
    pub fn from_files(files: &[(FileId, &'a File)]) -> Self {
        let mut decls = ProjectDecls::default();
        for (file, ast) in files {
            for item in &ast.items {
                match item {
                    Item::Segment(s) => decls.segments.push((*file, s)),
                    Item::Flow(f) => decls.flows.push((*file, f)),
                    Item::Template(t) => decls.templates.push((*file, t)),
                    Item::Event(e) => decls.events.push((*file, e)),
                    Item::Profile(p) => decls.profiles.push((*file, p)),
                    _ => {}
                }
            }
        }
        for (i, (_, s)) in decls.segments.iter().enumerate() {
            decls.segment_index.entry(s.name.name.as_str()).or_insert(i);
        }
        for (i, (_, t)) in decls.templates.iter().enumerate() {
            decls
                .template_index
                .entry(t.name.name.as_str())
                .or_insert(i);
        }
        decls
    }

    pub fn flows(&self) -> &[(FileId, &'a FlowDecl)] {
        &self.flows
    }

    pub fn segments(&self) -> &[(FileId, &'a SegmentDecl)] {
        &self.segments
    }

    pub fn templates(&self) -> &[(FileId, &'a TemplateDecl)] {
        &self.templates
    }

    pub fn template(&self, name: &str) -> Option<&'a TemplateDecl> {
        let i = *self.template_index.get(name)?;
        self.templates.get(i).map(|(_, t)| *t)
    }

    pub fn segment(&self, name: &str) -> Option<(FileId, &'a SegmentDecl)> {
        let i = *self.segment_index.get(name)?;
        self.segments.get(i).copied()
    }

    /// The declared field of an event (from its declaration or an `extend`).
    pub fn event_field(&self, event: &str, field: &str) -> Option<&'a ast::FieldDecl> {
        self.events
            .iter()
            .filter(|(_, e)| e.name.value == event)
            .flat_map(|(_, e)| e.fields.iter())
            .find(|f| f.name.name == field)
    }

    /// The declared profile trait of that name.
    pub fn profile_trait(&self, name: &str) -> Option<&'a ast::FieldDecl> {
        self.profiles
            .iter()
            .flat_map(|(_, p)| p.fields.iter())
            .find(|f| f.name.name == name)
    }

    /// The first send of each template from a marketing flow (a flow without
    /// `category transactional`), keyed by channel and template name.
    pub fn marketing_send(&self, channel: Channel, template: &str) -> Option<(FileId, Span)> {
        let sends = self.marketing_sends.get_or_init(|| {
            let mut sends = HashMap::new();
            for (file, flow) in &self.flows {
                if flow_category(flow) != Category::Marketing {
                    continue;
                }
                walk::walk_steps(&flow.body, &mut |step| {
                    if let StepKind::Send {
                        channel, template, ..
                    } = &step.kind
                    {
                        sends
                            .entry((*channel, template.name.as_str()))
                            .or_insert((*file, step.span));
                    }
                });
            }
            sends
        });
        sends.get(&(channel, template)).copied()
    }

    fn segment_cycles(&self) -> &[SegmentCycle] {
        self.segment_cycles
            .get_or_init(|| find_segment_cycles(self))
    }
}

/// Looks up the parsed contents of `html file "..."` by the path as written.
pub type TemplateTextLookup<'l> = dyn Fn(&str) -> Option<&'l Text> + 'l;

/// A flow's category (`marketing` unless it says `category transactional`).
pub fn flow_category(flow: &FlowDecl) -> Category {
    flow.settings
        .iter()
        .find_map(|s| match &s.kind {
            FlowSettingKind::Category(c, _) => Some(*c),
            _ => None,
        })
        .unwrap_or(Category::Marketing)
}

/// All structural errors of one file.
pub fn check_file_with(
    project: &ProjectDecls<'_>,
    file: FileId,
    ast: &File,
    template_text: &TemplateTextLookup<'_>,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    durations(file, ast, &mut out);
    for item in &ast.items {
        match item {
            Item::Flow(flow) => {
                flow_settings(file, flow, &mut out);
                walk::walk_steps(&flow.body, &mut |step| step_rules(file, step, &mut out));
            }
            Item::Template(t) => {
                template_parts(file, t, &mut out);
                if t.channel == Channel::Email {
                    unsubscribe_link(project, file, t, template_text, &mut out);
                }
            }
            _ => {}
        }
    }
    segment_cycles(project, file, &mut out);
    out
}

fn non_positive(file: FileId, what: &str, expr: &Expr, out: &mut Vec<Diagnostic>) {
    if let Some(secs) = const_duration(expr)
        && secs <= 0
    {
        let message = if secs == 0 {
            format!("{what} is zero")
        } else {
            format!("{what} is negative ({})", format_duration(secs))
        };
        out.push(
            Diagnostic::new(Code::NonPositiveDuration, file, expr.span, message)
                .with_help("use a duration greater than zero, such as `1h` or `1d`"),
        );
    }
}

/// E0303 everywhere a duration must be positive.
fn durations(file: FileId, ast: &File, out: &mut Vec<Diagnostic>) {
    // `within:` of aggregates anywhere.
    walk::walk_file_exprs(ast, &mut |e| {
        if let ExprKind::Call { args, .. } = &e.kind {
            for a in args {
                if a.name.as_ref().is_some_and(|n| n.name == "within") {
                    non_positive(file, "the aggregate window", &a.value, out);
                }
            }
        }
    });
    for item in &ast.items {
        match item {
            Item::Flow(flow) => {
                for s in &flow.settings {
                    match &s.kind {
                        FlowSettingKind::Reentry(ast::Reentry::OncePer(d)) => {
                            non_positive(file, "the reentry period", d, out)
                        }
                        FlowSettingKind::Goal { within, .. } => {
                            non_positive(file, "the goal window", within, out)
                        }
                        FlowSettingKind::Trigger(t) => {
                            if let TriggerKind::Inactive { duration, .. } = &t.kind {
                                non_positive(file, "the inactivity period", duration, out)
                            }
                        }
                        _ => {}
                    }
                }
                walk::walk_steps(&flow.body, &mut |step| match &step.kind {
                    StepKind::Wait(d) => non_positive(file, "the wait", d, out),
                    StepKind::WaitFor {
                        within: Some(w), ..
                    } => non_positive(file, "the `within` of `wait for`", w, out),
                    _ => {}
                });
            }
            Item::Policy(p) => {
                for rule in &p.rules {
                    match &rule.kind {
                        PolicyRuleKind::Frequency { caps, .. } => {
                            for c in caps {
                                non_positive(file, "the frequency window", &c.window, out);
                            }
                        }
                        PolicyRuleKind::KeepHistory(e) => {
                            non_positive(file, "the kept history", e, out)
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
}

/// Which setting a flow setting is, for E0308; `None` for repeatable ones.
fn setting_name(kind: &FlowSettingKind) -> Option<&'static str> {
    match kind {
        FlowSettingKind::Description(_) => Some("description"),
        FlowSettingKind::Category(..) => Some("category"),
        FlowSettingKind::Priority(_) => Some("priority"),
        FlowSettingKind::Trigger(_) => Some("trigger"),
        FlowSettingKind::Reentry(_) => Some("reentry"),
        FlowSettingKind::Goal { .. } => Some("goal"),
        FlowSettingKind::Holdout(_) => Some("holdout"),
        FlowSettingKind::ExitWhen(_) | FlowSettingKind::Error => None,
    }
}

/// E0307, E0308, E0309 and E0310 (holdout) for one flow.
fn flow_settings(file: FileId, flow: &FlowDecl, out: &mut Vec<Diagnostic>) {
    let mut seen: HashMap<&'static str, Span> = HashMap::new();
    let mut has_trigger = false;
    let first_step = flow.body.steps.first().map(|s| s.span);
    for s in &flow.settings {
        has_trigger |= matches!(s.kind, FlowSettingKind::Trigger(_));
        if let Some(name) = setting_name(&s.kind) {
            if let Some(first) = seen.get(name) {
                let (message, help) = if name == "trigger" {
                    (
                        format!("flow `{}` has a second trigger", flow.name.name),
                        "a flow has exactly one trigger; split it into two flows",
                    )
                } else {
                    (
                        format!("`{name}` is given twice in flow `{}`", flow.name.name),
                        "remove one of them",
                    )
                };
                out.push(
                    Diagnostic::new(Code::DuplicateSetting, file, s.span, message)
                        .with_label("given again here")
                        .with_secondary(file, *first, "first given here")
                        .with_help(help),
                );
            } else {
                seen.insert(name, s.span);
            }
        }
        if let Some(step) = first_step
            && s.span.start > step.start
            && !matches!(s.kind, FlowSettingKind::Error)
        {
            out.push(
                Diagnostic::new(
                    Code::SettingAfterStep,
                    file,
                    s.span,
                    format!(
                        "this flow setting comes after the first step of `{}`",
                        flow.name.name
                    ),
                )
                .with_secondary(file, step, "first step")
                .with_help("move settings and the trigger above the first step"),
            );
        }
        if let FlowSettingKind::Holdout(e) = &s.kind {
            percent_in_range(file, "holdout", e, out);
        }
    }
    if !has_trigger {
        out.push(
            Diagnostic::new(
                Code::MissingTrigger,
                file,
                flow.name.span,
                format!("flow `{}` has no trigger", flow.name.name),
            )
            .with_help("add a trigger such as `when \"Order Completed\" as order`"),
        );
    }
}

fn percent_in_range(file: FileId, what: &str, e: &Expr, out: &mut Vec<Diagnostic>) {
    if let Some(p) = const_percent(e)
        && (p < Decimal::ZERO || p > Decimal::ONE_HUNDRED)
    {
        out.push(
            Diagnostic::new(
                Code::InvalidPercent,
                file,
                e.span,
                format!("{what} {p}% is outside 0% to 100%"),
            )
            .with_help("use a percentage between 0% and 100%"),
        );
    }
}

/// E0301, E0302, E0310 for one step (nested steps are visited separately).
fn step_rules(file: FileId, step: &Step, out: &mut Vec<Diagnostic>) {
    match &step.kind {
        StepKind::Split { name, arms } => {
            let mut total = Decimal::ZERO;
            let mut all_known = true;
            for arm in arms {
                percent_in_range(file, "split weight", &arm.weight, out);
                match const_percent(&arm.weight) {
                    Some(p) => total += p,
                    None => all_known = false,
                }
            }
            if all_known && !arms.is_empty() && total != Decimal::ONE_HUNDRED {
                out.push(
                    Diagnostic::new(
                        Code::SplitWeights,
                        file,
                        name.span,
                        format!(
                            "the weights of split `{}` add up to {}%, not 100%",
                            name.name,
                            total.normalize()
                        ),
                    )
                    .with_help("change the weights so that they add up to exactly 100%"),
                );
            }
        }
        StepKind::WaitFor {
            event,
            within: None,
            ..
        } => {
            out.push(
                Diagnostic::new(
                    Code::WaitForWithoutWithin,
                    file,
                    step.span,
                    format!("`wait for \"{}\"` has no `within`", event.event.value),
                )
                .with_help(
                    "add how long to wait, e.g. `within 2d`, and optionally a `timeout { }` block",
                ),
            );
        }
        _ => {}
    }
}

/// E0306, E0311 and duplicate parts (E0308) of one template.
fn template_parts(file: FileId, t: &TemplateDecl, out: &mut Vec<Diagnostic>) {
    let mut seen: HashMap<&str, Span> = HashMap::new();
    for part in &t.parts {
        let key = part.key.name.as_str();
        if let Some(first) = seen.get(key) {
            out.push(
                Diagnostic::new(
                    Code::DuplicateSetting,
                    file,
                    part.key.span,
                    format!("`{key}` is given twice in template `{}`", t.name.name),
                )
                .with_label("given again here")
                .with_secondary(file, *first, "first given here")
                .with_help("remove one of them"),
            );
        } else {
            seen.insert(key, part.key.span);
        }
    }
    let required: &[&str] = match t.channel {
        Channel::Email => &["subject", "text"],
        Channel::Sms => &["body"],
        Channel::Push => &["title", "body"],
    };
    for key in required {
        if seen.contains_key(key) {
            continue;
        }
        let (code, help) = match (t.channel, *key) {
            (Channel::Email, "text") => (
                Code::EmailMissingPart,
                "add a plain-text part: `text \"\"\"...\"\"\"` (every email needs one)".to_string(),
            ),
            (Channel::Email, _) => (
                Code::EmailMissingPart,
                "add a subject line: `subject \"...\"`".to_string(),
            ),
            (_, key) => (Code::MissingTemplatePart, format!("add `{key} \"...\"`")),
        };
        out.push(
            Diagnostic::new(
                code,
                file,
                t.name.span,
                format!(
                    "{} template `{}` has no `{key}`",
                    t.channel.as_str(),
                    t.name.name
                ),
            )
            .with_help(help),
        );
    }
}

/// True if an expression is the built-in `unsubscribe_url`.
fn is_unsubscribe_url(e: &Expr) -> bool {
    matches!(&e.kind, ExprKind::Name(n) if n.name == "unsubscribe_url")
}

/// The text of a template part, inline or loaded from its file.
pub fn part_text<'x, 't: 'x, 'l: 'x>(
    source: &'t TemplateSource,
    template_text: &TemplateTextLookup<'l>,
) -> Option<&'x Text> {
    let text = match source {
        TemplateSource::Inline(t) => Some(t),
        TemplateSource::File(path) => template_text(&path.value),
    }?;
    // Text the parser could not read has had its diagnostic; rules and lints
    // about its content would only guess.
    if text
        .nodes
        .iter()
        .any(|n| matches!(n, ast::TextNode::Error(_)))
    {
        return None;
    }
    Some(text)
}

/// E0305 for one email template.
fn unsubscribe_link(
    project: &ProjectDecls<'_>,
    file: FileId,
    t: &TemplateDecl,
    template_text: &TemplateTextLookup<'_>,
    out: &mut Vec<Diagnostic>,
) {
    let Some((send_file, send_span)) = project.marketing_send(Channel::Email, &t.name.name) else {
        return;
    };
    for part in &t.parts {
        let key = part.key.name.as_str();
        if key != "text" && key != "html" {
            continue;
        }
        // A missing template file is E0007 elsewhere; nothing to check here.
        let Some(text) = part_text(&part.value, template_text) else {
            continue;
        };
        if walk::text_mentions(text, &is_unsubscribe_url) {
            continue;
        }
        out.push(
            Diagnostic::new(
                Code::MissingUnsubscribe,
                file,
                part.key.span,
                format!(
                    "the `{key}` part of marketing email `{}` has no unsubscribe link",
                    t.name.name
                ),
            )
            .with_secondary(send_file, send_span, "sent by a marketing flow here")
            .with_help("add `{{ unsubscribe_url }}` to this part (or mark the flows that send it `category transactional`)"),
        );
    }
}

/// The segments a segment's condition refers to (`profile in other`), with
/// the span of each reference.
fn segment_refs<'a>(segment: &'a SegmentDecl, project: &ProjectDecls<'_>) -> Vec<&'a ast::Ident> {
    let mut out = Vec::new();
    collect_in_refs(&segment.condition, project, &mut out);
    out
}

fn collect_in_refs<'a>(e: &'a Expr, project: &ProjectDecls<'_>, out: &mut Vec<&'a ast::Ident>) {
    match &e.kind {
        ExprKind::Binary { op, lhs, rhs, .. } => {
            if *op == ast::BinaryOp::In
                && let ExprKind::Name(n) = &strip_parens(rhs).kind
                && project.segment(&n.name).is_some()
            {
                out.push(n);
            }
            collect_in_refs(lhs, project, out);
            collect_in_refs(rhs, project, out);
        }
        ExprKind::Unary { operand, .. } => collect_in_refs(operand, project, out),
        ExprKind::Paren(inner) => collect_in_refs(inner, project, out),
        ExprKind::Field { base, .. } | ExprKind::OptionalField { base, .. } => {
            collect_in_refs(base, project, out)
        }
        ExprKind::Method { receiver, args, .. } => {
            collect_in_refs(receiver, project, out);
            for a in args {
                collect_in_refs(&a.value, project, out);
            }
        }
        ExprKind::Call { args, .. } => {
            for a in args {
                collect_in_refs(&a.value, project, out);
            }
        }
        ExprKind::Lambda { body, .. } => collect_in_refs(body, project, out),
        ExprKind::List(items) => {
            for i in items {
                collect_in_refs(i, project, out);
            }
        }
        ExprKind::Record(fields) => {
            for f in fields {
                collect_in_refs(&f.value, project, out);
            }
        }
        _ => {}
    }
}

pub fn strip_parens(e: &Expr) -> &Expr {
    match &e.kind {
        ExprKind::Paren(inner) => strip_parens(inner),
        _ => e,
    }
}

/// E0304: cycles among segments, reported in the file of each cycle's first
/// segment.
fn segment_cycles(project: &ProjectDecls<'_>, file: FileId, out: &mut Vec<Diagnostic>) {
    for cycle in project.segment_cycles() {
        if cycle.file != file {
            continue;
        }
        out.push(
            Diagnostic::new(
                Code::SegmentCycle,
                file,
                cycle.span,
                format!(
                    "segment `{}` depends on itself: {}",
                    cycle.names.first().map(String::as_str).unwrap_or_default(),
                    cycle.names.join(" → ")
                ),
            )
            .with_help("define one of these segments without referring to the others"),
        );
    }
}

/// Every cycle among the project's segments, one per strongly connected
/// component, starting from its first segment (by file and position).
fn find_segment_cycles(project: &ProjectDecls<'_>) -> Vec<SegmentCycle> {
    let segments = &project.segments;
    let edges: Vec<Vec<(usize, &ast::Ident)>> = segments
        .iter()
        .map(|(_, s)| {
            segment_refs(s, project)
                .into_iter()
                .filter_map(|r| project.segment_index.get(r.name.as_str()).map(|&j| (j, r)))
                .collect()
        })
        .collect();
    let mut cycles = Vec::new();
    for comp in strongly_connected(segments.len(), &edges) {
        let on_cycle = comp.len() > 1
            || comp
                .first()
                .is_some_and(|&i| edges.get(i).is_some_and(|e| e.iter().any(|(j, _)| *j == i)));
        if !on_cycle {
            continue;
        }
        let Some(&start) = comp
            .iter()
            .min_by_key(|&&i| segments.get(i).map(|(f, s)| (*f, s.span.start)))
        else {
            continue;
        };
        let Some(&(start_file, start_decl)) = segments.get(start) else {
            continue;
        };
        let Some(path) = cycle_path(start, &comp, &edges) else {
            continue;
        };
        let Some(&(_, Some(first_ref))) = path.first() else {
            continue;
        };
        let names = path
            .iter()
            .filter_map(|(i, _)| segments.get(*i).map(|(_, s)| s.name.name.clone()))
            .chain(std::iter::once(start_decl.name.name.clone()))
            .collect();
        cycles.push(SegmentCycle {
            file: start_file,
            span: first_ref.span,
            names,
        });
    }
    cycles
}

/// A cycle from `start` back to itself inside one component: the list of
/// (segment, reference leading to the next segment).
fn cycle_path<'a>(
    start: usize,
    comp: &[usize],
    edges: &[Vec<(usize, &'a ast::Ident)>],
) -> Option<Vec<(usize, Option<&'a ast::Ident>)>> {
    // Breadth-first search for the shortest way back to `start`.
    let mut prev: HashMap<usize, (usize, &'a ast::Ident)> = HashMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    let mut visited = std::collections::HashSet::from([start]);
    while let Some(i) = queue.pop_front() {
        for &(j, r) in edges.get(i)? {
            if !comp.contains(&j) {
                continue;
            }
            if j == start {
                // Walk back from i to start.
                let mut path = vec![(i, Some(r))];
                let mut cur = i;
                while cur != start {
                    let &(p, pr) = prev.get(&cur)?;
                    path.push((p, Some(pr)));
                    cur = p;
                }
                path.reverse();
                return Some(path);
            }
            if visited.insert(j) {
                prev.insert(j, (i, r));
                queue.push_back(j);
            }
        }
    }
    None
}

/// Tarjan's strongly connected components (iterative, so deep chains of
/// segments cannot overflow the stack).
fn strongly_connected<T>(n: usize, edges: &[Vec<(usize, T)>]) -> Vec<Vec<usize>> {
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut next = 0;
    let mut out = Vec::new();
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        // (node, next edge to look at)
        let mut work = vec![(root, 0usize)];
        while let Some(&mut (v, ref mut ei)) = work.last_mut() {
            if *ei == 0 && index[v] == usize::MAX {
                index[v] = next;
                low[v] = next;
                next += 1;
                stack.push(v);
                on_stack[v] = true;
            }
            let succ = edges.get(v).and_then(|e| e.get(*ei)).map(|(w, _)| *w);
            match succ {
                Some(w) => {
                    *ei += 1;
                    if index[w] == usize::MAX {
                        work.push((w, 0));
                    } else if on_stack[w] {
                        low[v] = low[v].min(index[w]);
                    }
                }
                None => {
                    work.pop();
                    if let Some(&(parent, _)) = work.last() {
                        low[parent] = low[parent].min(low[v]);
                    }
                    if low[v] == index[v] {
                        let mut comp = Vec::new();
                        while let Some(w) = stack.pop() {
                            on_stack[w] = false;
                            comp.push(w);
                            if w == v {
                                break;
                            }
                        }
                        out.push(comp);
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::build::*;
    use super::*;
    use crate::ast::{BinaryOp, SplitArm};

    fn check(items: Vec<Item>) -> Vec<Diagnostic> {
        let f = file(items);
        let files = [(FileId(1), &f)];
        let project = ProjectDecls::from_files(&files);
        check_file_with(&project, FileId(1), &f, &|_| None)
    }

    fn codes(d: &[Diagnostic]) -> Vec<&'static str> {
        d.iter().map(|d| d.code.as_str()).collect()
    }

    fn split(weights: &[i64]) -> Step {
        step(
            StepKind::Split {
                name: ident("test", 50),
                arms: weights
                    .iter()
                    .enumerate()
                    .map(|(i, w)| SplitArm {
                        weight: pct(*w, 60 + i as u32),
                        name: ident("arm", 0),
                        body: block(vec![]),
                        span: Span::default(),
                    })
                    .collect(),
            },
            49,
        )
    }

    fn flow_item(steps: Vec<Step>) -> Item {
        Item::Flow(flow("f", vec![trigger("Signed Up", None, 1)], steps))
    }

    #[test]
    fn split_weights_must_add_to_100() {
        assert!(check(vec![flow_item(vec![split(&[50, 50])])]).is_empty());
        let d = check(vec![flow_item(vec![split(&[50, 40])])]);
        assert_eq!(codes(&d), ["E0301"]);
        assert_eq!(d[0].primary.span, sp(50));
        assert!(d[0].message.contains("add up to 90%"), "{}", d[0].message);
        let d = check(vec![flow_item(vec![split(&[150, -50])])]);
        assert_eq!(codes(&d), ["E0310", "E0310"]);
    }

    #[test]
    fn triggers_and_duplicate_settings() {
        let no_trigger = Item::Flow(flow("f", vec![], vec![]));
        let d = check(vec![no_trigger]);
        assert_eq!(codes(&d), ["E0307"]);
        let two = Item::Flow(flow(
            "f",
            vec![trigger("A", None, 1), trigger("B", None, 2)],
            vec![],
        ));
        let d = check(vec![two]);
        assert_eq!(codes(&d), ["E0308"]);
        assert_eq!(d[0].primary.span, sp(2));
        assert_eq!(d[0].secondary[0].span, sp(1));
        // `exit when` may repeat
        let exits = Item::Flow(flow(
            "f",
            vec![
                trigger("A", None, 1),
                setting(FlowSettingKind::ExitWhen(event_match("B", None, None)), 2),
                setting(FlowSettingKind::ExitWhen(event_match("C", None, None)), 3),
            ],
            vec![],
        ));
        assert!(check(vec![exits]).is_empty());
    }

    #[test]
    fn setting_after_first_step() {
        let late = Item::Flow(flow(
            "f",
            vec![
                trigger("A", None, 1),
                setting(FlowSettingKind::Reentry(ast::Reentry::Once), 30),
            ],
            vec![step(StepKind::Exit, 20)],
        ));
        let d = check(vec![late]);
        assert_eq!(codes(&d), ["E0309"]);
        assert_eq!(d[0].primary.span, sp(30));
    }

    #[test]
    fn durations_must_be_positive() {
        let wait_zero = step(StepKind::Wait(dur(0, 10)), 10);
        let wait_neg = step(
            StepKind::Wait(bin(BinaryOp::Sub, dur(3600, 20), dur(7200, 21), 20)),
            20,
        );
        let ok = step(StepKind::Wait(dur(60, 30)), 30);
        let wait_for = step(
            StepKind::WaitFor {
                event: event_match("E", None, None),
                within: None,
                on_arrival: None,
                on_timeout: None,
            },
            40,
        );
        let d = check(vec![flow_item(vec![wait_zero, wait_neg, ok, wait_for])]);
        assert_eq!(codes(&d), ["E0303", "E0303", "E0302"]);
        assert!(d[1].message.contains("negative"));
    }

    #[test]
    fn template_parts() {
        let t = |ch, parts| Item::Template(template(ch, "t", parts, 10));
        let d = check(vec![t(Channel::Email, vec![("subject", text(&[]))])]);
        assert_eq!(codes(&d), ["E0306"]);
        assert!(d[0].message.contains("`text`"));
        assert_eq!(codes(&check(vec![t(Channel::Sms, vec![])])), ["E0311"]);
        let d = check(vec![t(Channel::Push, vec![("title", text(&[]))])]);
        assert_eq!(codes(&d), ["E0311"]);
        let d = check(vec![t(
            Channel::Sms,
            vec![("body", text(&[])), ("body", text(&[]))],
        )]);
        assert_eq!(codes(&d), ["E0308"]);
    }

    #[test]
    fn unsubscribe_link_needed_only_when_a_marketing_flow_sends_it() {
        let with_link = text(&[lit_node("Bye "), hole(var("unsubscribe_url", 0), &[])]);
        let no_link = text(&[lit_node("Hi")]);
        let email = |parts| Item::Template(template(Channel::Email, "news", parts, 10));
        let marketing = Item::Flow(flow(
            "f",
            vec![trigger("A", None, 1)],
            vec![send(Channel::Email, "news", 5)],
        ));
        let transactional = Item::Flow(flow(
            "f",
            vec![
                trigger("A", None, 1),
                setting(FlowSettingKind::Category(Category::Transactional, sp(2)), 2),
            ],
            vec![send(Channel::Email, "news", 5)],
        ));
        let parts = || vec![("subject", no_link.clone()), ("text", no_link.clone())];
        let d = check(vec![email(parts()), marketing.clone()]);
        assert_eq!(codes(&d), ["E0305"]);
        assert_eq!(d[0].secondary[0].span, sp(5));
        assert!(check(vec![email(parts()), transactional]).is_empty());
        // each body part needs it
        let d = check(vec![
            email(vec![
                ("subject", no_link.clone()),
                ("text", with_link.clone()),
                ("html", no_link.clone()),
            ]),
            marketing.clone(),
        ]);
        assert_eq!(codes(&d), ["E0305"]);
        assert!(d[0].message.contains("`html`"));
        let d = check(vec![
            email(vec![("subject", no_link), ("text", with_link)]),
            marketing,
        ]);
        assert!(d.is_empty());
    }

    #[test]
    fn segment_cycles_are_named_once() {
        let in_seg = |n: &str, at: u32| bin(BinaryOp::In, var("profile", at), var(n, at), at);
        let items = vec![
            Item::Segment(segment("a", in_seg("b", 11), 10)),
            Item::Segment(segment("b", in_seg("c", 21), 20)),
            Item::Segment(segment("c", in_seg("a", 31), 30)),
            Item::Segment(segment("me", in_seg("me", 41), 40)),
            Item::Segment(segment("ok", in_seg("a", 51), 50)),
        ];
        let d = check(items);
        assert_eq!(codes(&d), ["E0304", "E0304"]);
        let mut messages: Vec<&str> = d.iter().map(|d| d.message.as_str()).collect();
        messages.sort();
        assert_eq!(
            messages,
            [
                "segment `a` depends on itself: a → b → c → a",
                "segment `me` depends on itself: me → me"
            ]
        );
        let a = d.iter().find(|d| d.message.contains("`a`"));
        assert_eq!(a.map(|d| d.primary.span), Some(sp(11)));
    }

    #[test]
    fn segment_cycle_reported_in_the_first_segments_file() {
        let in_seg = |n: &str, at: u32| bin(BinaryOp::In, var("profile", at), var(n, at), at);
        let f1 = file(vec![Item::Segment(segment("a", in_seg("b", 11), 10))]);
        let f2 = file(vec![Item::Segment(segment("b", in_seg("a", 21), 20))]);
        let files = [(FileId(1), &f1), (FileId(2), &f2)];
        let project = ProjectDecls::from_files(&files);
        let d1 = check_file_with(&project, FileId(1), &f1, &|_| None);
        let d2 = check_file_with(&project, FileId(2), &f2, &|_| None);
        assert_eq!(codes(&d1), ["E0304"]);
        assert!(d2.is_empty());
    }
}
