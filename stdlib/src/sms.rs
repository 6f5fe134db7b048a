//! SMS length rules: how many septets or UTF-16 units a body costs and how
//! many segments (parts) a carrier splits it into.
//!
//! The rules (3GPP TS 23.038 / GSM 03.38, as carriers apply them):
//! - A body whose every character is in the GSM 03.38 basic set or its
//!   extension table is sent as **GSM-7**. Basic characters cost one septet;
//!   extension characters (`€ [ ] { } \ ^ ~ |` and form feed) cost two (an
//!   escape plus the character).
//! - One character outside both tables switches the **whole** body to
//!   **UCS-2**, which costs one unit per UTF-16 code unit (so an emoji outside
//!   the Basic Multilingual Plane costs two).
//! - A body fits one part up to 160 septets (GSM-7) or 70 units (UCS-2).
//!   Longer bodies are split into parts of at most 153 septets / 67 units
//!   (the rest of each part carries the concatenation header). A two-septet
//!   extension character or a two-unit surrogate pair is never split across
//!   parts, so a part may hold one unit less than the maximum.
//!
//! An empty body has zero segments.
//!
//! [`measure`] measures one string; [`SmsCounter`] measures a body assembled
//! from literal text and placeholders of an estimated length (the compiler's
//! SMS lint uses it for template bodies with holes).

/// How an SMS body is encoded on the air.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// 7-bit GSM default alphabet (with the extension table).
    Gsm7,
    /// 16-bit UCS-2 (UTF-16 code units, as carriers send it).
    Ucs2,
}

impl Encoding {
    /// Units that fit in a message of one part.
    pub fn single_part_limit(self) -> usize {
        match self {
            Encoding::Gsm7 => 160,
            Encoding::Ucs2 => 70,
        }
    }

    /// Units that fit in each part of a multipart (concatenated) message.
    pub fn multipart_limit(self) -> usize {
        match self {
            Encoding::Gsm7 => 153,
            Encoding::Ucs2 => 67,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Gsm7 => "GSM-7",
            Encoding::Ucs2 => "UCS-2",
        }
    }
}

/// The measured cost of an SMS body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SmsMeasure {
    pub encoding: Encoding,
    /// Septets (GSM-7) or UTF-16 code units (UCS-2).
    pub units: usize,
    /// Parts the carrier sends; 0 for an empty body.
    pub segments: usize,
    /// The first character outside GSM-7 (the one that forced UCS-2) and its
    /// byte offset in the measured text.
    pub first_non_gsm: Option<(char, usize)>,
}

/// Septets a character costs in GSM-7: 1 for the basic set, 2 for the
/// extension table, `None` if it is not representable.
pub fn gsm7_septets(c: char) -> Option<usize> {
    if is_gsm7_basic(c) {
        Some(1)
    } else if is_gsm7_extension(c) {
        Some(2)
    } else {
        None
    }
}

/// True if the character can be sent in GSM-7 (basic set or extension table).
pub fn is_gsm7(c: char) -> bool {
    gsm7_septets(c).is_some()
}

/// The GSM 03.38 extension table: characters sent as escape + code.
pub fn is_gsm7_extension(c: char) -> bool {
    matches!(
        c,
        '\u{0C}' | '^' | '{' | '}' | '\\' | '[' | '~' | ']' | '|' | '€'
    )
}

/// The GSM 03.38 default alphabet (basic set), all 128 positions except the
/// escape (0x1B), mapped to Unicode.
pub fn is_gsm7_basic(c: char) -> bool {
    match c {
        'A'..='Z' | 'a'..='z' | '0'..='9' => true,
        // 0x20..=0x3F apart from digits; 0x24 is '¤' in GSM, '$' lives at 0x02.
        ' ' | '!' | '"' | '#' | '%' | '&' | '\'' | '(' | ')' | '*' | '+' | ',' | '-' | '.'
        | '/' | ':' | ';' | '<' | '=' | '>' | '?' => true,
        // 0x00..=0x1F (0x1B is the escape to the extension table)
        '@' | '£' | '$' | '¥' | 'è' | 'é' | 'ù' | 'ì' | 'ò' | 'Ç' | '\n' | 'Ø' | 'ø' | '\r'
        | 'Å' | 'å' | 'Δ' | '_' | 'Φ' | 'Γ' | 'Λ' | 'Ω' | 'Π' | 'Ψ' | 'Σ' | 'Θ' | 'Ξ' | 'Æ'
        | 'æ' | 'ß' | 'É' => true,
        // 0x24, 0x40, 0x5B..=0x60, 0x7B..=0x7F
        '¤' | '¡' | 'Ä' | 'Ö' | 'Ñ' | 'Ü' | '§' | '¿' | 'ä' | 'ö' | 'ñ' | 'ü' | 'à' => {
            true
        }
        _ => false,
    }
}

