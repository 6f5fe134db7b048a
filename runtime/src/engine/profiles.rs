//! The engine state's per-profile lookup structures, laid out for the hot
//! path but serialized as plain ordered data:
//!
//! - [`Profiles`], the profile table: a hashed id → slot index over a
//!   `Vec` of profiles. A `BTreeMap<String, Profile>` compared a dozen cold
//!   id strings per lookup; this hashes the id once. Its order never shows:
//!   it serializes, compares and iterates in id order, exactly as the
//!   `BTreeMap` it replaced did (same postcard bytes). The index is
//!   [`SlotIndex`], written here rather than a `HashMap` so that a lookup
//!   can be split across the simulator's steps (see `Profiles::locate`).
//! - [`Seen`], a profile's recent message ids for de-duplication: the ids
//!   back to back in one string plus a 32-bit hash tag per id, so a check
//!   scans the tags and only reads an id whose tag matches (a collision
//!   never drops an event). It serializes as the list of ids,
//!   oldest first (the same bytes as the `VecDeque<String>` it replaced).
//!
//! The hasher is rustc-hash's, which has no random keys: the hashes are
//! never serialized, but keeping them fixed means a run never depends on
//! process state. (It replaced std's SipHash, built without random keys
//! for the same reason. Fixed keys made SipHash no harder to flood than
//! this; it was only slower: a lookup per input and per timer.)

use super::state::Profile;
use super::trace::Name;
use crate::chunks::Chunks;
use nudge_bytecode::value::same_name;
use serde::de::{Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::hash::BuildHasher;

type IdHash = rustc_hash::FxBuildHasher;

/// A profile id as a stored timer names it, held inside the key when short
/// (ids usually are). (It was the profile index's key, before `SlotIndex`.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdKey {
    Short(u8, [u8; 23]),
    Long(Box<str>),
}

