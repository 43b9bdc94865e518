//! Two peers in memory: a client and a server `Connection` exchange bytes with no sockets,
//! and hand-built frames check every rule a misbehaving peer can break (RFC 6455).

mod common;

use bytes::Bytes;
use common::{KEY, Raw, events, frames, header_bytes, sole_close};
use rustchat_ws::frame::OpCode;
use rustchat_ws::{
    CloseCode, CloseFrame, Config, Connection, Error, Event, Message, Prepared, ProtocolError,
    Role, State, UsageError,
};

/// Close codes a failed connection must carry (RFC 6455 §7.4.1), spelled out independently of
/// the library's constants.
const PROTOCOL_ERROR: u16 = 1002;
const INVALID_PAYLOAD: u16 = 1007;
const TOO_BIG: u16 = 1009;

/// A client and a server connection, joined by hand.
struct Peers {
    client: Connection,
    server: Connection,
}

impl Peers {
    fn new() -> Self {
        Self {
            client: Connection::new(Role::Client, Config::default()),
            server: Connection::new(Role::Server, Config::default()),
        }
    }

    /// Moves everything the client queued to the server; returns the server's events.
    fn flush_to_server(&mut self) -> Vec<Event> {
        deliver(&mut self.client, &mut self.server)
    }

    /// Moves everything the server queued to the client; returns the client's events.
    fn flush_to_client(&mut self) -> Vec<Event> {
        deliver(&mut self.server, &mut self.client)
    }
}

fn deliver(from: &mut Connection, to: &mut Connection) -> Vec<Event> {
    to.receive(&from.outbound().take_all());
    events(to).expect("the peer follows the protocol")
}

fn message_event(message: impl Into<Message>) -> Vec<Event> {
    vec![Event::Message(message.into())]
}

