//! The bundle: everything the runtime needs from a compiled project, and its
//! binary encoding.
//!
//! Layout: `MAGIC` (8 bytes) · format version (u16 little-endian) · sha256 of
//! the body (32 bytes) · body (postcard encoding of `BundleBody`). Every
//! collection is a `Vec` in source order (or sorted), never a hash map, so
//! the same project always encodes to the same bytes.
//!
//! `Bundle::decode` checks magic, version, length and hash, decodes, and then
//! runs the verifier (`verify`) so the VM can trust every index it reads.

use crate::op::{Channel, Code, SegmentIdx, SplitDef};
use crate::schema::Schema;
use crate::template::Template;
use crate::value::{Record, TimeOfDay};
use crate::verify::{VerifyError, verify_bundle};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// The first bytes of every bundle.
pub const MAGIC: [u8; 8] = *b"NUDGEBC\0";
/// Bumped whenever the encoding changes incompatibly.
pub const FORMAT_VERSION: u16 = 2;
const HEADER_LEN: usize = MAGIC.len() + 2 + 32;

/// A decoded, verified bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bundle {
    pub shop: Record,
    pub policies: Policies,
    pub flows: Vec<Flow>,
    pub templates: Vec<Template>,
    pub segments: Vec<Segment>,
    pub aggregates: Vec<Aggregate>,
    /// Declared events, record types and traits (for typing input).
    pub schema: Schema,
}

/// One compiled flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flow {
    pub name: String,
    /// sha256 of this flow's encoded trigger, settings, splits and code;
    /// journeys remember it to stay on the version they started on.
    pub version: [u8; 32],
    pub trigger: Trigger,
    pub settings: FlowSettings,
    pub splits: Vec<SplitDef>,
    /// The body. Local 0 holds the trigger event (projected as the
    /// trigger's `keep` says) when the trigger is an event.
    pub code: Code,
}

impl Flow {
    /// Computes the version hash from the flow's content (the `version`
    /// field itself excluded).
    pub fn compute_version(&self) -> [u8; 32] {
        let content = (
            &self.name,
            &self.trigger,
            &self.settings,
            &self.splits,
            &self.code,
        );
        let bytes = postcard::to_allocvec(&content).unwrap_or_default();
        Sha256::digest(&bytes).into()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Trigger {
    /// `when "E" [as x] [where c]`: `filter` is expression code (the event
    /// is `LoadEvent`); `keep` says what of the event the journey stores in
    /// local 0.
    Event {
        event: String,
        filter: Option<Code>,
        keep: EventKeep,
    },
    Entering(SegmentIdx),
    Leaving(SegmentIdx),
    /// `when date <expr> [at T local]`: `date` is expression code giving a
    /// `date` (yearly) or a `timestamp` (once).
    Date {
        date: Code,
        at: Option<TimeOfDay>,
        yearly: bool,
    },
    /// `when inactive "E" for d`
    Inactive {
        event: String,
        for_secs: i64,
    },
}

/// What a journey keeps of its trigger event (lowering works it out from
/// what the body, its filters and the templates it sends read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKeep {
    /// The flow never reads the event: local 0 stays `none`.
    Nothing,
    /// Only these fields (sorted by name).
    Fields(Vec<KeepField>),
    /// The whole event (it is used as a value, e.g. passed on bare).
    Whole,
}

/// One kept field. `sub: None` keeps its value whole; `Some(fields)`
/// projects it further: a record to those fields, a list element-wise
/// (`products` → each product's `name` and `price`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeepField {
    pub name: String,
    pub sub: Option<Vec<KeepField>>,
}

