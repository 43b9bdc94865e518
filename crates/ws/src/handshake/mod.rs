//! The opening handshake (RFC 6455 §4), sans-IO, for both ends of a connection.
//!
//! Where it sits: it is the first thing on the wire. On a **server**, bytes read from a socket go
//! to [`Request::parse`], which reads any HTTP/1.1 request head (the chat server also serves `/`
//! and `/healthz` with it); [`Request::upgrade`] checks every rule of RFC 6455 §4.2.1 and
//! [`Upgrade::accept`] renders the `101 Switching Protocols` bytes to write back, or
//! [`HandshakeError::response`] the refusal. On a **client**, [`ClientHandshake`] turns a
//! `ws://`/`wss://` URL into request bytes and checks the server's answer with
//! [`ClientHandshake::parse_response`]. After the head, the connection speaks frames.
//!
//! Why it is built this way: nothing here touches a socket or a clock, so the same code serves the
//! blocking and the tokio adapters and is tested by two peers exchanging bytes in memory. Parsing
//! follows one rule: "not enough bytes yet" is `Ok(None)` and consumes nothing; the caller reads
//! more and calls again with the whole buffer. A head is refused before any further work once it
//! outgrows [`HeadLimits`], so a peer cannot make us buffer or scan without bound.
//!
//! ```
//! use rustchat_ws::handshake::{ClientHandshake, HeadLimits, Request};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // The client renders its request ...
//! let client = ClientHandshake::builder("ws://chat.example:8080/chat?room=rust")
//!     .protocols(["rustchat.v1"])
//!     .header("Origin", "http://chat.example:8080")
//!     .build()?;
//! let request_bytes = client.request();
//!
//! // ... the server parses it, checks it is a valid upgrade and accepts it ...
//! let (request, used) = Request::parse(&request_bytes, &HeadLimits::default())?.ok_or("short")?;
//! assert_eq!(used, request_bytes.len());
//! let upgrade = request.upgrade()?;
//! assert_eq!(upgrade.origin(), Some("http://chat.example:8080"));
//! let response_bytes = upgrade.accept(Some("rustchat.v1"))?;
//!
//! // ... and the client checks the answer. Both sides now speak WebSocket frames.
//! let (response, used) = client.parse_response(&response_bytes)?.ok_or("short")?;
//! assert_eq!(used, response_bytes.len());
//! assert_eq!(response.protocol(), Some("rustchat.v1"));
//! # Ok(())
//! # }
//! ```

mod client;
mod error;
mod http;
mod server;
mod url;

pub use client::{ClientBuilder, ClientHandshake, Response};
pub use error::HandshakeError;
pub use http::{http_response, reason_phrase};
pub use server::{Request, Upgrade};
pub use url::WsUrl;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha1::{Digest as _, Sha1};

/// The GUID appended to the key before hashing (RFC 6455 §1.3, §4.2.2 item 5.4).
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The only protocol version RFC 6455 defines (§4.1: "The value of this header field MUST be 13").
pub const VERSION: &str = "13";

/// The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key` as sent (the base64 text, not the
/// decoded bytes): base64(SHA-1(key ++ [`GUID`])) (RFC 6455 §4.2.2 item 5.4).
///
/// ```
/// # use rustchat_ws::handshake::accept_key;
/// assert_eq!(accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
pub fn accept_key(key: &[u8]) -> String {
    let mut sha1 = Sha1::new();
    sha1.update(key);
    sha1.update(GUID.as_bytes());
    BASE64.encode(sha1.finalize())
}

/// How much of an HTTP head (request or response) we are willing to read.
///
/// A head that outgrows either limit is refused as soon as that is known, even if it is not
/// complete yet. Change one field with struct update syntax:
///
/// ```
/// # use rustchat_ws::handshake::HeadLimits;
/// let limits = HeadLimits { max_headers: 32, ..HeadLimits::default() };
/// assert_eq!(limits.max_head_bytes, 8 * 1024);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadLimits {
    /// Most bytes from the first byte to the end of the blank line that ends the head.
    ///
    /// Default 8 KiB: a browser's upgrade request is well under 1 KiB, even with cookies it is
    /// rarely over 4 KiB, and 8 KiB is the common default of HTTP servers (nginx, Apache), so a
    /// larger head is not a real client. Since an incomplete head is parsed again from the start
    /// when more bytes arrive, this also bounds the work done per head.
    pub max_head_bytes: usize,
    /// Most header fields in the head.
    ///
    /// Default 64: an upgrade request carries about ten; 64 leaves room for proxies' and
    /// browsers' additions while bounding the per-head header table. An excess is refused as
    /// soon as the first header line past the limit is complete, before the head ends.
    pub max_headers: usize,
}

impl Default for HeadLimits {
    fn default() -> Self {
        Self {
            max_head_bytes: 8 * 1024,
            max_headers: 64,
        }
    }
}

