//! End to end: a client that stops reading is disconnected as a slow consumer, and nobody
//! else notices — every other client keeps receiving every message, in order.
//!
//! Loopback sockets buffer a lot (the server's send buffer grows to a few MiB even when the
//! receiver's window is tiny), so a stuck client only backs up into the server after several
//! MiB: the tests send 4 KiB messages, a batch at a time, each batch confirmed to its sender
//! before the next (so a client that does read never has more than a batch queued).

#[macro_use]
mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{
    LineClient, TIMEOUT, WsClient, eventually, metric, metrics_over_http, serve, small_window,
    untimed,
};
use rustchat_proto::ServerEvent;
use rustchat_server::config::{HistoryMode, Model, ServerConfig};

/// Messages sent to back a stuck client up: 1300 × 4 KiB ≈ 5 MiB, well past what the kernel
/// buffers (≈ 3 MiB here) plus the session's high-water mark and the outbox can hold.
const MESSAGES: usize = 1300;
/// Messages per write: 12 × ~4 KiB is a fifth of the 256 KiB outbox limit, so a reader that
/// keeps up is never mistaken for a slow one (a single burst of fan-out bigger than the outbox
/// overflows even a reader that keeps up, and a reader's task starved of CPU for a few batches
/// would be dropped too).
const BATCH: usize = 12;

fn small_outbox(c: &mut ServerConfig) {
    c.outbox_limit = 256 * 1024;
    c.flood = None;
    c.history = HistoryMode::Memory;
}

fn text(i: usize) -> String {
    format!("m{i:05} {}", "p".repeat(4000))
}

/// The index of a message `text(i)`.
fn index_in(said: &str) -> Option<usize> {
    said.strip_prefix('m')?.get(..5)?.parse().ok()
}

/// A sender whose confirmations are read on a thread, so it can wait for each batch.
struct Sender {
    writer: TcpStream,
    confirmed: mpsc::Receiver<usize>,
    reader: std::thread::JoinHandle<usize>,
    sent: usize,
}

impl Sender {
    fn start(mut client: LineClient) -> Self {
        let writer = client.stream.try_clone().expect("clone");
        let (tx, confirmed) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut count = 0;
            loop {
                let line = client.expect("a confirmation", |l| {
                    untimed(l).starts_with("#lobby <sender> ")
                });
                if line.ends_with("<sender> done") {
                    return count;
                }
                count += 1;
                let _ = tx.send(count);
            }
        });
        Self {
            writer,
            confirmed,
            reader,
            sent: 0,
        }
    }

    /// Sends the next batch and waits until the sender has it all back.
    fn batch(&mut self) {
        let mut batch = String::new();
        for i in self.sent..self.sent + BATCH {
            batch.push_str(&text(i));
            batch.push('\n');
        }
        self.writer
            .write_all(batch.as_bytes())
            .expect("send a batch");
        self.sent += BATCH;
        while self
            .confirmed
            .recv_timeout(TIMEOUT)
            .expect("the sender's confirmations stopped")
            < self.sent
        {}
    }

    /// Sends the end marker; returns how many confirmations the sender got.
    fn finish(mut self) -> (usize, usize) {
        self.writer.write_all(b"done\n").expect("send the end");
        (self.sent, self.reader.join().expect("the sender's reader"))
    }
}