/// `len` bytes that are not all alike (so a wrong offset would show).
fn patterned(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// Sends `message` client → server and server → client; both must arrive unchanged.
fn assert_round_trip(message: Message) {
    let mut peers = Peers::new();
    peers.client.send(message.clone()).expect("open");
    assert_eq!(peers.flush_to_server(), message_event(message.clone()));
    peers.server.send(message.clone()).expect("open");
    assert_eq!(peers.flush_to_client(), message_event(message));
}

// ---------------------------------------------------------------------------------------------
// Messages

#[test]
fn text_message_crosses_both_ways() {
    assert_round_trip(Message::text("hello, world"));
}

#[test]
fn binary_message_crosses_both_ways() {
    assert_round_trip(Message::binary(vec![0, 1, 2, 0xff, 0xfe]));
}

#[test]
fn empty_messages_cross_both_ways() {
    assert_round_trip(Message::text(""));
    assert_round_trip(Message::binary(Vec::new()));
}

#[test]
fn multibyte_utf8_crosses_both_ways() {
    assert_round_trip(Message::text("κόσμε – 日本語 – 🚀🦀"));
}

/// RFC 6455 §5.2: the payload length is 7 bits up to 125, then 16 bits (126) up to 65535,
/// then 64 bits (127); the minimal encoding MUST be used.
#[test]
fn length_boundaries_use_7_16_and_64_bit_encodings() {
    for (len, len_field, header_len) in [
        (125, 125, 2),
        (126, 126, 4),
        (65535, 126, 4),
        (65536, 127, 10),
    ] {
        let message = Message::binary(patterned(len));
        let mut peers = Peers::new();
        peers.server.send(message.clone()).expect("open");
        let wire = peers.server.outbound().take_all();
        assert_eq!(
            (wire[1], wire.len()),
            (len_field, header_len + len),
            "{len}"
        );
        peers.client.receive(&wire);
        assert_eq!(
            events(&mut peers.client),
            Ok(message_event(message.clone()))
        );

        peers.client.send(message.clone()).expect("open");
        let wire = peers.client.outbound().take_all();
        let masked_len = 0x80 | len_field;
        assert_eq!(
            (wire[1], wire.len()),
            (masked_len, header_len + 4 + len),
            "{len}"
        );
        peers.server.receive(&wire);
        assert_eq!(events(&mut peers.server), Ok(message_event(message)));
    }
}

/// RFC 6455 §5.4: a message may be split into a first frame and continuation frames.
#[test]
fn fragmented_send_reassembles() {
    let text = "κόσμε 🚀 split through code points";
    let mut peers = Peers::new();
    peers
        .client
        .send_fragmented(Message::text(text), 3)
        .expect("open");
    let wire = peers.client.outbound().take_all();
    let sent = frames(&wire);
    assert_eq!(sent.len(), text.len().div_ceil(3));
    assert_eq!(sent[0].header.opcode, OpCode::Text);
    assert!(
        sent[1..]
            .iter()
            .all(|f| f.header.opcode == OpCode::Continuation)
    );
    assert!(sent.iter().rev().skip(1).all(|f| !f.header.fin));
    assert!(sent.last().is_some_and(|f| f.header.fin));
    peers.server.receive(&wire);
    assert_eq!(events(&mut peers.server), Ok(message_event(text)));
}

#[test]
fn fragmented_binary_from_the_server_reassembles() {
    let data = patterned(10_000);
    let mut peers = Peers::new();
    peers
        .server
        .send_fragmented(Message::binary(data.clone()), 4096)
        .expect("open");
    assert_eq!(peers.flush_to_client(), message_event(data));
}

#[test]
fn fragment_size_zero_is_refused() {
    let mut peers = Peers::new();
    let result = peers.client.send_fragmented(Message::text("x"), 0);
    assert_eq!(result, Err(UsageError::ZeroFragmentSize));
    assert!(peers.client.outbound().is_empty());
}

/// RFC 6455 §5.4: control frames MAY be injected in the middle of a fragmented message.
#[test]
fn ping_between_fragments_is_delivered_and_answered() {
    let mut server = Connection::new(Role::Server, Config::default());
    let wire = [
        Raw::new(OpCode::Text, "Hel").not_fin(),
        Raw::new(OpCode::Ping, "mid"),
        Raw::new(OpCode::Continuation, "lo"),
    ]
    .iter()
    .flat_map(Raw::encode)
    .collect::<Vec<u8>>();
    server.receive(&wire);
    let expected = vec![
        Event::Ping(Bytes::from_static(b"mid")),
        Event::Message(Message::text("Hello")),
    ];
    assert_eq!(events(&mut server), Ok(expected));
    let pong = frames(&server.outbound().take_all());
    assert_eq!(pong.len(), 1);
    assert_eq!(
        (pong[0].header.opcode, &pong[0].payload[..]),
        (OpCode::Pong, &b"mid"[..])
    );
}

// ---------------------------------------------------------------------------------------------
// Ping and pong

/// RFC 6455 §5.5.2/§5.5.3: a Ping MUST be answered with a Pong carrying identical data.
#[test]
fn ping_is_answered_with_a_pong_of_the_same_payload() {
    let mut peers = Peers::new();
    peers.client.ping(&b"are you there?"[..]).expect("open");
    let payload = Bytes::from_static(b"are you there?");
    assert_eq!(peers.flush_to_server(), vec![Event::Ping(payload.clone())]);
    assert_eq!(peers.flush_to_client(), vec![Event::Pong(payload)]);
    assert!(peers.client.outbound().is_empty(), "a pong is not answered");
}

/// RFC 6455 §5.5.3: a peer that pings and never reads is owed one pong — for its latest
/// ping — not one per ping: a ping flood costs the server nothing that grows.
#[test]
fn a_ping_flood_nobody_reads_is_owed_one_pong_for_the_latest_ping() {
    let mut peers = Peers::new();
    for i in 0..100_000u32 {
        peers.client.ping(i.to_be_bytes().to_vec()).expect("open");
        let ping = peers.client.outbound().take_all();
        peers.server.receive(&ping);
        let events = events(&mut peers.server).expect("a valid ping");
        assert_eq!(events.len(), 1);
        let owed = peers.server.outbound().len();
        assert_eq!(
            owed,
            2 + 4,
            "one pong owed after ping {i}, not {owed} bytes"
        );
    }
    let last = Bytes::from(99_999u32.to_be_bytes().to_vec());
    assert_eq!(peers.flush_to_client(), vec![Event::Pong(last)]);
}

/// Only a pong that is wholly unwritten and last in the queue is replaced: one that has begun
/// to go out, or has a message queued behind it, is kept, so no frame is ever cut or reordered.
#[test]
fn a_pong_partly_written_or_followed_by_a_message_is_kept() {
    let mut server = Connection::new(Role::Server, Config::default());
    let mut client = Connection::new(Role::Client, Config::default());
    let ping = |client: &mut Connection, server: &mut Connection, tag: &'static [u8]| {
        client.ping(tag).expect("open");
        server.receive(&client.outbound().take_all());
        events(server).expect("a valid ping");
    };
    ping(&mut client, &mut server, b"a");
    server.outbound().advance(1); // one byte of pong "a" is on the wire
    ping(&mut client, &mut server, b"b");
    server.send(Message::text("news")).expect("open");
    ping(&mut client, &mut server, b"c");
    ping(&mut client, &mut server, b"d");
    let mut rest = vec![0x8a]; // the byte of pong "a" already written
    rest.extend_from_slice(&server.outbound().take_all());
    client.receive(&rest);
    let got = events(&mut client).expect("whole frames");
    let pong = |p: &'static [u8]| Event::Pong(Bytes::from_static(p));
    assert_eq!(
        got,
        vec![
            pong(b"a"),
            pong(b"b"),
            Event::Message(Message::text("news")),
            pong(b"d")
        ],
        "a kept, b kept (a message follows it), c replaced by d"
    );
}

