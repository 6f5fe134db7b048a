//! Unit tests of the type checker over hand-built syntax trees (the `.flow`
//! cases in `tests/cases/names/` and `tests/cases/types/` test it through
//! the parser).

use super::check_file;
use crate::ast::*;
use crate::diagnostic::Diagnostic;
use crate::resolve::ProjectIndex;
use crate::rules::build::*;
use crate::span::{FileId, Span};
use rust_decimal::Decimal;

fn ty(kind: TypeExprKind) -> TypeExpr {
    TypeExpr {
        kind,
        span: Span::default(),
    }
}

fn named(n: &str) -> TypeExpr {
    ty(TypeExprKind::Named(ident(n, 0)))
}

fn opt(t: TypeExpr) -> TypeExpr {
    ty(TypeExprKind::Optional(Box::new(t)))
}

fn field_decl(n: &str, t: TypeExpr) -> FieldDecl {
    FieldDecl {
        name: ident(n, 0),
        ty: t,
        doc: None,
        span: Span::default(),
    }
}

/// The declarations every test sees: an event, a profile and a segment.
fn prelude() -> Vec<Item> {
    vec![
        Item::Event(EventDecl {
            extend: false,
            name: name("Checkout Started", 0),
            fields: vec![
                field_decl("value", named("money")),
                field_decl("checkout_url", opt(named("url"))),
            ],
            doc: None,
            span: Span::default(),
        }),
        Item::Profile(ProfileDecl {
            fields: vec![
                field_decl("first_name", opt(named("string"))),
                field_decl("sms_consent", named("bool")),
                field_decl(
                    "tier",
                    ty(TypeExprKind::Union(vec![
                        name("bronze", 0),
                        name("silver", 0),
                        name("gold", 0),
                    ])),
                ),
            ],
            span: Span::default(),
        }),
        Item::Segment(segment("vip", lit(Lit::Bool(true), 0), 0)),
    ]
}

fn check(items: Vec<Item>) -> Vec<Diagnostic> {
    let std = file(prelude());
    let f = file(items);
    let files = [(FileId(0), &std), (FileId(1), &f)];
    let (index, d) = ProjectIndex::build(&files);
    assert!(d.is_empty(), "{d:?}");
    check_file(&index, FileId(1), &f, &|_| None)
}

fn codes(d: &[Diagnostic]) -> Vec<&'static str> {
    d.iter().map(|d| d.code.as_str()).collect()
}

fn usd(n: i64, at: u32) -> Expr {
    lit(
        Lit::Money {
            amount: Decimal::from(n),
            currency: "USD".into(),
        },
        at,
    )
}

fn eur(n: i64, at: u32) -> Expr {
    lit(
        Lit::Money {
            amount: Decimal::from(n),
            currency: "EUR".into(),
        },
        at,
    )
}

fn none(at: u32) -> Expr {
    lit(Lit::None, at)
}

fn flow_with(trigger_binding: Option<&str>, steps: Vec<Step>) -> Item {
    Item::Flow(flow(
        "f",
        vec![trigger("Checkout Started", trigger_binding, 1)],
        steps,
    ))
}

fn sms(parts: Vec<TextNode>) -> Item {
    Item::Template(template(Channel::Sms, "t", vec![("body", text(&parts))], 0))
}

fn profile(f: &str, at: u32) -> Expr {
    field(var("profile", at), f, at)
}

#[test]
fn conditions_must_be_bool() {
    let d = check(vec![flow_with(
        Some("c"),
        vec![if_step(field(var("c", 10), "value", 11), vec![], None, 9)],
    )]);
    assert_eq!(codes(&d), ["E0201"]);
    assert!(d[0].message.contains("`money`"), "{}", d[0].message);
}

#[test]
fn unknown_names_suggest() {
    let d = check(vec![flow_with(
        Some("checkout"),
        vec![if_step(
            bin(
                BinaryOp::Ge,
                field(var("checkot", 10), "value", 11),
                usd(20, 12),
                12,
            ),
            vec![],
            None,
            9,
        )],
    )]);
    assert_eq!(codes(&d), ["E0106"]);
    assert_eq!(d[0].help.as_deref(), Some("did you mean `checkout`?"));
}

