//! permessage-deflate: RFC 7692's byte examples, the negotiation's rules, the limits, and
//! round trips of any message under any parameters.

use bytes::Bytes;
use proptest::prelude::*;

use super::negotiate::{check_response, offer};
use super::*;
use crate::{CloseCode, Config, Connection, Error, Event, Message, Prepared, ProtocolError, Role};

fn config(deflate: DeflateConfig) -> Config {
    Config::default().deflate(deflate).max_fragments(1 << 20)
}

/// A client that negotiated `params`, fed `wire` (server frames), and its next event.
fn client_reads(params: DeflateParams, wire: &[u8]) -> Result<Option<Event>, Error> {
    let mut client =
        Connection::with_deflate(Role::Client, config(DeflateConfig::enabled()), Some(params));
    client.receive(wire);
    client.next_event()
}

fn hello() -> Option<Event> {
    Some(Event::Message(Message::text("Hello")))
}

#[test]
fn rfc_7692_examples_inflate_to_hello() {
    let params = DeflateParams::default();
    // §7.2.3.1: "Hello" compressed, in one frame and in two.
    let one = [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    assert_eq!(client_reads(params, &one), Ok(hello()));
    let two = [
        0x41, 0x03, 0xf2, 0x48, 0xcd, 0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00,
    ];
    assert_eq!(client_reads(params, &two), Ok(hello()));
    // §7.2.3.3: a stored (uncompressed) block.
    let stored = [
        0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
    ];
    assert_eq!(client_reads(params, &stored), Ok(hello()));
    // §7.2.3.4: a block with BFINAL set.
    let last = [0xc1, 0x08, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
    assert_eq!(client_reads(params, &last), Ok(hello()));
    // §7.2.3.5: two blocks in one message.
    let blocks = [
        0xc1, 0x0d, 0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00,
    ];
    assert_eq!(client_reads(params, &blocks), Ok(hello()));
}

#[test]
fn rfc_7692_shared_window_needs_the_previous_message() {
    // §7.2.3.2: the second "Hello" refers back into the first message's window.
    let mut wire = vec![0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    wire.extend_from_slice(&[0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00]);
    let mut client = Connection::with_deflate(
        Role::Client,
        config(DeflateConfig::enabled()),
        Some(DeflateParams::default()),
    );
    client.receive(&wire);
    assert_eq!(client.next_event(), Ok(hello()));
    assert_eq!(client.next_event(), Ok(hello()));
    // Without the server's context, the same bytes refer to nothing: invalid.
    let fresh = DeflateParams {
        server_no_context_takeover: true,
        ..DeflateParams::default()
    };
    let mut client =
        Connection::with_deflate(Role::Client, config(DeflateConfig::enabled()), Some(fresh));
    client.receive(&wire);
    assert_eq!(client.next_event(), Ok(hello()));
    assert!(matches!(
        client.next_event(),
        Err(Error::Protocol(ProtocolError::BadDeflate(_)))
    ));
}

#[test]
fn our_hello_is_the_rfc_s_and_an_empty_message_is_one_zero_byte() {
    let mut server = Connection::with_deflate(
        Role::Server,
        config(DeflateConfig::enabled().threshold(0)),
        Some(DeflateParams::default()),
    );
    server.send(Message::text("Hello")).expect("open");
    assert_eq!(
        &server.outbound().take_all()[..],
        [0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
    );
    server.send(Message::text("")).expect("open");
    let empty = server.outbound().take_all();
    assert_eq!(&empty[..], [0xc1, 0x01, 0x00]);
    assert_eq!(
        client_reads(DeflateParams::default(), &empty),
        Ok(Some(Event::Message(Message::text(""))))
    );
}

#[test]
fn rsv1_only_on_a_data_message_s_first_frame() {
    let params = DeflateParams::default();
    // A continuation with RSV1.
    let wire = [
        0x41, 0x03, 0xf2, 0x48, 0xcd, 0xc0, 0x04, 0xc9, 0xc9, 0x07, 0x00,
    ];
    assert_eq!(
        client_reads(params, &wire),
        Err(Error::Protocol(ProtocolError::CompressedContinuation))
    );
    // A ping with RSV1.
    assert_eq!(
        client_reads(params, &[0xc9, 0x00]),
        Err(Error::Protocol(ProtocolError::CompressedControl))
    );
    // RSV1 when nothing was negotiated.
    let mut plain = Connection::new(Role::Client, Config::default());
    plain.receive(&[0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
    assert_eq!(
        plain.next_event(),
        Err(Error::Protocol(ProtocolError::ReservedBits(0b100)))
    );
}

#[test]
fn bad_data_and_bad_text_fail_with_1007() {
    let params = DeflateParams::default();
    // Block type 3 does not exist.
    let err = client_reads(params, &[0xc1, 0x02, 0xff, 0xff]).expect_err("invalid");
    let Error::Protocol(err) = err else {
        panic!("{err:?}")
    };
    assert!(matches!(err, ProtocolError::BadDeflate(_)), "{err:?}");
    assert_eq!(err.close_code(), CloseCode::INVALID_PAYLOAD);
    // Valid DEFLATE of invalid UTF-8 in a text message.
    let mut server = Connection::with_deflate(
        Role::Server,
        config(DeflateConfig::enabled().threshold(0)),
        Some(params),
    );
    server
        .send(Message::binary(&b"ok \xff\xfe not text"[..]))
        .expect("open");
    let mut wire = server.outbound().take_all().to_vec();
    wire[0] = 0xc1; // say it is text
    assert_eq!(
        client_reads(params, &wire),
        Err(Error::Protocol(ProtocolError::InvalidUtf8))
    );
}

#[test]
fn a_decompression_bomb_stops_at_the_limit() {
    let limit = 64 * 1024;
    let bomb = vec![b'a'; 8 * 1024 * 1024];
    let mut client = Connection::with_deflate(
        Role::Client,
        config(DeflateConfig::enabled().level(9)),
        Some(DeflateParams::default()),
    );
    client.send(Message::binary(bomb)).expect("open");
    let wire = client.outbound().take_all();
    assert!(wire.len() < 64 * 1024, "{} bytes on the wire", wire.len());
    let mut server = Connection::with_deflate(
        Role::Server,
        Config::default()
            .max_message_size(limit)
            .max_frame_size(1 << 20)
            .deflate(DeflateConfig::enabled()),
        Some(DeflateParams::default()),
    );
    server.receive(&wire);
    let err = server.next_event().expect_err("too large");
    assert_eq!(
        err,
        Error::Protocol(ProtocolError::InflatedTooLarge { max: limit })
    );
    let close = server.outbound().take_all();
    assert_eq!(&close[2..4], 1009u16.to_be_bytes(), "closed with 1009");
    assert!(!server.holds_compression_state());
}

#[test]
fn without_context_takeover_nothing_is_held_between_messages() {
    let params = DeflateParams {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        ..DeflateParams::default()
    };
    let deflate = DeflateConfig::enabled().threshold(0);
    let mut client = Connection::with_deflate(Role::Client, config(deflate), Some(params));
    let mut server = Connection::with_deflate(Role::Server, config(deflate), Some(params));
    for text in ["first message", "second message, longer", "third"] {
        client.send(Message::text(text)).expect("open");
        let wire = client.outbound().take_all();
        // The message arrives in two pieces: the state is held in between, and only then.
        let (a, b) = wire.split_at(wire.len() / 2);
        server.receive(a);
        assert_eq!(server.next_event(), Ok(None));
        server.receive(b);
        assert_eq!(
            server.next_event(),
            Ok(Some(Event::Message(Message::text(text))))
        );
        assert!(!server.holds_compression_state());
        assert!(!client.holds_compression_state());
    }
    // With context takeover, each side keeps its own.
    let keep = DeflateParams::default();
    let mut client = Connection::with_deflate(Role::Client, config(deflate), Some(keep));
    client.send(Message::text("kept")).expect("open");
    assert!(client.holds_compression_state());
}

#[test]
fn prepared_messages_are_compressed_once_for_those_that_can_take_them() {
    let deflate = DeflateConfig::enabled()
        .no_context_takeover(true)
        .threshold(0);
    let text = Message::text("a room event, a room event, a room event");
    let prepared = Prepared::deflated(&text, &deflate);
    let fresh = DeflateParams {
        server_no_context_takeover: true,
        ..DeflateParams::default()
    };
    let small_window = DeflateParams {
        server_max_window_bits: 10,
        ..fresh
    };
    let mut wires = Vec::new();
    for params in [
        Some(fresh),
        Some(DeflateParams::default()),
        Some(small_window),
        None,
    ] {
        let mut server = Connection::with_deflate(Role::Server, config(deflate), params);
        server.send_prepared(&prepared).expect("open");
        let wire = server.outbound().take_all();
        let mut client = Connection::with_deflate(Role::Client, config(deflate), params);
        client.receive(&wire);
        assert_eq!(client.next_event(), Ok(Some(Event::Message(text.clone()))));
        wires.push(wire);
    }
    assert!(wires[0].len() < wires[1].len(), "shared compressed frame");
    assert_eq!(
        wires[1], wires[3],
        "a server keeping context gets the plain frame"
    );
    assert_eq!(wires[2], wires[3], "so does a smaller window");
    // A batch: each message its own compressed frame.
    let batch = Prepared::batch_deflated([text.clone(), Message::text("x")].iter(), &deflate);
    let mut server = Connection::with_deflate(Role::Server, config(deflate), Some(fresh));
    server.send_prepared(&batch).expect("open");
    let mut client = Connection::with_deflate(Role::Client, config(deflate), Some(fresh));
    client.receive(&server.outbound().take_all());
    assert_eq!(client.next_event(), Ok(Some(Event::Message(text))));
    assert_eq!(
        client.next_event(),
        Ok(Some(Event::Message(Message::text("x"))))
    );
}

#[test]
fn the_server_takes_the_first_offer_it_can_honour() {
    let on = DeflateConfig::enabled();
    let pick = |config: &DeflateConfig, offers: &[&str]| {
        negotiate(config, offers.iter().copied()).map(|a| a.response)
    };
    assert_eq!(
        pick(&on, &["permessage-deflate"]).as_deref(),
        Some("permessage-deflate")
    );
    assert_eq!(
        pick(&DeflateConfig::default(), &["permessage-deflate"]),
        None,
        "off unless enabled"
    );
    for declined in [
        "permessage-deflate; foo",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=09",
        "permessage-deflate; client_max_window_bits=a",
        "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
        "permessage-deflate;",
        "x-webkit-deflate-frame",
    ] {
        assert_eq!(pick(&on, &[declined]), None, "{declined}");
        assert_eq!(
            pick(
                &on,
                &[declined, "permessage-deflate; client_max_window_bits"]
            )
            .as_deref(),
            Some("permessage-deflate"),
            "after {declined}, the next offer"
        );
    }
    let answer = negotiate(
        &on,
        ["permessage-deflate; server_max_window_bits=\"10\"; client_max_window_bits=12; client_no_context_takeover"].into_iter(),
    )
    .expect("valid");
    assert_eq!(
        answer.response,
        "permessage-deflate; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12"
    );
    assert_eq!(answer.params.server_max_window_bits, 10);
    assert_eq!(answer.params.client_max_window_bits, 12);
    // Our own wishes: no context either way, a smaller window for the client if it lets us.
    let ours = on
        .no_context_takeover(true)
        .peer_no_context_takeover(true)
        .peer_max_window_bits(11);
    assert_eq!(
        pick(&ours, &["permessage-deflate; client_max_window_bits"]).as_deref(),
        Some(
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits=11"
        )
    );
    assert_eq!(
        pick(&ours, &["permessage-deflate"]).as_deref(),
        Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
        "no client_max_window_bits unless offered"
    );
}

#[test]
fn the_client_fails_on_an_answer_it_did_not_ask_for() {
    let on = DeflateConfig::enabled();
    assert_eq!(offer(&on), "permessage-deflate; client_max_window_bits");
    let strict = on
        .no_context_takeover(true)
        .peer_no_context_takeover(true)
        .peer_max_window_bits(10)
        .max_window_bits(12);
    assert_eq!(
        offer(&strict),
        "permessage-deflate; client_no_context_takeover; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12"
    );
    let ok = check_response(
        &on,
        &["permessage-deflate; server_no_context_takeover; client_max_window_bits=9"],
    )
    .expect("valid")
    .expect("deflate");
    assert!(ok.server_no_context_takeover && ok.client_max_window_bits == 9);
    assert_eq!(check_response(&on, &[]), Ok(None));
    for (response, why) in [
        (
            "permessage-deflate; client_max_window_bits",
            "without a value",
        ),
        ("permessage-deflate; bogus", "unknown parameter"),
        ("x-other", "did not offer"),
        (
            "permessage-deflate; server_max_window_bits=16",
            "from 8 to 15",
        ),
    ] {
        let err = check_response(&on, &[response]).expect_err(response);
        assert!(err.contains(why), "{response}: {err}");
    }
    let err = check_response(&on, &["permessage-deflate", "permessage-deflate"]).expect_err("two");
    assert!(err.contains("more than one"), "{err}");
    for (response, why) in [
        (
            "permessage-deflate; server_no_context_takeover",
            "no server_max_window_bits",
        ),
        (
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=11",
            "larger than the 10",
        ),
        (
            "permessage-deflate; server_max_window_bits=10; client_max_window_bits=13",
            "larger than the 12",
        ),
        (
            "permessage-deflate; server_max_window_bits=10",
            "no server_no_context_takeover",
        ),
    ] {
        let err = check_response(&strict, &[response]).expect_err(response);
        assert!(err.contains(why), "{response}: {err}");
    }
}

/// Any parameters both sides could have agreed on.
fn params() -> impl Strategy<Value = DeflateParams> {
    (any::<bool>(), any::<bool>(), 8u8..=15, 8u8..=15).prop_map(|(s, c, sb, cb)| DeflateParams {
        server_no_context_takeover: s,
        client_no_context_takeover: c,
        server_max_window_bits: sb,
        client_max_window_bits: cb,
    })
}

fn messages() -> impl Strategy<Value = Vec<Message>> {
    let text = "[a-z ]{0,300}|\\PC{0,80}".prop_map(Message::text);
    let binary = proptest::collection::vec(any::<u8>(), 0..2000).prop_map(Message::binary);
    let repetitive = (1usize..3000).prop_map(|n| Message::text("chat ".repeat(n)));
    proptest::collection::vec(prop_oneof![text, binary, repetitive], 1..6)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_messages_under_any_parameters_round_trip(
        params in params(),
        messages in messages(),
        level in 0u8..=9,
        threshold in 0usize..64,
        fragment in 1usize..500,
        split in 1usize..700,
    ) {
        let deflate = DeflateConfig::enabled().level(level).threshold(threshold);
        for sender in [Role::Client, Role::Server] {
            let receiver = if sender == Role::Client { Role::Server } else { Role::Client };
            let mut from = Connection::with_deflate(sender, config(deflate), Some(params));
            let mut to = Connection::with_deflate(receiver, config(deflate), Some(params));
            for (i, message) in messages.iter().enumerate() {
                if i % 2 == 0 {
                    from.send(message.clone()).expect("open");
                } else {
                    from.send_fragmented(message.clone(), fragment).expect("open");
                }
            }
            let wire = from.outbound().take_all();
            let mut got = Vec::new();
            for piece in wire.chunks(split) {
                to.receive(piece);
                while let Some(event) = to.next_event().expect("valid") {
                    got.push(event);
                }
            }
            let want: Vec<Event> = messages.iter().cloned().map(Event::Message).collect();
            prop_assert_eq!(got, want);
        }
    }
}

#[test]
fn window_bits_of_8_are_served_with_stored_blocks() {
    let params = DeflateParams {
        client_max_window_bits: 8,
        server_max_window_bits: 8,
        ..DeflateParams::default()
    };
    let deflate = DeflateConfig::enabled().threshold(0);
    let mut client = Connection::with_deflate(Role::Client, config(deflate), Some(params));
    let text = "abcabcabc".repeat(100);
    client.send(Message::text(text.clone())).expect("open");
    let wire = client.outbound().take_all();
    assert!(
        wire.len() > text.len(),
        "stored, not compressed: {}",
        wire.len()
    );
    let mut server = Connection::with_deflate(Role::Server, config(deflate), Some(params));
    server.receive(&wire);
    assert_eq!(
        server.next_event(),
        Ok(Some(Event::Message(Message::text(text))))
    );
    let _ = Bytes::new();
}
