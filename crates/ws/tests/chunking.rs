//! Any message stream, cut into any chunks (down to one byte at a time), decodes to the same
//! events: TCP delivers bytes in whatever pieces it likes, and the events must not depend on
//! them. And no input, however malformed or cut, makes a connection panic or fail untidily.

mod common;

use bytes::Bytes;
use common::{Raw, events, sole_close};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use rustchat_ws::frame::OpCode;
use rustchat_ws::{
    CloseCode, CloseFrame, Config, Connection, Error, Event, Message, ProtocolError, Role, State,
};

/// One thing the sender does.
#[derive(Debug, Clone)]
enum Op {
    Send(Message),
    /// The message, in frames of at most this many payload bytes.
    Fragmented(Message, usize),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
}

/// What the sender does, then optionally a Close (`Some(None)`: a Close with no body).
#[derive(Debug, Clone)]
struct Script {
    ops: Vec<Op>,
    close: Option<Option<CloseFrame>>,
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        any::<String>().prop_map(Message::from),
        // Up to 5000 bytes: past the 4096 above which outbound payloads are shared, not copied.
        vec(any::<u8>(), 0..5000).prop_map(Message::from),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => message().prop_map(Op::Send),
        2 => (message(), 1usize..600).prop_map(|(m, size)| Op::Fragmented(m, size)),
        1 => vec(any::<u8>(), 0..=125).prop_map(Op::Ping),
        1 => vec(any::<u8>(), 0..=125).prop_map(Op::Pong),
    ]
}

fn close_frame() -> impl Strategy<Value = CloseFrame> {
    let code = prop_oneof![1000u16..=1003, 1007u16..=1014, 3000u16..=4999];
    // At most 30 characters of at most 4 bytes: within the 123 bytes a reason may have.
    (code, "\\PC{0,30}").prop_map(|(code, reason)| CloseFrame::new(CloseCode(code), reason))
}

fn script() -> impl Strategy<Value = Script> {
    let close = proptest::option::of(proptest::option::of(close_frame()));
    (vec(op(), 0..8), close).prop_map(|(ops, close)| Script { ops, close })
}

/// Plays the script on a fresh `role` connection: the bytes it queued, and the events the peer
/// must see.
fn play(role: Role, script: &Script) -> (Bytes, Vec<Event>) {
    let mut sender = Connection::new(role, Config::default());
    let mut expected = Vec::new();
    for op in &script.ops {
        let event = match op.clone() {
            Op::Send(m) => sender.send(m.clone()).map(|()| Event::Message(m)),
            Op::Fragmented(m, size) => {
                // No more fragments than the receiver accepts (5,000 one-byte fragments are
                // a valid send, but over the default limit of 4,096).
                let size = size.max(m.len().div_ceil(Config::default().max_fragments));
                sender
                    .send_fragmented(m.clone(), size)
                    .map(|()| Event::Message(m))
            }
            Op::Ping(p) => sender.ping(p.clone()).map(|()| Event::Ping(p.into())),
            Op::Pong(p) => sender.pong(p.clone()).map(|()| Event::Pong(p.into())),
        };
        expected.push(event.expect("a valid send on an open connection"));
    }
    if let Some(frame) = &script.close {
        sender.close(frame.clone()).expect("a sendable close");
        expected.push(Event::Close(frame.clone()));
    }
    (sender.outbound().take_all(), expected)
}

/// `bytes` cut at each of `cuts` (positions in any order; out-of-range ones are clamped).
fn pieces<'a>(bytes: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(bytes.len())).collect();
    cuts.sort_unstable();
    let mut out = Vec::new();
    let mut start = 0;
    for cut in cuts.into_iter().chain([bytes.len()]) {
        out.push(&bytes[start..cut]);
        start = cut;
    }
    out
}

/// Feeds `bytes` to a fresh `role` connection cut at `cuts`, draining events after each piece.
fn feed(role: Role, bytes: &[u8], cuts: &[usize]) -> Result<Vec<Event>, Error> {
    let mut receiver = Connection::new(role, Config::default());
    let mut seen = Vec::new();
    for piece in pieces(bytes, cuts) {
        receiver.receive(piece);
        seen.extend(events(&mut receiver)?);
    }
    Ok(seen)
}

/// Like [`feed`], but the way an adapter reads: each piece is what the socket has, and it is
/// taken in reads into [`Connection::reserve_read`]'s buffer of at most
/// [`Connection::read_size`] bytes each.
fn feed_by_reads(role: Role, bytes: &[u8], cuts: &[usize]) -> Result<Vec<Event>, Error> {
    let mut receiver = Connection::new(role, Config::default());
    let mut seen = Vec::new();
    for mut piece in pieces(bytes, cuts) {
        while !piece.is_empty() {
            let room = receiver.read_size();
            let buf = receiver.reserve_read();
            assert!(buf.capacity() - buf.len() >= room, "room for {room} bytes");
            let (read, rest) = piece.split_at(room.min(piece.len()));
            buf.extend_from_slice(read);
            piece = rest;
            seen.extend(events(&mut receiver)?);
        }
    }
    Ok(seen)
}

fn every_byte(len: usize) -> Vec<usize> {
    (1..len).collect()
}

fn cut_positions(indices: &[Index], len: usize) -> Vec<usize> {
    indices.iter().map(|i| i.index(len + 1)).collect()
}

