//! Server side: parsing any request head, every rule of RFC 6455 §4.2.1, the 101 and refusals.

use super::{limits, parse_http, value};
use crate::handshake::{HandshakeError, HeadLimits, Request, accept_key, http_response};

/// The client handshake of RFC 6455 §1.2.
const RFC_REQUEST: &str = "GET /chat HTTP/1.1\r\n\
    Host: server.example.com\r\n\
    Upgrade: websocket\r\n\
    Connection: Upgrade\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Origin: http://example.com\r\n\
    Sec-WebSocket-Protocol: chat, superchat\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";

/// A request line and header lines → a complete head.
fn head(request_line: &str, headers: &[&str]) -> String {
    let mut head = format!("{request_line}\r\n");
    for header in headers {
        head.push_str(header);
        head.push_str("\r\n");
    }
    head + "\r\n"
}

/// A valid upgrade's headers, with `name` left out (if not empty) and `added` lines added.
fn upgrade_head(request_line: &str, without: &str, added: &[&str]) -> String {
    let base = [
        "Host: chat.example",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
    ];
    let kept = base
        .iter()
        .filter(|h| without.is_empty() || !h.starts_with(without));
    let lines: Vec<&str> = kept.copied().chain(added.iter().copied()).collect();
    head(request_line, &lines)
}

fn parse(bytes: &str) -> Request {
    let (request, used) = Request::parse(bytes.as_bytes(), &limits())
        .unwrap()
        .unwrap();
    assert_eq!(used, bytes.len());
    request
}

