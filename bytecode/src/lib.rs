//! nudge-bytecode: the compiled form of a Nudge project.
//!
//! | file | role |
//! |---|---|
//! | `value.rs` | runtime values (what expressions compute and journeys keep) |
//! | `op.rs` | the instruction set (stack machine; effects suspend) |
//! | `template.rs` | compiled templates (literal runs, holes, if/for) |
//! | `schema.rs` | declared events, record types and traits (typing input) |
//! | `format.rs` | the bundle, its encoding (magic, version, hash) |
//! | `assemble.rs` | a small assembler (constants, labels) for lowering and tests |
//! | `verify.rs` | the verifier `Bundle::decode` runs |

pub mod assemble;
pub mod format;
pub mod op;
pub mod schema;
pub mod template;
pub mod value;
pub mod verify;

pub use format::{Bundle, BundleError};
pub use op::{Code, Op};
pub use value::{Currency, Date, Kind, Money, Record, SmolStr, TimeOfDay, Value, parse_duration};