/// RFC 6455 §5.5.3: a Pong MAY be sent unsolicited; no response is expected.
#[test]
fn unsolicited_pong_is_reported_and_not_answered() {
    let mut peers = Peers::new();
    peers.client.pong(&b"heartbeat"[..]).expect("open");
    let heartbeat = Bytes::from_static(b"heartbeat");
    assert_eq!(peers.flush_to_server(), vec![Event::Pong(heartbeat)]);
    assert!(peers.server.outbound().is_empty());
}

/// RFC 6455 §5.5: control frames MUST have a payload of 125 bytes or less.
#[test]
fn control_frames_over_125_bytes_are_refused() {
    let mut peers = Peers::new();
    assert_eq!(
        peers.client.ping(vec![0; 126]),
        Err(UsageError::ControlTooLong(126))
    );
    assert_eq!(
        peers.client.pong(vec![0; 126]),
        Err(UsageError::ControlTooLong(126))
    );
    assert!(peers.client.outbound().is_empty());
    peers
        .client
        .ping(vec![7; 125])
        .expect("125 bytes is allowed");
    assert_eq!(
        peers.flush_to_server(),
        vec![Event::Ping(Bytes::from(vec![7; 125]))]
    );
}

// ---------------------------------------------------------------------------------------------
// The closing handshake (RFC 6455 §7)

fn close_code(events: &[Event]) -> Option<u16> {
    match events {
        [Event::Close(Some(frame))] => Some(frame.code.0),
        _ => None,
    }
}

/// RFC 6455 §5.5.1: an endpoint that receives a Close MUST send a Close in response.
#[test]
fn client_initiated_close_is_echoed_and_both_end_closed() {
    let mut peers = Peers::new();
    let bye = CloseFrame::new(CloseCode::GOING_AWAY, "bye");
    assert_eq!(peers.client.state(), State::Open);
    peers.client.close(Some(bye.clone())).expect("open");
    assert_eq!(peers.client.state(), State::CloseSent);
    assert_eq!(peers.server.state(), State::Open);
    assert_eq!(peers.flush_to_server(), vec![Event::Close(Some(bye))]);
    assert_eq!(peers.server.state(), State::Closed);
    assert_eq!(
        close_code(&peers.flush_to_client()),
        Some(1001),
        "the code is echoed"
    );
    assert_eq!(peers.client.state(), State::Closed);
    assert!(peers.client.is_closed() && peers.server.is_closed());
    assert!(
        peers.client.outbound().is_empty(),
        "an echo is not answered"
    );
}

#[test]
fn server_initiated_close_is_echoed_and_both_end_closed() {
    let mut peers = Peers::new();
    let bye = CloseFrame::new(CloseCode(4000), "shutting down");
    assert_eq!(peers.server.state(), State::Open);
    peers.server.close(Some(bye.clone())).expect("open");
    assert_eq!(peers.server.state(), State::CloseSent);
    assert!(!peers.server.can_send());
    assert_eq!(peers.flush_to_client(), vec![Event::Close(Some(bye))]);
    assert_eq!(peers.client.state(), State::Closed);
    assert_eq!(
        close_code(&peers.flush_to_server()),
        Some(4000),
        "the code is echoed"
    );
    assert_eq!(peers.server.state(), State::Closed);
}

#[test]
fn empty_close_body_round_trips_as_none() {
    let mut peers = Peers::new();
    peers.client.close(None).expect("open");
    assert_eq!(peers.flush_to_server(), vec![Event::Close(None)]);
    assert_eq!(peers.flush_to_client(), vec![Event::Close(None)]);
    assert!(peers.client.is_closed() && peers.server.is_closed());
}

