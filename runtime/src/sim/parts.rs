//! Partitioned runs: the profiles split into `PARTS` partitions by a hash
//! of their id, each with an engine state of its own, and each
//! partition's inputs run together.
//!
//! Nothing about one profile depends on another (journeys are numbered
//! per profile; a profile's timers and inputs interleave by time alone),
//! so each profile's story is the one a single state tells. What changes
//! is locality. Run one input after another over a hundred thousand
//! profiles, and every input and timer finds its profile cold (memory and
//! TLB misses were about a third of a 1M-event run). Run a partition at a
//! time, and its profiles stay in the cache while its inputs come.
//!
//! Lines are routed without being read (`route`, a scan of the line's
//! top-level keys for `userId` and `anonymousId`) and held per partition,
//! up to `BUDGET` bytes in all; then each partition reads its lines, all
//! of them, and runs their inputs in order, taking their trace records
//! into the story a thousand at a time (each kind of work in a run of its
//! own, so the reader's, the engine's and the story's code do not push one
//! another out of the instruction cache), and the next lines are routed.
//! A line the scan cannot place for certain (a batch, an id with escapes,
//! a number as id, anything unusual) is read at once and its inputs are
//! held instead. The story is told per profile, so it reads as a
//! sequential run's (`Story::told`); problems are put back in line order.
//!
//! A partition's inputs must come in time order, as a sequential run's
//! must. An input older than its partition's last is late: the caller
//! reads the log again whole, sorted, as it does for a sequential run.

use super::ingest::{LineProblem, Reader};
use super::{LogSource, Run, Simulation, input_profile, line_text};
use crate::engine::Input;
use crate::engine::profiles::Profiles;
use crate::engine::state::EngineState;

/// Partitions of the profiles. At 1M events over 100k profiles, about
/// 100 profiles a partition: their state stays in the cache while their
/// held inputs run. (Against 128 partitions of ~800 profiles: a few
/// percent faster, measured with 64 MiB held.)
pub(super) const PARTS: usize = 1024;

/// Bytes of routed lines held before the partitions run. Each profile then
/// has a few inputs waiting when its partition runs (at 1M events over
/// 100k profiles, lines of ~350 bytes: about four each). More holds more
/// memory for less time: a 1M-event run, all lines held at once, took
/// about a tenth less time than with 64 MiB held, and 900 MB at its peak.
pub(super) const BUDGET: usize = 128 << 20;

/// The most a partition reserves for its text at once (its share of a
/// larger budget grows as it fills).
const SHARE_CAP: usize = 1 << 20;

/// What an input read at routing time is counted as against `BUDGET`.
const INPUT_BYTES: usize = 512;

/// One partition: its state, and what waits to run in it.
#[derive(Default)]
struct Part {
    state: EngineState,
    /// Story numbers of the state's profiles, by slot (`Run::numbers`).
    numbers: Vec<u32>,
    /// The held lines, back to back.
    text: String,
    items: Vec<Item>,
    /// The instant of the last input run.
    last: i64,
}

/// A held line or input, in log order, with the hash of its profile's id
/// (`Profiles::hash`).
struct Item {
    hash: u64,
    what: What,
}

enum What {
    /// Line `line` of the log, `Part::text` up to `end`.
    Line { line: usize, end: usize },
    /// An input read at routing time (taken when it runs).
    Input(Option<Box<Input>>),
}

/// The partition of the profile whose id has `hash`: its high bits, by a
/// multiply-shift of the whole hash into range. (The profile table of a
/// partition starts its probes from the low bits.)
fn part_of(hash: u64) -> usize {
    ((u128::from(hash) * PARTS as u128) >> 64) as usize
}

/// The hash of an input's profile id (0 for an input without one, which
/// the reader never makes).
fn hash_of(input: &Input) -> u64 {
    input_profile(input).map_or(0, Profiles::hash)
}

