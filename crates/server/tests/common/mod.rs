//! Helpers for the end-to-end tests: a server on `127.0.0.1:0` in a temporary data directory,
//! and clients that talk raw bytes to it — a line client, WebSocket clients (ours, and a raw
//! one that writes frames by hand), and a one-shot HTTP client.
//!
//! Every read has a timeout and every loop a bound, so a broken server fails a test with a
//! message showing what was received instead of hanging the suite.

#![allow(dead_code)] // each test file uses a different subset

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use rustchat_proto::ServerEvent;
use rustchat_server::config::Blocking;
use rustchat_server::config::{Model, ServerConfig};
use rustchat_server::server::{RunningServer, start};
use rustchat_ws::blocking::WebSocket;
use rustchat_ws::handshake::ClientHandshake;
use rustchat_ws::{CloseFrame, Event, Message};
use tempfile::TempDir;

pub(crate) mod tls;

/// How long any single expectation may wait.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(3);

/// A config for tests: port 0, the given data directory, short detect and grace periods.
pub(crate) fn config(dir: &std::path::Path) -> ServerConfig {
    ServerConfig {
        listen: vec!["127.0.0.1:0".parse().expect("a socket address")],
        data_dir: dir.to_path_buf(),
        detect_timeout: Duration::from_millis(50),
        shutdown_grace: Duration::from_millis(500),
        // Every test client comes from 127.0.0.1: the limits per address have their own test.
        max_connections_per_ip: 0,
        connect_rate: None,
        ..ServerConfig::default()
    }
}

/// Starts a server in a fresh temporary directory; `tune` adjusts the config first.
/// Keep the `TempDir` alive as long as the server (bind it to `_dir`, not `_`).
pub(crate) fn serve(tune: impl FnOnce(&mut ServerConfig)) -> (RunningServer, TempDir) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut config = config(dir.path());
    tune(&mut config);
    (start(config).expect("the server starts"), dir)
}

/// Shuts `server` down cleanly and checks that it took less than `limit`: nobody (a waiting
/// thread, a silent client) held it up.
pub(crate) fn shut_down_within(server: RunningServer, limit: Duration) {
    let asked = Instant::now();
    server.shutdown().expect("a clean shutdown");
    let took = asked.elapsed();
    assert!(
        took < limit,
        "shutdown took {took:?}, expected under {limit:?}"
    );
}

/// `mod $model { #[test] fn $scenario() … }`: each scenario — a `fn(Model)` of the calling
/// file — as a test under the model that `$model()` names (`async_model`, `threads`, `pool`,
/// `sequential`, imported from here), so one scenario runs under every model that can play it.
#[allow(unused_macros)] // used by the files that run scenarios under several models
macro_rules! scenarios {
    ($model:ident: $($scenario:ident),* $(,)?) => {
        mod $model {
            $(
                #[test]
                fn $scenario() {
                    super::$scenario(super::$model());
                }
            )*
        }
    };
}

/// The `async` model.
pub(crate) fn async_model() -> Model {
    Model::Async
}

/// A thread per connection, up to 8 spares.
pub(crate) fn threads() -> Model {
    Model::Blocking(Blocking::Threads(8))
}

/// A pool of 8 workers.
pub(crate) fn pool() -> Model {
    Model::Blocking(Blocking::Pool(8))
}

/// One connection at a time.
pub(crate) fn sequential() -> Model {
    Model::Blocking(Blocking::Sequential)
}

/// Starts a server with the test defaults.
pub(crate) fn serve_default() -> (RunningServer, TempDir) {
    serve(|_| {})
}

/// The value of a metric in a Prometheus text page (panics if absent).
pub(crate) fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("metric {name} not found in:\n{text}"))
}

/// Removes the `[HH:MM:SS] ` prefix of a timed event line, if any.
pub(crate) fn untimed(line: &str) -> &str {
    let b = line.as_bytes();
    let timed = b.len() >= 11
        && b[0] == b'['
        && b[3] == b':'
        && b[6] == b':'
        && b[9] == b']'
        && b[10] == b' ';
    if timed { &line[11..] } else { line }
}

