//! End to end: graceful shutdown with clients connected.

#[macro_use]
mod common;

use rustchat_server::config::Model;

use std::time::{Duration, Instant};

use common::{LineClient, RawWs, WsClient, config, serve, shut_down_within};
use rustchat_proto::ServerEvent;
use rustchat_server::server::start;
use rustchat_ws::CloseCode;

fn shutdown_says_goodbye_flushes_the_history_and_returns_promptly(model: Model) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut fast = config(dir.path());
    fast.flood = None;
    fast.model = model;
    let server = start(fast).expect("start");
    let addr = server.addr();
    let mut line = LineClient::named(addr, "liner");
    let mut ws = WsClient::named_json(addr, "webber");
    let mut raw = RawWs::connect(addr);
    raw.expect_text("members", |t| t.starts_with("*** members of #lobby"));
    line.expect_event("-> guest-3 joined #lobby");
    for i in 0..50 {
        line.send(&format!("before shutdown {i}"));
    }
    line.expect_event("#lobby <liner> before shutdown 49");

    let started = Instant::now();
    let stopping = std::thread::spawn(move || server.shutdown());
    // Line clients get a BYE line, then the end of the stream.
    let rest = line.expect_eof();
    assert_eq!(
        rest.last().map(String::as_str),
        Some("BYE server shutting down"),
        "{rest:?}"
    );
    // WebSocket clients get a close 1001.
    let frame = ws.expect_close().expect("a close code");
    assert_eq!(frame.code, CloseCode::GOING_AWAY);
    assert_eq!(frame.reason, "server shutting down");
    // A raw client that never answers the close is not waited for beyond the grace period.
    let (code, reason) = raw.expect_close();
    assert_eq!((code, reason.as_str()), (1001, "server shutting down"));
    stopping
        .join()
        .expect("shutdown thread")
        .expect("the history closed cleanly");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "shutdown took {took:?}");
    raw.expect_eof();

    // Everything said before the shutdown is in the history.
    let server = start(config(dir.path())).expect("restart");
    let mut check = WsClient::named_json(server.addr(), "checker");
    check.send_text(r#"{"type":"history","limit":500}"#);
    let (_, event) = check.expect_json("history", |e| matches!(e, ServerEvent::History { .. }));
    let ServerEvent::History { messages, .. } = event else {
        unreachable!()
    };
    let texts: Vec<String> = messages.iter().map(|m| m.text.clone()).collect();
    let want: Vec<String> = (0..50).map(|i| format!("before shutdown {i}")).collect();
    assert_eq!(texts, want);
}

fn shutdown_with_no_clients_is_immediate_and_the_port_is_released(model: Model) {
    let (server, _dir) = serve(|c| c.model = model);
    let addr = server.addr();
    shut_down_within(server, Duration::from_secs(2));
    // Nobody listens any more.
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "still listening"
    );
}

fn shutdown_says_bye_to_clients_in_every_phase(model: Model) {
    let (server, _dir) = serve(|c| {
        c.model = model;
        c.shutdown_grace = Duration::from_millis(300);
    });
    let addr = server.addr();
    // Greeted but not joined yet, halfway through a HELLO, and in the chat.
    let mut greeted = LineClient::connect(addr);
    greeted.expect("the greeting", |l| {
        l.starts_with("*** rustchat: press Enter")
    });
    let mut hello = LineClient::connect(addr);
    hello.send("HELLO 1");
    hello.next_is("HELLO 2");
    let (mut chatting, _) = LineClient::join(addr);
    shut_down_within(server, Duration::from_secs(3));
    for client in [&mut greeted, &mut hello, &mut chatting] {
        let rest = client.expect_eof();
        assert_eq!(
            rest.last().map(String::as_str),
            Some("BYE server shutting down")
        );
    }
}

use common::{async_model, pool, sequential, threads};

scenarios!(async_model: shutdown_says_goodbye_flushes_the_history_and_returns_promptly, shutdown_with_no_clients_is_immediate_and_the_port_is_released, shutdown_says_bye_to_clients_in_every_phase);
scenarios!(threads: shutdown_says_goodbye_flushes_the_history_and_returns_promptly, shutdown_with_no_clients_is_immediate_and_the_port_is_released, shutdown_says_bye_to_clients_in_every_phase);
scenarios!(pool: shutdown_says_goodbye_flushes_the_history_and_returns_promptly, shutdown_with_no_clients_is_immediate_and_the_port_is_released, shutdown_says_bye_to_clients_in_every_phase);
// The others take two clients at once, and `sequential` serves one at a time.
scenarios!(sequential: shutdown_with_no_clients_is_immediate_and_the_port_is_released);