/// Runs `src` partitioned; `None` when an input came late (in its
/// partition), for the caller to run the log sorted.
pub(super) fn simulate(
    mut run: Run<'_>,
    src: &mut dyn LogSource,
    until: Option<i64>,
    budget: usize,
) -> std::io::Result<Option<Simulation>> {
    let reader = Reader::for_bundle(run.bundle);
    run.partitioned = true;
    let mut parts: Vec<Part> = (0..PARTS)
        .map(|_| Part {
            last: i64::MIN,
            ..Part::default()
        })
        .collect();
    let mut problems = Vec::new();
    let mut held = 0;
    let mut late = false;
    let mut line_no = 0;
    let mut read = Vec::new();
    src.each_line(&mut |bytes| {
        line_no += 1;
        let Some(text) = line_text(line_no, bytes, &mut problems) else {
            return true;
        };
        // The id's bytes lie between ASCII characters of the line: text.
        match route(text.as_bytes()).and_then(|id| std::str::from_utf8(id).ok()) {
            Some(id) => {
                let hash = Profiles::hash(id);
                if let Some(part) = parts.get_mut(part_of(hash)) {
                    if part.text.capacity() == 0 {
                        // Room for a partition's share of the budget at
                        // once: grown by doubling, each partition's text
                        // was copied and faulted in anew at every step.
                        part.text
                            .reserve(budget.min(SHARE_CAP * PARTS) / PARTS * 5 / 4);
                    }
                    part.text.push_str(text);
                    let end = part.text.len();
                    let what = What::Line { line: line_no, end };
                    part.items.push(Item { hash, what });
                }
                held += text.len() + std::mem::size_of::<Item>();
            }
            None => {
                reader.read_line(line_no, text, &mut problems, &mut |_, input| {
                    read.push(input)
                });
                for input in read.drain(..) {
                    let hash = hash_of(&input);
                    if let Some(part) = parts.get_mut(part_of(hash)) {
                        let what = What::Input(Some(Box::new(input)));
                        part.items.push(Item { hash, what });
                    }
                    held += INPUT_BYTES;
                }
            }
        }
        if held >= budget {
            held = 0;
            if !run_held(&mut run, &mut parts, &reader, &mut problems) {
                late = true;
                return false;
            }
        }
        true
    })?;
    if late || !run_held(&mut run, &mut parts, &reader, &mut problems) {
        return Ok(None);
    }
    // A sequential run fires every timer due by its last input, whoever's
    // input that was: so does every partition here.
    let last = parts.iter().map(|p| p.last).max().unwrap_or(i64::MIN);
    for part in &mut parts {
        swap(&mut run, part);
        if last > i64::MIN {
            run.settle(Some(last));
        }
        run.settle(until);
        swap(&mut run, part);
    }
    name_profiles(&mut run, &mut parts);
    let states = parts.into_iter().map(|p| p.state).collect();
    let mut sim = run.into_simulation(states);
    // Each line was read in one partition (or at routing): a stable sort
    // keeps each line's problems in the order they were found.
    problems.sort_by_key(|p: &LineProblem| p.line);
    sim.problems = problems;
    Ok(Some(sim))
}

/// Puts `part`'s state in the run (and the run's back in `part`).
fn swap(run: &mut Run<'_>, part: &mut Part) {
    std::mem::swap(&mut run.state, &mut part.state);
    std::mem::swap(&mut run.numbers, &mut part.numbers);
}

/// Reads and runs every partition's held lines and inputs, partition by
/// partition; false when an input came late, or was not routed where its
/// profile is (which `route` is written never to do: rather than trust it,
/// the run then starts over sorted, which needs no routing).
///
/// Within a partition the profiles load ahead, as a sequential run's do
/// (`simulate_source`), from the hash each item carries: the place in the
/// profile index three items ahead, the profile two ahead, its blocks one
/// ahead.
fn run_held(
    run: &mut Run<'_>,
    parts: &mut [Part],
    reader: &Reader<'_>,
    problems: &mut Vec<LineProblem>,
) -> bool {
    let mut inputs = Vec::new();
    for part in parts.iter_mut() {
        if part.items.is_empty() {
            continue;
        }
        swap(run, part);
        // Taken out to be read beside the partition (and given back empty,
        // its room kept for the next lines).
        let mut items = std::mem::take(&mut part.items);
        let ok = run_part(run, part, &mut items, reader, problems, &mut inputs);
        items.clear();
        part.items = items;
        part.text.clear();
        swap(run, part);
        if !ok {
            return false;
        }
    }
    true
}

/// `run_held` for one partition, its state in the run: its lines are all
/// read first, then their inputs run. (Reading one line, then running it,
/// took turns between the reader's code and the engine's, and each pushed
/// the other out of the instruction cache.)
fn run_part(
    run: &mut Run<'_>,
    part: &mut Part,
    items: &mut [Item],
    reader: &Reader<'_>,
    problems: &mut Vec<LineProblem>,
    inputs: &mut Vec<(u64, Option<Input>)>,
) -> bool {
    let mut start = 0;
    for item in items.iter_mut() {
        let hash = item.hash;
        match &mut item.what {
            What::Line { line, end } => {
                let text = part.text.get(start..*end).unwrap_or_default();
                start = *end;
                reader.read_line(*line, text, problems, &mut |_, input| {
                    inputs.push((hash, Some(input)))
                });
            }
            What::Input(input) => inputs.extend(input.take().map(|i| (hash, Some(*i)))),
        }
    }
    // The slot guessed for input k, at `k % 4`.
    let mut slots = [None; 4];
    let mut ok = true;
    for k in 0..inputs.len() + 3 {
        let hash = |k: usize| inputs.get(k).map(|(h, _)| *h);
        let profiles = &run.state.profiles;
        if let Some(h) = hash(k) {
            profiles.locate_hash(h);
        }
        if let Some(h) = k.checked_sub(1).and_then(hash) {
            slots[(k - 1) % 4] = profiles.guess(h);
        }
        if let Some(s) = k.checked_sub(2).and_then(|j| slots[j % 4]) {
            profiles.prefetch_blocks(s);
        }
        let Some(j) = k.checked_sub(3) else { continue };
        let Some((h, input)) = inputs.get_mut(j).and_then(|(h, i)| Some((*h, i.take()?))) else {
            continue;
        };
        if input.at() < part.last || hash_of(&input) != h {
            ok = false;
            break;
        }
        part.last = input.at();
        run.input_held(input, slots[j % 4]);
    }
    run.flush();
    inputs.clear();
    ok
}

