//! Warnings (W0001–W0009 of LANGUAGE.md §7): code that is valid but probably
//! not what the author meant, or that the runtime will quietly hold back.
//!
//! | code  | what | where |
//! |-------|------|-------|
//! | W0001 | steps after a step that always exits | this module |
//! | W0002 | marketing SMS without "STOP" / "opt out" wording | `sms` |
//! | W0003 | SMS body longer than one segment | `sms` |
//! | W0004 | a flow's own schedule exceeds a frequency cap | `schedule` |
//! | W0005 | `exit when` / `goal` that can never match | `never_match` |
//! | W0006 | marketing SMS without a consent check | this module |
//! | W0007 | `wait until` a time inside quiet hours | `schedule` |
//! | W0008 | aggregate window longer than kept history | this module |
//! | W0009 | marketing email without `shop.address` | this module |
//!
//! "Marketing" means a flow without `category transactional`; a template is
//! a marketing template when some marketing flow sends it. Template-level
//! lints are reported at the template (in its file), with the marketing send
//! as a secondary label.

mod never_match;
mod schedule;
mod sms;

use crate::ast::{
    self, BinaryOp, Block, Category, Channel, Expr, ExprKind, File, FlowDecl, FlowSettingKind,
    Item, Lit, Step, StepKind, TemplateDecl, TriggerKind, UnaryOp,
};
use crate::diagnostic::{Code, Diagnostic};
use crate::manifest::Manifest;
use crate::policy::Policy;
use crate::rules::{self, ProjectDecls, TemplateTextLookup, const_duration, flow_category, walk};
use crate::span::{FileId, Span};

pub use crate::rules::format_duration;

/// All lints of one file.
pub fn lint_file_with(
    project: &ProjectDecls<'_>,
    policy: &Policy,
    manifest: &Manifest,
    file: FileId,
    ast: &File,
    template_text: &TemplateTextLookup<'_>,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for item in &ast.items {
        match item {
            Item::Flow(flow) => {
                unreachable_steps(file, &flow.body, &mut out);
                let marketing = flow_category(flow) == Category::Marketing;
                if marketing {
                    sms_consent(file, &flow.body, false, &mut out);
                    schedule::frequency(file, flow, policy, &mut out);
                }
                schedule::quiet_hours(file, flow, policy, &mut out);
                never_match::flow(project, file, flow, &mut out);
                inactive_window(file, flow, policy, &mut out);
            }
            Item::Template(t) => {
                let sent = project.marketing_send(t.channel, &t.name.name);
                match t.channel {
                    Channel::Sms => {
                        sms::segments(file, t, manifest, template_text, &mut out);
                        if let Some((send_file, send_span)) = sent {
                            sms::opt_out(file, t, template_text, send_file, send_span, &mut out);
                        }
                    }
                    Channel::Email => {
                        if let Some((send_file, send_span)) = sent {
                            postal_address(file, t, template_text, send_file, send_span, &mut out);
                        }
                    }
                    Channel::Push => {}
                }
            }
            _ => {}
        }
    }
    history_windows(file, ast, policy, &mut out);
    out
}

// ---- W0001 unreachable steps ---------------------------------------------

/// True if every path through the step leaves the flow (an `exit`, or a
/// branch step all of whose branches exit).
fn always_exits(step: &Step) -> bool {
    match &step.kind {
        StepKind::Exit => true,
        StepKind::If {
            branches,
            else_block,
        } => {
            else_block.as_ref().is_some_and(block_always_exits)
                && branches.iter().all(|(_, b)| block_always_exits(b))
        }
        StepKind::Match { arms, .. } => {
            // Only a match with `_` is known to cover every value here.
            arms.iter()
                .any(|a| matches!(a.pattern, ast::Pattern::Wildcard(_)))
                && arms.iter().all(|a| block_always_exits(&a.body))
        }
        StepKind::Split { arms, .. } => {
            !arms.is_empty() && arms.iter().all(|a| block_always_exits(&a.body))
        }
        StepKind::WaitFor {
            on_arrival,
            on_timeout,
            ..
        } => {
            on_arrival.as_ref().is_some_and(block_always_exits)
                && on_timeout.as_ref().is_some_and(block_always_exits)
        }
        _ => false,
    }
}

fn block_always_exits(block: &Block) -> bool {
    block.steps.iter().any(always_exits)
}

