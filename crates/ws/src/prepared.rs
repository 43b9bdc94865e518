//! A message encoded once and sent to many connections.

use bytes::Bytes;

use crate::frame::{FrameHeader, OpCode};
use crate::message::Message;
use crate::outbound::Outbound;

/// The complete server-to-client frame of a message (unmasked). A chat server encodes a
/// broadcast once and queues the same bytes on every receiver: a reference-count bump each.
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

    /// The frame's bytes.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }
}
