//! What the engine tells the world: effects to carry out, and a trace record
//! for every decision it made (so a report can say why a customer did or did
//! not get a message).

use nudge_bytecode::op::Channel;
use nudge_bytecode::{Record, Value};
use serde::{Deserialize, Serialize};

/// One handled input's results.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outputs {
    pub effects: Vec<OutEffect>,
    pub trace: Vec<TraceRecord>,
    /// With `Engine::measuring`: each journey the step suspended, as its
    /// flow index and the length of its encoded form (what a store keeps;
    /// `Journey::measured_len`).
    #[serde(skip)]
    pub parked: Vec<(u16, usize)>,
}

/// Something for the shell to do. Every one carries an idempotency key
/// unique to (journey, step) so a retried delivery is not sent twice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OutEffect {
    Send(OutboundMessage),
    Webhook {
        key: String,
        profile: String,
        method: String,
        url: String,
        body: Value,
    },
    /// An event a flow emitted; the engine has already fed it back in.
    Track {
        profile: String,
        event: String,
        properties: Record,
    },
    /// A trait a flow set; the engine's profile already has it.
    SetTrait {
        profile: String,
        name: String,
        value: Value,
    },
}

/// A rendered message ready for a provider. Placeholders
/// (`{{nudge:unsubscribe_url}}`, ...) are left for the delivery shell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundMessage {
    pub key: String,
    pub profile: String,
    pub flow: String,
    pub template: String,
    pub channel: Channel,
    /// Email address or phone number.
    pub to: String,
    pub marketing: bool,
    pub content: Content,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Content {
    Email {
        subject: String,
        preheader: Option<String>,
        from: Option<String>,
        reply_to: Option<String>,
        html: Option<String>,
        text: String,
    },
    Sms {
        body: String,
        segments: u32,
        encoding: String,
    },
    Push {
        title: String,
        body: String,
        url: Option<String>,
    },
}

impl Content {
    /// A one-line excerpt for traces: the subject, or the start of the body.
    pub fn excerpt(&self) -> String {
        excerpt(match self {
            Content::Email { subject, .. } => subject.as_str(),
            Content::Sms { body, .. } => body.as_str(),
            Content::Push { title, .. } => title.as_str(),
        })
    }
}

/// `excerpt` of a text the caller no longer needs: kept as it is (no
/// copy) when it is short enough already.
pub fn excerpt_of(text: String) -> String {
    match text.char_indices().nth(80) {
        None => text,
        Some(_) => excerpt(&text),
    }
}

/// A one-line excerpt of a text: its first 80 characters, `…` when cut.
pub fn excerpt(text: &str) -> String {
    match text.char_indices().nth(80) {
        None => text.to_string(),
        Some((cut, _)) => {
            let mut s = String::with_capacity(cut + '…'.len_utf8());
            s.push_str(&text[..cut]);
            s.push('…');
            s
        }
    }
}

/// One decision, with when, for whom and in which journey.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TraceRecord {
    /// Unix milliseconds (the engine's clock when it decided).
    pub at: i64,
    pub profile: Name,
    /// The flow, for journey decisions.
    pub flow: Option<Name>,
    pub journey: Option<u64>,
    pub decision: Decision,
    /// Where in the engine that made it the record comes from, for a shell
    /// that counts records by number instead of looking names up (a
    /// million-event simulation makes millions). Not part of the record:
    /// not serialized (a decoded record has none) and not compared.
    #[serde(skip)]
    pub origin: Option<Origin>,
}

/// `TraceRecord::origin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    /// The profile's slot in the engine state's table (dense from 0, in the
    /// order the table first saw each profile; a decoded state numbers its
    /// profiles anew).
    pub profile: u32,
    /// The flow's index in the bundle.
    pub flow: Option<u16>,
}

impl PartialEq for TraceRecord {
    /// The record as written: `origin` is left out.
    fn eq(&self, other: &TraceRecord) -> bool {
        self.at == other.at
            && self.profile == other.profile
            && self.flow == other.flow
            && self.journey == other.journey
            && self.decision == other.decision
    }
}

impl Eq for TraceRecord {}

/// A profile id or flow name in trace records. Up to 23 bytes (every id
/// and name the bench and the examples use) it is held inline, so cloning
/// one copies 24 bytes and touches no other memory; a longer one is a
/// shared reference-counted text (`SmolStr`). Before, every name was an
/// `Arc<str>`: each record's clone was an atomic increment, and the first
/// per input a cache miss on the profile's id block. Reads as a `&str`;
/// serialized as a plain string; ordered and hashed as its text.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(nudge_bytecode::SmolStr);

impl Name {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Name {
        Name(nudge_bytecode::SmolStr::new(s))
    }
}

impl From<nudge_bytecode::SmolStr> for Name {
    fn from(s: nudge_bytecode::SmolStr) -> Name {
        Name(s)
    }
}

impl From<String> for Name {
    fn from(s: String) -> Name {
        Name(nudge_bytecode::SmolStr::from(s))
    }
}

impl std::fmt::Debug for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.0.as_str(), f)
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for Name {
    fn eq(&self, other: &String) -> bool {
        self.0 == *other
    }
}

