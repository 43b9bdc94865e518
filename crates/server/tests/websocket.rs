//! End to end: WebSocket clients — ours (blocking and tokio), tungstenite, and frames written by
//! hand — in the JSON and line protocols, mixed with line clients in one room.

#[macro_use]
mod common;

use rustchat_server::config::Model;

use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Barrier};
use std::time::Instant;

use common::{LineClient, RawWs, TIMEOUT, WsClient, serve, untimed};
use rustchat_proto::{ErrorKind, ServerEvent};
use rustchat_ws::{CloseCode, CloseFrame, Event, Message};

/// A room message as every client can name it: `nick|text`.
fn from_line(line: &str) -> Option<String> {
    let rest = untimed(line).strip_prefix("#lobby <")?;
    let (nick, text) = rest.split_once("> ")?;
    Some(format!("{nick}|{text}"))
}

/// A room message from a JSON event, with its id and ts.
fn from_json(text: &str) -> Option<(String, u64, u64)> {
    match ServerEvent::from_json(text).ok()? {
        ServerEvent::Message(m) => Some((format!("{}|{}", m.from, m.text), m.id, m.ts)),
        _ => None,
    }
}

const SENDERS: usize = 6;
const EACH: usize = 5;

/// What each client saw: the room messages in order, and (JSON clients) their ids.
type Seen = (Vec<String>, Vec<u64>);

fn line_client(addr: SocketAddr, nick: &str, start: &Barrier) -> Seen {
    let mut client = LineClient::named(addr, nick);
    start.wait();
    for i in 0..EACH {
        client.send(&format!("{nick} says {i}"));
    }
    let mut seen = Vec::new();
    while seen.len() < SENDERS * EACH {
        let line = client.expect("a room message", |l| from_line(l).is_some());
        seen.extend(from_line(&line));
    }
    (seen, Vec::new())
}

