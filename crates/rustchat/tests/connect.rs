//! `rustchat connect` in line mode, end to end: the real binary with piped stdin/stdout
//! against a real server started in-process on `127.0.0.1:0`.

mod common;

use common::{Result, server};

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(20);

fn ws_url(addr: SocketAddr) -> String {
    format!("ws://{addr}/ws")
}

/// A running `rustchat connect`: its stdin, and its stdout as a channel of lines.
struct Client {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    seen: Vec<String>,
    stderr: std::process::ChildStderr,
}

impl Client {
    fn start(args: &[&str]) -> Result<Self> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rustchat"))
            .arg("connect")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Ok(Self {
            stdin: child.stdin.take(),
            stderr: child.stderr.take().ok_or("no stderr")?,
            child,
            lines,
            seen: Vec::new(),
        })
    }

    fn send(&mut self, line: &str) -> Result {
        let stdin = self.stdin.as_mut().ok_or("stdin closed")?;
        stdin.write_all(format!("{line}\n").as_bytes())?;
        Ok(stdin.flush()?)
    }

    /// Reads output until a line contains `needle`.
    fn wait_for(&mut self, needle: &str) -> Result<String> {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return Ok(line);
                    }
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                    return Err(format!("no line with {needle:?} in {:#?}", self.seen).into());
                }
            }
        }
    }

    /// Closes stdin and waits for the exit; returns the status, all output lines and stderr.
    fn finish(mut self) -> Result<(ExitStatus, Vec<String>, String)> {
        drop(self.stdin.take());
        let deadline = Instant::now() + WAIT;
        let status = loop {
            if let Some(status) = self.child.try_wait()? {
                break status;
            }
            if Instant::now() > deadline {
                self.child.kill()?;
                return Err(format!("still running; output so far {:#?}", self.seen).into());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(line);
        }
        let mut stderr = String::new();
        self.stderr.read_to_string(&mut stderr)?;
        Ok((status, self.seen, stderr))
    }
}

/// Runs `rustchat connect ARGS` with `input` on stdin until it exits.
fn run(args: &[&str], input: &str) -> Result<(ExitStatus, Vec<String>, String)> {
    let mut client = Client::start(args)?;
    if let Some(stdin) = client.stdin.as_mut() {
        stdin.write_all(input.as_bytes())?;
    }
    client.finish()
}

fn has(lines: &[String], needle: &str) -> bool {
    lines.iter().any(|line| line.contains(needle))
}

#[test]
fn websocket_line_mode_sends_and_prints_events() -> Result {
    let server = server()?;
    let url = ws_url(server.addr());
    let (status, lines, stderr) = run(&[&url, "--nick", "alice"], "hello world\n\n/who\n")?;
    assert!(status.success(), "{status:?} {stderr}");
    assert!(lines[0].starts_with("*** welcome, guest-"), "{lines:#?}");
    assert!(has(&lines, "is now known as alice"), "{lines:#?}");
    assert!(has(&lines, "#lobby <alice> hello world"), "{lines:#?}");
    assert!(
        has(&lines, "*** members of #lobby (1): alice"),
        "{lines:#?}"
    );
    assert!(
        lines.last().is_some_and(|l| l.starts_with("BYE ")),
        "{lines:#?}"
    );
    Ok(())
}

#[test]
fn tcp_line_mode_joins_the_room_and_talks() -> Result {
    let server = server()?;
    let addr = server.addr().to_string();
    let tcp = format!("tcp://{addr}");
    for target in [addr.as_str(), tcp.as_str()] {
        let (status, lines, stderr) = run(&[target, "--nick", "bob", "--room", "rust"], "hi\n")?;
        assert!(status.success(), "{status:?} {stderr}");
        assert!(has(&lines, "-> bob joined #rust"), "{lines:#?}");
        assert!(has(&lines, "#rust <bob> hi"), "{lines:#?}");
    }
    Ok(())
}