fn assert_nothing_can_be_sent(conn: &mut Connection) {
    assert!(!conn.can_send());
    assert_eq!(conn.send(Message::text("late")), Err(UsageError::Closed));
    assert_eq!(
        conn.send_fragmented(Message::text("late"), 1),
        Err(UsageError::Closed)
    );
    assert_eq!(conn.ping(&b"late"[..]), Err(UsageError::Closed));
    assert_eq!(conn.pong(&b"late"[..]), Err(UsageError::Closed));
    assert_eq!(conn.close(None), Err(UsageError::Closed));
    assert!(
        conn.outbound().is_empty(),
        "nothing may be queued after a Close"
    );
}

/// RFC 6455 §5.5.1: after sending a Close frame, the endpoint MUST NOT send any more data.
#[test]
fn nothing_can_be_sent_after_our_close() {
    let mut peers = Peers::new();
    peers.client.close(None).expect("open");
    peers.client.outbound().take_all();
    assert_nothing_can_be_sent(&mut peers.client);
}

#[test]
fn nothing_can_be_sent_after_answering_the_peers_close() {
    let mut peers = Peers::new();
    peers.client.close(None).expect("open");
    peers.flush_to_server();
    peers.server.outbound().take_all();
    assert_nothing_can_be_sent(&mut peers.server);
}

#[test]
fn server_prepared_send_after_close_is_refused() {
    let mut server = Connection::new(Role::Server, Config::default());
    server.close(None).expect("open");
    server.outbound().take_all();
    let prepared = Prepared::new(&Message::text("late"));
    assert_eq!(server.send_prepared(&prepared), Err(UsageError::Closed));
    assert!(server.outbound().is_empty());
}

/// RFC 6455 §7.1.2: after sending a Close, an endpoint keeps reading until the peer's Close.
#[test]
fn messages_that_arrive_after_our_close_are_still_delivered() {
    let mut peers = Peers::new();
    peers
        .client
        .close(Some(CloseFrame::new(CloseCode::NORMAL, "")))
        .expect("open");
    peers.server.send(Message::text("in flight")).expect("open");
    peers.server.ping(&b"p"[..]).expect("open");
    let in_flight = peers.flush_to_client();
    assert_eq!(
        in_flight,
        vec![
            Event::Message(Message::text("in flight")),
            Event::Ping(Bytes::from_static(b"p"))
        ]
    );
    assert_eq!(peers.client.state(), State::CloseSent);
    peers.flush_to_server();
    assert_eq!(close_code(&peers.flush_to_client()), Some(1000));
    assert_eq!(peers.client.state(), State::Closed);
}

/// RFC 6455 §7.4.1: 1005, 1006 and 1015 MUST NOT be set as a status code in a Close frame;
/// codes below 1000 and from 5000 are not defined.
#[test]
fn unsendable_close_codes_are_refused() {
    for code in [1005, 1006, 1015, 999, 5000] {
        let mut client = Connection::new(Role::Client, Config::default());
        let result = client.close(Some(CloseFrame::new(CloseCode(code), "")));
        assert_eq!(result, Err(UsageError::InvalidCloseCode(code)));
        assert_eq!(client.state(), State::Open, "{code}");
        assert!(client.outbound().is_empty(), "{code}");
    }
}

/// RFC 6455 §5.5: a control frame carries at most 125 bytes: the code and 123 bytes of reason.
#[test]
fn close_reason_over_123_bytes_is_refused() {
    let mut peers = Peers::new();
    let long = CloseFrame::new(CloseCode::NORMAL, "x".repeat(124));
    assert_eq!(
        peers.client.close(Some(long)),
        Err(UsageError::CloseReasonTooLong(124))
    );
    assert!(peers.client.outbound().is_empty());
    let longest = CloseFrame::new(CloseCode::NORMAL, "é".repeat(61) + "x");
    peers
        .client
        .close(Some(longest.clone()))
        .expect("123 bytes fit");
    assert_eq!(peers.flush_to_server(), vec![Event::Close(Some(longest))]);
}

// ---------------------------------------------------------------------------------------------
// A misbehaving peer: each rule fails the connection with its own error and close code

/// Drains events until the first error; panics if the bytes are all accepted.
fn first_error(conn: &mut Connection) -> Error {
    loop {
        match conn.next_event() {
            Ok(Some(_)) => {}
            Ok(None) => panic!("the connection accepted the bytes"),
            Err(e) => return e,
        }
    }
}