/// Numbers every profile of every partition (those without a record too,
/// as a sequential run's story lists them all) and names them.
fn name_profiles(run: &mut Run<'_>, parts: &mut [Part]) {
    for part in parts.iter_mut() {
        swap(run, part);
        for slot in 0..run.state.profiles.len() {
            run.number(u32::try_from(slot).unwrap_or(u32::MAX));
        }
        swap(run, part);
    }
    let mut names = vec![String::new(); run.next_number as usize];
    for part in parts.iter() {
        for (slot, &n) in part.numbers.iter().enumerate() {
            let slot = u32::try_from(slot).unwrap_or(u32::MAX);
            if let (Some(name), Some(id)) =
                (names.get_mut(n as usize), part.state.profiles.id_at(slot))
            {
                *name = id.to_string();
            }
        }
    }
    run.story.profiles = names;
    run.name_extras();
}

/// The profile a line's element is for, as the reader names it (its
/// `userId`, else its `anonymousId`, trimmed), found by scanning the
/// line's top-level keys without reading the line. `None` when placing it
/// takes reading it: a batch, a key or id with escapes, an id that is a
/// number or starts or ends in a non-ASCII character (which may be
/// whitespace the reader trims), no id, or a line that is not a plain
/// JSON object as far as it was scanned. A duplicated key counts its last
/// value, as the reader's. The scan stops at a `userId` that names someone
/// when nothing after it can change that (`settled`): a line malformed
/// further on is routed by that id, and the reader reports it there.
pub(super) fn route(line: &[u8]) -> Option<&[u8]> {
    let mut s = Scan { b: line, i: 0 };
    s.ws();
    s.eat(b'{')?;
    let (mut user, mut anon) = (None, None);
    loop {
        s.ws();
        let key = s.plain_string()?;
        s.ws();
        s.eat(b':')?;
        s.ws();
        match key {
            b"userId" => {
                user = s.id()?;
                // The usual line: a `userId` that names someone, and no
                // other key later that could change that (another `userId`
                // or a `batch`, spelled out or with escapes). The rest is
                // then the reader's business (a malformed rest makes no
                // input, wherever it is routed).
                if user.is_some() && settled(s.b.get(s.i..).unwrap_or_default()) {
                    return user;
                }
            }
            b"anonymousId" => anon = s.id()?,
            b"batch" => return None,
            _ => s.skip_value()?,
        }
        s.ws();
        match s.next()? {
            b',' => {}
            b'}' => break,
            _ => return None,
        }
    }
    s.ws();
    if s.i != line.len() {
        return None;
    }
    // The reader takes the first of the two that names someone.
    user.or(anon)
}

/// True when `rest` of a line holds no `"userId"`, no `"batch"` and no
/// escape at all (so no key that unescapes to either).
fn settled(rest: &[u8]) -> bool {
    use memchr::memmem::Finder;
    use std::sync::LazyLock;
    static USER: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\"userId\""));
    static BATCH: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"\"batch\""));
    memchr::memchr(b'\\', rest).is_none() && USER.find(rest).is_none() && BATCH.find(rest).is_none()
}