impl IdKey {
    pub fn new(id: &str) -> IdKey {
        let mut bytes = [0u8; 23];
        match (bytes.get_mut(..id.len()), u8::try_from(id.len())) {
            (Some(slot), Ok(len)) => {
                slot.copy_from_slice(id.as_bytes());
                IdKey::Short(len, bytes)
            }
            _ => IdKey::Long(id.into()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            // Made from a whole `str` in `new`, so valid UTF-8.
            IdKey::Short(len, bytes) => bytes
                .get(..usize::from(*len))
                .and_then(|b| std::str::from_utf8(b).ok())
                .unwrap_or(""),
            IdKey::Long(s) => s,
        }
    }
}

impl fmt::Display for IdKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Serialized as the id string (the bytes of the `String` it replaced in
/// timers); decoded through `new`, so the same id is always the same variant.
impl Serialize for IdKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for IdKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<IdKey, D::Error> {
        let id = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Ok(IdKey::new(&id))
    }
}

/// Every profile the engine knows, by id.
#[derive(Debug, Clone, Default)]
pub struct Profiles {
    /// Id → index into `list`.
    index: SlotIndex,
    /// In the order the engine first saw each id (never observable). In
    /// chunks: growing never moves the profiles already there.
    list: Chunks<Profile>,
    /// Each profile's id as trace records carry it (same index as
    /// `list`), for work that starts from a slot (a timer).
    names: Vec<Name>,
}

impl Profiles {
    pub fn get(&self, id: &str) -> Option<&Profile> {
        let i = self.slot_of(id)?;
        self.list.get(i as usize)
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut Profile> {
        let i = self.slot_of(id)?;
        self.list.get_mut(i as usize)
    }

    /// The profile `id`, made with `new` when the engine has none yet.
    pub fn get_or_insert_with(&mut self, id: &str, new: impl FnOnce() -> Profile) -> &mut Profile {
        self.slot_or_insert_with(id, None, new).0
    }

    /// `get_or_insert_with`, with the profile's slot (its place in this
    /// table, for as long as the table lives: a decoded table numbers its
    /// profiles anew). `hint`, a slot the caller looked up before
    /// (`prefetch`), is taken when it holds `id`, saving the hash lookup.
    pub fn slot_or_insert_with(
        &mut self,
        id: &str,
        hint: Option<u32>,
        new: impl FnOnce() -> Profile,
    ) -> (&mut Profile, u32) {
        let known = hint.filter(|&s| self.id_at(s).is_some_and(|at| same_name(at, id)));
        let i = match known.or_else(|| self.slot_of(id)) {
            Some(i) => i as usize,
            None => self.push(id, new()),
        };
        // `i` is in range: the index only holds slots of `list`.
        match self.list.get_mut(i) {
            Some(p) => (p, u32::try_from(i).unwrap_or(u32::MAX)),
            None => unreachable!("profile slot {i} out of range"),
        }
    }

    /// The profile at `slot` (a timer's, see `timers::Timer`), with its id.
    pub fn at_mut(&mut self, slot: u32) -> Option<(&mut Profile, &Name)> {
        let i = slot as usize;
        Some((self.list.get_mut(i)?, self.names.get(i)?))
    }

    /// Starts loading the profile at `slot`'s own lines (a hint).
    pub fn prefetch_at(&self, slot: u32) {
        if let Some(p) = self.list.get(slot as usize) {
            nudge_sys::prefetch(p, std::mem::size_of::<Profile>().div_ceil(64));
        }
    }

    /// Starts loading the blocks the profile at `slot` points to: its
    /// traits and seen ids whole, up to four journeys, and the first lines
    /// of its aggregates and open goals; and its id (a hint).
    pub fn prefetch_blocks(&self, slot: u32) {
        let Some(p) = self.list.get(slot as usize) else {
            return;
        };
        // Its id, which `slot_or_insert_with` checks a hint against.
        if let Some(id) = self.names.get(slot as usize) {
            nudge_sys::prefetch(id, 1);
        }
        if let Some(f) = p.traits.first_field() {
            nudge_sys::prefetch(f, (p.traits.len() * std::mem::size_of_val(f)).div_ceil(64));
        }
        if let Some(b) = p.seen.first_byte() {
            nudge_sys::prefetch(b, p.seen.block_len().div_ceil(64).min(8));
        }
        for j in p.journeys.iter().take(4) {
            nudge_sys::prefetch(j, 4);
        }
        if let Some(a) = p.aggregates.first() {
            nudge_sys::prefetch(a, 1);
        }
        if let Some(g) = p.goals.first() {
            nudge_sys::prefetch(g, 1);
        }
    }

    /// The id of the profile at `slot`.
    pub fn id_at(&self, slot: u32) -> Option<&str> {
        self.names.get(slot as usize).map(Name::as_str)
    }

    /// The slot of the profile `id`.
    pub fn slot_of(&self, id: &str) -> Option<u32> {
        self.index.find(SlotIndex::hash(id), id, &self.names)
    }

    /// The first step of a lookup split across steps: `id`'s hash, with
    /// its place in the index starting to load (a hint). `guess` takes it
    /// on a later step.
    pub fn locate(&self, id: &str) -> u64 {
        let hash = SlotIndex::hash(id);
        self.index.prefetch(hash);
        hash
    }

    /// The hash `locate` takes of `id` (the same for every table).
    pub fn hash(id: &str) -> u64 {
        SlotIndex::hash(id)
    }

    /// `locate` for a hash taken already (`Profiles::hash`).
    pub fn locate_hash(&self, hash: u64) {
        self.index.prefetch(hash);
    }

    /// The second step: the slot of the first profile whose id has the
    /// hash's tag (without comparing ids, so usually the profile of the id
    /// `locate` hashed, or none when it is new), with its own lines
    /// starting to load. A hint: `slot_or_insert_with` checks it against
    /// the id.
    pub fn guess(&self, hash: u64) -> Option<u32> {
        let slot = self.index.guess(hash)?;
        self.prefetch_at(slot);
        Some(slot)
    }

    pub fn insert(&mut self, id: &str, profile: Profile) {
        match self.slot_of(id) {
            Some(i) => {
                if let Some(slot) = self.list.get_mut(i as usize) {
                    *slot = profile;
                }
            }
            None => {
                self.push(id, profile);
            }
        }
    }

    fn push(&mut self, id: &str, profile: Profile) -> usize {
        let i = self.list.len();
        // More than 4 billion profiles would not fit in memory anyway;
        // saturating keeps this panic-free.
        self.list.push(profile);
        self.names.push(Name::from(id));
        self.index.insert(
            SlotIndex::hash(id),
            u32::try_from(i).unwrap_or(u32::MAX),
            &self.names,
        );
        i
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Every profile, in id order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Profile)> {
        let mut ids: Vec<(&str, u32)> = (0u32..)
            .zip(&self.names)
            .map(|(i, name)| (name.as_str(), i))
            .collect();
        ids.sort_unstable_by(|a, b| a.0.cmp(b.0));
        ids.into_iter()
            .filter_map(|(id, i)| self.list.get(i as usize).map(|p| (id, p)))
    }

    /// Every profile, in id order.
    pub fn values(&self) -> impl Iterator<Item = &Profile> {
        self.iter().map(|(_, p)| p)
    }
}

impl PartialEq for Profiles {
    /// Same ids with equal profiles, whatever order they were added in.
    fn eq(&self, other: &Profiles) -> bool {
        self.len() == other.len()
            && self
                .names
                .iter()
                .zip(self.list.iter())
                .all(|(id, p)| other.get(id.as_str()) == Some(p))
    }
}

impl Eq for Profiles {}

impl Serialize for Profiles {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.len()))?;
        for (id, p) in self.iter() {
            m.serialize_entry(id, p)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Profiles {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Profiles, D::Error> {
        let map = BTreeMap::<String, Profile>::deserialize(d)?;
        let mut out = Profiles::default();
        out.list.reserve(map.len());
        out.names.reserve(map.len());
        for (id, p) in map {
            out.push(&id, p);
        }
        Ok(out)
    }
}

/// Profile id → slot: open addressing with linear probing, an entry of 8
/// bytes per place: 32 bits of the id's hash (its tag) and the slot + 1 (0
/// for an empty place). The ids themselves are `Profiles::names`; a lookup
/// compares an id only when its tag matches. At most 7/8 full, so a probe
/// always meets an empty place.
///
/// Written here rather than a `HashMap` because the simulator splits a
/// lookup across steps (`Profiles::locate`, `Profiles::guess`): the place
/// is prefetched from the hash alone, and read a step later, so a lookup
/// no longer waits on memory (`HashMap` lookups by the simulator were 5%
/// of a 1M-event run, all of it waiting).
#[derive(Debug, Clone, Default)]
struct SlotIndex {
    /// A power of two long, or empty.
    places: Vec<u64>,
    len: usize,
}

impl SlotIndex {
    fn hash(id: &str) -> u64 {
        IdHash::default().hash_one(id)
    }

    /// The tag of a hash: its high half, the best mixed of rustc-hash's.
    fn tag(hash: u64) -> u64 {
        hash >> 32
    }

    /// The places a probe for `hash` visits, in order: from its home
    /// place on, wrapping around once.
    fn probe(&self, hash: u64) -> impl Iterator<Item = (usize, u64)> + '_ {
        let mask = self.places.len().wrapping_sub(1);
        // The low bits (rustc-hash rotates its high bits into them).
        let home = (hash as usize) & mask;
        (0..self.places.len()).map(move |n| {
            let i = (home + n) & mask;
            (i, self.places.get(i).copied().unwrap_or(0))
        })
    }

    fn prefetch(&self, hash: u64) {
        let mask = self.places.len().wrapping_sub(1);
        if let Some(place) = self.places.get((hash as usize) & mask) {
            nudge_sys::prefetch(place, 1);
        }
    }

    /// The slots of the entries with `hash`'s tag, in probe order: one of
    /// them is the id's, if it is in the index.
    fn candidates(&self, hash: u64) -> impl Iterator<Item = u32> + '_ {
        let tag = SlotIndex::tag(hash);
        self.probe(hash)
            .map(|(_, e)| e)
            .take_while(|&e| e != 0)
            .filter(move |&e| e >> 32 == tag)
            .map(|e| (e as u32).wrapping_sub(1))
    }

