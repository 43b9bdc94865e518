//! The driver and its sessions without sockets: time is a [`ManualClock`] moved by hand, bytes
//! are handed over in memory, and a client-side `rustchat_ws::Connection` reads what a
//! WebSocket session sends. Keepalive, the HELLO deadline and flood refills are checked to
//! the millisecond, in no time at all.

use std::sync::Arc;
use std::time::Duration;

use rustchat_ws::{CloseCode, Config, Connection, Event, Role};

use super::*;
use crate::clock::{Clock, ManualClock};
use crate::config::{HistoryMode, ServerConfig};

const MS: Duration = Duration::from_millis(1);
const PEER: std::net::SocketAddr =
    std::net::SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 40000);

fn shared(clock: &Arc<ManualClock>) -> Arc<Shared> {
    let config = ServerConfig {
        history: HistoryMode::Memory,
        ..ServerConfig::default()
    };
    let (shared, _committer) =
        Shared::open_with_clock(config, clock.clone()).expect("the server's state opens");
    shared
}

/// What a WebSocket client makes of everything the session has queued.
fn client_reads(client: &mut Connection, session: &mut Session) -> Vec<Event> {
    client.receive(&session.outbound().take_all());
    std::iter::from_fn(|| client.next_event().expect("valid frames")).collect()
}

#[test]
fn a_quiet_websocket_is_pinged_after_the_interval_and_closed_1011_without_a_pong() {
    let clock = ManualClock::new();
    let shared = shared(&clock);
    let (interval, timeout) = (shared.config.ping_interval, shared.config.pong_timeout);
    let mut session = ws_session(&shared, None, None, b"");
    let mut driver = Driver::open(&shared, &session, PEER);
    driver.act(&mut session);
    let mut client = Connection::new(Role::Client, Config::default());
    assert_eq!(driver.deadline(&session), Some(clock.now() + interval));

    clock.advance(interval - MS);
    driver.tick(&mut session);
    assert!(
        client_reads(&mut client, &mut session).is_empty(),
        "not yet"
    );

    clock.advance(MS);
    driver.tick(&mut session);
    let got = client_reads(&mut client, &mut session);
    assert!(matches!(got[..], [Event::Ping(_)]), "{got:?}");
    assert_eq!(driver.deadline(&session), Some(clock.now() + timeout));

    clock.advance(timeout - MS);
    driver.tick(&mut session);
    assert!(session.is_open(), "the pong has a millisecond left");
    clock.advance(MS);
    driver.tick(&mut session);
    let got = client_reads(&mut client, &mut session);
    let Some(Event::Close(Some(close))) = got.last() else {
        panic!("expected a Close, got {got:?}");
    };
    assert_eq!(close.code, CloseCode::INTERNAL);
    assert!(matches!(session.ending(), Some(Ending::Timeout(_))));
    driver.close(&session);
}

#[test]
fn a_pong_moves_the_next_ping_a_whole_interval_later() {
    let clock = ManualClock::new();
    let shared = shared(&clock);
    let interval = shared.config.ping_interval;
    let mut session = ws_session(&shared, None, None, b"");
    let mut driver = Driver::open(&shared, &session, PEER);
    driver.act(&mut session);
    let mut client = Connection::new(Role::Client, Config::default());
    clock.advance(interval);
    driver.tick(&mut session);
    client_reads(&mut client, &mut session); // the ping; its pong is queued
    clock.advance(Duration::from_millis(1500));
    session.receive(&client.outbound().take_all());
    driver.act(&mut session);
    let Transport::Ws(ws) = session.transport() else {
        unreachable!("a WebSocket session");
    };
    assert_eq!(ws.rtt(), Some(Duration::from_millis(1500)));
    assert_eq!(driver.deadline(&session), Some(clock.now() + interval));
    driver.close(&session);
}

#[test]
fn a_hello_handshake_not_finished_in_time_ends_with_a_bye() {
    let clock = ManualClock::new();
    let shared = shared(&clock);
    let limit = shared.config.handshake_timeout;
    let mut session = line_session(&shared, b"HELLO 41\n");
    let mut driver = Driver::open(&shared, &session, PEER);
    driver.act(&mut session);
    let said = session.outbound().take_all();
    assert_eq!(&said[..], b"HELLO 42\n");
    assert_eq!(driver.deadline(&session), Some(clock.now() + limit));

    clock.advance(limit - MS);
    driver.tick(&mut session);
    assert!(session.is_open());
    clock.advance(MS);
    driver.tick(&mut session);
    let said = String::from_utf8(session.outbound().take_all().to_vec()).expect("text");
    assert_eq!(
        said,
        "BYE timeout: HELLO handshake not finished within 10 s\n"
    );
    assert!(matches!(session.ending(), Some(Ending::Timeout(_))));
    driver.close(&session);
}