fn unreachable_steps(file: FileId, block: &Block, out: &mut Vec<Diagnostic>) {
    let mut exit_at: Option<Span> = None;
    for step in &block.steps {
        if let Some(exit) = exit_at {
            out.push(
                Diagnostic::new(
                    Code::UnreachableStep,
                    file,
                    step.span,
                    "this step can never run: every path before it leaves the flow",
                )
                .with_secondary(file, exit, "the flow always exits here")
                .with_help("remove the unreachable steps or the `exit` before them"),
            );
            return;
        }
        for child in walk::child_blocks(step) {
            unreachable_steps(file, child, out);
        }
        if always_exits(step) {
            exit_at = Some(step.span);
        }
    }
}

// ---- W0006 SMS consent ----------------------------------------------------

/// True if `e` is `profile.sms_consent`.
fn is_sms_consent(e: &Expr) -> bool {
    matches!(&rules::strip_parens(e).kind,
        ExprKind::Field { base, field }
            if field.name == "sms_consent"
            && matches!(&rules::strip_parens(base).kind, ExprKind::Name(n) if n.name == "profile"))
}

fn is_bool(e: &Expr, value: bool) -> bool {
    matches!(&rules::strip_parens(e).kind, ExprKind::Lit(Lit::Bool(b)) if *b == value)
}

/// `profile.sms_consent`, `profile.sms_consent == true` or `!= false`
/// (either operand order).
fn is_consent_true(e: &Expr) -> bool {
    consent_compared(e, true) || is_sms_consent(e)
}

/// `profile.sms_consent == false` or `!= true` (either operand order).
fn is_consent_false(e: &Expr) -> bool {
    consent_compared(e, false)
}

/// True if `e` compares `profile.sms_consent` so that it holds exactly
/// when consent is `value`.
fn consent_compared(e: &Expr, value: bool) -> bool {
    let ExprKind::Binary { op, lhs, rhs, .. } = &rules::strip_parens(e).kind else {
        return false;
    };
    let against = |b: bool| {
        (is_sms_consent(lhs) && is_bool(rhs, b)) || (is_bool(lhs, b) && is_sms_consent(rhs))
    };
    match op {
        BinaryOp::Eq => against(value),
        BinaryOp::Ne => against(!value),
        _ => false,
    }
}

/// True if the condition can only hold when the profile consented to SMS:
/// a consent check, or an `and` with one on either side.
fn implies_sms_consent(cond: &Expr) -> bool {
    match &rules::strip_parens(cond).kind {
        ExprKind::Binary {
            op: BinaryOp::And,
            lhs,
            rhs,
            ..
        } => implies_sms_consent(lhs) || implies_sms_consent(rhs),
        _ => is_consent_true(cond),
    }
}

/// True if the condition holds whenever consent is missing:
/// `not profile.sms_consent`, `profile.sms_consent == false`, or an `or`
/// with one of those on either side.
fn implies_no_sms_consent(cond: &Expr) -> bool {
    match &rules::strip_parens(cond).kind {
        ExprKind::Unary {
            op: UnaryOp::Not,
            operand,
        } => is_consent_true(operand),
        ExprKind::Binary {
            op: BinaryOp::Or,
            lhs,
            rhs,
            ..
        } => implies_no_sms_consent(lhs) || implies_no_sms_consent(rhs),
        _ => is_consent_false(cond),
    }
}

/// W0006: walks a marketing flow's steps; `guarded` is true inside a
/// consent check. An `if` that leaves the flow when consent is missing
/// (`if not profile.sms_consent { exit }`) guards the steps after it.
fn sms_consent(file: FileId, block: &Block, guarded: bool, out: &mut Vec<Diagnostic>) {
    let mut guarded = guarded;
    for step in &block.steps {
        match &step.kind {
            StepKind::Send {
                channel: Channel::Sms,
                template,
                ..
            } if !guarded => {
                out.push(
                    Diagnostic::new(
                        Code::SmsWithoutConsentCheck,
                        file,
                        step.span,
                        format!(
                            "marketing SMS `{}` is sent without checking `profile.sms_consent`",
                            template.name
                        ),
                    )
                    .with_help("wrap the send in `if profile.sms_consent { ... }`"),
                );
            }
            StepKind::If {
                branches,
                else_block,
            } => {
                // A branch runs only when every earlier condition was false:
                // after `if not profile.sms_consent { .. }`, later branches
                // and `else` know the profile consented.
                let mut negated = false;
                for (cond, body) in branches {
                    sms_consent(
                        file,
                        body,
                        guarded || negated || implies_sms_consent(cond),
                        out,
                    );
                    negated |= implies_no_sms_consent(cond);
                }
                if let Some(e) = else_block {
                    sms_consent(file, e, guarded || negated, out);
                }
                if let Some((cond, body)) = branches.first()
                    && branches.len() == 1
                    && implies_no_sms_consent(cond)
                    && block_always_exits(body)
                {
                    guarded = true;
                }
            }
            _ => {
                for child in walk::child_blocks(step) {
                    sms_consent(file, child, guarded, out);
                }
            }
        }
    }
}

