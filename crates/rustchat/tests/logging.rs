//! The operator's log at `info`: every connection opened and closed — who (peer address, nick),
//! over what, for how long, and why it ended — and every refusal at accept, a bounded number a
//! second; never the text of a message. As text, and as JSON (`--log-format json`).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use common::process::ServeProcess;

const TIMEOUT: Duration = Duration::from_secs(5);

fn start(dir: &Path, args: &[&str]) -> ServeProcess {
    let bin = Path::new(env!("CARGO_BIN_EXE_rustchat"));
    let mut all = vec!["--history", "memory"];
    all.extend_from_slice(args);
    ServeProcess::start(bin, dir, &all).unwrap_or_else(|why| panic!("rustchat serve starts: {why}"))
}

fn log_until(server: &ServeProcess, what: &str, done: impl Fn(&str) -> bool) -> Vec<String> {
    server.log_until(what, TIMEOUT, done)
}

/// A line client that names itself, says something, quits and waits for the server to close.
fn chat_and_quit(addr: SocketAddr, nick: &str, said: &str) -> SocketAddr {
    let mut tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    let local = tcp.local_addr().expect("local address");
    write!(tcp, "/nick {nick}\n{said}\n/quit off to lunch\n").expect("send");
    let mut rest = String::new();
    let _ = BufReader::new(&tcp).read_to_string(&mut rest);
    local
}

#[test]
fn a_connection_is_logged_opened_and_closed_with_who_how_long_and_why_never_what_was_said() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let server = start(dir.path(), &[]);
    let local = chat_and_quit(server.addr, "logger", "the secret plan");
    let peer = format!("peer={local}");
    let log = log_until(&server, "the connection closed", |l| {
        l.contains("connection closed") && l.contains(&peer)
    });
    let opened = log
        .iter()
        .find(|l| l.contains("connection opened") && l.contains(&peer))
        .unwrap_or_else(|| panic!("no 'connection opened' for {peer}:\n{}", log.join("\n")));
    assert!(
        opened.contains(" INFO ") && opened.contains("protocol=\"line\""),
        "{opened}"
    );
    let closed = log.last().map(String::as_str).unwrap_or_default();
    for field in [
        "nick=\"logger\"",
        "ended=quit",
        "protocol=\"line\"",
        "seconds=",
    ] {
        assert!(closed.contains(field), "{field} missing: {closed}");
    }
    assert!(
        !log.iter().any(|l| l.contains("secret plan")),
        "message text in the log:\n{}",
        log.join("\n")
    );
}

#[test]
fn json_log_lines_are_objects_with_the_same_fields() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let server = start(dir.path(), &["--log-format", "json"]);
    let local = chat_and_quit(server.addr, "jsonner", "hello");
    let log = log_until(&server, "the connection closed", |l| {
        l.contains("connection closed") && l.contains(&local.to_string())
    });
    for line in &log {
        let parsed: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(
            parsed["level"].is_string() && parsed["fields"].is_object(),
            "{line}"
        );
    }
    let closed: serde_json::Value =
        serde_json::from_str(log.last().map(String::as_str).unwrap_or_default()).expect("JSON");
    let fields = &closed["fields"];
    assert_eq!(fields["message"], "connection closed");
    assert_eq!(fields["nick"], "jsonner");
    assert_eq!(fields["ended"], "quit");
    assert_eq!(fields["peer"], local.to_string());
    assert_eq!(closed["target"], "rustchat::conn");
}

#[test]
fn refusals_are_logged_but_a_flood_of_them_only_counted() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let server = start(
        dir.path(),
        &["--max-connections-per-ip", "1", "--connect-rate", "off"],
    );
    let mut held = TcpStream::connect(server.addr).expect("connect");
    held.write_all(b"\n").expect("join");
    let mut refused = 0;
    for _ in 0..30 {
        let mut tcp = TcpStream::connect(server.addr).expect("connect");
        tcp.set_read_timeout(Some(TIMEOUT)).expect("timeout");
        tcp.write_all(b"\n").expect("send");
        let mut line = String::new();
        let _ = BufReader::new(&tcp).read_line(&mut line);
        assert!(
            line.starts_with("ERROR too many connections from your address"),
            "{line}"
        );
        refused += 1;
    }
    // The next refusal after a second says how many went unlogged.
    std::thread::sleep(Duration::from_millis(1100));
    let late = TcpStream::connect(server.addr).expect("connect");
    drop(late);
    let log = log_until(&server, "the count of unlogged refusals", |l| {
        l.contains("more connections refused in a second")
    });
    let one_by_one = log
        .iter()
        .filter(|l| l.contains("connection refused: too many connections"))
        .count();
    assert_eq!(one_by_one, 10, "{}", log.join("\n"));
    let summary = log.last().map(String::as_str).unwrap_or_default();
    assert!(
        summary.contains(&format!("{} more connections refused", refused - 10)),
        "{summary}"
    );
}

/// Refusals made while a connection opens — a browser page from a foreign origin (403), a head
/// too large (431) — are logged with the peer's address and why, like refusals at accept.
#[test]
fn refusals_while_opening_are_logged_with_the_peer_and_why() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let server = start(dir.path(), &[]);
    let mut tcp = TcpStream::connect(server.addr).expect("connect");
    let local = tcp.local_addr().expect("local address");
    write!(
        tcp,
        "GET /ws HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Origin: https://evil.example\r\n\r\n",
        server.addr
    )
    .expect("send");
    let mut answer = String::new();
    let _ = BufReader::new(&tcp).read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    let line = log_until(&server, "the refused origin", |l| {
        l.contains("connection refused") && l.contains("403")
    })
    .pop()
    .expect("a line");
    assert!(line.contains(&format!("peer={local}")), "{line}");
    assert!(line.contains("evil.example"), "{line}");

    let mut big = TcpStream::connect(server.addr).expect("connect");
    let huge = format!("GET / HTTP/1.1\r\nX-Big: {}\r\n\r\n", "a".repeat(16 * 1024));
    let _ = big.write_all(huge.as_bytes());
    let mut answer = String::new();
    let _ = BufReader::new(&big).read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    log_until(&server, "the refused head", |l| {
        l.contains("connection refused") && l.contains("431")
    });
}
