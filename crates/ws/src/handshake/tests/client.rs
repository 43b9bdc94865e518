//! Client side: the request bytes, every check of RFC 6455 §4.1 on the response, misuse.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::handshake::{ClientHandshake, HandshakeError, HeadLimits};

/// RFC 6455 §1.3's nonce, "the sample nonce", makes the key of the RFC's examples.
fn rfc_client(protocols: &[&str]) -> ClientHandshake {
    let builder = ClientHandshake::builder("ws://server.example.com/chat");
    let builder = builder
        .protocols(protocols.iter().copied())
        .nonce(*b"the sample nonce");
    builder.build().unwrap()
}

/// A 101 answer to the RFC key, with `lines` added.
fn answer(lines: &[&str]) -> String {
    let mut head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
        .to_owned();
    for line in lines {
        head.push_str(line);
        head.push_str("\r\n");
    }
    head + "\r\n"
}

#[test]
fn request_bytes_follow_the_rfc() {
    let client = ClientHandshake::builder("ws://server.example.com/chat")
        .protocols(["chat", "superchat"])
        .header("Origin", "http://example.com")
        .nonce(*b"the sample nonce")
        .build()
        .unwrap();
    let expected = "GET /chat HTTP/1.1\r\n\
        Host: server.example.com\r\n\
        Upgrade: websocket\r\n\
        Connection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\n\
        Sec-WebSocket-Protocol: chat, superchat\r\n\
        Origin: http://example.com\r\n\r\n";
    assert_eq!(client.request(), expected.as_bytes());
    let client = ClientHandshake::new("wss://[::1]:9443?room=rust").unwrap();
    let request = String::from_utf8_lossy(&client.request()).into_owned();
    assert!(request.starts_with("GET /?room=rust HTTP/1.1\r\nHost: [::1]:9443\r\n"));
    assert!(!request.contains("Sec-WebSocket-Protocol"));
    let at = (
        client.host(),
        client.port(),
        client.is_secure(),
        client.path(),
    );
    assert_eq!(at, ("::1", 9443, true, "/?room=rust"));
}

#[test]
fn keys_are_random_and_16_bytes() {
    let keys: Vec<String> = (0..8)
        .map(|_| ClientHandshake::new("ws://h/").unwrap().key().to_owned())
        .collect();
    for (i, key) in keys.iter().enumerate() {
        assert_eq!(BASE64.decode(key).unwrap().len(), 16);
        assert!(!keys[..i].contains(key), "key {key} drawn twice");
    }
}

#[test]
fn accepts_the_rfc_answer() {
    let client = rfc_client(&["chat", "superchat"]);
    let bytes = answer(&["Sec-WebSocket-Protocol: chat"]) + "\x01\x02hi";
    let (response, used) = client.parse_response(bytes.as_bytes()).unwrap().unwrap();
    assert_eq!((response.protocol(), used), (Some("chat"), bytes.len() - 4));
    assert_eq!(response.header("upgrade"), Some("websocket"));
    // Case and token lists are fine; no protocol chosen is fine too.
    let relaxed = answer(&[]).replace("Upgrade: websocket", "UPGRADE: WebSocket");
    let relaxed = relaxed.replace("Connection: Upgrade", "connection: keep-alive, upgrade");
    let (response, _) = client.parse_response(relaxed.as_bytes()).unwrap().unwrap();
    assert_eq!(response.protocol(), None);
}

#[test]
fn every_prefix_is_incomplete() {
    let client = rfc_client(&["chat"]);
    let bytes = answer(&["Sec-WebSocket-Protocol: chat"]);
    for cut in 0..bytes.len() {
        let parsed = client.parse_response(&bytes.as_bytes()[..cut]);
        assert_eq!(parsed, Ok(None), "cut at {cut}");
    }
}

#[test]
fn refusals_keep_status_reason_and_body() {
    let client = rfc_client(&[]);
    let refusal = "HTTP/1.1 403 Forbidden\r\nContent-Length: 26\r\n\r\n\
        forbidden: unknown origin\nnext response";
    let err = client.parse_response(refusal.as_bytes()).unwrap_err();
    let body = "forbidden: unknown origin".to_owned();
    let expected = HandshakeError::UnexpectedStatus {
        status: 403,
        reason: "Forbidden".into(),
        body,
    };
    assert_eq!(err, expected);
    assert_eq!(
        err.to_string(),
        "the server answered 403 Forbidden instead of 101 Switching Protocols: \
         forbidden: unknown origin"
    );
    // A 200 from a plain web server, body not arrived yet.
    let err = client
        .parse_response(b"HTTP/1.1 200 OK\r\n\r\n")
        .unwrap_err();
    assert!(
        matches!(err, HandshakeError::UnexpectedStatus { status: 200, ref body, .. } if body.is_empty())
    );
    assert_eq!(err.status(), 502);
    // A huge body is cut, and marked so.
    let big = format!("HTTP/1.1 500 Oops\r\n\r\n{}", "x".repeat(5000));
    let Err(HandshakeError::UnexpectedStatus { body, .. }) = client.parse_response(big.as_bytes())
    else {
        panic!("expected UnexpectedStatus");
    };
    assert_eq!(body, format!("{}…", "x".repeat(200)));
}

