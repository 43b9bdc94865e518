//! Bytes on the wire, made cheap for a load generator.
//!
//! - [`OutFrame`]: a message encoded once — a masked WebSocket frame, or a line — whose stamp
//!   is rewritten in place before each send: no allocation and no re-encoding per message.
//! - [`Inbox`]: one read buffer per connection, cut into messages (WebSocket frames or lines)
//!   without copying; incomplete input waits for the next read.
//! - The stamp: `@@` + run id + sender + send time, in hex, inside the message text, so any
//!   server that relays text (ours in any wire format, or a peer) carries it to the receivers
//!   and the latency is measured end to end.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt};

/// Length of a stamp: `@@`, 8 hex digits of run id, 4 of sender, 16 of time.
pub const STAMP_LEN: usize = 30;

/// WebSocket opcodes (RFC 6455 §5.2).
pub mod opcode {
    /// A continuation frame.
    pub const CONTINUATION: u8 = 0x0;
    /// A text frame.
    pub const TEXT: u8 = 0x1;
    /// A binary frame.
    pub const BINARY: u8 = 0x2;
    /// A Close frame.
    pub const CLOSE: u8 = 0x8;
    /// A Ping frame.
    pub const PING: u8 = 0x9;
    /// A Pong frame.
    pub const PONG: u8 = 0xA;
}

/// What a stamp says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Which sender sent it.
    pub sender: u16,
    /// When, in nanoseconds on the bench's clock.
    pub sent_ns: u64,
}

/// Writes a stamp into the first [`STAMP_LEN`] bytes of `dst`.
pub fn write_stamp(dst: &mut [u8], run: u32, stamp: Stamp) {
    dst[..2].copy_from_slice(b"@@");
    write_hex(&mut dst[2..10], u64::from(run));
    write_hex(&mut dst[10..14], u64::from(stamp.sender));
    write_hex(&mut dst[14..30], stamp.sent_ns);
}

/// The first stamp of run `run` in `text`, if any.
pub fn find_stamp(text: &[u8], run: u32) -> Option<Stamp> {
    let mut from = 0;
    while let Some(at) = text[from..].windows(2).position(|w| w == b"@@") {
        let start = from + at;
        let stamp = text.get(start..start + STAMP_LEN)?;
        if read_hex(&stamp[2..10]) == Some(u64::from(run)) {
            return Some(Stamp {
                sender: read_hex(&stamp[10..14])? as u16,
                sent_ns: read_hex(&stamp[14..30])?,
            });
        }
        from = start + 1;
    }
    None
}

fn write_hex(dst: &mut [u8], mut value: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for byte in dst.iter_mut().rev() {
        *byte = DIGITS[(value & 0xf) as usize];
        value >>= 4;
    }
}

fn read_hex(src: &[u8]) -> Option<u64> {
    src.iter().try_fold(0u64, |acc, &b| {
        let digit = (b as char).to_digit(16)?;
        Some(acc << 4 | u64::from(digit))
    })
}

/// One message, encoded once, patched in place before each send.
#[derive(Debug, Clone)]
pub struct OutFrame {
    bytes: Vec<u8>,
    payload_at: usize,
    mask: Option<[u8; 4]>,
}

