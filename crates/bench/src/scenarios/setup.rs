//! Setting clients up before a measured window: connect, upgrade to WebSocket if asked, and on
//! a chat server join the client's room and leave `#lobby` (so that later arrivals are not
//! announced to everyone), then wait for the server's own `joined` line for this client.

use std::rc::Rc;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::cli::Transport;
use crate::measure::Clock;
use crate::net::{Dialer, ws_upgrade};
use crate::stats::Latency;
use crate::tls::Stream;
use crate::wire::{Framing, Inbox, Item, OutFrame, opcode};

/// A set-up client connection.
#[derive(Debug)]
pub struct Conn {
    /// The socket (or TLS over it).
    pub tcp: Stream,
    /// Bytes read past the setup.
    pub inbox: Inbox,
    /// How it talks.
    pub transport: Transport,
    /// Its WebSocket mask key (fixed per connection: a load generator needs no secrecy).
    pub key: [u8; 4],
}

/// How clients are set up.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Join rooms (a chat server) or only connect (a peer).
    pub chat: bool,
    /// WebSocket or lines.
    pub transport: Transport,
    /// Rooms to spread the clients over, client `i` in room `i % rooms`.
    pub rooms: usize,
    /// WebSocket clients offer permessage-deflate (`--deflate`).
    pub deflate: bool,
    /// Initial read buffer per connection.
    pub buffer: usize,
}

/// The name of room `r`.
pub fn room_name(r: usize) -> String {
    format!("#bench-{r}")
}

/// The mask key of client `i`.
pub fn mask_key(i: usize) -> [u8; 4] {
    let b = (i as u32).wrapping_mul(2_654_435_761).to_le_bytes();
    [b[0] | 1, b[1], b[2], b[3]]
}

/// Sets up one client `i`.
pub async fn open(dialer: &Dialer, plan: &Plan, i: usize) -> anyhow::Result<Conn> {
    let mut tcp = dialer.connect().await.context("cannot connect")?;
    let mut inbox = Inbox::new(Framing::Line, plan.buffer);
    if plan.transport == Transport::Ws {
        ws_upgrade(&mut tcp, dialer.target(), &mut inbox, plan.deflate).await?;
    }
    let mut conn = Conn {
        tcp,
        inbox,
        transport: plan.transport,
        key: mask_key(i),
    };
    if plan.chat {
        let room = room_name(i % plan.rooms.max(1));
        join(&mut conn, &room).await?;
    }
    Ok(conn)
}

/// Sends one chat command (a line, or a text frame).
pub async fn send_command(conn: &mut Conn, text: &str) -> std::io::Result<()> {
    let frame = match conn.transport {
        Transport::Ws => OutFrame::ws(opcode::TEXT, text.as_bytes(), conn.key),
        Transport::Line => OutFrame::line(text.as_bytes()),
    };
    conn.tcp.send(frame.as_bytes()).await
}

async fn join(conn: &mut Conn, room: &str) -> anyhow::Result<()> {
    send_command(conn, &format!("/join {room}")).await?;
    send_command(conn, "/part #lobby").await?;
    let mut nick: Option<String> = None;
    loop {
        while let Some(item) = conn.inbox.next_item() {
            match item {
                Item::Data { payload, .. } => {
                    let text = String::from_utf8_lossy(payload);
                    if nick.is_none() {
                        nick = welcome_nick(&text);
                    } else if nick.as_deref().is_some_and(|n| is_own_join(&text, n, room)) {
                        return Ok(());
                    } else if text.starts_with("ERROR") {
                        bail!("the server refused to join {room}: {text}");
                    }
                }
                Item::Ping(payload) => {
                    let pong = OutFrame::ws(opcode::PONG, payload, conn.key);
                    conn.tcp.send(pong.as_bytes()).await?;
                }
                Item::Close => bail!("the server closed the WebSocket during setup"),
                Item::Other => {}
            }
        }
        if conn.inbox.fill(&mut conn.tcp).await? == 0 {
            bail!("the server closed the connection during setup");
        }
    }
}

/// The nick in `*** welcome, NICK! …`.
pub fn welcome_nick(text: &str) -> Option<String> {
    let rest = text.strip_prefix("*** welcome, ")?;
    Some(rest[..rest.find('!')?].to_string())
}

/// Whether `text` is the server announcing that `nick` joined `room`.
pub fn is_own_join(text: &str, nick: &str, room: &str) -> bool {
    text.trim_end()
        .ends_with(&format!("] -> {nick} joined {room}"))
}

/// Sets up `count` clients, `concurrency` at a time, within `deadline`; returns them in order
/// and the setup latency of each (connect to ready).
pub async fn open_all(
    dialer: Rc<Dialer>,
    plan: Plan,
    count: usize,
    concurrency: usize,
    deadline: Duration,
) -> anyhow::Result<(Vec<Conn>, Latency)> {
    let gate = Rc::new(Semaphore::new(concurrency.max(1)));
    let plan = Rc::new(plan);
    let clock = Clock::default();
    let mut tasks = JoinSet::new();
    for i in 0..count {
        let (dialer, plan, gate) = (dialer.clone(), plan.clone(), gate.clone());
        tasks.spawn_local(async move {
            let _permit = gate.acquire().await;
            let start = clock.now_ns();
            let conn = open(&dialer, &plan, i).await;
            (i, conn, clock.now_ns() - start)
        });
    }
    let mut slots: Vec<Option<Conn>> = (0..count).map(|_| None).collect();
    let mut latency = Latency::new();
    let mut failed: Vec<String> = Vec::new();
    let collect = async {
        while let Some(joined) = tasks.join_next().await {
            let Ok((i, conn, ns)) = joined else { continue };
            match conn {
                Ok(conn) => {
                    slots[i] = Some(conn);
                    latency.record_ns(ns);
                }
                Err(e) => failed.push(format!("{e:#}")),
            }
        }
    };
    let in_time = tokio::time::timeout(deadline, collect).await.is_ok();
    let ready = slots.iter().filter(|s| s.is_some()).count();
    if ready < count {
        bail!(
            "only {ready} of {count} clients were set up{}{}",
            if in_time {
                String::new()
            } else {
                format!(" within {:.0} s (--setup-timeout)", deadline.as_secs_f64())
            },
            failed
                .first()
                .map(|e| format!("; {} failed, first: {e}", failed.len()))
                .unwrap_or_default()
        );
    }
    Ok((slots.into_iter().flatten().collect(), latency))
}
