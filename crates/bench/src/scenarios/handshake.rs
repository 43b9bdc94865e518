//! `handshake`: C clients, each in a loop: connect, `HELLO X` → `HELLO X+1` → `HELLO X+2`,
//! `/quit`, read until the server closes. One op is one such connection; its latency runs from
//! `connect` to the server's `HELLO X+1`.
//!
//! With `--tls` it measures TLS handshakes instead, on any server (the peers too): connect,
//! a full TLS handshake (no resumption), `close_notify`, read until the server closes. One op
//! is one such connection; its latency runs from `connect` to the handshake's end.

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
    let tls_only = live.tls.is_some();
    if !live.speaks_chat && !tls_only {
        bail!(
            "{}: the HELLO handshake is rustchat's own (--tls measures TLS handshakes on any server)",
            live.name
        );
    }
    let tally = Rc::new(Tally::default());
    let dialer = Rc::new(Dialer::new(live.addr, args.run.source_addrs).tls(live.tls.clone()));
    let clock = Clock::default();
    let mut tasks = JoinSet::new();
    for i in 0..args.clients.max(1) {
        let (dialer, tally) = (dialer.clone(), tally.clone());
        tasks.spawn_local(client(i as u64, dialer, tally, clock, tls_only));
    }
    let window = measure(&tally, live.pid, args.run.warmup, args.run.duration).await;
    tally.stopping.set(true);
    Ok(Sample::new(&tally, &window))
}

async fn client(i: u64, dialer: Rc<Dialer>, tally: Rc<Tally>, clock: Clock, tls_only: bool) {
    let mut inbox = Inbox::new(Framing::Line, 4096);
    let mut x = i << 32;
    while !tally.stopping.get() {
        x += 1;
        let one = async {
            if tls_only {
                tls_cycle(&dialer, &mut inbox, clock).await
            } else {
                cycle(&dialer, &mut inbox, x, clock).await
            }
        };
        match tokio::time::timeout(CYCLE_TIMEOUT, one).await {
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

/// One TLS connection; returns the handshake's latency in nanoseconds.
async fn tls_cycle(dialer: &Dialer, inbox: &mut Inbox, clock: Clock) -> anyhow::Result<u64> {
    use tokio::io::AsyncWriteExt;
    let start = clock.now_ns();
    let mut tls = dialer.connect().await.context("cannot connect")?;
    let latency = clock.now_ns() - start;
    // close_notify, then our end of the stream; the server closes its side in turn.
    tls.shutdown().await?;
    loop {
        inbox.consume(usize::MAX);
        match inbox.fill(&mut tls).await {
            Ok(0) => return Ok(latency),
            Ok(_) => {}
            // A server that closes without its own close_notify has still closed.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(latency),
            Err(e) => return Err(e.into()),
        }
    }
}
