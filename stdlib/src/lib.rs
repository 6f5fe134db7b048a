//! nudge-stdlib: the standard library every Nudge project sees.
//!
//! - `flow/*.flow`: standard declarations (Segment e-commerce v2 events,
//!   lifecycle events, profile traits, record types), embedded in the binary
//!   and parsed by the compiler like project files.
//! - `sms`: GSM-7 / UCS-2 encoding and segment counting, shared by the
//!   compiler's SMS lint and the runtime's renderer.

pub mod sms;

/// The stdlib's `.flow` sources as `(virtual path, text)`.
pub const FILES: &[(&str, &str)] = &[
    ("<stdlib>/types.flow", include_str!("../flow/types.flow")),
    ("<stdlib>/events.flow", include_str!("../flow/events.flow")),
    (
        "<stdlib>/profile.flow",
        include_str!("../flow/profile.flow"),
    ),
];