/// Polls `check` every 10 ms until it holds, or panics after `limit` saying `what`.
pub(crate) fn eventually(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

// ---------------------------------------------------------------------------------------------
// Line client
// ---------------------------------------------------------------------------------------------

/// A stream a line client can talk over: a TCP socket, or TLS over one.
pub(crate) trait Wire: Read + Write {
    /// The TCP socket underneath (for timeouts).
    fn tcp(&self) -> &TcpStream;
}

impl Wire for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

/// A line-protocol client on a raw TCP socket (or on `S`: TLS over one, see `tls`).
#[derive(Debug)]
pub(crate) struct LineClient<S = TcpStream> {
    pub(crate) stream: S,
    buf: Vec<u8>,
    eof: bool,
    /// Every line received so far (without the newline).
    pub(crate) seen: Vec<String>,
}

impl LineClient {
    /// Connects without saying anything.
    pub(crate) fn connect(addr: SocketAddr) -> Self {
        Self::from_stream(TcpStream::connect(addr).expect("connect"))
    }

    /// Connects, presses Enter (an empty first line joins the chat), waits for the welcome
    /// (and the lobby member list that follows it) and returns the client with its guest nick.
    pub(crate) fn join(addr: SocketAddr) -> (Self, String) {
        Self::connect(addr).greeted()
    }

    /// Connects and takes the nick `nick`.
    pub(crate) fn named(addr: SocketAddr, nick: &str) -> Self {
        Self::connect(addr).renamed(nick)
    }
}

impl<S: Wire> LineClient<S> {
    /// A line client on a connection made by the caller (from another address, say).
    pub(crate) fn from_stream(stream: S) -> Self {
        let tcp = stream.tcp();
        tcp.set_nodelay(true).expect("nodelay");
        tcp.set_read_timeout(Some(TIMEOUT)).expect("timeout");
        tcp.set_write_timeout(Some(TIMEOUT)).expect("write timeout");
        Self {
            stream,
            buf: Vec::new(),
            eof: false,
            seen: Vec::new(),
        }
    }

    /// Presses Enter (an empty first line joins the chat), waits for the welcome (and the
    /// lobby member list that follows it) and returns the client with its guest nick.
    pub(crate) fn greeted(self) -> (Self, String) {
        let mut client = self;
        client.send("");
        let welcome = client.expect("the welcome", |l| l.starts_with("*** welcome, "));
        let nick = welcome["*** welcome, ".len()..]
            .split('!')
            .next()
            .expect("a nick")
            .to_owned();
        client.expect("the lobby member list", |l| {
            l.starts_with("*** members of #lobby")
        });
        (client, nick)
    }

    /// Joins and takes the nick `nick`.
    pub(crate) fn renamed(self, nick: &str) -> Self {
        let (mut client, guest) = self.greeted();
        client.send(&format!("/nick {nick}"));
        let want = format!("~ {guest} is now known as {nick}");
        client.expect_event(&want);
        client
    }

    /// Sends `line` and a newline.
    pub(crate) fn send(&mut self, line: &str) {
        let mut bytes = line.as_bytes().to_vec();
        bytes.push(b'\n');
        self.send_raw(&bytes);
    }

    /// Sends bytes as they are.
    pub(crate) fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write to the server");
    }

    /// The next line, `None` at end of stream; panics when nothing comes within `TIMEOUT`.
    pub(crate) fn next_line(&mut self) -> Option<String> {
        self.next_line_within(TIMEOUT).unwrap_or_else(|| {
            panic!(
                "no line within {TIMEOUT:?}; received so far:\n{}",
                self.dump()
            )
        })
    }

    /// The next line: `Some(None)` at end of stream, `None` if nothing came within `limit`.
    pub(crate) fn next_line_within(&mut self, limit: Duration) -> Option<Option<String>> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
                let raw: Vec<u8> = self.buf.drain(..=pos).collect();
                let line = String::from_utf8_lossy(&raw[..raw.len() - 1]).into_owned();
                self.seen.push(line.clone());
                return Some(Some(line));
            }
            if self.eof {
                return Some(None);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            self.stream
                .tcp()
                .set_read_timeout(Some(left))
                .expect("set timeout");
            let mut chunk = [0u8; 16 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => self.eof = true,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return None;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                // A reset counts as the end of the stream.
                Err(_) => self.eof = true,
            }
        }
    }

    /// Reads lines until one satisfies `pred`, and returns it; panics (showing what came) on
    /// end of stream or timeout.
    pub(crate) fn expect(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        self.expect_within(what, TIMEOUT, pred)
    }

    /// [`LineClient::expect`] with its own time limit: for lines that wait on a child process
    /// (an interpreter starting, a TLS handshake), which a loaded machine can slow past
    /// [`TIMEOUT`].
    pub(crate) fn expect_within(
        &mut self,
        what: &str,
        limit: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_line_within(left) {
                Some(Some(line)) if pred(&line) => return line,
                Some(Some(_)) => {}
                Some(None) => panic!(
                    "connection closed while waiting for {what}; received:\n{}",
                    self.dump()
                ),
                None => panic!("timed out waiting for {what}; received:\n{}", self.dump()),
            }
        }
    }

    /// Like [`LineClient::expect`], but a line already received (and skipped) counts too.
    pub(crate) fn saw_or_expect(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        match self.seen.iter().find(|l| pred(l)) {
            Some(line) => line.clone(),
            None => self.expect(what, pred),
        }
    }

    /// Waits for exactly this line.
    pub(crate) fn expect_exact(&mut self, want: &str) -> String {
        self.expect(&format!("{want:?}"), |l| l == want)
    }

    /// Waits for a timed event line whose text after `[HH:MM:SS] ` is exactly `want`.
    pub(crate) fn expect_event(&mut self, want: &str) -> String {
        self.expect(&format!("[HH:MM:SS] {want}"), |l| {
            untimed(l) != l && untimed(l) == want
        })
    }

    /// The next line must be exactly `want`.
    pub(crate) fn next_is(&mut self, want: &str) {
        let got = self.next_line();
        assert_eq!(
            got.as_deref(),
            Some(want),
            "unexpected next line; received:\n{}",
            self.dump()
        );
    }

    /// Reads until the server closes; returns the lines read on the way.
    pub(crate) fn expect_eof(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_line_within(left) {
                Some(Some(line)) => lines.push(line),
                Some(None) => return lines,
                None => panic!(
                    "the server did not close the connection; received:\n{}",
                    self.dump()
                ),
            }
        }
    }

    /// Asserts that nothing arrives within `quiet`.
    pub(crate) fn expect_silence(&mut self, quiet: Duration) {
        if let Some(got) = self.next_line_within(quiet) {
            panic!("expected silence, got {got:?}; received:\n{}", self.dump());
        }
    }

    /// Sends `/who` and waits for the members of the current room (a round trip that also
    /// proves every earlier event has been delivered).
    pub(crate) fn sync(&mut self) -> String {
        self.send("/who");
        self.expect("a /who answer", |l| l.starts_with("*** members of "))
    }

    fn dump(&self) -> String {
        let mut out: Vec<String> = self.seen.iter().map(|l| format!("  | {l}")).collect();
        if !self.buf.is_empty() {
            out.push(format!(
                "  | (partial) {}",
                String::from_utf8_lossy(&self.buf)
            ));
        }
        if self.eof {
            out.push("  (end of stream)".into());
        }
        out.join("\n")
    }
}

