//! Flows: `flow name { settings, trigger, steps }`. Settings and steps may
//! come in any order here (the checker reports a setting after a step,
//! E0309). Each setting and step commits after its keyword: if the rest is
//! broken, it is reported once and skipped to the end of the statement, and
//! the next statement parses normally.

use super::error::ParseError;
use super::expr::{ExprP, record_fields};
use super::items::CHANNELS;
use super::text::string_text;
use super::tokens::{
    Ex, In, bad_entry, close_brace, comma, docs, ident, ident_named, int_lit, kw, kw_of, lbrace,
    lparen, name_lit, not_keyword, recover_item, recover_statement, rparen, sp, statement_end,
    time_of_day, tok, unclosed,
};
use crate::ast::{
    Block, Category, EventMatch, Expr, ExprKind, FlowDecl, FlowSetting, FlowSettingKind, Item,
    MatchArm, Pattern, Reentry, SplitArm, Step, StepKind, Trigger, TriggerKind, WaitUntil, Weekday,
};
use crate::lexer::Tok;
use crate::span::{Span, Spanned};
use chumsky::prelude::*;

const STEP_WORDS: &[&str] = &[
    "send", "wait", "if", "match", "split", "set", "track", "webhook", "exit",
];
const BODY_WORDS: &[&str] = &[
    "send",
    "wait",
    "if",
    "match",
    "split",
    "set",
    "track",
    "webhook",
    "exit",
    "description",
    "category",
    "priority",
    "when",
    "reentry",
    "goal",
    "holdout",
];
const STEP_HELP: &str =
    "steps are `send`, `wait`, `if`, `match`, `split`, `set`, `track`, `webhook` and `exit`";

const WEEKDAYS: &[(&str, Weekday)] = &[
    ("monday", Weekday::Monday),
    ("tuesday", Weekday::Tuesday),
    ("wednesday", Weekday::Wednesday),
    ("thursday", Weekday::Thursday),
    ("friday", Weekday::Friday),
    ("saturday", Weekday::Saturday),
    ("sunday", Weekday::Sunday),
];

type StepP<'a> = Boxed<'a, 'a, In<'a>, Step, Ex<'a>>;

enum Entry {
    Setting(FlowSetting),
    Step(Step),
}

/// `flow name { ... }`
pub(crate) fn flow<'a>(expr: ExprP<'a>) -> impl Parser<'a, In<'a>, Item, Ex<'a>> + Clone {
    let step = step(expr.clone());
    let entry = docs().ignore_then(choice((
        setting(expr.clone(), step.clone()).map(Entry::Setting),
        step.map(Entry::Step),
        bad_entry(
            "a step such as `send`, `wait` or `if`",
            BODY_WORDS,
            "a flow holds settings (`when`, `reentry`, `exit when`, `goal`, ...) and steps (`send`, `wait`, `if`, ...)",
        )
        .map_with(|_, e| {
            Entry::Step(Step {
                kind: StepKind::Error,
                span: sp(e.span()),
            })
        }),
    )));
    let body = lbrace()
        .then(entry.repeated().collect::<Vec<_>>())
        .then_ignore(docs())
        .then(close_brace())
        .validate(|((open, entries), close), _, emitter| {
            if close.is_none() {
                emitter.emit(unclosed(open, "the flow"));
            }
            let end = close.unwrap_or_else(|| {
                entries
                    .last()
                    .map(|e| match e {
                        Entry::Setting(s) => s.span,
                        Entry::Step(s) => s.span,
                    })
                    .unwrap_or(open)
            });
            let mut settings = Vec::new();
            let mut steps = Vec::new();
            for e in entries {
                match e {
                    Entry::Setting(s) => settings.push(s),
                    Entry::Step(s) => steps.push(s),
                }
            }
            (
                settings,
                Block {
                    steps,
                    span: open.to(end),
                },
            )
        });
    let rest = ident_named("a flow name")
        .then(body)
        .map(Some)
        .map_err(|e: ParseError| e.with_help("write a flow as `flow name { when ... steps ... }`"))
        .recover_with(via_parser(recover_item()));
    kw("flow").ignore_then(rest).map_with(|r, e| {
        let span = sp(e.span());
        match r {
            Some((name, (settings, body))) => Item::Flow(FlowDecl {
                name,
                settings,
                body,
                span,
            }),
            None => Item::Error(span),
        }
    })
}