impl Serialize for Name {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Name, D::Error> {
        String::deserialize(d).map(Name::from)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Decision {
    /// A journey started. `holdout`: it belongs to the control group and
    /// will be sent nothing.
    Entered {
        trigger: Name,
        holdout: bool,
    },
    NotEntered {
        reason: NotEntered,
    },
    /// A send went out.
    Sent {
        template: Name,
        channel: Channel,
        key: String,
        excerpt: String,
    },
    /// A send was dropped for good.
    Suppressed {
        template: Name,
        channel: Channel,
        reason: Suppression,
    },
    /// A send was postponed; the journey waits and tries again at `until`.
    Deferred {
        template: Name,
        channel: Channel,
        until: i64,
        reason: Deferral,
    },
    /// The template could not be rendered; the journey goes on.
    RenderFailed {
        template: Name,
        error: String,
    },
    Waiting {
        until: i64,
    },
    /// A `wait until` whose instant had already passed: the journey goes on
    /// at once instead of silently leaving (Braze's delay-step trap).
    WaitPassed {
        until: i64,
    },
    WaitingFor {
        event: String,
        deadline: i64,
    },
    Resumed {
        by: ResumedBy,
    },
    SplitAssigned {
        split: String,
        variant: String,
    },
    Tracked {
        event: String,
    },
    TraitSet {
        name: String,
    },
    Webhook {
        url: String,
        key: String,
    },
    Exited {
        by: ExitReason,
    },
    Converted {
        event: String,
        /// The goal event's `revenue` (or `value`/`total`) when it has one.
        revenue: Option<Value>,
    },
    SegmentEntered {
        segment: String,
    },
    SegmentLeft {
        segment: String,
    },
    /// Consent or suppression changed (inbound unsubscribe, STOP, bounce).
    ConsentChanged {
        what: String,
    },
    /// An event with a message id already seen for this profile.
    Duplicate {
        message_id: String,
    },
    /// The journey's code failed (a bundle bug); the journey ends.
    Failed {
        error: String,
    },
    /// A chain of emitted events was cut off (flows triggering each other
    /// without end).
    EventLoopCut {
        event: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NotEntered {
    /// `reentry after exit` (the default): a journey is still active.
    AlreadyActive,
    /// `reentry once`.
    EnteredBefore,
    /// `reentry once per d`: last entry too recent.
    TooSoon { last_entry: i64 },
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Suppression {
    /// The journey is in the flow's holdout group.
    Holdout,
    /// `when capped: skip` and a frequency cap is full.
    FrequencyCap {
        cap: CapNote,
    },
    /// No email address / phone number on the profile.
    NoAddress,
    /// SMS without `profile.sms_consent`.
    NoConsent,
    /// Marketing email to an unsubscribed profile (or SMS after STOP).
    Unsubscribed,
    HardBounce,
    Complaint,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Deferral {
    QuietHours,
    /// `when capped: defer`: until the cap has room again.
    FrequencyCap {
        cap: CapNote,
    },
}

/// The frequency cap a send ran into and what filled it, as a record tells
/// it: written (and serialized) as `email 2 per 7d: 2 already sent in the
/// last 7d`. Only the count is named, not the instants, so a report can
/// still group by it. Held as numbers and written only when read: a
/// capped send is common (a quarter of the sends in the bench's log), and
/// formatting the text for each was 2.8% of a simulation's instructions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CapNote {
    /// `None`: the cap counts all channels.
    pub channel: Option<Channel>,
    pub count: u32,
    pub per_secs: i64,
    /// Sends the cap counted when this one came.
    pub counted: u32,
}

impl std::fmt::Display for CapNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let channel = self.channel.map_or("all channels", Channel::as_str);
        let per = crate::vm::text::duration_text(self.per_secs);
        write!(
            f,
            "{channel} {} per {per}: {} already sent in the last {per}",
            self.count, self.counted
        )
    }
}

impl CapNote {
    /// Reads the text `Display` writes back (`None` for any other text).
    pub fn parse(text: &str) -> Option<CapNote> {
        let (head, tail) = text.split_once(": ")?;
        let (cap, per) = head.rsplit_once(" per ")?;
        let (channel, count) = cap.rsplit_once(' ')?;
        let channel = match channel {
            "all channels" => None,
            c => Some(
                [Channel::Email, Channel::Sms, Channel::Push]
                    .into_iter()
                    .find(|ch| ch.as_str() == c)?,
            ),
        };
        let (counted, rest) = tail.split_once(' ')?;
        let note = CapNote {
            channel,
            count: count.parse().ok()?,
            per_secs: nudge_bytecode::parse_duration(per)?,
            counted: counted.parse().ok()?,
        };
        // The window is written twice; both must agree.
        (rest.strip_prefix("already sent in the last ") == Some(per)).then_some(note)
    }
}

impl Serialize for CapNote {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for CapNote {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<CapNote, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(d)?;
        CapNote::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "not a frequency cap note (`email 2 per 7d: 2 already sent in the last 7d`): {text:?}"
            ))
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ResumedBy {
    Timer,
    Event {
        event: String,
    },
    /// A `wait for` reached after a deferred send took an event that
    /// arrived (`at`) while the send was held.
    Heard {
        event: String,
        at: i64,
    },
    Timeout,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ExitReason {
    /// An `exit when` matched.
    ExitWhen { event: String },
    /// An `exit` step.
    ExitStep,
    /// The body ran to its end.
    End,
    /// The code failed.
    Error,
}

#[cfg(test)]
mod tests {
    use super::{excerpt, excerpt_of};

    #[test]
    fn an_excerpt_cuts_at_80_characters_either_way() {
        let short = "Maya, your cart is waiting".to_string();
        assert_eq!(excerpt_of(short.clone()), short);
        assert_eq!(excerpt(&short), short);
        // 81 characters, some of them two bytes long: cut after the 80th.
        let long: String = "é".repeat(40) + &"a".repeat(41);
        let want: String = "é".repeat(40) + &"a".repeat(40) + "…";
        assert_eq!(excerpt(&long), want);
        assert_eq!(excerpt_of(long), want);
        let exactly: String = "b".repeat(80);
        assert_eq!(excerpt_of(exactly.clone()), exactly);
    }
}