impl OutFrame {
    /// A client's WebSocket frame: FIN, `opcode`, masked with `key` (RFC 6455 §5.3).
    pub fn ws(opcode: u8, payload: &[u8], key: [u8; 4]) -> Self {
        let mut bytes = Vec::with_capacity(payload.len() + 14);
        bytes.push(0x80 | opcode);
        match payload.len() {
            n @ 0..=125 => bytes.push(0x80 | n as u8),
            n @ 126..=0xffff => {
                bytes.push(0x80 | 126);
                bytes.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                bytes.push(0x80 | 127);
                bytes.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        bytes.extend_from_slice(&key);
        let mut frame = Self {
            payload_at: bytes.len(),
            bytes,
            mask: Some(key),
        };
        frame.bytes.resize(frame.payload_at + payload.len(), 0);
        frame.patch(0, payload);
        frame
    }

    /// A line of the line protocol (the newline is added).
    pub fn line(text: &[u8]) -> Self {
        let mut bytes = text.to_vec();
        bytes.push(b'\n');
        Self {
            bytes,
            payload_at: 0,
            mask: None,
        }
    }

    /// Overwrites payload bytes from `offset` (masking them as the frame requires).
    pub fn patch(&mut self, offset: usize, data: &[u8]) {
        let start = self.payload_at + offset;
        let dst = &mut self.bytes[start..start + data.len()];
        match self.mask {
            Some(key) => {
                for (i, (d, s)) in dst.iter_mut().zip(data).enumerate() {
                    *d = s ^ key[(offset + i) % 4];
                }
            }
            None => dst.copy_from_slice(data),
        }
    }

    /// Rewrites the stamp at the start of the payload.
    pub fn stamp(&mut self, run: u32, stamp: Stamp) {
        let mut text = [0u8; STAMP_LEN];
        write_stamp(&mut text, run, stamp);
        self.patch(0, &text);
    }

    /// The bytes to write.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// A WebSocket frame header as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHead {
    /// The opcode.
    pub opcode: u8,
    /// Bytes of header (mask key included).
    pub header_len: usize,
    /// Bytes of payload.
    pub payload_len: usize,
    /// The mask key, if the frame is masked (a client's frame, echoed by a TCP echo server).
    pub mask: Option<[u8; 4]>,
    /// RSV1: a compressed message (permessage-deflate).
    pub compressed: bool,
}

/// Reads a frame header: `None` until all of it has arrived.
pub fn parse_head(buf: &[u8]) -> Option<FrameHead> {
    let (&b0, &b1) = (buf.first()?, buf.get(1)?);
    let (len, mut at) = match b1 & 0x7f {
        126 => (
            u64::from(u16::from_be_bytes(buf.get(2..4)?.try_into().ok()?)),
            4,
        ),
        127 => (u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?), 10),
        n => (u64::from(n), 2),
    };
    let mask = if b1 & 0x80 != 0 {
        let key: [u8; 4] = buf.get(at..at + 4)?.try_into().ok()?;
        at += 4;
        Some(key)
    } else {
        None
    };
    Some(FrameHead {
        compressed: b0 & 0x40 != 0,
        opcode: b0 & 0x0f,
        header_len: at,
        payload_len: usize::try_from(len).ok()?,
        mask,
    })
}

/// How an inbox cuts its bytes into messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// WebSocket frames.
    Ws,
    /// Lines ending in `\n`.
    Line,
}

/// One message out of an [`Inbox`].
#[derive(Debug, PartialEq, Eq)]
pub enum Item<'a> {
    /// A text or binary frame (or continuation), or a line. `mask` is set for masked frames.
    Data {
        /// The payload, still masked if `mask` is set.
        payload: &'a [u8],
        /// The mask key of a masked frame.
        mask: Option<[u8; 4]>,
    },
    /// A ping, which is owed a pong with this payload.
    Ping(&'a [u8]),
    /// A Close frame: the server is ending the connection.
    Close,
    /// A pong or another control frame: nothing to do.
    Other,
}

/// One connection's read buffer.
#[derive(Debug)]
pub struct Inbox {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    framing: Framing,
    /// permessage-deflate was negotiated (no context takeover): a compressed frame is inflated
    /// into `inflated` before it is handed out.
    inflater: Option<Box<flate2::Decompress>>,
    inflated: Vec<u8>,
}

impl Inbox {
    /// An empty inbox of `capacity` bytes (it grows for a larger message).
    pub fn new(framing: Framing, capacity: usize) -> Self {
        Self {
            buf: vec![0; capacity.max(64)],
            start: 0,
            end: 0,
            framing,
            inflater: None,
            inflated: Vec::new(),
        }
    }

    /// Inflates compressed frames from now on (the server took our permessage-deflate offer,
    /// with no context takeover: every message is a stream of its own).
    pub fn inflate(&mut self) {
        self.inflater = Some(Box::new(flate2::Decompress::new(false)));
    }

