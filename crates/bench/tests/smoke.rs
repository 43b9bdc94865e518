//! One short run of each scenario against a server in this process (ours, or a peer),
//! asserting that it measured something: a few hundred milliseconds each, small counts.

use std::net::SocketAddr;
use std::path::Path;

use clap::Parser;
use rustchat_bench::cli::{Peer, PeerMode};
use rustchat_bench::report::Sample;
use rustchat_bench::subjects::Live;
use rustchat_bench::{BenchArgs, run_against};
use rustchat_server::config::{HistoryMode, ServerConfig};
use rustchat_server::server::{RunningServer, start};

const QUICK: [&str; 4] = ["--duration", "300ms", "--warmup", "100ms"];

fn chat_server() -> RunningServer {
    let config = ServerConfig {
        listen: vec![SocketAddr::from(([127, 0, 0, 1], 0))],
        history: HistoryMode::Memory,
        flood: None,
        // Every generated client comes from 127.0.0.1, as `rustchat bench` runs its servers.
        max_connections_per_ip: 0,
        connect_rate: None,
        ..ServerConfig::default()
    };
    start(config).expect("the chat server starts")
}

/// Starts a peer on its own runtime thread; returns its address.
fn peer(peer: Peer, mode: PeerMode) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    listener.set_nonblocking(true).expect("nonblocking");
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let _ = rustchat_bench::peers::serve_on(listener, peer, mode, None).await;
        });
    });
    addr
}

fn generator() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn run(args: &[&str], live: &mut Live) -> Sample {
    let argv = std::iter::once("bench")
        .chain(args.iter().copied())
        .chain(QUICK);
    let args = BenchArgs::try_parse_from(argv).expect("arguments parse");
    let sample = run_against(&generator(), &args.scenario, live, 0).expect("the run succeeds");
    assert!(sample.ops > 0, "no operations: {sample:?}");
    assert_eq!(sample.errors, 0, "errors: {sample:?}");
    assert!(sample.server_cpu_s.is_some(), "CPU was measured");
    sample
}

#[test]
fn handshake_through_a_target_address() {
    let server = chat_server();
    let target = server.addr().to_string();
    let argv = ["bench", "handshake", "-c", "4", "--target", &target];
    let args = BenchArgs::try_parse_from(argv.into_iter().chain(QUICK)).expect("parses");
    // --target without --server-pid finds this process from the listening port.
    let report = rustchat_bench::measure(&args.scenario, Path::new("unused")).expect("measured");
    assert!(
        report.all_ran(),
        "{}",
        rustchat_bench::table::render(&report)
    );
    let sample = report.subjects[0].median.as_ref().expect("a median");
    assert!(sample.latency.p50_us > 0.0);
    assert!(sample.server_cpu_per_op_us.is_some());
}

#[test]
fn broadcast_over_websocket_and_lines() {
    let server = chat_server();
    for transport in ["ws", "line"] {
        let mut live = Live::in_process("async", server.addr(), true, false);
        let args = [
            "broadcast",
            "-r",
            "2",
            "-c",
            "5",
            "-s",
            "2",
            "--rate",
            "200",
            "--transport",
            transport,
        ];
        let sample = run(&args, &mut live);
        // 4 senders × 200/s × 0.3 s, each message to 5 clients.
        assert!(sample.sent > 50, "{transport}: {sample:?}");
        assert!(sample.ops >= sample.sent * 4, "{transport}: {sample:?}");
        assert!(sample.latency.p99_us > 0.0);
    }
}