/// A cursor over a line's bytes.
struct Scan<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Scan<'a> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.next()? == c).then_some(())
    }

    /// JSON whitespace.
    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    /// A string without escapes, its contents; `None` for any other.
    fn plain_string(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let rest = self.b.get(self.i..)?;
        let n = memchr::memchr2(b'"', b'\\', rest)?;
        if rest.get(n) != Some(&b'"') {
            return None;
        }
        self.i += n + 1;
        rest.get(..n)
    }

    /// Past a string, escapes and all.
    fn skip_string(&mut self) -> Option<()> {
        self.eat(b'"')?;
        loop {
            let rest = self.b.get(self.i..)?;
            let n = memchr::memchr2(b'"', b'\\', rest)?;
            self.i += n + 1;
            if rest.get(n) == Some(&b'"') {
                return Some(());
            }
            // The escaped byte.
            self.i += 1;
        }
    }

    /// Past any value.
    fn skip_value(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.skip_string(),
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match self.peek()? {
                        b'"' => {
                            self.skip_string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth = depth.checked_sub(1)?;
                            if depth == 0 {
                                self.i += 1;
                                return Some(());
                            }
                        }
                        _ => {}
                    }
                    self.i += 1;
                }
            }
            _ => {
                let start = self.i;
                while !matches!(
                    self.peek(),
                    None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
                ) {
                    self.i += 1;
                }
                (self.i > start).then_some(())
            }
        }
    }

    /// An id's value: `Some(Some(id))` trimmed, `Some(None)` when it names
    /// no one (`null`, not a string, blank), `None` when the reader must
    /// say (escapes, a number, non-ASCII at either end after trimming).
    fn id(&mut self) -> Option<Option<&'a [u8]>> {
        match self.peek()? {
            b'"' => {
                let s = self.plain_string()?;
                // What `str::trim` takes off in ASCII.
                let kept = |c: &u8| !matches!(c, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ');
                let s = match (s.iter().position(kept), s.iter().rposition(kept)) {
                    (Some(a), Some(z)) => s.get(a..=z).unwrap_or_default(),
                    _ => &[],
                };
                match (s.first(), s.last()) {
                    (Some(a), Some(z)) if *a >= 0x80 || *z >= 0x80 => None,
                    (Some(_), Some(_)) => Some(Some(s)),
                    _ => Some(None),
                }
            }
            b'-' | b'0'..=b'9' => None,
            _ => {
                self.skip_value()?;
                Some(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::route;

    fn r(line: &str) -> Option<&str> {
        route(line.as_bytes()).and_then(|b| std::str::from_utf8(b).ok())
    }

    #[test]
    fn a_line_is_routed_by_its_top_level_ids_as_the_reader_names_them() {
        assert_eq!(
            r(r#"{"type":"track","userId":"u1","event":"x"}"#),
            Some("u1")
        );
        assert_eq!(
            r(r#" { "anonymousId" : "a1" , "userId":"u1" } "#),
            Some("u1")
        );
        assert_eq!(r(r#"{"anonymousId":"a1","userId":null}"#), Some("a1"));
        assert_eq!(r(r#"{"anonymousId":"a1","userId":"  "}"#), Some("a1"));
        assert_eq!(r(r#"{"userId":{"id":"x"},"anonymousId":"a1"}"#), Some("a1"));
        assert_eq!(r(r#"{"userId":"  u1 "}"#), Some("u1"));
        // The last of a duplicated key, as the reader's.
        assert_eq!(r(r#"{"userId":"u1","userId":"u2"}"#), Some("u2"));
        // Ids nested deeper are not the element's.
        assert_eq!(
            r(r#"{"properties":{"userId":"no","s":"}\"{","a":[{"userId":"no"}]},"userId":"u1"}"#),
            Some("u1")
        );
        assert_eq!(r(r#"{"userId":"Zoë Ürtel"}"#), Some("Zoë Ürtel"));
        // Settled at `userId` (nothing later can change it), or not.
        assert_eq!(r(r#"{"userId":"u1","p":{"x":1}}"#), Some("u1"));
        assert_eq!(r(r#"{"userId":"u1","p":{"userId":"u2"}}"#), Some("u1"));
        assert_eq!(
            r(r#"{"userId":"u1","userId":null,"anonymousId":"a"}"#),
            Some("a")
        );
        assert_eq!(r(r#"{"userId":"u1","p":"\"","userId":"u3"}"#), Some("u3"));
        // A malformed rest past a settled `userId` is routed by it: the
        // reader reports the line there and makes no input of it.
        for line in [
            r#"{"userId":"u1""#,
            r#"{"userId":"u1"} x"#,
            r#"{"userId":"u1",}"#,
        ] {
            assert_eq!(r(line), Some("u1"), "{line}");
        }
    }

    #[test]
    fn a_line_the_scan_cannot_place_for_certain_is_left_to_the_reader() {
        for line in [
            r#"{"batch":[{"userId":"u1"}]}"#,
            r#"{"userId":"u\u0031"}"#,
            r#"{"user\u0049d":"u1"}"#,
            r#"{"userId":42}"#,
            r#"{"userId":"ë"}"#,
            "{\"userId\":\"u1\u{a0}\"}",
            r#"{"type":"track"}"#,
            r#"{"userId":null}"#,
            r#"{"userId":"u1","batch":[]}"#,
            r#"{"userId":"u1","user\u0049d":"u2"}"#,
            r#"["userId","u1"]"#,
            "",
            "not json",
        ] {
            assert_eq!(r(line), None, "{line}");
        }
    }
}