/// What the session is sent — through the committer and the outbox, as in the server —
/// until `done` holds of it (or 3 s pass).
fn said_until(
    driver: &mut Driver<'_>,
    session: &mut Session,
    done: impl Fn(&str) -> bool,
) -> String {
    let mut text = String::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while !done(&text) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
        driver.pump(session);
        text.push_str(&String::from_utf8_lossy(&session.outbound().take_all()));
    }
    text
}

#[test]
fn flood_control_queues_past_the_burst_and_serves_at_the_documented_rate() {
    // The defaults (README): 10 a second, bursts of 20, 20 more waiting, 10 s of patience.
    let clock = ManualClock::new();
    let shared = shared(&clock);
    let mut session = line_session(&shared, b"\n");
    let mut driver = Driver::open(&shared, &session, PEER);
    driver.act(&mut session);
    said_until(&mut driver, &mut session, |t| t.contains("*** members of"));
    // A paste of 30 lines: 20 at once, 10 waiting — nothing refused, nobody told.
    let paste: String = (0..30).map(|i| format!("line {i}\n")).collect();
    session.receive(paste.as_bytes());
    driver.act(&mut session);
    let first = said_until(&mut driver, &mut session, |t| t.contains("line 19\n"));
    assert_eq!(first.matches("<guest-1> line ").count(), 20, "{first}");
    assert!(!first.contains("ERROR"), "{first}");
    assert!(session.accepts_input(), "10 waiting: room for 10 more");
    // The next line comes with the next token, 100 ms later — and the driver wakes for it.
    let due = driver
        .deadline(&session)
        .expect("a wake-up for the next token");
    assert!(due > clock.now() && due <= clock.now() + Duration::from_millis(101));
    clock.advance(Duration::from_millis(99));
    driver.tick(&mut session);
    let none = said_until(&mut driver, &mut session, |_| false);
    assert!(none.is_empty(), "99 ms make less than a token: {none}");
    clock.advance(Duration::from_millis(2));
    driver.tick(&mut session);
    let next = said_until(&mut driver, &mut session, |t| t.contains("line 20\n"));
    assert_eq!(next.matches("<guest-1> line ").count(), 1, "{next}");
    clock.advance(Duration::from_secs(1));
    driver.tick(&mut session);
    let rest = said_until(&mut driver, &mut session, |t| t.contains("line 29\n"));
    assert_eq!(rest.matches("<guest-1> line ").count(), 9, "{rest}");
    assert!(rest.trim_end().ends_with("line 29"), "in order: {rest}");
    assert_eq!(driver.deadline(&session), None, "nothing waits");
    let text = shared.metrics_text();
    assert!(text.contains("rustchat_flood_delayed_total 10\n"), "{text}");
    driver.close(&session);
}

#[test]
fn a_full_flood_queue_stops_reading_warns_once_and_disconnects_after_its_patience() {
    let clock = ManualClock::new();
    let shared = shared(&clock);
    let mut session = line_session(&shared, b"\n");
    let mut driver = Driver::open(&shared, &session, PEER);
    driver.act(&mut session);
    said_until(&mut driver, &mut session, |t| t.contains("*** members of"));
    session.receive("spam\n".repeat(60).as_bytes());
    driver.act(&mut session);
    let said = said_until(&mut driver, &mut session, |t| {
        t.contains("ERROR flood control")
    });
    assert_eq!(
        said.matches("ERROR flood control: you are sending faster")
            .count(),
        1,
        "{said}"
    );
    assert!(
        !session.accepts_input(),
        "a full queue: the socket is not read"
    );
    assert!(!driver.wants_input(&mut session));
    // Kept full for 10 s — a line more every 100 ms, as fast as the queue drains: the
    // server asks to close it, after what it is owed.
    for _ in 0..99 {
        clock.advance(Duration::from_millis(100));
        session.receive(b"spam\n");
        driver.tick(&mut session);
    }
    driver.pump(&mut session);
    assert!(session.is_open(), "9.9 s: still patient");
    clock.advance(Duration::from_millis(100));
    driver.tick(&mut session);
    let last = said_until(&mut driver, &mut session, |t| t.contains("ERROR flooding"));
    assert!(
        matches!(session.ending(), Some(Ending::Flood)),
        "{:?}",
        session.ending()
    );
    let goodbye = last.trim_end().lines().last().unwrap_or_default();
    assert!(goodbye.starts_with("ERROR flooding"), "{last}");
    assert_eq!(
        last.matches("ERROR flood control").count(),
        0,
        "told once: {last}"
    );
    driver.close(&session);
}
