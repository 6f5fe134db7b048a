//! The fast path of `Reader::read_line`: one pass over the line's text
//! straight into typed values, driven by the schema, for the usual line
//! that reads without a single problem. No `J` tree is built for the
//! records it types (`properties`, `traits`, nested records): their members
//! are typed as they are parsed (declared names found by `NameIndex`), and
//! members the schema does not declare are parsed as the general path
//! parses them (so the same text is refused) but not kept.
//!
//! It gives up (`None`) at the first thing that is not plain — any problem
//! (an error, a warning, a coercion), a batch, a repeated member where the
//! general path would take the last, a currency it cannot place in one
//! pass — and the line is then read again by the general path, which
//! reports exactly what it always did. So this path only has to agree with
//! the general one on lines that read cleanly; `fast/tests.rs` compares the
//! two on many shapes and on random lines.
//!
//! Currencies: a `money` field takes its record's `currency`, else the
//! enclosing record's, else USD; but `currency` often comes after the
//! amounts (`{"price":19,"currency":"EUR"}`). An amount read before its
//! record's currency is known is made in USD and marked provisional; when
//! the record ends and its currency is known, provisional amounts are set
//! to it. A nested record whose currency is still open at its end (none of
//! its own, and its parent's `currency` has not come yet) is left pending,
//! and its amounts are set when the parent's currency is known. Deeper
//! nesting still open at that point is a give-up unless the currency is
//! USD.

use super::plain::{Plain, is_plain};
use super::{
    J, JVisitor, Key, Mode, NameIndex, Path, Problems, Reader, SKIPPED_KINDS, currency_code, date,
    money, number_decimal, required, time, timestamp_number, timestamp_of, timestamp_text, trim,
    untyped_number,
};
use crate::engine::Input;
use nudge_bytecode::schema::{FieldType, RecordSchema, Scalar};
use nudge_bytecode::{Currency, Record, SmolStr, Value};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// The error that makes the caller fall back to the general path. (Its
/// text is never shown: the general path reports the line itself.)
fn give_up<E: de::Error>() -> E {
    E::custom("fast path gave up")
}

/// What a record's amounts will be in, as far as known so far.
#[derive(Clone, Copy)]
enum Cur {
    /// Settled: the record's own currency, else the inherited one (`None`:
    /// USD).
    Known(Option<Currency>),
    /// The record's own `currency` may still come.
    Open,
}

impl Cur {
    /// The currency of a record whose own `currency` member is `own`
    /// (`None`: not seen yet; `Some(None)`: seen, not a currency code).
    fn of(own: Option<Option<Currency>>, inherited: Cur) -> Cur {
        match own {
            Some(Some(c)) => Cur::Known(Some(c)),
            Some(None) => inherited,
            None => Cur::Open,
        }
    }

    /// The currency of a record whose members have all been read.
    fn settled(own: Option<Option<Currency>>, inherited: Cur) -> Cur {
        match own {
            Some(Some(c)) => Cur::Known(Some(c)),
            _ => inherited,
        }
    }
}

/// The type under any number of `?`.
fn base(mut ty: &FieldType) -> &FieldType {
    while let FieldType::Optional(inner) = ty {
        ty = inner;
    }
    ty
}

/// Whether values of the type hold amounts of money outside any record.
fn holds_money(ty: &FieldType) -> bool {
    match ty {
        FieldType::Scalar(Scalar::Money) => true,
        FieldType::List(inner) | FieldType::Optional(inner) => holds_money(inner),
        _ => false,
    }
}

/// Whether values of the type may hold records.
fn holds_record(ty: &FieldType) -> bool {
    match ty {
        FieldType::Record(_) | FieldType::Event(_) => true,
        FieldType::List(inner) | FieldType::Optional(inner) => holds_record(inner),
        _ => false,
    }
}

fn has_object(j: &J) -> bool {
    match j {
        J::Obj(_) => true,
        J::Arr(items) => items.iter().any(has_object),
        _ => false,
    }
}

/// Sets the currency of the amounts in the members of the records in `v`
/// (a record, or lists of them) that are pending `Own`: all of their
/// amounts were made before their currency was known.
fn set_nested_currency(v: &mut Value, c: Currency) {
    match v {
        Value::Record(r) => {
            let fields = std::mem::take(r).into_fields().map(|(n, mut v)| {
                set_currency(&mut v, c);
                (n, v)
            });
            *r = Record::from_fields(fields);
        }
        Value::List(items) => {
            for x in items.iter_mut() {
                set_nested_currency(x, c);
            }
        }
        _ => {}
    }
}

