//! `echo`: C connections, each with one binary message of M bytes in flight: send it, wait for
//! it to come back, send it again. One op is one echoed message; its latency is the round trip,
//! read from the send time written into the first 8 payload bytes.
//!
//! Against the plain TCP echo peer the same masked frame bytes are sent and come back as they
//! are (still masked), so every server gets exactly the same bytes to read.

use std::rc::Rc;

use anyhow::bail;
use tokio::task::JoinSet;

use crate::cli::{EchoArgs, Transport};
use crate::measure::{Clock, Tally, measure};
use crate::net::Dialer;
use crate::report::Sample;
use crate::scenarios::setup::{Conn, Plan, open_all};
use crate::subjects::Live;
use crate::wire::{Framing, Item, OutFrame, chat_text, opcode};

/// One run against one server.
pub async fn run(args: &EchoArgs, live: &Live, raw_tcp: bool) -> anyhow::Result<Sample> {
    if args.size < 8 {
        bail!("--size must be at least 8 bytes (the send time)");
    }
    let plan = Plan {
        chat: false,
        transport: if raw_tcp {
            Transport::Line
        } else {
            Transport::Ws
        },
        rooms: 1,
        buffer: (args.size + 64).max(4096),
        deflate: args.run.deflate && !raw_tcp,
    };
    let dialer = Rc::new(Dialer::new(live.addr, args.run.source_addrs).tls(live.tls.clone()));
    let clients = args.clients.max(1);
    let (conns, _) = open_all(dialer, plan, clients, 256, args.run.setup_timeout).await?;
    let tally = Rc::new(Tally::default());
    let clock = Clock::default();
    let mut tasks = JoinSet::new();
    for mut conn in conns {
        // The TCP echo returns our frames as they are: read them as WebSocket frames too.
        conn.inbox.set_framing(Framing::Ws);
        tasks.spawn_local(echo_loop(conn, args.size, tally.clone(), clock));
    }
    let window = measure(&tally, live.pid, args.run.warmup, args.run.duration).await;
    tally.stopping.set(true);
    Ok(Sample::new(&tally, &window))
}

async fn echo_loop(mut conn: Conn, size: usize, tally: Rc<Tally>, clock: Clock) {
    // Words, not one letter repeated: what a compressing server really gets.
    let mut frame = OutFrame::ws(opcode::BINARY, &chat_text(size, 0), conn.key);
    while !tally.stopping.get() {
        frame.patch(0, &clock.now_ns().to_le_bytes());
        if conn.tcp.send(frame.as_bytes()).await.is_err() {
            return lost(&tally);
        }
        match await_echo(&mut conn, clock).await {
            Some(latency) => tally.op(latency),
            None => return lost(&tally),
        }
    }
}

/// Reads until the echo arrives; returns the round trip, or `None` if the connection ended.
async fn await_echo(conn: &mut Conn, clock: Clock) -> Option<u64> {
    loop {
        let mut owed = None;
        while let Some(item) = conn.inbox.next_item() {
            match item {
                Item::Data { payload, mask } => {
                    let sent = send_time(payload, mask)?;
                    let now = clock.now_ns();
                    return Some(now.saturating_sub(sent));
                }
                Item::Ping(payload) => owed = Some(OutFrame::ws(opcode::PONG, payload, conn.key)),
                Item::Close => return None,
                Item::Other => {}
            }
        }
        if let Some(pong) = owed {
            conn.tcp.send(pong.as_bytes()).await.ok()?;
        }
        conn.inbox.compact();
        if conn.inbox.fill(&mut conn.tcp).await.ok()? == 0 {
            return None;
        }
    }
}

/// The send time in the first 8 payload bytes (unmasked if the frame is masked).
fn send_time(payload: &[u8], mask: Option<[u8; 4]>) -> Option<u64> {
    let mut bytes: [u8; 8] = payload.get(..8)?.try_into().ok()?;
    if let Some(key) = mask {
        for (i, b) in bytes.iter_mut().enumerate() {
            *b ^= key[i % 4];
        }
    }
    Some(u64::from_le_bytes(bytes))
}

fn lost(tally: &Tally) {
    if !tally.stopping.get() {
        tally.error("an echo connection ended");
    }
}