#[test]
fn unknown_field_trait_segment_template() {
    let d = check(vec![flow_with(
        Some("c"),
        vec![
            if_step(
                bin(
                    BinaryOp::Ge,
                    field(var("c", 10), "valeu", 11),
                    usd(1, 12),
                    12,
                ),
                vec![],
                None,
                9,
            ),
            if_step(profile("sms_consnt", 20), vec![], None, 19),
            if_step(
                bin(BinaryOp::In, var("profile", 30), var("vipp", 31), 30),
                vec![],
                None,
                29,
            ),
            send(Channel::Email, "nope", 40),
        ],
    )]);
    assert_eq!(codes(&d), ["E0102", "E0103", "E0105", "E0104"]);
    assert_eq!(d[0].help.as_deref(), Some("did you mean `value`?"));
    assert_eq!(d[1].help.as_deref(), Some("did you mean `sms_consent`?"));
    assert_eq!(d[2].help.as_deref(), Some("did you mean `vip`?"));
}

#[test]
fn optional_in_hole_needs_default_or_guard() {
    // {{ profile.first_name }}
    let d = check(vec![sms(vec![hole(profile("first_name", 5), &[])])]);
    assert_eq!(codes(&d), ["E0203"]);
    // {{ profile.first_name ?? "there" }}
    let d = check(vec![sms(vec![hole(
        bin(
            BinaryOp::Default,
            profile("first_name", 5),
            string("there", 6),
            6,
        ),
        &[],
    )])]);
    assert!(d.is_empty(), "{d:?}");
    // {% if profile.first_name != none %}{{ profile.first_name }}{% else %}{{ profile.first_name }}{% endif %}
    let guarded = TextNode::If {
        branches: vec![(
            bin(BinaryOp::Ne, profile("first_name", 5), none(6), 6),
            text(&[hole(profile("first_name", 7), &[])]),
        )],
        else_branch: Some(text(&[hole(profile("first_name", 8), &[])])),
        span: Span::default(),
    };
    let d = check(vec![sms(vec![guarded])]);
    assert_eq!(codes(&d), ["E0203"]);
    assert_eq!(d[0].primary.span, sp(8));
}

#[test]
fn narrowing_in_and_and_else() {
    let url = || field(var("c", 10), "checkout_url", 10);
    // c.checkout_url != none and c.checkout_url == "x"   → fine
    let ok = bin(
        BinaryOp::And,
        bin(BinaryOp::Ne, url(), none(11), 11),
        bin(BinaryOp::Eq, url(), string("x", 12), 12),
        11,
    );
    // c.checkout_url == none or c.checkout_url == "x"    → fine (or narrows on false)
    let ok_or = bin(
        BinaryOp::Or,
        bin(BinaryOp::Eq, url(), none(11), 11),
        bin(BinaryOp::Eq, url(), string("x", 12), 12),
        11,
    );
    // c.checkout_url == "x" → fine: a missing url equals no string
    // c.checkout_url == c.checkout_url → E0203 (two missing values)
    let fine = bin(BinaryOp::Eq, url(), string("x", 13), 13);
    let bad = bin(BinaryOp::Eq, url(), url(), 13);
    let d = check(vec![flow_with(
        Some("c"),
        vec![
            if_step(ok, vec![], None, 1),
            if_step(ok_or, vec![], None, 2),
            if_step(fine, vec![], None, 3),
            if_step(bad, vec![], None, 4),
        ],
    )]);
    assert_eq!(codes(&d), ["E0203"]);
}

#[test]
fn mixed_currencies() {
    let d = check(vec![flow_with(
        Some("c"),
        vec![
            if_step(
                bin(
                    BinaryOp::Gt,
                    bin(BinaryOp::Add, usd(20, 10), eur(5, 11), 12),
                    usd(1, 13),
                    13,
                ),
                vec![],
                None,
                1,
            ),
            // revenue of unknown currency compares with anything
            if_step(
                bin(
                    BinaryOp::Ge,
                    field(var("c", 20), "value", 20),
                    eur(5, 21),
                    21,
                ),
                vec![],
                None,
                2,
            ),
        ],
    )]);
    assert_eq!(codes(&d), ["E0204"]);
    assert_eq!(d[0].primary.span, sp(12));
}