/// With `--deflate` the server compresses the 200-byte events: a delivery counts only if the
/// client inflated it and found the stamp inside. Newcomers join meanwhile (`--joiners`), each
/// sent the room's replay, without errors.
#[test]
fn broadcast_with_deflate_inflates_every_delivery() {
    let server = chat_server();
    let mut live = Live::in_process("async", server.addr(), true, false);
    let args = [
        "broadcast",
        "-r",
        "1",
        "-c",
        "5",
        "-s",
        "1",
        "--rate",
        "200",
        "--size",
        "200",
        "--deflate",
        "--joiners",
        "20",
    ];
    let sample = run(&args, &mut live);
    assert!(sample.sent > 20, "{sample:?}");
    assert!(sample.ops >= sample.sent * 4, "{sample:?}");
    assert_eq!(sample.errors, 0, "{sample:?}");
}

/// `echo --deflate`: our library and yawc take the offer and compress what they echo; the
/// generator inflates it and finds its send time inside.
#[test]
fn echo_with_deflate_against_the_deflating_peers() {
    for p in [Peer::RustchatWs, Peer::Yawc] {
        let addr = peer(p, PeerMode::Echo);
        let mut live = Live::in_process(p.name(), addr, false, false);
        let sample = run(
            &["echo", "-c", "4", "--size", "4096", "--deflate"],
            &mut live,
        );
        assert!(sample.latency.count > 0, "{}: {sample:?}", p.name());
    }
}

#[test]
fn broadcast_flat_out_against_the_tungstenite_peer() {
    let addr = peer(Peer::TokioTungstenite, PeerMode::Broadcast);
    let mut live = Live::in_process("tokio-tungstenite", addr, false, false);
    let sample = run(
        &["broadcast", "-c", "8", "--rate", "max", "--window", "4"],
        &mut live,
    );
    assert!(sample.ops > sample.sent, "{sample:?}");
}

#[test]
fn echo_against_each_peer() {
    for (p, size) in [
        (Peer::RustchatWs, "20"),
        (Peer::Fastwebsockets, "16384"),
        (Peer::TokioTungstenite, "20"),
        (Peer::TcpEcho, "300"),
        (Peer::Yawc, "300"),
    ] {
        let addr = peer(p, PeerMode::Echo);
        let mut live = Live::in_process(p.name(), addr, false, p == Peer::TcpEcho);
        let sample = run(&["echo", "-c", "4", "--size", size], &mut live);
        assert!(sample.latency.count > 0, "{}: {sample:?}", p.name());
    }
}

#[test]
fn idle_connections_in_rooms() {
    let server = chat_server();
    let mut live = Live::in_process("async", server.addr(), true, false);
    let sample = run(&["idle", "-n", "50", "--rooms", "5"], &mut live);
    assert_eq!(sample.connections, 50);
    assert!(sample.rss_per_connection_bytes.is_some());
}

/// A target with flood control on: the sender's messages past the limit are refused, and the
/// run says so (errors, the refusal's text) instead of reporting a quietly smaller figure.
#[test]
fn a_flood_limited_target_is_reported_not_measured_quietly() {
    let config = ServerConfig {
        listen: vec![SocketAddr::from(([127, 0, 0, 1], 0))],
        history: HistoryMode::Memory,
        max_connections_per_ip: 0,
        connect_rate: None,
        ..ServerConfig::default()
    };
    let server = start(config).expect("the chat server starts");
    let mut live = Live::in_process("async", server.addr(), true, false);
    let argv = [
        "bench",
        "broadcast",
        "-c",
        "3",
        "--rate",
        "max",
        "--window",
        "64",
    ];
    let args = BenchArgs::try_parse_from(argv.into_iter().chain(QUICK)).expect("parses");
    let sample = run_against(&generator(), &args.scenario, &mut live, 0).expect("a run");
    assert!(sample.errors > 0, "{sample:?}");
    let first = sample.first_error.clone().unwrap_or_default();
    assert!(first.contains("flood control"), "{first}");
    let report = rustchat_bench::report::Report::new(
        "broadcast",
        serde_json::json!({}),
        vec![("async".to_owned(), vec![Ok(sample)])],
    );
    let table = rustchat_bench::table::render(&report);
    assert!(table.contains("--rate-limit off"), "{table}");
    assert_eq!(report.with_errors().len(), 1);
}
