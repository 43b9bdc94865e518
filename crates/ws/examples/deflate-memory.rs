//! What permessage-deflate keeps per connection, measured: for each negotiated configuration,
//! in a process of its own, 2,000 server connections each receive one compressed message and
//! send one compressed reply, and the resident memory is read before and after (Linux
//! `/proc/self/statm`).
//! The figures are in the `deflate` module's documentation.
//!
//! ```text
//! cargo run --release -p rustchat-ws --example deflate-memory
//! ```

use rustchat_ws::{Config, Connection, DeflateConfig, DeflateParams, Event, Message, Role};

const CONNECTIONS: usize = 2000;

/// Resident memory of this process, in bytes (0 where `/proc` is missing).
fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn main() {
    let text = Message::text(
        "a chat line that is long enough to be compressed, as most of them are: hello all"
            .repeat(4),
    );
    let config = Config::default().deflate(DeflateConfig::enabled().threshold(0));
    let configurations = [
        ("no deflate", None),
        (
            "no context takeover either way (the rustchat server)",
            Some(DeflateParams {
                server_no_context_takeover: true,
                client_no_context_takeover: true,
                ..DeflateParams::default()
            }),
        ),
        (
            "the client keeps its context (window 2^15)",
            Some(DeflateParams {
                server_no_context_takeover: true,
                ..DeflateParams::default()
            }),
        ),
        (
            "the client keeps its context (window 2^12)",
            Some(DeflateParams {
                server_no_context_takeover: true,
                client_max_window_bits: 12,
                ..DeflateParams::default()
            }),
        ),
        (
            "the server keeps its context (window 2^15)",
            Some(DeflateParams {
                client_no_context_takeover: true,
                ..DeflateParams::default()
            }),
        ),
        (
            "both keep their context (window 2^15)",
            Some(DeflateParams::default()),
        ),
    ];
    // Each configuration is measured in a process of its own (memory freed by one would be
    // reused by the next without showing in the resident size).
    let Some(index) = std::env::args()
        .nth(1)
        .and_then(|a| a.parse::<usize>().ok())
    else {
        let exe = std::env::current_exe().expect("our own path");
        let mut baseline = None;
        for (index, (name, _)) in configurations.iter().enumerate() {
            let out = std::process::Command::new(&exe)
                .arg(index.to_string())
                .output()
                .expect("run a measurement");
            let per: f64 = String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse()
                .expect("bytes per connection");
            let base = *baseline.get_or_insert(per);
            println!(
                "{name:<55} {:>6.1} KiB per connection ({:+.1} KiB beside no deflate)",
                per / 1024.0,
                (per - base) / 1024.0
            );
        }
        return;
    };
    let (name, params) = configurations[index];
    {
        // A fresh client's first message is the same bytes whoever sends it: made once, fed
        // to every server connection, so only the servers' memory is counted.
        let mut client = Connection::with_deflate(Role::Client, config, params);
        client.send(text.clone()).expect("open");
        let wire = client.outbound().take_all();
        drop(client);
        let before = rss();
        let mut servers = Vec::with_capacity(CONNECTIONS);
        for _ in 0..CONNECTIONS {
            let mut server = Connection::with_deflate(Role::Server, config, params);
            server.receive(&wire);
            match server.next_event() {
                Ok(Some(Event::Message(m))) => assert_eq!(m, text),
                other => panic!("{name}: {other:?}"),
            }
            server.send(text.clone()).expect("open");
            drop(server.outbound().take_all());
            server.release_idle_buffer();
            servers.push(server);
        }
        let per = (rss().saturating_sub(before)) as f64 / CONNECTIONS as f64;
        println!("{per}");
        drop(servers);
    }
}
