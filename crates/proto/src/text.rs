//! Small text helpers shared by the parsers and encoders.
//!
//! Two jobs: quoting untrusted input inside an error message (`excerpt`), and keeping one
//! server event on one line of the line protocol (`escape_breaks`, which borrows when there is
//! nothing to escape).

use std::borrow::Cow;
use std::fmt::Write;

/// How many characters of untrusted input an error message quotes at most.
pub(crate) const EXCERPT_CHARS: usize = 40;

/// Quotes untrusted input for an error message: control characters escaped (`\n`, `\u{1b}`),
/// at most `max_chars` characters kept, `…` appended when something was cut.
pub(crate) fn excerpt(input: &str, max_chars: usize) -> String {
    let mut out = String::new();
    for (index, ch) in input.chars().enumerate() {
        if index == max_chars {
            out.push('…');
            break;
        }
        push_escaped(&mut out, ch);
    }
    out
}

fn push_escaped(out: &mut String, ch: char) {
    if ch.is_control() {
        // `escape_debug` writes `\n`, `\t`, `\u{1b}`: readable and unambiguous.
        let _ = write!(out, "{}", ch.escape_debug());
    } else {
        out.push(ch);
    }
}

/// Replaces line breaks with the two-character escapes `\n` and `\r`, so that peer text can
/// never end or split a line of the line protocol. Other characters pass through unchanged.
pub(crate) fn escape_breaks(text: &str) -> Cow<'_, str> {
    if !text.contains(['\n', '\r']) {
        return Cow::Borrowed(text);
    }
    let escaped = text.replace('\n', "\\n").replace('\r', "\\r");
    Cow::Owned(escaped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_escapes_control_characters() {
        assert_eq!(excerpt("a\nb\u{1b}[2J", 40), "a\\nb\\u{1b}[2J");
    }

    #[test]
    fn excerpt_keeps_up_to_max_and_marks_the_cut() {
        assert_eq!(excerpt("abcd", 4), "abcd");
        assert_eq!(excerpt("abcde", 4), "abcd…");
        assert_eq!(excerpt("héllo", 2), "hé…");
    }

    #[test]
    fn escape_breaks_borrows_clean_text() {
        assert!(matches!(
            escape_breaks("plain text"),
            Cow::Borrowed("plain text")
        ));
    }

    #[test]
    fn escape_breaks_replaces_cr_and_lf() {
        assert_eq!(escape_breaks("a\r\nb\nc"), "a\\r\\nb\\nc");
    }
}
