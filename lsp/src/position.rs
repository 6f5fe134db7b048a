//! LSP positions: 0-based line and a column counted in UTF-16 code units
//! (the LSP default encoding), converted from and to byte offsets.

use nudge_compiler::Span;

/// A position as LSP sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub line: u32,
    pub character: u32,
}

/// A range as LSP sends it (end exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub start: Position,
    pub end: Position,
}

/// Line starts of one text, for converting in both directions.
#[derive(Debug, Clone)]
pub struct LineIndex {
    line_starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let mut line_starts = vec![0];
        line_starts.extend(
            text.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i + 1),
        );
        LineIndex { line_starts }
    }

    /// The position of a byte offset (clamped to the text; an offset inside
    /// a multi-byte character counts from that character's start).
    pub fn position(&self, text: &str, offset: u32) -> Position {
        let offset = (offset as usize).min(text.len());
        let line = self
            .line_starts
            .partition_point(|&start| start <= offset)
            .saturating_sub(1);
        let start = self.line_starts.get(line).copied().unwrap_or(0);
        let character: usize = text
            .get(start..)
            .unwrap_or("")
            .char_indices()
            .take_while(|&(i, _)| start + i < offset)
            .map(|(_, c)| c.len_utf16())
            .sum();
        Position {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            character: u32::try_from(character).unwrap_or(u32::MAX),
        }
    }

    pub fn range(&self, text: &str, span: Span) -> Range {
        Range {
            start: self.position(text, span.start),
            end: self.position(text, span.end.max(span.start)),
        }
    }

    /// The byte offset of a position (clamped to its line and to the text).
    pub fn offset(&self, text: &str, position: Position) -> u32 {
        let Some(&start) = self.line_starts.get(position.line as usize) else {
            return u32::try_from(text.len()).unwrap_or(u32::MAX);
        };
        let line = text.get(start..).unwrap_or("");
        let line = line.split('\n').next().unwrap_or("");
        let mut units = 0u32;
        let mut byte = line.len();
        for (i, c) in line.char_indices() {
            if units >= position.character {
                byte = i;
                break;
            }
            units += c.len_utf16() as u32;
        }
        u32::try_from(start + byte).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_columns() {
        // 'é' is 2 bytes / 1 UTF-16 unit; '😀' is 4 bytes / 2 units.
        let text = "ab\né😀x\n";
        let idx = LineIndex::new(text);
        assert_eq!(
            idx.position(text, 0),
            Position {
                line: 0,
                character: 0
            }
        );
        assert_eq!(
            idx.position(text, 3),
            Position {
                line: 1,
                character: 0
            }
        );
        assert_eq!(
            idx.position(text, 5),
            Position {
                line: 1,
                character: 1
            }
        );
        assert_eq!(
            idx.position(text, 9),
            Position {
                line: 1,
                character: 3
            }
        );
        assert_eq!(
            idx.position(text, 999),
            Position {
                line: 2,
                character: 0
            }
        );
    }

    #[test]
    fn offsets_round_trip() {
        let text = "ab\né😀x\nlast";
        let idx = LineIndex::new(text);
        for offset in [0u32, 1, 2, 3, 5, 9, 10, 11, 15] {
            let p = idx.position(text, offset);
            assert_eq!(idx.offset(text, p), offset, "offset {offset} via {p:?}");
        }
        // Past the end of a line clamps to the line's end.
        assert_eq!(
            idx.offset(
                text,
                Position {
                    line: 0,
                    character: 40
                }
            ),
            2
        );
        assert_eq!(
            idx.offset(
                text,
                Position {
                    line: 9,
                    character: 0
                }
            ),
            text.len() as u32
        );
    }
}
