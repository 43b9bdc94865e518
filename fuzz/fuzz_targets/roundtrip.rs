//! Differential round trip: what one end sends, the other must receive, exactly.
//!
//! A list of messages (text/binary, whole or fragmented, pings and pongs between them, an
//! optional Close at the end) is sent by a client `Connection`; its bytes are fed to a server
//! `Connection` in chunks whose sizes come from the input, and the server's events must equal
//! what was sent, in order. The server's replies (a Pong per Ping, the Close echo) are then
//! fed to the client, which must see exactly those. The same is done server → client
//! (including prepared messages), whose replies go back to the server.
#![no_main]

use arbitrary::Arbitrary;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use rustchat_ws::{CloseCode, CloseFrame, Config, Connection, Event, Message, Prepared, Role};

#[derive(Debug, Arbitrary)]
enum Item {
    Text { text: String, fragment: Option<u8> },
    Binary { data: Vec<u8>, fragment: Option<u8> },
    Prepared { data: Vec<u8>, text: bool },
    Ping(Vec<u8>),
    Pong(Vec<u8>),
}

#[derive(Debug, Arbitrary)]
struct Input {
    items: Vec<Item>,
    /// `None`: no Close; `Some(None)`: an empty Close; `Some(Some(..))`: code index and reason.
    close: Option<Option<(u8, String)>>,
    /// Sizes of the pieces the wire bytes are delivered in (cycled; 0 is read as 1).
    chunks: Vec<u8>,
}

const CODES: [u16; 6] = [1000, 1001, 1003, 1011, 3000, 4999];

fn control(mut p: Vec<u8>) -> Bytes {
    p.truncate(125);
    Bytes::from(p)
}

fn reason(mut r: String) -> String {
    let mut end = r.len().min(123);
    while !r.is_char_boundary(end) {
        end -= 1;
    }
    r.truncate(end);
    r
}

fn config() -> Config {
    Config::default()
        .max_frame_size(usize::MAX)
        .max_message_size(usize::MAX)
        .max_fragments(usize::MAX)
}

/// Feeds `wire` to `conn` in pieces and collects every event; panics on a protocol error.
fn deliver(conn: &mut Connection, wire: &[u8], chunks: &[u8]) -> Vec<Event> {
    let mut events = Vec::new();
    let mut rest = wire;
    let mut sizes = chunks.iter().map(|&c| usize::from(c.max(1))).cycle();
    while !rest.is_empty() {
        let n = if chunks.is_empty() { rest.len() } else { sizes.next().unwrap_or(1) };
        let (piece, tail) = rest.split_at(n.min(rest.len()));
        rest = tail;
        conn.receive(piece);
        while let Some(event) = conn.next_event().expect("valid frames from our own encoder") {
            events.push(event);
        }
    }
    assert!(conn.read_buffer().is_empty() || conn.is_closed(), "bytes left over");
    events
}

fn run(sender_role: Role, input: &Input) {
    let receiver_role = match sender_role {
        Role::Client => Role::Server,
        Role::Server => Role::Client,
    };
    let mut sender = Connection::new(sender_role, config());
    let mut receiver = Connection::new(receiver_role, config());
    let mut expected = Vec::new(); // events the receiver must see
    let mut replies = Vec::new(); // events the sender must see from the receiver's replies

    for item in &input.items {
        match item {
            Item::Text { text, fragment } => {
                let m = Message::text(text.clone());
                match fragment {
                    Some(f) => sender.send_fragmented(m.clone(), usize::from(*f).max(1)),
                    None => sender.send(m.clone()),
                }
                .expect("open");
                expected.push(Event::Message(m));
            }
            Item::Binary { data, fragment } => {
                let m = Message::binary(data.clone());
                match fragment {
                    Some(f) => sender.send_fragmented(m.clone(), usize::from(*f).max(1)),
                    None => sender.send(m.clone()),
                }
                .expect("open");
                expected.push(Event::Message(m));
            }
            Item::Prepared { data, text } => {
                let m = if *text {
                    Message::text(String::from_utf8_lossy(data).into_owned())
                } else {
                    Message::binary(data.clone())
                };
                if sender_role == Role::Server {
                    sender.send_prepared(&Prepared::new(&m)).expect("open");
                } else {
                    sender.send(m.clone()).expect("open");
                }
                expected.push(Event::Message(m));
            }
            Item::Ping(p) => {
                let p = control(p.clone());
                sender.ping(p.clone()).expect("open, ≤125");
                expected.push(Event::Ping(p.clone()));
                replies.push(Event::Pong(p));
            }
            Item::Pong(p) => {
                let p = control(p.clone());
                sender.pong(p.clone()).expect("open, ≤125");
                expected.push(Event::Pong(p));
            }
        }
    }
    if let Some(close) = &input.close {
        let frame = close
            .as_ref()
            .map(|(c, r)| CloseFrame::new(CloseCode(CODES[usize::from(*c) % CODES.len()]), reason(r.clone())));
        sender.close(frame.clone()).expect("open, valid close");
        expected.push(Event::Close(frame.clone()));
        // The echo carries the code and the reason (checked loosely below: the code only is
        // RFC conformant too).
        replies.push(Event::Close(frame));
    }

    let wire = sender.outbound().take_all();
    let got = deliver(&mut receiver, &wire, &input.chunks);
    assert_eq!(got, expected, "{sender_role:?} → {receiver_role:?}");
    assert_eq!(receiver.is_closed(), input.close.is_some());

    let back = receiver.outbound().take_all();
    let mut got = deliver(&mut sender, &back, &input.chunks);
    if let (Some(Event::Close(Some(echo))), Some(Event::Close(Some(sent)))) =
        (got.last_mut(), replies.last())
    {
        if echo.code == sent.code && echo.reason.is_empty() {
            echo.reason.clone_from(&sent.reason); // a code-only echo is fine too
        }
    }
    assert_eq!(got, replies, "replies {receiver_role:?} → {sender_role:?}");
    assert_eq!(sender.is_closed(), input.close.is_some());
    assert!(sender.outbound().is_empty(), "the sender owes nothing after the replies");
}

fuzz_target!(|input: Input| {
    run(Role::Client, &input);
    run(Role::Server, &input);
});
