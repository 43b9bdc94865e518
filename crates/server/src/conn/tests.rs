//! `Conn` as the models drive it, without sockets: each connection writes into a
//! [`MemoryStream`] that takes only as much as the test lets it, time is a [`ManualClock`],
//! and the steps of a model's loop are spelled out in [`Peer::step`]. The hub and the
//! committer are the real ones (the committer is a thread: a test waits for its deliveries
//! with a bounded loop, never for time to pass).
//!
//! What the end-to-end tests can only show over megabytes of loopback buffers and seconds of
//! real time, these show to the byte and the millisecond: when a connection stops taking
//! events, when its outbox overflows, what a slow consumer and everyone else then see, and
//! how every kind of connection says goodbye when the server stops.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rustchat_ws::{CloseCode, Config, Connection, Event, Message, Role};

use super::Conn;
use crate::clock::ManualClock;
use crate::config::{HistoryMode, ServerConfig};
use crate::conn::driver::{HIGH_WATER, line_session, ws_session};
use crate::fanout::committer::CommitterJoin;
use crate::model::stream::{ByteStream, MemoryStream};
use crate::shared::Shared;

const MS: Duration = Duration::from_millis(1);
const OUTBOX_LIMIT: usize = 8 * 1024;
const GRACE: Duration = Duration::from_secs(2);

fn shared(clock: &Arc<ManualClock>) -> Arc<Shared> {
    shared_and_committer(clock).0
}

fn shared_and_committer(clock: &Arc<ManualClock>) -> (Arc<Shared>, CommitterJoin) {
    let config = ServerConfig {
        history: HistoryMode::Memory,
        flood: None,
        outbox_limit: OUTBOX_LIMIT,
        slow_consumer_grace: GRACE,
        ..ServerConfig::default()
    };
    Shared::open_with_clock(config, clock.clone()).expect("the server's state opens")
}

/// Waits (boundedly) for the committer thread to make `done` true.
fn until(what: &str, mut done: impl FnMut() -> bool) {
    let limit = Instant::now() + Duration::from_secs(5);
    while !done() {
        assert!(Instant::now() < limit, "gave up waiting for {what}");
        std::thread::sleep(MS);
    }
}

/// One connection and the stream it writes to.
struct Peer<'a> {
    conn: Conn<'a>,
    stream: Arc<MemoryStream>,
}

impl<'a> Peer<'a> {
    /// A line client whose first bytes are `first`, whose stream takes `room` bytes.
    fn line(shared: &'a Shared, first: &[u8], room: usize) -> Self {
        Self::new(shared, line_session(shared, first), room)
    }

    /// A WebSocket client just upgraded, whose stream takes `room` bytes.
    fn ws(shared: &'a Shared, room: usize) -> Self {
        Self::new(shared, ws_session(shared, None, None, b""), room)
    }

    fn new(shared: &'a Shared, session: crate::session::Session, room: usize) -> Self {
        let stream = MemoryStream::with_room(room);
        let peer = std::net::SocketAddr::from(([127, 0, 0, 1], 40000));
        let conn = Conn::new(shared, session, stream.clone(), peer);
        let mut peer = Self { conn, stream };
        peer.step();
        peer
    }

    /// One turn of a model's loop: take the outbox's news while the connection wants it (an
    /// overflow or the shutdown even when it does not), then write what the stream takes.
    fn step(&mut self) {
        self.conn.wake();
        while self.conn.outbox_has_news() {
            self.conn.handle_outbox();
        }
        self.stream
            .write_some(self.conn.poll_transmit())
            .expect("a memory stream does not fail");
    }

    fn says(&mut self, line: &str) {
        self.conn.handle_read(format!("{line}\n").as_bytes());
        self.step();
    }

    /// The connection is over: write its last bytes (its stream opened up) and close it.
    fn finish(self) -> Arc<MemoryStream> {
        assert!(self.conn.is_done(), "the connection is still open");
        let mut last = self.conn.close();
        self.stream.open_up(usize::MAX);
        self.stream.write_some(&mut last).expect("written");
        self.stream
    }
}

/// `sender` says message number `*sent` (and counts it); the test waits for the committer to
/// queue it for `to` (or to overflow `to`'s outbox), and `to` takes a turn.
fn relay(sender: &mut Peer<'_>, to: &mut Peer<'_>, sent: &mut usize) {
    let outbox = to.conn.outbox().clone();
    let before = outbox.queued_bytes();
    sender.says(&text(*sent));
    *sent += 1;
    until("the message in the receiver's outbox", || {
        outbox.queued_bytes() > before || outbox.is_overflowed()
    });
    to.step();
}

fn text(i: usize) -> String {
    format!("m{i:04} {}", "x".repeat(1000))
}

/// The message numbers in a line client's output, in the order they came.
fn numbers(said: &str) -> Vec<usize> {
    said.lines()
        .filter_map(|line| line.split_once("<sender> m")?.1.get(..4)?.parse().ok())
        .collect()
}

