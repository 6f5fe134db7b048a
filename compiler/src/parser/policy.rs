//! `policy { ... }` blocks: frequency caps, quiet hours, what to do when
//! capped, the default timezone and how long history is kept. Each rule
//! commits after its first keyword and recovers to the end of its line.

use super::error::ParseError;
use super::expr::ExprP;
use super::items::CHANNELS;
use super::tokens::{
    Ex, In, bad_entry, close_brace, colon, comma, docs, int_lit, kw, kw_of, lbrace, name_lit,
    recover_item, recover_statement, sp, statement_end, time_of_day, unclosed,
};
use crate::ast::{CappedAction, FrequencyCap, Item, PolicyDecl, PolicyRule, PolicyRuleKind};
use chumsky::prelude::*;

const RULE_WORDS: &[&str] = &["frequency", "quiet", "when", "default", "keep"];

pub(crate) fn policy<'a>(expr: ExprP<'a>) -> impl Parser<'a, In<'a>, Item, Ex<'a>> + Clone {
    let rule = |keyword: Boxed<'a, 'a, In<'a>, (), Ex<'a>>,
                rest: Boxed<'a, 'a, In<'a>, PolicyRuleKind, Ex<'a>>,
                help: &'static str| {
        keyword
            .ignore_then(
                rest.then_ignore(statement_end())
                    .map(Some)
                    .map_err(move |e: ParseError| e.with_help(help))
                    .recover_with(via_parser(recover_statement())),
            )
            .map_with(|k, e| PolicyRule {
                kind: k.unwrap_or(PolicyRuleKind::Error),
                span: sp(e.span()),
            })
    };
    let channel = kw_of(CHANNELS, "a channel (`email`, `sms` or `push`)");
    let cap = int_lit()
        .then_ignore(kw("per"))
        .then(expr.clone())
        .map_with(|(count, window), e| FrequencyCap {
            count,
            window,
            span: sp(e.span()),
        });
    let frequency = rule(
        kw("frequency").ignored().boxed(),
        channel
            .clone()
            .then_ignore(colon())
            .then(cap.separated_by(comma()).at_least(1).collect::<Vec<_>>())
            .map(|((channel, _), caps)| PolicyRuleKind::Frequency { channel, caps })
            .boxed(),
        "write it as `frequency email: 1 per 1d, 4 per 7d`",
    );
    let quiet = rule(
        kw("quiet").ignored().boxed(),
        kw("hours")
            .ignore_then(channel.or_not())
            .then_ignore(colon())
            .then(time_of_day())
            .then_ignore(kw("to"))
            .then(time_of_day())
            .map(|((channel, from), to)| PolicyRuleKind::QuietHours {
                channel: channel.map(|(c, _)| c),
                from,
                to,
            })
            .boxed(),
        "write it as `quiet hours sms: 21:00 to 09:00 local`",
    );
    let capped = rule(
        kw("when").ignored().boxed(),
        kw("capped")
            .ignore_then(colon())
            .ignore_then(kw_of(
                &[("skip", CappedAction::Skip), ("defer", CappedAction::Defer)],
                "`skip` or `defer`",
            ))
            .map(|(a, s)| PolicyRuleKind::WhenCapped(a, s))
            .boxed(),
        "write it as `when capped: skip` or `when capped: defer`",
    );
    let timezone = rule(
        kw("default").ignored().boxed(),
        kw("timezone")
            .ignore_then(name_lit("a timezone name in quotes").map(PolicyRuleKind::DefaultTimezone))
            .boxed(),
        "write it as `default timezone \"Europe/Istanbul\"`",
    );
    let history = rule(
        kw("keep").ignored().boxed(),
        kw("history")
            .ignore_then(expr)
            .map(PolicyRuleKind::KeepHistory)
            .boxed(),
        "write it as `keep history 400d`",
    );
    let entry = docs().ignore_then(choice((
        frequency,
        quiet,
        capped,
        timezone,
        history,
        bad_entry(
            "a policy rule such as `frequency email: 1 per 1d`",
            RULE_WORDS,
            "policy rules are `frequency`, `quiet hours`, `when capped`, `default timezone` and `keep history`",
        )
        .map_with(|_, e| PolicyRule {
            kind: PolicyRuleKind::Error,
            span: sp(e.span()),
        }),
    )));
    let body = lbrace()
        .then(entry.repeated().collect::<Vec<_>>())
        .then_ignore(docs())
        .then(close_brace())
        .validate(|((open, rules), close), _, emitter| {
            if close.is_none() {
                emitter.emit(unclosed(open, "the policy"));
            }
            rules
        })
        .map(Some)
        .recover_with(via_parser(recover_item()));
    kw("policy").ignore_then(body).map_with(|r, e| {
        let span = sp(e.span());
        match r {
            Some(rules) => Item::Policy(PolicyDecl { rules, span }),
            None => Item::Error(span),
        }
    })
}
