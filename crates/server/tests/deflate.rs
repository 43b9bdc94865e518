//! End to end: permessage-deflate. The server takes a client's offer with no context takeover
//! either way, compresses each event once and queues the same compressed frame on every client
//! that negotiated it (history replays shrink the most), inflates what clients compress within
//! the message limit, and declines when `--deflate off`.

#[macro_use]
mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{
    LineClient, TIMEOUT, async_model, metric, metrics_over_http, pool, serve, small_window, threads,
};
use rustchat_proto::ServerEvent;
use rustchat_server::config::{HistoryMode, Model};
use rustchat_ws::frame::FrameHeader;
use rustchat_ws::handshake::ClientHandshake;
use rustchat_ws::{Config, Connection, DeflateConfig, DeflateParams, Event, Message, Role};

/// A JSON WebSocket client that keeps every frame it receives as raw bytes (to see what was
/// compressed, and how large it was on the wire) and decodes them with our library.
struct Client {
    stream: TcpStream,
    conn: Connection,
    /// Bytes received and not yet split into frames.
    unscanned: Vec<u8>,
    /// Data frames as received: (RSV1, the whole frame's bytes).
    frames: Vec<(bool, Bytes)>,
    deflate: Option<DeflateParams>,
    texts: Vec<String>,
}

impl Client {
    fn connect(addr: SocketAddr, offer: bool) -> Self {
        Self::over(TcpStream::connect(addr).expect("connect"), addr, offer)
    }

    fn over(mut stream: TcpStream, addr: SocketAddr, offer: bool) -> Self {
        stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
        let deflate = if offer {
            DeflateConfig::enabled().threshold(0)
        } else {
            DeflateConfig::default()
        };
        let handshake = ClientHandshake::builder(format!("ws://{addr}/ws"))
            .protocols(["rustchat.json"])
            .deflate(deflate)
            .build()
            .expect("a handshake");
        stream.write_all(&handshake.request()).expect("send");
        let mut buf = Vec::new();
        let (response, used) = loop {
            if let Some(done) = handshake.parse_response(&buf).expect("a valid 101") {
                break done;
            }
            let mut chunk = [0u8; 4096];
            let n = stream.read(&mut chunk).expect("read the response");
            assert!(n > 0, "closed during the handshake");
            buf.extend_from_slice(&chunk[..n]);
        };
        let params = response.deflate();
        let config = Config::default().deflate(deflate);
        let mut client = Self {
            stream,
            conn: Connection::with_deflate(Role::Client, config, params),
            unscanned: Vec::new(),
            frames: Vec::new(),
            deflate: params,
            texts: Vec::new(),
        };
        client.take(&buf[used..]);
        client
    }

    fn take(&mut self, bytes: &[u8]) {
        self.unscanned.extend_from_slice(bytes);
        while let Ok(Some((header, len))) = FrameHeader::parse(&self.unscanned) {
            let total = len + usize::try_from(header.payload_len).expect("small");
            if self.unscanned.len() < total {
                break;
            }
            let frame: Vec<u8> = self.unscanned.drain(..total).collect();
            if !header.opcode.is_control() {
                self.frames
                    .push((header.rsv & 0b100 != 0, Bytes::from(frame)));
            }
        }
        self.conn.receive(bytes);
    }

    /// Reads until a text message satisfies `pred`.
    fn expect(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            while let Some(event) = self.conn.next_event().expect("valid frames") {
                if let Event::Message(m) = event {
                    let text = m.as_text().expect("text").to_owned();
                    self.texts.push(text.clone());
                    if pred(&text) {
                        return text;
                    }
                }
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            let mut chunk = vec![0u8; 64 * 1024];
            let n = self.stream.read(&mut chunk).expect("read");
            assert!(n > 0, "closed while waiting for {what}");
            self.take(&chunk[..n]);
            self.flush();
        }
    }

    fn send(&mut self, text: &str) {
        self.conn
            .send(Message::text(text.to_owned()))
            .expect("open");
        self.flush();
    }

    fn flush(&mut self) {
        let out = self.conn.outbound().take_all();
        let _ = self.stream.write_all(&out);
    }