/// Sets the currency of the amounts in `v` (a money value, or lists of
/// them; not inside records).
fn set_currency(v: &mut Value, c: Currency) {
    match v {
        Value::Money(m) => m.currency = c,
        Value::List(items) => {
            for x in items.iter_mut() {
                set_currency(x, c);
            }
        }
        _ => {}
    }
}

/// A record field's name as records hold it (inline when short: no
/// allocation).
fn name(s: &str) -> SmolStr {
    SmolStr::new(s)
}

fn list(items: Vec<Value>) -> Value {
    Value::List(items)
}

fn record(r: Record) -> Value {
    Value::Record(r)
}

/// The parts of an element this path uses; scalars as parsed, records
/// already typed.
#[derive(Default)]
struct Top<'a> {
    kind: Option<J<'a>>,
    user_id: Option<J<'a>>,
    anonymous_id: Option<J<'a>>,
    timestamp: Option<J<'a>>,
    message_id: Option<J<'a>>,
    event: Option<J<'a>>,
    properties: Props<'a>,
    traits: Option<Record>,
    /// A `/v1/batch` body's elements (a line's own members are then
    /// ignored, as the general path ignores them).
    batch: Option<Vec<Top<'a>>>,
}

/// What the fast path made of a line.
pub(super) enum Fast {
    One(Input),
    /// A batch body's inputs, in order.
    Batch(Vec<Input>),
    /// A call of a kind flows do not use (`page`, `screen`, `group`,
    /// `alias`), skipped with the general path's note (`skipped_call`).
    Skipped(&'static str),
}

#[derive(Default)]
enum Props<'a> {
    #[default]
    Absent,
    /// Came before `event`: typed at the end, by the general path's code.
    Raw(J<'a>),
    /// Typed as read, for the event named before them.
    Typed(Record),
    /// Skipped unread (an `identify` has no use for them).
    Skipped,
}

/// The kind of a call flows do not use, which the general path skips with
/// a note whatever else the element holds (it decides on `type` before
/// anything else): reading such lines the general way built a JSON tree of
/// each `page` call of a real log only to drop it.
fn skipped_kind(top: &Top) -> Option<&'static str> {
    let kind = top.kind.as_ref().and_then(J::as_str)?;
    SKIPPED_KINDS.iter().copied().find(|k| *k == kind)
}

impl<'s> Reader<'s> {
    /// The line's inputs, or `None` when the general path must read it (a
    /// batch is taken whole or not at all).
    pub(super) fn fast_line(&self, line: &str) -> Option<Fast> {
        let seed = LineSeed {
            reader: self,
            in_batch: false,
        };
        let mut top = if is_plain(line) {
            let mut de = Plain::new(line);
            match seed
                .deserialize(&mut de)
                .and_then(|top| de.end().map(|()| top))
            {
                Ok(top) => top,
                // Beyond what `Plain` reads: serde_json reads it.
                Err(e) if e.lexical => self.serde_top(line)?,
                // Refused by the reader itself, as it would be here.
                Err(_) => return None,
            }
        } else {
            self.serde_top(line)?
        };
        match top.batch.take() {
            Some(elements) => elements
                .into_iter()
                .map(|e| self.fast_element(e))
                .collect::<Option<Vec<Input>>>()
                .map(Fast::Batch),
            None => match skipped_kind(&top) {
                Some(kind) => Some(Fast::Skipped(kind)),
                None => self.fast_element(top).map(Fast::One),
            },
        }
    }