/// Measures one SMS body.
pub fn measure(text: &str) -> SmsMeasure {
    let mut counter = SmsCounter::new();
    counter.push_text(text);
    counter.finish()
}

/// Measures a body built from pieces: literal text and placeholders that
/// stand for a number of basic GSM-7 characters (an estimate of a value
/// filled in at send time).
#[derive(Debug, Clone, Default)]
pub struct SmsCounter {
    /// Per character: (septets in GSM-7 or 0 if not representable, UTF-16 units).
    costs: Vec<(u8, u8)>,
    /// Bytes of literal text pushed so far (placeholders add none).
    bytes: usize,
    first_non_gsm: Option<(char, usize)>,
}

impl SmsCounter {
    pub fn new() -> Self {
        SmsCounter::default()
    }

    /// Appends literal text.
    pub fn push_text(&mut self, text: &str) {
        for (offset, c) in text.char_indices() {
            let septets = gsm7_septets(c).unwrap_or(0);
            if septets == 0 && self.first_non_gsm.is_none() {
                self.first_non_gsm = Some((c, self.bytes + offset));
            }
            self.costs.push((septets as u8, c.len_utf16() as u8));
        }
        self.bytes += text.len();
    }

    /// Appends `chars` basic GSM-7 characters (one septet, one UTF-16 unit each).
    pub fn push_placeholder(&mut self, chars: usize) {
        self.costs.extend(std::iter::repeat_n((1, 1), chars));
    }