#[test]
fn a_slow_consumer_gets_the_grace_then_is_dropped_and_nobody_misses_a_message() {
    let clock = ManualClock::new();
    let shared = shared(&clock);
    let mut sender = Peer::line(&shared, b"/nick sender\n", usize::MAX);
    // Reads nothing at all: its stream takes no byte, not even the welcome.
    let mut slow = Peer::line(&shared, b"\n", 0);
    let outbox = slow.conn.outbox().clone();

    // While it owes the client less than the high-water mark, the connection takes every
    // event out of its outbox: the outbox never fills, however far behind the client is.
    let mut sent = 0;
    while slow.conn.wants_events() {
        relay(&mut sender, &mut slow, &mut sent);
        assert!(!outbox.is_overflowed());
    }
    let owed = slow.conn.poll_transmit().len();
    assert!(
        (HIGH_WATER..HIGH_WATER + 1100).contains(&owed),
        "stopped taking events owing {owed} bytes ({sent} messages), not at the high-water mark"
    );

    // Past it, events wait in the outbox. Over the limit is allowed for the grace…
    while outbox.queued_bytes() <= OUTBOX_LIMIT {
        relay(&mut sender, &mut slow, &mut sent);
    }
    clock.advance(GRACE - MS);
    relay(&mut sender, &mut slow, &mut sent);
    assert!(!slow.conn.is_done(), "dropped before the grace was over");
    assert!(!outbox.is_overflowed());

    // …and not a millisecond more: the next event overflows it, and the connection hears of
    // it although it takes no events.
    clock.advance(MS);
    assert!(!slow.conn.wants_events());
    relay(&mut sender, &mut slow, &mut sent);
    assert!(outbox.is_overflowed());
    let said = slow.finish().text();
    let last = said.lines().last().unwrap_or_default();
    assert_eq!(
        last,
        "ERROR slow consumer: you read too slowly and fell more than the outbound limit behind"
    );
    // What it had taken, it gets whole and in order, before its goodbye.
    let got = numbers(&said);
    assert_eq!(got, (0..got.len()).collect::<Vec<_>>());
    assert!(got.len() >= HIGH_WATER / 1100, "{} messages", got.len());
    assert!(
        shared
            .metrics_text()
            .contains("rustchat_slow_consumer_disconnects_total 1\n")
    );

    // The sender missed nothing, and saw why the other one left.
    until("the sender's last echo and the departure", || {
        sender.step();
        let said = sender.stream.text();
        numbers(&said).len() == sent && said.contains("left #lobby (slow consumer: ")
    });
    assert_eq!(
        numbers(&sender.stream.text()),
        (0..sent).collect::<Vec<_>>()
    );
}

#[test]
fn a_client_that_falls_behind_for_less_than_the_grace_is_kept() {
    let clock = ManualClock::new();
    let shared = shared(&clock);
    let mut sender = Peer::line(&shared, b"/nick sender\n", usize::MAX);
    let mut reader = Peer::line(&shared, b"\n", 0);
    let outbox = reader.conn.outbox().clone();
    // Three bursts, each taking it past the high-water mark and its outbox past the limit,
    // each read up 1.9 s later: always behind for less than the grace, so never dropped.
    let mut sent = 0;
    for _ in 0..3 {
        while outbox.queued_bytes() <= OUTBOX_LIMIT {
            relay(&mut sender, &mut reader, &mut sent);
        }
        clock.advance(GRACE - Duration::from_millis(100));
        reader.stream.open_up(usize::MAX);
        while outbox.has_news(true) || !reader.conn.poll_transmit().is_empty() {
            reader.step();
        }
        assert!(!reader.conn.is_done(), "dropped within the grace");
        reader.stream.close_window();
        clock.advance(Duration::from_secs(10));
    }
    assert!(!outbox.is_overflowed());
    assert_eq!(
        numbers(&reader.stream.text()),
        (0..sent).collect::<Vec<_>>()
    );
}

#[test]
fn the_shutdown_says_goodbye_to_every_kind_of_connection_after_what_it_was_owed() {
    let clock = ManualClock::new();
    let (shared, committer) = shared_and_committer(&clock);
    let mut line = Peer::line(&shared, b"/nick liner\n", usize::MAX);
    let mut ws = Peer::ws(&shared, usize::MAX);
    let mut hello = Peer::line(&shared, b"HELLO 41\n", usize::MAX);
    let mut behind = Peer::line(&shared, b"/nick behind\n", 0);

    // What was said before the shutdown reaches everyone, before the goodbye. (Committed and
    // delivered to the outboxes first, so that the test does not race the committer.)
    line.says("last words");
    shared.shutdown_history();
    committer.join().expect("the committer finishes");
    shared.registry.shut_down_all();
    for peer in [&mut line, &mut ws, &mut hello, &mut behind] {
        peer.step();
        assert!(peer.conn.is_done(), "still open after the shutdown");
    }

    let said = line.finish().text();
    assert!(said.contains("<liner> last words\n"), "{said}");
    assert!(said.ends_with("BYE server shutting down\n"), "{said}");

    let said = hello.finish().text();
    assert_eq!(said, "HELLO 42\nBYE server shutting down\n");

    // A client that read nothing gets it all once it reads: the words, then the goodbye.
    let said = behind.finish().text();
    assert!(said.contains("<liner> last words\n"), "{said}");
    assert!(said.ends_with("BYE server shutting down\n"), "{said}");

    let mut client = Connection::new(Role::Client, Config::default());
    client.receive(&ws.finish().got());
    let events: Vec<Event> =
        std::iter::from_fn(|| client.next_event().expect("valid frames")).collect();
    assert!(
        events.iter().any(
            |e| matches!(e, Event::Message(Message::Text(t)) if t.as_str().contains("last words"))
        ),
        "{events:?}"
    );
    let Some(Event::Close(Some(close))) = events.last() else {
        panic!("expected a close last, got {events:?}");
    };
    assert_eq!(close.code, CloseCode::GOING_AWAY);
    assert_eq!(close.reason, "server shutting down");
}
