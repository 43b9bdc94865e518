//! Arbitrary bytes → `FrameDecoder`, fed in chunks whose sizes come from the input.
//!
//! Input layout: `[max_frame_size/2] [flags] ([chunk_len] [chunk bytes…])*`.
//! Each input is decoded twice, once per role. Besides "never panics", the target checks
//! every chunk against a byte-by-byte reference decode of the raw stream it was fed:
//! payload bytes handed out never exceed the bytes fed, each frame's chunks add up to its
//! header's length with `first`/`last` set exactly once, control frames come whole, limits and
//! masking direction hold, and `Ok(None)`/`Err` consume nothing (except a control frame's
//! header, a known deviation that `RUSTCHAT_FUZZ_STRICT=1` turns into a failure). After an
//! error, decoding stops.
#![no_main]

use std::sync::OnceLock;

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rustchat_ws::Role;
use rustchat_ws::decoder::FrameDecoder;
use rustchat_ws::frame::FrameHeader;
use rustchat_ws::mask::apply_mask_bytewise;

fuzz_target!(|data: &[u8]| {
    let [size, flags, rest @ ..] = data else {
        return;
    };
    let max_frame_size = usize::from(*size) * 2; // 0..=510: hits the 7- and 16-bit lengths
    for role in [Role::Server, Role::Client] {
        run(role, max_frame_size, *flags, rest);
    }
});

/// What the reference knows about the frame in progress.
struct Open {
    header: FrameHeader,
    done: u64,
    /// A chunk with `first: true` has been handed out for it.
    announced: bool,
}

/// `RUSTCHAT_FUZZ_STRICT=1`: also fail on the known `first: false` deviation.
fn strict() -> bool {
    static STRICT: OnceLock<bool> = OnceLock::new();
    *STRICT.get_or_init(|| std::env::var_os("RUSTCHAT_FUZZ_STRICT").is_some_and(|v| v == "1"))
}

/// Parses the header at the front of `bytes` directly and checks the connection-level rules
/// the decoder must have enforced before accepting it.
fn reference_header(bytes: &[u8], role: Role, max_frame_size: usize, allowed_rsv: u8) -> (FrameHeader, usize) {
    let (h, hlen) = FrameHeader::parse(bytes)
        .expect("decoder accepted a header the parser rejects")
        .expect("decoder consumed a header that is incomplete");
    assert!(h.payload_len <= max_frame_size as u64, "frame over the limit");
    assert_eq!(h.rsv & !allowed_rsv, 0, "RSV bits not allowed");
    match role {
        Role::Server => assert!(h.mask.is_some(), "unmasked client frame accepted"),
        Role::Client => assert!(h.mask.is_none(), "masked server frame accepted"),
    }
    (h, hlen)
}

fn run(role: Role, max_frame_size: usize, flags: u8, mut input: &[u8]) {
    let mut decoder = FrameDecoder::new(role, max_frame_size);
    let allowed_rsv = flags & 0x7;
    decoder.allow_rsv(allowed_rsv);
    let mut buf = BytesMut::new();
    let mut stream: Vec<u8> = Vec::new(); // every byte fed, for the reference decode
    let mut handed_out: u64 = 0;
    let mut open: Option<Open> = None;

    while let Some((&n, rest)) = input.split_first() {
        let n = usize::from(n).min(rest.len());
        let (piece, rest) = rest.split_at(n);
        input = rest;
        buf.extend_from_slice(piece);
        stream.extend_from_slice(piece);

        loop {
            let pos = stream.len() - buf.len(); // stream offset of the buffer's front
            let before = buf.len();
            let chunk = match decoder.decode(&mut buf) {
                Ok(Some(chunk)) => chunk,
                Ok(None) => {
                    if buf.len() != before {
                        // Known deviation: a control frame whose header is in but whose payload
                        // is not has its header consumed, and its one chunk later comes out with
                        // `first: false` (see regressions/frame_decoder/README.md).
                        assert!(open.is_none(), "Ok(None) consumed payload bytes");
                        let (h, hlen) = reference_header(&stream[pos..], role, max_frame_size, allowed_rsv);
                        assert_eq!(before - buf.len(), hlen, "Ok(None) consumed more than a header");
                        assert!(h.opcode.is_control(), "data frame header consumed without a chunk");
                        open = Some(Open { header: h, done: 0, announced: false });
                    }
                    break;
                }
                Err(_) => {
                    assert_eq!(buf.len(), before, "an error consumed bytes");
                    assert!(open.is_none(), "frame-level errors happen between frames");
                    return; // the connection would be failed: stop here
                }
            };
            let h = chunk.header;
            handed_out += chunk.payload.len() as u64;
            assert!(
                handed_out <= stream.len() as u64,
                "{handed_out} payload bytes out of {} fed",
                stream.len()
            );

            // Reference decode of the same bytes.
            let mut at = pos;
            if chunk.first {
                assert!(open.is_none(), "first chunk while a frame is in progress");
                let (ref_h, hlen) = reference_header(&stream[pos..], role, max_frame_size, allowed_rsv);
                assert_eq!(ref_h, h, "header differs from a direct parse");
                at += hlen;
                open = Some(Open { header: h, done: 0, announced: true });
            } else {
                let frame = open.as_mut().expect("non-first chunk with no frame in progress");
                if !frame.announced {
                    assert!(
                        !strict(),
                        "RUSTCHAT_FUZZ_STRICT: the first chunk of a {:?} frame has first=false",
                        h.opcode
                    );
                    frame.announced = true;
                } else {
                    assert!(!chunk.payload.is_empty(), "empty non-first chunk");
                }
            }
            let frame = open.as_mut().expect("non-first chunk with no frame in progress");
            assert_eq!(frame.header, h, "header changed inside a frame");
            let mut expected = stream[at..at + chunk.payload.len()].to_vec();
            if let Some(key) = h.mask {
                apply_mask_bytewise(&mut expected, key, frame.done as usize);
            }
            assert_eq!(&chunk.payload[..], &expected[..], "payload differs from reference");
            at += chunk.payload.len();
            assert_eq!(stream.len() - buf.len(), at, "consumed bytes differ from reference");
            if h.opcode.is_control() {
                // Whole: its one chunk carries all of the payload.
                assert!(chunk.last && frame.done == 0, "control frame split");
            }
            frame.done += chunk.payload.len() as u64;
            assert!(frame.done <= h.payload_len, "more payload than the header announced");
            assert_eq!(chunk.last, frame.done == h.payload_len, "`last` is wrong");
            if chunk.last {
                open = None;
            }
            assert_eq!(decoder.is_between_frames(), open.is_none());
        }
    }
}
