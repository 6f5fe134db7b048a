//! Fuzzes the recovering parser: any UTF-8 text must parse without a panic,
//! as a `.flow` file and as template text, with every diagnostic inside it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use nudge_compiler::parser::{parse_file, parse_template_text};
use nudge_compiler::span::FileId;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = parse_file(text, FileId(0));
    for d in &parsed.diagnostics {
        assert!(d.primary.span.start <= d.primary.span.end);
        assert!(d.primary.span.end as usize <= text.len());
    }
    let (_, diagnostics) = parse_template_text(text, FileId(0));
    for d in &diagnostics {
        assert!(d.primary.span.end as usize <= text.len());
    }
});
