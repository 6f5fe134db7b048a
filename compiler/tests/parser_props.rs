//! Property tests: the parser never panics and keeps its promises (every
//! diagnostic inside the text, the same answer twice) on arbitrary text and
//! on valid sources mutated token by token (deleted, swapped, duplicated).

use nudge_compiler::lexer::lex;
use nudge_compiler::parser::{parse_file, parse_template_text};
use nudge_compiler::span::{FileId, Span};
use proptest::prelude::*;

const SOURCES: &[&str] = &[
    include_str!("../../examples/shop/flows/abandoned_checkout.flow"),
    include_str!("../../examples/shop/flows/birthday.flow"),
    include_str!("../../examples/shop/flows/policy.flow"),
    include_str!("../../examples/shop/flows/vip.flow"),
    include_str!("../../examples/shop/flows/win_back.flow"),
];

fn check(text: &str) -> Result<(), TestCaseError> {
    let parsed = parse_file(text, FileId(0));
    for d in &parsed.diagnostics {
        prop_assert!(d.primary.span.start <= d.primary.span.end, "{d:?}");
        prop_assert!(d.primary.span.end as usize <= text.len(), "{d:?}");
    }
    prop_assert_eq!(&parsed, &parse_file(text, FileId(0)));
    let (_, d) = parse_template_text(text, FileId(0));
    for d in &d {
        prop_assert!(d.primary.span.end as usize <= text.len(), "{d:?}");
    }
    Ok(())
}

#[derive(Debug, Clone)]
enum Mutation {
    Delete(usize),
    Swap(usize, usize),
    Duplicate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Delete),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Swap(a, b)),
        any::<usize>().prop_map(Mutation::Duplicate),
    ]
}

/// Rebuilds `src` from its tokens after the mutations; each token keeps the
/// whitespace that followed it.
fn mutate(src: &str, muts: &[Mutation]) -> String {
    let (toks, _) = lex(src, FileId(0));
    let mut pieces: Vec<(Span, Span)> = Vec::new();
    for (i, (_, span)) in toks.iter().enumerate() {
        let next = toks.get(i + 1).map_or(src.len() as u32, |t| t.1.start);
        let gap_end = next.max(span.end);
        pieces.push((*span, Span::new(span.end, gap_end)));
    }
    for m in muts {
        if pieces.is_empty() {
            break;
        }
        let n = pieces.len();
        match *m {
            Mutation::Delete(i) => {
                pieces.remove(i % n);
            }
            Mutation::Swap(a, b) => pieces.swap(a % n, b % n),
            Mutation::Duplicate(i) => {
                let p = pieces[i % n];
                pieces.insert(i % n, p);
            }
        }
    }
    let mut out = String::new();
    for (tok, gap) in pieces {
        out.push_str(src.get(tok.range()).unwrap_or(""));
        out.push_str(src.get(gap.range()).unwrap_or(" "));
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        check(&text)?;
    }

    #[test]
    fn flow_like_text_never_panics(text in "[a-z_ \"{}()\\[\\]%\n:.,=<>|?/0-9-]{0,300}") {
        check(&text)?;
    }

    #[test]
    fn mutated_sources_never_panic(
        which in 0..SOURCES.len(),
        muts in proptest::collection::vec(mutation(), 1..6),
    ) {
        let text = mutate(SOURCES[which], &muts);
        check(&text)?;
    }
}
