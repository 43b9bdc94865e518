//! Encoded frames waiting to be written: the bytes an adapter flushes.
//!
//! Small frames are copied into one contiguous tail buffer, so a burst of them goes out in one
//! write. A large unmasked payload is not copied at all: its `Bytes` is queued as its own chunk
//! right after its header, and adapters write the chunks with one vectored write.

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Buf, Bytes, BytesMut};

use crate::frame::{FrameHeader, MAX_HEADER_LEN};
use crate::mask::apply_mask;

/// Payloads up to this size are copied next to their header rather than queued by reference.
const COPY_THRESHOLD: usize = 4096;
/// The most buffer kept once everything is written: room for a small frame or two, reused by
/// the next ones without an allocation. A larger buffer is freed, so an idle connection holds
/// at most this much here.
const KEEP_TAIL: usize = 128;

/// The queue of bytes to send, in order.
#[derive(Debug, Default)]
pub struct Outbound {
    /// Full chunks, oldest first; all come before `tail`.
    chunks: VecDeque<Bytes>,
    /// Small frames, appended until a large payload forces a cut.
    tail: BytesMut,
    /// Total bytes queued.
    len: usize,
    /// How many bytes at the end of the queue form a frame that may still be taken back
    /// ([`Outbound::push_replaceable_frame`]): none of it written, nothing queued after it.
    replaceable: u8,
}

impl Outbound {
    /// Queues one frame: small or masked payloads are copied behind the header, a large
    /// unmasked one is queued by reference.
    #[inline]
    pub fn push_frame(&mut self, header: &FrameHeader, payload: &Bytes) {
        self.replaceable = 0;
        let mut head = [0u8; MAX_HEADER_LEN];
        let head_len = header.encode(&mut head);
        self.len += head_len + payload.len();
        // A masked frame is always copied (masking rewrites the bytes).
        let copy = header.mask.is_some() || payload.len() <= COPY_THRESHOLD;
        // Room for the header and a copied payload at once: one check, not two.
        self.tail
            .reserve(head_len + if copy { payload.len() } else { 0 });
        self.tail.extend_from_slice(&head[..head_len]);
        if !copy {
            self.cut_tail();
            self.chunks.push_back(payload.clone());
            return;
        }
        let start = self.tail.len();
        self.tail.extend_from_slice(payload);
        if let Some(key) = header.mask {
            apply_mask(&mut self.tail[start..], key, 0);
        }
    }

    /// Queues bytes that already form whole frames (a prepared message).
    pub fn push_encoded(&mut self, bytes: &Bytes) {
        self.replaceable = 0;
        self.len += bytes.len();
        if bytes.len() <= COPY_THRESHOLD {
            self.tail.extend_from_slice(bytes);
        } else {
            self.cut_tail();
            self.chunks.push_back(bytes.clone());
        }
    }

    fn cut_tail(&mut self) {
        if !self.tail.is_empty() {
            self.chunks.push_back(self.tail.split().freeze());
        }
    }

    /// Moves everything queued in `other` behind what is queued here.
    pub fn append(&mut self, mut other: Outbound) {
        self.replaceable = 0;
        self.cut_tail();
        other.cut_tail();
        self.len += other.len;
        self.chunks.append(&mut other.chunks);
    }

    /// Queues a small control frame that a later one may replace
    /// ([`Outbound::replace_last_frame`]) for as long as none of it is written and nothing is
    /// queued after it: a pong, which RFC 6455 §5.5.3 lets a newer one stand in for.
    pub fn push_replaceable_frame(&mut self, header: &FrameHeader, payload: &Bytes) {
        let before = self.len;
        self.push_frame(header, payload);
        // A control frame is at most 2 + 4 + 125 bytes, copied into the tail.
        self.replaceable = u8::try_from(self.len - before).unwrap_or(0);
    }

    /// Takes back the frame queued by [`Outbound::push_replaceable_frame`], if it is still
    /// wholly unwritten and last; says whether it did.
    pub fn replace_last_frame(&mut self) -> bool {
        let n = usize::from(std::mem::take(&mut self.replaceable));
        if n == 0 || n > self.tail.len() {
            return false;
        }
        self.tail.truncate(self.tail.len() - n);
        self.len -= n;
        true
    }

