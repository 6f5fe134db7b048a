//! Nudge's own diagnostic type. Renderer-agnostic: the CLI renders it with
//! miette, the language server converts it to LSP diagnostics. Every
//! diagnostic has a stable [`Code`] (documented in `docs/diagnostics.md`), a
//! primary label with a precise span, a one-sentence message and, where there
//! is something to suggest, a help line.

use crate::span::{FileId, Span};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

macro_rules! codes {
    ($( $variant:ident = $code:literal, $sev:ident, $title:literal; )*) => {
        /// Every diagnostic Nudge can report. Codes are stable: never renumber,
        /// only add. `docs/diagnostics.md` has a bad and a fixed example of each.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $( $variant, )*
        }

        impl Code {
            pub const ALL: &'static [Code] = &[ $( Code::$variant, )* ];

            /// The stable code, e.g. `E0101`.
            pub fn as_str(self) -> &'static str {
                match self { $( Code::$variant => $code, )* }
            }

            pub fn severity(self) -> Severity {
                match self { $( Code::$variant => Severity::$sev, )* }
            }

            /// A short title for documentation and SARIF rule descriptions.
            pub fn title(self) -> &'static str {
                match self { $( Code::$variant => $title, )* }
            }

            pub fn from_str_code(s: &str) -> Option<Code> {
                match s { $( $code => Some(Code::$variant), )* _ => None }
            }
        }
    };
}

codes! {
    // Files and syntax
    InvalidUtf8 = "E0001", Error, "source file is not UTF-8";
    FileTooLarge = "E0002", Error, "source file is too large";
    UnexpectedToken = "E0003", Error, "syntax error";
    UnterminatedString = "E0004", Error, "unterminated string or template tag";
    InvalidLiteral = "E0005", Error, "invalid literal";
    NestingTooDeep = "E0006", Error, "expression nested too deeply";
    MissingTemplateFile = "E0007", Error, "template file not found";
    InvalidManifest = "E0008", Error, "invalid nudge.toml";
    UnbalancedTemplateTag = "E0009", Error, "unbalanced template tag";
    TemplatePathOutsideProject = "E0010", Error, "template file path leaves the project";
    // Names
    UnknownEvent = "E0101", Error, "unknown event";
    UnknownField = "E0102", Error, "unknown field";
    UnknownTrait = "E0103", Error, "unknown profile trait";
    UnknownTemplate = "E0104", Error, "unknown template";
    UnknownSegment = "E0105", Error, "unknown segment";
    UnknownName = "E0106", Error, "unknown name";
    UnknownType = "E0107", Error, "unknown type";
    UnknownFunction = "E0108", Error, "unknown function or filter";
    DuplicateDeclaration = "E0109", Error, "duplicate declaration";
    UnknownTimezone = "E0110", Error, "unknown timezone";
    // Types
    TypeMismatch = "E0201", Error, "type mismatch";
    WrongTemplateArguments = "E0202", Error, "wrong template arguments";
    OptionalWithoutDefault = "E0203", Error, "optional value used without a default";
    MixedCurrencies = "E0204", Error, "money of mixed currencies";
    NonExhaustiveMatch = "E0205", Error, "non-exhaustive match";
    WrongArguments = "E0206", Error, "wrong function arguments";
    NotAssignable = "E0207", Error, "cannot assign to this";
    // Flows, segments, templates, policies
    SplitWeights = "E0301", Error, "split weights do not add up to 100%";
    WaitForWithoutWithin = "E0302", Error, "`wait for` without `within`";
    NonPositiveDuration = "E0303", Error, "zero or negative duration";
    SegmentCycle = "E0304", Error, "segments depend on each other in a cycle";
    MissingUnsubscribe = "E0305", Error, "marketing email without unsubscribe link";
    EmailMissingPart = "E0306", Error, "email template without text part or subject";
    MissingTrigger = "E0307", Error, "flow without a trigger";
    DuplicateSetting = "E0308", Error, "setting given twice";
    SettingAfterStep = "E0309", Error, "flow setting after a step";
    InvalidPercent = "E0310", Error, "percentage out of range";
    MissingTemplatePart = "E0311", Error, "template without a required part";
    // Tests (`test "..." { }` blocks)
    UnknownReason = "E0401", Error, "unknown reason in a test expectation";
    UnknownVariant = "E0402", Error, "unknown split variant in a test expectation";
    TestStatementOrder = "E0403", Error, "test statement out of order";
    ExpectationNeverPasses = "E0404", Error, "test expectation can never pass";
    // Lints
    UnreachableStep = "W0001", Warning, "unreachable step";
    SmsWithoutOptOut = "W0002", Warning, "marketing SMS without opt-out wording";
    SmsSegments = "W0003", Warning, "SMS longer than one segment";
    FrequencyExceedsCap = "W0004", Warning, "flow sends more than the frequency cap allows";
    NeverMatches = "W0005", Warning, "`exit when` or `goal` can never match";
    SmsWithoutConsentCheck = "W0006", Warning, "marketing SMS without a consent check";
    WaitInQuietHours = "W0007", Warning, "`wait until` lands inside quiet hours";
    WindowExceedsHistory = "W0008", Warning, "aggregate window longer than kept history";
    EmailWithoutAddress = "W0009", Warning, "marketing email without a postal address";
    UnusedDeclaration = "W0010", Warning, "declaration is never used";
    ExpectationNeverFails = "W0011", Warning, "test expectation can never fail";
}

/// A labelled place in a file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Label {
    pub file: FileId,
    pub span: Span,
    /// Short text shown next to the underlined source; may be empty.
    pub message: String,
}

impl Label {
    pub fn new(file: FileId, span: Span, message: impl Into<String>) -> Self {
        Label {
            file,
            span,
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    /// One sentence saying what is wrong.
    pub message: String,
    /// Where it is wrong.
    pub primary: Label,
    /// Other places worth showing (e.g. the first declaration of a duplicate).
    pub secondary: Vec<Label>,
    /// One line saying what to do about it.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic with the code's default severity.
    pub fn new(code: Code, file: FileId, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: code.severity(),
            message: message.into(),
            primary: Label::new(file, span, ""),
            secondary: Vec::new(),
            help: None,
        }
    }

    pub fn with_label(mut self, message: impl Into<String>) -> Self {
        self.primary.message = message.into();
        self
    }

    pub fn with_secondary(mut self, file: FileId, span: Span, message: impl Into<String>) -> Self {
        self.secondary.push(Label::new(file, span, message));
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// "did you mean" support: the closest candidate by Jaro-Winkler similarity,
/// if it is close enough to be a plausible typo.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let lower = name.to_lowercase();
    let mut best: Option<(&'a str, f64)> = None;
    for c in candidates {
        if c == name {
            continue;
        }
        let score = strsim::jaro_winkler(&lower, &c.to_lowercase());
        if score >= 0.8 && best.is_none_or(|(_, s)| score > s) {
            best = Some((c, score));
        }
    }
    best.map(|(c, _)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for c in Code::ALL {
            assert!(seen.insert(c.as_str()), "duplicate code {}", c.as_str());
            assert_eq!(Code::from_str_code(c.as_str()), Some(*c));
        }
    }

    #[test]
    fn did_you_mean_finds_typos() {
        let names = ["Order Completed", "Checkout Started", "Product Viewed"];
        assert_eq!(
            did_you_mean("Order Complete", names),
            Some("Order Completed")
        );
        assert_eq!(
            did_you_mean("order completed", names),
            Some("Order Completed")
        );
        assert_eq!(did_you_mean("Zebra", names), None);
    }
}