/// The connection has been failed (RFC 6455 §7.1.7): it is Closed, exactly one Close frame with
/// `code` is queued, and further input is ignored with nothing more sent.
fn assert_failed_with(conn: &mut Connection, code: u16) {
    assert_eq!(conn.state(), State::Closed);
    let queued = sole_close(&conn.outbound().take_all()).map(|(code, _)| code);
    assert_eq!(queued, Some(code));
    conn.receive(&Raw::new(OpCode::Ping, "more").encode());
    conn.receive(&Raw::new(OpCode::Ping, "more").unmasked().encode());
    assert_eq!(conn.next_event(), Ok(None));
    assert!(conn.outbound().is_empty());
}

fn assert_fails(role: Role, config: Config, bytes: &[u8], rule: ProtocolError, code: u16) {
    let mut conn = Connection::new(role, config);
    conn.receive(bytes);
    assert_eq!(first_error(&mut conn), Error::Protocol(rule));
    assert_failed_with(&mut conn, code);
}

fn server_fails(bytes: &[u8], rule: ProtocolError, code: u16) {
    assert_fails(Role::Server, Config::default(), bytes, rule, code);
}

fn concat(frames: &[Raw]) -> Vec<u8> {
    frames.iter().flat_map(Raw::encode).collect()
}

/// RFC 6455 §5.2: if an unknown opcode is received, the endpoint MUST fail the connection.
#[test]
fn reserved_opcodes_fail_with_1002() {
    for opcode in (0x3..=0x7).chain(0xB..=0xF) {
        let bytes = Raw::reserved(opcode, "").encode();
        server_fails(
            &bytes,
            ProtocolError::ReservedOpcode(opcode),
            PROTOCOL_ERROR,
        );
    }
}

/// RFC 6455 §5.2: a nonzero RSV value with no extension defining it MUST fail the connection.
#[test]
fn reserved_bits_fail_with_1002() {
    for rsv in [0b100, 0b010, 0b001] {
        let mut frame = Raw::new(OpCode::Text, "x");
        frame.rsv = rsv;
        server_fails(
            &frame.encode(),
            ProtocolError::ReservedBits(rsv),
            PROTOCOL_ERROR,
        );
    }
}

/// RFC 6455 §5.5: control frames MUST NOT be fragmented.
#[test]
fn fragmented_control_frame_fails_with_1002() {
    let bytes = Raw::new(OpCode::Ping, "x").not_fin().encode();
    server_fails(&bytes, ProtocolError::FragmentedControl, PROTOCOL_ERROR);
}

/// RFC 6455 §5.5: all control frames MUST have a payload length of 125 bytes or less.
#[test]
fn control_frame_of_126_bytes_fails_with_1002() {
    let bytes = Raw::new(OpCode::Ping, [0u8; 126]).encode();
    server_fails(&bytes, ProtocolError::ControlTooLong(126), PROTOCOL_ERROR);
}

/// RFC 6455 §5.1: a server MUST close the connection upon receiving an unmasked frame.
#[test]
fn unmasked_frame_to_a_server_fails_with_1002() {
    let bytes = Raw::new(OpCode::Text, "hi").unmasked().encode();
    server_fails(&bytes, ProtocolError::UnmaskedFrame, PROTOCOL_ERROR);
}

/// RFC 6455 §5.1: a client MUST close the connection if it detects a masked frame.
#[test]
fn masked_frame_to_a_client_fails_with_1002() {
    let bytes = Raw::new(OpCode::Text, "hi").encode();
    let (rule, config) = (ProtocolError::MaskedFrame, Config::default());
    assert_fails(Role::Client, config, &bytes, rule, PROTOCOL_ERROR);
}

/// RFC 6455 §5.2: the most significant bit of a 64-bit length MUST be 0.
#[test]
fn length_with_the_top_bit_set_fails_with_1002() {
    let bytes = header_bytes(OpCode::Binary, 1 << 63, Some(KEY));
    server_fails(&bytes, ProtocolError::LengthTooLong, PROTOCOL_ERROR);
}

/// RFC 6455 §5.4: a fragmented message starts with a text or binary frame.
#[test]
fn continuation_without_a_start_fails_with_1002() {
    let bytes = Raw::new(OpCode::Continuation, "lo").encode();
    server_fails(
        &bytes,
        ProtocolError::UnexpectedContinuation,
        PROTOCOL_ERROR,
    );
}