fn a_slow_consumer_is_dropped_and_nobody_else_misses_a_message(model: Model) {
    let (server, _dir) = serve(|c| {
        small_outbox(c);
        c.model = model;
    });
    let addr = server.addr();
    let (mut line_watcher, _) = LineClient::join(addr);
    let (mut json_watcher, _) = WsClient::join_json(addr);
    let mut sender = LineClient::named(addr, "sender");
    let mut slow = small_window(addr, 4096);
    slow.write_all(b"\n").expect("join"); // and never read again (until the end)
    sender.expect_event("-> guest-4 joined #lobby");

    // Everyone but the slow client reads as fast as it can, on its own thread.
    let line_thread = std::thread::spawn(move || {
        let mut got = Vec::new();
        loop {
            let line =
                line_watcher.expect("a message", |l| untimed(l).starts_with("#lobby <sender> "));
            let said = &untimed(&line)["#lobby <sender> ".len()..];
            if said == "done" {
                return (got, line_watcher);
            }
            got.push(index_in(said).expect("an index"));
        }
    });
    let json_thread = std::thread::spawn(move || {
        let (mut got, mut ids) = (Vec::new(), Vec::new());
        loop {
            let (_, event) =
                json_watcher.expect_json("a message", |e| matches!(e, ServerEvent::Message(_)));
            let ServerEvent::Message(m) = event else {
                unreachable!()
            };
            if m.text == "done" {
                return (got, ids);
            }
            got.push(index_in(&m.text).expect("an index"));
            ids.push(m.id);
        }
    });

    let started = Instant::now();
    let mut sender = Sender::start(sender);
    while sender.sent < MESSAGES {
        sender.batch();
        if sender.sent == MESSAGES / 2 {
            // Halfway, with a stuck client on board: a newcomer is served at once.
            let probe_started = Instant::now();
            let (mut probe, _) = LineClient::join(addr);
            probe.sync();
            assert!(
                probe_started.elapsed() < Duration::from_secs(1),
                "a newcomer waited {:?}",
                probe_started.elapsed()
            );
        }
    }
    let (sent, confirmed) = sender.finish();

    let (line_got, mut line_watcher) = line_thread.join().expect("the line watcher");
    let (json_got, ids) = json_thread.join().expect("the JSON watcher");
    let all: Vec<usize> = (0..sent).collect();
    assert_eq!(
        line_got, all,
        "the line watcher missed or reordered messages"
    );
    assert_eq!(
        json_got, all,
        "the JSON watcher missed or reordered messages"
    );
    assert!(
        ids.windows(2).all(|w| w[1] == w[0] + 1),
        "ids are not contiguous"
    );
    assert_eq!(confirmed, sent, "the sender got every confirmation");

    // The slow client reads again: it gets what the kernel buffered, then the end — far less
    // than was sent, because its backlog was dropped, not kept.
    let mut drained = 0usize;
    let mut chunk = vec![0u8; 256 * 1024];
    let deadline = Instant::now() + TIMEOUT;
    loop {
        assert!(
            Instant::now() < deadline,
            "the slow client is still connected"
        );
        match slow.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
    let total = sent * (text(0).len() + "[00:00:00] #lobby <sender> \n".len());
    assert!(
        drained > 0 && drained < total,
        "the slow client read {drained} of {total} bytes"
    );
    line_watcher.saw_or_expect("the slow client leaving", |l| {
        untimed(l).starts_with("<- guest-4 left #lobby (slow consumer: ")
    });
    let text = metrics_over_http(addr);
    assert_eq!(metric(&text, "rustchat_slow_consumer_disconnects_total"), 1);
    eprintln!(
        "{sent} messages ({} KiB) in {:?}; the slow client got {} KiB",
        total / 1024,
        started.elapsed(),
        drained / 1024
    );
}

/// Connects a client that sends `first(addr)` and then never reads, backs it up with
/// [`MESSAGES`] messages, then waits (still not reading) for the server to disconnect it.
fn stuck_client_is_dropped_without_reading(model: Model, first: impl Fn(SocketAddr) -> Vec<u8>) {
    let (server, _dir) = serve(|c| {
        c.model = model;
        small_outbox(c);
        c.model = model;
    });
    let addr = server.addr();
    let mut sender = LineClient::named(addr, "sender");
    let mut slow = small_window(addr, 4096);
    slow.write_all(&first(addr)).expect("join");
    sender.expect_event("-> guest-2 joined #lobby");
    let mut sender = Sender::start(sender);
    while sender.sent < MESSAGES {
        sender.batch();
    }
    // The slow client still has not read a byte; the server must notice by itself.
    eventually("the slow-consumer disconnect", TIMEOUT, || {
        metric(
            &server.metrics_text(),
            "rustchat_slow_consumer_disconnects_total",
        ) == 1
    });
    drop(slow);
    sender.finish();
}

fn a_line_client_that_never_reads_is_disconnected(model: Model) {
    stuck_client_is_dropped_without_reading(model, |_| b"\n".to_vec());
}

fn a_websocket_client_that_never_reads_is_disconnected(model: Model) {
    stuck_client_is_dropped_without_reading(model, |addr| {
        common::upgrade_request(addr, "").into_bytes()
    });
}

// Not `sequential`: every scenario here takes two clients at once, and it serves one at a time.
use common::{async_model, pool, threads};

scenarios!(async_model: a_slow_consumer_is_dropped_and_nobody_else_misses_a_message, a_line_client_that_never_reads_is_disconnected, a_websocket_client_that_never_reads_is_disconnected);
scenarios!(threads: a_slow_consumer_is_dropped_and_nobody_else_misses_a_message, a_line_client_that_never_reads_is_disconnected, a_websocket_client_that_never_reads_is_disconnected);
scenarios!(pool: a_slow_consumer_is_dropped_and_nobody_else_misses_a_message, a_line_client_that_never_reads_is_disconnected, a_websocket_client_that_never_reads_is_disconnected);
