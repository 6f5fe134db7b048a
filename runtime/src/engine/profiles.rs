//! The engine state's per-profile lookup structures, laid out for the hot
//! path but serialized as plain ordered data:
//!
//! - [`Profiles`], the profile table: a hashed id → slot index over a
//!   `Vec` of profiles. A `BTreeMap<String, Profile>` compared a dozen cold
//!   id strings per lookup; this hashes the id once. Its order never shows:
//!   it serializes, compares and iterates in id order, exactly as the
//!   `BTreeMap` it replaced did (same postcard bytes).
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
use serde::de::{Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};

type IdHash = rustc_hash::FxBuildHasher;

/// A profile id as a hash-map key, held inside the key when short (ids
/// usually are): a lookup compares bytes in the table instead of following
/// a pointer into memory no other work touches.
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

impl Hash for IdKey {
    /// The id's bytes only (the same id always makes the same variant),
    /// not the padding of a short key.
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.as_str().hash(h);
    }
}

/// Every profile the engine knows, by id.
#[derive(Debug, Clone, Default)]
pub struct Profiles {
    /// Id → index into `list`.
    index: HashMap<IdKey, u32, IdHash>,
    /// In the order the engine first saw each id (never observable). In
    /// chunks: growing never moves the profiles already there.
    list: Chunks<Profile>,
    /// Each profile's id as trace records share it (same index as
    /// `list`): made once per profile instead of once per input, and one
    /// shared text per profile lets a shell tell profiles apart by
    /// address (`Name::same`).
    names: Vec<Name>,
}

impl Profiles {
    pub fn get(&self, id: &str) -> Option<&Profile> {
        let &i = self.index.get(&IdKey::new(id))?;
        self.list.get(i as usize)
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut Profile> {
        let &i = self.index.get(&IdKey::new(id))?;
        self.list.get_mut(i as usize)
    }

    /// The profile `id`, made with `new` when the engine has none yet.
    pub fn get_or_insert_with(&mut self, id: &str, new: impl FnOnce() -> Profile) -> &mut Profile {
        self.named_or_insert_with(id, new).0
    }

    /// `get_or_insert_with`, with the profile's shared id and its slot (its
    /// place in this table, for as long as the table lives: a decoded table
    /// numbers its profiles anew).
    pub fn named_or_insert_with(
        &mut self,
        id: &str,
        new: impl FnOnce() -> Profile,
    ) -> (&mut Profile, &Name, u32) {
        let i = match self.index.get(&IdKey::new(id)) {
            Some(&i) => i as usize,
            None => self.push(id, new()),
        };
        // `i` is in range of both: the index only holds slots of `list`,
        // and `names` grows with `list`.
        match (self.list.get_mut(i), self.names.get(i)) {
            (Some(p), Some(name)) => (p, name, u32::try_from(i).unwrap_or(u32::MAX)),
            _ => unreachable!("profile slot {i} out of range"),
        }
    }

    /// `get_mut`, with the profile's shared id and slot.
    pub fn named_mut(&mut self, id: &str) -> Option<(&mut Profile, &Name, u32)> {
        let &i = self.index.get(&IdKey::new(id))?;
        let p = self.list.get_mut(i as usize)?;
        Some((p, self.names.get(i as usize)?, i))
    }

    /// Adds or replaces the profile `id`.
    pub fn insert(&mut self, id: &str, profile: Profile) {
        match self.index.get(&IdKey::new(id)) {
            Some(&i) => {
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
        self.index
            .insert(IdKey::new(id), u32::try_from(i).unwrap_or(u32::MAX));
        self.list.push(profile);
        self.names.push(Name::from(id));
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
        let mut ids: Vec<(&str, u32)> = self.index.iter().map(|(k, &i)| (k.as_str(), i)).collect();
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
            && self.index.iter().all(|(id, &i)| {
                self.list
                    .get(i as usize)
                    .is_some_and(|p| other.get(id.as_str()) == Some(p))
            })
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

/// The message ids a profile saw last (at most [`super::state::DEDUPE_WINDOW`]).
///
/// A check scans only the entries (8 bytes an id: a full window is eight
/// cache lines) and reads an id's text only when its tag matches. Two
/// blocks of memory, not three: each is a cache miss on a cold profile.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// Per id, oldest first: 32 bits of its hash, and its length in `text`.
    entries: VecDeque<(u32, u32)>,
    /// The ids, oldest first, back to back.
    text: String,
}

/// How many ids a profile's `Seen` makes room for at its first.
const FIRST_ROOM: usize = 16;

impl Seen {
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
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, (t, _))| *t == tag)
            .any(|(i, _)| self.id(i) == Some(id))
    }

    /// The `i`th id, oldest first (summing lengths: only on a tag match).
    fn id(&self, i: usize) -> Option<&str> {
        let start: usize = self.entries.iter().take(i).map(|e| e.1 as usize).sum();
        let len = self.entries.get(i)?.1 as usize;
        self.text.get(start..start + len)
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
        if self.entries.is_empty() {
            // Room for the ids of a typical profile at once, instead of
            // growing both blocks four or five times on cold memory.
            self.entries.reserve(FIRST_ROOM.min(window));
            self.text.reserve(FIRST_ROOM.min(window) * id.len());
        }
        self.entries.push_back((tag, len));
        self.text.push_str(id);
        let mut drop = 0usize;
        while self.entries.len() > window {
            drop += self.entries.pop_front().map_or(0, |e| e.1 as usize);
        }
        if drop > 0 {
            // Ids are whole strings, so `drop` is a char boundary.
            self.text.drain(..drop.min(self.text.len()));
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The ids, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let mut start = 0usize;
        self.entries.iter().map(move |&(_, len)| {
            let end = start + len as usize;
            let id = self.text.get(start..end).unwrap_or("");
            start = end;
            id
        })
    }
}

impl PartialEq for Seen {
    fn eq(&self, other: &Seen) -> bool {
        // The tags follow from the text.
        self.text == other.text
            && self
                .entries
                .iter()
                .map(|e| e.1)
                .eq(other.entries.iter().map(|e| e.1))
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
    fn a_tag_collision_compares_the_whole_id() {
        let mut s = Seen::default();
        s.push("m1", 64);
        s.push("m2", 64);
        // Forge "m1"'s tag to equal "other"'s, as a collision would.
        if let Some(e) = s.entries.front_mut() {
            e.0 = Seen::tag("other");
        }
        assert!(!s.contains("other"));
        assert!(s.contains("m2"));
    }

    #[test]
    fn profiles_serialize_and_compare_in_id_order() {
        let p = |n: i64| Profile {
            entries: vec![(0, n)],
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
}