/// Sends the script from `sender` and checks the peer sees exactly the sent events, whether the
/// bytes come all at once, one byte at a time, or cut at random positions.
fn check_any_chunking(sender: Role, receiver: Role, script: &Script, cuts: &[Index]) {
    let (wire, expected) = play(sender, script);
    let cuts = cut_positions(cuts, wire.len());
    assert_eq!(
        feed(receiver, &wire, &[]),
        Ok(expected.clone()),
        "all at once"
    );
    assert_eq!(
        feed(receiver, &wire, &every_byte(wire.len())),
        Ok(expected.clone()),
        "bytewise"
    );
    assert_eq!(
        feed(receiver, &wire, &cuts),
        Ok(expected.clone()),
        "cut at {cuts:?}"
    );
    assert_eq!(
        feed_by_reads(receiver, &wire, &cuts),
        Ok(expected),
        "read into the connection's buffer, cut at {cuts:?}"
    );
}

/// Feeds `bytes` to a server in pieces, answering nothing; on the first error checks that the
/// connection was failed cleanly (RFC 6455 §7.1.7) and stops.
fn check_fails_cleanly(config: Config, bytes: &[u8], cuts: &[usize]) {
    let mut server = Connection::new(Role::Server, config);
    for piece in pieces(bytes, cuts) {
        server.receive(piece);
        loop {
            match server.next_event() {
                // Pongs and close echoes the peer is owed: not what this checks.
                Ok(Some(_)) => drop(server.outbound().take_all()),
                Ok(None) => break,
                Err(Error::Protocol(rule)) => return assert_failed_by(&mut server, &rule),
                Err(other) => panic!("a usage error from received bytes: {other}"),
            }
        }
    }
}

fn assert_failed_by(server: &mut Connection, rule: &ProtocolError) {
    assert_eq!(server.state(), State::Closed);
    let code = sole_close(&server.outbound().take_all()).map(|(code, _)| code);
    assert_eq!(code, Some(rule.close_code().0), "{rule}");
    server.receive(b"\x81\x80\x00\x00\x00\x00");
    assert_eq!(server.next_event(), Ok(None));
    assert!(server.outbound().is_empty());
}

/// A frame-shaped piece of noise: mostly well-formed headers with random opcodes, flags and
/// payloads, so the fuzzing reaches past the first header.
fn noise_frame() -> impl Strategy<Value = Vec<u8>> {
    let opcode = prop_oneof![4 => prop::sample::select(vec![0u8, 1, 2, 8, 9, 10]), 1 => 0u8..16];
    let rsv = prop_oneof![8 => Just(0u8), 1 => 0u8..8];
    let masked = prop::bool::weighted(0.9);
    let fin = prop::bool::weighted(0.7);
    let payload = vec(any::<u8>(), 0..300);
    (opcode, rsv, masked, fin, payload).prop_map(|(opcode, rsv, masked, fin, payload)| {
        let mut frame = Raw::reserved(opcode, payload);
        frame.rsv = rsv;
        frame.fin = fin;
        if !masked {
            frame = frame.unmasked();
        }
        frame.encode()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn client_to_server_any_chunking_gives_the_same_events(
        script in script(),
        cuts in vec(any::<Index>(), 0..24),
    ) {
        check_any_chunking(Role::Client, Role::Server, &script, &cuts);
    }

    #[test]
    fn server_to_client_any_chunking_gives_the_same_events(
        script in script(),
        cuts in vec(any::<Index>(), 0..24),
    ) {
        check_any_chunking(Role::Server, Role::Client, &script, &cuts);
    }

    #[test]
    fn random_bytes_never_panic_and_fail_cleanly(
        bytes in vec(any::<u8>(), 0..2048),
        cuts in vec(any::<Index>(), 0..16),
    ) {
        let cuts = cut_positions(&cuts, bytes.len());
        check_fails_cleanly(Config::default(), &bytes, &cuts);
    }

    #[test]
    fn random_frames_never_panic_and_fail_cleanly(
        noise in vec(noise_frame(), 1..12),
        cuts in vec(any::<Index>(), 0..16),
    ) {
        let bytes = noise.concat();
        let cuts = cut_positions(&cuts, bytes.len());
        let small = Config::default().max_frame_size(200).max_message_size(400).max_fragments(4);
        check_fails_cleanly(small, &bytes, &cuts);
    }
}

/// The case proptest once found: 5,000 one-byte fragments asked for. The script keeps within the
/// receiver's fragment limit, and the message still arrives whole however it is cut.
#[test]
fn a_message_in_thousands_of_fragments_arrives_whole() {
    let script = Script {
        ops: vec![Op::Fragmented(Message::from(vec![7u8; 5000]), 1)],
        close: None,
    };
    check_any_chunking(Role::Server, Role::Client, &script, &[]);
}

/// Control frames between fragments (RFC 6455 §5.4), every two-way cut of the stream.
#[test]
fn every_single_cut_of_an_interleaved_stream_gives_the_same_events() {
    let wire: Vec<u8> = [
        Raw::new(OpCode::Text, "κό").not_fin(),
        Raw::new(OpCode::Ping, "1"),
        Raw::new(OpCode::Continuation, "σμ").not_fin(),
        Raw::new(OpCode::Pong, "2"),
        Raw::new(OpCode::Continuation, "ε"),
        Raw::new(OpCode::Binary, [0u8; 130]),
        Raw::new(OpCode::Close, b"\x03\xe8bye"),
    ]
    .iter()
    .flat_map(Raw::encode)
    .collect();
    let expected = vec![
        Event::Ping(Bytes::from_static(b"1")),
        Event::Pong(Bytes::from_static(b"2")),
        Event::Message(Message::text("κόσμε")),
        Event::Message(Message::binary(vec![0u8; 130])),
        Event::Close(Some(CloseFrame::new(CloseCode::NORMAL, "bye"))),
    ];
    for cut in 0..=wire.len() {
        assert_eq!(
            feed(Role::Server, &wire, &[cut]),
            Ok(expected.clone()),
            "cut at {cut}"
        );
    }
}
