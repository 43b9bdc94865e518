//! A message encoded once and sent to many connections.

use bytes::Bytes;

use crate::assembler::RSV1;
use crate::deflate::{DeflateConfig, deflate_message};
use crate::frame::{FrameHeader, OpCode};
use crate::message::Message;
use crate::outbound::Outbound;

/// The complete server-to-client frame of a message (unmasked), or of several ([`Prepared::batch`]).
/// A chat server encodes a broadcast once and queues the same bytes on every receiver: a
/// reference-count bump each.
///
/// ```
/// use rustchat_ws::{Connection, Message, Prepared, Role, Config};
/// let prepared = Prepared::new(&Message::text("hi all"));
/// let mut a = Connection::new(Role::Server, Config::default());
/// let mut b = Connection::new(Role::Server, Config::default());
/// a.send_prepared(&prepared).unwrap();
/// b.send_prepared(&prepared).unwrap();
/// assert_eq!(a.outbound().take_all(), b.outbound().take_all());
/// ```
///
/// With [`Prepared::deflated`] the message is also compressed once (afresh, with no context),
/// and [`crate::Connection::send_prepared`] queues that form on every connection that can take
/// it: the compression is shared like the encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    plain: Bytes,
    /// The compressed frames, and the window they were compressed with (bits).
    deflated: Option<(Bytes, u8)>,
}

impl Prepared {
    /// Encodes `message` as one unmasked frame.
    pub fn new(message: &Message) -> Self {
        Self {
            plain: frame(message, message.payload(), 0),
            deflated: None,
        }
    }

    /// Encodes `message` as one frame, and also compressed (permessage-deflate, no context)
    /// with `config`'s level and window if it is at least the threshold long.
    ///
    /// ```
    /// use rustchat_ws::{Config, Connection, DeflateConfig, DeflateParams, Message, Prepared, Role};
    /// let deflate = DeflateConfig::enabled().no_context_takeover(true);
    /// let text = Message::text("the same words, the same words, the same words");
    /// let prepared = Prepared::deflated(&text, &deflate);
    /// let params = DeflateParams { server_no_context_takeover: true, ..DeflateParams::default() };
    /// let config = Config::default().deflate(deflate);
    /// let mut compressing = Connection::with_deflate(Role::Server, config, Some(params));
    /// let mut plain = Connection::new(Role::Server, config);
    /// compressing.send_prepared(&prepared).unwrap();
    /// plain.send_prepared(&prepared).unwrap();
    /// assert!(compressing.outbound().len() < plain.outbound().len());
    /// ```
    pub fn deflated(message: &Message, config: &DeflateConfig) -> Self {
        Self::new(message).with_deflated([message], config)
    }

    /// Several messages, each its own frame, encoded back to back in one buffer: queued on a
    /// connection in one go, received as separate messages (a multi-line event sent to a
    /// client that reads one line per message).
    ///
    /// ```
    /// use rustchat_ws::{Config, Connection, Event, Message, Prepared, Role};
    /// let two = Prepared::batch([Message::text("one"), Message::text("two")].iter());
    /// let mut server = Connection::new(Role::Server, Config::default());
    /// let mut client = Connection::new(Role::Client, Config::default());
    /// server.send_prepared(&two).unwrap();
    /// client.receive(&server.outbound().take_all());
    /// assert!(matches!(client.next_event(), Ok(Some(Event::Message(m))) if m.as_text() == Some("one")));
    /// assert!(matches!(client.next_event(), Ok(Some(Event::Message(m))) if m.as_text() == Some("two")));
    /// ```
    pub fn batch<'a>(messages: impl IntoIterator<Item = &'a Message>) -> Self {
        let mut messages = messages.into_iter();
        let Some(first) = messages.next() else {
            return Self {
                plain: Bytes::new(),
                deflated: None,
            };
        };
        let first = Self::new(first);
        let Some(second) = messages.next() else {
            return first; // the common case: one message, no second copy of its frame
        };
        let mut out = Outbound::default();
        out.push_encoded(&first.plain);
        for message in [second].into_iter().chain(messages) {
            out.push_encoded(&frame(message, message.payload(), 0));
        }
        Self {
            plain: out.take_all(),
            deflated: None,
        }
    }

    /// [`Prepared::batch`], each message also compressed as with [`Prepared::deflated`] (those
    /// under the threshold stay plain within the compressed form).
    pub fn batch_deflated<'a>(
        messages: impl IntoIterator<Item = &'a Message>,
        config: &DeflateConfig,
    ) -> Self {
        let messages: Vec<&Message> = messages.into_iter().collect();
        Self::batch(messages.iter().copied()).with_deflated(messages, config)
    }

    /// This prepared message (or batch) with its compressed form added, made from the
    /// `messages` it was prepared from: for a caller that already holds the plain form, so
    /// nothing is encoded twice. Unchanged if `config` is off or every message is under its
    /// threshold.
    pub fn with_deflated<'a>(
        mut self,
        messages: impl IntoIterator<Item = &'a Message>,
        config: &DeflateConfig,
    ) -> Self {
        if !config.enabled {
            return self;
        }
        let bits = config.max_window_bits;
        let mut out = Outbound::default();
        let mut any = false;
        for message in messages {
            let payload = message.payload();
            if payload.len() >= config.threshold {
                any = true;
                let compressed = deflate_message(payload, config.level, bits, None);
                out.push_encoded(&frame(message, &Bytes::from(compressed), RSV1));
            } else {
                out.push_encoded(&frame(message, payload, 0));
            }
        }
        if any {
            self.deflated = Some((out.take_all(), bits));
        }
        self
    }

    /// The frames' bytes, uncompressed.
    pub fn as_bytes(&self) -> &Bytes {
        &self.plain
    }

    /// The compressed frames and the window (bits) they were compressed with, if any.
    pub fn deflated_bytes(&self) -> Option<(&Bytes, u8)> {
        self.deflated.as_ref().map(|(frames, bits)| (frames, *bits))
    }
}

/// One unmasked frame of `message`'s kind carrying `payload`.
fn frame(message: &Message, payload: &Bytes, rsv: u8) -> Bytes {
    let opcode = if message.is_text() {
        OpCode::Text
    } else {
        OpCode::Binary
    };
    let header = FrameHeader {
        fin: true,
        rsv,
        opcode,
        mask: None,
        payload_len: payload.len() as u64,
    };
    let mut out = Outbound::default();
    out.push_frame(&header, payload);
    out.take_all()
}