    /// The raw frame that carried the last message whose text contains `needle` (frames and
    /// messages are one to one here: the server does not fragment).
    fn frame_of(&mut self, needle: &str) -> (bool, Bytes) {
        let at = self
            .texts
            .iter()
            .rposition(|t| t.contains(needle))
            .unwrap_or_else(|| panic!("no message with {needle:?}"));
        self.frames[at].clone()
    }
}

/// A chat line as people write them.
fn chat(i: usize) -> String {
    let words = [
        "the", "borrow", "checker", "is", "happy", "now", "after", "I", "moved", "the", "clone",
        "into", "the", "loop", "and", "compile", "times", "went", "down",
    ];
    let n = 6 + i % 9;
    let text: Vec<&str> = (0..n)
        .map(|k| words[(i * 7 + k * 3) % words.len()])
        .collect();
    format!("{i}: {}", text.join(" "))
}

fn events_are_compressed_once_and_replays_shrink_most(model: Model) {
    let (server, _dir) = serve(|c| {
        c.model = model;
        c.history = HistoryMode::Memory;
        c.flood = None;
    });
    let addr = server.addr();
    let mut a = Client::connect(addr, true);
    let mut b = Client::connect(addr, true);
    let mut plain = Client::connect(addr, false);
    let params = a.deflate.expect("the server takes the offer");
    assert!(params.server_no_context_takeover && params.client_no_context_takeover);
    assert_eq!(plain.deflate, None);
    // In the room before anyone talks (a session joins #lobby after its 101, on its own time).
    for client in [&mut a, &mut b, &mut plain] {
        client.expect("the lobby's member list", |t| t.contains("\"members\""));
    }
    let mut talker = LineClient::named(addr, "talker");
    for i in 0..40 {
        talker.send(&chat(i));
    }
    let last = chat(39);
    for client in [&mut a, &mut b, &mut plain] {
        client.expect("the last line", |t| t.contains(&last));
    }
    let (a_rsv1, a_frame) = a.frame_of(&last);
    let (_, b_frame) = b.frame_of(&last);
    let (plain_rsv1, plain_frame) = plain.frame_of(&last);
    assert!(a_rsv1 && !plain_rsv1, "compressed for deflate clients only");
    assert_eq!(a_frame, b_frame, "one compressed frame, shared");
    assert!(
        a_frame.len() < plain_frame.len(),
        "{} vs {}",
        a_frame.len(),
        plain_frame.len()
    );

    // A joiner's replay: the history event, one frame.
    let mut joiner = Client::connect(addr, true);
    let mut plain_joiner = Client::connect(addr, false);
    for client in [&mut joiner, &mut plain_joiner] {
        client.expect("the replay", |t| {
            matches!(ServerEvent::from_json(t), Ok(ServerEvent::History { .. }))
        });
    }
    let (rsv1, compressed) = joiner.frame_of("\"history\"");
    let (_, uncompressed) = plain_joiner.frame_of("\"history\"");
    assert!(rsv1);
    eprintln!(
        "a replay of 40 chat lines: {} bytes compressed, {} plain",
        compressed.len(),
        uncompressed.len()
    );
    assert!(
        compressed.len() * 3 < uncompressed.len(),
        "a replay of 40 chat lines: {} bytes compressed, {} plain",
        compressed.len(),
        uncompressed.len()
    );
    assert_eq!(
        joiner.texts.last(),
        plain_joiner.texts.last(),
        "the same event"
    );

    // What a client compresses, the server inflates.
    let said = "compressed by the client, ".repeat(20);
    a.send(&format!(r#"{{"type":"say","text":"{said}"}}"#));
    talker.expect("the client's compressed message", |l| l.contains(&said));
}

scenarios!(async_model: events_are_compressed_once_and_replays_shrink_most);
scenarios!(threads: events_are_compressed_once_and_replays_shrink_most);
scenarios!(pool: events_are_compressed_once_and_replays_shrink_most);

#[test]
fn a_message_that_inflates_past_the_limit_is_refused_with_1009() {
    let (server, _dir) = serve(|c| {
        c.history = HistoryMode::Memory;
        c.max_ws_message = 16 * 1024;
    });
    let addr = server.addr();
    let mut bomber = Client::connect(addr, true);
    bomber.expect("the member list", |t| t.contains("\"members\""));
    let text = format!(r#"{{"type":"say","text":"{}"}}"#, "a".repeat(1 << 20));
    bomber.send(&text);
    let sent = bomber.frames.len();
    let deadline = Instant::now() + TIMEOUT;
    let close = loop {
        assert!(Instant::now() < deadline, "no close");
        let mut chunk = [0u8; 4096];
        let n = bomber.stream.read(&mut chunk).expect("read");
        assert!(n > 0, "closed without a Close frame");
        bomber.take(&chunk[..n]);
        match bomber.conn.next_event() {
            Ok(Some(Event::Close(frame))) => break frame,
            Ok(_) => {}
            Err(e) => panic!("{e}"),
        }
    };
    let close = close.expect("a code");
    assert_eq!(close.code.0, 1009, "{close:?}");
    assert!(close.reason.contains("16384"), "{close:?}");
    assert!(bomber.frames.len() >= sent);
    // Everyone else is fine.
    let mut other = LineClient::named(addr, "other");
    other.send("still here");
    other.expect("its own line", |l| l.contains("still here"));
}

#[test]
fn deflate_off_declines_every_offer() {
    let (server, _dir) = serve(|c| {
        c.history = HistoryMode::Memory;
        c.deflate = false;
    });
    let client = Client::connect(server.addr(), true);
    assert_eq!(client.deflate, None);
    let metrics = metrics_over_http(server.addr());
    assert_eq!(
        metric(&metrics, "rustchat_websocket_deflate_sessions_total"),
        0
    );
}

#[test]
fn metrics_count_the_sessions_that_negotiated_deflate() {
    let (server, _dir) = serve(|c| c.history = HistoryMode::Memory);
    let addr = server.addr();
    let _compressing = [Client::connect(addr, true), Client::connect(addr, true)];
    let _plain = Client::connect(addr, false);
    let metrics = metrics_over_http(addr);
    assert_eq!(
        metric(&metrics, "rustchat_websocket_deflate_sessions_total"),
        2
    );
    assert_eq!(metric(&metrics, "rustchat_websocket_sessions_total"), 3);
}

#[test]
fn a_slow_deflate_reader_gets_every_event_whole_and_in_order() {
    // Write-through and the driver taking over mid-event, with compressed frames: as
    // write_through.rs, over a small window.
    let (server, _dir) = serve(|c| {
        c.flood = None;
        c.history = HistoryMode::Memory;
        c.outbox_limit = 64 << 20;
    });
    let addr = server.addr();
    let mut slow = Client::over(small_window(addr, 4096), addr, true);
    slow.expect("the member list", |t| t.contains("\"members\""));
    let talker = LineClient::named(addr, "talker");
    let mut writer = talker.stream.try_clone().expect("clone");
    const MESSAGES: usize = 1500;
    let writing = std::thread::spawn(move || {
        for i in 0..MESSAGES {
            // Chat-like but varied: compresses, yet still several MiB in all.
            let line: String = (0..40)
                .map(|k| chat(i * 41 + k))
                .collect::<Vec<_>>()
                .join(" ");
            writer
                .write_all(format!("m{i:05} {}\n", &line[..line.len().min(3000)]).as_bytes())
                .expect("send");
        }
    });
    let mut next = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while next < MESSAGES {
        assert!(Instant::now() < deadline, "stuck at message {next}");
        std::thread::sleep(Duration::from_micros(200));
        let text = slow.expect("the next message", |t| t.contains("\"text\":\"m"));
        let at = text.find("\"text\":\"m").expect("found") + 9;
        let index: usize = text[at..at + 5].parse().expect("an index");
        assert_eq!(index, next, "in order, none lost or doubled");
        next += 1;
    }
    writing.join().expect("the writer");
    assert!(
        slow.frames.iter().filter(|(rsv1, _)| *rsv1).count() >= MESSAGES,
        "the messages came compressed"
    );
}
