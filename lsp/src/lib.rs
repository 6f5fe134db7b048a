//! nudge-lsp: editor features as plain functions over the compiler's analysis.
