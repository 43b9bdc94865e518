//! The four ways one client could hurt others or the server (issue 17), each under every model
//! that can play it: a room's burst inside the flood limits, input that fails to parse, a ping
//! flood nobody reads, and a large first write. The attack suite that runs them all against
//! the real binary, with honest clients' latency and the server's memory measured, is
//! `crates/rustchat/tests/attack.rs`.

#[macro_use]
mod common;

use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::{
    LineClient, RawWs, TIMEOUT, async_model, eventually, metric, pool, sequential, serve, threads,
    untimed,
};
use rustchat_server::config::Blocking;
use rustchat_server::config::{HistoryMode, Model};

const SENDERS: usize = 20;
const LINES: usize = 20;

/// A pool big enough to serve every client of a scenario at once.
fn roomy(model: Model) -> Model {
    match model {
        Model::Blocking(Blocking::Pool(n)) => Model::Blocking(Blocking::Pool(n.max(32))),
        other => other,
    }
}

/// Reads lines on a thread until `count` lines `#lobby <…> burst …` have arrived; returns them,
/// or everything it saw if the stream ended first.
fn burst_reader(
    mut client: LineClient,
    count: usize,
) -> std::thread::JoinHandle<Result<Vec<String>, Vec<String>>> {
    std::thread::spawn(move || {
        let mut got = Vec::new();
        while got.len() < count {
            match client.next_line_within(Duration::from_secs(10)) {
                Some(Some(line)) if line.contains("> burst ") => {
                    got.push(untimed(&line).to_owned());
                }
                Some(Some(_)) => {}
                Some(None) | None => return Err(client.seen.clone()),
            }
        }
        Ok(got)
    })
}

/// Issue 17, bug 1, with default flags: one reader and 20 clients in `#lobby`, each of the 20
/// sending 20 lines of ~4,000 bytes in one write (inside the default burst of 20). 1.6 MB
/// reach every member at once — more than the 1 MiB outbox limit — and everyone reads as fast
/// as it can, so nobody may be dropped as a slow consumer, and everyone gets every line.
fn room_burst(model: Model) {
    let (server, _dir) = serve(|c| c.model = roomy(model));
    let addr = server.addr();
    let (reader, _) = LineClient::join(addr);
    let mut senders: Vec<(TcpStream, String)> = Vec::new();
    let mut readers = vec![burst_reader(reader, SENDERS * LINES)];
    for _ in 0..SENDERS {
        let (client, nick) = LineClient::join(addr);
        senders.push((client.stream.try_clone().expect("clone"), nick));
        readers.push(burst_reader(client, SENDERS * LINES));
    }
    let pad = "b".repeat(4000);
    for (stream, nick) in &mut senders {
        let mut lines = String::new();
        for i in 0..LINES {
            lines.push_str(&format!("burst {nick} {i:02} {pad}\n"));
        }
        stream.write_all(lines.as_bytes()).expect("a burst");
    }
    for (who, reader) in readers.into_iter().enumerate() {
        let got = reader
            .join()
            .expect("a reader thread")
            .unwrap_or_else(|seen| {
                let tail: Vec<String> = seen.iter().rev().take(3).map(|l| shorten(l)).collect();
                panic!("client {who} was cut off; its last lines: {tail:?}")
            });
        for (_, nick) in &senders {
            let own: Vec<&String> = got
                .iter()
                .filter(|l| l.starts_with(&format!("#lobby <{nick}> ")))
                .collect();
            assert_eq!(own.len(), LINES, "client {who} got {nick}'s lines");
            for (i, line) in own.iter().enumerate() {
                assert!(
                    line.contains(&format!(" {i:02} ")),
                    "{nick}'s lines out of order"
                );
            }
        }
    }
    assert_eq!(
        metric(
            &server.metrics_text(),
            "rustchat_slow_consumer_disconnects_total"
        ),
        0
    );
}

/// The start of a long line, for a failure message.
fn shorten(line: &str) -> String {
    line.chars().take(100).collect()
}

