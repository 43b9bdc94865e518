//! End to end: while a connection is idle, the fan-out writes its events straight to its
//! socket (`fanout/outbox.rs`, "Writing through"); when the connection has bytes of its own to send
//! (pongs here) or its socket is full (it reads slowly, through a small window), its driver
//! takes over — sometimes in the middle of an event. Whatever the mix, the client must get
//! every event once, whole and in order, and its pongs in order (the last ping answered),
//! under every model that fans out.

#[macro_use]
mod common;

use std::io::Write;
use std::time::Duration;

use common::{LineClient, RawWs, metric, metrics_over_http, serve};
use rustchat_server::config::{HistoryMode, Model};

/// Messages sent: 4,000 × ~4 KiB ≈ 16 MiB, through a 4 KiB window — several times what the
/// kernel buffers for a loopback socket (a few MiB), so the socket does fill.
const MESSAGES: usize = 4000;

fn text(i: usize) -> String {
    format!("m{i:05} {}", "w".repeat(4000))
}

fn index_in(said: &str) -> usize {
    said.strip_prefix('m')
        .and_then(|s| s.get(..5))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not one of ours: {:.40}", said))
}

fn nothing_lost_doubled_or_cut(model: Model) {
    let (server, _dir) = serve(|c| {
        c.model = model;
        c.flood = None;
        c.history = HistoryMode::Memory;
        c.outbox_limit = 64 << 20; // slow, not stuck: this client must never be dropped
    });
    let addr = server.addr();
    let mut receiver = RawWs::connect_small_window(addr, 4096);
    receiver.expect_text("the lobby member list", |t| t.contains("members of #lobby"));
    let sender = LineClient::named(addr, "sender");

    // The sender writes everything at once, and reads its own copies on another thread.
    let mut writer = sender.stream.try_clone().expect("clone");
    let writing = std::thread::spawn(move || {
        for i in 0..MESSAGES {
            writer
                .write_all(format!("{}\n", text(i)).as_bytes())
                .expect("send");
        }
        writer.write_all(b"done\n").expect("send the end");
    });
    let confirming = std::thread::spawn(move || {
        let mut sender = sender;
        while !sender
            .expect("the sender's own copy", |l| l.contains("<sender> "))
            .ends_with("<sender> done")
        {
            sender.seen.clear();
        }
    });

    let (mut got, mut pongs, mut pings) = (Vec::new(), Vec::new(), 0u32);
    loop {
        let frame = receiver
            .read_frame()
            .expect("a frame, not the end of the stream");
        match frame.opcode {
            0x1 => {
                let text = String::from_utf8(frame.payload).expect("UTF-8: a frame cut into");
                let Some((_, said)) = text.split_once("<sender> ") else {
                    continue; // a notice
                };
                if said == "done" {
                    break;
                }
                got.push(index_in(said));
                if got.len() % 16 == 0 {
                    // Bytes of the driver's own, to be put between the fan-out's events.
                    receiver.send_frame(true, 0x9, &pings.to_be_bytes());
                    pings += 1;
                }
                if got.len() % 500 == 0 {
                    // Fall behind: the socket fills and writes through come up short.
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            0xA => {
                let payload: [u8; 4] = frame.payload.try_into().expect("our 4-byte ping");
                pongs.push(u32::from_be_bytes(payload));
            }
            other => panic!("unexpected frame, opcode {other:#x} (a frame cut into?)"),
        }
    }
    // The last pongs may still be on their way.
    while pings > 0 && pongs.last() != Some(&(pings - 1)) {
        let frame = receiver.read_frame().expect("the last pongs");
        if frame.opcode == 0xA {
            let payload: [u8; 4] = frame.payload.try_into().expect("our 4-byte ping");
            pongs.push(u32::from_be_bytes(payload));
        }
    }
    writing.join().expect("the sender's writer");
    confirming.join().expect("the sender's reader");

    assert_eq!(
        got,
        (0..MESSAGES).collect::<Vec<_>>(),
        "lost, doubled or reordered"
    );
    // RFC 6455 §5.5.3: a pong may answer only the latest of the pings not yet answered, so
    // pongs may be fewer than pings, but never out of order, and the last ping is answered.
    assert!(
        pongs.windows(2).all(|w| w[0] < w[1]),
        "pongs reordered or doubled: {pongs:?}"
    );
    assert_eq!(
        pongs.last().copied(),
        pings.checked_sub(1),
        "the last ping unanswered"
    );
    let written = metric(
        &metrics_over_http(addr),
        "rustchat_write_through_bytes_total",
    );
    assert!(
        written > 0,
        "nothing was written through: the test tested nothing"
    );
}

use common::{async_model, pool, threads};

// Not `sequential`: it serves one connection at a time, and this takes a sender and a reader.
scenarios!(async_model: nothing_lost_doubled_or_cut);
scenarios!(threads: nothing_lost_doubled_or_cut);
scenarios!(pool: nothing_lost_doubled_or_cut);
