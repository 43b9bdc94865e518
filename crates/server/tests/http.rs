//! End to end: plain HTTP on the chat port — the page, `/healthz`, `/metrics`, errors.

#[macro_use]
mod common;

use rustchat_server::config::Model;

use common::{
    LineClient, TIMEOUT, WsClient, eventually, http_get, http_raw, metric, metrics_over_http, serve,
};

fn the_page_is_served_at_the_root(model: Model) {
    let (server, _dir) = serve(|c| c.model = model);
    let response = http_get(server.addr(), "/");
    assert_eq!(response.status, 200, "{}", response.head);
    assert_eq!(
        response.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(response.header("Connection"), Some("close"));
    assert_eq!(
        response.header("Content-Length"),
        Some(response.body.len().to_string().as_str())
    );
    assert!(
        response
            .body
            .to_ascii_lowercase()
            .starts_with("<!doctype html"),
        "{}",
        &response.body[..response.body.len().min(200)]
    );
    assert_eq!(response.body, rustchat_server::PAGE);
    let again = http_get(server.addr(), "/index.html?x=1");
    assert_eq!(again.status, 200);
    // HEAD: the same head, no body.
    let head = http_raw(
        server.addr(),
        b"HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(head.status, 200);
    assert_eq!(head.body, "");
}

fn healthz_says_ok(model: Model) {
    let (server, _dir) = serve(|c| c.model = model);
    let response = http_get(server.addr(), "/healthz");
    assert_eq!(response.status, 200);
    assert_eq!(response.body, "ok\n");
    assert_eq!(response.header("Cache-Control"), Some("no-store"));
}

fn unknown_paths_get_a_helpful_404_and_other_methods_405(model: Model) {
    let (server, _dir) = serve(|c| c.model = model);
    let response = http_get(server.addr(), "/nope");
    assert_eq!(response.status, 404);
    assert_eq!(
        response.body,
        "no page at /nope: try / (chat page), /ws (WebSocket), /healthz or /metrics\n"
    );
    let post = http_raw(
        server.addr(),
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
    );
    assert_eq!(post.status, 405);
    assert_eq!(post.header("Allow"), Some("GET, HEAD"));
    assert_eq!(
        post.body,
        "method POST not allowed: this server answers GET\n"
    );
    let delete = http_raw(server.addr(), b"DELETE /ws HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(delete.status, 405);
    // A GET /ws that is not an upgrade is refused with what is missing.
    let plain = http_get(server.addr(), "/ws");
    assert_eq!(plain.status, 400, "{plain:?}");
    assert!(plain.body.contains("Upgrade: websocket"), "{}", plain.body);
    // A wrong WebSocket version gets 426 and the version we speak.
    let request = format!(
        "GET /ws HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
        server.addr()
    );
    let old = http_raw(server.addr(), request.as_bytes());
    assert_eq!(old.status, 426);
    assert_eq!(old.header("Sec-WebSocket-Version"), Some("13"));
    // Garbage after a method is a malformed head: 400.
    let bad = http_raw(server.addr(), b"GET /\x01\x02 HTTP/9\r\n\r\n");
    assert_eq!(bad.status, 400, "{bad:?}");
}

fn metrics_count_what_happens(model: Model) {
    let (server, _dir) = serve(|c| c.model = model);
    let text = metrics_over_http(server.addr());
    assert!(
        text.contains(
            "# HELP rustchat_connections_total TCP connections accepted.\n\
             # TYPE rustchat_connections_total counter\nrustchat_connections_total 1\n"
        ),
        "{text}"
    );
    for name in [
        "rustchat_line_sessions_total",
        "rustchat_websocket_sessions_total",
        "rustchat_messages_total",
        "rustchat_slow_consumer_disconnects_total",
        "rustchat_flood_disconnects_total",
        "rustchat_protocol_errors_total",
        "rustchat_users",
    ] {
        assert_eq!(metric(&text, name), 0, "{name}");
    }

    let mut alice = LineClient::named(server.addr(), "alice");
    let mut ws = WsClient::named_json(server.addr(), "bob");
    alice.send("one");
    alice.send("two");
    alice.send("/msg bob three");
    alice.expect_event("<alice -> bob> three");
    ws.expect_json("the private message", |e| {
        matches!(e, rustchat_proto::ServerEvent::Private { .. })
    });
    let text = metrics_over_http(server.addr());
    assert_eq!(metric(&text, "rustchat_connections_total"), 4, "{text}");
    assert_eq!(metric(&text, "rustchat_connections_open"), 3, "{text}");
    assert_eq!(metric(&text, "rustchat_line_sessions_total"), 1);
    assert_eq!(metric(&text, "rustchat_websocket_sessions_total"), 1);
    assert_eq!(
        metric(&text, "rustchat_http_requests_total"),
        1,
        "the first /metrics"
    );
    assert_eq!(metric(&text, "rustchat_users"), 2);
    assert_eq!(metric(&text, "rustchat_rooms"), 1);
    assert_eq!(
        metric(&text, "rustchat_messages_total"),
        3,
        "two room, one private"
    );
    assert_eq!(
        metric(&text, "rustchat_commands_total"),
        5,
        "two nicks, three messages"
    );
    assert_eq!(
        metric(&text, "rustchat_history_appended_total"),
        2,
        "room messages only"
    );
    drop((alice, ws));
    eventually("the clients to be gone", TIMEOUT, || {
        let text = server.metrics_text();
        metric(&text, "rustchat_users") == 0 && metric(&text, "rustchat_connections_open") == 0
    });
}

use common::{async_model, pool, sequential, threads};

scenarios!(async_model: the_page_is_served_at_the_root, healthz_says_ok, unknown_paths_get_a_helpful_404_and_other_methods_405, metrics_count_what_happens);
scenarios!(threads: the_page_is_served_at_the_root, healthz_says_ok, unknown_paths_get_a_helpful_404_and_other_methods_405, metrics_count_what_happens);
scenarios!(pool: the_page_is_served_at_the_root, healthz_says_ok, unknown_paths_get_a_helpful_404_and_other_methods_405, metrics_count_what_happens);
// The others take two clients at once, and `sequential` serves one at a time.
scenarios!(sequential: the_page_is_served_at_the_root, healthz_says_ok, unknown_paths_get_a_helpful_404_and_other_methods_405);
