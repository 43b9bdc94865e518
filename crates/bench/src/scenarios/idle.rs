//! `idle`: open N connections (on a chat server: each joins one of R rooms and leaves
//! `#lobby`), hold them, and see what they cost the server: resident memory per connection
//! (RSS after minus RSS before, over N), and CPU while nothing is said (keepalive timers).

use std::rc::Rc;

use tokio::task::JoinSet;

use crate::cli::IdleArgs;
use crate::measure::{Clock, Tally, measure};
use crate::net::Dialer;
use crate::procfs;
use crate::report::Sample;
use crate::scenarios::setup::{Plan, open_all};
use crate::scenarios::traffic::client_loop;
use crate::subjects::Live;

/// One run against one server.
pub async fn run(args: &IdleArgs, live: &Live) -> anyhow::Result<Sample> {
    let rss_before = live.pid.and_then(|pid| procfs::rss_bytes(pid).ok());
    let cpu = || live.pid.and_then(|pid| procfs::cpu_times(pid).ok());
    let cpu_before = cpu();
    let plan = Plan {
        chat: live.speaks_chat,
        transport: args.transport,
        rooms: args.rooms.max(1),
        buffer: 1024,
        deflate: args.run.deflate,
    };
    let dialer = Rc::new(Dialer::new(live.addr, args.run.source_addrs).tls(live.tls.clone()));
    let started = std::time::Instant::now();
    let count = args.connections.max(1);
    let (conns, setup) = open_all(
        dialer,
        plan,
        count,
        args.concurrency,
        args.run.setup_timeout,
    )
    .await?;
    let setup_seconds = started.elapsed().as_secs_f64();
    let setup_cpu = cpu_before
        .zip(cpu())
        .map(|(before, after)| after.since(&before));
    let tally = Rc::new(Tally::default());
    let clock = Clock::default();
    let mut tasks = JoinSet::new();
    for conn in conns {
        tasks.spawn_local(client_loop(conn, None, tally.clone(), clock, 0));
    }
    // The warm-up lets the join announcements drain; the window is the idle time measured.
    let window = measure(&tally, live.pid, args.run.warmup, args.run.duration).await;
    tally.stopping.set(true);
    let held = count as u64 - tally.errors.get().min(count as u64);
    tally.ops.set(held);
    *tally.latency.borrow_mut() = setup;
    let mut sample = Sample::new(&tally, &window);
    sample.ops_per_s = count as f64 / setup_seconds.max(1e-9);
    sample.server_cpu_per_op_us = None;
    sample.ops_per_server_cpu_s = None;
    sample.connections = held;
    sample.rss_before_bytes = rss_before;
    sample.setup_cpu_per_connection_us = setup_cpu.map(|cpu| cpu * 1e6 / count as f64);
    sample.rss_per_connection_bytes = match (rss_before, window.server_rss) {
        (Some(before), Some(after)) if held > 0 => {
            Some(after.saturating_sub(before) as f64 / held as f64)
        }
        _ => None,
    };
    Ok(sample)
}