// ---------------------------------------------------------------------------------------------
// WebSocket client (ours)
// ---------------------------------------------------------------------------------------------

/// A WebSocket client built on `rustchat_ws::blocking`.
#[derive(Debug)]
pub(crate) struct WsClient<S = TcpStream> {
    pub(crate) ws: WebSocket<S>,
    /// The subprotocol the server chose.
    pub(crate) protocol: Option<String>,
    /// Every text message received so far.
    pub(crate) seen: Vec<String>,
}

impl WsClient {
    /// Connects to `/ws`, offering `protocols`.
    pub(crate) fn connect(addr: SocketAddr, protocols: &[&str]) -> Self {
        let handshake = ClientHandshake::builder(format!("ws://{addr}/ws"))
            .protocols(protocols.iter().copied())
            .build()
            .expect("a handshake");
        let (ws, response) = WebSocket::connect_with(&handshake, rustchat_ws::Config::default())
            .expect("the WebSocket handshake");
        ws.get_ref()
            .set_read_timeout(Some(TIMEOUT))
            .expect("timeout");
        Self {
            ws,
            protocol: response.protocol().map(str::to_owned),
            seen: Vec::new(),
        }
    }

    /// Connects with the `rustchat.json` subprotocol and waits for the welcome and the lobby
    /// member list; returns the client and its guest nick.
    pub(crate) fn join_json(addr: SocketAddr) -> (Self, String) {
        let mut client = Self::connect(addr, &["rustchat.json"]);
        assert_eq!(client.protocol.as_deref(), Some("rustchat.json"));
        let (_, welcome) =
            client.expect_json("welcome", |e| matches!(e, ServerEvent::Welcome { .. }));
        let ServerEvent::Welcome { nick, .. } = welcome else {
            unreachable!()
        };
        client.expect_json("lobby members", |e| {
            matches!(e, ServerEvent::Members { .. })
        });
        (client, nick.to_string())
    }

