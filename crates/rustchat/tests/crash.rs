//! The real binary: `rustchat serve` killed with SIGKILL in the middle of a chat keeps every
//! message any client received (ARCHITECTURE.md, "Durability"); SIGTERM shuts it down
//! gracefully.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::process::ServeProcess;
use rustchat_proto::ServerEvent;
use rustchat_ws::blocking::WebSocket;
use rustchat_ws::handshake::ClientHandshake;
use rustchat_ws::{Event, Message};

const TIMEOUT: Duration = Duration::from_secs(5);
const MESSAGES: usize = 200;

/// `rustchat serve` on `data_dir`, flood control off (the test sends fast on purpose).
fn start(data_dir: &Path) -> ServeProcess {
    let bin = Path::new(env!("CARGO_BIN_EXE_rustchat"));
    ServeProcess::start(bin, data_dir, &["--rate-limit", "off"])
        .unwrap_or_else(|why| panic!("rustchat serve starts: {why}"))
}

/// A JSON WebSocket client with a read timeout.
fn json_client(addr: SocketAddr) -> WebSocket<TcpStream> {
    let handshake = ClientHandshake::builder(format!("ws://{addr}/ws"))
        .protocols(["rustchat.json"])
        .build()
        .expect("a handshake");
    let (ws, response) =
        WebSocket::connect_with(&handshake, rustchat_ws::Config::default()).expect("connect");
    assert_eq!(response.protocol(), Some("rustchat.json"));
    ws.get_ref()
        .set_read_timeout(Some(TIMEOUT))
        .expect("timeout");
    ws
}

/// The next JSON event; `None` once the connection is gone.
fn next_event(ws: &mut WebSocket<TcpStream>) -> Option<ServerEvent> {
    loop {
        match ws.next_event() {
            Ok(Some(Event::Message(Message::Text(text)))) => {
                return Some(
                    ServerEvent::from_json(text.as_str())
                        .unwrap_or_else(|e| panic!("not an event ({e}): {}", text.as_str())),
                );
            }
            Ok(Some(Event::Close(_)) | None) | Err(_) => return None,
            Ok(Some(_)) => {}
        }
    }
}

/// Waits for an event matching `pred`.
fn expect_event(ws: &mut WebSocket<TcpStream>, pred: impl Fn(&ServerEvent) -> bool) -> ServerEvent {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        assert!(Instant::now() < deadline, "timed out waiting for an event");
        match next_event(ws) {
            Some(event) if pred(&event) => return event,
            Some(_) => {}
            None => panic!("the connection ended while waiting for an event"),
        }
    }
}