#[test]
fn match_must_be_exhaustive() {
    let arm = |lits: &[&str]| MatchArm {
        pattern: Pattern::Literals(lits.iter().map(|l| name(l, 50)).collect()),
        body: block(vec![]),
        span: Span::default(),
    };
    let m = |arms| {
        step(
            StepKind::Match {
                scrutinee: profile("tier", 41),
                arms,
            },
            40,
        )
    };
    let d = check(vec![flow_with(
        None,
        vec![
            m(vec![arm(&["gold"]), arm(&["silver"])]),
            m(vec![arm(&["gold", "silver", "bronze"])]),
            m(vec![
                arm(&["platinum"]),
                arm(&["gold"]),
                MatchArm {
                    pattern: Pattern::Wildcard(Span::default()),
                    body: block(vec![]),
                    span: Span::default(),
                },
            ]),
        ],
    )]);
    assert_eq!(codes(&d), ["E0205", "E0201"]);
    assert!(d[0].message.contains("\"bronze\""), "{}", d[0].message);
}

#[test]
fn set_targets_and_values() {
    let set = |target, value, at| step(StepKind::Set { target, value }, at);
    let d = check(vec![flow_with(
        Some("c"),
        vec![
            set(profile("tier", 10), string("gold", 11), 10),
            set(profile("tier", 20), string("platinum", 21), 20),
            set(field(var("c", 30), "value", 30), usd(1, 31), 30),
            set(profile("sms_consent", 40), lit(Lit::Int(1), 41), 40),
        ],
    )]);
    assert_eq!(codes(&d), ["E0201", "E0207", "E0201"]);
}

#[test]
fn send_arguments_are_checked() {
    let tpl = Item::Template(TemplateDecl {
        channel: Channel::Email,
        channel_span: Span::default(),
        name: ident("cart", 0),
        params: vec![Param {
            name: ident("c", 0),
            ty: ty(TypeExprKind::Event(name("Checkout Started", 0))),
            span: Span::default(),
        }],
        parts: vec![],
        span: Span::default(),
    });
    let send_args = |args: Vec<Expr>, at| {
        step(
            StepKind::Send {
                channel: Channel::Email,
                template: ident("cart", at),
                args,
            },
            at,
        )
    };
    let d = check(vec![
        tpl,
        flow_with(
            Some("c"),
            vec![
                send_args(vec![var("c", 11)], 10),
                send_args(vec![], 20),
                send_args(vec![lit(Lit::Int(3), 31)], 30),
                step(
                    StepKind::Send {
                        channel: Channel::Sms,
                        template: ident("cart", 40),
                        args: vec![],
                    },
                    40,
                ),
            ],
        ),
    ]);
    assert_eq!(codes(&d), ["E0202", "E0202", "E0104"]);
    assert_eq!(d[1].primary.span, sp(31));
}

#[test]
fn errors_do_not_cascade() {
    // (nope + 1) > 2 USD and nope.x: one E0106 per unknown name only.
    let d = check(vec![flow_with(
        None,
        vec![if_step(
            bin(
                BinaryOp::And,
                bin(
                    BinaryOp::Gt,
                    bin(BinaryOp::Add, var("nope", 10), lit(Lit::Int(1), 11), 11),
                    usd(2, 12),
                    12,
                ),
                field(var("nope2", 13), "x", 13),
                14,
            ),
            vec![],
            None,
            1,
        )],
    )]);
    assert_eq!(codes(&d), ["E0106", "E0106"]);
}

#[test]
fn template_part_keys_and_filters() {
    let t = Item::Template(template(
        Channel::Sms,
        "t",
        vec![
            ("bdy", text(&[])),
            (
                "body",
                text(&[
                    hole(var("shop", 5), &[]),
                    hole(field(var("shop", 6), "name", 6), &[("uper", vec![])]),
                    hole(field(var("shop", 7), "name", 7), &[("upper", vec![])]),
                    hole(var("unsubscribe_url", 8), &[]),
                ]),
            ),
        ],
        0,
    ));
    let d = check(vec![t]);
    assert_eq!(codes(&d), ["E0106", "E0201", "E0108"]);
    assert_eq!(d[0].help.as_deref(), Some("did you mean `body`?"));
    assert_eq!(d[2].help.as_deref(), Some("did you mean `upper`?"));
}

/// Checks `src` (one project file) after a small prelude file; returns
/// `CODE line:col` of every diagnostic of the project file, in order.
fn check_src(src: &str) -> Vec<String> {
    check_src_with(src, &[])
}