    /// Joins with JSON and takes `nick`.
    pub(crate) fn named_json(addr: SocketAddr, nick: &str) -> Self {
        let (client, _) = Self::join_json(addr);
        client.renamed_json(nick)
    }
}

impl<S: Read + Write> WsClient<S> {
    /// A client over a WebSocket made by the caller (over TLS, say).
    pub(crate) fn over(ws: WebSocket<S>, protocol: Option<String>) -> Self {
        Self {
            ws,
            protocol,
            seen: Vec::new(),
        }
    }

    /// Takes `nick` (a JSON client).
    pub(crate) fn renamed_json(self, nick: &str) -> Self {
        let mut client = self;
        client.send_text(&format!(r#"{{"type":"nick","nick":"{nick}"}}"#));
        client.expect_json(
            "our nick change",
            |e| matches!(e, ServerEvent::NickChanged { new, .. } if new.as_str() == nick),
        );
        client
    }

    /// Sends a text frame.
    pub(crate) fn send_text(&mut self, text: &str) {
        self.ws
            .send(Message::text(text.to_owned()))
            .expect("send a text frame");
    }

    /// Sends a binary frame.
    pub(crate) fn send_binary(&mut self, data: &[u8]) {
        self.ws
            .send(Message::binary(data.to_vec()))
            .expect("send a binary frame");
    }

    /// The next event (pings are answered on the way by the library; they are returned too).
    pub(crate) fn next_event(&mut self) -> Event {
        match self.ws.next_event() {
            Ok(Some(event)) => {
                if let Event::Message(m) = &event
                    && let Some(text) = m.as_text()
                {
                    self.seen.push(text.to_owned());
                }
                event
            }
            Ok(None) => panic!("the connection is closed; received:\n{}", self.dump()),
            Err(e) => panic!("WebSocket read failed: {e}; received:\n{}", self.dump()),
        }
    }

    /// Reads text messages until one satisfies `pred`.
    pub(crate) fn expect_text(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; received:\n{}",
                self.dump()
            );
            match self.next_event() {
                Event::Message(m) => {
                    let text = m
                        .as_text()
                        .unwrap_or_else(|| panic!("a binary message while waiting for {what}"))
                        .to_owned();
                    if pred(&text) {
                        return text;
                    }
                }
                Event::Close(frame) => panic!(
                    "closed ({frame:?}) while waiting for {what}; received:\n{}",
                    self.dump()
                ),
                Event::Ping(_) | Event::Pong(_) => {}
            }
        }
    }

    /// Reads JSON events until one satisfies `pred`; returns its raw text and the event.
    pub(crate) fn expect_json(
        &mut self,
        what: &str,
        pred: impl Fn(&ServerEvent) -> bool,
    ) -> (String, ServerEvent) {
        let text = self.expect_text(what, |text| {
            ServerEvent::from_json(text).is_ok_and(|event| pred(&event))
        });
        let event = ServerEvent::from_json(&text).expect("parsed just now");
        (text, event)
    }

    /// The next text message, which must be a JSON event.
    pub(crate) fn next_json(&mut self) -> (String, ServerEvent) {
        let text = self.expect_text("any text message", |_| true);
        let event = ServerEvent::from_json(&text)
            .unwrap_or_else(|e| panic!("not a JSON event ({e}): {text}"));
        (text, event)
    }

