//! Which members of each event's properties a bundle can read.
//!
//! An event's properties reach a flow in a few ways only: a trigger's
//! `where` filter and its `keep` (what a journey stores of its trigger
//! event), `exit when` and `goal` filters, a `wait for`'s filter and its
//! bound event, the aggregates, and the engine's own reads (a goal's
//! revenue, the consent events). Every filter reads the event through
//! `LoadEvent`; when each `LoadEvent` is followed at once by `GetField` of
//! a constant name, the filter reads those members and no others. Anything
//! else (the event used as a value, bound whole by `wait for`, a
//! `LoadEvent` where no event is being judged) counts as reading all of
//! it. A member nothing reads cannot change what the engine does, so the
//! simulator's reader types it (a bad value is still reported) and does
//! not keep it (`ingest::Reader::for_bundle`).

use nudge_bytecode::Value;
use nudge_bytecode::format::{AggregateKind, Bundle, EventKeep, EventMatch, Trigger};
use nudge_bytecode::op::{Code, Op};
use std::collections::BTreeSet;

/// Events the engine itself reacts to (`Cx::consent` reads their
/// properties).
pub const ENGINE_EVENTS: [&str; 2] = ["Unsubscribed", "SMS Received"];

/// The members a goal's conversion takes its revenue from, first present
/// first.
pub const REVENUE_FIELDS: [&str; 3] = ["revenue", "value", "total"];

/// What one place in the bundle reads of an event.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Read {
    Whole,
    Fields(BTreeSet<String>),
}

/// The members of each event a bundle reads (`EventReads::of`).
#[derive(Debug, Clone, Default)]
pub struct EventReads {
    /// Some code reads an event this analysis cannot name: all are read
    /// whole.
    all: bool,
    /// What is read of each event, by name (as the reader names events:
    /// the declared name).
    reads: Vec<(String, Read)>,
}

impl EventReads {
    pub fn of(bundle: &Bundle) -> EventReads {
        let mut r = EventReads::default();
        for flow in &bundle.flows {
            if let Trigger::Event {
                event,
                filter,
                keep,
            } = &flow.trigger
            {
                match keep {
                    EventKeep::Nothing => {}
                    EventKeep::Whole => r.whole(event),
                    EventKeep::Fields(fields) => {
                        for f in fields {
                            r.field(event, &f.name);
                        }
                    }
                }
                if let Some(code) = filter {
                    r.filter(event, code);
                }
            }
            for m in &flow.settings.exit_when {
                r.matched(m);
            }
            if let Some(goal) = &flow.settings.goal {
                r.matched(&goal.event);
                for f in REVENUE_FIELDS {
                    r.field(&goal.event.event, f);
                }
            }
            r.body(&flow.code);
            if let Trigger::Date { date, .. } = &flow.trigger {
                r.unnamed(date);
            }
        }
        for a in &bundle.aggregates {
            match (a.field.first(), a.kind) {
                (Some(f), _) => r.field(&a.event, f),
                (None, AggregateKind::Count | AggregateKind::Exists) => r.named(&a.event),
                (None, _) => r.whole(&a.event),
            }
        }
        for s in &bundle.segments {
            r.unnamed(&s.condition);
        }
        for t in &bundle.templates {
            for (_, text) in &t.parts {
                text.each_code(&mut |code| r.unnamed(code));
            }
        }
        for e in ENGINE_EVENTS {
            r.whole(e);
        }
        r
    }

    /// The members of event `name` the bundle reads; `None` when it may
    /// read the event whole.
    pub fn fields(&self, name: &str) -> Option<BTreeSet<&str>> {
        if self.all {
            return None;
        }
        let mut out = BTreeSet::new();
        for (event, read) in &self.reads {
            if event != name {
                continue;
            }
            match read {
                Read::Whole => return None,
                Read::Fields(fields) => out.extend(fields.iter().map(String::as_str)),
            }
        }
        Some(out)
    }

    /// Applies `f` to what is read of `event` (nothing yet, if new).
    fn update(&mut self, event: &str, f: impl FnOnce(&mut Read)) {
        match self.reads.iter_mut().find(|(e, _)| e == event) {
            Some((_, read)) => f(read),
            None => {
                let mut read = Read::Fields(BTreeSet::new());
                f(&mut read);
                self.reads.push((event.to_string(), read));
            }
        }
    }

    fn named(&mut self, event: &str) {
        self.update(event, |_| {});
    }

    fn whole(&mut self, event: &str) {
        self.update(event, |read| *read = Read::Whole);
    }