/// Our blocking client; `json` picks the JSON subprotocol (else it sends and reads lines).
fn ws_client(addr: SocketAddr, nick: &str, json: bool, start: &Barrier) -> Seen {
    let mut client = if json {
        WsClient::named_json(addr, nick)
    } else {
        let mut client = WsClient::connect(addr, &[]);
        assert_eq!(client.protocol, None);
        client.expect_text("the welcome line", |t| t.starts_with("*** welcome, "));
        client.send_text(&format!("/nick {nick}"));
        client.expect_text("the nick change", |t| {
            untimed(t).ends_with(&format!(" is now known as {nick}"))
        });
        client
    };
    start.wait();
    let sent_at = now_ms();
    for i in 0..EACH {
        if json {
            client.send_text(&format!(r#"{{"type":"say","text":"{nick} says {i}"}}"#));
        } else {
            client.send_text(&format!("{nick} says {i}"));
        }
    }
    let (mut seen, mut ids) = (Vec::new(), Vec::new());
    while seen.len() < SENDERS * EACH {
        if json {
            let text = client.expect_text("a message event", |t| from_json(t).is_some());
            let (said, id, ts) = from_json(&text).expect("checked");
            if said.starts_with(&format!("{nick}|")) {
                // The sender's confirmation carries the server's id and time.
                assert!(id > 0, "{text}");
                assert!(ts + 5_000 >= sent_at && ts <= now_ms() + 5_000, "{text}");
            }
            seen.push(said);
            ids.push(id);
        } else {
            let text = client.expect_text("a message line", |t| from_line(t).is_some());
            seen.extend(from_line(&text));
        }
    }
    (seen, ids)
}

/// tungstenite (an independent implementation), no subprotocol, speaking JSON.
fn tungstenite_client(addr: SocketAddr, nick: &str, start: &Barrier) -> Seen {
    let tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    let (mut ws, _) =
        tungstenite::client(format!("ws://{addr}/ws"), tcp).expect("tungstenite handshake");
    let read_text = |ws: &mut tungstenite::WebSocket<TcpStream>| loop {
        match ws.read().expect("tungstenite read") {
            tungstenite::Message::Text(text) => return text.to_string(),
            tungstenite::Message::Close(frame) => panic!("closed: {frame:?}"),
            _ => {}
        }
    };
    // Before it says anything in JSON, it is spoken to in lines.
    let welcome = read_text(&mut ws);
    assert!(welcome.starts_with("*** welcome, guest-"), "{welcome}");
    ws.send(tungstenite::Message::text(format!(
        r#"{{"type":"nick","nick":"{nick}"}}"#
    )))
    .expect("send");
    let deadline = Instant::now() + TIMEOUT;
    loop {
        assert!(Instant::now() < deadline, "no JSON nick change");
        let text = read_text(&mut ws);
        if let Ok(ServerEvent::NickChanged { new, .. }) = ServerEvent::from_json(&text)
            && new.as_str() == nick
        {
            break;
        }
    }
    start.wait();
    for i in 0..EACH {
        let frame = format!(r#"{{"type":"say","text":"{nick} says {i}"}}"#);
        ws.send(tungstenite::Message::text(frame)).expect("send");
    }
    let (mut seen, mut ids) = (Vec::new(), Vec::new());
    while seen.len() < SENDERS * EACH {
        assert!(Instant::now() < deadline + TIMEOUT, "tungstenite: too slow");
        if let Some((said, id, _)) = from_json(&read_text(&mut ws)) {
            seen.push(said);
            ids.push(id);
        }
    }
    (seen, ids)
}

/// Our tokio client, with the `rustchat.line` subprotocol.
fn tokio_client(addr: SocketAddr, nick: &str, start: &Barrier) -> Seen {
    use rustchat_ws::handshake::ClientHandshake;
    use rustchat_ws::tokio::WebSocketStream;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let (mut ws, protocol) = runtime.block_on(async {
        let handshake = ClientHandshake::builder(format!("ws://{addr}/ws"))
            .protocols(["rustchat.line"])
            .build()
            .expect("handshake");
        let (ws, response) = WebSocketStream::connect_with(&handshake, Default::default())
            .await
            .expect("tokio connect");
        (ws, response.protocol().map(str::to_owned))
    });
    assert_eq!(protocol.as_deref(), Some("rustchat.line"));
    let next_text = |ws: &mut WebSocketStream<tokio::net::TcpStream>| {
        runtime.block_on(async {
            let message = tokio::time::timeout(TIMEOUT, ws.recv())
                .await
                .expect("a message in time")
                .expect("read")
                .expect("not closed");
            message.as_text().expect("a text message").to_owned()
        })
    };
    let send = |ws: &mut WebSocketStream<tokio::net::TcpStream>, text: String| {
        runtime
            .block_on(ws.send(Message::text(text)))
            .expect("send");
    };
    send(&mut ws, format!("/nick {nick}"));
    let deadline = Instant::now() + TIMEOUT;
    while !untimed(&next_text(&mut ws)).ends_with(&format!("is now known as {nick}")) {
        assert!(Instant::now() < deadline, "no nick change");
    }
    start.wait();
    for i in 0..EACH {
        // JSON requests are understood, but the subprotocol fixes replies to lines.
        send(
            &mut ws,
            format!(r#"{{"type":"say","text":"{nick} says {i}"}}"#),
        );
    }
    let mut seen = Vec::new();
    while seen.len() < SENDERS * EACH {
        assert!(
            Instant::now() < deadline + TIMEOUT,
            "tokio client: too slow"
        );
        let text = next_text(&mut ws);
        assert!(!text.starts_with('{'), "line subprotocol got JSON: {text}");
        seen.extend(from_line(&text));
    }
    (seen, Vec::new())
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn mixed_clients_see_every_message_in_the_same_order(model: Model) {
    let (server, _dir) = serve(|c| c.model = model);
    let addr = server.addr();
    let start = Arc::new(Barrier::new(SENDERS));
    type Client = fn(SocketAddr, &str, &Barrier) -> Seen;
    let clients: [(&str, Client); SENDERS] = [
        ("lineA", line_client),
        ("lineB", line_client),
        ("wsjson", |a, n, b| ws_client(a, n, true, b)),
        ("wsline", |a, n, b| ws_client(a, n, false, b)),
        ("tung", tungstenite_client),
        ("wstokio", tokio_client),
    ];
    let handles: Vec<_> = clients
        .into_iter()
        .map(|(nick, run)| {
            let start = start.clone();
            let handle = std::thread::spawn(move || run(addr, nick, &start));
            (nick, handle)
        })
        .collect();
    let results: Vec<(&str, Seen)> = handles
        .into_iter()
        .map(|(nick, h)| (nick, h.join().unwrap_or_else(|_| panic!("{nick} failed"))))
        .collect();

    let (first_nick, (reference, _)) = &results[0];
    let mut expected: Vec<String> = ["lineA", "lineB", "wsjson", "wsline", "tung", "wstokio"]
        .iter()
        .flat_map(|nick| (0..EACH).map(move |i| format!("{nick}|{nick} says {i}")))
        .collect();
    let mut got = reference.clone();
    got.sort();
    expected.sort();
    assert_eq!(got, expected, "every message, exactly once");
    for (nick, (seen, ids)) in &results {
        assert_eq!(
            seen, reference,
            "{nick} and {first_nick} disagree on the order"
        );
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "{nick}: ids not increasing: {ids:?}"
        );
    }
    let (_, (_, json_ids)) = &results[2];
    let (_, (_, tung_ids)) = &results[4];
    assert_eq!(json_ids, tung_ids, "both JSON clients saw the same ids");
}

fn json_events_carry_every_field(model: Model) {
    let (server, _dir) = serve(|c| {
        c.model = model;
        c.hub.motd = Some("Be kind.".into());
    });
    let mut alice = WsClient::connect(server.addr(), &["rustchat.json"]);
    assert_eq!(alice.protocol.as_deref(), Some("rustchat.json"));
    let (raw, _) = alice.next_json();
    assert_eq!(
        raw,
        r##"{"type":"welcome","nick":"guest-1","room":"#lobby","motd":"Be kind.","account":null}"##
    );
    let (raw, event) = alice.next_json();
    let ServerEvent::Joined { ts, .. } = event else {
        panic!("expected joined, got {raw}")
    };
    assert_eq!(
        raw,
        format!(r##"{{"type":"joined","room":"#lobby","nick":"guest-1","ts":{ts}}}"##)
    );
    let (raw, _) = alice.next_json();
    assert_eq!(
        raw,
        r##"{"type":"members","room":"#lobby","nicks":["guest-1"],"roles":{}}"##
    );

    alice.send_text(r#"{"type":"nick","nick":"alice"}"#);
    let (raw, event) = alice.next_json();
    let ServerEvent::NickChanged { ts, .. } = event else {
        panic!("{raw}")
    };
    assert_eq!(
        raw,
        format!(r#"{{"type":"nick_changed","old":"guest-1","new":"alice","ts":{ts}}}"#)
    );

    alice.send_text(r#"{"type":"say","text":"hello\nworld","from":"root","id":1}"#);
    let (raw, event) = alice.next_json();
    let ServerEvent::Message(m) = event else {
        panic!("{raw}")
    };
    assert_eq!(
        raw,
        format!(
            r##"{{"type":"message","id":{},"ts":{},"room":"#lobby","from":"alice","text":"hello\nworld","action":false}}"##,
            m.id, m.ts
        )
    );
    let first_id = m.id;
    alice.send_text(r#"{"type":"me","text":"waves"}"#);
    let (_, event) = alice.next_json();
    let ServerEvent::Message(m) = event else {
        panic!("expected a message")
    };
    assert!(m.action && m.id == first_id + 1, "{m:?}");

    alice.send_text(r#"{"type":"msg","to":"ALICE","text":"note to self"}"#);
    let (raw, event) = alice.next_json();
    let ServerEvent::Private { id, ts, .. } = event else {
        panic!("{raw}")
    };
    assert_eq!(
        raw,
        format!(
            r#"{{"type":"private","id":{id},"ts":{ts},"from":"alice","to":"alice","text":"note to self"}}"#
        )
    );
    alice.send_text(r#"{"type":"list"}"#);
    assert_eq!(
        alice.next_json().0,
        r##"{"type":"rooms","rooms":[{"room":"#lobby","members":1}]}"##
    );
    alice.send_text(r#"{"type":"history","limit":1}"#);
    let (raw, _) = alice.next_json();
    assert!(
        raw.starts_with(r##"{"type":"history","room":"#lobby","messages":[{"id":"##)
            && raw.contains(r#""text":"waves","action":true}]}"#),
        "{raw}"
    );
    alice.send_text(r#"{"type":"help"}"#);
    let (raw, event) = alice.next_json();
    assert!(
        matches!(&event, ServerEvent::Info { text } if text.starts_with("commands:\n")),
        "{raw}"
    );
    alice.send_text(r#"{"type":"command","line":"/join #rust"}"#);
    let (raw, _) = alice.next_json();
    assert!(
        raw.starts_with(r##"{"type":"joined","room":"#rust","nick":"alice","ts":"##),
        "{raw}"
    );
    assert_eq!(
        alice.next_json().0,
        r##"{"type":"members","room":"#rust","nicks":["alice"],"roles":{}}"##
    );
    alice.send_text(r##"{"type":"part","room":"#rust"}"##);
    let (raw, event) = alice.next_json();
    let ServerEvent::Left { ts, .. } = event else {
        panic!("{raw}")
    };
    assert_eq!(
        raw,
        format!(r##"{{"type":"left","room":"#rust","nick":"alice","ts":{ts},"reason":null}}"##)
    );
    assert_eq!(
        alice.next_json().0,
        r#"{"type":"info","text":"your current room is now #lobby"}"#
    );

    // JSON errors: a kind for programs, a message for people.
    let errors = [
        (
            r#"{"type":"dance"}"#,
            r#"{"type":"error","kind":"invalid_json","message":"unknown type \"dance\": expected one of say, nick, join, part, msg, me, who, list, history, help, quit, register, login, logout, passwd, token, tokens, revoke, room_register, kick, ban, unban, mute, unmute, op, deop, voice, devoice, topic, mode, invite, redact, suspend, unsuspend, kline, unkline, klines, command"}"#,
        ),
        (
            r#"{"type":"msg","to":"bob"}"#,
            r#"{"type":"error","kind":"invalid_json","message":"missing field \"text\" in a \"msg\" message: expected a string"}"#,
        ),
        (
            r#"{"type":"history","limit":"5"}"#,
            r#"{"type":"error","kind":"invalid_json","message":"field \"limit\" must be a number, got a string"}"#,
        ),
        (
            r#"{"type":"nick","nick":"root"}"#,
            r#"{"type":"error","kind":"invalid_nick","message":"nick root is reserved: pick another with /nick <name>"}"#,
        ),
        (
            r#"{"type":"msg","to":"bob","text":"hi"}"#,
            r#"{"type":"error","kind":"no_such_nick","message":"no such nick: nobody called bob is connected — /who #room shows who is in a room"}"#,
        ),
    ];
    for (sent, want) in errors {
        alice.send_text(sent);
        assert_eq!(alice.next_json().0, want, "answer to {sent}");
    }
    alice.send_text("{");
    let (_, event) = alice.next_json();
    assert!(
        matches!(&event, ServerEvent::Error { kind: ErrorKind::InvalidJson, message } if message.starts_with("invalid JSON (")),
        "{event:?}"
    );

    alice.send_text(r#"{"type":"quit","reason":"done"}"#);
    assert_eq!(
        alice.next_json().0,
        r#"{"type":"bye","reason":"goodbye (done)"}"#
    );
    let close = alice.expect_close().expect("a close code");
    assert_eq!(close.code, CloseCode::NORMAL);
}

fn the_first_json_message_switches_replies_to_json(model: Model) {
    let (server, _dir) = serve(|c| c.model = model);
    let mut ws = WsClient::connect(server.addr(), &[]);
    assert_eq!(ws.protocol, None, "no subprotocol offered, none chosen");
    // Until it speaks JSON, a client is spoken to in lines, one per text frame.
    assert_eq!(
        ws.expect_text("welcome", |_| true),
        "*** welcome, guest-1! you are in #lobby; /help lists the commands"
    );
    let joined = ws.expect_text("joined", |_| true);
    assert_eq!(untimed(&joined), "-> guest-1 joined #lobby");
    assert_eq!(
        ws.expect_text("members", |_| true),
        "*** members of #lobby (1): guest-1"
    );
    ws.send_text("a plain line");
    let said = ws.expect_text("said", |_| true);
    assert_eq!(untimed(&said), "#lobby <guest-1> a plain line");
    ws.send_text("/who");
    assert_eq!(
        ws.expect_text("who", |_| true),
        "*** members of #lobby (1): guest-1"
    );

    ws.send_text(r#"  {"type":"who"}"#);
    assert_eq!(
        ws.next_json().0,
        r##"{"type":"members","room":"#lobby","nicks":["guest-1"],"roles":{}}"##
    );
    // From then on, everything is JSON, also the answers to plain lines.
    ws.send_text("/list");
    assert_eq!(
        ws.next_json().0,
        r##"{"type":"rooms","rooms":[{"room":"#lobby","members":1}]}"##
    );
    ws.send_text("/foo");
    assert_eq!(
        ws.next_json().0,
        r#"{"type":"error","kind":"unknown_command","message":"unknown command /foo — try /help"}"#
    );
    // Events from others are JSON too.
    let mut bob = LineClient::named(server.addr(), "bob");
    bob.send("hi json");
    let (_, event) = ws.expect_json("bob's message", |e| matches!(e, ServerEvent::Message(_)));
    let ServerEvent::Message(m) = event else {
        unreachable!()
    };
    assert_eq!((m.from.as_str(), m.text.as_str()), ("bob", "hi json"));
}

fn the_line_subprotocol_keeps_lines_even_for_json_requests(model: Model) {
    let (server, _dir) = serve(|c| c.model = model);
    let mut ws = WsClient::connect(server.addr(), &["rustchat.line"]);
    assert_eq!(ws.protocol.as_deref(), Some("rustchat.line"));
    ws.expect_text("welcome", |t| t.starts_with("*** welcome, guest-1!"));
    ws.send_text(r#"{"type":"say","text":"json in, lines out"}"#);
    let said = ws.expect_text("said", |t| t.contains("json in"));
    assert_eq!(untimed(&said), "#lobby <guest-1> json in, lines out");
    ws.send_text(r#"{"type":"dance"}"#);
    assert_eq!(
        ws.expect_text("error", |_| true),
        "ERROR unknown type \"dance\": expected one of say, nick, join, part, msg, me, who, list, \
         history, help, quit, register, login, logout, passwd, token, tokens, revoke, room_register, kick, ban, unban, mute, unmute, op, deop, voice, devoice, topic, mode, invite, redact, suspend, unsuspend, kline, unkline, klines, command"
    );
    // Offering both picks one of ours; an unknown subprotocol alone gets none.
    let both = WsClient::connect(
        server.addr(),
        &["chat.v9", "rustchat.json", "rustchat.line"],
    );
    assert_eq!(both.protocol.as_deref(), Some("rustchat.json"));
    let other = WsClient::connect(server.addr(), &["chat.v9"]);
    assert_eq!(other.protocol, None);
}

fn binary_frames_are_refused_but_the_connection_is_kept(model: Model) {
    let (server, _dir) = serve(|c| c.model = model);
    let (mut ws, nick) = WsClient::join_json(server.addr());
    ws.send_binary(&[0, 159, 146, 150]);
    assert_eq!(
        ws.next_json().0,
        r#"{"type":"error","kind":"usage","message":"binary frames are not understood: send text frames holding a JSON object or a line"}"#
    );
    ws.send_text(r#"{"type":"say","text":"still here"}"#);
    let (_, event) = ws.next_json();
    assert!(
        matches!(&event, ServerEvent::Message(m) if m.text == "still here" && m.from.as_str() == nick),
        "{event:?}"
    );
    // A line client (no subprotocol) gets the error as a line.
    let mut lines = WsClient::connect(server.addr(), &[]);
    lines.expect_text("members", |t| t.starts_with("*** members of #lobby"));
    lines.send_binary(b"bytes");
    assert_eq!(
        lines.expect_text("error", |t| t.starts_with("ERROR")),
        "ERROR binary frames are not understood: send text frames holding a JSON object or a line"
    );
    lines.send_text("/who");
    lines.expect_text("who", |t| t.starts_with("*** members of #lobby (2)"));
}

fn pings_are_answered_and_a_close_is_echoed(model: Model) {
    let (server, _dir) = serve(|c| c.model = model);
    let mut alice = LineClient::named(server.addr(), "alice");
    let (mut ws, nick) = WsClient::join_json(server.addr());
    alice.expect_event(&format!("-> {nick} joined #lobby"));
    ws.ws.ping(&b"are you there?"[..]).expect("ping");
    let deadline = Instant::now() + TIMEOUT;
    loop {
        assert!(Instant::now() < deadline, "no pong");
        if let Event::Pong(payload) = ws.next_event() {
            assert_eq!(&payload[..], b"are you there?");
            break;
        }
    }
    ws.ws
        .close(Some(CloseFrame::new(CloseCode::NORMAL, "bye now")))
        .expect("close");
    let frame = ws.expect_close().expect("a code");
    assert_eq!(frame.code, CloseCode::NORMAL, "the server echoes our close");
    alice.expect_event(&format!("<- {nick} left #lobby (quit)"));
}

fn a_raw_handshake_and_masked_frames_work(model: Model) {
    let (server, _dir) = serve(|c| c.model = model);
    let mut raw = RawWs::connect(server.addr());
    raw.expect_text("members", |t| t.starts_with("*** members of #lobby"));
    // A text message in three fragments, with a ping in between (RFC 6455 §5.4).
    raw.send_frame(false, 0x1, b"frag");
    raw.send_frame(false, 0x0, b"men");
    raw.send_frame(true, 0x9, b"p");
    raw.send_frame(true, 0x0, b"ted");
    let pong = raw.read_frame().expect("a pong");
    assert_eq!((pong.opcode, pong.payload.as_slice()), (0xA, &b"p"[..]));
    let said = raw.expect_text("the reassembled message", |_| true);
    assert_eq!(untimed(&said), "#lobby <guest-1> fragmented");
    // A client frame without a mask breaks RFC 6455 §5.1: close 1002.
    raw.send_raw(&[0x81, 0x02, b'h', b'i']);
    let (code, _) = raw.expect_close();
    assert_eq!(code, 1002);
    raw.expect_eof();
}

fn frames_sent_with_the_upgrade_request_are_not_lost(model: Model) {
    let (server, _dir) = serve(|c| c.model = model);
    let addr = server.addr();
    let mut alice = LineClient::named(addr, "alice");
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    let mut bytes = common::upgrade_request(addr, "").into_bytes();
    bytes.extend(common::client_frame(true, 0x1, b"/nick eager"));
    bytes.extend(common::client_frame(true, 0x1, b"in the same packet"));
    std::io::Write::write_all(&mut stream, &bytes).expect("write");
    alice.expect_event("~ guest-2 is now known as eager");
    alice.expect_event("#lobby <eager> in the same packet");
}

/// docs/PROTOCOL.md's table of JSON errors, row by row, is what a JSON client gets — `[]`
/// included, which is JSON to a `rustchat.json` client, never a line to post.
fn the_protocol_documents_json_errors_exactly(model: Model) {
    let (server, _dir) = serve(|c| c.model = model);
    let doc = include_str!("../../../docs/PROTOCOL.md");
    let table = doc
        .split_once("| you sent | `message` of the error |\n| --- | --- |\n")
        .expect("the table of JSON errors in docs/PROTOCOL.md")
        .1;
    let rows: Vec<(&str, &str)> = table
        .lines()
        .map_while(|row| {
            let cells: Vec<&str> = row
                .strip_prefix("| ")?
                .strip_suffix(" |")?
                .split(" | ")
                .collect();
            let [sent, error] = cells[..] else {
                return None;
            };
            Some((sent, error.trim_matches('`')))
        })
        .collect();
    assert!(rows.len() >= 7, "the table has {} rows", rows.len());
    let mut ws = WsClient::connect(server.addr(), &["rustchat.json"]);
    ws.expect_json("members", |e| matches!(e, ServerEvent::Members { .. }));
    for (sent, error) in rows {
        if sent.starts_with("a frame of more than 64 KiB") {
            let huge = format!(r#"{{"type":"say","text":"{}"}}"#, "x".repeat(70_000 - 24));
            assert_eq!(huge.len(), 70_000);
            ws.send_text(&huge);
            let close = ws.expect_close().expect("a close code");
            assert_eq!(
                (u16::from(close.code), close.reason.as_str()),
                (1009, error)
            );
            continue;
        }
        let sent = sent.trim_matches('`');
        ws.send_text(sent);
        let (_, event) = ws.expect_json(sent, |e| matches!(e, ServerEvent::Error { .. }));
        let ServerEvent::Error { message, .. } = event else {
            unreachable!()
        };
        assert_eq!(message, error, "the answer to {sent}");
    }
}

/// websocat sends each line with its line break, and prints each message as a line: a frame
/// ending in a line break is one line, a frame of several lines is several, and every line the
/// server sends (a history, a member list) comes in a frame of its own.
fn websocat_lines_are_lines_both_ways(model: Model) {
    let (server, _dir) = serve(|c| {
        c.model = model;
        c.flood = None;
    });
    let mut ws = WsClient::connect(server.addr(), &[]);
    ws.expect_text("the member list", |t| {
        t == "*** members of #lobby (1): guest-1"
    });
    ws.send_text("hello from websocat\n");
    let said = ws.expect_text("the line", |t| t.contains("<guest-1>"));
    assert_eq!(untimed(&said), "#lobby <guest-1> hello from websocat");
    ws.send_text("one\ntwo\r\n");
    for want in ["one", "two"] {
        let said = ws.expect_text(want, |t| t.contains("<guest-1>"));
        assert_eq!(untimed(&said), format!("#lobby <guest-1> {want}"));
    }
    ws.send_text("/history\n");
    let mut frames = vec![ws.expect_text("the history", |t| t.starts_with("*** history"))];
    while !frames
        .last()
        .is_some_and(|t| t.starts_with("*** end of history"))
    {
        frames.push(ws.expect_text("a line of the history", |_| true));
    }
    let frames: Vec<&str> = frames.iter().map(|t| untimed(t)).collect();
    assert_eq!(
        frames,
        [
            "*** history of #lobby (3 messages)",
            "#lobby <guest-1> hello from websocat",
            "#lobby <guest-1> one",
            "#lobby <guest-1> two",
            "*** end of history of #lobby",
        ]
    );
}

use common::{async_model, pool, sequential, threads};

scenarios!(async_model: websocat_lines_are_lines_both_ways, the_protocol_documents_json_errors_exactly, mixed_clients_see_every_message_in_the_same_order, json_events_carry_every_field, the_first_json_message_switches_replies_to_json, the_line_subprotocol_keeps_lines_even_for_json_requests, binary_frames_are_refused_but_the_connection_is_kept, pings_are_answered_and_a_close_is_echoed, a_raw_handshake_and_masked_frames_work, frames_sent_with_the_upgrade_request_are_not_lost);
scenarios!(threads: websocat_lines_are_lines_both_ways, the_protocol_documents_json_errors_exactly, mixed_clients_see_every_message_in_the_same_order, json_events_carry_every_field, the_first_json_message_switches_replies_to_json, the_line_subprotocol_keeps_lines_even_for_json_requests, binary_frames_are_refused_but_the_connection_is_kept, pings_are_answered_and_a_close_is_echoed, a_raw_handshake_and_masked_frames_work, frames_sent_with_the_upgrade_request_are_not_lost);
scenarios!(pool: websocat_lines_are_lines_both_ways, the_protocol_documents_json_errors_exactly, mixed_clients_see_every_message_in_the_same_order, json_events_carry_every_field, the_first_json_message_switches_replies_to_json, the_line_subprotocol_keeps_lines_even_for_json_requests, binary_frames_are_refused_but_the_connection_is_kept, pings_are_answered_and_a_close_is_echoed, a_raw_handshake_and_masked_frames_work, frames_sent_with_the_upgrade_request_are_not_lost);
// The others take two clients at once, and `sequential` serves one at a time.
scenarios!(sequential: websocat_lines_are_lines_both_ways, the_protocol_documents_json_errors_exactly, json_events_carry_every_field, a_raw_handshake_and_masked_frames_work);