    pub fn finish(&self) -> SmsMeasure {
        let encoding = if self.first_non_gsm.is_some() {
            Encoding::Ucs2
        } else {
            Encoding::Gsm7
        };
        let unit_of = |&(septets, utf16): &(u8, u8)| -> usize {
            match encoding {
                Encoding::Gsm7 => usize::from(septets),
                Encoding::Ucs2 => usize::from(utf16),
            }
        };
        let units: usize = self.costs.iter().map(unit_of).sum();
        let segments = if units == 0 {
            0
        } else if units <= encoding.single_part_limit() {
            1
        } else {
            // Fill parts greedily; a character that does not fit whole starts
            // the next part (carriers never split an escape sequence or a
            // surrogate pair).
            let limit = encoding.multipart_limit();
            let mut parts = 1;
            let mut used = 0;
            for cost in self.costs.iter().map(unit_of) {
                if used + cost > limit {
                    parts += 1;
                    used = 0;
                }
                used += cost;
            }
            parts
        };
        SmsMeasure {
            encoding,
            units,
            segments,
            first_non_gsm: self.first_non_gsm,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(n: usize) -> String {
        "a".repeat(n)
    }

    #[test]
    fn empty_body_has_no_segments() {
        let m = measure("");
        assert_eq!((m.encoding, m.units, m.segments), (Encoding::Gsm7, 0, 0));
    }

    #[test]
    fn gsm7_single_part_boundary() {
        assert_eq!(measure(&a(160)).segments, 1);
        let m = measure(&a(161));
        assert_eq!((m.units, m.segments), (161, 2));
    }

    #[test]
    fn gsm7_multipart_boundary() {
        assert_eq!(measure(&a(306)).segments, 2);
        assert_eq!(measure(&a(307)).segments, 3);
        assert_eq!(measure(&a(459)).segments, 3);
        assert_eq!(measure(&a(460)).segments, 4);
    }

    #[test]
    fn ucs2_boundaries() {
        let u = |n: usize| "ж".repeat(n);
        assert_eq!(measure(&u(70)).segments, 1);
        assert_eq!(measure(&u(71)).segments, 2);
        assert_eq!(measure(&u(134)).segments, 2);
        assert_eq!(measure(&u(135)).segments, 3);
        assert_eq!(measure(&u(70)).encoding, Encoding::Ucs2);
    }

    #[test]
    fn extension_chars_cost_two_septets() {
        for c in ['€', '[', ']', '{', '}', '\\', '^', '~', '|', '\u{0C}'] {
            let m = measure(&c.to_string());
            assert_eq!((m.encoding, m.units), (Encoding::Gsm7, 2), "{c:?}");
        }
        // 158 + 2 = 160 still one part; 159 + 2 = 161 two parts.
        assert_eq!(measure(&(a(158) + "€")).segments, 1);
        assert_eq!(measure(&(a(159) + "€")).segments, 2);
    }

    #[test]
    fn extension_char_is_not_split_across_parts() {
        // 152 septets then '€' (2): it does not fit the first part's 153,
        // so part one holds 152 and part two starts with the escape.
        // 152 + 2 + 152 = 306 septets, which would fit two full parts if the
        // escape could be split, but needs three.
        let text = a(152) + "€" + &a(152);
        let m = measure(&text);
        assert_eq!(m.units, 306);
        assert_eq!(m.segments, 3);
        // Same length with the '€' aligned inside part one fits in two.
        let aligned = a(151) + "€" + &a(153);
        assert_eq!(measure(&aligned).units, 306);
        assert_eq!(measure(&aligned).segments, 2);
    }

    #[test]
    fn gsm_basic_specials_are_single_septets() {
        let text = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà";
        let m = measure(text);
        assert_eq!(m.encoding, Encoding::Gsm7);
        assert_eq!(m.units, text.chars().count());
        assert_eq!(m.first_non_gsm, None);
    }

    #[test]
    fn one_emoji_switches_whole_body_to_ucs2() {
        let text = a(60) + "🎉";
        let m = measure(&text);
        assert_eq!(m.encoding, Encoding::Ucs2);
        assert_eq!(m.units, 62); // the emoji is a surrogate pair
        assert_eq!(m.segments, 1);
        assert_eq!(m.first_non_gsm, Some(('🎉', 60)));
        // 69 + 2 = 71 units: two parts.
        assert_eq!(measure(&(a(69) + "🎉")).segments, 2);
        assert_eq!(measure(&(a(68) + "🎉")).segments, 1);
    }

    #[test]
    fn surrogate_pair_is_not_split_across_parts() {
        // 66 + 2 + 66 = 134 units would be two full parts, but the pair
        // cannot straddle the boundary.
        let text = a(66) + "😀" + &a(66);
        let m = measure(&text);
        assert_eq!(m.units, 134);
        assert_eq!(m.segments, 3);
    }

    #[test]
    fn non_gsm_punctuation_is_detected() {
        // Curly quotes and the backtick are common culprits.
        for (text, c) in [("it’s", '’'), ("a`b", '`'), ("ç", 'ç')] {
            let m = measure(text);
            assert_eq!(m.encoding, Encoding::Ucs2, "{text}");
            assert_eq!(m.first_non_gsm.map(|(ch, _)| ch), Some(c));
        }
        // first_non_gsm offset is in bytes.
        assert_eq!(measure("£x’").first_non_gsm, Some(('’', 3)));
    }

    #[test]
    fn counter_mixes_text_and_placeholders() {
        let mut c = SmsCounter::new();
        c.push_text("Hi ");
        c.push_placeholder(10);
        c.push_text(" €");
        let m = c.finish();
        assert_eq!((m.encoding, m.units, m.segments), (Encoding::Gsm7, 16, 1));
        c.push_placeholder(150);
        assert_eq!(c.finish().segments, 2);
        c.push_text("✓");
        let m = c.finish();
        assert_eq!(m.encoding, Encoding::Ucs2);
        // "Hi " is 3 bytes, " €" is 4: the offset counts literal bytes only.
        assert_eq!(m.first_non_gsm, Some(('✓', 7)));
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        /// Bodies mixing basic, extension and non-GSM characters.
        fn body() -> impl Strategy<Value = String> {
            let chars = prop_oneof![
                8 => prop::sample::select(vec!['a', 'Z', '7', ' ', '@', 'é', '\n']),
                2 => prop::sample::select(vec!['€', '[', '~', '|']),
                1 => prop::sample::select(vec!['’', 'ж', '🎉', '`']),
            ];
            prop::collection::vec(chars, 0..400).prop_map(|v| v.into_iter().collect())
        }

        proptest! {
            #[test]
            fn segments_fit_the_limits(text in body()) {
                let m = measure(&text);
                let ucs2 = text.chars().any(|c| !is_gsm7(c));
                prop_assert_eq!(m.encoding == Encoding::Ucs2, ucs2);
                let expected_units: usize = if ucs2 {
                    text.encode_utf16().count()
                } else {
                    text.chars().filter_map(gsm7_septets).sum()
                };
                prop_assert_eq!(m.units, expected_units);
                let single = m.encoding.single_part_limit();
                let part = m.encoding.multipart_limit();
                if m.units == 0 {
                    prop_assert_eq!(m.segments, 0);
                } else if m.units <= single {
                    prop_assert_eq!(m.segments, 1);
                } else {
                    // Each part holds `part` units, or one less when a
                    // two-unit character would straddle the boundary.
                    prop_assert!(m.segments >= m.units.div_ceil(part));
                    prop_assert!(m.segments <= m.units.div_ceil(part - 1));
                }
            }

            #[test]
            fn appending_never_lowers_the_count(a in body(), b in body()) {
                let joined = format!("{a}{b}");
                prop_assert!(measure(&joined).segments >= measure(&a).segments);
            }
        }
    }
}
