//! `test "name" { ... }` blocks (run by `nudge test`, see `docs/testing.md`):
//! `start`, `profile`, `event`, `wait` and `expect` statements, one a line.
//! Values are ordinary expressions (the runner accepts only literals).

use super::expr::ExprP;
use super::tokens::{
    Ex, In, bad_entry, close_brace, docs, ident_named, kw, lbrace, name_lit, recover_item,
    recover_statement, sp, statement_end, time_of_day, tok,
};
use crate::ast::{Expectation, Item, TestDecl, TestStmt, TestStmtKind};
use crate::lexer::Tok;
use chumsky::prelude::*;

const TEST_WORDS: &[&str] = &["start", "profile", "event", "wait", "expect"];
const TEST_HELP: &str =
    "a test holds `start`, `profile`, `event`, `wait` and `expect` lines (see docs/testing.md)";

/// The keyword, then the rest committed: a broken rest is reported once and
/// skipped to the end of the line.
fn statement<'a>(
    word: &'static str,
    rest: impl Parser<'a, In<'a>, TestStmtKind, Ex<'a>> + Clone + 'a,
    help: &'static str,
) -> impl Parser<'a, In<'a>, TestStmt, Ex<'a>> + Clone {
    kw(word)
        .ignore_then(
            rest.then_ignore(statement_end())
                .map(Some)
                .map_err(move |e: super::error::ParseError| e.with_help(help))
                .recover_with(via_parser(recover_statement())),
        )
        .map_with(|k, e| TestStmt {
            kind: k.unwrap_or(TestStmtKind::Error),
            span: sp(e.span()),
        })
}

pub(crate) fn test<'a>(expr: ExprP<'a>) -> impl Parser<'a, In<'a>, Item, Ex<'a>> + Clone {
    // Only a `{` on the same statement starts a record: a bare `profile "u1"`
    // must not read the next line's keyword as an expression.
    let record = lbrace().rewind().ignore_then(expr.clone()).or_not();
    let instant = expr.clone().then(time_of_day().or_not());
    let channel = || ident_named("a channel (`email`, `sms`, `push`)");
    let template = || ident_named("a template name");
    let sent = kw("sent")
        .ignore_then(channel())
        .then(template())
        .then(
            kw("variant")
                .ignore_then(ident_named("a variant name"))
                .or_not(),
        )
        .then(kw("at").ignore_then(instant.clone()).or_not())
        .map(|(((channel, template), variant), at)| Expectation::Sent {
            channel,
            template,
            variant,
            at,
        });
    // `because frequency_cap` or `because frequency_cap "2 per 7d"`: the
    // reason, and text its description in the trace must contain.
    let because = kw("because")
        .ignore_then(ident_named("a reason"))
        .then(name_lit("the reason's text in quotes").or_not())
        .or_not();
    let suppressed = kw("suppressed")
        .ignore_then(channel())
        .then(template())
        .then(because.clone())
        .map(|((channel, template), because)| {
            let (because, says) = because.unzip();
            Expectation::Suppressed {
                channel,
                template,
                because,
                says: says.flatten(),
            }
        });
    let deferred = kw("deferred")
        .ignore_then(channel())
        .then(template())
        .then(because)
        .then(kw("until").ignore_then(instant.clone()).or_not())
        .map(|(((channel, template), because), until)| {
            let (because, says) = because.unzip();
            Expectation::Deferred {
                channel,
                template,
                because,
                says: says.flatten(),
                until,
            }
        });
    let entered = kw("entered")
        .ignore_then(ident_named("a flow name"))
        .map(|flow| Expectation::Entered { flow });
    let exited = kw("exited")
        .ignore_then(ident_named("a flow name"))
        .map(|flow| Expectation::Exited { flow });
    let expectation = tok(Tok::Not, "not")
        .or_not()
        .then(choice((sent, suppressed, deferred, entered, exited)))
        .map(|(not, what)| TestStmtKind::Expect {
            negated: not.is_some(),
            what,
        });

    let stmt = choice((
        statement(
            "start",
            expr.clone()
                .then(time_of_day().or_not())
                .map(|(date, time)| TestStmtKind::Start { date, time }),
            "write `start 2026-03-02 09:00` (UTC)",
        ),
        statement(
            "profile",
            name_lit("a profile id in quotes")
                .then(record.clone())
                .map(|(id, traits)| TestStmtKind::Profile { id, traits }),
            "write `profile \"u1\" { first_name: \"Ana\" }`",
        ),
        statement(
            "event",
            name_lit("an event name in quotes")
                .then(record)
                .map(|(name, properties)| TestStmtKind::Event { name, properties }),
            "write `event \"Order Completed\" { order_id: \"o1\" }`",
        ),
        statement(
            "wait",
            expr.map(|duration| TestStmtKind::Wait { duration }),
            "write `wait 30m`",
        ),
        statement(
            "expect",
            expectation,
            "write `expect [not] sent email name`, `expect suppressed email name because frequency_cap`, `expect deferred sms name`, `expect entered flow` or `expect exited flow`",
        ),
    ));
    let entry = docs().ignore_then(choice((
        stmt,
        bad_entry("a test statement", TEST_WORDS, TEST_HELP).map_with(|_, e| TestStmt {
            kind: TestStmtKind::Error,
            span: sp(e.span()),
        }),
    )));
    let body = lbrace()
        .then(entry.repeated().collect::<Vec<_>>())
        .then_ignore(docs())
        .then(close_brace())
        .validate(|((open, body), close), _, emitter| {
            if close.is_none() {
                emitter.emit(super::tokens::unclosed(open, "this test"));
            }
            body
        });
    let rest = name_lit("a test name in quotes")
        .then(body)
        .map(Some)
        .recover_with(via_parser(recover_item()));
    kw("test").ignore_then(rest).map_with(|r, e| {
        let span = sp(e.span());
        match r {
            Some((name, body)) => Item::Test(TestDecl { name, body, span }),
            None => Item::Error(span),
        }
    })
}
