//! The driver and its sessions without sockets: time is a [`ManualClock`] moved by hand, bytes
//! are handed over in memory, and a client-side `rustchat_ws::Connection` reads what a
//! WebSocket session sends. Keepalive, the HELLO deadline and flood refills are checked to
//! the millisecond, in no time at all.

use std::sync::Arc;
use std::time::Duration;

use rustchat_proto::ServerEvent;
use rustchat_ws::{CloseCode, Config, Connection, Event, Role};

use super::*;
use crate::clock::{Clock, ManualClock};
use crate::config::{HistoryMode, ServerConfig};
use crate::session::FLOOD_WARNING;
use crate::session::action::Action;

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
    let mut session = ws_session(&shared, None, b"");
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
    let mut session = ws_session(&shared, None, b"");
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

#[test]
fn flood_control_refills_at_the_documented_rate() {
    // The defaults (README): 10 a second, bursts of 20.
    let clock = ManualClock::new();
    let shared = shared(&clock);
    let mut session = line_session(&shared, b"\n");
    let next = |session: &mut Session| session.next_action(clock.now());
    assert_eq!(next(&mut session), Some(Action::Register));
    session.receive("hello\n".repeat(21).as_bytes());
    for i in 0..20 {
        assert!(
            matches!(next(&mut session), Some(Action::Command(_))),
            "line {i} is inside the burst"
        );
    }
    let warned = |action: Option<Action>| matches!(action, Some(Action::Reply(ServerEvent::Error { message, .. })) if message == FLOOD_WARNING);
    assert!(warned(next(&mut session)), "the 21st is over it");

    session.receive(b"one\ntwo\n");
    clock.advance(Duration::from_millis(99));
    assert!(warned(next(&mut session)), "99 ms make less than a token");
    clock.advance(MS);
    assert!(
        matches!(next(&mut session), Some(Action::Command(_))),
        "100 ms make one token"
    );
    clock.advance(Duration::from_secs(60));
    session.receive("again\n".repeat(21).as_bytes());
    let allowed = std::iter::from_fn(|| session.next_action(clock.now()))
        .filter(|a| matches!(a, Action::Command(_)))
        .count();
    assert_eq!(
        allowed, 20,
        "a minute refills the bucket to the burst, not past it"
    );
}
