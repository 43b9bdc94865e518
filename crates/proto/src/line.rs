//! `LineCodec`: bytes of the TCP line protocol → lines of text, with bounded memory.
//!
//! Data path: socket bytes → the caller's `BytesMut` → [`LineCodec::decode`] → `String` line
//! (terminator removed) → `Command::parse`. The codec does no I/O: the caller appends what it
//! read and calls `decode` until it returns `Ok(None)`.
//!
//! - A line ends at `\n`; a `\r` just before it is removed too (`\r\n`). A `\r` elsewhere is
//!   kept as text.
//! - `Ok(None)` means "no complete line yet": the partial line stays in the buffer.
//! - A line longer than the limit (default [`DEFAULT_MAX_LINE`] bytes, terminator not counted)
//!   gives one `LineError::TooLong` as soon as it is known; the rest of that line is dropped
//!   up to its `\n` and the next line decodes normally. The connection can be kept.
//! - A line that is not UTF-8 gives `LineError::InvalidUtf8` and is dropped; the next line
//!   decodes normally.
//! - Memory is bounded: after `decode` returns `Ok(None)` or an error, the buffer holds at most
//!   `max + 1` bytes, whatever the peer sends. Bytes of an over-long line are dropped as they
//!   arrive, so a peer sending gigabytes without a newline costs nothing but time.

use bytes::{Buf, BytesMut};
use thiserror::Error;

use crate::error_kind::{ErrorKind, ErrorReply};

/// Default longest line, in bytes, terminator not counted.
pub const DEFAULT_MAX_LINE: usize = 4096;

/// The peer sent a line we cannot use. The line is dropped; the connection can go on.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LineError {
    #[error("line too long: more than {max} bytes, at most {max} — the line was discarded")]
    TooLong { max: usize },
    #[error(
        "line is not valid UTF-8 (bad byte at offset {valid_up_to}): expected UTF-8 text — the line was discarded"
    )]
    InvalidUtf8 { valid_up_to: usize },
}

impl ErrorReply for LineError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::TooLong { .. } => ErrorKind::LineTooLong,
            Self::InvalidUtf8 { .. } => ErrorKind::InvalidUtf8,
        }
    }
}

/// Splits a byte stream into lines; see the module docs for the rules.
#[derive(Debug, Clone)]
pub struct LineCodec {
    /// Longest line accepted, in bytes, without its terminator.
    max_length: usize,
    /// How many bytes at the front of the buffer are known to hold no `\n`, so that input
    /// arriving a byte at a time is searched once, not again on every call.
    scanned: usize,
    /// Inside an over-long line already reported: drop bytes up to and including its `\n`.
    discarding: bool,
}

impl Default for LineCodec {
    fn default() -> Self {
        Self::new()
    }
}

impl LineCodec {
    /// A codec with the default limit, [`DEFAULT_MAX_LINE`] bytes.
    pub fn new() -> Self {
        Self::with_max_length(DEFAULT_MAX_LINE)
    }

    /// A codec accepting lines of at most `max_length` bytes (terminator not counted).
    pub fn with_max_length(max_length: usize) -> Self {
        Self {
            max_length,
            scanned: 0,
            discarding: false,
        }
    }

    /// The longest line accepted, in bytes.
    pub fn max_length(&self) -> usize {
        self.max_length
    }

    /// Takes the next complete line out of `buf`.
    ///
    /// `Ok(Some(line))` for a line, `Ok(None)` when `buf` holds no complete line (call again
    /// after appending more bytes), `Err` for a line that was dropped (call again: more lines
    /// may follow).
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<String>, LineError> {
        if self.discarding && !self.discard(buf) {
            return Ok(None);
        }
        // A line of `max_length` bytes plus `\r\n` fits in this window; past it, too long.
        let limit = self.max_length.saturating_add(2);
        let window = buf.len().min(limit);
        // A buffer shorter than what was scanned is not the one scanned: search it all.
        let start = if self.scanned <= window {
            self.scanned
        } else {
            0
        };
        match find_newline(&buf[start..window]) {
            Some(offset) => {
                let end = start + offset;
                self.scanned = 0;
                let line = buf.split_to(end + 1);
                self.text(strip_terminator(&line))
            }
            None if window == limit => self.start_discarding(buf, window),
            None => {
                self.scanned = window;
                Ok(None)
            }
        }
    }

    /// Like [`LineCodec::decode`], once the peer has closed its side: what is left in `buf`
    /// without a final `\n` is returned as a last line (the rest of an over-long line is
    /// dropped).
    pub fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<String>, LineError> {
        if let Some(line) = self.decode(buf)? {
            return Ok(Some(line));
        }
        if self.discarding || buf.is_empty() {
            buf.clear();
            self.discarding = false;
            return Ok(None);
        }
        self.scanned = 0;
        let rest = buf.split();
        self.text(rest.strip_suffix(b"\r").unwrap_or(&rest))
    }

