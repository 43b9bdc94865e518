//! Both peers in memory, byte by byte, and random input against both parsers.

use proptest::prelude::*;

use super::limits;
use crate::handshake::{ClientHandshake, HandshakeError, Request};

/// Runs a whole handshake, feeding each side its peer's bytes one at a time.
fn round_trip(url: &str, offered: &[&str], chosen: Option<&str>) -> Option<String> {
    let client = ClientHandshake::builder(url)
        .protocols(offered.iter().copied())
        .header("Origin", "http://chat.example")
        .build()
        .unwrap();
    let request = client.request();
    let mut server_buf = Vec::new();
    let mut parsed = None;
    for byte in request.iter() {
        server_buf.push(*byte);
        parsed = Request::parse(&server_buf, &limits()).unwrap();
        assert!(parsed.is_none() || server_buf.len() == request.len());
    }
    let (request, used) = parsed.unwrap();
    assert_eq!((used, request.path()), (server_buf.len(), client.path()));
    let upgrade = request.upgrade().unwrap();
    assert_eq!(upgrade.key(), client.key());
    assert_eq!(upgrade.origin(), Some("http://chat.example"));
    let response = upgrade.accept(chosen).unwrap();
    let mut client_buf = Vec::new();
    for byte in response.iter() {
        client_buf.push(*byte);
        if let Some((response, used)) = client.parse_response(&client_buf).unwrap() {
            assert_eq!(used, client_buf.len());
            assert_eq!(used, response_len(&client_buf));
            return response.protocol().map(String::from);
        }
    }
    panic!("the client never completed the handshake");
}

fn response_len(bytes: &[u8]) -> usize {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(0, |at| at + 4)
}

#[test]
fn client_and_server_agree() {
    assert_eq!(round_trip("ws://127.0.0.1:8080/chat", &[], None), None);
    let offered = ["rustchat.v2", "rustchat.v1"];
    let chosen = round_trip(
        "wss://chat.example/ws?room=rust",
        &offered,
        Some("rustchat.v1"),
    );
    assert_eq!(chosen.as_deref(), Some("rustchat.v1"));
    assert_eq!(round_trip("ws://[::1]:9000", &offered, None), None);
}

#[test]
fn server_refusal_reaches_the_client_readably() {
    let client = ClientHandshake::new("ws://chat.example/").unwrap();
    let (request, _) = Request::parse(&client.request(), &limits())
        .unwrap()
        .unwrap();
    let upgrade = request.upgrade().unwrap();
    let origin = upgrade.origin().unwrap_or("(none)");
    let refusal = HandshakeError::Forbidden {
        reason: format!("origin {origin} is not allowed"),
    };
    let err = client.parse_response(&refusal.response()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the server answered 403 Forbidden instead of 101 Switching Protocols: \
         forbidden: origin (none) is not allowed"
    );
}

/// A valid request to mutate.
fn valid_request() -> Vec<u8> {
    let client = ClientHandshake::builder("ws://h/")
        .protocols(["p"])
        .build()
        .unwrap();
    client.request().to_vec()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parsers_never_panic_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(Some((request, used))) = Request::parse(&bytes, &limits()) {
            prop_assert!(used <= bytes.len());
            let _ = request.upgrade().map(|u| u.accept(None));
        }
        let client = ClientHandshake::new("ws://h/").unwrap();
        if let Ok(Some((_, used))) = client.parse_response(&bytes) {
            prop_assert!(used <= bytes.len());
        }
    }

    #[test]
    fn parsers_never_panic_on_mutated_heads(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in any::<usize>(),
    ) {
        let mut bytes = valid_request();
        for (at, byte) in edits {
            let at = at % bytes.len();
            bytes[at] = byte;
        }
        bytes.truncate(cut % (bytes.len() + 1));
        let parsed = Request::parse(&bytes, &limits());
        if let Ok(Some(Ok(upgrade))) = parsed.map(|r| r.map(|(request, _)| request.upgrade())) {
            prop_assert!(upgrade.accept(upgrade.protocols().next()).is_ok());
        }
        let response = String::from_utf8_lossy(&bytes).replacen("GET / ", "HTTP/1.1 101 ", 1);
        let client = ClientHandshake::new("ws://h/").unwrap();
        let _ = client.parse_response(response.as_bytes());
    }

    #[test]
    fn urls_never_panic(url in "(ws|wss|http)://[\\[\\]a-z0-9:.@/?#%-]{0,30}") {
        if let Ok(client) = ClientHandshake::new(&url) {
            prop_assert!(client.path().starts_with('/'));
            prop_assert!(client.port() != 0);
        }
    }
}