    /// Bytes waiting to be written.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is waiting.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Fills `dst` with the pending chunks, in order, for a vectored write; returns how many.
    pub fn io_slices<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let tail = (!self.tail.is_empty()).then_some(&self.tail[..]);
        let all = self.chunks.iter().map(|c| &c[..]).chain(tail);
        let mut n = 0;
        for (slot, chunk) in dst.iter_mut().zip(all) {
            *slot = IoSlice::new(chunk);
            n += 1;
        }
        n
    }

    /// Whether everything queued is one contiguous piece, [`Outbound::first_chunk`]: one plain
    /// write sends it (the usual case of a small frame or a burst of them).
    #[inline]
    pub fn is_contiguous(&self) -> bool {
        match self.chunks.len() {
            0 => true,
            1 => self.tail.is_empty(),
            _ => false,
        }
    }

    /// The first pending chunk (for writers without vectored I/O).
    #[inline]
    pub fn first_chunk(&self) -> &[u8] {
        self.chunks.front().map_or(&self.tail[..], |c| &c[..])
    }

    /// Marks `n` bytes as written.
    #[inline]
    pub fn advance(&mut self, n: usize) {
        if n > 0 {
            self.replaceable = 0;
        }
        if n >= self.len && self.chunks.is_empty() {
            // One small frame or a burst of them, all written (the usual case): the tail is
            // kept for the next ones if it is small.
            self.tail.clear();
            self.len = 0;
            self.release_if_large();
        } else {
            self.advance_chunks(n);
        }
    }

    /// [`Outbound::advance`] when queued payloads are involved, or only part is written.
    fn advance_chunks(&mut self, mut n: usize) {
        if n >= self.len {
            // Everything is written: no chunk-by-chunk walk.
            self.chunks.clear();
            self.tail.clear();
            self.len = 0;
            self.release_if_large();
            return;
        }
        self.len -= n;
        while n > 0 {
            let Some(front) = self.chunks.front_mut() else {
                break;
            };
            if n < front.len() {
                front.advance(n);
                return;
            }
            n -= front.len();
            self.chunks.pop_front();
        }
        self.tail.advance(n.min(self.tail.len()));
    }

    /// Frees the buffer once everything is written, unless it is small ([`KEEP_TAIL`]): an idle
    /// connection holds little memory, and the next burst allocates afresh (one allocation per
    /// flush, next to a system call) unless its frames fit the small buffer kept.
    #[inline]
    fn release_if_large(&mut self) {
        if self.tail.capacity() > KEEP_TAIL {
            self.tail = BytesMut::new();
        }
        if self.chunks.capacity() > 8 {
            self.chunks = VecDeque::new();
        }
    }

    /// Takes everything queued as one buffer (copies if there are several chunks).
    pub fn take_all(&mut self) -> Bytes {
        self.cut_tail();
        self.replaceable = 0;
        self.len = 0;
        match self.chunks.len() {
            0 => Bytes::new(),
            1 => self.chunks.pop_front().unwrap_or_default(),
            _ => {
                let mut all = BytesMut::new();
                for chunk in self.chunks.drain(..) {
                    all.extend_from_slice(&chunk);
                }
                all.freeze()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::OpCode;

    fn header(len: usize, mask: Option<[u8; 4]>) -> FrameHeader {
        FrameHeader {
            fin: true,
            rsv: 0,
            opcode: OpCode::Binary,
            mask,
            payload_len: len as u64,
        }
    }

    fn flatten(out: &Outbound) -> Vec<u8> {
        let mut slices = [IoSlice::new(&[]); 16];
        let n = out.io_slices(&mut slices);
        slices[..n].iter().flat_map(|s| s.iter().copied()).collect()
    }

    #[test]
    fn small_frames_coalesce_large_payloads_are_shared() {
        let mut out = Outbound::default();
        out.push_frame(&header(2, None), &Bytes::from_static(b"hi"));
        let big = Bytes::from(vec![7u8; 10_000]);
        out.push_frame(&header(big.len(), None), &big);
        out.push_frame(&header(2, None), &Bytes::from_static(b"yo"));
        let mut slices = [IoSlice::new(&[]); 8];
        assert_eq!(
            out.io_slices(&mut slices),
            3,
            "head+small, big payload, small"
        );
        assert_eq!(
            slices[1].as_ptr(),
            big.as_ptr(),
            "the big payload is not copied"
        );
        assert_eq!(out.len(), 4 + 4 + 10_000 + 4);
    }

    #[test]
    fn one_piece_is_contiguous_a_shared_payload_is_not() {
        let mut out = Outbound::default();
        assert!(out.is_contiguous());
        out.push_frame(&header(2, None), &Bytes::from_static(b"hi"));
        out.push_frame(&header(2, None), &Bytes::from_static(b"yo"));
        assert!(out.is_contiguous());
        assert_eq!(out.first_chunk(), flatten(&out));
        let big = Bytes::from(vec![7u8; 10_000]);
        out.push_frame(&header(big.len(), None), &big);
        assert!(
            !out.is_contiguous(),
            "header, then the payload by reference"
        );
        out.advance(4 + 4 + 4);
        assert!(out.is_contiguous(), "the payload alone is left");
        assert_eq!(out.first_chunk().len(), 10_000);
    }

    #[test]
    fn a_small_buffer_is_kept_for_the_next_frame_a_large_one_is_freed() {
        let mut out = Outbound::default();
        out.push_frame(&header(20, None), &Bytes::from(vec![1u8; 20]));
        out.advance(out.len());
        assert!(out.is_empty());
        let kept = out.tail.capacity();
        assert!((22..=KEEP_TAIL).contains(&kept), "{kept}");
        out.push_frame(&header(2000, None), &Bytes::from(vec![1u8; 2000]));
        out.advance(out.len());
        assert_eq!(out.tail.capacity(), 0, "freed");
    }

    #[test]
    fn advance_across_chunks() {
        let mut out = Outbound::default();
        let big = Bytes::from(vec![1u8; 5000]);
        out.push_frame(&header(big.len(), None), &big);
        out.push_frame(&header(1, None), &Bytes::from_static(b"z"));
        let all = flatten(&out);
        out.advance(3);
        assert_eq!(flatten(&out), all[3..]);
        out.advance(4000);
        assert_eq!(flatten(&out), all[4003..]);
        out.advance(all.len() - 4003);
        assert!(out.is_empty());
        assert!(flatten(&out).is_empty());
    }

    #[test]
    fn only_an_unwritten_last_frame_is_replaced() {
        let ping = |tag: &'static [u8]| (header(tag.len(), None), Bytes::from_static(tag));
        let mut out = Outbound::default();
        out.push_frame(&header(2, None), &Bytes::from_static(b"hi"));
        let (h, p) = ping(b"a");
        out.push_replaceable_frame(&h, &p);
        assert!(out.replace_last_frame(), "unwritten and last");
        assert_eq!(flatten(&out), [0x82, 2, b'h', b'i']);
        assert!(!out.replace_last_frame(), "only once");
        out.push_replaceable_frame(&h, &p);
        out.push_frame(&header(1, None), &Bytes::from_static(b"z"));
        assert!(!out.replace_last_frame(), "something was queued after it");
        let mut out = Outbound::default();
        out.push_replaceable_frame(&h, &p);
        out.advance(1);
        assert!(!out.replace_last_frame(), "a byte of it is written");
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn masked_frames_are_masked_copies() {
        let mut out = Outbound::default();
        let payload = Bytes::from_static(b"Hello");
        out.push_frame(&header(5, Some([0x37, 0xfa, 0x21, 0x3d])), &payload);
        let bytes = out.take_all();
        assert_eq!(&bytes[6..], &[0x7f, 0x9f, 0x4d, 0x51, 0x58]);
        assert_eq!(&payload[..], b"Hello", "the caller's payload is untouched");
    }
}