#[test]
fn every_message_a_client_received_survives_a_sigkill() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let server = start(dir.path());
    let addr = server.addr;

    // The receiver records every message it gets, with its id, until the server dies.
    let mut receiver = json_client(addr);
    expect_event(&mut receiver, |e| matches!(e, ServerEvent::Members { .. }));
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    let receiving = std::thread::spawn(move || {
        let mut got: Vec<(u64, String)> = Vec::new();
        while let Some(event) = next_event(&mut receiver) {
            if let ServerEvent::Message(m) = event {
                got.push((m.id, m.text));
                counter.fetch_add(1, Ordering::Release);
            }
        }
        got
    });

    // A line client sends, a little at a time, and the server is killed in the middle.
    let mut sender = TcpStream::connect(addr).expect("connect the sender");
    sender.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    let mut sending = sender.try_clone().expect("clone");
    let writer = std::thread::spawn(move || {
        let _ = sending.write_all(b"/nick sender\n");
        for i in 0..MESSAGES {
            if sending
                .write_all(format!("crash test {i}\n").as_bytes())
                .is_err()
            {
                return;
            }
            if i % 10 == 9 {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    });
    let deadline = Instant::now() + TIMEOUT;
    while seen.load(Ordering::Acquire) < MESSAGES / 2 {
        assert!(Instant::now() < deadline, "the chat did not get going");
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut server = server;
    server.child.kill().expect("SIGKILL");
    let status = server.child.wait().expect("wait");
    assert!(!status.success(), "killed, not exited: {status:?}");
    writer.join().expect("the writer");
    let received = receiving.join().expect("the receiver");
    // The sender's own confirmations count too: whatever reached its socket before the kill.
    let mut confirmed = String::new();
    let _ = sender.read_to_string(&mut confirmed);
    let confirmed: Vec<&str> = confirmed
        .lines()
        .filter_map(|l| l.split("#lobby <sender> ").nth(1))
        .collect();
    assert!(
        received.len() >= MESSAGES / 2 && received.len() < MESSAGES,
        "the kill came in the middle: {} of {MESSAGES} received",
        received.len()
    );

    // Restart on the same directory: everything received is in the history, same id, same text.
    let server = start(dir.path());
    let mut checker = json_client(server.addr);
    // Joining replays the last 50 on its own; wait for that to pass, then ask for all.
    expect_event(&mut checker, |e| matches!(e, ServerEvent::Members { .. }));
    checker
        .send(Message::text(r#"{"type":"history","limit":500}"#))
        .expect("ask for the history");
    let event = expect_event(&mut checker, |e| matches!(e, ServerEvent::History { .. }));
    let ServerEvent::History { messages, .. } = event else {
        unreachable!()
    };
    let stored: Vec<(u64, String)> = messages.into_iter().map(|m| (m.id, m.text)).collect();
    for message in &received {
        assert!(
            stored.contains(message),
            "{message:?} was received before the crash but is not in the history {:?}..{:?} \
             ({} stored, {} received)",
            stored.first(),
            stored.last(),
            stored.len(),
            received.len()
        );
    }
    for text in &confirmed {
        assert!(
            stored.iter().any(|(_, t)| t == text),
            "{text:?} was confirmed to its sender but is not in the history"
        );
    }
    // The history is the chat's order: ids increase, texts in the order sent.
    assert!(stored.windows(2).all(|w| w[0].0 < w[1].0));
    let expected: Vec<String> = (0..stored.len())
        .map(|i| format!("crash test {i}"))
        .collect();
    let texts: Vec<String> = stored.iter().map(|(_, t)| t.clone()).collect();
    assert_eq!(texts, expected, "a prefix of what was sent, nothing else");

    // New messages do not reuse an id from before the crash.
    checker
        .send(Message::text(r#"{"type":"say","text":"after the crash"}"#))
        .expect("say");
    let event = expect_event(&mut checker, |e| matches!(e, ServerEvent::Message(_)));
    let ServerEvent::Message(m) = event else {
        unreachable!()
    };
    let last = stored.last().map_or(0, |(id, _)| *id);
    assert!(m.id > last, "id {} after {last}", m.id);
}

#[test]
fn sigterm_says_goodbye_and_exits_cleanly() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut server = start(dir.path());
    let mut client = TcpStream::connect(server.addr).expect("connect");
    client.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    client.write_all(b"\nbefore the signal\n").expect("write");
    let mut reader = BufReader::new(client.try_clone().expect("clone"));
    let mut line = String::new();
    let deadline = Instant::now() + TIMEOUT;
    while !line.contains("<guest-1> before the signal") {
        assert!(Instant::now() < deadline, "no echo");
        line.clear();
        reader.read_line(&mut line).expect("a line");
    }
    let status = Command::new("kill")
        .args(["-TERM", &server.pid()])
        .status()
        .expect("kill -TERM");
    assert!(status.success());
    let mut rest = String::new();
    let read = reader.read_to_string(&mut rest);
    let started = Instant::now();
    let exit = loop {
        if let Some(exit) = server.child.try_wait().expect("try_wait") {
            break exit;
        }
        assert!(started.elapsed() < TIMEOUT, "did not exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut log = Vec::new();
    while let Ok(line) = server.log.recv_timeout(TIMEOUT) {
        log.push(line); // until the pipe closes
    }
    assert_eq!(
        rest, "BYE server shutting down\n",
        "read: {read:?}, exit: {exit:?}, log: {log:#?}"
    );
    assert!(exit.success(), "{exit:?}");
    assert!(
        log.iter().any(|l| l.ends_with("bye")),
        "no goodbye in the log: {log:#?}"
    );
    // The message is in the file for the next start.
    let server = start(dir.path());
    let mut checker = json_client(server.addr);
    expect_event(&mut checker, |e| matches!(e, ServerEvent::Members { .. }));
    checker
        .send(Message::text(r#"{"type":"history"}"#))
        .expect("ask");
    let event = expect_event(&mut checker, |e| matches!(e, ServerEvent::History { .. }));
    assert!(
        matches!(&event, ServerEvent::History { messages, .. } if messages.len() == 1 && messages[0].text == "before the signal"),
        "{event:?}"
    );
}

#[test]
fn a_second_server_on_the_same_data_directory_exits_at_once_naming_the_first() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let first = start(dir.path());
    let mut second = Command::new(env!("CARGO_BIN_EXE_rustchat"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the second server starts");
    let started = Instant::now();
    let exit = loop {
        if let Some(exit) = second.try_wait().expect("try_wait") {
            break exit;
        }
        if started.elapsed() > TIMEOUT {
            let _ = second.kill();
            panic!("the second server is still running after {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut said = String::new();
    if let Some(mut stderr) = second.stderr.take() {
        stderr.read_to_string(&mut said).expect("its stderr");
    }
    assert!(!exit.success(), "{exit:?}: {said}");
    assert!(
        said.contains(&dir.path().display().to_string())
            && said.contains(&format!("PID {}", first.pid())),
        "{said}"
    );
    // The first one is unharmed.
    let mut client = json_client(first.addr);
    expect_event(&mut client, |e| matches!(e, ServerEvent::Members { .. }));
}
