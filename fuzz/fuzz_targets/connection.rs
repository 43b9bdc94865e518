//! Arbitrary bytes → `Connection` (server or client), in arbitrary chunks, interleaved with
//! API calls (send, send_fragmented, send_prepared, ping, pong, close, drain) chosen by the input.
//!
//! Input layout: `[role+limits] [limits] step*`, where a step is a control byte `c`:
//! `c < 0xF0` feeds the next `c` bytes and drains `next_event()` until `Ok(None)` or `Err`;
//! `0xF0..=0xFF` makes an API call whose arguments come from the following bytes.
//!
//! Checks: no panic; `next_event` only ever fails with `Error::Protocol`, after which the state
//! is `Closed` and nothing more comes out; the state follows a model of the closing handshake;
//! text messages are UTF-8; messages respect `max_message_size`, control payloads 125 bytes;
//! a Ping (while Open) queues exactly its Pong; the bytes queued in reaction to received bytes
//! stay bounded by the bytes received (server: ≤ in + 127; client: ≤ 3·in + 131 — an empty
//! unmasked 2-byte Ping costs a client a 6-byte masked Pong, an inherent 3× at most).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rustchat_ws::{
    CloseCode, CloseFrame, Config, Connection, Error, Event, Message, Prepared, Role, State,
};

const SIZES: [usize; 8] = [0, 1, 2, 5, 16, 125, 126, 300];

/// Reads the input front to back; runs dry quietly.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn byte(&mut self) -> u8 {
        let Some((&b, rest)) = self.0.split_first() else {
            return 0;
        };
        self.0 = rest;
        b
    }
    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }
    fn sized(&mut self) -> &'a [u8] {
        let n = usize::from(self.byte());
        self.bytes(n)
    }
}

/// The largest frame header a side writes for a payload of `len` bytes.
fn frame_len(role: Role, len: usize) -> usize {
    let head = match len {
        0..=125 => 2,
        126..=0xFFFF => 4,
        _ => 10,
    };
    head + len + if role == Role::Client { 4 } else { 0 }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let (c0, c1) = (input.byte(), input.byte());
    let role = if c0 & 1 == 0 { Role::Server } else { Role::Client };
    let config = Config::default()
        .max_frame_size(SIZES[usize::from(c0 >> 1) & 7])
        .max_message_size(SIZES[usize::from(c0 >> 4) & 7])
        .max_fragments(usize::from(c1 & 0x0F));
    let mut conn = Connection::new(role, config);
    let mut model = State::Open; // what the state must be
    let mut fed: usize = 0; // bytes received
    let mut replies: usize = 0; // bytes queued by next_event (pongs, close echoes, fail closes)

    while !input.0.is_empty() {
        let c = input.byte();
        if c < 0xF0 {
            let piece = input.bytes(usize::from(c));
            fed += piece.len();
            conn.receive(piece);
            drain_events(&mut conn, &config, &mut model, &mut replies);
            let bound = match role {
                Role::Server => fed + 127,
                Role::Client => 3 * fed + 131,
            };
            assert!(replies <= bound, "{replies} bytes queued in reply to {fed} received");
            continue;
        }
        let open = model == State::Open;
        let before = conn.outbound().len();
        let queued = match c & 0x0F {
            0 => {
                let text = String::from_utf8_lossy(input.sized()).into_owned();
                let len = text.len();
                conn.send(Message::text(text)).map(|()| frame_len(role, len))
            }
            1 => {
                let bin = input.sized().to_vec();
                let len = bin.len();
                conn.send(Message::binary(bin)).map(|()| frame_len(role, len))
            }
            2 => {
                let size = usize::from(input.byte());
                let text = String::from_utf8_lossy(input.sized()).into_owned();
                let result = conn.send_fragmented(Message::text(text), size);
                if size == 0 && open {
                    assert!(result.is_err(), "fragment size 0 accepted");
                }
                result.map(|()| usize::MAX) // length checked loosely below
            }
            3 => {
                let p = input.sized().to_vec();
                let len = p.len();
                let r = conn.ping(p);
                if len > 125 {
                    assert!(r.is_err(), "ping of {len} bytes accepted");
                }
                r.map(|()| frame_len(role, len))
            }
            4 => {
                let p = input.sized().to_vec();
                let len = p.len();
                let r = conn.pong(p);
                if len > 125 {
                    assert!(r.is_err(), "pong of {len} bytes accepted");
                }
                r.map(|()| frame_len(role, len))
            }
            5 => conn.close(None).map(|()| frame_len(role, 0)),
            6 => {
                let code = u16::from_be_bytes([input.byte(), input.byte()]);
                let reason = String::from_utf8_lossy(input.sized()).into_owned();
                let len = 2 + reason.len();
                conn.close(Some(CloseFrame::new(CloseCode(code), reason)))
                    .map(|()| frame_len(role, len))
            }
            7 => {
                let _ = conn.outbound().take_all();
                continue;
            }
            8 => {
                conn.release_idle_buffer();
                continue;
            }
            9 => {
                let bin = input.sized().to_vec();
                let len = bin.len();
                let r = conn.send_prepared(&Prepared::new(&Message::binary(bin)));
                if role == Role::Client {
                    assert!(r.is_err(), "prepared message sent by a client");
                }
                r.map(|()| frame_len(Role::Server, len))
            }
            _ => {
                // Drain events without feeding anything.
                drain_events(&mut conn, &config, &mut model, &mut replies);
                continue;
            }
        };
        let grew = conn.outbound().len() - before;
        match queued {
            Ok(expected) => {
                assert!(open, "API call succeeded while {model:?}");
                if expected != usize::MAX {
                    assert_eq!(grew, expected, "frame size of an API call");
                }
                if c & 0x0F == 5 || c & 0x0F == 6 {
                    model = State::CloseSent;
                }
            }
            Err(_) => assert_eq!(grew, 0, "a refused API call queued bytes"),
        }
        assert_eq!(conn.state(), model);
        assert_eq!(conn.can_send(), model == State::Open);
    }
});