/// RFC 6455 §5.4: the fragments of one message MUST NOT be interleaved with another message.
#[test]
fn new_data_frame_inside_a_fragmented_message_fails_with_1002() {
    for opcode in [OpCode::Text, OpCode::Binary] {
        let bytes = concat(&[
            Raw::new(OpCode::Text, "Hel").not_fin(),
            Raw::new(opcode, "x"),
        ]);
        server_fails(&bytes, ProtocolError::ExpectedContinuation, PROTOCOL_ERROR);
    }
}

/// RFC 6455 §8.1: a text message that is not valid UTF-8 MUST fail the connection (1007).
#[test]
fn invalid_utf8_in_a_single_frame_fails_with_1007() {
    let bytes = Raw::new(OpCode::Text, b"bad \xff byte").encode();
    server_fails(&bytes, ProtocolError::InvalidUtf8, INVALID_PAYLOAD);
}

#[test]
fn invalid_utf8_in_the_second_fragment_fails_before_the_message_ends() {
    let bytes = concat(&[
        Raw::new(OpCode::Text, "ok ").not_fin(),
        Raw::new(OpCode::Continuation, b"\xc3\x28").not_fin(),
    ]);
    server_fails(&bytes, ProtocolError::InvalidUtf8, INVALID_PAYLOAD);
}

#[test]
fn invalid_utf8_fails_in_the_middle_of_a_frame_before_its_end_arrives() {
    let frame = Raw::new(OpCode::Text, b"ok \xed\xa0\x80 and much more to come").encode();
    let header_len = 2 + 4;
    let first_half = &frame[..header_len + 8];
    server_fails(first_half, ProtocolError::InvalidUtf8, INVALID_PAYLOAD);
}

/// RFC 6455 §5.5.1: a close body, if present, starts with a 2-byte status code.
#[test]
fn close_body_of_one_byte_fails_with_1002() {
    let bytes = Raw::new(OpCode::Close, [0x03u8]).encode();
    server_fails(&bytes, ProtocolError::CloseBodyTooShort, PROTOCOL_ERROR);
}

/// RFC 6455 §7.4: codes below 1000, reserved (1004–1006, 1015), unassigned (1016–2999) and
/// over 4999 are not valid in a Close frame.
#[test]
fn invalid_close_codes_from_the_peer_fail_with_1002() {
    for code in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] {
        let bytes = Raw::new(OpCode::Close, u16::to_be_bytes(code)).encode();
        server_fails(
            &bytes,
            ProtocolError::InvalidCloseCode(code),
            PROTOCOL_ERROR,
        );
    }
}

/// RFC 6455 §5.5.1: the close reason is UTF-8 encoded data.
#[test]
fn close_reason_that_is_not_utf8_fails_with_1007() {
    let bytes = Raw::new(OpCode::Close, b"\x03\xe8bad \xff").encode();
    server_fails(&bytes, ProtocolError::InvalidCloseReason, INVALID_PAYLOAD);
}

#[test]
fn frame_over_max_frame_size_fails_with_1009_on_its_header() {
    let config = Config::default().max_frame_size(100);
    let header_only = header_bytes(OpCode::Binary, 101, Some(KEY));
    let rule = ProtocolError::FrameTooLarge { len: 101, max: 100 };
    assert_fails(Role::Server, config, &header_only, rule, TOO_BIG);
}

#[test]
fn frame_of_exactly_max_frame_size_is_accepted() {
    let config = Config::default().max_frame_size(100);
    let mut server = Connection::new(Role::Server, config);
    server.receive(&Raw::new(OpCode::Binary, [1u8; 100]).encode());
    assert_eq!(events(&mut server), Ok(message_event(vec![1; 100])));
}

#[test]
fn message_over_max_message_size_across_fragments_fails_with_1009() {
    let config = Config::default().max_message_size(10);
    let mut client = Connection::new(Role::Client, Config::default());
    client
        .send_fragmented(Message::binary(vec![0; 11]), 6)
        .expect("open");
    let bytes = client.outbound().take_all();
    let rule = ProtocolError::MessageTooLarge { len: 11, max: 10 };
    assert_fails(Role::Server, config, &bytes, rule, TOO_BIG);
}

#[test]
fn message_of_exactly_max_message_size_is_accepted() {
    let mut peers = Peers::new();
    peers.server = Connection::new(Role::Server, Config::default().max_message_size(10));
    peers
        .client
        .send_fragmented(Message::binary(vec![2; 10]), 6)
        .expect("open");
    assert_eq!(peers.flush_to_server(), message_event(vec![2; 10]));
}

