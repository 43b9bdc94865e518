//! Compressing and inflating message payloads (RFC 7692 §7.2), with flate2's raw DEFLATE.
//!
//! Sending: the payload is compressed with a sync flush, and the four bytes `00 00 ff ff` that
//! end it are cut off (§7.2.1). Receiving: the payloads of a message's frames are inflated as
//! they come, and `00 00 ff ff` is fed after the last (§7.2.2). Without context takeover on a
//! side, its compressor or decompressor comes from the thread's cache for one message.

use std::cell::RefCell;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::MAX_WINDOW_BITS;
use crate::error::ProtocolError;

/// What ends every sync-flushed DEFLATE block (an empty stored block): cut by the sender, put
/// back by the receiver.
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// The most an inflation step adds to its output buffer at once.
const INFLATE_STEP: usize = 64 * 1024;

/// How many idle compressors a thread keeps (each for one level and window).
const CACHED_COMPRESSORS: usize = 4;

thread_local! {
    /// Compressors between messages of connections that keep no context: (level, bits, state).
    static COMPRESSORS: RefCell<Vec<(u8, u8, Compress)>> = const { RefCell::new(Vec::new()) };
    /// One idle 2^15-window decompressor, for connections whose peer keeps no context.
    static DECOMPRESSOR: RefCell<Option<Decompress>> = const { RefCell::new(None) };
}

/// zlib refuses a raw window of 2^8: compress with stored blocks then (no back-references,
/// so any window will do), and inflate with 2^9.
fn zlib_bits(bits: u8) -> u8 {
    bits.clamp(9, MAX_WINDOW_BITS)
}

fn new_compressor(level: u8, bits: u8) -> Compress {
    let level = if bits < 9 { 0 } else { u32::from(level.min(9)) };
    Compress::new_with_window_bits(Compression::new(level), false, zlib_bits(bits))
}

/// Compresses one message's `payload` (RFC 7692 §7.2.1), into a fresh buffer.
///
/// `kept` is the connection's compressor when it keeps its context (created here on first
/// use); `None` compresses with one from the thread's cache and resets it afterwards.
pub(crate) fn deflate_message(
    payload: &[u8],
    level: u8,
    bits: u8,
    kept: Option<&mut Option<Box<Compress>>>,
) -> Vec<u8> {
    match kept {
        Some(slot) => {
            let compress = slot.get_or_insert_with(|| Box::new(new_compressor(level, bits)));
            compress_into(compress, payload)
        }
        None => {
            let cached = COMPRESSORS.with_borrow_mut(|cache| {
                let at = cache
                    .iter()
                    .position(|(l, b, _)| *l == level && *b == bits)?;
                Some(cache.swap_remove(at).2)
            });
            let mut compress = cached.unwrap_or_else(|| new_compressor(level, bits));
            let out = compress_into(&mut compress, payload);
            compress.reset();
            COMPRESSORS.with_borrow_mut(|cache| {
                if cache.len() < CACHED_COMPRESSORS {
                    cache.push((level, bits, compress));
                }
            });
            out
        }
    }
}

/// Sync-flushes `payload` through `compress` and cuts the tail.
fn compress_into(compress: &mut Compress, payload: &[u8]) -> Vec<u8> {
    // Incompressible data grows by a few bytes per 16 KiB block; chat text shrinks.
    let mut out = Vec::with_capacity(payload.len() / 2 + 64);
    let mut input = payload;
    loop {
        if out.len() == out.capacity() {
            out.reserve(out.capacity().max(64));
        }
        let (before, written) = (compress.total_in(), out.len());
        // An in-memory compression with room to write cannot fail; should it anyway, the
        // no-progress check below ends the loop.
        let _ = compress.compress_vec(input, &mut out, FlushCompress::Sync);
        let used = usize::try_from(compress.total_in() - before).unwrap_or(input.len());
        input = &input[used.min(input.len())..];
        // Done when all input is in and the flush fitted (it ends with the empty block).
        let room = out.len() < out.capacity();
        if (input.is_empty() || (used == 0 && out.len() == written)) && room {
            break;
        }
    }
    if out.ends_with(&TAIL) {
        out.truncate(out.len() - TAIL.len());
    }
    if out.is_empty() {
        // §7.2.3.6: an empty message compresses to one 0x00 byte.
        out.push(0x00);
    }
    out
}