    /// Reads until the server's Close frame; returns it.
    pub(crate) fn expect_close(&mut self) -> Option<CloseFrame> {
        for _ in 0..10_000 {
            match self.ws.next_event() {
                Ok(Some(Event::Close(frame))) => return frame,
                Ok(Some(Event::Message(m))) => {
                    if let Some(text) = m.as_text() {
                        self.seen.push(text.to_owned());
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) => panic!("closed without a Close frame; received:\n{}", self.dump()),
                Err(e) => panic!("no Close frame ({e}); received:\n{}", self.dump()),
            }
        }
        panic!("no Close frame after 10000 events")
    }

    fn dump(&self) -> String {
        let out: Vec<String> = self.seen.iter().map(|l| format!("  | {l}")).collect();
        out.join("\n")
    }
}

// ---------------------------------------------------------------------------------------------
// Raw WebSocket client: frames written by hand
// ---------------------------------------------------------------------------------------------

/// A frame the server sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawFrame {
    pub(crate) fin: bool,
    pub(crate) opcode: u8,
    pub(crate) payload: Vec<u8>,
}

impl RawFrame {
    /// The close code and reason of a Close frame.
    pub(crate) fn close(&self) -> (u16, String) {
        assert_eq!(self.opcode, 0x8, "not a Close frame: {self:?}");
        assert!(self.payload.len() >= 2, "a Close frame without a code");
        let code = u16::from_be_bytes([self.payload[0], self.payload[1]]);
        (
            code,
            String::from_utf8_lossy(&self.payload[2..]).into_owned(),
        )
    }
}

/// The upgrade request for `/ws` with extra header lines (each ending in `\r\n`).
pub(crate) fn upgrade_request(addr: SocketAddr, extra: &str) -> String {
    format!(
        "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

/// A TCP connection to `addr` with a receive buffer of about `size` bytes: the server's
/// writes to it come up short as soon as the client reads slowly, or not at all (the client
/// that reads nothing of the slow-consumer tests).
pub(crate) fn small_window(addr: SocketAddr, size: usize) -> TcpStream {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("a socket");
    socket.set_recv_buffer_size(size).expect("SO_RCVBUF");
    socket.connect(&addr.into()).expect("connect");
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    stream
}

/// A WebSocket client that does the handshake and framing by hand, to send what a correct
/// client never would and to ignore what a correct client must answer.
#[derive(Debug)]
pub(crate) struct RawWs {
    pub(crate) stream: TcpStream,
    buf: Vec<u8>,
}

impl RawWs {
    /// Connects and upgrades; panics unless the answer is 101.
    pub(crate) fn connect(addr: SocketAddr) -> Self {
        Self::upgrade(TcpStream::connect(addr).expect("connect"), addr)
    }

    /// Like [`connect`](Self::connect), with a receive buffer of about `size` bytes, so that
    /// the server's writes come up short as soon as the client reads a little slowly.
    pub(crate) fn connect_small_window(addr: SocketAddr, size: usize) -> Self {
        Self::upgrade(small_window(addr, size), addr)
    }

    fn upgrade(stream: TcpStream, addr: SocketAddr) -> Self {
        stream.set_nodelay(true).expect("nodelay");
        stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
        let mut raw = Self {
            stream,
            buf: Vec::new(),
        };
        raw.send_raw(upgrade_request(addr, "").as_bytes());
        let head = raw.read_head();
        assert!(
            head.starts_with("HTTP/1.1 101 "),
            "expected 101 Switching Protocols, got:\n{head}"
        );
        assert!(
            head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
            "wrong Sec-WebSocket-Accept:\n{head}"
        );
        raw
    }

    /// Reads up to the end of an HTTP head; returns it (the rest stays buffered).
    fn read_head(&mut self) -> String {
        for _ in 0..1000 {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head: Vec<u8> = self.buf.drain(..end + 4).collect();
                return String::from_utf8_lossy(&head).into_owned();
            }
            assert!(self.fill(), "closed during the handshake");
        }
        panic!("no end of HTTP head")
    }

    /// Reads more bytes; `false` at end of stream (or reset).
    fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 16 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("timed out reading from the server")
            }
            Err(_) => false,
        }
    }

    /// Writes bytes as they are (errors ignored: the server may have closed already).
    pub(crate) fn send_raw(&mut self, bytes: &[u8]) {
        let _ = self.stream.write_all(bytes);
    }

    /// Sends one masked frame.
    pub(crate) fn send_frame(&mut self, fin: bool, opcode: u8, payload: &[u8]) {
        self.send_raw(&client_frame(fin, opcode, payload));
    }

    /// The next frame; `None` at end of stream. Panics on timeout.
    pub(crate) fn read_frame(&mut self) -> Option<RawFrame> {
        loop {
            if let Some((frame, used)) = parse_server_frame(&self.buf) {
                self.buf.drain(..used);
                return Some(frame);
            }
            if !self.fill() {
                return None;
            }
        }
    }

    /// Reads frames until a Close; returns its code and reason. Panics on end of stream first.
    pub(crate) fn expect_close(&mut self) -> (u16, String) {
        let mut skipped = Vec::new();
        for _ in 0..10_000 {
            match self.read_frame() {
                Some(frame) if frame.opcode == 0x8 => return frame.close(),
                Some(frame) => skipped.push(frame),
                None => panic!("end of stream before a Close frame; frames: {skipped:?}"),
            }
        }
        panic!("no Close frame in 10000 frames")
    }

    /// Reads text frames until one satisfies `pred`.
    pub(crate) fn expect_text(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        for _ in 0..10_000 {
            match self.read_frame() {
                Some(frame) if frame.opcode == 0x1 => {
                    let text = String::from_utf8_lossy(&frame.payload).into_owned();
                    if pred(&text) {
                        return text;
                    }
                }
                Some(frame) if frame.opcode == 0x8 => {
                    panic!("closed {:?} while waiting for {what}", frame.close())
                }
                Some(_) => {}
                None => panic!("end of stream while waiting for {what}"),
            }
        }
        panic!("{what} not found in 10000 frames")
    }

    /// Asserts the server closes TCP (after whatever frames) within the read timeout.
    pub(crate) fn expect_eof(&mut self) {
        for _ in 0..10_000 {
            if self.read_frame().is_none() {
                return;
            }
        }
        panic!("the server kept sending")
    }
}