// ---- W0008 history windows --------------------------------------------------

fn history_warning(file: FileId, span: Span, what: &str, secs: i64, policy: &Policy) -> Diagnostic {
    Diagnostic::new(
        Code::WindowExceedsHistory,
        file,
        span,
        format!(
            "{what} looks back {}, but the project keeps only {} of event history",
            format_duration(secs),
            format_duration(policy.keep_history_secs)
        ),
    )
    .with_help(format!(
        "shorten the window or raise `keep history` to at least {}",
        format_duration(secs)
    ))
}

/// W0008 for `within:` arguments of aggregates anywhere in the file.
fn history_windows(file: FileId, ast: &File, policy: &Policy, out: &mut Vec<Diagnostic>) {
    walk::walk_file_exprs(ast, &mut |e| {
        if let ExprKind::Call { callee, args } = &e.kind {
            for a in args {
                if a.name.as_ref().is_some_and(|n| n.name == "within")
                    && let Some(secs) = const_duration(&a.value)
                    && secs > policy.keep_history_secs
                {
                    let what = format!("`{}`", callee.name);
                    out.push(history_warning(file, a.value.span, &what, secs, policy));
                }
            }
        }
    });
}

/// W0008 for `when inactive "E" for d`: telling silence from forgetting
/// needs the last event of the whole period.
fn inactive_window(file: FileId, flow: &FlowDecl, policy: &Policy, out: &mut Vec<Diagnostic>) {
    for s in &flow.settings {
        if let FlowSettingKind::Trigger(t) = &s.kind
            && let TriggerKind::Inactive { duration, .. } = &t.kind
            && let Some(secs) = const_duration(duration)
            && secs > policy.keep_history_secs
        {
            out.push(history_warning(
                file,
                duration.span,
                "this inactivity trigger",
                secs,
                policy,
            ));
        }
    }
}

// ---- W0009 postal address ---------------------------------------------------

fn is_shop_address(e: &Expr) -> bool {
    matches!(&e.kind,
        ExprKind::Field { base, field } | ExprKind::OptionalField { base, field }
            if field.name == "address"
            && matches!(&rules::strip_parens(base).kind, ExprKind::Name(n) if n.name == "shop"))
}