    /// The first candidate (see `Profiles::guess`).
    fn guess(&self, hash: u64) -> Option<u32> {
        self.candidates(hash).next()
    }

    fn find(&self, hash: u64, id: &str, names: &[Name]) -> Option<u32> {
        self.candidates(hash)
            .find(|&slot| names.get(slot as usize).is_some_and(|n| n.as_str() == id))
    }

    /// Adds `slot`, whose id (in `names`) is not in the index and hashes to
    /// `hash`.
    fn insert(&mut self, hash: u64, slot: u32, names: &[Name]) {
        if (self.len + 1) * 8 > self.places.len() * 7 {
            self.grow(names);
        }
        let entry = (SlotIndex::tag(hash) << 32) | u64::from(slot.wrapping_add(1));
        let free = self.probe(hash).find(|&(_, e)| e == 0).map(|(i, _)| i);
        if let Some(place) = free.and_then(|i| self.places.get_mut(i)) {
            *place = entry;
            self.len += 1;
        }
    }

    /// Doubles the places (16 at first) and puts every entry back.
    fn grow(&mut self, names: &[Name]) {
        let room = (self.places.len() * 2).max(16);
        let old = std::mem::replace(&mut self.places, vec![0; room]);
        self.len = 0;
        for e in old.into_iter().filter(|&e| e != 0) {
            let slot = (e as u32).wrapping_sub(1);
            if let Some(name) = names.get(slot as usize) {
                self.insert(SlotIndex::hash(name.as_str()), slot, names);
            }
        }
    }
}

