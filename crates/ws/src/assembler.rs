//! Frame chunks → messages: defragmentation, inflation and UTF-8 checking (RFC 6455 §5.4,
//! §8.1; RFC 7692 §6).
//!
//! A message that arrives as one frame in one piece (the common case) passes through without a
//! copy. Anything else is gathered into one buffer whose size is checked against the limits
//! before it grows. Text is validated piece by piece, so invalid UTF-8 fails the connection at
//! the first bad byte, even in the middle of a frame. A compressed message (RSV1 on its first
//! frame, with permessage-deflate negotiated) is inflated piece by piece as well, its inflated
//! size checked against the message limit as it grows and its text validated as it comes out.

use bytes::{Bytes, BytesMut};

use crate::decoder::FrameChunk;
use crate::deflate::Inflation;
use crate::error::ProtocolError;
use crate::frame::OpCode;
use crate::message::{Message, Text};
use crate::utf8::Utf8Validator;

/// RSV1: the first frame of a compressed message (RFC 7692 §6).
pub(crate) const RSV1: u8 = 0b100;

/// A message being gathered from several chunks.
#[derive(Debug)]
struct Partial {
    text: bool,
    /// Payload bytes received so far (compressed, for a compressed message).
    wire: u64,
    /// The message so far, when it is not compressed.
    data: BytesMut,
    /// The inflated message so far, when it is compressed.
    inflated: Option<Vec<u8>>,
    frames: usize,
}

/// Reassembles data-frame chunks into [`Message`]s. Control frames never come here.
#[derive(Debug)]
pub struct Assembler {
    max_message_size: usize,
    max_fragments: usize,
    partial: Option<Partial>,
    utf8: Utf8Validator,
    /// permessage-deflate, when negotiated.
    inflation: Option<Inflation>,
}

impl Assembler {
    /// An assembler enforcing these limits.
    pub fn new(max_message_size: usize, max_fragments: usize) -> Self {
        Self {
            max_message_size,
            max_fragments,
            partial: None,
            utf8: Utf8Validator::new(),
            inflation: None,
        }
    }

    /// Takes compressed messages from now on (permessage-deflate was negotiated).
    pub(crate) fn inflate_with(&mut self, inflation: Inflation) {
        self.inflation = Some(inflation);
    }

    /// Whether a decompressor is held (the peer keeps its context, or a compressed message is
    /// arriving).
    pub(crate) fn holds_inflate_state(&self) -> bool {
        self.inflation.as_ref().is_some_and(Inflation::holds_state)
    }

    /// Whether a fragmented message is in progress.
    pub fn in_message(&self) -> bool {
        self.partial.is_some()
    }

    /// Takes the next chunk of a data frame; returns a message when one is complete.
    #[inline]
    pub fn push(&mut self, chunk: FrameChunk) -> Result<Option<Message>, ProtocolError> {
        if chunk.first {
            self.start_frame(&chunk)?;
            if chunk.last && chunk.header.fin && self.partial.is_none() {
                return self.whole(chunk).map(Some);
            }
        }
        let message_done = chunk.last && chunk.header.fin;
        let Some(partial) = self.partial.as_mut() else {
            return Ok(None);
        };
        partial.wire += chunk.payload.len() as u64;
        if let Some(inflated) = partial.inflated.as_mut() {
            let inflation = self
                .inflation
                .as_mut()
                .ok_or(ProtocolError::ReservedBits(RSV1))?;
            let start = inflated.len();
            inflation.inflate(&chunk.payload, inflated, self.max_message_size)?;
            if message_done {
                inflation.finish(inflated, self.max_message_size)?;
            }
            if partial.text {
                self.utf8
                    .feed(&inflated[start..])
                    .map_err(|_| ProtocolError::InvalidUtf8)?;
            }
        } else {
            if partial.text {
                self.utf8
                    .feed(&chunk.payload)
                    .map_err(|_| ProtocolError::InvalidUtf8)?;
            }
            partial.data.extend_from_slice(&chunk.payload);
        }
        if !message_done {
            return Ok(None);
        }
        let Some(done) = self.partial.take() else {
            return Ok(None);
        };
        let payload = match done.inflated {
            Some(inflated) => Bytes::from(inflated),
            None => done.data.freeze(),
        };
        if done.text {
            self.utf8.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
            return Ok(Some(Message::Text(Text::from_validated(payload))));
        }
        Ok(Some(Message::Binary(payload)))
    }

    /// Forgets the message in progress (the connection failed), giving back what it holds.
    pub(crate) fn abandon(&mut self) {
        self.partial = None;
        if let Some(inflation) = self.inflation.as_mut() {
            inflation.abandon();
        }
    }

    /// Checks a new frame against the message in progress and the limits; reserves its room.
    fn start_frame(&mut self, chunk: &FrameChunk) -> Result<(), ProtocolError> {
        let header = &chunk.header;
        let so_far = self.partial.as_ref().map_or(0, |p| p.wire);
        match (header.opcode, &mut self.partial) {
            // RFC 6455 §5.4: fragments of one message MUST NOT be interleaved with another.
            (OpCode::Text | OpCode::Binary, Some(_)) => {
                return Err(ProtocolError::ExpectedContinuation);
            }
            (OpCode::Continuation, None) => return Err(ProtocolError::UnexpectedContinuation),
            (OpCode::Continuation, Some(partial)) => {
                partial.frames += 1;
                if partial.frames > self.max_fragments {
                    return Err(ProtocolError::TooManyFragments {
                        max: self.max_fragments,
                    });
                }
            }
            _ => {}
        }
        let total = so_far + header.payload_len;
        if total > self.max_message_size as u64 {
            return Err(ProtocolError::MessageTooLarge {
                len: total,
                max: self.max_message_size,
            });
        }
        let compressed = header.rsv & RSV1 != 0;
        let whole = chunk.last && header.fin && !compressed;
        if !whole {
            let partial = self.partial.get_or_insert_with(|| Partial {
                text: header.opcode == OpCode::Text,
                wire: 0,
                data: BytesMut::new(),
                inflated: compressed.then(Vec::new),
                frames: 1,
            });
            if partial.inflated.is_none() {
                // Within the limits just checked: reserving the announced size is safe.
                partial.data.reserve(header.payload_len as usize);
            }
        }
        Ok(())
    }