impl KeepField {
    /// A field kept whole.
    pub fn whole(name: &str) -> KeepField {
        KeepField {
            name: name.to_string(),
            sub: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Category {
    Marketing,
    Transactional,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reentry {
    Always,
    Once,
    OncePer { secs: i64 },
    AfterExit,
}

/// An event pattern with an optional filter (`exit when`, `goal`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMatch {
    pub event: String,
    /// Expression code over the journey's locals and `LoadEvent`.
    pub filter: Option<Code>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Goal {
    pub event: EventMatch,
    pub within_secs: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowSettings {
    pub category: Category,
    pub priority: i64,
    pub reentry: Reentry,
    pub exit_when: Vec<EventMatch>,
    pub goal: Option<Goal>,
    /// Holdout share in basis points (10% = 1000).
    pub holdout_bp: u16,
}

/// `segment name "doc" = cond`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub name: String,
    pub condition: Code,
    /// Aggregates the condition reads (re-evaluate when they change).
    pub aggregates: Vec<u16>,
    /// Profile traits the condition reads.
    pub traits: Vec<String>,
    /// Segments the condition reads.
    pub segments: Vec<SegmentIdx>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AggregateKind {
    Count,
    Sum,
    Last,
    First,
    Exists,
}

/// A per-profile history aggregate: `sum("Order Completed".revenue, within: 365d)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Aggregate {
    pub kind: AggregateKind,
    pub event: String,
    /// Field path into the event (`["revenue"]`); empty for whole events.
    pub field: Vec<String>,
    /// `within:` window; `None` = all kept history.
    pub window_secs: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrequencyCap {
    /// `None` = all channels.
    pub channel: Option<Channel>,
    pub count: u32,
    pub per_secs: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuietHours {
    pub channel: Option<Channel>,
    pub start: TimeOfDay,
    pub end: TimeOfDay,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WhenCapped {
    Skip,
    Defer,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policies {
    pub caps: Vec<FrequencyCap>,
    pub quiet_hours: Vec<QuietHours>,
    pub when_capped: WhenCapped,
    pub default_timezone: String,
    pub keep_history_secs: i64,
}

impl Default for Policies {
    fn default() -> Policies {
        Policies {
            caps: Vec::new(),
            quiet_hours: Vec::new(),
            when_capped: WhenCapped::Skip,
            default_timezone: "UTC".to_string(),
            keep_history_secs: 400 * 86_400,
        }
    }
}

/// Why a byte string is not a usable bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundleError {
    /// Shorter than the fixed header.
    Truncated {
        len: usize,
    },
    BadMagic,
    UnsupportedVersion {
        found: u16,
        supported: u16,
    },
    /// The body does not hash to the header's hash (corrupt or truncated).
    HashMismatch,
    /// The body is not a valid encoding.
    Decode(String),
    /// Decoded, but the code is not safe to run.
    Verify(VerifyError),
    /// Encoding failed (should not happen for well-formed values).
    Encode(String),
}

impl fmt::Display for BundleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BundleError::Truncated { len } => {
                write!(
                    f,
                    "bundle is truncated: {len} bytes, the header alone needs {HEADER_LEN}"
                )
            }
            BundleError::BadMagic => write!(f, "not a Nudge bundle (wrong magic bytes)"),
            BundleError::UnsupportedVersion { found, supported } => write!(
                f,
                "bundle format version {found} is not supported (this runtime reads version {supported})"
            ),
            BundleError::HashMismatch => {
                write!(
                    f,
                    "bundle content hash does not match: the file is corrupt or truncated"
                )
            }
            BundleError::Decode(e) => write!(f, "bundle body cannot be decoded: {e}"),
            BundleError::Verify(e) => write!(f, "bundle failed verification: {e}"),
            BundleError::Encode(e) => write!(f, "bundle cannot be encoded: {e}"),
        }
    }
}

impl std::error::Error for BundleError {}

impl Bundle {
    /// The deterministic binary form.
    pub fn encode(&self) -> Result<Vec<u8>, BundleError> {
        let body = postcard::to_allocvec(self).map_err(|e| BundleError::Encode(e.to_string()))?;
        let mut out = Vec::with_capacity(HEADER_LEN + body.len());
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&Sha256::digest(&body));
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// The sha256 of the body, as written in the header.
    pub fn content_hash(bytes: &[u8]) -> Option<[u8; 32]> {
        bytes.get(MAGIC.len() + 2..HEADER_LEN)?.try_into().ok()
    }

    /// Checks and decodes; never panics on any input.
    pub fn decode(bytes: &[u8]) -> Result<Bundle, BundleError> {
        if bytes.len() < HEADER_LEN {
            if bytes.len() >= MAGIC.len() && bytes.get(..MAGIC.len()) != Some(&MAGIC[..]) {
                return Err(BundleError::BadMagic);
            }
            return Err(BundleError::Truncated { len: bytes.len() });
        }
        let (magic, rest) = bytes.split_at(MAGIC.len());
        if magic != MAGIC {
            return Err(BundleError::BadMagic);
        }
        let (version, rest) = rest.split_at(2);
        let found = u16::from_le_bytes([
            version.first().copied().unwrap_or(0),
            version.get(1).copied().unwrap_or(0),
        ]);
        if found != FORMAT_VERSION {
            return Err(BundleError::UnsupportedVersion {
                found,
                supported: FORMAT_VERSION,
            });
        }
        let (hash, body) = rest.split_at(32);
        if Sha256::digest(body).as_slice() != hash {
            return Err(BundleError::HashMismatch);
        }
        let (bundle, left) = postcard::take_from_bytes::<Bundle>(body)
            .map_err(|e| BundleError::Decode(e.to_string()))?;
        if !left.is_empty() {
            return Err(BundleError::Decode(format!(
                "{} trailing bytes after the body",
                left.len()
            )));
        }
        verify_bundle(&bundle).map_err(BundleError::Verify)?;
        Ok(bundle)
    }

    /// Index of the flow with this name.
    pub fn flow_index(&self, name: &str) -> Option<usize> {
        self.flows.iter().position(|f| f.name == name)
    }

    /// Finds a flow by its version hash (to resume a journey).
    pub fn flow_by_version(&self, version: &[u8; 32]) -> Option<&Flow> {
        self.flows.iter().find(|f| &f.version == version)
    }
}
