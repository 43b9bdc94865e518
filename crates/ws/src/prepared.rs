//! A message encoded once and sent to many connections.

use bytes::Bytes;

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared(Bytes);

impl Prepared {
    /// Encodes `message` as one unmasked frame.
    pub fn new(message: &Message) -> Self {
        let opcode = if message.is_text() {
            OpCode::Text
        } else {
            OpCode::Binary
        };
        let payload = message.payload();
        let header = FrameHeader {
            fin: true,
            rsv: 0,
            opcode,
            mask: None,
            payload_len: payload.len() as u64,
        };
        let mut out = Outbound::default();
        out.push_frame(&header, payload);
        Self(out.take_all())
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
            return Self(Bytes::new());
        };
        let first = Self::new(first);
        let Some(second) = messages.next() else {
            return first; // the common case: one message, no second copy of its frame
        };
        let mut out = Outbound::default();
        for frame in [first, Self::new(second)] {
            out.push_encoded(&frame.0);
        }
        for message in messages {
            out.push_encoded(&Self::new(message).0);
        }
        Self(out.take_all())
    }

    /// The frames' bytes.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }
}