    /// The line's top level read by serde_json, for a line that is not
    /// plain (`plain::is_plain`) or that `Plain` leaves to it.
    fn serde_top<'l>(&self, line: &'l str) -> Option<Top<'l>> {
        let mut de = serde_json::Deserializer::from_str(line);
        let top = LineSeed {
            reader: self,
            in_batch: false,
        }
        .deserialize(&mut de)
        .ok()?;
        de.end().ok()?;
        Some(top)
    }

    /// `Reader::element` for a line that read cleanly so far; `None` where
    /// that would report anything.
    fn fast_element(&self, top: Top) -> Option<Input> {
        let kind = top.kind.as_ref().and_then(J::as_str)?;
        if !matches!(kind, "track" | "identify") {
            return None;
        }
        let profile = [&top.user_id, &top.anonymous_id]
            .into_iter()
            .find_map(|j| match j {
                Some(J::Str(s)) if !trim(s).is_empty() => Some(SmolStr::new(trim(s))),
                Some(J::Num(n)) => Some(SmolStr::new(n.to_string())),
                _ => None,
            })?;
        let at = timestamp_of(top.timestamp.as_ref()?)?;
        let message_id = match top.message_id {
            Some(J::Str(s)) => Some(SmolStr::new(&*s)),
            Some(J::Num(n)) => Some(SmolStr::new(n.to_string())),
            _ => None,
        };
        if kind == "identify" {
            return Some(Input::Identify {
                profile,
                traits: top.traits.unwrap_or_default(),
                at,
                message_id,
            });
        }
        let raw = top.event.as_ref().and_then(J::as_str)?;
        // A declared name is shared with the reader's table, not made anew.
        let declared = self.declared.get(raw);
        let event = match declared {
            Some(_) => raw,
            None => self.declared_as(raw)?,
        };
        let properties = match top.properties {
            Props::Typed(r) => r,
            Props::Absent => self.clean(|r, p| r.properties(event, None, p))?,
            Props::Raw(j) => self.clean(|r, p| r.properties(event, Some(&j), p))?,
            // Skipped only for an identify.
            Props::Skipped => return None,
        };
        Some(Input::Track {
            profile,
            event: match declared {
                Some(i) => self.declared.key(i),
                None => SmolStr::new(event),
            },
            properties,
            at,
            message_id,
        })
    }

    /// The name an event is read as, when that takes no coercion (an exact
    /// declared name, or an undeclared one that matches none).
    fn declared_as<'n>(&self, raw: &'n str) -> Option<&'n str> {
        if self.is_declared(raw) || self.coerced(raw).is_none() {
            Some(raw)
        } else {
            None
        }
    }

    /// Runs the general path's typing `f`; `None` if it reported anything.
    fn clean<T>(&self, f: impl FnOnce(&Self, &mut Problems) -> Option<T>) -> Option<T> {
        let mut out = Vec::new();
        let mut p = Problems {
            line: 0,
            out: &mut out,
            rejected: false,
        };
        let v = f(self, &mut p);
        if out.is_empty() { v } else { None }
    }
}

/// A whole line: one `/v1/batch` element, or a batch body of them.
struct LineSeed<'r, 's> {
    reader: &'r Reader<'s>,
    /// An element of a batch (which cannot hold a batch of its own).
    in_batch: bool,
}

/// A batch body's `batch` member: an array of elements.
struct BatchSeed<'r, 's> {
    reader: &'r Reader<'s>,
}

impl<'de> DeserializeSeed<'de> for BatchSeed<'_, '_> {
    type Value = Vec<Top<'de>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<Top<'de>>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for BatchSeed<'_, '_> {
    type Value = Vec<Top<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of elements")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Top<'de>>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        // An element that is not an object gives up (the general path says
        // what is wrong with it).
        while let Some(top) = seq.next_element_seed(LineSeed {
            reader: self.reader,
            in_batch: true,
        })? {
            out.push(top);
        }
        Ok(out)
    }
}

impl<'de> DeserializeSeed<'de> for LineSeed<'_, '_> {
    type Value = Top<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Top<'de>, D::Error> {
        d.deserialize_map(self)
    }
}

/// Stores a scalar member, giving up on a second one of the same name.
fn once<'de, A: MapAccess<'de>>(slot: &mut Option<J<'de>>, map: &mut A) -> Result<(), A::Error> {
    if slot.is_some() {
        return Err(give_up());
    }
    *slot = Some(map.next_value()?);
    Ok(())
}

