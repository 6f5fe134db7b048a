//! nudge-bytecode: the compiled form of a Nudge project.
//!
//! - `value`: runtime values (what expressions compute and journeys keep).

pub mod value;

pub use value::{Currency, Date, Kind, Money, Record, TimeOfDay, Value};