/// The receiving side of a connection that negotiated permessage-deflate.
#[derive(Debug)]
pub(crate) struct Inflation {
    /// The peer keeps its context: so must we, with its window.
    keep: bool,
    bits: u8,
    /// Held between messages with `keep`, otherwise only while a message arrives.
    state: Option<Box<Decompress>>,
    /// The message in progress ended its stream with a final block (no tail to feed).
    ended: bool,
}

impl Inflation {
    pub(crate) fn new(peer_keeps_context: bool, peer_bits: u8) -> Self {
        Self {
            keep: peer_keeps_context,
            bits: zlib_bits(peer_bits),
            state: None,
            ended: false,
        }
    }

    /// Whether a decompressor is held right now.
    pub(crate) fn holds_state(&self) -> bool {
        self.state.is_some()
    }

    /// Inflates `input` (a piece of a compressed message's payload) onto `out`, failing once
    /// `out` would pass `limit` bytes.
    pub(crate) fn inflate(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), ProtocolError> {
        if self.ended {
            // After a final block (§7.2.3.4) the stream is over: what follows is padding.
            return Ok(());
        }
        let (keep, bits) = (self.keep, self.bits);
        let state = self.state.get_or_insert_with(|| {
            let cached = (!keep)
                .then(|| DECOMPRESSOR.with_borrow_mut(Option::take))
                .flatten();
            Box::new(cached.unwrap_or_else(|| {
                Decompress::new_with_window_bits(false, if keep { bits } else { MAX_WINDOW_BITS })
            }))
        });
        self.ended = inflate_into(state, input, out, limit)?;
        Ok(())
    }

    /// The message is complete: feeds the cut tail (§7.2.2), and without context takeover
    /// gives the decompressor back to the thread.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>, limit: usize) -> Result<(), ProtocolError> {
        if !self.ended {
            self.inflate(&TAIL, out, limit)?;
        }
        self.release();
        Ok(())
    }

    /// The connection failed: nothing more will be inflated.
    pub(crate) fn abandon(&mut self) {
        self.keep = false;
        self.release();
    }

    /// Ends a message: without context takeover, the decompressor goes back to the thread.
    pub(crate) fn release(&mut self) {
        self.ended = false;
        if self.keep {
            return;
        }
        if let Some(mut state) = self.state.take() {
            state.reset(false);
            DECOMPRESSOR.with_borrow_mut(|idle| {
                if idle.is_none() {
                    *idle = Some(*state);
                }
            });
        }
    }
}

/// Inflates all of `input` onto `out`, never letting `out` grow past `limit + 1` bytes;
/// `true` if the stream ended (a final block).
fn inflate_into(
    state: &mut Decompress,
    mut input: &[u8],
    out: &mut Vec<u8>,
    limit: usize,
) -> Result<bool, ProtocolError> {
    let too_large = || ProtocolError::InflatedTooLarge { max: limit };
    loop {
        if out.len() == out.capacity() {
            if out.len() > limit {
                return Err(too_large());
            }
            let room = (limit + 1 - out.len()).min(INFLATE_STEP.max(out.len()));
            out.reserve_exact(room);
        }
        let (before_in, before_out) = (state.total_in(), out.len());
        let status = state
            .decompress_vec(input, out, FlushDecompress::None)
            .map_err(|e| ProtocolError::BadDeflate(e.to_string()))?;
        let used = usize::try_from(state.total_in() - before_in).unwrap_or(input.len());
        input = &input[used.min(input.len())..];
        if out.len() > limit {
            return Err(too_large());
        }
        if status == Status::StreamEnd {
            // A final block ends the stream (what follows in the message is ignored, as zlib
            // does); the peer starts its next message afresh.
            state.reset(false);
            return Ok(true);
        }
        let full = out.len() == out.capacity();
        if input.is_empty() && !full {
            return Ok(false);
        }
        if used == 0 && out.len() == before_out && !full {
            return Err(ProtocolError::BadDeflate(
                "the compressed data makes no progress".into(),
            ));
        }
    }
}