impl<'de> Visitor<'de> for LineSeed<'_, '_> {
    type Value = Top<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Top<'de>, A::Error> {
        let r = self.reader;
        let mut top = Top::default();
        while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
            let kind = top.kind.as_ref().map(J::as_str);
            match &*k {
                "type" => once(&mut top.kind, &mut map)?,
                "userId" => once(&mut top.user_id, &mut map)?,
                "anonymousId" => once(&mut top.anonymous_id, &mut map)?,
                "timestamp" => once(&mut top.timestamp, &mut map)?,
                "messageId" => once(&mut top.message_id, &mut map)?,
                "event" => {
                    // Properties typed for one name must not be renamed.
                    if matches!(top.properties, Props::Typed(_)) {
                        return Err(give_up());
                    }
                    once(&mut top.event, &mut map)?;
                }
                "properties" => {
                    if !matches!(top.properties, Props::Absent) {
                        return Err(give_up());
                    }
                    top.properties = if kind == Some(Some("identify")) {
                        map.next_value_seed(Skip)?;
                        Props::Skipped
                    } else {
                        match top.event.as_ref().map(J::as_str) {
                            Some(Some(raw)) => {
                                let event = r.declared_as(raw).ok_or_else(give_up)?;
                                Props::Typed(map.next_value_seed(PropsSeed { r, event })?)
                            }
                            Some(None) => return Err(give_up()),
                            None => Props::Raw(map.next_value()?),
                        }
                    };
                }
                "traits" => {
                    if top.traits.is_some() {
                        return Err(give_up());
                    }
                    if matches!(kind, Some(Some(k)) if k != "identify") {
                        map.next_value_seed(Skip)?;
                    } else {
                        top.traits = Some(map.next_value_seed(TraitsSeed { r })?);
                    }
                }
                "batch" => {
                    // Not in an element, and once: anything else is the
                    // general path's to read and report.
                    if self.in_batch || top.batch.is_some() {
                        return Err(give_up());
                    }
                    top.batch = Some(map.next_value_seed(BatchSeed { reader: r })?);
                }
                // The general path reads a batch's elements whole (as `J`),
                // so there every member is parsed; a line's own others
                // only for syntax.
                _ if self.in_batch => map.next_value_seed(Skip)?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(top)
    }
}

/// A track call's `properties`, for the event `event`: typed by its
/// declaration, or kept as plain values when undeclared. Anything but an
/// object counts as no properties (as in the general path).
struct PropsSeed<'r, 's, 'n> {
    r: &'r Reader<'s>,
    event: &'n str,
}

impl<'de> DeserializeSeed<'de> for PropsSeed<'_, '_, '_> {
    type Value = Record;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Record, D::Error> {
        d.deserialize_any(self)
    }
}

impl PropsSeed<'_, '_, '_> {
    fn absent<E: de::Error>(self) -> Result<Record, E> {
        match self.r.event_schema(self.event) {
            Some(schema) => {
                if schema.fields.iter().any(|f| required(&f.ty)) {
                    return Err(give_up());
                }
                Ok(Record::new())
            }
            None => Ok(Record::new()),
        }
    }
}