    fn field(&mut self, event: &str, field: &str) {
        self.update(event, |read| {
            if let Read::Fields(fields) = read {
                fields.insert(field.to_string());
            }
        });
    }

    fn matched(&mut self, m: &EventMatch) {
        self.named(&m.event);
        if let Some(code) = &m.filter {
            self.filter(&m.event, code);
        }
    }

    /// A filter judging `event`: its code and its lambdas.
    fn filter(&mut self, event: &str, code: &Code) {
        self.ops(event, &code.ops, &code.consts);
        for l in &code.lambdas {
            self.ops(event, &l.ops, &code.consts);
        }
    }

    /// `ops` judging `event`.
    fn ops(&mut self, event: &str, ops: &[Op], consts: &[Value]) {
        for (i, op) in ops.iter().enumerate() {
            if !matches!(op, Op::LoadEvent) {
                continue;
            }
            let name = match ops.get(i + 1) {
                Some(Op::GetField { name, .. }) => {
                    consts.get(usize::from(*name)).and_then(Value::as_str)
                }
                _ => None,
            };
            match name {
                Some(f) => self.field(event, f),
                None => self.whole(event),
            }
        }
    }

    /// A flow body: each `wait for` names its event; its filter lambda
    /// judges that event, and a bound event is kept whole.
    fn body(&mut self, code: &Code) {
        let mut waits: Vec<(&str, Option<u16>)> = Vec::new();
        for op in &code.ops {
            if let Op::WaitFor {
                event,
                filter,
                bind,
                ..
            } = op
            {
                let Some(name) = code.consts.get(usize::from(*event)).and_then(Value::as_str)
                else {
                    self.all = true;
                    continue;
                };
                if bind.is_some() {
                    self.whole(name);
                } else {
                    self.named(name);
                }
                waits.push((name, *filter));
            }
        }
        if code.ops.iter().any(|op| matches!(op, Op::LoadEvent)) {
            self.all = true;
        }
        for (k, l) in code.lambdas.iter().enumerate() {
            if !l.ops.iter().any(|op| matches!(op, Op::LoadEvent)) {
                continue;
            }
            let judged: Vec<&str> = waits
                .iter()
                .filter(|(_, f)| *f == u16::try_from(k).ok())
                .map(|(name, _)| *name)
                .collect();
            match judged.as_slice() {
                [name] => self.ops(name, &l.ops, &code.consts),
                // A lambda another lambda calls, or one judging events of
                // two kinds: whichever event it reads, it reads whole.
                _ if !waits.is_empty() => {
                    for (name, _) in &waits {
                        self.whole(name);
                    }
                }
                _ => self.all = true,
            }
        }
    }

    /// Code where no event is judged: one that reads one anyway reads all.
    fn unnamed(&mut self, code: &Code) {
        let reads = |ops: &[Op]| ops.iter().any(|op| matches!(op, Op::LoadEvent));
        if reads(&code.ops) || code.lambdas.iter().any(|l| reads(&l.ops)) {
            self.all = true;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::panic, reason = "a failing test may panic")]

    use super::super::tests::{S, bundle, flow, on, same, settings, templates};
    use super::*;
    use nudge_bytecode::format::{Aggregate, Goal, KeepField, Policies, Segment};
    use nudge_bytecode::op::Lambda;

    fn fields(reads: &EventReads, event: &str) -> Option<Vec<String>> {
        reads
            .fields(event)
            .map(|f| f.into_iter().map(str::to_string).collect())
    }

    fn names(list: &[&str]) -> Option<Vec<String>> {
        Some(list.iter().map(|s| s.to_string()).collect())
    }

    /// `LoadEvent` then `ops`, then `Return`.
    fn filter_code(consts: Vec<Value>, ops: Vec<Op>) -> Code {
        Code {
            ops: [vec![Op::LoadEvent], ops, vec![Op::Return]].concat(),
            consts,
            locals: 1,
            lambdas: vec![],
        }
    }

    fn keep(names: &[&str]) -> EventKeep {
        EventKeep::Fields(names.iter().map(|n| KeepField::whole(n)).collect())
    }

