//! nudge-lsp: editor features as plain functions over the compiler's
//! analysis. No transport yet: a tower-lsp-server shell will call these.
//!
//! - `position`: byte offsets ↔ LSP positions (0-based line, UTF-16 column).
//! - `diagnostics`: the project database's diagnostics as LSP diagnostics.
//! - `symbols`: document symbols (outline) of a file's syntax tree.

pub mod diagnostics;
pub mod position;
pub mod symbols;