fn check_src_with(src: &str, template_files: &[(&str, &str)]) -> Vec<String> {
    let prelude = r#"
event "Order Placed" {
  order_id: string
  total: money
  coupon: string?
  placed_at: timestamp
  items: list<Item>
  channel: "web" | "app" | "store"
}
type Item { name: string  price: money?  qty: int }
profile {
  first_name: string?
  vip_since: date?
  points: int
  level: "a" | "b"
}
segment loyal "Ordered often" = count("Order Placed", within: 90d) >= 3
"#;
    let std = crate::parser::parse_file(prelude, FileId(0));
    assert!(std.diagnostics.is_empty(), "{:?}", std.diagnostics);
    let f = crate::parser::parse_file(src, FileId(1));
    assert!(f.diagnostics.is_empty(), "{:?}", f.diagnostics);
    let files = [(FileId(0), &std.file), (FileId(1), &f.file)];
    let (index, mut d) = ProjectIndex::build(&files);
    let texts: Vec<(String, Text)> = template_files
        .iter()
        .map(|(p, t)| {
            let (text, _) = crate::parser::parse_template_text(t, FileId(2));
            (p.to_string(), text)
        })
        .collect();
    let lookup = |p: &str| texts.iter().find(|(q, _)| q == p).map(|(_, t)| t);
    d.extend(check_file(&index, FileId(1), &f.file, &lookup));
    let lines = crate::span::LineIndex::new(src);
    d.iter()
        .map(|d| {
            assert!(d.help.is_some(), "no help: {d:?}");
            let (l, c) = lines.line_col(src, d.primary.span.start);
            format!("{} {l}:{c}", d.code.as_str())
        })
        .collect()
}

#[test]
fn parsed_narrowing_in_else_if_chains_and_templates() {
    let src = r#"
template sms hi(o: "Order Placed") {
  body "{% if o.coupon == none %}no{% else if o.coupon == "X" %}{{ o.coupon }}{% else %}{{ o.coupon | upper }}{% endif %} {{ o.coupon }}"
}
flow f {
  category transactional
  when "Order Placed" as o
  if o.coupon == none { exit } else if o.coupon == "SAVE" { send sms hi(o) }
  if not (o.coupon == none) and o.coupon + "!" == "SAVE!" { exit }
}
"#;
    // Only the last hole of the body is unguarded.
    assert_eq!(check_src(src), ["E0203 3:126"]);
}

#[test]
fn parsed_lambda_parameters_hide_narrowing() {
    let src = r#"
flow f {
  category transactional
  when "Order Placed" as o
  if o.coupon != none and o.items.any(o => o.qty > 1) and o.coupon == "A" { exit }
  if o.items.any(i => i.price != none and i.price > 5 USD) { exit }
  if o.items.all(i => i.price > 5 USD) { exit }
}
"#;
    assert_eq!(check_src(src), ["E0203 7:23"]);
}

#[test]
fn parsed_aggregates_and_list_methods() {
    let src = r#"
segment big "Spent a lot" = sum("Order Placed".total, within: 365d) >= 500 USD
segment recent "Recent" = days_since(last("Order Placed")?.placed_at ?? now) < 30
segment app "Used the app" = (last("Order Placed".channel) ?? "web") == "app"
segment typo "Typo" = count("Order Place", within: 30d) > 1
segment many "Big baskets" = (first("Order Placed")?.items ?? []).count() > 3
flow f {
  category transactional
  when "Order Placed" as o
  if o.items.map(i => i.qty).sum() > 10 and (o.items.first()?.name ?? "") == "Tent" { exit }
  if o.items.sum(i => i.price ?? 0 USD) > 10 EUR { exit }
}
"#;
    assert_eq!(check_src(src), ["E0101 5:29"]);
}

#[test]
fn parsed_time_arithmetic_and_date_triggers() {
    let src = r#"
flow birthday {
  category transactional
  when date profile.vip_since at 10:00 local
  if age(profile.vip_since ?? 2020-01-01) >= 1 and now - 1d > now - 2w { exit }
}
flow later {
  category transactional
  when date profile.points
  exit
}
flow inactive {
  category transactional
  when inactive "Order Placd" for 90d
  wait until now + 1d
  wait 1d * 2 + 3h
}
"#;
    assert_eq!(check_src(src), ["E0201 9:13", "E0101 14:17"]);
}

#[test]
fn parsed_template_files_are_checked_at_their_path() {
    let src = r#"
template email news(o: "Order Placed") {
  subject "News"
  html file "templates/news.html"
  text "{{ unsubscribe_url }} {{ shop.address }}"
}
"#;
    let html = "<p>{{ o.coupon }}</p>{% for i in o.items %}{{ i.name }}{% endfor %}";
    assert_eq!(
        check_src_with(src, &[("templates/news.html", html)]),
        ["E0203 4:13"]
    );
}

