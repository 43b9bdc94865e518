//! `broadcast`: R rooms of C clients, S of them per room sending stamped messages; every client
//! counts what it receives. One op is one delivery: a message received by one client (senders
//! receive their own too, as the confirmation a chat server sends).

use std::rc::Rc;
use std::time::Duration;

use anyhow::bail;
use tokio::task::JoinSet;
use tokio::time::MissedTickBehavior;

use crate::cli::{BroadcastArgs, Rate, Transport};
use crate::measure::{Clock, Tally, measure};
use crate::net::Dialer;
use crate::report::Sample;
use crate::scenarios::setup::{Plan, open, open_all};
use crate::scenarios::traffic::{Sender, client_loop};
use crate::subjects::Live;
use crate::wire::{OutFrame, STAMP_LEN, chat_text, opcode};

/// One run against one server.
pub async fn run(args: &BroadcastArgs, live: &Live, run: u32) -> anyhow::Result<Sample> {
    check(args, live)?;
    let total = args.rooms * args.clients;
    let plan = Plan {
        chat: live.speaks_chat,
        transport: args.transport,
        rooms: args.rooms,
        buffer: 64 * 1024,
        deflate: args.run.deflate,
    };
    let dialer = Rc::new(Dialer::new(live.addr, args.run.source_addrs).tls(live.tls.clone()));
    let (conns, _) = open_all(
        dialer.clone(),
        plan.clone(),
        total,
        256,
        args.run.setup_timeout,
    )
    .await?;
    let tally = Rc::new(Tally::default());
    let clock = Clock::default();
    let mut tasks = JoinSet::new();
    for (i, conn) in conns.into_iter().enumerate() {
        let sender = sender(args, i, conn.key);
        tasks.spawn_local(client_loop(conn, sender, tally.clone(), clock, run));
    }
    if args.joiners > 0.0 && live.speaks_chat {
        tasks.spawn_local(joiners(dialer, plan, args.joiners, tally.clone()));
    }
    let window = measure(&tally, live.pid, args.run.warmup, args.run.duration).await;
    tally.stopping.set(true);
    Ok(Sample::new(&tally, &window))
}

fn check(args: &BroadcastArgs, live: &Live) -> anyhow::Result<()> {
    if args.clients == 0 || args.rooms == 0 {
        bail!("--clients and --rooms must be at least 1");
    }
    if args.senders == 0 || args.senders > args.clients {
        bail!(
            "--senders {} must be between 1 and --clients {}",
            args.senders,
            args.clients
        );
    }
    if args.rooms * args.senders > usize::from(u16::MAX) {
        bail!("at most 65535 senders in all");
    }
    if !live.speaks_chat && (args.rooms > 1 || args.transport == Transport::Line) {
        bail!(
            "{} has no rooms and speaks only WebSocket: use --rooms 1 --transport ws",
            live.name
        );
    }
    Ok(())
}

/// Client `i` sends if it is one of the first `senders` of its room (clients are dealt to
/// rooms in turn: client i is in room i % rooms).
fn sender(args: &BroadcastArgs, i: usize, key: [u8; 4]) -> Option<Sender> {
    let index_in_room = i / args.rooms;
    if index_in_room >= args.senders {
        return None;
    }
    let mut text = chat_text(args.size.max(STAMP_LEN), i);
    text[..2].copy_from_slice(b"@@");
    let frame = match args.transport {
        Transport::Ws => OutFrame::ws(opcode::TEXT, &text, key),
        Transport::Line => OutFrame::line(&text),
    };
    let interval = match args.rate {
        Rate::PerSecond(rate) => {
            let mut iv = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
            iv.set_missed_tick_behavior(MissedTickBehavior::Burst);
            Some(iv)
        }
        Rate::Max => None,
    };
    Some(Sender {
        id: i as u16,
        frame,
        interval,
        window: args.window.max(1),
    })
}

/// `--joiners`: a newcomer joins the first room every `1 / rate` s (sent the room's replay,
/// announced to its members), then hangs up; until the run stops. A joiner that fails is an
/// error of the run.
async fn joiners(dialer: Rc<Dialer>, plan: Plan, rate: f64, tally: Rc<Tally>) {
    let every = std::time::Duration::from_secs_f64(1.0 / rate);
    let mut k = 0;
    while !tally.stopping.get() {
        tokio::time::sleep(every).await;
        k += 1;
        // Client `k × rooms` is in room 0, like the first client.
        let (dialer, plan, tally) = (dialer.clone(), plan.clone(), tally.clone());
        tokio::task::spawn_local(async move {
            if let Err(e) = open(&dialer, &plan, k * plan.rooms.max(1)).await
                && !tally.stopping.get()
            {
                tally.error(format!("a joiner failed: {e:#}"));
            }
        });
    }
}