    /// Drops bytes of an over-long line; `true` once its `\n` was found and dropped too.
    fn discard(&mut self, buf: &mut BytesMut) -> bool {
        match find_newline(buf) {
            Some(end) => {
                buf.advance(end + 1);
                self.discarding = false;
                true
            }
            None => {
                buf.clear();
                false
            }
        }
    }

    /// Reports an over-long line once and drops what is known of it.
    fn start_discarding(
        &mut self,
        buf: &mut BytesMut,
        window: usize,
    ) -> Result<Option<String>, LineError> {
        buf.advance(window);
        self.scanned = 0;
        self.discarding = true;
        Err(LineError::TooLong {
            max: self.max_length,
        })
    }

    /// Checks one line's bytes (terminator removed) and turns them into text.
    fn text(&self, line: &[u8]) -> Result<Option<String>, LineError> {
        if line.len() > self.max_length {
            return Err(LineError::TooLong {
                max: self.max_length,
            });
        }
        match std::str::from_utf8(line) {
            Ok(text) => Ok(Some(text.to_owned())),
            Err(err) => Err(LineError::InvalidUtf8 {
                valid_up_to: err.valid_up_to(),
            }),
        }
    }
}

fn find_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

/// Removes the `\n`, and a `\r` just before it.
fn strip_terminator(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    type Decoded = Result<String, LineError>;

    /// Decodes everything `buf` holds: every line or error, in order.
    fn drain(codec: &mut LineCodec, buf: &mut BytesMut) -> Vec<Decoded> {
        let mut out = Vec::new();
        loop {
            match codec.decode(buf) {
                Ok(Some(line)) => out.push(Ok(line)),
                Ok(None) => return out,
                Err(err) => out.push(Err(err)),
            }
        }
    }

    fn decode_all(max: usize, input: &[u8]) -> Vec<Decoded> {
        let mut codec = LineCodec::with_max_length(max);
        drain(&mut codec, &mut BytesMut::from(input))
    }

    fn decode_chunked(max: usize, input: &[u8], chunk: usize) -> Vec<Decoded> {
        let mut codec = LineCodec::with_max_length(max);
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for piece in input.chunks(chunk.max(1)) {
            buf.extend_from_slice(piece);
            out.extend(drain(&mut codec, &mut buf));
        }
        out
    }

    fn ok(line: &str) -> Decoded {
        Ok(line.to_owned())
    }

    #[test]
    fn lf_and_crlf_end_lines_and_a_lone_cr_is_text() {
        let got = decode_all(100, b"one\ntwo\r\n\nthree\rfour\n");
        assert_eq!(got, vec![ok("one"), ok("two"), ok(""), ok("three\rfour")]);
    }

    #[test]
    fn incomplete_input_is_none_and_stays_in_the_buffer() -> Result<(), LineError> {
        let mut codec = LineCodec::new();
        let mut buf = BytesMut::from(&b"partial"[..]);
        assert_eq!(codec.decode(&mut buf)?, None);
        assert_eq!(&buf[..], b"partial");
        buf.extend_from_slice(b" line\r\nnext");
        assert_eq!(codec.decode(&mut buf)?, Some("partial line".to_owned()));
        assert_eq!(codec.decode(&mut buf)?, None);
        assert_eq!(&buf[..], b"next");
        Ok(())
    }

    #[test]
    fn default_limit_is_4096() {
        assert_eq!(LineCodec::new().max_length(), 4096);
        assert_eq!(LineCodec::default().max_length(), DEFAULT_MAX_LINE);
    }

    #[test]
    fn line_at_the_limit_passes_with_either_terminator() {
        let line = "x".repeat(DEFAULT_MAX_LINE);
        let lf = format!("{line}\n");
        let crlf = format!("{line}\r\n");
        assert_eq!(decode_all(DEFAULT_MAX_LINE, lf.as_bytes()), vec![ok(&line)]);
        assert_eq!(
            decode_all(DEFAULT_MAX_LINE, crlf.as_bytes()),
            vec![ok(&line)]
        );
        assert_eq!(
            decode_chunked(DEFAULT_MAX_LINE, crlf.as_bytes(), 1),
            vec![ok(&line)]
        );
    }

    #[test]
    fn line_past_the_limit_is_reported_once_and_the_next_line_works() {
        let too_long = format!("{}\r\nnext\n", "x".repeat(DEFAULT_MAX_LINE + 1));
        let expected = vec![
            Err(LineError::TooLong {
                max: DEFAULT_MAX_LINE,
            }),
            ok("next"),
        ];
        assert_eq!(decode_all(DEFAULT_MAX_LINE, too_long.as_bytes()), expected);
        assert_eq!(
            decode_chunked(DEFAULT_MAX_LINE, too_long.as_bytes(), 1),
            expected
        );
        let much_too_long = format!("{}\nnext\n", "x".repeat(3 * DEFAULT_MAX_LINE));
        assert_eq!(
            decode_chunked(DEFAULT_MAX_LINE, much_too_long.as_bytes(), 100),
            expected
        );
    }

    #[test]
    fn error_messages_say_what_is_expected() {
        let long = LineError::TooLong { max: 4096 };
        assert_eq!(
            long.to_string(),
            "line too long: more than 4096 bytes, at most 4096 — the line was discarded"
        );
        assert_eq!(long.kind(), ErrorKind::LineTooLong);
        let utf8 = LineError::InvalidUtf8 { valid_up_to: 2 };
        assert_eq!(
            utf8.to_string(),
            "line is not valid UTF-8 (bad byte at offset 2): expected UTF-8 text — the line was discarded"
        );
        assert_eq!(utf8.to_event().to_line(), format!("ERROR {utf8}\n"));
    }

    #[test]
    fn invalid_utf8_drops_only_that_line() {
        let got = decode_all(100, b"ok\nab\xffcd\nh\xc3\xa9\n");
        assert_eq!(
            got,
            vec![
                ok("ok"),
                Err(LineError::InvalidUtf8 { valid_up_to: 2 }),
                ok("hé")
            ]
        );
    }

    #[test]
    fn a_flood_without_newline_keeps_memory_bounded() {
        let max = DEFAULT_MAX_LINE;
        let chunk = vec![b'a'; 64 * 1024];
        let mut codec = LineCodec::new();
        let mut buf = BytesMut::new();
        let mut errors = 0;
        for _ in 0..1024 {
            // 64 MiB in all, never a newline.
            buf.extend_from_slice(&chunk);
            for result in drain(&mut codec, &mut buf) {
                assert_eq!(result, Err(LineError::TooLong { max }));
                errors += 1;
            }
            assert!(buf.len() <= max + 1, "buffer grew to {}", buf.len());
        }
        assert_eq!(errors, 1);
        buf.extend_from_slice(b"tail of the flood\nhello\n");
        assert_eq!(drain(&mut codec, &mut buf), vec![ok("hello")]);
    }

    #[test]
    fn buffer_stays_bounded_while_waiting_below_the_limit() {
        let mut codec = LineCodec::with_max_length(8);
        let mut buf = BytesMut::new();
        for _ in 0..9 {
            buf.extend_from_slice(b"x");
            assert_eq!(drain(&mut codec, &mut buf), vec![]);
        }
        assert_eq!(buf.len(), 9);
        buf.extend_from_slice(b"x");
        assert_eq!(
            drain(&mut codec, &mut buf),
            vec![Err(LineError::TooLong { max: 8 })]
        );
        assert!(buf.is_empty());
    }

    #[test]
    fn eof_returns_the_unterminated_last_line() -> Result<(), LineError> {
        let mut codec = LineCodec::with_max_length(8);
        let mut buf = BytesMut::from(&b"first\nlast\r"[..]);
        assert_eq!(codec.decode_eof(&mut buf)?, Some("first".to_owned()));
        assert_eq!(codec.decode_eof(&mut buf)?, Some("last".to_owned()));
        assert_eq!(codec.decode_eof(&mut buf)?, None);
        let mut flood = BytesMut::from(&b"0123456789abc"[..]);
        assert_eq!(
            codec.decode_eof(&mut flood),
            Err(LineError::TooLong { max: 8 })
        );
        assert_eq!(codec.decode_eof(&mut flood)?, None);
        assert!(flood.is_empty());
        Ok(())
    }

    #[test]
    fn a_buffer_swapped_between_calls_does_not_panic() {
        let mut codec = LineCodec::with_max_length(8);
        let mut long = BytesMut::from(&b"abcdef"[..]);
        assert_eq!(codec.decode(&mut long), Ok(None));
        let mut short = BytesMut::from(&b"a\n"[..]);
        assert_eq!(codec.decode(&mut short), Ok(Some("a".to_owned())));
    }

    fn stream() -> impl Strategy<Value = Vec<u8>> {
        let byte = prop_oneof![
            4 => b'a'..=b'z',
            2 => Just(b'\n'),
            1 => Just(b'\r'),
            1 => Just(0xff_u8),
            1 => Just(0xc3_u8),
            1 => Just(0xa9_u8),
        ];
        proptest::collection::vec(byte, 0..200)
    }

    proptest! {
        #[test]
        fn byte_at_a_time_equals_all_at_once(input in stream(), max in 0usize..12) {
            prop_assert_eq!(decode_chunked(max, &input, 1), decode_all(max, &input));
        }

        #[test]
        fn any_chunking_equals_all_at_once(input in stream(), max in 0usize..12, chunk in 1usize..20) {
            prop_assert_eq!(decode_chunked(max, &input, chunk), decode_all(max, &input));
        }

        #[test]
        fn lines_are_within_limit_and_never_hold_a_newline(input in stream(), max in 0usize..12) {
            for line in decode_all(max, &input).into_iter().flatten() {
                prop_assert!(line.len() <= max);
                prop_assert!(!line.contains('\n'));
            }
        }
    }
}