/// The message ids a profile saw last (at most [`super::state::DEDUPE_WINDOW`]).
///
/// One block of memory, oldest first: per id, 32 bits of its hash (a tag),
/// its length (32 bits), then its text. A check walks the block and compares
/// an id's text only when its tag matches; remembering an id appends to the
/// block just read. (Tags and texts in two blocks were two cache misses on a
/// cold profile, one per input.)
#[derive(Debug, Clone, Default)]
pub struct Seen {
    block: Vec<u8>,
    /// Ids in `block`.
    count: u32,
}

/// How many ids a profile's `Seen` makes room for at its first.
const FIRST_ROOM: usize = 16;

/// Bytes before an id's text in `Seen::block`: its tag and its length.
const HEAD: usize = 8;

impl Seen {
    /// The first byte of the block (for a prefetch).
    pub fn first_byte(&self) -> Option<&u8> {
        self.block.first()
    }

    /// The block's length in bytes.
    pub fn block_len(&self) -> usize {
        self.block.len()
    }

    fn tag(id: &str) -> u32 {
        // A fast hash is enough: a tag only narrows the ids compared in
        // full, so even a forged collision costs one comparison, never an
        // event. The high half of rustc-hash's output is its best mixed.
        (rustc_hash::FxBuildHasher.hash_one(id) >> 32) as u32
    }

    pub fn contains(&self, id: &str) -> bool {
        self.has(Seen::tag(id), id)
    }

    /// Remembers `id` unless it is already remembered; true when it was
    /// new (`contains` then `push`, hashing the id once).
    pub fn insert(&mut self, id: &str, window: usize) -> bool {
        let tag = Seen::tag(id);
        if self.has(tag, id) {
            return false;
        }
        self.push_tagged(tag, id, window);
        true
    }

    fn has(&self, tag: u32, id: &str) -> bool {
        self.entries()
            .any(|(t, text)| t == tag && text == id.as_bytes())
    }

    /// Each id's tag and text, oldest first.
    fn entries(&self) -> impl Iterator<Item = (u32, &[u8])> {
        let mut rest = self.block.as_slice();
        std::iter::from_fn(move || {
            let (head, tail) = rest.split_first_chunk::<HEAD>()?;
            let [t0, t1, t2, t3, l0, l1, l2, l3] = *head;
            let len = u32::from_le_bytes([l0, l1, l2, l3]) as usize;
            let text = tail.get(..len)?;
            rest = tail.get(len..).unwrap_or_default();
            Some((u32::from_le_bytes([t0, t1, t2, t3]), text))
        })
    }

    /// Remembers `id`, forgetting the oldest ids beyond `window`.
    pub fn push(&mut self, id: &str, window: usize) {
        self.push_tagged(Seen::tag(id), id, window);
    }

