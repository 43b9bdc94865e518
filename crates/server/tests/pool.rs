//! `pool:N` with every worker taken: the waiting room. A waiting line client is told its
//! place, an HTTP request that needs no session is answered at once, a HELLO client hears only
//! its handshake, and whoever waits past `--pool-wait` is told the server is busy.

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use common::{
    LineClient, TIMEOUT, eventually, http_get, http_raw, metric, metrics_over_http, serve,
    upgrade_request,
};
use rustchat_server::config::{Blocking, Model};
use rustchat_server::server::RunningServer;
use tempfile::TempDir;

const WAITING: &str = "rustchat_pool_waiting";
const BUSY: &str = "rustchat_pool_busy_refusals_total";

/// A pool of one worker, taken by a client that joined (returned, to free the worker later).
fn one_worker_taken(pool_wait: Duration) -> (RunningServer, TempDir, LineClient) {
    let (server, dir) = serve(|c| {
        c.model = Model::Blocking(Blocking::Pool(1));
        c.pool_wait = pool_wait;
    });
    let (holder, _) = LineClient::join(server.addr());
    (server, dir, holder)
}

fn waiting_now(server: &RunningServer) -> u64 {
    metric(&server.metrics_text(), WAITING)
}

#[test]
fn a_waiting_line_client_is_told_its_place_and_let_in_when_a_worker_is_free() {
    let (server, _dir, mut holder) = one_worker_taken(Duration::from_secs(30));
    let addr = server.addr();
    let mut first = LineClient::connect(addr);
    let told = first.expect("the first place in line", |l| l.starts_with("*** "));
    assert!(
        told.contains("busy")
            && told.contains("all 1 workers are taken")
            && told.contains("number 1 in line")
            && told.contains("30 s"),
        "{told}"
    );
    // A client that speaks first is told too, after what it said is left for its session.
    let mut second = LineClient::connect(addr);
    second.send("/nick early");
    second.expect("the second place in line", |l| {
        l.contains("number 2 in line")
    });
    assert_eq!(waiting_now(&server), 2);

    holder.send("/quit");
    holder.expect_eof();
    first.send("");
    first.expect("the welcome, once the worker is free", |l| {
        l.starts_with("*** welcome, ")
    });
    assert_eq!(waiting_now(&server), 1);
    first.send("/quit");
    first.expect_eof();
    // The line it sent while it waited reaches its session.
    second.expect("its own nick, sent while it waited", |l| {
        l.ends_with("is now known as early")
    });
}

#[test]
fn http_requests_that_need_no_session_are_answered_while_the_workers_are_taken() {
    let (server, _dir, _holder) = one_worker_taken(Duration::from_secs(30));
    let addr = server.addr();
    let _waiting = LineClient::connect(addr);
    eventually("the line client in line", TIMEOUT, || {
        waiting_now(&server) == 1
    });
    let asked = Instant::now();
    let text = metrics_over_http(addr);
    assert_eq!(metric(&text, WAITING), 1, "{text}");
    assert_eq!(http_get(addr, "/healthz").status, 200);
    assert_eq!(http_get(addr, "/nowhere").status, 404);
    let malformed = http_raw(addr, b"GET / HTTP/1.1\r\nno colon here\r\n\r\n");
    assert_eq!(malformed.status, 400, "{malformed:?}");
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "answered at once, not after the wait: {:?}",
        asked.elapsed()
    );
}

#[test]
fn whoever_waits_past_the_pool_wait_is_told_the_server_is_busy() {
    let (server, _dir, _holder) = one_worker_taken(Duration::from_millis(600));
    let addr = server.addr();
    let mut line = LineClient::connect(addr);
    let upgrade = std::thread::spawn(move || http_raw(addr, upgrade_request(addr, "").as_bytes()));
    line.expect("its place", |l| l.contains("in line"));
    let refused = line.expect("the refusal", |l| l.starts_with("ERROR "));
    assert!(
        refused.contains("server busy")
            && refused.contains("all 1 workers")
            && refused.contains("try again later"),
        "{refused}"
    );
    line.expect_eof();
    let answer = upgrade.join().expect("the upgrade thread");
    assert_eq!(answer.status, 503, "{answer:?}");
    assert_eq!(answer.header("Retry-After"), Some("5"));
    assert!(answer.body.contains("server busy"), "{answer:?}");
    let text = server.metrics_text();
    assert_eq!(metric(&text, BUSY), 2, "{text}");
    assert_eq!(metric(&text, WAITING), 0, "{text}");
}

#[test]
fn a_hello_client_in_line_hears_only_its_handshake() {
    let (server, _dir, mut holder) = one_worker_taken(Duration::from_secs(30));
    let mut hello = LineClient::connect(server.addr());
    hello.send("HELLO 41");
    eventually("the HELLO client in line", TIMEOUT, || {
        waiting_now(&server) == 1
    });
    hello.expect_silence(Duration::from_millis(400));
    holder.send("/quit");
    holder.expect_eof();
    hello.next_is("HELLO 42");
}

#[test]
fn a_client_that_hangs_up_while_waiting_leaves_the_line() {
    let (server, _dir, _holder) = one_worker_taken(Duration::from_secs(30));
    let open = |server: &RunningServer| metric(&server.metrics_text(), "rustchat_connections_open");
    let before = open(&server);
    let quitter = LineClient::connect(server.addr());
    eventually("the client in line", TIMEOUT, || waiting_now(&server) == 1);
    assert_eq!(open(&server), before + 1);
    drop(quitter);
    eventually("the line empty again", TIMEOUT, || {
        waiting_now(&server) == 0 && open(&server) == before
    });
}