/// A `{ steps }` block inside a step.
fn block<'a>(step: StepP<'a>) -> impl Parser<'a, In<'a>, Block, Ex<'a>> + Clone {
    let entry = docs().ignore_then(choice((
        step,
        bad_entry(
            "a step such as `send`, `wait` or `if`",
            STEP_WORDS,
            STEP_HELP,
        )
        .map_with(|_, e| Step {
            kind: StepKind::Error,
            span: sp(e.span()),
        }),
    )));
    lbrace()
        .then(entry.repeated().collect::<Vec<_>>())
        .then_ignore(docs())
        .then(close_brace())
        .validate(|((open, steps), close), _, emitter| {
            if close.is_none() {
                emitter.emit(unclosed(open, "this block"));
            }
            let end = close.unwrap_or_else(|| steps.last().map_or(open, |s| s.span));
            Block {
                steps,
                span: open.to(end),
            }
        })
}

/// A statement: its keyword, then the rest committed — a broken rest is
/// reported (once, by the furthest error) and skipped, giving `None`.
fn statement<'a, O: 'a>(
    keyword: impl Parser<'a, In<'a>, Span, Ex<'a>> + Clone + 'a,
    rest: impl Parser<'a, In<'a>, O, Ex<'a>> + Clone + 'a,
    help: &'static str,
) -> impl Parser<'a, In<'a>, Option<O>, Ex<'a>> + Clone {
    keyword.ignore_then(
        rest.then_ignore(statement_end())
            .map(Some)
            .map_err(move |e: ParseError| e.with_help(help))
            .recover_with(via_parser(recover_statement())),
    )
}

fn step_of<'a, O: 'a>(
    p: impl Parser<'a, In<'a>, Option<O>, Ex<'a>> + Clone + 'a,
    f: impl Fn(O) -> StepKind + Clone + 'a,
) -> impl Parser<'a, In<'a>, Step, Ex<'a>> + Clone {
    p.map_with(move |r, e| Step {
        kind: r.map_or(StepKind::Error, &f),
        span: sp(e.span()),
    })
}

/// `"Event" [as x] [where cond]`
fn event_match<'a>(expr: ExprP<'a>) -> impl Parser<'a, In<'a>, EventMatch, Ex<'a>> + Clone {
    name_lit("an event name in quotes")
        .then(kw("as").ignore_then(ident()).or_not())
        .then(kw("where").ignore_then(expr).or_not())
        .map_with(|((event, binding), condition), e| EventMatch {
            event,
            binding,
            condition,
            span: sp(e.span()),
        })
}

