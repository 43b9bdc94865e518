//! Bytes → frame chunks: the streaming frame decoder.
//!
//! The decoder hands out a data frame's payload in pieces as it arrives ([`FrameChunk`]), so a
//! large frame never has to sit whole in the read buffer and a text frame's UTF-8 can be checked
//! before its last byte is in (RFC 6455 §8.1 asks to fail fast). A frame that is already complete
//! in the buffer — the usual case — comes out as one chunk whose payload is split off the buffer
//! without a copy. Control frames always come out whole: they are at most 125 bytes.
//! [`FrameDecoder::read_hint`] tells an adapter how much room its next read needs for the frame
//! to become complete, which keeps the fast path the usual one.
//!
//! Incomplete input is `Ok(None)` and consumes nothing that cannot be used yet.

use bytes::{Buf, Bytes, BytesMut};

use crate::error::ProtocolError;
use crate::frame::FrameHeader;
use crate::mask::apply_mask;
use crate::role::Role;

/// A piece of one frame's payload, already unmasked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameChunk {
    /// The header of the frame this piece belongs to.
    pub header: FrameHeader,
    /// The unmasked payload bytes of this piece (may be empty).
    pub payload: Bytes,
    /// This is the first piece of the frame (its header has just been read).
    pub first: bool,
    /// This is the last piece of the frame.
    pub last: bool,
}

/// Where the decoder is inside the byte stream.
#[derive(Debug, Clone, Copy)]
enum State {
    /// Waiting for (the rest of) a frame header.
    Header,
    /// Inside a frame's payload.
    Payload {
        header: FrameHeader,
        /// Payload bytes not yet handed out.
        remaining: u64,
        /// Payload bytes already handed out: the mask key's phase.
        done: usize,
    },
}

/// Turns the bytes a peer sent into [`FrameChunk`]s, checking every frame-level rule.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    role: Role,
    max_frame_size: usize,
    /// RSV bits an extension has claimed (`0b100` = RSV1); others must be 0.
    allowed_rsv: u8,
    state: State,
    /// Header and payload bytes of the last frame whose header was read: the guess for the
    /// size of the next one, which [`FrameDecoder::read_hint`] gives adapters.
    last_frame_len: u64,
}

impl FrameDecoder {
    /// A decoder for the side `role` of a connection (a server decodes client frames).
    pub fn new(role: Role, max_frame_size: usize) -> Self {
        Self {
            role,
            max_frame_size,
            allowed_rsv: 0,
            state: State::Header,
            last_frame_len: 0,
        }
    }

    /// Lets frames carry these RSV bits (`0b0RRR`): the hook a negotiated extension uses.
    pub fn allow_rsv(&mut self, bits: u8) {
        self.allowed_rsv = bits & 0x7;
    }

    /// Whether the decoder is between frames (no partial frame pending).
    #[inline]
    pub fn is_between_frames(&self) -> bool {
        matches!(self.state, State::Header)
    }

    /// How many more bytes, past the `buffered` ones not yet decoded, complete the frame being
    /// received. Between frames it is a guess: a frame as large as the last one (its header
    /// is not there yet to say). An adapter that makes room for this many before it reads gets
    /// a frame in one read, and a frame that is whole in the buffer is handed out without a copy.
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use rustchat_ws::Role;
    /// use rustchat_ws::decoder::FrameDecoder;
    ///
    /// let mut decoder = FrameDecoder::new(Role::Client, 1 << 20);
    /// // The header of a 300-byte binary frame, and 100 bytes of its payload.
    /// let mut buf = BytesMut::from(&[0x82, 0x7E, 0x01, 0x2C][..]);
    /// buf.extend_from_slice(&[0; 100]);
    /// assert_eq!(decoder.read_hint(&buf), 200);
    /// ```
    #[inline]
    pub fn read_hint(&self, buffered: &[u8]) -> usize {
        let frame_left = match self.state {
            State::Payload { remaining, .. } => remaining,
            State::Header => match FrameHeader::parse(buffered) {
                Ok(Some((header, len))) => header.payload_len.saturating_add(len as u64),
                Ok(None) | Err(_) => self.last_frame_len,
            },
        };
        usize::try_from(frame_left)
            .unwrap_or(usize::MAX)
            .saturating_sub(buffered.len())
    }