impl<'de> Visitor<'de> for PropsSeed<'_, '_, '_> {
    type Value = Record;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("properties")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Record, E> {
        self.absent()
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Record, E> {
        self.absent()
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Record, E> {
        self.absent()
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Record, E> {
        self.absent()
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Record, E> {
        self.absent()
    }
    fn visit_unit<E: de::Error>(self) -> Result<Record, E> {
        self.absent()
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Record, A::Error> {
        while seq.next_element_seed(Skip)?.is_some() {}
        self.absent()
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Record, A::Error> {
        match self.r.event_root(self.event) {
            Some((schema, index, unread)) => {
                let typed = record_map(
                    self.r,
                    schema,
                    index,
                    unread,
                    Cur::Known(None),
                    Mode::Strict,
                    Path::root(self.event),
                    map,
                )?;
                Ok(typed.record)
            }
            None => untyped_map(map),
        }
    }
}

/// An identify's `traits`, each typed by the profile's declaration
/// (leniently), undeclared ones kept as plain values. Anything but an
/// object counts as no traits.
struct TraitsSeed<'r, 's> {
    r: &'r Reader<'s>,
}

impl<'de> DeserializeSeed<'de> for TraitsSeed<'_, '_> {
    type Value = Record;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Record, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TraitsSeed<'_, '_> {
    type Value = Record;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("traits")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Record, E> {
        Ok(Record::new())
    }
    fn visit_i64<E>(self, _: i64) -> Result<Record, E> {
        Ok(Record::new())
    }
    fn visit_u64<E>(self, _: u64) -> Result<Record, E> {
        Ok(Record::new())
    }
    fn visit_f64<E>(self, _: f64) -> Result<Record, E> {
        Ok(Record::new())
    }
    fn visit_str<E>(self, _: &str) -> Result<Record, E> {
        Ok(Record::new())
    }
    fn visit_unit<E>(self) -> Result<Record, E> {
        Ok(Record::new())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Record, A::Error> {
        while seq.next_element_seed(Skip)?.is_some() {}
        Ok(Record::new())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Record, A::Error> {
        let traits_path = Path::root("traits");
        let mut fields = self.r.traits_members.take();
        while let Some(Key(name)) = map.next_key::<Key<'de>>()? {
            let declared = self.r.traits.get(&name);
            let ty = declared
                .and_then(|i| self.r.schema.traits.get(i))
                .map(|f| &f.ty);
            let value = match ty {
                Some(ty) => {
                    let seed = FieldSeed {
                        r: self.r,
                        ty,
                        cur: Cur::Known(None),
                        mode: Mode::Lenient,
                        path: traits_path.child(&name),
                        keep: true,
                    };
                    map.next_value_seed(seed)?.value
                }
                None => map.next_value_seed(Untyped)?,
            };
            let name = match declared {
                Some(i) => self.r.traits.key(i),
                None => self::name(&name),
            };
            // Repeated names: `from_fields` keeps the last, as the general
            // path does.
            fields.push((name, value));
        }
        let record = Record::from_fields(fields.drain(..));
        self.r.traits_members.give(fields);
        Ok(record)
    }
}

/// Whether a typed record holds amounts whose currency is still open
/// (see the module doc). Ordered: a list of records is as pending as its
/// most pending one.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Pending {
    No,
    /// In its own members (and lists of them): set when the enclosing
    /// record's currency is known.
    Own,
    /// In records nested deeper: a give-up unless that currency is USD.
    Deep,
}

/// A record typed as read.
struct Typed {
    record: Record,
    pending: Pending,
}

/// The members of a record object, typed by `schema`. Mirrors
/// `Reader::record`: declared members typed (the last of a repeated name
/// wins, as `from_fields` keeps it), others dropped, required ones checked
/// in strict mode. `unread`: by field, members typed but not kept.
#[allow(clippy::too_many_arguments)]
fn record_map<'de, A: MapAccess<'de>>(
    r: &Reader,
    schema: &RecordSchema,
    index: &NameIndex,
    unread: &[bool],
    inherited: Cur,
    mode: Mode,
    path: Path,
    mut map: A,
) -> Result<Typed, A::Error> {
    const MAX_FIELDS: usize = 256;
    if schema.fields.len() > MAX_FIELDS {
        return Err(give_up());
    }
    // Per declared field: its last member was there and not null.
    let mut present = [0u64; MAX_FIELDS / 64];
    let mut own: Option<Option<Currency>> = None;
    // With each member's index in the schema: see the sort at the end.
    let mut fields = r.members.take();
    // Per entry of `fields` (the first 64): an amount made before the
    // currency was known; a nested record still pending.
    let mut provisional = 0u64;
    let mut nested = 0u64;
    let mut deep = false;
    while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
        let i = index.get(&k);
        if &*k == "currency" {
            if own.is_some() {
                return Err(give_up());
            }
            let j: J = map.next_value()?;
            own = Some(j.as_str().and_then(currency_code));
            if let Some((i, f)) = i.and_then(|i| Some((i, schema.fields.get(i)?))) {
                let cur = Cur::of(own, inherited);
                let out = leaf(r, &f.ty, &j, cur, mode, path.child(&f.name))?;
                set_present(&mut present, Some(i), !out.null);
                if unread.get(i) != Some(&true) {
                    fields.push((i, index.key(i), out.value));
                }
            }
            continue;
        }
        let Some((i, f)) = i.and_then(|i| Some((i, schema.fields.get(i)?))) else {
            map.next_value_seed(Skip)?;
            continue;
        };
        let keep = unread.get(i) != Some(&true);
        let out = map.next_value_seed(FieldSeed {
            r,
            ty: &f.ty,
            cur: Cur::of(own, inherited),
            mode,
            path: path.child(&f.name),
            keep,
        })?;
        set_present(&mut present, Some(i), !out.null);
        if !keep {
            continue;
        }
        if out.provisional || out.pending != Pending::No {
            let bit = u32::try_from(fields.len())
                .ok()
                .and_then(|n| 1u64.checked_shl(n))
                .ok_or_else(give_up)?;
            if out.provisional {
                provisional |= bit;
            } else {
                nested |= bit;
            }
            deep |= out.pending == Pending::Deep;
        }
        fields.push((i, index.key(i), out.value));
    }
    if mode == Mode::Strict {
        for (i, f) in schema.fields.iter().enumerate() {
            if required(&f.ty) && !is_present(&present, Some(i)) {
                return Err(give_up());
            }
        }
    }
    let pending = match Cur::settled(own, inherited) {
        Cur::Known(c) => {
            // Provisional amounts are in USD already.
            if let Some(c) = c.filter(|c| Some(*c) != r.usd) {
                if deep {
                    return Err(give_up());
                }
                for (n, (_, _, v)) in fields.iter_mut().enumerate().take(64) {
                    if provisional & (1 << n) != 0 {
                        set_currency(v, c);
                    } else if nested & (1 << n) != 0 {
                        set_nested_currency(v, c);
                    }
                }
            }
            Pending::No
        }
        Cur::Open if deep || nested != 0 => Pending::Deep,
        Cur::Open if provisional != 0 => Pending::Own,
        Cur::Open => Pending::No,
    };
    // A schema's fields are in name order, so ordering the members by
    // their index orders them by name without comparing names (sorting by
    // name was a tenth of reading a log). Stable: of a repeated name the
    // last member ends its run, and is the one kept, as `from_fields`
    // keeps it. `from_fields` then finds them in order (it still checks).
    fields.sort_by_key(|f| f.0);
    fields.dedup_by(|later, earlier| {
        let same = later.0 == earlier.0;
        if same {
            std::mem::swap(&mut later.2, &mut earlier.2);
        }
        same
    });
    // Drained (the iterator knows its length: one block, no vector
    // between), and the room given back for the next record.
    let record = Record::from_fields(fields.drain(..).map(|(_, n, v)| (n, v)));
    r.members.give(fields);
    Ok(Typed { record, pending })
}

fn set_present(present: &mut [u64], i: Option<usize>, yes: bool) {
    if let Some(word) = i.and_then(|i| present.get_mut(i / 64)) {
        let bit = 1u64 << (i.unwrap_or(0) % 64);
        if yes {
            *word |= bit;
        } else {
            *word &= !bit;
        }
    }
}

fn is_present(present: &[u64], i: Option<usize>) -> bool {
    i.and_then(|i| present.get(i / 64).map(|w| w & (1u64 << (i % 64)) != 0))
        .unwrap_or(false)
}

/// One typed member.
struct Field {
    value: Value,
    /// It was `null`.
    null: bool,
    /// Amounts made in USD before the record's currency was known.
    provisional: bool,
    /// Nested records with amounts whose currency is still open.
    pending: Pending,
}

impl Field {
    fn plain(value: Value) -> Field {
        Field {
            value,
            null: false,
            provisional: false,
            pending: Pending::No,
        }
    }
    fn null() -> Field {
        Field {
            value: Value::None,
            null: true,
            provisional: false,
            pending: Pending::No,
        }
    }
}

/// A member declared `ty`, in a record whose currency is `cur`.
struct FieldSeed<'r, 's, 'p> {
    r: &'r Reader<'s>,
    ty: &'s FieldType,
    cur: Cur,
    mode: Mode,
    path: Path<'p>,
    /// False for a member typed only to be checked (its value is not
    /// kept): a text is then not made.
    keep: bool,
}

impl<'de> DeserializeSeed<'de> for FieldSeed<'_, '_, '_> {
    type Value = Field;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Field, D::Error> {
        let r = self.r;
        match base(self.ty) {
            FieldType::Record(name) | FieldType::Event(name) => {
                let decl = match base(self.ty) {
                    FieldType::Record(_) => r.record_decl(name),
                    _ => r.event_decl(name),
                };
                if let Some((schema, index)) = decl {
                    return d.deserialize_any(RecordSeed {
                        r,
                        schema,
                        index,
                        cur: self.cur,
                        mode: self.mode,
                        path: self.path,
                    });
                }
            }
            FieldType::List(inner) => {
                if let FieldType::Record(name) = base(inner)
                    && let Some((schema, index)) = r.record_decl(name)
                {
                    return d.deserialize_any(ListSeed(RecordSeed {
                        r,
                        schema,
                        index,
                        cur: self.cur,
                        mode: self.mode,
                        path: self.path,
                    }));
                }
            }
            FieldType::Unknown => {
                let value = Untyped.deserialize(d)?;
                return Ok(Field {
                    null: value.is_none(),
                    ..Field::plain(value)
                });
            }
            FieldType::Scalar(_) | FieldType::Union(_) => return d.deserialize_any(self),
            _ => {}
        }
        let j = J::deserialize(d)?;
        leaf(r, self.ty, &j, self.cur, self.mode, self.path)
    }
}

/// Scalars and unions: the usual shapes typed on the spot, anything else
/// by `leaf`.
impl<'de> Visitor<'de> for FieldSeed<'_, '_, '_> {
    type Value = Field;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a value")
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Field, E> {
        match base(self.ty) {
            FieldType::Scalar(Scalar::Bool) => Ok(Field::plain(Value::Bool(b))),
            _ => self.leaf(&J::Bool(b)),
        }
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Field, E> {
        let FieldType::Scalar(s) = base(self.ty) else {
            return self.leaf(&J::Num(n.into()));
        };
        let value = match s {
            Scalar::Int => Value::Int(n),
            Scalar::Decimal => Value::Decimal(Decimal::from(n)),
            Scalar::Percent => Value::Percent(Decimal::from(n)),
            Scalar::Money => return Ok(self.money(Decimal::from(n))),
            Scalar::Duration => Value::Duration(n),
            Scalar::Timestamp => match timestamp_number(&n.into()) {
                Some(ms) => Value::Timestamp(ms),
                None => return self.leaf(&J::Num(n.into())),
            },
            Scalar::String | Scalar::Email | Scalar::Phone | Scalar::Url | Scalar::Timezone => {
                Value::str(n.to_string())
            }
            _ => return self.leaf(&J::Num(n.into())),
        };
        Ok(Field::plain(value))
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Field, E> {
        match i64::try_from(n) {
            Ok(i) => self.visit_i64(i),
            Err(_) => self.leaf(&J::Num(n.into())),
        }
    }
    fn visit_f64<E: de::Error>(self, x: f64) -> Result<Field, E> {
        // As `JVisitor` reads it.
        let Some(n) = serde_json::Number::from_f64(x) else {
            return self.leaf(&J::Null);
        };
        let d = || number_decimal(&n);
        let value = match base(self.ty) {
            FieldType::Scalar(Scalar::Decimal) => d().map(Value::Decimal),
            FieldType::Scalar(Scalar::Percent) => d().map(Value::Percent),
            FieldType::Scalar(Scalar::Money) => match d() {
                Some(d) => return Ok(self.money(d)),
                None => None,
            },
            _ => None,
        };
        match value {
            Some(v) => Ok(Field::plain(v)),
            None => self.leaf(&J::Num(n)),
        }
    }
    fn visit_str<E: de::Error>(self, t: &str) -> Result<Field, E> {
        let value = match base(self.ty) {
            FieldType::Scalar(s) => match s {
                Scalar::String | Scalar::Email | Scalar::Phone | Scalar::Url | Scalar::Timezone => {
                    Some(match self.keep {
                        true => Value::Str(self.r.strings.get(trim(t))),
                        false => Value::None,
                    })
                }
                Scalar::Timestamp => timestamp_text(t).map(Value::Timestamp),
                Scalar::Date => date(t).map(Value::Date),
                Scalar::Time => time(t).map(Value::Time),
                Scalar::Currency => currency_code(t).map(|c| Value::str(c.as_str())),
                _ => None,
            },
            FieldType::Union(members) => {
                let t = trim(t);
                members
                    .iter()
                    .find(|m| m.as_str() == t)
                    .map(|m| Value::str(m.as_str()))
            }
            _ => None,
        };
        match value {
            Some(v) => Ok(Field::plain(v)),
            None => self.leaf(&J::Str(Cow::Borrowed(t))),
        }
    }
    fn visit_unit<E>(self) -> Result<Field, E> {
        Ok(Field::null())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Field, A::Error> {
        let j = JVisitor.visit_seq(seq)?;
        self.leaf(&j)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Field, A::Error> {
        let j = JVisitor.visit_map(map)?;
        self.leaf(&j)
    }
}

impl FieldSeed<'_, '_, '_> {
    fn leaf<E: de::Error>(self, j: &J) -> Result<Field, E> {
        leaf(self.r, self.ty, j, self.cur, self.mode, self.path)
    }

    /// An amount in the record's currency (provisionally USD while that is
    /// open).
    fn money(&self, amount: Decimal) -> Field {
        match self.cur {
            Cur::Known(c) => Field::plain(money(amount, c)),
            Cur::Open => Field {
                provisional: true,
                ..Field::plain(money(amount, None))
            },
        }
    }
}

/// A member typed by the general path's `Reader::typed` from its parsed
/// value (scalars, unions, lists of them, and rarer shapes).
fn leaf<E: de::Error>(
    r: &Reader,
    ty: &FieldType,
    j: &J,
    cur: Cur,
    mode: Mode,
    path: Path,
) -> Result<Field, E> {
    if j.is_null() {
        return Ok(Field::null());
    }
    let (currency, provisional) = match cur {
        Cur::Known(c) => (c, false),
        Cur::Open => {
            // Records typed here would settle their currency now.
            if holds_record(ty) {
                return Err(give_up());
            }
            let money = holds_money(ty);
            // `{amount, currency}` may name its own currency.
            if money && has_object(j) {
                return Err(give_up());
            }
            (None, money)
        }
    };
    let value = r
        .clean(|r, p| r.typed(path, ty, ty, j, currency, mode, p))
        .ok_or_else(give_up)?;
    Ok(Field {
        provisional,
        ..Field::plain(value)
    })
}

/// A nested record (or `null`).
struct RecordSeed<'r, 's, 'p> {
    r: &'r Reader<'s>,
    schema: &'s RecordSchema,
    index: &'r NameIndex<'s>,
    cur: Cur,
    mode: Mode,
    path: Path<'p>,
}

impl<'de> DeserializeSeed<'de> for RecordSeed<'_, '_, '_> {
    type Value = Field;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Field, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RecordSeed<'_, '_, '_> {
    type Value = Field;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_unit<E>(self) -> Result<Field, E> {
        Ok(Field::null())
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Field, A::Error> {
        let typed = record_map(
            self.r,
            self.schema,
            self.index,
            &[],
            self.cur,
            self.mode,
            self.path,
            map,
        )?;
        Ok(Field {
            pending: typed.pending,
            ..Field::plain(record(typed.record))
        })
    }
}

/// A list of nested records (or `null`); `null` elements are kept.
struct ListSeed<'r, 's, 'p>(RecordSeed<'r, 's, 'p>);

impl<'de> Visitor<'de> for ListSeed<'_, '_, '_> {
    type Value = Field;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list")
    }
    fn visit_unit<E>(self) -> Result<Field, E> {
        Ok(Field::null())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Field, A::Error> {
        let s = &self.0;
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        let mut pending = Pending::No;
        while let Some(item) = seq.next_element_seed(RecordSeed {
            r: s.r,
            schema: s.schema,
            index: s.index,
            cur: s.cur,
            mode: s.mode,
            path: s.path,
        })? {
            pending = pending.max(item.pending);
            items.push(item.value);
        }
        Ok(Field {
            pending,
            ..Field::plain(list(items))
        })
    }
}

/// A value read as `J` reads it — every string and number parsed, so what
/// serde_json refuses there (a lone surrogate escape, a number out of
/// range) is refused here too, as the general path would — and dropped.
/// (`IgnoredAny` checks only the syntax: it is used only where the general
/// path uses it, for the members of a line's own element nothing reads.)
struct Skip;

impl<'de> DeserializeSeed<'de> for Skip {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Skip {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Skip)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key_seed(Skip)?.is_some() {
            map.next_value_seed(Skip)?;
        }
        Ok(())
    }
}

/// Plain JSON straight to a value: `untyped_j` of the parsed `J`.
struct Untyped;

impl<'de> DeserializeSeed<'de> for Untyped {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

/// An object's members as plain values.
fn untyped_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<Record, A::Error> {
    let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(0));
    while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
        let v = map.next_value_seed(Untyped)?;
        fields.push((name(&k), v));
    }
    Ok(Record::from_fields(fields))
}

impl<'de> Visitor<'de> for Untyped {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(untyped_number(&n.into()))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(untyped_number(&n.into()))
    }
    fn visit_f64<E>(self, n: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(n).map_or(Value::None, |n| untyped_number(&n)))
    }
    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::str(s))
    }
    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::str(s))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(x) = seq.next_element_seed(Untyped)? {
            items.push(x);
        }
        Ok(list(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Value, A::Error> {
        Ok(record(untyped_map(map)?))
    }
}

#[cfg(test)]
#[allow(clippy::panic, reason = "a failing test may panic")]
mod tests;