    fn push_tagged(&mut self, tag: u32, id: &str, window: usize) {
        // An id longer than 4 GiB cannot come from one input line.
        let Ok(len) = u32::try_from(id.len()) else {
            return;
        };
        if self.block.capacity() == 0 {
            // Room for the ids of a typical profile at once, instead of
            // growing the block four or five times on cold memory.
            self.block
                .reserve(FIRST_ROOM.min(window) * (HEAD + id.len()));
        }
        self.block.extend_from_slice(&tag.to_le_bytes());
        self.block.extend_from_slice(&len.to_le_bytes());
        self.block.extend_from_slice(id.as_bytes());
        self.count = self.count.saturating_add(1);
        let excess = (self.count as usize).saturating_sub(window);
        if excess > 0 {
            let drop: usize = self
                .entries()
                .take(excess)
                .map(|(_, text)| HEAD + text.len())
                .sum();
            self.count = self
                .count
                .saturating_sub(u32::try_from(excess).unwrap_or(u32::MAX));
            self.block.drain(..drop.min(self.block.len()));
        }
    }

    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The ids, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        // Only whole `&str`s are ever stored.
        self.entries()
            .map(|(_, text)| std::str::from_utf8(text).unwrap_or(""))
    }
}

impl PartialEq for Seen {
    fn eq(&self, other: &Seen) -> bool {
        // The tags follow from the texts.
        self.count == other.count && self.entries().map(|e| e.1).eq(other.entries().map(|e| e.1))
    }
}

impl Eq for Seen {}