    /// Switches framing (after an opening handshake read as raw bytes).
    pub fn set_framing(&mut self, framing: Framing) {
        self.framing = framing;
    }

    /// Bytes received and not yet consumed.
    pub fn pending(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Marks `n` pending bytes as consumed.
    pub fn consume(&mut self, n: usize) {
        self.start = self.start.saturating_add(n).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Reads once from `io`; `Ok(0)` at end of stream.
    pub async fn fill<R: AsyncRead + Unpin>(&mut self, io: &mut R) -> io::Result<usize> {
        if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else {
                let bigger = self.buf.len() * 2;
                self.buf.resize(bigger, 0);
            }
        }
        let n = io.read(&mut self.buf[self.end..]).await?;
        self.end += n;
        Ok(n)
    }

    /// The next complete message, if one has arrived.
    pub fn next_item(&mut self) -> Option<Item<'_>> {
        let pending = &self.buf[self.start..self.end];
        match self.framing {
            Framing::Line => {
                let newline = pending.iter().position(|&b| b == b'\n')?;
                let begin = self.start;
                self.start += newline + 1;
                Some(Item::Data {
                    payload: &self.buf[begin..begin + newline],
                    mask: None,
                })
            }
            Framing::Ws => {
                let head = parse_head(pending)?;
                let total = head.header_len + head.payload_len;
                if pending.len() < total {
                    self.reserve_for(total);
                    return None;
                }
                let begin = self.start + head.header_len;
                self.start += total;
                if head.compressed
                    && let Some(inflater) = self.inflater.as_deref_mut()
                {
                    // The server's frames are unmasked; RFC 7692 §7.2.2: put back the tail.
                    let input = &self.buf[begin..begin + head.payload_len];
                    self.inflated.clear();
                    inflater.reset(false);
                    for part in [input, &[0x00, 0x00, 0xff, 0xff][..]] {
                        let mut rest = part;
                        loop {
                            self.inflated.reserve((rest.len() * 4).max(4096));
                            let before = inflater.total_in();
                            let flush = flate2::FlushDecompress::Sync;
                            if inflater
                                .decompress_vec(rest, &mut self.inflated, flush)
                                .is_err()
                            {
                                return Some(Item::Close);
                            }
                            let used = (inflater.total_in() - before) as usize;
                            rest = &rest[used.min(rest.len())..];
                            if rest.is_empty() && self.inflated.len() < self.inflated.capacity() {
                                break;
                            }
                        }
                    }
                    return Some(Item::Data {
                        payload: &self.inflated,
                        mask: None,
                    });
                }
                let payload = &self.buf[begin..begin + head.payload_len];
                Some(match head.opcode {
                    opcode::TEXT | opcode::BINARY | opcode::CONTINUATION => Item::Data {
                        payload,
                        mask: head.mask,
                    },
                    opcode::PING => Item::Ping(payload),
                    opcode::CLOSE => Item::Close,
                    _ => Item::Other,
                })
            }
        }
    }

    /// Makes room for a message of `total` bytes.
    fn reserve_for(&mut self, total: usize) {
        if total > self.buf.len() {
            self.buf.resize(total.next_power_of_two(), 0);
        }
    }

    /// Forgets consumed bytes once everything is consumed (call after draining items).
    pub fn compact(&mut self) {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }
}

/// `len` bytes of text that reads like chat (words, spaces, some repetition): what a
/// compressing server really gets, unlike one letter repeated.
pub fn chat_text(len: usize, seed: usize) -> Vec<u8> {
    const WORDS: [&str; 24] = [
        "the", "build", "is", "green", "again", "after", "I", "bumped", "tokio", "and", "fixed",
        "that", "flaky", "test", "anyone", "up", "for", "lunch", "at", "noon", "borrow", "checker",
        "says", "no",
    ];
    let mut text = Vec::with_capacity(len + 8);
    let mut k = seed.wrapping_mul(7) + 3;
    while text.len() < len {
        text.extend_from_slice(WORDS[k % WORDS.len()].as_bytes());
        text.push(b' ');
        k = k.wrapping_mul(31).wrapping_add(17);
    }
    text.truncate(len);
    text
}