#[test]
fn json_mode_prints_one_object_per_line() -> Result {
    let server = server()?;
    let url = ws_url(server.addr());
    let (status, lines, stderr) = run(&["--json", &url], "/me waves\n")?;
    assert!(status.success(), "{status:?} {stderr}");
    assert!(!lines.is_empty());
    for line in &lines {
        assert!(
            line.starts_with("{\"type\":\"") && line.ends_with('}'),
            "{line}"
        );
    }
    assert!(
        lines[0].starts_with(r#"{"type":"welcome","nick":"guest-"#),
        "{lines:#?}"
    );
    assert!(
        has(&lines, r#""text":"waves","action":true}"#),
        "{lines:#?}"
    );
    assert!(
        lines
            .last()
            .is_some_and(|l| l.starts_with(r#"{"type":"bye""#)),
        "{lines:#?}"
    );
    Ok(())
}

#[test]
fn end_of_input_says_quit_and_exits_zero_promptly() -> Result {
    let server = server()?;
    for target in [ws_url(server.addr()), server.addr().to_string()] {
        let started = Instant::now();
        let (status, lines, stderr) = run(&[&target], "")?;
        assert!(status.success(), "{target}: {status:?} {stderr}");
        assert!(has(&lines, "welcome"), "{lines:#?}");
        assert!(has(&lines, "BYE "), "{target}: {lines:#?}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }
    Ok(())
}

#[test]
fn connection_refused_exits_one_naming_the_address() -> Result {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port(); // closed again at once
    for target in [
        format!("ws://127.0.0.1:{port}/ws"),
        format!("127.0.0.1:{port}"),
    ] {
        let (status, lines, stderr) = run(&[&target], "hi\n")?;
        assert_eq!(status.code(), Some(1), "{target}: {lines:?} {stderr}");
        assert_eq!(
            stderr.trim(),
            format!(
                "Error: cannot connect to 127.0.0.1:{port}: connection refused — is rustchat serve running?"
            )
        );
        assert!(lines.is_empty(), "{lines:?}");
    }
    Ok(())
}

#[test]
fn bad_urls_and_flags_are_usage_errors() -> Result {
    let cases: [(&[&str], &str); 7] = [
        (&["tls://example.org:1/path"], "a tcp address has no path"),
        (
            &["--insecure", "--ca-file", "ca.pem", "wss://example.org/ws"],
            "cannot be used with",
        ),
        (&["http://example.org/"], "unknown scheme `http`"),
        (&["localhost"], "missing :port"),
        (&["--json", "127.0.0.1:1"], "--json needs a WebSocket URL"),
        (
            &["--nick", "9lives", "127.0.0.1:1"],
            "nick must start with an ASCII letter",
        ),
        (&["--room", "#a.b", "127.0.0.1:1"], "invalid character '.'"),
    ];
    for (args, message) in cases {
        let (status, _, stderr) = run(args, "")?;
        assert_eq!(status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    Ok(())
}

/// Another client sends escape sequences, bidi overrides and C1 controls; readers over
/// WebSocket (lines and JSON) and over TCP show them escaped and never write them raw.
#[test]
fn escape_sequences_from_a_peer_are_shown_escaped() -> Result {
    let server = server()?;
    let url = ws_url(server.addr());
    let addr = server.addr().to_string();
    let mut readers = [
        Client::start(&[&url, "--nick", "wsreader"])?,
        Client::start(&["--json", &url, "--nick", "jsonreader"])?,
        Client::start(&[&addr, "--nick", "tcpreader"])?,
    ];
    for (reader, nick) in readers
        .iter_mut()
        .zip(["wsreader", "jsonreader", "tcpreader"])
    {
        reader.send("/who")?; // the answer comes after the nick change
        reader.wait_for(nick)?;
        reader.wait_for("members")?;
    }
    let evil = "\u{1b}]0;pwned\u{7}\u{1b}[2Jboom \u{202e}txt\u{9b}31m\u{7f}";
    let mut peer = TcpStream::connect(server.addr())?;
    peer.write_all(format!("/nick mallory\n{evil}\n").as_bytes())?;
    for reader in &mut readers {
        reader.wait_for("boom")?;
    }
    peer.write_all(b"/quit\n")?;
    let shown = r"\x1b]0;pwned\x07\x1b[2Jboom \u{202e}txt\u{9b}31m\x7f";
    let shown_json = r#""text":"\u001b]0;pwned\u0007\u001b[2Jboom \u202etxt\u009b31m\u007f""#;
    for (reader, expected) in readers.into_iter().zip([shown, shown_json, shown]) {
        let (status, lines, stderr) = reader.finish()?;
        assert!(status.success(), "{status:?} {stderr}");
        let all = lines.join("\n");
        let raw: Vec<char> = all
            .chars()
            .filter(|c| rustchat_client::is_unsafe(*c) && *c != '\n')
            .collect();
        assert!(raw.is_empty(), "raw control characters {raw:?} in {all}");
        assert!(has(&lines, expected), "{expected} not in {lines:#?}");
        assert!(has(&lines, "mallory"), "{lines:#?}");
    }
    Ok(())
}