/// W0009: each body part (`text`, `html`) of a marketing email must show
/// `{{ shop.address }}` (a reader sees one of the two).
fn postal_address(
    file: FileId,
    t: &TemplateDecl,
    template_text: &TemplateTextLookup<'_>,
    send_file: FileId,
    send_span: Span,
    out: &mut Vec<Diagnostic>,
) {
    for part in &t.parts {
        let key = part.key.name.as_str();
        if key != "text" && key != "html" {
            continue;
        }
        let Some(text) = rules::part_text(&part.value, template_text) else {
            continue;
        };
        if walk::text_mentions(text, &is_shop_address) {
            continue;
        }
        out.push(
            Diagnostic::new(
                Code::EmailWithoutAddress,
                file,
                part.key.span,
                format!(
                    "the `{key}` part of marketing email `{}` does not show the shop's postal address",
                    t.name.name
                ),
            )
            .with_secondary(send_file, send_span, "sent by a marketing flow here")
            .with_help("add `{{ shop.address }}` (CAN-SPAM requires a postal address in marketing email)"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::{Arg, FieldDecl, TextNode, TimeOfDay, TypeExpr, TypeExprKind, WaitUntil};
    use crate::policy::QuietHours;
    use crate::rules::build::*;

    fn run_with(items: Vec<Item>, policy: &Policy, manifest: &Manifest) -> Vec<Diagnostic> {
        let f = file(items);
        let files = [(FileId(1), &f)];
        let project = ProjectDecls::from_files(&files);
        lint_file_with(&project, policy, manifest, FileId(1), &f, &|_| None)
    }

    fn run(items: Vec<Item>) -> Vec<Diagnostic> {
        run_with(items, &Policy::default(), &Manifest::default())
    }

    fn codes(d: &[Diagnostic]) -> Vec<&'static str> {
        d.iter().map(|d| d.code.as_str()).collect()
    }

    fn flow_item(steps: Vec<Step>) -> Item {
        Item::Flow(flow("f", vec![trigger("Signed Up", None, 1)], steps))
    }

    fn consent() -> Expr {
        field(var("profile", 0), "sms_consent", 0)
    }

    #[test]
    fn unreachable_after_exit_and_exiting_branches() {
        let exit = || step(StepKind::Exit, 5);
        let d = run(vec![flow_item(vec![
            exit(),
            send(Channel::Push, "t", 7),
            exit(),
        ])]);
        assert_eq!(codes(&d), ["W0001"]);
        assert_eq!(d[0].primary.span, sp(7));
        let both = if_step(var("x", 0), vec![exit()], Some(vec![exit()]), 3);
        let d = run(vec![flow_item(vec![both, send(Channel::Push, "t", 9)])]);
        assert_eq!(codes(&d), ["W0001"]);
        let one = if_step(var("x", 0), vec![exit()], None, 3);
        assert!(run(vec![flow_item(vec![one, send(Channel::Push, "t", 9)])]).is_empty());
    }

    #[test]
    fn sms_consent_guards() {
        let sms = |at| send(Channel::Sms, "t", at);
        // unguarded
        assert_eq!(codes(&run(vec![flow_item(vec![sms(3)])])), ["W0006"]);
        // if profile.sms_consent / == true / inside `and`
        for cond in [
            consent(),
            bin(BinaryOp::Eq, consent(), lit(Lit::Bool(true), 0), 0),
            bin(BinaryOp::And, var("x", 0), consent(), 0),
        ] {
            let d = run(vec![flow_item(vec![if_step(cond, vec![sms(3)], None, 2)])]);
            assert!(d.is_empty(), "{d:?}");
        }
        // `or` does not guard; the else branch of a consent check does not either
        let or = bin(BinaryOp::Or, var("x", 0), consent(), 0);
        let d = run(vec![flow_item(vec![if_step(or, vec![sms(3)], None, 2)])]);
        assert_eq!(codes(&d), ["W0006"]);
        let d = run(vec![flow_item(vec![if_step(
            consent(),
            vec![],
            Some(vec![sms(4)]),
            2,
        )])]);
        assert_eq!(codes(&d), ["W0006"]);
        // early exit without consent guards what follows
        let early = if_step(not(consent(), 0), vec![step(StepKind::Exit, 0)], None, 2);
        assert!(run(vec![flow_item(vec![early, sms(5)])]).is_empty());
        // transactional flows are not linted
        let tx = Item::Flow(flow(
            "f",
            vec![
                trigger("A", None, 1),
                setting(FlowSettingKind::Category(Category::Transactional, sp(2)), 2),
            ],
            vec![sms(3)],
        ));
        assert!(run(vec![tx]).is_empty());
    }

    fn call_within(secs: i64) -> Expr {
        expr(
            ExprKind::Call {
                callee: ident("count", 0),
                args: vec![
                    Arg {
                        name: None,
                        value: string("Order Completed", 0),
                    },
                    Arg {
                        name: Some(ident("within", 0)),
                        value: dur(secs, 9),
                    },
                ],
            },
            0,
        )
    }

    #[test]
    fn history_window() {
        let seg = |secs| Item::Segment(segment("s", call_within(secs), 1));
        assert!(run(vec![seg(400 * 86_400)]).is_empty());
        let d = run(vec![seg(401 * 86_400)]);
        assert_eq!(codes(&d), ["W0008"]);
        assert_eq!(d[0].primary.span, sp(9));
        assert!(d[0].message.contains("looks back 401d"));
        let policy = Policy {
            keep_history_secs: 1000 * 86_400,
            ..Policy::default()
        };
        assert!(run_with(vec![seg(401 * 86_400)], &policy, &Manifest::default()).is_empty());
    }

    #[test]
    fn email_address_and_sms_wording_only_for_marketing_templates() {
        let address = hole(field(var("shop", 0), "address", 0), &[]);
        let unsub = hole(var("unsubscribe_url", 0), &[]);
        let email = |nodes: &[TextNode]| {
            Item::Template(template(
                Channel::Email,
                "e",
                vec![("subject", text(&[])), ("text", text(nodes))],
                10,
            ))
        };
        let sender = flow_item(vec![send(Channel::Email, "e", 3)]);
        let d = run(vec![email(std::slice::from_ref(&unsub)), sender.clone()]);
        assert_eq!(codes(&d), ["W0009"]);
        assert_eq!(d[0].primary.span, sp(12));
        assert!(run(vec![email(&[unsub, address]), sender]).is_empty());
        assert!(run(vec![email(&[lit_node("x")])]).is_empty());

        let sms = |s: &str| {
            Item::Template(template(
                Channel::Sms,
                "s",
                vec![("body", text(&[lit_node(s)]))],
                10,
            ))
        };
        let guarded = flow_item(vec![if_step(
            consent(),
            vec![send(Channel::Sms, "s", 3)],
            None,
            2,
        )]);
        assert_eq!(codes(&run(vec![sms("Sale!"), guarded.clone()])), ["W0002"]);
        for ok in [
            "Reply STOP to end",
            "stop: reply",
            "Opt-out: reply X",
            "To opt out, reply",
        ] {
            assert!(run(vec![sms(ok), guarded.clone()]).is_empty(), "{ok}");
        }
        // "stop" inside another word is not opt-out wording
        assert_eq!(codes(&run(vec![sms("Nonstop deals"), guarded])), ["W0002"]);
    }

    #[test]
    fn sms_segments_with_hole_estimates() {
        let sms = |nodes: &[TextNode]| {
            Item::Template(template(Channel::Sms, "s", vec![("body", text(nodes))], 10))
        };
        // 150 literal + 10 for an unknown hole = 160: one segment
        let d = run(vec![sms(&[
            lit_node(&"a".repeat(150)),
            hole(var("x", 0), &[]),
        ])]);
        assert!(d.is_empty(), "{d:?}");
        // 150 + 23 for a short link = 173: two segments
        let link = hole(field(var("shop", 0), "url", 0), &[("short_link", vec![])]);
        let d = run(vec![sms(&[lit_node(&"a".repeat(150)), link])]);
        assert_eq!(codes(&d), ["W0003"]);
        assert!(
            d[0].message
                .contains("about 2 segments (GSM-7, 173 characters"),
            "{}",
            d[0].message
        );
        // truncate(n) bounds the estimate; shop.name uses the manifest
        let name = hole(
            field(var("shop", 0), "name", 0),
            &[("truncate", vec![lit(Lit::Int(5), 0)])],
        );
        assert!(run(vec![sms(&[lit_node(&"a".repeat(155)), name.clone()])]).is_empty());
        let mut manifest = Manifest::default();
        manifest.shop.name = Some("A Very Long Shop Name Indeed".into());
        let plain_name = hole(field(var("shop", 0), "name", 0), &[]);
        let d = run_with(
            vec![sms(&[lit_node(&"a".repeat(140)), plain_name])],
            &Policy::default(),
            &manifest,
        );
        assert_eq!(codes(&d), ["W0003"]);
        // one curly quote switches to UCS-2 and is named
        let d = run(vec![sms(&[lit_node(&format!("it’s {}", "a".repeat(70)))])]);
        assert_eq!(codes(&d), ["W0003"]);
        assert!(
            d[0].message.contains("UCS-2 because of '’' (U+2019)"),
            "{}",
            d[0].message
        );
        // {% if %} counts its longest branch
        let cond = TextNode::If {
            branches: vec![(var("x", 0), text(&[lit_node(&"b".repeat(30))]))],
            else_branch: Some(text(&[lit_node("c")])),
            span: Span::default(),
        };
        let d = run(vec![sms(&[lit_node(&"a".repeat(140)), cond])]);
        assert_eq!(codes(&d), ["W0003"]);
    }

    fn union_event() -> Item {
        Item::Event(ast::EventDecl {
            extend: false,
            name: name("Parcel", 0),
            fields: vec![FieldDecl {
                name: ident("status", 0),
                ty: TypeExpr {
                    kind: TypeExprKind::Optional(Box::new(TypeExpr {
                        kind: TypeExprKind::Union(vec![name("sent", 0), name("delivered", 0)]),
                        span: Span::default(),
                    })),
                    span: Span::default(),
                },
                doc: None,
                span: Span::default(),
            }],
            doc: None,
            span: Span::default(),
        })
    }

    fn exit_when(binding: Option<&str>, cond: Expr) -> Item {
        Item::Flow(flow(
            "f",
            vec![
                trigger("Parcel", Some("p"), 1),
                setting(
                    FlowSettingKind::ExitWhen(event_match("Parcel", binding, Some(cond))),
                    2,
                ),
            ],
            vec![],
        ))
    }

    #[test]
    fn never_matching_conditions() {
        let status = |base: &str| field(var(base, 0), "status", 0);
        let eq = |l: Expr, s: &str, at| bin(BinaryOp::Eq, l, string(s, at), at);
        // a value outside the union, via `it`, the `as` name and the trigger binding
        for base in ["it", "p"] {
            let d = run(vec![
                union_event(),
                exit_when(None, eq(status(base), "lost", 7)),
            ]);
            assert_eq!(codes(&d), ["W0005"], "{base}");
            assert_eq!(d[0].primary.span, sp(7));
        }
        let d = run(vec![
            union_event(),
            exit_when(Some("x"), eq(status("x"), "lost", 7)),
        ]);
        assert_eq!(codes(&d), ["W0005"]);
        assert!(
            run(vec![
                union_event(),
                exit_when(None, eq(status("it"), "sent", 7))
            ])
            .is_empty()
        );
        // contradiction
        let both = bin(
            BinaryOp::And,
            eq(status("it"), "sent", 3),
            eq(status("it"), "delivered", 4),
            5,
        );
        assert_eq!(
            codes(&run(vec![union_event(), exit_when(None, both)])),
            ["W0005"]
        );
        // `or` is fine
        let either = bin(
            BinaryOp::Or,
            eq(status("it"), "sent", 3),
            eq(status("it"), "delivered", 4),
            5,
        );
        assert!(run(vec![union_event(), exit_when(None, either)]).is_empty());
        // constant false
        let f = not(lit(Lit::Bool(true), 0), 6);
        assert_eq!(
            codes(&run(vec![union_event(), exit_when(None, f)])),
            ["W0005"]
        );
        let strings = eq(string("a", 0), "b", 6);
        assert_eq!(
            codes(&run(vec![union_event(), exit_when(None, strings)])),
            ["W0005"]
        );
    }

    #[test]
    fn wait_until_inside_quiet_hours() {
        let until = |hour| {
            step(
                StepKind::WaitUntil(WaitUntil::TimeOfDay {
                    weekday: None,
                    time: TimeOfDay {
                        hour,
                        minute: 0,
                        local: true,
                        span: sp(8),
                    },
                }),
                8,
            )
        };
        let mut policy = Policy::default();
        policy.sms.quiet_hours = Some(QuietHours {
            from_minute: 21 * 60,
            to_minute: 9 * 60,
        });
        let guarded = |steps| if_step(consent(), steps, None, 2);
        let lint = |steps| run_with(vec![flow_item(steps)], &policy, &Manifest::default());
        let d = lint(vec![until(22), guarded(vec![send(Channel::Sms, "s", 3)])]);
        assert_eq!(codes(&d), ["W0007"]);
        assert_eq!(d[0].primary.span, sp(8));
        assert!(
            d[0].message.contains("(21:00 to 09:00)"),
            "{}",
            d[0].message
        );
        assert!(lint(vec![until(10), guarded(vec![send(Channel::Sms, "s", 3)])]).is_empty());
        // email has no quiet hours here
        assert!(lint(vec![until(22), send(Channel::Email, "e", 3)]).is_empty());
        // a date trigger's `at` time counts too
        let birthday = Item::Flow(flow(
            "b",
            vec![setting(
                FlowSettingKind::Trigger(ast::Trigger {
                    kind: TriggerKind::Date {
                        date: field(var("profile", 0), "birthday", 0),
                        at: Some(TimeOfDay {
                            hour: 23,
                            minute: 30,
                            local: true,
                            span: sp(4),
                        }),
                    },
                    span: sp(1),
                }),
                1,
            )],
            vec![guarded(vec![send(Channel::Sms, "s", 3)])],
        ));
        let d = run_with(vec![birthday], &policy, &Manifest::default());
        assert_eq!(codes(&d), ["W0007"]);
        assert!(
            d[0].message.starts_with("`at 23:30` lands"),
            "{}",
            d[0].message
        );
        // a wait in between moves the send out of "right after"
        let later = step(StepKind::Wait(dur(12 * 3600, 0)), 4);
        assert!(
            lint(vec![
                until(22),
                later,
                guarded(vec![send(Channel::Sms, "s", 3)])
            ])
            .is_empty()
        );
    }
}
