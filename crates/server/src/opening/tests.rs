//! Every way a connection can open, without a socket: bytes in, steps out, time by hand.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::admission::Refusal;
use crate::clock::{Clock, ManualClock};
use crate::config::{HistoryMode, ServerConfig};

const LOOPBACK: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 40000);

fn shared(clock: &Arc<ManualClock>) -> Arc<Shared> {
    let config = ServerConfig {
        history: HistoryMode::Memory,
        allowed_origins: vec!["https://friend.example".into()],
        ..ServerConfig::default()
    };
    let (shared, _committer) =
        Shared::open_with_clock(config, clock.clone()).expect("the server's state opens");
    shared
}

/// The answer's text (an HTTP response or an `ERROR` line).
fn answer(step: Step) -> String {
    match step {
        Step::Answer(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        other => panic!("expected an answer, got {other:?}"),
    }
}

/// Opens a connection that sends `bytes` at once.
fn open_with(bytes: &[u8]) -> (Arc<ManualClock>, Arc<Shared>, Step) {
    let clock = ManualClock::new();
    let shared = shared(&clock);
    let mut opening = Opening::new(&shared, clock.now(), LOOPBACK);
    let step = opening.read(&shared, bytes, clock.now());
    (clock, shared, step)
}

fn get(path: &str, extra: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: chat.example\r\n{extra}\r\n").into_bytes()
}

const UPGRADE: &str = "Upgrade: websocket\r\nConnection: Upgrade\r\n\
                       Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";

#[test]
fn a_silent_client_is_greeted_as_a_line_client_when_the_wait_ends() {
    let clock = ManualClock::new();
    let shared = shared(&clock);
    let mut opening = Opening::new(&shared, clock.now(), LOOPBACK);
    let deadline = opening.deadline();
    assert_eq!(deadline, clock.now() + shared.config.detect_timeout);
    clock.advance(shared.config.detect_timeout - Duration::from_millis(1));
    assert!(
        matches!(opening.timeout(&shared, clock.now()), Step::Read { deadline: d } if d == deadline),
        "woken early: keep waiting for the same deadline"
    );
    clock.advance(Duration::from_millis(1));
    let Step::Session {
        preface,
        mut session,
        ..
    } = opening.timeout(&shared, clock.now())
    else {
        panic!("expected a line session");
    };
    assert!(preface.is_empty());
    let greeting = session.outbound().take_all();
    assert!(
        greeting.starts_with(b"*** rustchat: press Enter"),
        "{greeting:?}"
    );
}

#[test]
fn a_line_client_that_speaks_first_is_not_greeted() {
    let (_clock, _shared, step) = open_with(b"hello\n");
    let Step::Session { mut session, .. } = step else {
        panic!("{step:?}")
    };
    assert!(session.outbound().is_empty());
    assert_eq!(
        session.next_action(Instant::now()),
        Some(crate::session::action::Action::Register)
    );
}

#[test]
fn half_a_method_waits_for_more() {
    let clock = ManualClock::new();
    let shared = shared(&clock);
    let mut opening = Opening::new(&shared, clock.now(), LOOPBACK);
    assert!(matches!(
        opening.read(&shared, b"GE", clock.now()),
        Step::Read { .. }
    ));
    let page = answer(opening.read(&shared, &get("/", "")[2..], clock.now()));
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page:.40}");
    assert!(page.contains("<html"), "the chat page");
}

#[test]
fn every_route_and_refusal() {
    let cases: [(&[u8], &str); 7] = [
        (&get("/healthz", ""), "HTTP/1.1 200 OK"),
        (&get("/chat", UPGRADE), "HTTP/1.1 404 Not Found"),
        (&get("/metrics", ""), "HTTP/1.1 200 OK"),
        (&get("/nope", ""), "HTTP/1.1 404 Not Found"),
        (
            b"POST / HTTP/1.1\r\nHost: x\r\n\r\n",
            "HTTP/1.1 405 Method Not Allowed",
        ),
        (&get("/ws", ""), "HTTP/1.1 400 "),
        (
            &get("/ws", &format!("{UPGRADE}Origin: https://evil.example\r\n")),
            "HTTP/1.1 403 Forbidden",
        ),
    ];
    for (request, status) in cases {
        let (_clock, _shared, step) = open_with(request);
        let text = answer(step);
        assert!(
            text.starts_with(status),
            "{:?} got {text:.60}",
            String::from_utf8_lossy(request)
        );
    }
    let (_clock, shared, step) = open_with(&get("/metrics", ""));
    assert!(answer(step).contains("rustchat_connections_total"));
    assert!(
        shared
            .metrics_text()
            .contains("rustchat_http_requests_total 1")
    );
}