fn step<'a>(expr: ExprP<'a>) -> StepP<'a> {
    recursive(move |step| {
        let step: StepP<'a> = step.boxed();
        let block = block(step).boxed();

        let send = step_of(
            statement(
                kw("send"),
                kw_of(CHANNELS, "a channel (`email`, `sms` or `push`)")
                    .then(ident_named("a template name"))
                    .then(
                        expr.clone()
                            .separated_by(comma())
                            .allow_trailing()
                            .collect::<Vec<_>>()
                            .delimited_by(lparen(), rparen())
                            .or_not(),
                    ),
                "write it as `send email template_name(arguments)`",
            ),
            |(((channel, _), template), args)| StepKind::Send {
                channel,
                template,
                args: args.unwrap_or_default(),
            },
        );

        let wait_until = kw("until").ignore_then(choice((
            kw_of(WEEKDAYS, "a weekday")
                .or_not()
                .then(time_of_day())
                .map(|(wd, time)| {
                    StepKind::WaitUntil(WaitUntil::TimeOfDay {
                        weekday: wd.map(|(w, s)| Spanned::new(w, s)),
                        time,
                    })
                }),
            expr.clone().map(|e| StepKind::WaitUntil(WaitUntil::Timestamp(e))),
        )));
        let wait_for = kw("for")
            .ignore_then(event_match(expr.clone()))
            .then(kw("within").ignore_then(expr.clone()).or_not())
            .then(block.clone().or_not())
            .then(kw("timeout").ignore_then(block.clone()).or_not())
            .map(|(((event, within), on_arrival), on_timeout)| StepKind::WaitFor {
                event,
                within,
                on_arrival,
                on_timeout,
            });
        let wait = step_of(
            statement(
                kw("wait"),
                choice((
                    wait_until,
                    wait_for,
                    not_keyword(&["until", "for"])
                        .ignore_then(expr.clone())
                        .map(StepKind::Wait),
                )),
                "write it as `wait 1h`, `wait until 10:00 local` or `wait for \"Event\" within 2d { ... }`",
            ),
            |k| k,
        );

        let if_ = step_of(
            statement(
                kw("if"),
                expr.clone()
                    .then(block.clone())
                    .then(
                        kw("else")
                            .ignore_then(kw("if"))
                            .ignore_then(expr.clone())
                            .then(block.clone())
                            .repeated()
                            .collect::<Vec<_>>(),
                    )
                    .then(kw("else").ignore_then(block.clone()).or_not()),
                "write it as `if condition { ... } else { ... }`",
            ),
            |((first, mut more), else_block)| {
                more.insert(0, first);
                StepKind::If {
                    branches: more,
                    else_block,
                }
            },
        );

        let pattern = choice((
            kw("_").map(Pattern::Wildcard),
            name_lit("a string to match")
                .separated_by(tok(Tok::Pipe, "|"))
                .at_least(1)
                .collect::<Vec<_>>()
                .map(Pattern::Literals),
        ));
        let arm = pattern
            .then(
                tok(Tok::FatArrow, "=>")
                    .ignore_then(block.clone())
                    .map(Some)
                    .map_err(|e: ParseError| e.with_help("write an arm as `\"gold\" => { ... }`"))
                    .recover_with(via_parser(recover_statement())),
            )
            .map_with(|(pattern, body), e| {
                body.map(|body| MatchArm {
                    pattern,
                    body,
                    span: sp(e.span()),
                })
            });
        let arm = docs().ignore_then(choice((
            arm,
            bad_entry(
                "a match arm such as `\"gold\" => { ... }`",
                &[],
                "write an arm as `\"gold\" => { ... }`, `\"a\" | \"b\" => { ... }` or `_ => { ... }`",
            )
            .map(|_| None),
        )));
        let arms = lbrace()
            .then(arm.repeated().collect::<Vec<_>>())
            .then(close_brace())
            .validate(|((open, arms), close), _, emitter| {
                if close.is_none() {
                    emitter.emit(unclosed(open, "the match"));
                }
                arms.into_iter().flatten().collect::<Vec<_>>()
            });
        let match_ = step_of(
            statement(
                kw("match"),
                expr.clone().then(arms),
                "write it as `match expr { \"a\" => { ... } _ => { ... } }`",
            ),
            |(scrutinee, arms)| StepKind::Match { scrutinee, arms },
        );

        let split_arm = expr
            .clone()
            .then(
                ident_named("an arm name")
                    .then(block.clone())
                    .map(Some)
                    .map_err(|e: ParseError| e.with_help("write an arm as `50% name { ... }`"))
                    .recover_with(via_parser(recover_statement())),
            )
            .map_with(|(weight, rest), e| {
                rest.map(|(name, body)| SplitArm {
                    weight,
                    name,
                    body,
                    span: sp(e.span()),
                })
            });
        let split_arm = docs().ignore_then(choice((
            split_arm,
            bad_entry(
                "a split arm such as `50% control { ... }`",
                &[],
                "write an arm as `50% name { ... }`",
            )
            .map(|_| None),
        )));
        let split_arms = lbrace()
            .then(split_arm.repeated().collect::<Vec<_>>())
            .then(close_brace())
            .validate(|((open, arms), close), _, emitter| {
                if close.is_none() {
                    emitter.emit(unclosed(open, "the split"));
                }
                arms.into_iter().flatten().collect::<Vec<_>>()
            });
        let split = step_of(
            statement(
                kw("split"),
                ident_named("a split name").then(split_arms),
                "write it as `split name { 50% a { ... } 50% b { ... } }`",
            ),
            |(name, arms)| StepKind::Split { name, arms },
        );

        let set = step_of(
            statement(
                kw("set"),
                expr.clone().then_ignore(tok(Tok::Assign, "=")).then(expr.clone()),
                "write it as `set profile.trait = value`",
            ),
            |(target, value)| StepKind::Set { target, value },
        );

        let track = step_of(
            statement(
                kw("track"),
                name_lit("an event name in quotes").then(record_fields(expr.clone()).or_not()),
                "write it as `track \"Event\" { field: value }`",
            ),
            |(event, fields)| StepKind::Track {
                event,
                fields: fields.unwrap_or_default(),
            },
        );

        let webhook = step_of(
            statement(
                kw("webhook"),
                ident_named("an HTTP method such as `post`")
                    .then(string_text(expr.clone()))
                    .then(record_fields(expr.clone()).map_with(|fields, e| Expr {
                        kind: ExprKind::Record(fields),
                        span: sp(e.span()),
                    }).or_not()),
                "write it as `webhook post \"https://...\" { key: value }`",
            ),
            |((method, url), body)| StepKind::Webhook { method, url, body },
        );

        let exit = step_of(statement(kw("exit"), empty(), "`exit` stands alone on its line"), |()| {
            StepKind::Exit
        });

        choice((send, wait, if_, match_, split, set, track, webhook, exit))
    })
    .boxed()
}

