//! The sanitiser: text from people → text that cannot drive a terminal. One for the whole
//! project: the server writes every line-protocol event through it (so `nc` users see other
//! people's escape sequences, never obey them), and the terminal client shows every peer text
//! through it (whatever the server, the wire format, or `--json` output with [`sanitize_json`]).
//!
//! What is escaped, and why:
//! - C0 controls (U+0000–U+001F, tab and line breaks included): ESC starts ANSI/OSC/DCS
//!   sequences that move the cursor, retitle the window or write to the clipboard; BEL, BS and
//!   CR rewrite what was already shown. Shown as `\n`, `\r`, `\t` or `\x1b`.
//! - DEL (U+007F) and the C1 controls (U+0080–U+009F): U+009B is a one-character CSI, U+009D
//!   an OSC, on terminals that honour 8-bit controls. Shown as `\x7f`, `\u{9b}`.
//! - Bidirectional overrides and isolates (U+202A–U+202E, U+2066–U+2069): they reorder the
//!   rest of the line, so a peer could make its text read as someone else's. Shown as
//!   `\u{202e}`.
//!
//! Escape sequences need no parser: escaping their introducer (ESC, or a C1 control) leaves
//! the rest as harmless printable text. A backslash is left as it is, as the line protocol
//! does for its `\n`: the escapes are for a person to read, not to be decoded back.
//!
//! ```
//! use rustchat_proto::sanitize;
//! assert_eq!(sanitize("\u{1b}]0;pwned\u{7}hi"), r"\x1b]0;pwned\x07hi");
//! assert_eq!(sanitize("abc\u{202e}def"), r"abc\u{202e}def");
//! assert_eq!(sanitize("plain text ✓"), "plain text ✓");
//! ```

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` must not reach a terminal as it is.
pub fn is_unsafe(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}'
        | '\u{7f}'..='\u{9f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}')
}

/// `text` with every unsafe character written as a visible escape; borrowed when clean.
pub fn sanitize(text: &str) -> Cow<'_, str> {
    // Most chat is printable ASCII: one pass over the bytes settles it.
    if text.bytes().all(|b| (0x20..0x7f).contains(&b)) || !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{0}'..='\u{1f}' | '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c if is_unsafe(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A JSON document with every unsafe character written as a JSON `\uXXXX` escape.
///
/// serde_json already escapes C0 controls inside strings, but writes DEL, C1 controls and
/// bidi overrides raw. The result is the same JSON value, now safe to print. (Unsafe
/// characters only occur inside strings in JSON, so escaping them keeps the document valid.)
pub fn sanitize_json(json: &str) -> Cow<'_, str> {
    if !json.chars().any(is_unsafe) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 8);
    for c in json.chars() {
        if is_unsafe(c) {
            // All unsafe characters are in the Basic Multilingual Plane: one \u escape each.
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_text_is_borrowed_unchanged() {
        for text in [
            "",
            "hello",
            "héllo wörld ✓ 日本語 🦀",
            "back\\slash",
            "a\u{a0}b",
        ] {
            assert!(
                matches!(sanitize(text), Cow::Borrowed(t) if t == text),
                "{text:?}"
            );
            assert!(matches!(sanitize_json(text), Cow::Borrowed(_)), "{text:?}");
        }
    }

    #[test]
    fn every_c0_control_and_del_is_escaped() {
        for code in (0u32..0x20).chain([0x7f]) {
            let c = char::from_u32(code).unwrap_or_default();
            let shown = sanitize(&format!("a{c}b")).into_owned();
            assert!(!shown.chars().any(is_unsafe), "{code:#x} → {shown:?}");
            assert!(
                shown.starts_with("a\\") && shown.ends_with('b'),
                "{shown:?}"
            );
        }
        assert_eq!(sanitize("\u{0}\u{7}\u{8}\u{7f}"), r"\x00\x07\x08\x7f");
        assert_eq!(sanitize("a\nb\rc\td"), r"a\nb\rc\td");
    }

    #[test]
    fn ansi_osc_and_dcs_sequences_lose_their_introducer() {
        assert_eq!(sanitize("\u{1b}[2J\u{1b}[H"), r"\x1b[2J\x1b[H");
        assert_eq!(
            sanitize("\u{1b}]52;c;cHduZWQ=\u{7}"),
            r"\x1b]52;c;cHduZWQ=\x07"
        );
        assert_eq!(sanitize("\u{1b}P+q\u{1b}\\"), r"\x1bP+q\x1b\");
        assert_eq!(sanitize("\u{1b}[31mred"), r"\x1b[31mred");
    }

    #[test]
    fn c1_controls_are_escaped() {
        for code in 0x80u32..=0x9f {
            let c = char::from_u32(code).unwrap_or_default();
            assert_eq!(sanitize(&c.to_string()), format!("\\u{{{code:x}}}"));
        }
        assert_eq!(sanitize("\u{9b}31m"), r"\u{9b}31m");
        assert_eq!(sanitize("\u{9d}0;x\u{9c}"), r"\u{9d}0;x\u{9c}");
    }

    #[test]
    fn bidi_overrides_and_isolates_are_escaped() {
        assert_eq!(
            sanitize("\u{202a}\u{202b}\u{202c}\u{202d}\u{202e}"),
            r"\u{202a}\u{202b}\u{202c}\u{202d}\u{202e}"
        );
        assert_eq!(
            sanitize("\u{2066}\u{2067}\u{2068}\u{2069}"),
            r"\u{2066}\u{2067}\u{2068}\u{2069}"
        );
        // Neighbours are ordinary text.
        assert_eq!(
            sanitize("\u{2029}\u{202f}\u{2065}\u{206a}"),
            "\u{2029}\u{202f}\u{2065}\u{206a}"
        );
    }

    #[test]
    fn output_never_holds_an_unsafe_character() {
        let all: String = (0u32..0x3000).filter_map(char::from_u32).collect();
        assert!(!sanitize(&all).chars().any(is_unsafe));
        assert!(!sanitize_json(&all).chars().any(is_unsafe));
    }

    #[test]
    fn json_stays_the_same_value() -> Result<(), serde_json::Error> {
        let text = "x\u{1b}[1m\u{7f}\u{85}\u{202e}y";
        let json = serde_json::Value::from(text).to_string();
        let safe = sanitize_json(&json);
        assert!(!safe.chars().any(is_unsafe), "{safe}");
        assert_eq!(serde_json::from_str::<String>(&safe)?, text);
        assert!(
            safe.contains(r"\u007f") && safe.contains(r"\u202e"),
            "{safe}"
        );
        Ok(())
    }
}