impl HeadLimits {
    /// The bytes of `buf` worth giving to httparse: a head longer than this is refused anyway.
    fn window<'b>(&self, buf: &'b [u8]) -> &'b [u8] {
        buf.get(..self.max_head_bytes).unwrap_or(buf)
    }

    /// A header table just big enough: never larger than the limit, nor than the number of header
    /// lines that fit in `window` (the shortest line, `a:\n`, is 3 bytes).
    fn header_table(&self, window: &[u8]) -> Vec<httparse::Header<'static>> {
        let fit = window.len() / 3 + 1;
        vec![httparse::EMPTY_HEADER; self.max_headers.min(fit)]
    }

    /// Turns httparse's verdict on `window` (cut from a buffer of `buf_len` bytes) into ours.
    fn verdict(
        &self,
        parsed: httparse::Result<usize>,
        buf_len: usize,
    ) -> Result<Option<usize>, HandshakeError> {
        match parsed {
            Ok(httparse::Status::Complete(len)) => Ok(Some(len)),
            // Incomplete with `max_head_bytes` already buffered: the head can only be longer.
            Ok(httparse::Status::Partial) if buf_len >= self.max_head_bytes => {
                Err(HandshakeError::HeadTooLarge {
                    limit: self.max_head_bytes,
                })
            }
            Ok(httparse::Status::Partial) => Ok(None),
            Err(httparse::Error::TooManyHeaders) => Err(HandshakeError::TooManyHeaders {
                limit: self.max_headers,
            }),
            Err(e) => Err(HandshakeError::Malformed(e.to_string())),
        }
    }
}

/// The header fields of a parsed head, in the order received, looked up case-insensitively.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    /// (name as sent, raw value): values may hold obs-text bytes that are not UTF-8.
    fields: Vec<(String, Vec<u8>)>,
}

impl Headers {
    fn from_httparse(fields: &[httparse::Header<'_>]) -> Self {
        let fields = fields
            .iter()
            .map(|h| (h.name.to_owned(), trim_ows(h.value).to_vec()));
        Self {
            fields: fields.collect(),
        }
    }

    /// The first value of header `name` if it is UTF-8.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.get_bytes(name)
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The first value of header `name`, as raw bytes.
    pub fn get_bytes(&self, name: &str) -> Option<&[u8]> {
        let (_, value) = self
            .fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))?;
        Some(value)
    }

    /// Every value of header `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        let named = |(n, _): &&(String, Vec<u8>)| n.eq_ignore_ascii_case(name);
        self.fields.iter().filter(named).map(|(_, v)| v.as_slice())
    }

    /// How many times header `name` appears.
    pub fn count(&self, name: &str) -> usize {
        self.get_all(name).count()
    }

    /// The elements of the comma-separated list in header `name`, over all its occurrences (as if
    /// joined by commas, RFC 9110 §5.3), trimmed, empty elements and non-UTF-8 values skipped.
    pub fn list<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.get_all(name)
            .filter_map(|v| std::str::from_utf8(v).ok())
            .flat_map(|v| v.split(','))
            .map(|e| e.trim_matches([' ', '\t']))
            .filter(|e| !e.is_empty())
    }

    /// Whether the list in header `name` holds `token`, compared ASCII case-insensitively.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.list(name).any(|e| e.eq_ignore_ascii_case(token))
    }

    /// All fields as (name, value), in the order received.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.fields.iter().map(|(n, v)| (n.as_str(), v.as_slice()))
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The single value of a header that may appear at most once (RFC 6455 §11.3).
    fn single(&self, name: &'static str) -> Result<Option<&[u8]>, HandshakeError> {
        match self.count(name) {
            0 => Ok(None),
            1 => Ok(self.get_bytes(name)),
            _ => Err(HandshakeError::DuplicateHeader { name }),
        }
    }
}

/// `value` without leading and trailing spaces and tabs (HTTP "optional whitespace").
fn trim_ows(value: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = value.iter().position(|b| !is_ows(b)).unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| !is_ows(b))
        .map_or(start, |i| i + 1);
    value.get(start..end).unwrap_or_default()
}

/// Whether `s` is an HTTP token (RFC 9110 §5.6.2): visible ASCII without separators.
fn is_token(s: &str) -> bool {
    const SEPARATORS: &[u8] = b"()<>@,;:\\\"/[]?={} \t";
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !SEPARATORS.contains(&b))
}

/// Checks a header the application wants to add: a token name, a value without control characters,
/// and not one of the `reserved` names the handshake writes itself.
fn check_extra_header(name: &str, value: &str, reserved: &[&str]) -> Result<(), HandshakeError> {
    let bad = |reason| {
        Err(HandshakeError::InvalidExtraHeader {
            name: name.to_owned(),
            reason,
        })
    };
    if !is_token(name) {
        return bad("the name must be an HTTP token (visible ASCII, no separators)");
    }
    // RFC 9110 §5.5: a field value is visible characters, spaces and tabs (and obs-text).
    if value.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
        return bad("the value must not contain control characters (CR, LF, NUL, DEL, …)");
    }
    if reserved.iter().any(|r| r.eq_ignore_ascii_case(name)) {
        return bad("the handshake writes this header itself");
    }
    Ok(())
}

/// Appends `name: value\r\n`.
fn push_header(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests;