fn setting<'a>(
    expr: ExprP<'a>,
    _step: StepP<'a>,
) -> impl Parser<'a, In<'a>, FlowSetting, Ex<'a>> + Clone {
    let st = |p: Boxed<'a, 'a, In<'a>, Option<FlowSettingKind>, Ex<'a>>| {
        p.map_with(|k, e| FlowSetting {
            kind: k.unwrap_or(FlowSettingKind::Error),
            span: sp(e.span()),
        })
    };
    let description = statement(
        kw("description"),
        name_lit("a description in quotes").map(FlowSettingKind::Description),
        "write it as `description \"...\"`",
    )
    .boxed();
    let category = statement(
        kw("category"),
        kw_of(
            &[
                ("marketing", Category::Marketing),
                ("transactional", Category::Transactional),
            ],
            "`marketing` or `transactional`",
        )
        .map(|(c, s)| FlowSettingKind::Category(c, s)),
        "write it as `category marketing` or `category transactional`",
    )
    .boxed();
    let priority = statement(
        kw("priority"),
        int_lit().map(FlowSettingKind::Priority),
        "write it as `priority 10`",
    )
    .boxed();
    let trigger = choice((
        kw("entering")
            .ignore_then(ident_named("a segment name"))
            .map(TriggerKind::Entering),
        kw("leaving")
            .ignore_then(ident_named("a segment name"))
            .map(TriggerKind::Leaving),
        kw("date")
            .ignore_then(expr.clone())
            .then(kw("at").ignore_then(time_of_day()).or_not())
            .map(|(date, at)| TriggerKind::Date { date, at }),
        kw("inactive")
            .ignore_then(name_lit("an event name in quotes"))
            .then_ignore(kw("for"))
            .then(expr.clone())
            .map(|(event, duration)| TriggerKind::Inactive { event, duration }),
        event_match(expr.clone()).map(TriggerKind::Event),
    ))
    .map_with(|kind, e| {
        FlowSettingKind::Trigger(Trigger {
            kind,
            span: sp(e.span()),
        })
    });
    let when = statement(
        kw("when"),
        trigger,
        "write a trigger as `when \"Event\" as x`, `when entering segment`, `when date profile.birthday` or `when inactive \"Event\" for 90d`",
    )
    .boxed();
    let reentry = statement(
        kw("reentry"),
        choice((
            kw("always").to(Reentry::Always),
            kw("once")
                .ignore_then(kw("per").ignore_then(expr.clone()).or_not())
                .map(|per| match per {
                    Some(d) => Reentry::OncePer(d),
                    None => Reentry::Once,
                }),
            kw("after").then(kw("exit")).to(Reentry::AfterExit),
        ))
        .map(FlowSettingKind::Reentry),
        "write it as `reentry always`, `reentry once`, `reentry once per 7d` or `reentry after exit`",
    )
    .boxed();
    let exit_when = statement(
        kw("exit").then(kw("when")).map(|(a, _)| a),
        event_match(expr.clone()).map(FlowSettingKind::ExitWhen),
        "write it as `exit when \"Event\" [as x] [where condition]`",
    )
    .boxed();
    let goal = statement(
        kw("goal"),
        event_match(expr.clone())
            .then_ignore(kw("within"))
            .then(expr.clone())
            .map(|(event, within)| FlowSettingKind::Goal { event, within }),
        "write it as `goal \"Event\" within 5d`",
    )
    .boxed();
    let holdout = statement(
        kw("holdout"),
        expr.map(FlowSettingKind::Holdout),
        "write it as `holdout 10%`",
    )
    .boxed();
    choice((
        st(description),
        st(category),
        st(priority),
        st(when),
        st(reentry),
        st(exit_when),
        st(goal),
        st(holdout),
    ))
}
