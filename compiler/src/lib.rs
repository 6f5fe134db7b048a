//! nudge-compiler: the front end of Nudge.
//!
//! Stages, one module each, data flowing one way:
//! `lexer` → `parser` (recovering, builds `ast`) → `db` (salsa project
//! database tying the stages together) → `resolve` (names across the
//! project) → `types` (type checking) → `lint` (warnings) → `lower`
//! (bytecode, a later issue). See `README.md` in this crate for the map.

pub mod ast;
pub mod db;
pub mod diagnostic;
pub mod lexer;
pub mod lint;
pub mod lower;
pub mod manifest;
pub mod parser;
pub mod policy;
pub mod resolve;
pub mod rules;
pub mod span;
pub mod types;

pub use diagnostic::{Code, Diagnostic, Label, Severity};
pub use span::{FileId, LineIndex, Span};