/// Reads a line client's last lines and checks it was let go as a flooder, after at least one
/// warning it could see (the goodbye does not overtake the replies queued before it).
fn expect_flood_goodbye(mut flooder: LineClient, what: &str) {
    let rest = flooder.expect_eof();
    assert_eq!(
        rest.last().map(String::as_str),
        Some("ERROR flooding: too many commands too fast"),
        "{what}: {:?}",
        rest.iter().rev().take(3).collect::<Vec<_>>()
    );
    assert!(
        rest.iter().any(|l| l.starts_with("ERROR flood control: ")),
        "{what}: the notice was overtaken by the goodbye"
    );
}

/// Issue 17, bug 2: lines that fail to parse, invalid UTF-8, binary frames and bad JSON count
/// against the flood budget like any other input; each flooder is told its input waits, then
/// let go once its queue has stayed full for the patience, while an honest client chats on.
fn garbage_is_flood_controlled(model: Model) {
    let (server, _dir) = serve(|c| {
        c.model = roomy(model);
        // The default patience (10 s), shortened: each flooder keeps its queue full from its
        // first write on.
        c.flood = Some(rustchat_server::session::flood::FloodConfig {
            patience: std::time::Duration::from_millis(300),
            ..Default::default()
        });
    });
    let addr = server.addr();
    let mut honest = LineClient::named(addr, "honest");

    let (mut unknown, _) = LineClient::join(addr);
    unknown.send_raw("/frobnicate now\n".repeat(10_000).as_bytes());
    expect_flood_goodbye(unknown, "unknown commands");

    let (mut bad_utf8, _) = LineClient::join(addr);
    bad_utf8.send_raw(&b"caf\xe9 \xff\xfe\n".repeat(10_000));
    expect_flood_goodbye(bad_utf8, "invalid UTF-8");

    let (mut blank, _) = LineClient::join(addr);
    blank.send_raw(&b"\n".repeat(10_000));
    expect_flood_goodbye(blank, "blank lines");

    for (kind, opcode, payload) in [
        ("binary frames", 0x2, &b"\x00\x01"[..]),
        ("bad JSON", 0x1, &br#"{"type":"#[..]),
        ("pings", 0x9, &b"ping"[..]),
    ] {
        let mut ws = RawWs::connect(addr);
        for _ in 0..2_000 {
            ws.send_frame(true, opcode, payload);
        }
        let (code, reason) = ws.expect_close();
        assert_eq!(
            (code, reason.as_str()),
            (1008, "flooding: too many commands too fast"),
            "{kind}"
        );
    }
    honest.send("still here");
    honest.expect_event("#lobby <honest> still here");
    assert_eq!(
        metric(&server.metrics_text(), "rustchat_flood_disconnects_total"),
        6
    );
}

/// Issue 17, bug 3: with flood control off, a WebSocket client that sends 50,000 pings and
/// reads nothing is owed one pong at a time, not 50,000 (RFC 6455 §5.5.3 allows answering only
/// the latest ping), and the connection still works.
fn ping_flood_is_owed_one_pong(model: Model) {
    let (server, _dir) = serve(|c| {
        c.model = model;
        c.flood = None;
        c.history = HistoryMode::Memory;
    });
    let mut flooder = RawWs::connect_small_window(server.addr(), 4096);
    flooder.expect_text("the lobby member list", |t| t.contains("members of #lobby"));
    let pings = 50_000;
    let mut writer = flooder.stream.try_clone().expect("clone");
    let writing = std::thread::spawn(move || {
        let ping = common::client_frame(true, 0x9, &[b'p'; 125]);
        let mut all = Vec::with_capacity(ping.len() * 1000);
        for _ in 0..pings / 1000 {
            all.clear();
            for _ in 0..1000 {
                all.extend_from_slice(&ping);
            }
            writer.write_all(&all).expect("the server keeps reading");
        }
        writer
            .write_all(&common::client_frame(true, 0x1, b"/who"))
            .expect("a command");
    });
    writing.join().expect("the pings are all sent");
    let mut pongs = 0;
    loop {
        let frame = flooder.read_frame().expect("frames, not the end");
        match frame.opcode {
            0xA => pongs += 1,
            0x1 if String::from_utf8_lossy(&frame.payload).contains("members of #lobby") => break,
            _ => {}
        }
    }
    assert!(
        pongs < pings / 20,
        "{pongs} pongs queued for {pings} pings nobody read"
    );
}

/// Sizes of a first write: around every buffer a read path uses (4 KiB detection reserve,
/// 16 KiB blocking reads, 64 KiB async reads), and up to 10 MiB.
const FIRST_WRITES: [usize; 12] = [
    1,
    4095,
    4097,
    16 * 1024 - 1,
    16 * 1024,
    16 * 1024 + 1,
    20_000,
    64 * 1024 - 1,
    64 * 1024,
    64 * 1024 + 1,
    1 << 20,
    10 << 20,
];

/// Issue 17, bug 4: a client that sends `size` bytes and `/who` in one write is answered —
/// whatever the size (the line over the limit is refused), whether the bytes arrive while the
/// server is still deciding which protocol it speaks or after it greeted the client.
fn large_first_writes(model: Model) {
    let detect = Duration::from_millis(300);
    let (server, _dir) = serve(|c| {
        c.model = model;
        c.detect_timeout = detect;
    });
    for wait in [
        Duration::from_millis(50),
        detect + Duration::from_millis(100),
    ] {
        for size in FIRST_WRITES {
            let mut client = LineClient::connect(server.addr());
            std::thread::sleep(wait);
            let mut bytes = vec![b'x'; size];
            bytes.extend_from_slice(b"\n/who\n");
            let mut writer = client.stream.try_clone().expect("clone");
            let writing = std::thread::spawn(move || writer.write_all(&bytes));
            client.expect(
                &format!("the /who answer after {size} bytes sent at {wait:?}"),
                |l| l.starts_with("*** members of #lobby"),
            );
            writing
                .join()
                .expect("the writer")
                .expect("the server read it all");
            client.send("/quit");
            client.expect_eof();
        }
    }
}

/// A connection reset in the middle of a large first write is let go: its thread (or task)
/// returns and the connection is no longer counted.
fn reset_mid_first_write(model: Model) {
    let (server, _dir) = serve(|c| {
        c.model = model;
        c.detect_timeout = Duration::from_millis(500); // the bytes arrive during detection
    });
    let addr: SocketAddr = server.addr();
    for _ in 0..3 {
        let stream = TcpStream::connect(addr).expect("connect");
        std::thread::sleep(Duration::from_millis(60));
        let mut writer = stream.try_clone().expect("clone");
        let writing = std::thread::spawn(move || {
            let _ = writer.write_all(&vec![b'x'; 10 << 20]);
        });
        std::thread::sleep(Duration::from_millis(100));
        socket2::SockRef::from(&stream)
            .set_linger(Some(Duration::ZERO))
            .expect("SO_LINGER");
        let _ = stream.shutdown(Shutdown::Both);
        writing.join().expect("the writer gives up");
        drop(stream); // with a zero linger: a reset
    }
    let started = Instant::now();
    eventually("every reset connection let go", TIMEOUT, || {
        metric(&server.metrics_text(), "rustchat_connections_open") == 0
    });
    assert!(started.elapsed() < TIMEOUT);
}

scenarios!(async_model: room_burst, garbage_is_flood_controlled, ping_flood_is_owed_one_pong,
    large_first_writes, reset_mid_first_write);
scenarios!(threads: room_burst, garbage_is_flood_controlled, ping_flood_is_owed_one_pong,
    large_first_writes, reset_mid_first_write);
scenarios!(pool: room_burst, garbage_is_flood_controlled, ping_flood_is_owed_one_pong,
    large_first_writes, reset_mid_first_write);
scenarios!(sequential: ping_flood_is_owed_one_pong, large_first_writes, reset_mid_first_write);