#[test]
fn parsed_unions_in_equality_lists_and_defaults() {
    let src = r#"
flow f {
  category transactional
  when "Order Placed" as o where o.channel in ["web", "ap"]
  if profile.level == "c" or profile.level != "b" { exit }
  if o.channel in ["web", "app"] and "kiosk" == o.channel { exit }
}
"#;
    assert_eq!(check_src(src), ["E0201 4:55", "E0201 5:23", "E0201 6:38"]);
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Sources that exercise most of the checker: the shop example's flows.
    const EXAMPLES: &[&str] = &[
        include_str!("../../../examples/shop/flows/abandoned_checkout.flow"),
        include_str!("../../../examples/shop/flows/post_purchase.flow"),
        include_str!("../../../examples/shop/flows/vip.flow"),
        include_str!("../../../examples/shop/flows/welcome.flow"),
    ];

    /// Parses the stdlib and `src` and checks `src`; spans must lie in it.
    fn check_damaged(src: &str) -> Result<(), TestCaseError> {
        let mut parsed: Vec<crate::parser::Parsed> = nudge_stdlib::FILES
            .iter()
            .enumerate()
            .map(|(i, (_, text))| crate::parser::parse_file(text, FileId(i as u32)))
            .collect();
        let id = FileId(parsed.len() as u32);
        parsed.push(crate::parser::parse_file(src, id));
        let files: Vec<(FileId, &File)> = parsed
            .iter()
            .enumerate()
            .map(|(i, p)| (FileId(i as u32), &p.file))
            .collect();
        let (index, _) = ProjectIndex::build(&files);
        if let Some((_, f)) = files.last() {
            for d in check_file(&index, id, f, &|_| None) {
                prop_assert!(d.primary.file == id);
                prop_assert!(d.primary.span.end as usize <= src.len());
                prop_assert!(d.help.is_some());
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Damaged flows (a piece cut out, some text put in) give
        /// diagnostics, never a panic.
        #[test]
        fn damaged_sources_never_panic(
            which in 0usize..4,
            cut_at in 0usize..4000,
            cut_len in 0usize..40,
            insert in "[a-z_.?!=<>+*/()\\[\\]{} \"0-9%\n]{0,12}",
        ) {
            let src = EXAMPLES.get(which).copied().unwrap_or_default();
            let boundary = |i: usize| (0..=i.min(src.len())).rev().find(|j| src.is_char_boundary(*j)).unwrap_or(0);
            let start = boundary(cut_at);
            let end = boundary(start + cut_len).max(start);
            let damaged = format!("{}{}{}", &src[..start], insert, &src[end..]);
            check_damaged(&damaged)?;
        }
    }
}

#[test]
fn template_file_problems_can_be_reported_in_the_file() {
    let src = r#"
event "Order Placed" { coupon: string? }
template email news(o: "Order Placed") {
  subject "News"
  html file "templates/news.html"
  text "{{ unsubscribe_url }} {{ shop.address }}"
}
"#;
    let f = crate::parser::parse_file(src, FileId(1));
    let files = [(FileId(1), &f.file)];
    let (index, _) = ProjectIndex::build(&files);
    let html = "<p>{{ o.coupon }}</p>";
    let (text, _) = crate::parser::parse_template_text(html, FileId(7));
    let d = super::check_file_with_template_files(&index, FileId(1), &f.file, &|p| {
        (p == "templates/news.html").then_some((FileId(7), &text))
    });
    assert_eq!(codes(&d), ["E0203"]);
    assert_eq!(d[0].primary.file, FileId(7));
    assert_eq!(d[0].primary.span.start, 6);
}

#[test]
fn unknown_template_suggests_one_of_another_channel() {
    let src = r#"
template sms last_call() {
  body "Last call"
}
flow f {
  category transactional
  when "Order Placed"
  send email last_cal()
}
"#;
    assert_eq!(check_src(src), ["E0104 8:14"]);
    let f = crate::parser::parse_file(src, FileId(1));
    let std = crate::parser::parse_file(r#"event "Order Placed" { id: string }"#, FileId(0));
    let (index, _) = ProjectIndex::build(&[(FileId(0), &std.file), (FileId(1), &f.file)]);
    let d = check_file(&index, FileId(1), &f.file, &|_| None);
    assert_eq!(
        d[0].help.as_deref(),
        Some("did you mean `last_call`? It is an SMS template: `send sms last_call(...)`")
    );
}
