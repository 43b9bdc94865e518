//! Every way an opening handshake can fail, one variant per rule.
//!
//! Three kinds live here, told apart by [`HandshakeError::is_misuse`] and by where they come from:
//! - **the client broke a rule** (returned by [`Request::upgrade`](super::Request::upgrade) and
//!   [`Request::parse`](super::Request::parse)): each knows the HTTP status the server answers
//!   with, and [`HandshakeError::response`] renders that answer;
//! - **the server broke a rule** (returned by
//!   [`ClientHandshake::parse_response`](super::ClientHandshake::parse_response)): the client must
//!   fail the connection and report the error;
//! - **misuse of this API** by the application (a subprotocol that was not offered, a header that
//!   would corrupt the head, a bad URL).

use bytes::Bytes;
use thiserror::Error;

use super::http::{http_response, reason_phrase};

/// A failed opening handshake: what was wrong and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum HandshakeError {
    // --- limits (either side) ---
    /// The head (request or status line plus headers) did not end within the limit.
    #[error(
        "HTTP head too large: it must end (blank line) within {limit} bytes; send fewer or shorter headers"
    )]
    HeadTooLarge {
        /// [`HeadLimits::max_head_bytes`](super::HeadLimits::max_head_bytes) in force.
        limit: usize,
    },
    /// The head has more header fields than the limit.
    #[error("too many HTTP header fields: at most {limit} are accepted")]
    TooManyHeaders {
        /// [`HeadLimits::max_headers`](super::HeadLimits::max_headers) in force.
        limit: usize,
    },
    /// The bytes are not an HTTP/1.x head (the text is httparse's diagnosis).
    #[error("malformed HTTP head ({0}): expected an HTTP/1.1 head such as `GET /chat HTTP/1.1`")]
    Malformed(String),

    // --- the client's request broke RFC 6455 §4.2.1 (server side) ---
    /// RFC 6455 §4.2.1 item 1: the method must be GET.
    #[error("method {method} not allowed: a WebSocket upgrade must be a GET request")]
    NotGet {
        /// The method the client sent.
        method: String,
    },
    /// RFC 6455 §4.2.1 item 1 / §4.1: HTTP/1.1 or later (Upgrade does not exist in HTTP/1.0).
    #[error("HTTP/1.{minor} cannot upgrade: a WebSocket handshake must use HTTP/1.1")]
    BadHttpVersion {
        /// The minor version sent (`0` for HTTP/1.0).
        minor: u8,
    },
    /// RFC 6455 §4.2.1 item 2: a Host header is required.
    #[error("missing Host header: a WebSocket upgrade must name the host it is for")]
    MissingHost,
    /// A header that may appear only once appeared several times.
    #[error("the {name} header appears more than once: it must appear exactly once")]
    DuplicateHeader {
        /// The header's name.
        name: &'static str,
    },
    /// RFC 6455 §4.2.1 item 3 / §4.1 response item 2: `Upgrade: websocket` is required.
    #[error("missing `Upgrade: websocket` header: a WebSocket handshake needs it")]
    NoUpgradeHeader,
    /// RFC 6455 §4.2.1 item 4 / §4.1 response item 3: `Connection: Upgrade` is required.
    #[error(
        "the Connection header lacks the `Upgrade` token: a WebSocket handshake needs `Connection: Upgrade`"
    )]
    NoConnectionUpgrade,
    /// RFC 6455 §4.2.1 item 6: the only version is 13. Answered with 426 and
    /// `Sec-WebSocket-Version: 13`.
    #[error(
        "unsupported Sec-WebSocket-Version {}: this server speaks version 13",
        found.as_deref().map_or("(missing)", |v| v)
    )]
    UnsupportedVersion {
        /// The value sent, clipped to 64 bytes; `None` when the header is absent.
        found: Option<String>,
    },
    /// RFC 6455 §4.2.1 item 5: a key is required.
    #[error(
        "missing Sec-WebSocket-Key header: a WebSocket upgrade needs a base64-encoded 16-byte key"
    )]
    MissingKey,
    /// RFC 6455 §4.2.1 item 5: the key must be base64 of exactly 16 bytes.
    #[error("invalid Sec-WebSocket-Key ({reason}): it must be a base64-encoded 16-byte value")]
    InvalidKey {
        /// Why the key was refused.
        reason: String,
    },
    /// RFC 6455 §4.2.2: the application refused the handshake (typically its Origin). 403.
    #[error("forbidden: {reason}")]
    Forbidden {
        /// Said to the client in the 403 body.
        reason: String,
    },

    // --- the server's response broke RFC 6455 §4.1 (client side) ---
    /// The server answered with something other than 101 Switching Protocols.
    #[error(
        "the server answered {status} {reason} instead of 101 Switching Protocols{}",
        if body.is_empty() { String::new() } else { format!(": {body}") }
    )]
    UnexpectedStatus {
        /// The status code received.
        status: u16,
        /// The reason phrase received.
        reason: String,
        /// The first line of the body as far as it was in the buffer, at most 200 characters,
        /// control characters escaped; empty for an HTML page (not an error message).
        body: String,
    },
    /// RFC 6455 §4.1 response item 4: the accept value must match our key.
    #[error(
        "bad Sec-WebSocket-Accept {}: expected {expected} (base64 SHA-1 of our key and the GUID)",
        found.as_deref().map_or("(missing)", |v| v)
    )]
    BadAccept {
        /// The value that matches the key we sent.
        expected: String,
        /// The value received, `None` when absent.
        found: Option<String>,
    },
    /// RFC 6455 §4.1 response item 6: the chosen subprotocol must be one we offered.
    #[error(
        "the server chose subprotocol `{protocol}`, which we did not offer (offered: {offered})"
    )]
    UnofferedProtocol {
        /// The protocol the server chose.
        protocol: String,
        /// What we offered, comma-separated (empty when none).
        offered: String,
    },
    /// RFC 6455 §4.1 response item 5: no extension may be used that we did not request.
    #[error("the server selected extension(s) `{extensions}`, which we did not request")]
    UnrequestedExtension {
        /// The Sec-WebSocket-Extensions value received.
        extensions: String,
    },
    /// RFC 7692 §5.1, §7.1: the server's permessage-deflate answer is not one we can honour.
    #[error("the server's `{extensions}` does not answer our permessage-deflate offer: {reason}")]
    BadExtensionResponse {
        /// The Sec-WebSocket-Extensions value received.
        extensions: String,
        /// What is wrong with it.
        reason: String,
    },

    // --- misuse of this API ---
    /// The URL given to the client is not a usable `ws://` or `wss://` URL (RFC 6455 §3).
    #[error("invalid WebSocket URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong and what is expected.
        reason: String,
    },
    /// RFC 6455 §4.2.2: the server may only choose a subprotocol the client offered.
    #[error("cannot accept with subprotocol `{protocol}`: the client offered only: {offered}")]
    ProtocolNotOffered {
        /// The protocol the application chose.
        protocol: String,
        /// What the client offered, comma-separated.
        offered: String,
    },
    /// RFC 6455 §4.1: subprotocol names must be unique tokens (visible ASCII, no separators).
    #[error("invalid subprotocol name `{name}`: {reason}")]
    InvalidProtocolName {
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An extra header given by the application cannot be sent as is.
    #[error("cannot send header `{name}`: {reason}")]
    InvalidExtraHeader {
        /// The header name given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The operating system's random generator failed (the client key must be random).
    #[error("no random key: the system random generator failed: {0}")]
    Random(String),
}

impl HandshakeError {
    /// The HTTP status a server answers this error with.
    ///
    /// 400 for a malformed or incomplete upgrade request; 405 for a method other than GET;
    /// 426 for a missing or unsupported version; 403 for [`Forbidden`](Self::Forbidden);
    /// **431** (RFC 6585, "Request Header Fields Too Large") for a head over the byte or header
    /// count limit, because it tells the client exactly what to change. Misuse of the API is a bug
    /// on our side: 500. Errors about a server's response never reach a server's peer; they map to
    /// 502 (Bad Gateway) should a proxy forward them.
    pub fn status(&self) -> u16 {
        use HandshakeError as E;
        match self {
            E::HeadTooLarge { .. } | E::TooManyHeaders { .. } => 431,
            E::NotGet { .. } => 405,
            E::UnsupportedVersion { .. } => 426,
            E::Forbidden { .. } => 403,
            E::Malformed(_)
            | E::BadHttpVersion { .. }
            | E::MissingHost
            | E::DuplicateHeader { .. }
            | E::NoUpgradeHeader
            | E::NoConnectionUpgrade
            | E::MissingKey
            | E::InvalidKey { .. } => 400,
            E::UnexpectedStatus { .. }
            | E::BadAccept { .. }
            | E::UnofferedProtocol { .. }
            | E::UnrequestedExtension { .. }
            | E::BadExtensionResponse { .. } => 502,
            E::InvalidUrl { .. }
            | E::ProtocolNotOffered { .. }
            | E::InvalidProtocolName { .. }
            | E::InvalidExtraHeader { .. }
            | E::Random(_) => 500,
        }
    }

    /// Whether this error is a mistake of the application using this API rather than of the peer.
    pub fn is_misuse(&self) -> bool {
        self.status() == 500
    }

    /// A complete HTTP/1.1 response for this error: the status, `Connection: close`, a plain-text
    /// body saying what was wrong and what was expected, plus `Sec-WebSocket-Version: 13` for 426
    /// (RFC 6455 §4.2.2) and `Allow: GET` for 405 (RFC 9110 §15.5.6).
    pub fn response(&self) -> Bytes {
        let status = self.status();
        let extra: &[(&str, &str)] = match status {
            // RFC 6455 §4.2.2: on a version mismatch the server MUST send a
            // Sec-WebSocket-Version header with the version(s) it understands.
            // RFC 9110 §15.5.22: a 426 MUST carry an Upgrade header naming the protocol, and
            // §7.8: whoever sends Upgrade MUST list it in Connection.
            426 => &[
                ("Sec-WebSocket-Version", "13"),
                ("Upgrade", "websocket"),
                ("Connection", "Upgrade, close"),
            ],
            405 => &[("Allow", "GET")],
            _ => &[],
        };
        let body = format!("{self}\n");
        http_response(status, reason_phrase(status), extra, body.as_bytes())
    }
}

/// At most `max` bytes of `s`, cut on a character boundary (for echoing peer data in errors).
pub(super) fn clip(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default().to_owned()
}