    /// Decodes the next chunk from the front of `buf`, removing the bytes it used.
    #[inline]
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<FrameChunk>, ProtocolError> {
        let first = match self.state {
            State::Header => {
                let Some((header, len)) = FrameHeader::parse(buf)? else {
                    return Ok(None);
                };
                self.check(&header)?;
                self.last_frame_len = header.payload_len.saturating_add(len as u64);
                if let Some(chunk) = whole_frame(buf, header, len) {
                    return Ok(Some(chunk));
                }
                if buf.len() == len {
                    // Only the header is in: nothing to hand out yet. Leaving it in the buffer
                    // lets the frame still come out whole, uncopied, if the rest comes at once.
                    return Ok(None);
                }
                buf.advance(len);
                let remaining = header.payload_len;
                self.state = State::Payload {
                    header,
                    remaining,
                    done: 0,
                };
                true
            }
            State::Payload { .. } => false,
        };
        Ok(self.payload(buf, first))
    }

    /// The rules that depend on this connection rather than on the header alone.
    #[inline]
    fn check(&self, header: &FrameHeader) -> Result<(), ProtocolError> {
        // RFC 6455 §5.2: a nonzero RSV bit that no extension defines MUST fail the connection.
        if header.rsv & !self.allowed_rsv != 0 {
            return Err(ProtocolError::ReservedBits(header.rsv));
        }
        match (self.role, header.mask.is_some()) {
            // RFC 6455 §5.1: a server MUST close the connection upon an unmasked frame.
            (Role::Server, false) => return Err(ProtocolError::UnmaskedFrame),
            // RFC 6455 §5.1: a client MUST close the connection if it detects a masked frame.
            (Role::Client, true) => return Err(ProtocolError::MaskedFrame),
            _ => {}
        }
        if header.payload_len > self.max_frame_size as u64 {
            return Err(ProtocolError::FrameTooLarge {
                len: header.payload_len,
                max: self.max_frame_size,
            });
        }
        Ok(())
    }

    /// Hands out what has arrived of the current frame's payload.
    fn payload(&mut self, buf: &mut BytesMut, first: bool) -> Option<FrameChunk> {
        let State::Payload {
            header,
            remaining,
            done,
        } = self.state
        else {
            return None;
        };
        let available = remaining.min(buf.len() as u64) as usize;
        let last = available as u64 == remaining;
        // Control frames come whole; a data chunk is worth handing out if it says something.
        if !last && (header.opcode.is_control() || (available == 0 && !first)) {
            return None;
        }
        if let Some(key) = header.mask {
            apply_mask(&mut buf[..available], key, done);
        }
        let payload = buf.split_to(available).freeze();
        self.state = if last {
            State::Header
        } else {
            State::Payload {
                header,
                remaining: remaining - available as u64,
                done: done + available,
            }
        };
        // A control frame always comes out whole, so its one chunk is its first (even when its
        // header arrived in an earlier read than its payload).
        let first = first || header.opcode.is_control();
        Some(FrameChunk {
            header,
            payload,
            first,
            last,
        })
    }
}