#[test]
fn rfc_accept_key_example() {
    // RFC 6455 §1.3.
    assert_eq!(
        accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
}

#[test]
fn rfc_request_parsed_and_accepted() {
    let request = parse(RFC_REQUEST);
    assert_eq!(
        (request.method(), request.path(), request.version()),
        ("GET", "/chat", 1)
    );
    assert_eq!(request.header("host"), Some("server.example.com"));
    assert_eq!(request.headers().len(), 7);
    assert!(request.is_websocket_upgrade());
    let upgrade = request.upgrade().unwrap();
    assert_eq!(upgrade.key(), "dGhlIHNhbXBsZSBub25jZQ==");
    assert_eq!(
        (upgrade.host(), upgrade.path()),
        ("server.example.com", "/chat")
    );
    assert_eq!(upgrade.origin(), Some("http://example.com"));
    assert_eq!(
        upgrade.protocols().collect::<Vec<_>>(),
        ["chat", "superchat"]
    );
    assert_eq!(upgrade.extensions().count(), 0);
    // RFC 6455 §1.2, the server's answer.
    let expected = "HTTP/1.1 101 Switching Protocols\r\n\
        Upgrade: websocket\r\n\
        Connection: Upgrade\r\n\
        Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
        Sec-WebSocket-Protocol: chat\r\n\r\n";
    assert_eq!(upgrade.accept(Some("chat")).unwrap(), expected.as_bytes());
    let without = upgrade.accept(None).unwrap();
    assert!(!String::from_utf8_lossy(&without).contains("Sec-WebSocket-Protocol"));
}

#[test]
fn accept_with_extra_headers_and_misuse() {
    let upgrade = parse(RFC_REQUEST).upgrade().unwrap();
    let extra = [("Sec-WebSocket-Extensions", "permessage-deflate")];
    let bytes = upgrade.accept_with(None, &extra).unwrap();
    let (status, headers, _) = parse_http(&bytes);
    assert_eq!(status, 101);
    assert_eq!(
        value(&headers, "Sec-WebSocket-Extensions"),
        Some("permessage-deflate")
    );

    let err = upgrade.accept(Some("mqtt")).unwrap_err();
    assert!(
        matches!(&err, HandshakeError::ProtocolNotOffered { protocol, .. } if protocol == "mqtt")
    );
    assert!(err.is_misuse() && err.status() == 500);
    assert!(err.to_string().contains("offered only: chat, superchat"));
    let bad = |name, value| upgrade.accept_with(None, &[(name, value)]).unwrap_err();
    assert!(
        bad("X-Evil", "a\r\nSet-Cookie: x")
            .to_string()
            .contains("CR, LF")
    );
    assert!(bad("Bad Name", "v").to_string().contains("HTTP token"));
    assert!(
        bad("sec-websocket-accept", "v")
            .to_string()
            .contains("writes this header itself")
    );
}

#[test]
fn any_http_request_parses() {
    let request = parse(&head("GET /healthz HTTP/1.1", &["Host: x"]));
    assert_eq!(request.path(), "/healthz");
    assert!(!request.is_websocket_upgrade());
    assert_eq!(request.upgrade(), Err(HandshakeError::NoUpgradeHeader));
    // A body is not part of the head: `used` stops at the blank line.
    let post = head("POST /api HTTP/1.0", &["Content-Length: 4"]) + "body";
    let (request, used) = Request::parse(post.as_bytes(), &limits()).unwrap().unwrap();
    assert_eq!(
        (request.method(), request.version(), used),
        ("POST", 0, post.len() - 4)
    );
    // Header values keep their bytes; only UTF-8 ones are given as text.
    let raw = b"GET / HTTP/1.1\r\nX-Raw: caf\xe9\r\n\r\n";
    let (request, _) = Request::parse(raw, &limits()).unwrap().unwrap();
    assert_eq!(request.header("x-raw"), None);
    assert_eq!(request.header_bytes("X-RAW"), Some(&b"caf\xe9"[..]));
}

#[test]
fn token_lists_are_case_insensitive_and_joined() {
    let get = "GET / HTTP/1.1";
    let mixed = ["upgrade: WebSocket", "CONNECTION: keep-alive, Upgrade"];
    let no_upgrade = upgrade_head(get, "Upgrade", &[]);
    let request = parse(&upgrade_head(get, "Connection", &mixed).replace(&no_upgrade, ""));
    assert!(request.upgrade().is_ok());
    // A list may span several fields; empty elements do not count.
    let split = [
        "Connection: keep-alive",
        "Connection: upgrade",
        "Sec-WebSocket-Protocol: a",
    ];
    let split = parse(&upgrade_head(get, "Connection", &split))
        .upgrade()
        .unwrap();
    assert_eq!(split.protocols().collect::<Vec<_>>(), ["a"]);
    let spaced = parse(&upgrade_head(get, "", &["Sec-WebSocket-Protocol: b ,,c"]));
    assert_eq!(
        spaced.upgrade().unwrap().protocols().collect::<Vec<_>>(),
        ["b", "c"]
    );
    // A token must match whole: `Upgrade` is not `upgraded`.
    let near = parse(&upgrade_head(get, "Connection", &["Connection: upgraded"]));
    assert_eq!(near.upgrade(), Err(HandshakeError::NoConnectionUpgrade));
}

/// Upgrades a request whose `without` header is left out and `added` added; checks the error,
/// its status and words its response body must contain.
fn rejects(line: &str, without: &str, added: &str, expected: HandshakeError, says: &str) {
    let added: Vec<&str> = added.split('|').filter(|l| !l.is_empty()).collect();
    let request = upgrade_head(line, without, &added);
    let err = parse(&request).upgrade().unwrap_err();
    assert_eq!(err, expected, "{request}");
    let status = match err {
        HandshakeError::NotGet { .. } => 405,
        HandshakeError::UnsupportedVersion { .. } => 426,
        _ => 400,
    };
    check_response(&err, status, says);
}

#[test]
#[rustfmt::skip] // a table reads best in columns
fn every_rejection_has_its_status_and_says_why() {
    use HandshakeError as E;
    let get = "GET /chat HTTP/1.1";
    let (version, key) = ("Sec-WebSocket-Version", "Sec-WebSocket-Key");
    let invalid_key = |reason: &str| E::InvalidKey { reason: reason.into() };
    let duplicate = |name| E::DuplicateHeader { name };
    rejects("POST /chat HTTP/1.1", "", "", E::NotGet { method: "POST".into() }, "must be a GET");
    rejects("GET /chat HTTP/1.0", "", "", E::BadHttpVersion { minor: 0 }, "must use HTTP/1.1");
    rejects(get, "Host", "", E::MissingHost, "missing Host header");
    rejects(get, "Host", "Host:", E::MissingHost, "missing Host header");
    rejects(get, "", "Host: other", duplicate("Host"), "Host header appears more than once");
    rejects(get, "Upgrade", "", E::NoUpgradeHeader, "missing `Upgrade: websocket` header");
    rejects(get, "Upgrade", "Upgrade: h2c", E::NoUpgradeHeader, "`Upgrade: websocket`");
    rejects(get, "Connection", "", E::NoConnectionUpgrade, "needs `Connection: Upgrade`");
    rejects(get, "Connection", "Connection: close", E::NoConnectionUpgrade, "`Upgrade` token");
    rejects(get, version, "Sec-WebSocket-Version: 8", E::UnsupportedVersion { found: Some("8".into()) },
        "Version 8: this server speaks version 13");
    rejects(get, version, "", E::UnsupportedVersion { found: None },
        "(missing): this server speaks version 13");
    rejects(get, "", "Sec-WebSocket-Version: 13", duplicate(version), "appears more than once");
    rejects(get, key, "", E::MissingKey,
        "missing Sec-WebSocket-Key header: a WebSocket upgrade needs a base64-encoded 16-byte key");
    rejects(get, key, "Sec-WebSocket-Key: not base64!",
        invalid_key("not base64: Invalid symbol 32, offset 3."), "must be a base64-encoded 16-byte");
    rejects(get, key, "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA",
        invalid_key("it decodes to 15 bytes"), "(it decodes to 15 bytes)");
    rejects(get, key, "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAAA=",
        invalid_key("it decodes to 17 bytes"), "(it decodes to 17 bytes)");
    rejects(get, "", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", duplicate(key),
        "Sec-WebSocket-Key header appears more than once");
}

/// `err` answers with `status`, a body containing `says`, and the headers its status needs.
fn check_response(err: &HandshakeError, status: u16, says: &str) {
    assert_eq!(err.status(), status, "{err}");
    assert!(!err.is_misuse());
    let (got, headers, body) = parse_http(&err.response());
    assert_eq!(got, status);
    assert!(body.contains(says), "{body:?} lacks {says:?}");
    assert_eq!(
        value(&headers, "Content-Length"),
        Some(body.len().to_string().as_str())
    );
    assert_eq!(
        value(&headers, "Content-Type"),
        Some("text/plain; charset=utf-8")
    );
    assert!(value(&headers, "Connection").is_some_and(|c| c.ends_with("close")));
    let version = value(&headers, "Sec-WebSocket-Version");
    assert_eq!(version, (status == 426).then_some("13"));
    assert_eq!(value(&headers, "Allow"), (status == 405).then_some("GET"));
}

#[test]
fn forbidden_malformed_and_limit_responses() {
    let forbidden = HandshakeError::Forbidden {
        reason: "origin http://evil.example is not allowed".into(),
    };
    check_response(&forbidden, 403, "forbidden: origin http://evil.example");
    let err = Request::parse(b"GET / HTTP/1.1\r\nHost example\r\n\r\n", &limits()).unwrap_err();
    assert!(matches!(err, HandshakeError::Malformed(_)));
    check_response(&err, 400, "malformed HTTP head");
    let http2 = Request::parse(b"GET / HTTP/2.0\r\n\r\n", &limits()).unwrap_err();
    assert!(matches!(http2, HandshakeError::Malformed(_)));
    check_response(
        &HandshakeError::HeadTooLarge { limit: 8192 },
        431,
        "within 8192 bytes",
    );
    check_response(
        &HandshakeError::TooManyHeaders { limit: 64 },
        431,
        "at most 64",
    );
}

#[test]
fn head_byte_limit_at_and_past_the_boundary() {
    let request = upgrade_head("GET / HTTP/1.1", "", &["X-Pad: padding"]);
    let exact = HeadLimits {
        max_head_bytes: request.len(),
        ..limits()
    };
    assert!(
        Request::parse(request.as_bytes(), &exact)
            .unwrap()
            .is_some()
    );
    // Bytes after the head do not count.
    let more = request.clone() + "frames";
    assert_eq!(
        Request::parse(more.as_bytes(), &exact).unwrap().unwrap().1,
        request.len()
    );
    let short = HeadLimits {
        max_head_bytes: request.len() - 1,
        ..limits()
    };
    let too_large = Err(HandshakeError::HeadTooLarge {
        limit: request.len() - 1,
    });
    assert_eq!(Request::parse(request.as_bytes(), &short), too_large);
    // Incomplete and already at the limit: it can only end past it, so refuse now.
    let cut = &request.as_bytes()[..request.len() - 1];
    assert_eq!(Request::parse(cut, &short), too_large);
    assert_eq!(Request::parse(&cut[..cut.len() - 1], &short), Ok(None));
    // Far over the limit and never ending.
    let endless = "GET / HTTP/1.1\r\nX: ".to_owned() + &"a".repeat(100_000);
    let err = Request::parse(endless.as_bytes(), &limits()).unwrap_err();
    assert_eq!(err, HandshakeError::HeadTooLarge { limit: 8192 });
}

#[test]
fn header_count_limit_at_and_past_the_boundary() {
    let request = upgrade_head("GET / HTTP/1.1", "", &[]);
    let exact = HeadLimits {
        max_headers: 5,
        ..limits()
    };
    assert!(
        Request::parse(request.as_bytes(), &exact)
            .unwrap()
            .is_some()
    );
    let fewer = HeadLimits {
        max_headers: 4,
        ..limits()
    };
    let too_many = Err(HandshakeError::TooManyHeaders { limit: 4 });
    assert_eq!(Request::parse(request.as_bytes(), &fewer), too_many);
    // Still incomplete, but the fifth header line is complete: refuse now.
    let cut = request.len() - 2;
    assert_eq!(Request::parse(&request.as_bytes()[..cut], &fewer), too_many);
    assert_eq!(
        Request::parse(&request.as_bytes()[..cut - 1], &exact),
        Ok(None)
    );
    let many: Vec<String> = (0..65).map(|i| format!("X-{i}: v")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let err = Request::parse(head("GET / HTTP/1.1", &many).as_bytes(), &limits()).unwrap_err();
    assert_eq!(err, HandshakeError::TooManyHeaders { limit: 64 });
}

#[test]
fn every_prefix_is_incomplete() {
    for cut in 0..RFC_REQUEST.len() {
        let prefix = &RFC_REQUEST.as_bytes()[..cut];
        assert_eq!(Request::parse(prefix, &limits()), Ok(None), "cut at {cut}");
    }
}

#[test]
fn http_response_renders_and_cannot_be_split() {
    let bytes = http_response(200, "OK", &[("Cache-Control", "no-store")], b"ok\n");
    let expected = "HTTP/1.1 200 OK\r\nCache-Control: no-store\r\n\
        Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\
        Content-Length: 3\r\n\r\nok\n";
    assert_eq!(bytes, expected.as_bytes());
    let given = [("Content-Type", "text/html"), ("Connection", "keep-alive")];
    let (_, headers, _) = parse_http(&http_response(200, "OK", &given, b""));
    assert_eq!(value(&headers, "Content-Type"), Some("text/html"));
    assert_eq!(value(&headers, "Connection"), Some("keep-alive"));
    let evil = [
        ("X-A", "1\r\nSet-Cookie: s=1"),
        ("Bad Name", "x"),
        ("Content-Length", "99"),
    ];
    let (status, headers, body) = parse_http(&http_response(404, "Not\r\nFound", &evil, b"nope"));
    assert_eq!((status, body.as_str()), (404, "nope"));
    assert_eq!(value(&headers, "X-A"), Some("1  Set-Cookie: s=1"));
    assert_eq!(value(&headers, "Content-Length"), Some("4"));
    assert!(value(&headers, "Set-Cookie").is_none() && value(&headers, "Bad Name").is_none());
}