#[test]
fn more_than_max_fragments_fails_with_1009() {
    let config = Config::default().max_fragments(3);
    let mut client = Connection::new(Role::Client, Config::default());
    client
        .send_fragmented(Message::text("abcd"), 1)
        .expect("open");
    let bytes = client.outbound().take_all();
    let rule = ProtocolError::TooManyFragments { max: 3 };
    assert_fails(Role::Server, config, &bytes, rule, TOO_BIG);
}

#[test]
fn exactly_max_fragments_is_accepted() {
    let mut peers = Peers::new();
    peers.server = Connection::new(Role::Server, Config::default().max_fragments(3));
    peers
        .client
        .send_fragmented(Message::text("abc"), 1)
        .expect("open");
    assert_eq!(peers.flush_to_server(), message_event("abc"));
}

/// RFC 6455 §7.1.7: once the connection is failed, no further data from the peer is processed.
#[test]
fn after_a_failure_valid_input_is_ignored_and_nothing_more_is_sent() {
    let mut server = Connection::new(Role::Server, Config::default());
    server.receive(&Raw::new(OpCode::Text, "no mask").unmasked().encode());
    assert_eq!(
        server.next_event(),
        Err(Error::Protocol(ProtocolError::UnmaskedFrame))
    );
    server.outbound().take_all();
    server.receive(&concat(&[
        Raw::new(OpCode::Text, "valid"),
        Raw::new(OpCode::Ping, "p"),
    ]));
    assert_eq!(server.next_event(), Ok(None));
    assert_eq!(server.next_event(), Ok(None));
    assert!(server.outbound().is_empty());
    assert_eq!(server.send(Message::text("x")), Err(UsageError::Closed));
}

/// RFC 6455 §5.5.1: an endpoint sends at most one Close frame; failing the connection after our
/// Close queues nothing more.
#[test]
fn a_failure_after_our_close_queues_no_second_close() {
    let mut server = Connection::new(Role::Server, Config::default());
    server.close(None).expect("open");
    server.outbound().take_all();
    server.receive(&Raw::new(OpCode::Text, b"\xff").encode());
    assert_eq!(
        first_error(&mut server),
        Error::Protocol(ProtocolError::InvalidUtf8)
    );
    assert_eq!(server.state(), State::Closed);
    assert!(server.outbound().is_empty());
}

#[test]
fn a_failure_reason_fits_a_control_frame() {
    let mut server = Connection::new(Role::Server, Config::default());
    server.receive(&Raw::reserved(0x3, "").encode());
    first_error(&mut server);
    let (_, reason) = sole_close(&server.outbound().take_all()).expect("a code");
    assert!(!reason.is_empty() && reason.len() <= 123, "{reason:?}");
}

// ---------------------------------------------------------------------------------------------
// Prepared messages and masking

#[test]
fn prepared_bytes_decode_on_two_clients() {
    let message = Message::text("to everyone");
    let prepared = Prepared::new(&message);
    for _ in 0..2 {
        let mut peers = Peers::new();
        peers.server.send_prepared(&prepared).expect("open");
        assert_eq!(peers.flush_to_client(), message_event(message.clone()));
    }
}

#[test]
fn prepared_large_binary_decodes_on_two_clients() {
    let message = Message::binary(patterned(70_000));
    let prepared = Prepared::new(&message);
    let mut a = Peers::new();
    let mut b = Peers::new();
    a.server.send_prepared(&prepared).expect("open");
    b.server.send_prepared(&prepared).expect("open");
    assert_eq!(a.flush_to_client(), message_event(message.clone()));
    assert_eq!(b.flush_to_client(), message_event(message));
}

#[test]
fn prepared_send_is_refused_on_a_client() {
    let mut client = Connection::new(Role::Client, Config::default());
    let prepared = Prepared::new(&Message::text("x"));
    assert_eq!(
        client.send_prepared(&prepared),
        Err(UsageError::PreparedOnClient)
    );
    assert!(client.outbound().is_empty());
}

