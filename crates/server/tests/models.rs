//! The same end-to-end scenarios under every concurrency model (ARCHITECTURE.md: "The same
//! end-to-end test scenarios run under every model"): `async`, `threads`, `pool:N` — and, for
//! the scenarios one connection at a time can play, `sequential`.

#[macro_use]
mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{
    LineClient, RawWs, TIMEOUT, WsClient, http_get, http_raw, metric, serve, shut_down_within,
    small_window, untimed, upgrade_request,
};
use rustchat_proto::ServerEvent;
use rustchat_server::config::Blocking;
use rustchat_server::config::{HistoryMode, Model};
use rustchat_server::server::{RunningServer, start};
use rustchat_ws::CloseCode;

/// Several clients in one room: line, WebSocket JSON and raw WebSocket; everyone sees every
/// message in the same order; a quit reason reaches the others.
fn room_chat(model: Model) {
    let (server, _dir) = serve(|c| c.model = model);
    let addr = server.addr();
    let mut alice = LineClient::named(addr, "alice");
    let mut bob = WsClient::named_json(addr, "bob");
    let mut raw = RawWs::connect(addr);
    raw.send_frame(true, 0x1, b"/nick carol");
    raw.expect_text("carol's nick", |t| {
        t.ends_with("~ guest-3 is now known as carol")
    });
    alice.expect_event("~ guest-3 is now known as carol");

    alice.send("from alice");
    bob.send_text(r#"{"type":"say","text":"from bob"}"#);
    raw.send_frame(true, 0x1, b"from carol");
    let mut orders: Vec<Vec<String>> = Vec::new();
    let mut line_order = Vec::new();
    while line_order.len() < 3 {
        let line = alice.expect("a message", |l| untimed(l).starts_with("#lobby <"));
        line_order.push(untimed(&line)["#lobby ".len()..].to_owned());
    }
    orders.push(line_order);
    let mut json_order = Vec::new();
    while json_order.len() < 3 {
        let (_, event) = bob.expect_json("a message", |e| matches!(e, ServerEvent::Message(_)));
        let ServerEvent::Message(m) = event else {
            unreachable!()
        };
        json_order.push(format!("<{}> {}", m.from, m.text));
    }
    orders.push(json_order);
    let mut raw_order = Vec::new();
    while raw_order.len() < 3 {
        let text = raw.expect_text("a message", |t| untimed(t).starts_with("#lobby <"));
        raw_order.push(untimed(&text)["#lobby ".len()..].to_owned());
    }
    orders.push(raw_order);
    let mut sorted = orders[0].clone();
    sorted.sort();
    assert_eq!(
        sorted,
        ["<alice> from alice", "<bob> from bob", "<carol> from carol"]
    );
    assert!(orders.iter().all(|o| *o == orders[0]), "{orders:?}");

    bob.send_text(r#"{"type":"quit","reason":"see you"}"#);
    alice.expect_event("<- bob left #lobby (see you)");
    assert_eq!(bob.expect_close().map(|f| f.code), Some(CloseCode::NORMAL));
    alice.send("/who");
    alice.next_is("*** members of #lobby (2): alice carol");
}

/// One client at a time: HELLO, chat, errors that keep the connection, HTTP.
fn one_client(model: Model) {
    let (server, _dir) = serve(|c| {
        c.model = model;
        c.max_line = 64;
    });
    let addr = server.addr();
    {
        let mut client = LineClient::connect(addr);
        client.send("HELLO 41");
        client.next_is("HELLO 42");
        client.send("HELLO 43");
        client.next_is("*** welcome, guest-1! you are in #lobby; /help lists the commands");
        client.expect_exact("*** members of #lobby (1): guest-1");
        client.send(&"x".repeat(100));
        client.next_is(
            "ERROR line too long: more than 64 bytes, at most 64 — the line was discarded",
        );
        client.send_raw(b"\xff\n");
        client.next_is(
            "ERROR line is not valid UTF-8 (bad byte at offset 0): expected UTF-8 text — the \
             line was discarded",
        );
        client.send("/foo");
        client.next_is("ERROR unknown command /foo — try /help");
        client.send("hi");
        client.expect_event("#lobby <guest-1> hi");
        client.send("/quit");
        assert_eq!(client.expect_eof(), ["BYE goodbye"]);
    }
    {
        let mut bad = LineClient::connect(addr);
        bad.send("HELLO 12x");
        assert_eq!(
            bad.expect_eof(),
            ["ERROR handshake: expected HELLO <n>, got HELLO 12x"]
        );
    }
    {
        let mut silent = LineClient::connect(addr);
        silent.next_is(
            "*** rustchat: press Enter to join #lobby, type a message, or /help for the commands",
        );
    }
    assert_eq!(http_get(addr, "/healthz").body, "ok\n");
    assert_eq!(http_get(addr, "/nope").status, 404);
    assert_eq!(
        http_raw(addr, b"POST / HTTP/1.1\r\nHost: x\r\n\r\n").status,
        405
    );
    let forbidden = {
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
        stream
            .write_all(upgrade_request(addr, "Origin: http://evil.example\r\n").as_bytes())
            .expect("write");
        common::read_response(&mut stream)
    };
    assert_eq!(forbidden.status, 403);
    {
        let mut raw = RawWs::connect(addr);
        raw.send_frame(true, 0x1, r#"{"type":"say","text":"json"}"#.as_bytes());
        let said = raw.expect_text("the JSON message", |t| {
            t.starts_with(r#"{"type":"message""#)
        });
        assert!(said.contains(r#""text":"json""#), "{said}");
        raw.send_frame(true, 0x1, &[b'a'; 70_000]);
        assert_eq!(raw.expect_close().0, 1009);
    }
    // The bad HELLO and the 1009 (a 403 is an answered request, not a protocol error); the
    // count moves when the connection is closed, just after its last bytes went out.
    common::eventually("two protocol errors counted", TIMEOUT, || {
        metric(&server.metrics_text(), "rustchat_protocol_errors_total") == 2
    });
    assert_eq!(
        metric(&server.metrics_text(), "rustchat_protocol_errors_total"),
        2
    );
}

/// Shutdown with clients connected: BYE, close 1001, history kept.
fn shutdown(model: Model) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut config = common::config(dir.path());
    config.model = model;
    let server = start(config.clone()).expect("start");
    let mut line = LineClient::named(server.addr(), "liner");
    let mut ws = WsClient::named_json(server.addr(), "webber");
    line.send("kept across the restart");
    ws.expect_json("the message", |e| matches!(e, ServerEvent::Message(_)));
    let started = Instant::now();
    let stopping = std::thread::spawn(move || server.shutdown());
    assert_eq!(
        line.expect_eof().last().map(String::as_str),
        Some("BYE server shutting down")
    );
    assert_eq!(
        ws.expect_close().map(|f| f.code),
        Some(CloseCode::GOING_AWAY)
    );
    stopping.join().expect("join").expect("clean history");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    let server = start(config).expect("restart");
    let (mut check, _) = LineClient::join(server.addr());
    check.send("/history 1");
    check.next_is("*** history of #lobby (1 message)");
    check.expect_event("#lobby <liner> kept across the restart");
}

/// A deaf WebSocket client is dropped by the keepalive; one that answers is kept.
fn keepalive(model: Model) {
    let (server, _dir) = serve(|c| {
        c.model = model;
        c.ping_interval = Duration::from_millis(500);
        c.pong_timeout = Duration::from_millis(500);
    });
    let started = Instant::now();
    let mut deaf = RawWs::connect(server.addr());
    let (code, reason) = deaf.expect_close();
    assert_eq!(code, 1011, "{reason}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}

/// A client that stops reading is dropped (once it reads again: see slow_consumer.rs for why)
/// while a reader keeps every message.
fn slow_consumer(model: Model) {
    let (server, _dir) = serve(|c| {
        c.model = model;
        c.outbox_limit = 256 * 1024;
        c.flood = None;
        c.history = HistoryMode::Memory;
    });
    let addr = server.addr();
    let (mut watcher, _) = WsClient::join_json(addr);
    let mut sender = LineClient::named(addr, "sender");
    let mut slow = small_window(addr, 4096);
    slow.write_all(b"\n").expect("join");
    sender.expect_event("-> guest-3 joined #lobby");
    let count = 1300;
    let reader = std::thread::spawn(move || {
        let mut ids = Vec::new();
        while ids.len() < count {
            let (_, event) =
                watcher.expect_json("a message", |e| matches!(e, ServerEvent::Message(_)));
            let ServerEvent::Message(m) = event else {
                unreachable!()
            };
            ids.push(m.id);
        }
        ids
    });
    let pad = "p".repeat(4000);
    for batch in 0..count / 10 {
        let mut lines = String::new();
        for i in 0..10 {
            lines.push_str(&format!("{} {pad}\n", batch * 10 + i));
        }
        sender.send_raw(lines.as_bytes());
        sender.expect(&format!("message {}", batch * 10 + 9), |l| {
            untimed(l).starts_with(&format!("#lobby <sender> {} ", batch * 10 + 9))
        });
    }
    let ids = reader.join().expect("the watcher kept up");
    assert!(
        ids.windows(2).all(|w| w[1] == w[0] + 1),
        "ids not contiguous"
    );
    slow.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    let mut chunk = vec![0u8; 256 * 1024];
    let mut drained = 0;
    let end = loop {
        match slow.read(&mut chunk) {
            Ok(0) => break None,
            Ok(n) => drained += n,
            Err(e) => break Some(e.kind()),
        }
    };
    assert!(
        matches!(end, None | Some(std::io::ErrorKind::ConnectionReset)),
        "the slow client is still connected after reading {drained} bytes ({end:?}); \
         slow-consumer disconnects: {}",
        metric(
            &server.metrics_text(),
            "rustchat_slow_consumer_disconnects_total"
        )
    );
    sender.saw_or_expect("the slow client leaving", |l| {
        untimed(l).starts_with("<- guest-3 left #lobby (slow consumer: ")
    });
    assert_eq!(
        metric(
            &server.metrics_text(),
            "rustchat_slow_consumer_disconnects_total"
        ),
        1
    );
}

/// Flood control under the model.
fn flood(model: Model) {
    let (server, _dir) = serve(|c| {
        c.model = model;
        c.flood = Some(rustchat_server::session::flood::FloodConfig {
            rate: 1.0,
            burst: 2.0,
            queue: 2,
            patience: std::time::Duration::from_millis(500),
        });
    });
    let (mut flooder, _) = LineClient::join(server.addr());
    for i in 0..30 {
        flooder.send(&format!("flood {i}"));
    }
    let rest = flooder.expect_eof();
    assert_eq!(
        rest.last().map(String::as_str),
        Some("ERROR flooding: too many commands too fast"),
        "{rest:?}"
    );
}

/// A full server refuses in the client's protocol.
fn full(model: Model) {
    let (server, _dir) = serve(|c| {
        c.model = model;
        c.max_connections = 1;
    });
    let (mut first, _) = LineClient::join(server.addr());
    let mut second = LineClient::connect(server.addr());
    second.send("me too");
    assert_eq!(
        second.expect_eof(),
        ["ERROR server full: 1 connections already open — try again later"]
    );
    assert_eq!(http_get(server.addr(), "/healthz").status, 503);
    first.sync();
}

use common::{async_model, pool, sequential, threads};

fn blocking(b: Blocking) -> Model {
    Model::Blocking(b)
}

scenarios!(async_model: room_chat, one_client, shutdown, keepalive, slow_consumer, flood, full);
scenarios!(threads: room_chat, one_client, shutdown, keepalive, slow_consumer, flood, full);
scenarios!(pool: room_chat, one_client, shutdown, keepalive, slow_consumer, flood, full);
scenarios!(sequential: one_client, keepalive, flood);

/// `sequential` serves one connection at a time; the next waits in the backlog (in silence)
/// and is served when the first leaves. A pool of N serves N at once the same way, and tells
/// the next one that it waits (more in `pool.rs`).
fn waits_its_turn(model: Model, at_once: usize) {
    let (server, _dir) = serve(|c| c.model = model);
    let addr = server.addr();
    let mut served: Vec<LineClient> = (0..at_once).map(|_| LineClient::join(addr).0).collect();
    let mut waiting = LineClient::connect(addr);
    waiting.send("");
    if matches!(model, Model::Blocking(Blocking::Pool(_))) {
        waiting.expect("its place in line", |l| l.contains("number 1 in line"));
    }
    waiting.expect_silence(Duration::from_millis(300));
    let mut first = served.remove(0);
    first.send("/quit");
    first.expect_eof();
    waiting.expect("the welcome, once a slot is free", |l| {
        l.starts_with("*** welcome, ")
    });
}

#[test]
fn sequential_serves_the_next_client_when_the_first_leaves() {
    waits_its_turn(sequential(), 1);
}

#[test]
fn a_pool_serves_n_at_once_and_queues_the_rest() {
    waits_its_turn(blocking(Blocking::Pool(2)), 2);
}

/// Waits until the server's metric `name` reads `value`.
fn metric_becomes(server: &RunningServer, name: &str, value: u64) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let now = metric(&server.metrics_text(), name);
        if now == value {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{name} is {now}, expected {value}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// One client: joins, quits, sees the connection close.
fn visit(addr: std::net::SocketAddr) {
    let (mut client, _) = LineClient::join(addr);
    client.send("/quit");
    client.expect_eof();
}

const STARTED: &str = "rustchat_connection_threads_started_total";
const ACCEPTING: &str = "rustchat_accepting_threads";

/// `threads:N`: threads wait in `accept`; the one the kernel gives a connection serves it, and
/// if it was the last one waiting, first starts another so the next connection has a thread
/// too. When its connection ends a thread accepts again while fewer than 1 + N wait, else it
/// exits. Waiting threads leave as soon as the server stops.
#[test]
fn threads_accept_and_serve_and_never_queue() {
    let (server, _dir) = serve(|c| c.model = blocking(Blocking::Threads(1)));
    let addr = server.addr();
    // One to accept (counted by the thread that started it, right after).
    metric_becomes(&server, STARTED, 1);
    // The first client's thread starts a second to accept while it serves; after that the
    // two take turns.
    for _ in 0..3 {
        visit(addr);
        metric_becomes(&server, ACCEPTING, 2);
    }
    assert_eq!(
        metric(&server.metrics_text(), STARTED),
        2,
        "two served all three"
    );

    // Three at once (`join` waits for each welcome): the two waiting take two, and the last of
    // them starts one for the third, which starts one to accept next.
    let mut three: Vec<LineClient> = (0..3).map(|_| LineClient::join(addr).0).collect();
    metric_becomes(&server, STARTED, 4);
    assert_eq!(metric(&server.metrics_text(), ACCEPTING), 1);
    for client in &mut three {
        client.send("/quit");
        client.expect_eof();
    }
    // Of the three now free, one goes back to accepting (1 + N = 2 wait) and two exit.
    metric_becomes(&server, ACCEPTING, 2);
    visit(addr);
    metric_becomes(&server, ACCEPTING, 2);
    assert_eq!(metric(&server.metrics_text(), STARTED), 4);

    // The waiting threads leave at once: the shutdown is not held up by them (that would take
    // the 0.5 s grace and 1 s more).
    shut_down_within(server, Duration::from_secs(1));
}

/// A spare thread leaves when no connection comes within `spare_wait`; the last one waiting
/// on a listening socket stays.
#[test]
fn an_idle_spare_thread_leaves_after_the_spare_wait() {
    let (server, _dir) = serve(|c| {
        c.model = blocking(Blocking::Threads(2));
        c.spare_wait = Duration::from_millis(500);
    });
    visit(server.addr());
    metric_becomes(&server, ACCEPTING, 2);
    metric_becomes(&server, ACCEPTING, 1);
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(
        metric(&server.metrics_text(), ACCEPTING),
        1,
        "the last stays"
    );
    // It serves the next connection, and starts one to accept meanwhile.
    visit(server.addr());
    metric_becomes(&server, STARTED, 3);
}

/// `threads:0`: every connection has a thread of its own, which exits with it; the next one
/// is started when a connection comes in.
#[test]
fn threads_without_spares_start_one_per_connection() {
    let (server, _dir) = serve(|c| c.model = blocking(Blocking::Threads(0)));
    for started in 2..=3 {
        visit(server.addr());
        metric_becomes(&server, STARTED, started);
        assert_eq!(metric(&server.metrics_text(), ACCEPTING), 1);
    }
}

/// Every model serves every listening address (`threads` keeps a waiting thread on each), and
/// stops promptly.
#[test]
fn every_model_serves_two_addresses() {
    let models = [
        blocking(Blocking::Sequential),
        blocking(Blocking::Threads(0)),
        blocking(Blocking::Threads(2)),
        blocking(Blocking::Pool(2)),
        Model::Async,
    ];
    for model in models {
        let (server, _dir) = serve(|c| {
            c.model = model;
            c.listen = vec!["127.0.0.1:0".parse().expect("address"); 2];
        });
        let addrs = server.addrs().to_vec();
        assert_eq!(addrs.len(), 2, "{model:?}");
        for addr in &addrs {
            visit(*addr);
        }
        visit(addrs[0]);
        if let Model::Blocking(Blocking::Threads(spares)) = model {
            // One per address, and the two spares the first two clients' threads became.
            metric_becomes(&server, ACCEPTING, 2 + spares as u64);
        }
        shut_down_within(server, Duration::from_secs(1));
    }
}