fn drain_events(conn: &mut Connection, config: &Config, model: &mut State, replies: &mut usize) {
    loop {
        let state_before = conn.state();
        assert_eq!(state_before, *model);
        let before = conn.outbound().len();
        let result = conn.next_event();
        let grew = conn.outbound().len() - before;
        *replies += grew;
        match result {
            Ok(None) => {
                // Nothing happened: nothing may have been queued either.
                assert_eq!(grew, 0, "Ok(None) queued bytes");
                assert_eq!(conn.state(), *model);
                return;
            }
            Ok(Some(event)) => match event {
                Event::Message(m) => {
                    assert_eq!(grew, 0, "a data message queued bytes");
                    assert!(
                        m.len() <= config.max_message_size,
                        "message of {} bytes over the limit {}",
                        m.len(),
                        config.max_message_size
                    );
                    if m.is_text() {
                        assert!(std::str::from_utf8(m.payload()).is_ok(), "text is not UTF-8");
                        assert!(m.as_text().is_some());
                    }
                }
                Event::Ping(p) => {
                    assert!(p.len() <= 125);
                    let pong = if state_before == State::Open {
                        frame_len(conn.role(), p.len())
                    } else {
                        0
                    };
                    assert_eq!(grew, pong, "Ping answered with the wrong number of bytes");
                }
                Event::Pong(p) => {
                    assert!(p.len() <= 125);
                    assert_eq!(grew, 0, "a Pong queued bytes");
                }
                Event::Close(frame) => {
                    if let Some(f) = &frame {
                        assert!(f.code.is_sendable(), "close code {} accepted", f.code);
                        assert!(f.reason.len() <= 123);
                    }
                    // The echo carries the peer's code, and its reason or none (both are RFC
                    // conformant; the crate has done each).
                    let echoes = match (&frame, state_before) {
                        (_, State::CloseSent) => [0, 0],
                        (None, _) => [frame_len(conn.role(), 0); 2],
                        (Some(f), _) => [
                            frame_len(conn.role(), 2),
                            frame_len(conn.role(), 2 + f.reason.len()),
                        ],
                    };
                    assert!(echoes.contains(&grew), "Close answered with {grew} bytes, not {echoes:?}");
                    *model = State::Closed;
                    assert_eq!(conn.state(), State::Closed);
                    assert!(conn.next_event().expect("closed: no more errors").is_none());
                    return;
                }
            },
            Err(Error::Protocol(_)) => {
                assert_eq!(conn.state(), State::Closed, "protocol error left the state open");
                if state_before == State::CloseSent {
                    assert_eq!(grew, 0, "a second Close was queued");
                } else {
                    assert!(grew <= frame_len(conn.role(), 125), "fail close of {grew} bytes");
                }
                *model = State::Closed;
                assert_eq!(conn.next_event(), Ok(None), "events after a failure");
                assert!(!conn.wants_read());
                return;
            }
            Err(e) => panic!("next_event returned a non-protocol error: {e:?}"),
        }
    }
}