/// RFC 6455 §5.3: the client MUST pick a fresh masking key for each frame.
#[test]
fn client_masks_each_frame_with_a_fresh_key() {
    let mut peers = Peers::new();
    peers
        .client
        .send(Message::text("same message"))
        .expect("open");
    let first = peers.client.outbound().take_all();
    peers
        .client
        .send(Message::text("same message"))
        .expect("open");
    let second = peers.client.outbound().take_all();
    assert_ne!(first, second, "the same message differs on the wire");
    let (a, b) = (&frames(&first)[0], &frames(&second)[0]);
    assert!(a.header.mask.is_some() && b.header.mask.is_some());
    assert_ne!(a.header.mask, b.header.mask);
    assert_eq!(
        (&a.payload[..], &b.payload[..]),
        (&b"same message"[..], &b"same message"[..])
    );
}

/// RFC 6455 §5.1: a server MUST NOT mask any frames that it sends to the client.
#[test]
fn server_frames_are_unmasked() {
    let mut server = Connection::new(Role::Server, Config::default());
    server.send(Message::text("hi")).expect("open");
    server.ping(&b"p"[..]).expect("open");
    server.close(None).expect("open");
    let sent = frames(&server.outbound().take_all());
    assert_eq!(sent.len(), 3);
    assert!(sent.iter().all(|f| f.header.mask.is_none()));
}

// ---------------------------------------------------------------------------------------------
// RFC 6455 §5.7 examples, through a whole Connection

const HELLO_UNMASKED: [u8; 7] = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
const HELLO_MASKED: [u8; 11] = [
    0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
];

#[test]
fn rfc_single_frame_unmasked_hello_to_a_client() {
    let mut client = Connection::new(Role::Client, Config::default());
    client.receive(&HELLO_UNMASKED);
    assert_eq!(events(&mut client), Ok(message_event("Hello")));
    let mut server = Connection::new(Role::Server, Config::default());
    server.send(Message::text("Hello")).expect("open");
    assert_eq!(&server.outbound().take_all()[..], &HELLO_UNMASKED[..]);
}

#[test]
fn rfc_single_frame_masked_hello_to_a_server() {
    let mut server = Connection::new(Role::Server, Config::default());
    server.receive(&HELLO_MASKED);
    assert_eq!(events(&mut server), Ok(message_event("Hello")));
}

#[test]
fn rfc_fragmented_hel_lo() {
    let wire = [0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f];
    let mut client = Connection::new(Role::Client, Config::default());
    client.receive(&wire[..5]);
    assert_eq!(
        events(&mut client),
        Ok(vec![]),
        "the first fragment is not a message"
    );
    client.receive(&wire[5..]);
    assert_eq!(events(&mut client), Ok(message_event("Hello")));
    let mut server = Connection::new(Role::Server, Config::default());
    server
        .send_fragmented(Message::text("Hello"), 3)
        .expect("open");
    assert_eq!(&server.outbound().take_all()[..], &wire[..]);
}

#[test]
fn rfc_unmasked_ping_and_masked_pong() {
    let hello = Bytes::from_static(b"Hello");
    let mut client = Connection::new(Role::Client, Config::default());
    client.receive(&[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    assert_eq!(events(&mut client), Ok(vec![Event::Ping(hello.clone())]));
    let pong = client.outbound().take_all();
    assert_eq!(
        (pong[0], pong[1], pong.len()),
        (0x8a, 0x85, 11),
        "a masked 5-byte pong"
    );
    assert_eq!(frames(&pong)[0].payload, b"Hello");

    let rfc_pong = [
        0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    let mut server = Connection::new(Role::Server, Config::default());
    server.receive(&rfc_pong);
    assert_eq!(events(&mut server), Ok(vec![Event::Pong(hello)]));
}

#[test]
fn rfc_256_byte_binary_header() {
    let data = patterned(256);
    let mut wire = vec![0x82, 0x7E, 0x01, 0x00];
    wire.extend_from_slice(&data);
    let mut client = Connection::new(Role::Client, Config::default());
    client.receive(&wire);
    assert_eq!(events(&mut client), Ok(message_event(data.clone())));
    let mut server = Connection::new(Role::Server, Config::default());
    server.send(Message::binary(data)).expect("open");
    assert_eq!(server.outbound().take_all(), wire);
}

#[test]
fn rfc_64_kib_binary_header() {
    let data = patterned(65536);
    let mut wire = vec![0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00];
    wire.extend_from_slice(&data);
    let mut client = Connection::new(Role::Client, Config::default());
    client.receive(&wire);
    assert_eq!(events(&mut client), Ok(message_event(data.clone())));
    let mut server = Connection::new(Role::Server, Config::default());
    server.send(Message::binary(data)).expect("open");
    assert_eq!(server.outbound().take_all(), wire);
}
