//! Helpers shared by the in-memory peer tests (`peers.rs`, `chunking.rs`): build raw frames a
//! peer might send (rules or no rules), drain a connection's events, and read back the frames
//! it queued.

use rustchat_ws::frame::{FrameHeader, MAX_HEADER_LEN, OpCode};
use rustchat_ws::mask::apply_mask;
use rustchat_ws::{Connection, Error, Event};

/// The masking key of the RFC 6455 §5.7 examples, used for every hand-built client frame.
pub(crate) const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A frame as a peer might put it on the wire, including frames that break the protocol.
#[derive(Debug, Clone)]
pub(crate) struct Raw {
    /// The 4-bit opcode, reserved values allowed.
    pub(crate) opcode: u8,
    pub(crate) fin: bool,
    /// RSV bits as `0b0RRR`.
    pub(crate) rsv: u8,
    pub(crate) mask: Option<[u8; 4]>,
    pub(crate) payload: Vec<u8>,
}

impl Raw {
    /// A final frame masked with [`KEY`], as a client sends it.
    pub(crate) fn new(opcode: OpCode, payload: impl AsRef<[u8]>) -> Self {
        Self::reserved(opcode.as_u8(), payload)
    }

    /// Like [`Raw::new`], with any 4-bit opcode (reserved ones too).
    pub(crate) fn reserved(opcode: u8, payload: impl AsRef<[u8]>) -> Self {
        Self {
            opcode,
            fin: true,
            rsv: 0,
            mask: Some(KEY),
            payload: payload.as_ref().to_vec(),
        }
    }

    /// Clears FIN: more fragments follow.
    pub(crate) fn not_fin(mut self) -> Self {
        self.fin = false;
        self
    }

    /// Sends the frame unmasked, as a server does.
    pub(crate) fn unmasked(mut self) -> Self {
        self.mask = None;
        self
    }

    /// The frame's bytes: header from [`FrameHeader::encode`], payload masked if a key is set.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = header_bytes(OpCode::Binary, self.payload.len() as u64, self.mask);
        out[0] = u8::from(self.fin) << 7 | (self.rsv & 0x7) << 4 | (self.opcode & 0xF);
        let start = out.len();
        out.extend_from_slice(&self.payload);
        if let Some(key) = self.mask {
            apply_mask(&mut out[start..], key, 0);
        }
        out
    }
}

/// Just the header of a final frame announcing `len` payload bytes (the payload may never come).
pub(crate) fn header_bytes(opcode: OpCode, len: u64, mask: Option<[u8; 4]>) -> Vec<u8> {
    let header = FrameHeader {
        fin: true,
        rsv: 0,
        opcode,
        mask,
        payload_len: len,
    };
    let mut head = [0u8; MAX_HEADER_LEN];
    let n = header.encode(&mut head);
    head[..n].to_vec()
}

/// Every event in the bytes received so far, up to the first `Ok(None)` (more bytes needed).
pub(crate) fn events(conn: &mut Connection) -> Result<Vec<Event>, Error> {
    let mut out = Vec::new();
    while let Some(event) = conn.next_event()? {
        out.push(event);
    }
    Ok(out)
}

/// One frame read back from queued bytes, payload unmasked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WireFrame {
    pub(crate) header: FrameHeader,
    pub(crate) payload: Vec<u8>,
}

/// Splits bytes into whole frames; panics on a bad header or a truncated frame.
pub(crate) fn frames(mut bytes: &[u8]) -> Vec<WireFrame> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let (header, head_len) = FrameHeader::parse(bytes)
            .expect("a valid frame header")
            .expect("a whole frame header");
        let end = head_len + usize::try_from(header.payload_len).expect("a small frame");
        assert!(bytes.len() >= end, "truncated frame: {header:?}");
        let mut payload = bytes[head_len..end].to_vec();
        if let Some(key) = header.mask {
            apply_mask(&mut payload, key, 0);
        }
        out.push(WireFrame { header, payload });
        bytes = &bytes[end..];
    }
    out
}

/// Asserts `bytes` are exactly one final Close frame; returns its code and reason
/// (`None`: an empty body).
pub(crate) fn sole_close(bytes: &[u8]) -> Option<(u16, String)> {
    let frames = frames(bytes);
    assert_eq!(frames.len(), 1, "expected one Close frame, got {frames:?}");
    let WireFrame { header, payload } = &frames[0];
    assert_eq!((header.opcode, header.fin), (OpCode::Close, true));
    match payload.as_slice() {
        [] => None,
        [hi, lo, reason @ ..] => {
            let reason = String::from_utf8(reason.to_vec()).expect("a UTF-8 close reason");
            Some((u16::from_be_bytes([*hi, *lo]), reason))
        }
        [_] => panic!("a close body of one byte"),
    }
}