    /// A message that arrived as one frame in one piece: no copy.
    #[inline]
    fn whole(&mut self, chunk: FrameChunk) -> Result<Message, ProtocolError> {
        let payload: Bytes = chunk.payload;
        // ASCII (most chat text) is checked in one vectorised pass; only other text needs the
        // full UTF-8 check.
        if chunk.header.opcode == OpCode::Text && !payload.is_ascii() {
            std::str::from_utf8(&payload).map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        Ok(match chunk.header.opcode {
            OpCode::Text => Message::Text(Text::from_validated(payload)),
            _ => Message::Binary(payload),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::FrameHeader;

    fn chunk(opcode: OpCode, fin: bool, payload: &[u8], first: bool, last: bool) -> FrameChunk {
        let header = FrameHeader {
            fin,
            rsv: 0,
            opcode,
            mask: None,
            payload_len: payload.len() as u64,
        };
        FrameChunk {
            header,
            payload: Bytes::copy_from_slice(payload),
            first,
            last,
        }
    }

    #[test]
    fn rfc_fragmented_hello() {
        let mut a = Assembler::new(100, 10);
        assert_eq!(
            a.push(chunk(OpCode::Text, false, b"Hel", true, true)),
            Ok(None)
        );
        let msg = a.push(chunk(OpCode::Continuation, true, b"lo", true, true));
        assert_eq!(msg, Ok(Some(Message::text("Hello"))));
        assert!(!a.in_message());
    }

    #[test]
    fn sequencing_rules() {
        let mut a = Assembler::new(100, 10);
        let r = a.push(chunk(OpCode::Continuation, true, b"x", true, true));
        assert_eq!(r, Err(ProtocolError::UnexpectedContinuation));
        let mut a = Assembler::new(100, 10);
        assert_eq!(
            a.push(chunk(OpCode::Binary, false, b"x", true, true)),
            Ok(None)
        );
        let r = a.push(chunk(OpCode::Text, true, b"y", true, true));
        assert_eq!(r, Err(ProtocolError::ExpectedContinuation));
    }

    #[test]
    fn utf8_fails_at_the_bad_piece_of_an_unfinished_frame() {
        let mut a = Assembler::new(100, 10);
        let mut first = chunk(OpCode::Text, true, b"ok", true, false);
        first.header.payload_len = 10;
        assert_eq!(a.push(first.clone()), Ok(None));
        let mut bad = chunk(OpCode::Text, true, &[0xff], false, false);
        bad.header = first.header;
        assert_eq!(a.push(bad), Err(ProtocolError::InvalidUtf8));
    }

    #[test]
    fn message_size_limit_at_the_boundary_and_past_it() {
        let mut a = Assembler::new(4, 10);
        assert_eq!(
            a.push(chunk(OpCode::Binary, false, b"ab", true, true)),
            Ok(None)
        );
        let done = a.push(chunk(OpCode::Continuation, true, b"cd", true, true));
        assert_eq!(done, Ok(Some(Message::binary(&b"abcd"[..]))));
        assert_eq!(
            a.push(chunk(OpCode::Binary, false, b"abc", true, true)),
            Ok(None)
        );
        let r = a.push(chunk(OpCode::Continuation, true, b"de", true, true));
        assert_eq!(r, Err(ProtocolError::MessageTooLarge { len: 5, max: 4 }));
    }

    #[test]
    fn fragment_count_limit_at_the_boundary_and_past_it() {
        let mut a = Assembler::new(100, 3);
        assert_eq!(
            a.push(chunk(OpCode::Binary, false, b"a", true, true)),
            Ok(None)
        );
        assert_eq!(
            a.push(chunk(OpCode::Continuation, false, b"b", true, true)),
            Ok(None)
        );
        let done = a.push(chunk(OpCode::Continuation, true, b"c", true, true));
        assert_eq!(done, Ok(Some(Message::binary(&b"abc"[..]))));
        for payload in [b"a", b"b", b"c"] {
            let opcode = if payload == b"a" {
                OpCode::Binary
            } else {
                OpCode::Continuation
            };
            assert_eq!(a.push(chunk(opcode, false, payload, true, true)), Ok(None));
        }
        let r = a.push(chunk(OpCode::Continuation, true, b"d", true, true));
        assert_eq!(r, Err(ProtocolError::TooManyFragments { max: 3 }));
    }

    #[test]
    fn incomplete_code_point_at_message_end_fails() {
        let mut a = Assembler::new(100, 10);
        assert_eq!(
            a.push(chunk(OpCode::Text, false, &[0xe2, 0x82], true, true)),
            Ok(None)
        );
        let r = a.push(chunk(OpCode::Continuation, true, b"", true, true));
        assert_eq!(r, Err(ProtocolError::InvalidUtf8));
    }
}