#[test]
fn a_head_over_the_limit_gets_431_and_a_slow_head_408() {
    let big = get("/", &format!("X-Big: {}\r\n", "b".repeat(9 * 1024)));
    let (_clock, _shared, step) = open_with(&big);
    assert!(answer(step).starts_with("HTTP/1.1 431 "));

    let (clock, shared, step) = open_with(b"GET / HTTP/1.1\r\nHost: slow\r\n");
    let Step::Read { deadline } = step else {
        panic!("{step:?}")
    };
    assert_eq!(deadline, clock.now() + shared.config.handshake_timeout);
    let mut opening = Opening::new(&shared, clock.now(), LOOPBACK);
    opening.read(&shared, b"GET / HTTP/1.1\r\n", clock.now());
    clock.advance(shared.config.handshake_timeout);
    let text = answer(opening.timeout(&shared, clock.now()));
    assert!(text.starts_with("HTTP/1.1 408 Request Timeout"), "{text}");
    assert!(text.contains("within 10 s"), "{text}");
}

#[test]
fn an_upgrade_starts_a_websocket_session_with_what_came_after_the_head() {
    let mut request = get("/ws", UPGRADE);
    // A text frame "/who" right behind the head, masked with key 0.
    request.extend_from_slice(&[0x81, 0x84, 0, 0, 0, 0]);
    request.extend_from_slice(b"/who");
    let (_clock, _shared, step) = open_with(&request);
    let Step::Session {
        preface,
        mut session,
        ..
    } = step
    else {
        panic!("{step:?}")
    };
    let head = String::from_utf8_lossy(&preface);
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert!(head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{head}");
    let now = Instant::now();
    assert_eq!(
        session.next_action(now),
        Some(crate::session::action::Action::Register)
    );
    assert!(
        matches!(
            session.next_action(now),
            Some(crate::session::action::Action::Command(
                rustchat_proto::Command::Who(_)
            ))
        ),
        "the frame that came with the head is not lost"
    );
}

#[test]
fn a_client_that_hangs_up_is_gone() {
    let clock = ManualClock::new();
    let shared = shared(&clock);
    let mut opening = Opening::new(&shared, clock.now(), LOOPBACK);
    opening.read(&shared, b"GET / HT", clock.now());
    assert!(matches!(opening.eof(&shared), Step::Gone));
}

const FULL: Refusal = Refusal::Full { limit: 10_000 };

#[test]
fn a_client_over_the_limit_is_refused_in_its_own_protocol() {
    let clock = ManualClock::new();
    let shared = shared(&clock);
    let mut opening = Opening::refusing(clock.now(), FULL);
    assert_eq!(opening.deadline(), clock.now() + REFUSAL_WAIT);
    let text = answer(opening.read(&shared, &get("/", ""), clock.now()));
    assert!(text.starts_with("HTTP/1.1 503 "), "{text}");
    assert!(text.contains("Retry-After: 5"), "{text}");

    let mut opening = Opening::refusing(clock.now(), FULL);
    let text = answer(opening.read(&shared, b"hi all\n", clock.now()));
    assert_eq!(
        text,
        "ERROR server full: 10000 connections already open — try again later\n"
    );

    let mut opening = Opening::refusing(clock.now(), FULL);
    clock.advance(REFUSAL_WAIT);
    let text = answer(opening.timeout(&shared, clock.now()));
    assert!(
        text.starts_with("ERROR server full"),
        "a silent client is a person at a terminal: {text}"
    );

    // Over a limit of its address: 429, and what to do about it.
    let mut opening = Opening::refusing(clock.now(), Refusal::AddressRate { per_second: 10.0 });
    let text = answer(opening.read(&shared, &get("/ws", UPGRADE), clock.now()));
    assert!(
        text.starts_with("HTTP/1.1 429 Too Many Requests\r\n"),
        "{text}"
    );
    assert!(text.contains("Retry-After: 1\r\n"), "{text}");
    assert!(text.ends_with("connecting too fast from your address: at most 10 new connections a second — wait a moment and try again\n"), "{text}");
    let mut opening = Opening::refusing(clock.now(), Refusal::AddressFull { limit: 3 });
    let text = answer(opening.read(&shared, b"\n", clock.now()));
    assert_eq!(
        text,
        "ERROR too many connections from your address: 3 open, at most 3 — close one before \
         opening another\n"
    );
}

#[test]
fn an_upgrade_without_the_path_is_the_chat_too_and_elsewhere_a_404_names_ws() {
    // `ws://host:8080`: the client asks for `/`; it gets the WebSocket, not the page.
    let (_clock, _shared, step) = open_with(&get("/", UPGRADE));
    let Step::Session { preface, .. } = step else {
        panic!("{step:?}")
    };
    assert!(String::from_utf8_lossy(&preface).starts_with("HTTP/1.1 101 "));
    // A plain GET of `/` is still the page.
    let (_clock, _shared, step) = open_with(&get("/", ""));
    assert!(answer(step).contains("<html"));
    let (_clock, _shared, step) = open_with(&get("/chat?room=x", UPGRADE));
    let text = answer(step);
    assert!(text.starts_with("HTTP/1.1 404 Not Found"), "{text}");
    assert!(
        text.ends_with(
            "no WebSocket at /chat: the chat's WebSocket is at /ws (ws://HOST:PORT/ws)\n"
        ),
        "{text}"
    );
}
