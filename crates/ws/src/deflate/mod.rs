//! permessage-deflate (RFC 7692): each message's payload compressed with DEFLATE, negotiated
//! in the opening handshake.
//!
//! Where it sits:
//! ```text
//! handshake: offer (client) ─▶ negotiate (server) ─▶ response ─▶ DeflateParams on both sides
//! receive:   FrameDecoder (RSV1 allowed) ─▶ Assembler ─▶ Inflater (bounded) ─▶ UTF-8 ─▶ Message
//! send:      Message ─▶ Deflater (≥ threshold) ─▶ frame with RSV1 ─▶ Outbound
//!            Prepared::deflated: compressed once, shared by every connection that can take it
//! ```
//!
//! ## Settings ([`DeflateConfig`]) and what they cost
//!
//! Without context takeover on a side, that side keeps nothing between messages: its compressor
//! or decompressor is taken from a small cache of the thread's for one message and given back
//! (a decompressor stays with the connection only while a message arrives in pieces). With it,
//! the connection keeps its own. Measured (`examples/deflate-memory.rs`: 2,000 server
//! connections, each after one compressed message in and one out, resident memory):
//!
//! | negotiated | memory per connection, beside no deflate |
//! | --- | --- |
//! | no context takeover either way (what the rustchat server asks for) | none (±0.1 KiB) |
//! | the peer keeps its context (we keep a decompressor) | +21 KiB (window 2^15 or 2^12 alike) |
//! | we keep ours (we keep a compressor, window 2^15) | +312 KiB |
//! | both keep their context | +330 KiB |
//!
//! ## Limits
//! [`crate::Config::max_message_size`] applies to the *inflated* message, checked while
//! inflating: a small frame that would inflate to a gigabyte costs at most the limit (plus one
//! chunk) before the connection is failed with 1009 ([`crate::ProtocolError::InflatedTooLarge`]).
//! Text is checked for UTF-8 on the inflated bytes as they come out.
//!
//! ## Backend
//! flate2 over zlib-rs (Rust, no C): it can compress with window sizes below 2^15, which the
//! peer may ask for. A window of 2^8 (allowed by RFC 7692, not by zlib) is served with stored
//! blocks, which refer to nothing.

mod codec;
mod negotiate;

pub use negotiate::{Agreement, negotiate};
pub(crate) use negotiate::{check_response, offer};

pub(crate) use codec::{Inflation, deflate_message};

/// What this end wants from permessage-deflate: whether to use it, and how.
///
/// "Our" settings are about what we send (our compressor), "peer" settings about what we
/// receive (the peer's compressor).
///
/// ```
/// use rustchat_ws::{Config, DeflateConfig};
/// let config = Config::default().deflate(
///     DeflateConfig::enabled()
///         .no_context_takeover(true)
///         .peer_no_context_takeover(true)
///         .threshold(64),
/// );
/// assert!(config.deflate.enabled);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeflateConfig {
    /// Offer (client) or accept (server) permessage-deflate. Off by default.
    pub enabled: bool,
    /// Compression level, 0 (none) to 9 (best, slowest). Default 1: most of the gain for chat
    /// text at a fraction of the cost of 6.
    pub level: u8,
    /// Messages shorter than this many bytes are sent uncompressed (the frame header says so).
    /// Default 32.
    pub threshold: usize,
    /// Start every message we compress afresh (`server_no_context_takeover` as a server,
    /// `client_no_context_takeover` as a client): no compressor kept between messages, and
    /// messages compressed once can be shared between connections.
    pub no_context_takeover: bool,
    /// Ask the peer to compress each message afresh, so that we keep no decompressor between
    /// messages (a server includes `client_no_context_takeover` in its answer; a client offers
    /// `server_no_context_takeover`).
    pub peer_no_context_takeover: bool,
    /// The largest window we compress with, 8 to 15 (bits). Default 15.
    pub max_window_bits: u8,
    /// The largest window we let the peer compress with, 8 to 15 (bits), where it lets us say
    /// (a client that offers `client_max_window_bits`; a server asked with
    /// `server_max_window_bits`). Default 15.
    pub peer_max_window_bits: u8,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            level: 1,
            threshold: 32,
            no_context_takeover: false,
            peer_no_context_takeover: false,
            max_window_bits: 15,
            peer_max_window_bits: 15,
        }
    }
}

impl DeflateConfig {
    /// The default settings, turned on.
    pub fn enabled() -> Self {
        Self {
            enabled: true,
            ..Self::default()
        }
    }

    /// Sets [`DeflateConfig::level`] (capped at 9).
    pub fn level(mut self, level: u8) -> Self {
        self.level = level.min(9);
        self
    }

    /// Sets [`DeflateConfig::threshold`].
    pub fn threshold(mut self, bytes: usize) -> Self {
        self.threshold = bytes;
        self
    }

    /// Sets [`DeflateConfig::no_context_takeover`].
    pub fn no_context_takeover(mut self, on: bool) -> Self {
        self.no_context_takeover = on;
        self
    }

    /// Sets [`DeflateConfig::peer_no_context_takeover`].
    pub fn peer_no_context_takeover(mut self, on: bool) -> Self {
        self.peer_no_context_takeover = on;
        self
    }

    /// Sets [`DeflateConfig::max_window_bits`] (kept within 8..=15).
    pub fn max_window_bits(mut self, bits: u8) -> Self {
        self.max_window_bits = bits.clamp(MIN_WINDOW_BITS, MAX_WINDOW_BITS);
        self
    }

    /// Sets [`DeflateConfig::peer_max_window_bits`] (kept within 8..=15).
    pub fn peer_max_window_bits(mut self, bits: u8) -> Self {
        self.peer_max_window_bits = bits.clamp(MIN_WINDOW_BITS, MAX_WINDOW_BITS);
        self
    }
}

/// The smallest window RFC 7692 allows (2^8 bytes).
pub const MIN_WINDOW_BITS: u8 = 8;
/// The largest window, DEFLATE's own (2^15 bytes).
pub const MAX_WINDOW_BITS: u8 = 15;

/// What the handshake settled for one connection, in RFC 7692's terms.
///
/// ```
/// use rustchat_ws::Role;
/// use rustchat_ws::deflate::DeflateParams;
/// let params = DeflateParams::default();
/// assert!(params.keeps_context(Role::Server) && params.keeps_context(Role::Client));
/// assert_eq!(params.window_bits(Role::Client), 15);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateParams {
    /// The server compresses each message afresh.
    pub server_no_context_takeover: bool,
    /// The client compresses each message afresh.
    pub client_no_context_takeover: bool,
    /// The largest window the server compresses with (bits).
    pub server_max_window_bits: u8,
    /// The largest window the client compresses with (bits).
    pub client_max_window_bits: u8,
}

impl Default for DeflateParams {
    /// `permessage-deflate` with no parameters: both keep their context, windows of 2^15.
    fn default() -> Self {
        Self {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: MAX_WINDOW_BITS,
            client_max_window_bits: MAX_WINDOW_BITS,
        }
    }
}

impl DeflateParams {
    /// Whether `sender` keeps its compression context from one message to the next.
    pub fn keeps_context(&self, sender: crate::Role) -> bool {
        match sender {
            crate::Role::Server => !self.server_no_context_takeover,
            crate::Role::Client => !self.client_no_context_takeover,
        }
    }

    /// The largest window `sender` compresses with, in bits.
    pub fn window_bits(&self, sender: crate::Role) -> u8 {
        match sender {
            crate::Role::Server => self.server_max_window_bits,
            crate::Role::Client => self.client_max_window_bits,
        }
    }
}

#[cfg(test)]
mod tests;