impl Serialize for Seen {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.len()))?;
        for id in self.iter() {
            seq.serialize_element(id)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for Seen {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Seen, D::Error> {
        struct Ids;
        impl<'de> Visitor<'de> for Ids {
            type Value = Seen;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of message ids")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Seen, A::Error> {
                let mut seen = Seen::default();
                while let Some(id) = a.next_element::<String>()? {
                    // No window here: a stored state keeps what it kept.
                    seen.push(&id, usize::MAX);
                }
                Ok(seen)
            }
        }
        d.deserialize_seq(Ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    #[test]
    fn seen_keeps_a_window_and_round_trips_as_the_list_of_ids() {
        let mut s = Seen::default();
        for id in ["a", "bb", "ccc", "dddd"] {
            s.push(id, 3);
        }
        assert!(!s.contains("a"));
        assert!(s.contains("bb") && s.contains("ccc") && s.contains("dddd"));
        assert!(!s.contains("cc") && !s.contains("bbc"));
        assert_eq!(s.iter().collect::<Vec<_>>(), ["bb", "ccc", "dddd"]);
        let bytes = postcard::to_allocvec(&s).unwrap_or_default();
        let old: VecDeque<String> = ["bb", "ccc", "dddd"].map(String::from).into();
        assert_eq!(bytes, postcard::to_allocvec(&old).unwrap_or_default());
        let back: Seen = postcard::from_bytes(&bytes).unwrap_or_default();
        assert_eq!(back, s);
        assert!(back.contains("ccc"));
    }

    #[test]
    fn insert_is_contains_then_push() {
        let mut s = Seen::default();
        for id in ["a", "bb", "ccc"] {
            assert!(s.insert(id, 3), "{id} is new");
        }
        assert!(!s.insert("bb", 3), "already there");
        assert!(s.insert("dddd", 3));
        assert_eq!(s.iter().collect::<Vec<_>>(), ["bb", "ccc", "dddd"]);
        assert!(s.insert("a", 3), "forgotten, so new again");
    }

    #[test]
    fn a_full_window_forgets_the_oldest_ids_whatever_their_lengths() {
        let mut s = Seen::default();
        let ids: Vec<String> = (0..200)
            .map(|i| "x".repeat(i % 40) + &i.to_string())
            .collect();
        for (n, id) in ids.iter().enumerate() {
            assert!(s.insert(id, 64));
            assert_eq!(s.len(), (n + 1).min(64));
            let kept: Vec<&str> = s.iter().collect();
            let want: Vec<&str> = ids[(n + 1).saturating_sub(64)..=n]
                .iter()
                .map(String::as_str)
                .collect();
            assert_eq!(kept, want);
        }
        assert!(!s.contains(&ids[135]) && s.contains(&ids[136]));
        let back: Seen = postcard::from_bytes(&postcard::to_allocvec(&s).unwrap_or_default())
            .unwrap_or_default();
        assert_eq!(back, s);
    }

    #[test]
    fn a_tag_collision_compares_the_whole_id() {
        let mut s = Seen::default();
        s.push("m1", 64);
        s.push("m2", 64);
        // Forge "m1"'s tag to equal "other"'s, as a collision would.
        if let Some(tag) = s.block.first_chunk_mut::<4>() {
            *tag = Seen::tag("other").to_le_bytes();
        }
        assert!(!s.contains("other"));
        assert!(s.contains("m2"));
    }

    #[test]
    fn profiles_serialize_and_compare_in_id_order() {
        let p = |n: i64| Profile {
            entries: smallvec::smallvec![(0, n)],
            ..Profile::default()
        };
        let mut a = Profiles::default();
        let mut b = Profiles::default();
        let mut m = BTreeMap::new();
        for (id, n) in [("zed", 1), ("amy", 2), ("mo", 3)] {
            a.insert(id, p(n));
            m.insert(id.to_string(), p(n));
        }
        for (id, n) in [("mo", 3), ("zed", 1), ("amy", 2)] {
            b.get_or_insert_with(id, || p(n));
        }
        assert_eq!(a, b);
        let bytes = postcard::to_allocvec(&a).unwrap_or_default();
        assert_eq!(bytes, postcard::to_allocvec(&b).unwrap_or_default());
        assert_eq!(bytes, postcard::to_allocvec(&m).unwrap_or_default());
        let ids: Vec<&str> = a.iter().map(|(id, _)| id).collect();
        assert_eq!(ids, ["amy", "mo", "zed"]);
        let back: Profiles = postcard::from_bytes(&bytes).unwrap_or_default();
        assert_eq!(back, a);
        assert_eq!(back.get("mo"), Some(&p(3)));
    }

    /// A hint is taken only when its slot holds the id; any other hint
    /// (another profile's slot, one past the table) falls back to the
    /// lookup, and an unknown id is still added.
    #[test]
    fn a_slot_hint_is_checked_against_the_id() {
        let mut t = Profiles::default();
        for id in ["a", "b"] {
            t.get_or_insert_with(id, Profile::default);
        }
        assert_eq!(t.slot_or_insert_with("b", Some(1), Profile::default).1, 1);
        assert_eq!(t.slot_or_insert_with("b", Some(0), Profile::default).1, 1);
        assert_eq!(t.slot_or_insert_with("a", Some(7), Profile::default).1, 0);
        assert_eq!(t.slot_or_insert_with("c", Some(0), Profile::default).1, 2);
        assert_eq!(t.len(), 3);
        assert_eq!(t.id_at(0), Some("a"));
    }

    #[test]
    fn the_index_finds_every_id_across_growth() {
        let mut t = Profiles::default();
        let ids: Vec<String> = (0..20_000).map(|i| format!("user-{i}")).collect();
        for (n, id) in ids.iter().enumerate() {
            let (_, slot) = t.slot_or_insert_with(id, None, Profile::default);
            assert_eq!(slot as usize, n);
        }
        assert!(t.index.len * 8 <= t.index.places.len() * 7);
        for (n, id) in ids.iter().enumerate() {
            assert_eq!(t.slot_of(id), Some(n as u32), "{id}");
            // Without a tag collision, the guess is the profile's slot.
            assert_eq!(t.guess(t.locate(id)), Some(n as u32), "{id}");
        }
        for id in ["", "user-20000", "user-", "x"] {
            assert_eq!(t.slot_of(id), None, "{id}");
        }
        assert_eq!(t.len(), 20_000);
        assert_eq!(t.iter().count(), 20_000);
    }

    /// Two ids with the same hash (forged here): the guess is the first
    /// one's slot, the lookup compares ids and finds each.
    #[test]
    fn a_hash_collision_compares_ids() {
        let names: Vec<Name> = ["a", "b", "c"].into_iter().map(Name::from).collect();
        let mut index = SlotIndex::default();
        index.insert(42, 0, &names);
        index.insert(42, 1, &names);
        index.insert(42 + (1 << 32), 2, &names);
        assert_eq!(index.find(42, "a", &names), Some(0));
        assert_eq!(index.find(42, "b", &names), Some(1));
        assert_eq!(index.find(42, "c", &names), None);
        assert_eq!(index.find(42 + (1 << 32), "c", &names), Some(2));
        assert_eq!(index.guess(42), Some(0));
        assert_eq!(index.guess(42 + (5 << 32)), None);
        assert_eq!(SlotIndex::default().find(42, "a", &names), None);
        assert_eq!(SlotIndex::default().guess(42), None);
    }
}