#[test]
fn a_refusal_shows_one_line_of_text_and_nothing_of_a_page() {
    let client = rfc_client(&[]);
    let said = |response: &str| {
        client
            .parse_response(response.as_bytes())
            .unwrap_err()
            .to_string()
    };
    // A web server's page (a client pointed at the wrong path): one line, no HTML.
    let page = "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
                <!doctype html>\n<html>\n<head><title>chat</title></head>\n</html>\n";
    assert_eq!(
        said(page),
        "the server answered 200 OK instead of 101 Switching Protocols"
    );
    let untyped = "HTTP/1.1 404 Not Found\r\n\r\n  <html><body>gone</body></html>";
    assert!(!said(untyped).contains('<'), "{}", said(untyped));
    // A text answer: its first line, control characters escaped.
    let text = "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n\r\n\
                no WebSocket at /chat: it is at /ws\u{1b}[2J\nsecond line\n";
    assert_eq!(
        said(text),
        "the server answered 404 Not Found instead of 101 Switching Protocols: \
         no WebSocket at /chat: it is at /ws\\u{1b}[2J"
    );
}

#[test]
fn every_rule_of_rfc_6455_4_1() {
    let client = rfc_client(&["chat"]);
    let bad_accept = |found: Option<&str>| HandshakeError::BadAccept {
        expected: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".into(),
        found: found.map(String::from),
    };
    let cases: Vec<(String, HandshakeError)> = vec![
        (
            answer(&[]).replace("Upgrade: websocket\r\n", ""),
            HandshakeError::NoUpgradeHeader,
        ),
        (
            answer(&[]).replace("Upgrade: websocket", "Upgrade: websocket, h2c"),
            HandshakeError::NoUpgradeHeader,
        ),
        (
            answer(&[]).replace("Connection: Upgrade\r\n", ""),
            HandshakeError::NoConnectionUpgrade,
        ),
        (
            answer(&[]).replace("Connection: Upgrade", "Connection: close"),
            HandshakeError::NoConnectionUpgrade,
        ),
        (
            answer(&[]).replace("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "AAAA"),
            bad_accept(Some("AAAA")),
        ),
        (
            answer(&[]).replace("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n", ""),
            bad_accept(None),
        ),
        (
            answer(&["Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="]),
            HandshakeError::DuplicateHeader {
                name: "Sec-WebSocket-Accept",
            },
        ),
        (
            answer(&["Sec-WebSocket-Protocol: superchat"]),
            HandshakeError::UnofferedProtocol {
                protocol: "superchat".into(),
                offered: "chat".into(),
            },
        ),
        (
            answer(&[
                "Sec-WebSocket-Protocol: chat",
                "Sec-WebSocket-Protocol: chat",
            ]),
            HandshakeError::DuplicateHeader {
                name: "Sec-WebSocket-Protocol",
            },
        ),
        (
            answer(&["Sec-WebSocket-Extensions: permessage-deflate"]),
            HandshakeError::UnrequestedExtension {
                extensions: "permessage-deflate".into(),
            },
        ),
        (
            answer(&[]).replace("HTTP/1.1", "HTTP/1.0"),
            HandshakeError::BadHttpVersion { minor: 0 },
        ),
    ];
    for (response, expected) in cases {
        assert_eq!(
            client.parse_response(response.as_bytes()),
            Err(expected),
            "{response}"
        );
    }
    // Nothing offered: any protocol is unoffered.
    let err = rfc_client(&[]).parse_response(answer(&["Sec-WebSocket-Protocol: chat"]).as_bytes());
    assert!(
        err.unwrap_err()
            .to_string()
            .contains("`chat`, which we did not offer")
    );
}

#[test]
fn response_limits() {
    let client = ClientHandshake::builder("ws://h/")
        .limits(HeadLimits {
            max_head_bytes: 64,
            max_headers: 3,
        })
        .build()
        .unwrap();
    let long = format!("HTTP/1.1 101 Switching Protocols\r\nX: {}", "y".repeat(60));
    assert_eq!(
        client.parse_response(long.as_bytes()),
        Err(HandshakeError::HeadTooLarge { limit: 64 })
    );
    let many = "HTTP/1.1 101 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n";
    let err = client.parse_response(many.as_bytes());
    assert_eq!(err, Err(HandshakeError::TooManyHeaders { limit: 3 }));
    let garbage = client.parse_response(b"SSH-2.0-OpenSSH\r\n\r\n");
    assert!(matches!(garbage, Err(HandshakeError::Malformed(_))));
}

#[test]
fn misuse_is_reported_at_build() {
    let build = |b: crate::handshake::ClientBuilder| b.build().unwrap_err();
    let url = build(ClientHandshake::builder("http://h/"));
    assert!(matches!(url, HandshakeError::InvalidUrl { .. }) && url.is_misuse());
    let errors = [
        build(ClientHandshake::builder("ws://h/").protocols(["a b"])),
        build(ClientHandshake::builder("ws://h/").protocols(["chat", "chat"])),
        build(ClientHandshake::builder("ws://h/").protocols([""])),
        build(ClientHandshake::builder("ws://h/").header("Host", "other")),
        build(ClientHandshake::builder("ws://h/").header("sec-websocket-extensions", "x")),
        build(ClientHandshake::builder("ws://h/").header("X-A", "1\r\n\r\nGET /")),
        build(ClientHandshake::builder("ws://h/").header("", "v")),
        // Found by fuzzing: any control character would make our own server refuse the head.
        build(ClientHandshake::builder("ws://h/").header("r", ":///\x15/w")),
    ];
    let said: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert!(errors.iter().all(HandshakeError::is_misuse), "{said:?}");
    assert!(said[0].contains("without separators") && said[1].contains("offered twice"));
    assert!(said[3].contains("writes this header itself") && said[5].contains("CR, LF"));
    assert!(said[7].contains("control characters"), "{said:?}");
}