    #[test]
    fn filters_keeps_goals_and_aggregates_name_the_members_they_read() {
        let checkout = Trigger::Event {
            event: "Checkout Started".into(),
            // `where it.value != none`
            filter: Some(filter_code(
                vec![Value::str("value"), Value::None],
                vec![
                    Op::GetField {
                        name: 0,
                        optional: false,
                    },
                    Op::Const(1),
                    Op::Ne,
                ],
            )),
            keep: keep(&["checkout_id", "products"]),
        };
        let mut s = settings();
        s.exit_when.push(EventMatch {
            event: "Order Completed".into(),
            filter: Some(same("checkout_id", 1)),
        });
        s.exit_when.push(EventMatch {
            event: "Product Added".into(),
            filter: None,
        });
        s.goal = Some(Goal {
            event: EventMatch {
                event: "Order Placed".into(),
                filter: None,
            },
            within_secs: 86_400,
        });
        let mut b = bundle(
            vec![flow("cart", checkout, s, &[S::Send(0)])],
            templates(),
            Policies::default(),
        );
        b.aggregates.push(Aggregate {
            kind: AggregateKind::Sum,
            event: "Order Completed".into(),
            field: vec!["revenue".into(), "amount".into()],
            window_secs: None,
        });
        b.aggregates.push(Aggregate {
            kind: AggregateKind::Count,
            event: "Product Viewed".into(),
            field: vec![],
            window_secs: None,
        });
        let r = EventReads::of(&b);
        assert_eq!(
            fields(&r, "Checkout Started"),
            names(&["checkout_id", "products", "value"])
        );
        assert_eq!(
            fields(&r, "Order Completed"),
            names(&["checkout_id", "revenue"])
        );
        assert_eq!(
            fields(&r, "Order Placed"),
            names(&["revenue", "total", "value"])
        );
        assert_eq!(fields(&r, "Product Added"), names(&[]));
        assert_eq!(fields(&r, "Product Viewed"), names(&[]));
        assert_eq!(fields(&r, "Never Mentioned"), names(&[]));
        for e in ENGINE_EVENTS {
            assert_eq!(fields(&r, e), None, "{e}");
        }
    }

    #[test]
    fn an_event_used_as_a_value_or_bound_whole_is_read_whole() {
        // `where it != none`: the event itself is a value.
        let bare = Trigger::Event {
            event: "Product Viewed".into(),
            filter: Some(filter_code(vec![Value::None], vec![Op::Const(0), Op::Ne])),
            keep: EventKeep::Nothing,
        };
        let b = bundle(
            vec![
                flow("a", bare, settings(), &[S::Send(0)]),
                flow("c", on("Signed Up"), settings(), &[S::Send(0)]),
                flow(
                    "d",
                    on("Order Completed"),
                    settings(),
                    &[S::WaitFor("Order Delivered", 86_400_000, 0, 1)],
                ),
            ],
            templates(),
            Policies::default(),
        );
        let r = EventReads::of(&b);
        for e in ["Product Viewed", "Signed Up", "Order Delivered"] {
            assert_eq!(fields(&r, e), None, "{e}");
        }
    }

    #[test]
    fn a_wait_for_filter_reads_its_own_event_and_a_stray_load_reads_all() {
        // `wait for "Order Delivered" where it.order_id == ...` with nothing
        // bound: the filter lambda names what it reads.
        let body = |lambda_ops: Vec<Op>| Code {
            ops: vec![
                Op::Const(2),
                Op::WaitFor {
                    event: 0,
                    filter: Some(0),
                    bind: None,
                    timeout: 2,
                },
                Op::Exit,
            ],
            consts: vec![
                Value::str("Order Delivered"),
                Value::str("order_id"),
                Value::Duration(60),
            ],
            locals: 2,
            lambdas: vec![Lambda {
                param: 1,
                ops: lambda_ops,
            }],
        };
        let reads_order_id = vec![
            Op::LoadEvent,
            Op::GetField {
                name: 1,
                optional: false,
            },
            Op::Return,
        ];
        let mut f = flow("post", on("Order Completed"), settings(), &[]);
        f.code = body(reads_order_id.clone());
        let mut b = bundle(vec![], templates(), Policies::default());
        b.flows.push(f.clone());
        let r = EventReads::of(&b);
        assert_eq!(fields(&r, "Order Delivered"), names(&["order_id"]));

        // The lambda passes the event on whole.
        f.code = body(vec![Op::LoadEvent, Op::Return]);
        b.flows = vec![f.clone()];
        assert_eq!(fields(&EventReads::of(&b), "Order Delivered"), None);

        // A `LoadEvent` in a segment's condition, where no event is judged:
        // whichever it reads, every event is read whole.
        f.code = body(reads_order_id);
        b.flows = vec![f];
        b.segments.push(Segment {
            name: "odd".into(),
            condition: Code {
                ops: vec![Op::LoadEvent, Op::Return],
                ..Code::default()
            },
            aggregates: vec![],
            traits: vec![],
            segments: vec![],
        });
        let r = EventReads::of(&b);
        assert_eq!(fields(&r, "Order Delivered"), None);
        assert_eq!(fields(&r, "Never Mentioned"), None);
    }
}
