//! `handshake`: C clients, each in a loop: connect, `HELLO X` → `HELLO X+1` → `HELLO X+2`,
//! `/quit`, read until the server closes. One op is one such connection; its latency runs from
//! `connect` to the server's `HELLO X+1`.

use std::rc::Rc;
use std::time::Duration;

use anyhow::{Context, bail};
use rustchat_proto::HelloClient;
use tokio::task::JoinSet;

use crate::cli::HandshakeArgs;
use crate::measure::{Clock, Tally, measure};
use crate::net::Dialer;
use crate::report::Sample;
use crate::subjects::Live;
use crate::wire::{Framing, Inbox, Item};

/// Longest one connection may take before it counts as failed.
const CYCLE_TIMEOUT: Duration = Duration::from_secs(10);

/// One run against one server.
pub async fn run(args: &HandshakeArgs, live: &Live) -> anyhow::Result<Sample> {
    if !live.speaks_chat {
        bail!("{}: the HELLO handshake is rustchat's own", live.name);
    }
    let tally = Rc::new(Tally::default());
    let dialer = Rc::new(Dialer::new(live.addr, args.run.source_addrs).tls(live.tls.clone()));
    let clock = Clock::default();
    let mut tasks = JoinSet::new();
    for i in 0..args.clients.max(1) {
        tasks.spawn_local(client(i as u64, dialer.clone(), tally.clone(), clock));
    }
    let window = measure(&tally, live.pid, args.run.warmup, args.run.duration).await;
    tally.stopping.set(true);
    Ok(Sample::new(&tally, &window))
}

async fn client(i: u64, dialer: Rc<Dialer>, tally: Rc<Tally>, clock: Clock) {
    let mut inbox = Inbox::new(Framing::Line, 4096);
    let mut x = i << 32;
    while !tally.stopping.get() {
        x += 1;
        match tokio::time::timeout(CYCLE_TIMEOUT, cycle(&dialer, &mut inbox, x, clock)).await {
            Ok(Ok(latency)) => tally.op(latency),
            Ok(Err(e)) => {
                tally.error(format!("{e:#}"));
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(_) => tally.error("a connection took more than 10 s"),
        }
    }
}

/// One connection; returns the handshake latency in nanoseconds.
async fn cycle(dialer: &Dialer, inbox: &mut Inbox, x: u64, clock: Clock) -> anyhow::Result<u64> {
    let start = clock.now_ns();
    let mut tcp = dialer.connect().await.context("cannot connect")?;
    inbox.consume(usize::MAX);
    let mut hello = HelloClient::new(x)?;
    tcp.send(format!("{}\n", hello.first_line()).as_bytes())
        .await?;
    let reply = loop {
        if let Some(Item::Data { payload, .. }) = inbox.next_item() {
            break String::from_utf8_lossy(payload).into_owned();
        }
        if inbox.fill(&mut tcp).await? == 0 {
            bail!("the server closed the connection before answering HELLO");
        }
    };
    let last = hello.receive(&reply).context("bad HELLO answer")?;
    let latency = clock.now_ns() - start;
    tcp.send(format!("{last}\n/quit\n").as_bytes()).await?;
    // Read the welcome and the goodbye until the server closes.
    loop {
        inbox.consume(usize::MAX);
        if inbox.fill(&mut tcp).await? == 0 {
            return Ok(latency);
        }
    }
}
