//! Structured chunk sequences → `Assembler`.
//!
//! Two modes:
//! * `Frames`: data frames (opcode, FIN, payload) cut into chunks the way the decoder hands
//!   them out (first piece may be empty, later pieces are not, `last` on the final piece,
//!   header length = payload length). Each `push` result is compared with a reference model
//!   of RFC 6455 §5.4 defragmentation, the limits and fail-fast UTF-8 (§8.1): same message,
//!   same error, at the same chunk. Returned messages respect `max_message_size`; text is UTF-8.
//! * `Raw`: arbitrary chunks (any opcode and flags, header lengths that disagree with the
//!   payloads) — inputs the decoder never produces: only "no panic", and text is UTF-8.
#![no_main]

use arbitrary::Arbitrary;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use rustchat_ws::assembler::Assembler;
use rustchat_ws::decoder::FrameChunk;
use rustchat_ws::frame::{FrameHeader, OpCode};
use rustchat_ws::{Message, ProtocolError};

#[derive(Debug, Clone, Copy, Arbitrary)]
enum DataOp {
    Continuation,
    Text,
    Binary,
}

impl From<DataOp> for OpCode {
    fn from(op: DataOp) -> Self {
        match op {
            DataOp::Continuation => OpCode::Continuation,
            DataOp::Text => OpCode::Text,
            DataOp::Binary => OpCode::Binary,
        }
    }
}

#[derive(Debug, Arbitrary)]
struct Frame {
    opcode: DataOp,
    fin: bool,
    payload: Vec<u8>,
    /// Piece sizes after the first piece; the first piece is `first_piece` bytes (may be 0).
    first_piece: u8,
    pieces: Vec<u8>,
}

#[derive(Debug, Arbitrary)]
struct RawChunk {
    opcode: u8,
    fin: bool,
    rsv: u8,
    payload_len: u16,
    payload: Vec<u8>,
    first: bool,
    last: bool,
}

#[derive(Debug, Arbitrary)]
enum Input {
    Frames { max_message_size: u8, max_fragments: u8, frames: Vec<Frame> },
    Raw { max_message_size: u8, max_fragments: u8, chunks: Vec<RawChunk> },
}

/// The reference model: whole frames, checked chunk by chunk exactly as the RFC asks.
struct Model {
    max_message_size: usize,
    max_fragments: usize,
    /// (text, bytes so far, frames so far) of the message in progress.
    partial: Option<(bool, Vec<u8>, usize)>,
}

impl Model {
    fn push(&mut self, c: &FrameChunk) -> Result<Option<Message>, ProtocolError> {
        let h = &c.header;
        if c.first {
            match (h.opcode, &mut self.partial) {
                (OpCode::Text | OpCode::Binary, Some(_)) => {
                    return Err(ProtocolError::ExpectedContinuation);
                }
                (OpCode::Continuation, None) => return Err(ProtocolError::UnexpectedContinuation),
                (OpCode::Continuation, Some((_, _, frames))) => {
                    *frames += 1;
                    if *frames > self.max_fragments {
                        return Err(ProtocolError::TooManyFragments { max: self.max_fragments });
                    }
                }
                _ => {}
            }
            let so_far = self.partial.as_ref().map_or(0, |p| p.1.len()) as u64;
            let total = so_far + h.payload_len;
            if total > self.max_message_size as u64 {
                return Err(ProtocolError::MessageTooLarge { len: total, max: self.max_message_size });
            }
            if self.partial.is_none() {
                self.partial = Some((h.opcode == OpCode::Text, Vec::new(), 1));
            }
        }
        let (text, data, _) = self.partial.as_mut().expect("a message is in progress");
        data.extend_from_slice(&c.payload);
        if *text {
            // Fail fast: as soon as no continuation could make the bytes so far UTF-8.
            if let Err(e) = std::str::from_utf8(data) {
                if e.error_len().is_some() {
                    return Err(ProtocolError::InvalidUtf8);
                }
            }
        }
        if !(c.last && h.fin) {
            return Ok(None);
        }
        let (text, data, _) = self.partial.take().expect("in progress");
        if text {
            let s = String::from_utf8(data).map_err(|_| ProtocolError::InvalidUtf8)?;
            return Ok(Some(Message::text(s)));
        }
        Ok(Some(Message::binary(data)))
    }
}

fn check_message(m: &Message, max_message_size: usize) {
    assert!(m.len() <= max_message_size, "message of {} bytes, limit {max_message_size}", m.len());
    if m.is_text() {
        assert!(std::str::from_utf8(m.payload()).is_ok(), "text message is not UTF-8");
    }
}

/// Cuts a frame into decoder-shaped chunks.
fn chunks_of(f: &Frame) -> Vec<FrameChunk> {
    let header = FrameHeader {
        fin: f.fin,
        rsv: 0,
        opcode: f.opcode.into(),
        mask: None,
        payload_len: f.payload.len() as u64,
    };
    let payload = Bytes::from(f.payload.clone());
    let mut out = Vec::new();
    let mut at = usize::from(f.first_piece).min(payload.len());
    out.push(FrameChunk {
        header,
        payload: payload.slice(..at),
        first: true,
        last: at == payload.len(),
    });
    let mut sizes = f.pieces.iter().map(|&p| usize::from(p.max(1)));
    while at < payload.len() {
        let end = at.saturating_add(sizes.next().unwrap_or(usize::MAX)).min(payload.len());
        out.push(FrameChunk {
            header,
            payload: payload.slice(at..end),
            first: false,
            last: end == payload.len(),
        });
        at = end;
    }
    out
}

fuzz_target!(|input: Input| match input {
    Input::Frames { max_message_size, max_fragments, frames } => {
        let (max_message_size, max_fragments) =
            (usize::from(max_message_size), usize::from(max_fragments % 16));
        let mut real = Assembler::new(max_message_size, max_fragments);
        let mut model = Model { max_message_size, max_fragments, partial: None };
        for chunk in frames.iter().flat_map(chunks_of) {
            let got = real.push(chunk.clone());
            let want = model.push(&chunk);
            assert_eq!(got, want, "chunk {chunk:?}");
            match got {
                Ok(Some(m)) => check_message(&m, max_message_size),
                Ok(None) => {}
                Err(_) => return,
            }
            assert_eq!(real.in_message(), model.partial.is_some());
        }
    }
    Input::Raw { max_message_size, max_fragments, chunks } => {
        let max_message_size = usize::from(max_message_size);
        let mut real = Assembler::new(max_message_size, usize::from(max_fragments % 16));
        for c in chunks {
            let Ok(opcode) = OpCode::try_from(c.opcode & 0x0F) else {
                continue;
            };
            let chunk = FrameChunk {
                header: FrameHeader {
                    fin: c.fin,
                    rsv: c.rsv & 7,
                    opcode,
                    mask: None,
                    payload_len: u64::from(c.payload_len),
                },
                payload: Bytes::from(c.payload),
                first: c.first,
                last: c.last,
            };
            match real.push(chunk) {
                Ok(Some(m)) if m.is_text() => {
                    assert!(std::str::from_utf8(m.payload()).is_ok(), "text message is not UTF-8");
                }
                Ok(_) => {}
                Err(_) => return,
            }
        }
    }
});
