//! A suspended journey (one profile inside one flow): plain data the engine
//! stores between events and timers.
//!
//! The VM suspends only where its operand stack is empty (the verifier
//! guarantees it), so a journey is just which flow version it runs, where to
//! continue, and its locals. Lowering keeps locals small by projecting the
//! trigger event down to the fields the flow reads.

use nudge_bytecode::Value;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JourneyState {
    /// The flow's version hash (`Flow::version`); a journey stays on it.
    pub flow_version: [u8; 32],
    /// Where to continue. While waiting for an event this is the `WaitFor`
    /// instruction itself (the resume input picks arrival or timeout);
    /// otherwise it is the next instruction to run.
    pub pc: u32,
    pub locals: Vec<Value>,
}

impl JourneyState {
    /// The compact binary form (postcard), as a store would keep it.
    pub fn encode(&self) -> Result<Vec<u8>, postcard::Error> {
        postcard::to_allocvec(self)
    }

    /// The length of `encode()`'s bytes, without building them.
    pub fn encoded_len(&self) -> Result<usize, postcard::Error> {
        postcard::experimental::serialized_size(self)
    }

    pub fn decode(bytes: &[u8]) -> Result<JourneyState, postcard::Error> {
        postcard::from_bytes(bytes)
    }
}