/// The fast path: a frame already complete in `buf` comes out in one piece, split off the
/// buffer together with its header (one split instead of an advance and a split).
#[inline]
fn whole_frame(buf: &mut BytesMut, header: FrameHeader, head_len: usize) -> Option<FrameChunk> {
    let end = head_len.checked_add(usize::try_from(header.payload_len).ok()?)?;
    if buf.len() < end {
        return None;
    }
    if let Some(key) = header.mask {
        apply_mask(&mut buf[head_len..end], key, 0);
    }
    let mut frame = buf.split_to(end).freeze();
    frame.advance(head_len);
    Some(FrameChunk {
        header,
        payload: frame,
        first: true,
        last: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::OpCode;

    fn decode_all(decoder: &mut FrameDecoder, bytes: &[u8]) -> Vec<FrameChunk> {
        let mut buf = BytesMut::from(bytes);
        let mut out = Vec::new();
        while let Some(chunk) = decoder.decode(&mut buf).expect("valid input") {
            out.push(chunk);
        }
        out
    }

    #[test]
    fn rfc_masked_hello_as_one_chunk() {
        let mut d = FrameDecoder::new(Role::Server, 1024);
        let bytes = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let chunks = decode_all(&mut d, &bytes);
        assert_eq!(chunks.len(), 1);
        assert_eq!(
            (&chunks[0].payload[..], chunks[0].first, chunks[0].last),
            (&b"Hello"[..], true, true)
        );
        assert!(d.is_between_frames());
    }

    #[test]
    fn partial_payload_comes_out_in_pieces_unmasked() {
        let mut d = FrameDecoder::new(Role::Server, 1024);
        let bytes = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let mut buf = BytesMut::new();
        let mut text = Vec::new();
        for b in bytes {
            buf.extend_from_slice(&[b]);
            while let Some(chunk) = d.decode(&mut buf).expect("valid") {
                text.extend_from_slice(&chunk.payload);
            }
        }
        assert_eq!(text, b"Hello");
    }

    #[test]
    fn control_frames_wait_until_whole() {
        let mut d = FrameDecoder::new(Role::Client, 1024);
        let mut buf = BytesMut::from(&[0x89, 0x05, b'H', b'e'][..]);
        assert_eq!(d.decode(&mut buf), Ok(None));
        buf.extend_from_slice(b"llo");
        let chunk = d.decode(&mut buf).expect("valid").expect("complete");
        assert_eq!(
            (chunk.header.opcode, &chunk.payload[..]),
            (OpCode::Ping, &b"Hello"[..])
        );
    }

    #[test]
    fn a_control_frame_split_after_its_header_is_still_a_first_chunk() {
        let mut d = FrameDecoder::new(Role::Client, 1024);
        let mut buf = BytesMut::from(&[0x89, 0x02][..]);
        assert_eq!(d.decode(&mut buf), Ok(None));
        buf.extend_from_slice(b"hi");
        let chunk = d.decode(&mut buf).expect("valid").expect("complete");
        assert!(chunk.first && chunk.last, "{chunk:?}");
    }

    #[test]
    fn masking_direction_is_enforced() {
        let mut server = FrameDecoder::new(Role::Server, 1024);
        let mut buf = BytesMut::from(&[0x81, 0x00][..]);
        assert_eq!(server.decode(&mut buf), Err(ProtocolError::UnmaskedFrame));
        let mut client = FrameDecoder::new(Role::Client, 1024);
        let mut buf = BytesMut::from(&[0x81, 0x80, 1, 2, 3, 4][..]);
        assert_eq!(client.decode(&mut buf), Err(ProtocolError::MaskedFrame));
    }

    #[test]
    fn rsv_bits_need_an_extension() {
        let mut d = FrameDecoder::new(Role::Client, 1024);
        let mut buf = BytesMut::from(&[0xC1, 0x00][..]);
        assert_eq!(d.decode(&mut buf), Err(ProtocolError::ReservedBits(0b100)));
        d.allow_rsv(0b100);
        let mut buf = BytesMut::from(&[0xC1, 0x00][..]);
        assert_eq!(
            d.decode(&mut buf).expect("allowed").map(|c| c.header.rsv),
            Some(0b100)
        );
    }

    #[test]
    fn frame_size_limit_at_the_boundary_and_past_it() {
        let mut d = FrameDecoder::new(Role::Client, 126);
        let mut buf = BytesMut::from(&[0x82, 0x7E, 0x00, 0x7E][..]);
        assert_eq!(
            d.decode(&mut buf),
            Ok(None),
            "allowed: waiting for the payload"
        );
        buf.extend_from_slice(&[0; 126]);
        assert!(d.decode(&mut buf).expect("126 bytes is allowed").is_some());
        let mut d = FrameDecoder::new(Role::Client, 125);
        let mut buf = BytesMut::from(&[0x82, 0x7E, 0x00, 0x7E][..]);
        assert_eq!(
            d.decode(&mut buf),
            Err(ProtocolError::FrameTooLarge { len: 126, max: 125 })
        );
        assert_eq!(buf.len(), 4, "nothing consumed, nothing reserved");
    }
}