/// A masked client frame (mask key 1, 2, 3, 4).
pub(crate) fn client_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![u8::from(fin) << 7 | opcode];
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len <= 0xffff {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    let key = [1u8, 2, 3, 4];
    out.extend_from_slice(&key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out
}

/// Parses one unmasked server frame from `buf`: the frame and the bytes it used.
fn parse_server_frame(buf: &[u8]) -> Option<(RawFrame, usize)> {
    if buf.len() < 2 {
        return None;
    }
    assert_eq!(buf[1] & 0x80, 0, "a server frame must not be masked");
    let (len, mut at) = match buf[1] & 0x7f {
        126 => (
            u64::from(u16::from_be_bytes([*buf.get(2)?, *buf.get(3)?])),
            4,
        ),
        127 => {
            let bytes: [u8; 8] = buf.get(2..10)?.try_into().ok()?;
            (u64::from_be_bytes(bytes), 10)
        }
        n => (u64::from(n), 2),
    };
    let len = usize::try_from(len).expect("a frame length that fits");
    let payload = buf.get(at..at + len)?.to_vec();
    at += len;
    let frame = RawFrame {
        fin: buf[0] & 0x80 != 0,
        opcode: buf[0] & 0x0f,
        payload,
    };
    Some((frame, at))
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

/// An HTTP answer.
#[derive(Debug)]
pub(crate) struct HttpResponse {
    pub(crate) status: u16,
    pub(crate) head: String,
    pub(crate) body: String,
}

impl HttpResponse {
    /// A header's value (case-insensitive name).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Sends `request` and reads the answer up to the server's close.
pub(crate) fn http_raw(addr: SocketAddr, request: &[u8]) -> HttpResponse {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    stream.write_all(request).expect("send the request");
    read_response(&mut stream)
}

/// Reads an HTTP answer up to the server's close (or reset after the answer).
pub(crate) fn read_response(stream: &mut TcpStream) -> HttpResponse {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let deadline = Instant::now() + TIMEOUT;
    loop {
        assert!(Instant::now() < deadline, "the answer did not end");
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!(
                    "timed out reading an HTTP answer; got so far: {:?}",
                    String::from_utf8_lossy(&bytes)
                )
            }
            Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("not an HTTP answer: {text:?}"));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    HttpResponse {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

/// `GET path` with `Host` and `Connection: close`.
pub(crate) fn http_get(addr: SocketAddr, path: &str) -> HttpResponse {
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    http_raw(addr, request.as_bytes())
}

/// The server's `/metrics` page, fetched over HTTP.
pub(crate) fn metrics_over_http(addr: SocketAddr) -> String {
    let response = http_get(addr, "/metrics");
    assert_eq!(response.status, 200, "{response:?}");
    response.body
}
