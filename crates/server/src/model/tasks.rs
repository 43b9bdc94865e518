//! The `async` concurrency model: tokio, one task per connection.
//!
//! Each task owns its socket and its [`Session`], and waits on four things at once: the socket
//! becoming readable, the socket becoming writable (only while bytes are pending), its outbox
//! (only while the pending bytes are below a high-water mark — past it the outbox fills up and
//! the slow-consumer policy takes over; the outbox also carries the server's shutdown), and a
//! timer set to the session's next deadline (keepalive, HELLO handshake), if it has one.
//!
//! An idle connection is kept small: the wait is one hand-written `poll_fn` over readiness
//! flags (no futures stored per branch), reads go through a per-thread scratch buffer, and the
//! detection and HTTP-head buffers are gone before the session starts. The task's size is
//! pinned by a test (`idle_task_stays_small`).

use std::cell::RefCell;
use std::future::{Future, poll_fn};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;
use std::time::Duration;

use rustchat_ws::outbound::Outbound;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::time::{Instant, timeout};

use crate::admission::Refusal;
use crate::conn::Conn;
use crate::model::listener::NODELAY_INHERITED;
use crate::model::stream::ByteStream;
use crate::opening::{Opening, Step};
use crate::session::Session;
use crate::shared::Shared;
use crate::tls::stream::{Link, TlsState};

thread_local! {
    /// Read buffer shared by all connections of one runtime thread.
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(vec![0; 64 * 1024]);
}

/// Counts live connection tasks so shutdown can wait for them.
#[derive(Debug, Default)]
struct Live {
    count: AtomicUsize,
    idle: Notify,
}

/// Serves until `shutdown` turns true, then says goodbye to every client (bounded by the
/// configured grace period) and returns.
pub(crate) async fn serve(
    shared: Arc<Shared>,
    listeners: Vec<std::net::TcpListener>,
    shutdown: watch::Receiver<bool>,
) -> io::Result<()> {
    let live = Arc::new(Live::default());
    let mut accept_loops = tokio::task::JoinSet::new();
    for listener in listeners {
        listener.set_nonblocking(true)?;
        let listener = TcpListener::from_std(listener)?;
        let (shared, live, shutdown) = (shared.clone(), live.clone(), shutdown.clone());
        accept_loops.spawn(accept_loop(listener, shared, live, shutdown));
    }
    while accept_loops.join_next().await.is_some() {}
    let grace = shared.config.shutdown_grace + Duration::from_secs(1);
    let drained = async {
        while live.count.load(Ordering::Acquire) > 0 {
            live.idle.notified().await;
        }
    };
    if timeout(grace, drained).await.is_err() {
        tracing::warn!(
            "{} connections still open after the grace period",
            live.count.load(Ordering::Acquire)
        );
    }
    Ok(())
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    live: Arc<Live>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let (tcp, peer) = tokio::select! {
            () = stopped(&mut shutdown) => return,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        if let Err(refusal) = shared.admit(peer) {
            tokio::spawn(refuse(tcp, shared.clone(), refusal));
            continue;
        }
        live.count.fetch_add(1, Ordering::AcqRel);
        let (shared, live) = (shared.clone(), live.clone());
        tokio::spawn(async move {
            // Two steps, so the task is only ever as big as the larger of them, not both.
            let result = match open(tcp, peer, &shared).await {
                Ok(Some((link, session))) => run_session(link, peer, &shared, session).await,
                Ok(None) => Ok(()),
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                tracing::debug!(%peer, "connection ended: {e}");
            }
            shared.release(peer);
            if live.count.fetch_sub(1, Ordering::AcqRel) == 1 {
                live.idle.notify_waiters();
            }
        });
    }
}

/// Resolves once the shutdown flag is set (never, if its sender is gone without setting it).
async fn stopped(flag: &mut watch::Receiver<bool>) {
    loop {
        if *flag.borrow_and_update() {
            return;
        }
        if flag.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Tells a client refused at accept why, in its own protocol, and closes.
async fn refuse(tcp: TcpStream, shared: Arc<Shared>, refusal: Refusal) {
    let opening = Opening::refusing(shared.clock.now(), refusal);
    let _ = run_opening(&tcp, &shared, opening).await;
}

/// A client from its first byte to its session. [`Opening`] decides everything (protocol,
/// HTTP head and routes, refusals); this only waits, reads and writes. `None` when there is
/// no session to run (plain HTTP, a refusal, a hang-up).
async fn open(
    tcp: TcpStream,
    peer: SocketAddr,
    shared: &Shared,
) -> io::Result<Option<(Link<TcpStream>, Box<Session>)>> {
    if !NODELAY_INHERITED {
        tcp.set_nodelay(true)?;
    }
    let opening = Opening::new(shared, shared.clock.now(), peer);
    let opened = run_opening(&tcp, shared, opening).await?;
    Ok(opened.map(|(session, tls)| (Link::new(tcp, tls), session)))
}

/// A session and, for a TLS connection, its TLS state.
type Opened = (Box<Session>, Option<Box<TlsState>>);

/// Carries out an opening's steps until it has a session for the connection, or none.
async fn run_opening(
    tcp: &TcpStream,
    shared: &Shared,
    mut opening: Opening,
) -> io::Result<Option<Opened>> {
    let step = settle(tcp, shared, &mut opening).await?;
    drop(opening);
    let config = &shared.config;
    match step {
        Step::Read { .. } | Step::Send { .. } | Step::Gone => Ok(None),
        Step::Answer(bytes) => {
            // Boxed, here and below: a waiting connection's task holds only the wait.
            let mut out = Outbound::default();
            out.push_encoded(&bytes);
            Box::pin(finish(tcp, tcp, &mut out, config.shutdown_grace)).await;
            Ok(None)
        }
        Step::Session {
            preface,
            session,
            tls,
        } => {
            if !preface.is_empty() {
                Box::pin(write_all(tcp, &preface, config.handshake_timeout)).await?;
            }
            Ok(Some((session, tls)))
        }
    }
}

/// Waits and reads (and sends what a TLS handshake says to) until the opening takes a step
/// other than reading. Only the deadline lives across the waits, so the task stays small
/// while a client is silent.
async fn settle(tcp: &TcpStream, shared: &Shared, opening: &mut Opening) -> io::Result<Step> {
    let mut deadline = opening.deadline();
    loop {
        let wait = deadline.saturating_duration_since(shared.clock.now());
        let step = match timeout(wait, tcp.readable()).await {
            Err(_) => opening.timeout(shared, shared.clock.now()),
            Ok(Err(e)) => return Err(e),
            Ok(Ok(())) => SCRATCH.with_borrow_mut(|buf| match ByteStream::try_read(tcp, buf) {
                Ok(0) => Ok(opening.eof(shared)),
                Ok(n) => Ok(opening.read(shared, &buf[..n], shared.clock.now())),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Step::Read { deadline }),
                Err(e) => Err(e),
            })?,
        };
        match step {
            Step::Read { deadline: next } => deadline = next,
            Step::Send {
                bytes,
                deadline: next,
            } => {
                let wait = next.saturating_duration_since(shared.clock.now());
                Box::pin(write_all(tcp, &bytes, wait)).await?;
                deadline = next;
            }
            other => return Ok(other),
        }
    }
}

/// Drives a session until it ends, then flushes its goodbye (bounded) and leaves the hub. The
/// logic is [`Conn`]'s; this task only waits, reads and writes.
async fn run_session(
    link: Link<TcpStream>,
    peer: SocketAddr,
    shared: &Shared,
    session: Box<Session>,
) -> io::Result<()> {
    let link = Arc::new(link);
    let tcp = link.socket();
    let mut conn = Conn::new(shared, *session, link.clone(), peer);
    let outbox = conn.outbox().clone();
    let mut timer = std::pin::pin!(tokio::time::sleep(Duration::ZERO));
    // The deadline the timer is set to, while it is set.
    let mut armed: Option<Instant> = None;
    let result = loop {
        if let Err(e) = link.write_some(conn.poll_transmit()) {
            break Err(e);
        }
        if conn.is_done() {
            break Ok(());
        }
        // TLS records the link made itself (a write's tail) wait for the socket too.
        let want_write = conn.wants_write() || link.has_pending();
        let want_events = conn.wants_events();
        // Not while the client is owed too much: it must read first (TCP holds it back).
        let want_read = conn.wants_read();
        // Until it wakes, the fan-out writes this client's events itself.
        conn.sleep();
        // Re-armed only when a deadline comes sooner: one that moved later (the client spoke)
        // is found when the timer fires early, so a busy connection never touches the timer.
        if let Some(due) = conn.poll_timeout().map(Instant::from_std)
            && armed.is_none_or(|at| due < at)
        {
            timer.as_mut().reset(due);
            armed = Some(due);
        }
        let ready = poll_fn(|cx| {
            let mut ready = Ready::default();
            if want_read {
                match tcp.poll_read_ready(cx) {
                    Poll::Ready(Ok(())) => ready.read = true,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => {}
                }
            }
            if want_write {
                match tcp.poll_write_ready(cx) {
                    Poll::Ready(Ok(())) => ready.write = true,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => {}
                }
            }
            ready.events = outbox.poll_ready(cx, want_events).is_ready();
            ready.timer = armed.is_some() && timer.as_mut().poll(cx).is_ready();
            if ready.read || ready.write || ready.events || ready.timer {
                Poll::Ready(Ok(ready))
            } else {
                Poll::Pending
            }
        })
        .await;
        conn.wake();
        let ready = match ready {
            Ok(ready) => ready,
            Err(e) => break Err(e),
        };
        if ready.read
            && let Err(e) = read_some(&*link, &mut conn)
        {
            break Err(e);
        }
        if ready.events {
            conn.handle_outbox();
        }
        if ready.timer {
            armed = None;
            conn.handle_timeout();
        }
    };
    let mut last = conn.close();
    if result.is_ok() {
        // Boxed: the goodbye's timers would otherwise make every idle task bigger.
        link.close_notify();
        Box::pin(finish(tcp, &*link, &mut last, shared.config.shutdown_grace)).await;
    }
    result
}

/// What woke a connection's task (several at once, often).
#[derive(Debug, Default, Clone, Copy)]
struct Ready {
    read: bool,
    write: bool,
    events: bool,
    timer: bool,
}

/// Flushes the last bytes through `stream` (bounded by `grace`), then closes our side of
/// `tcp` first and waits briefly for the client to close its side (RFC 6455 §7.1.1: the
/// server closes TCP first).
async fn finish(tcp: &TcpStream, stream: &impl ByteStream, out: &mut Outbound, grace: Duration) {
    let _ = timeout(grace, flush(tcp, stream, out)).await;
    let _ = socket2::SockRef::from(tcp).shutdown(std::net::Shutdown::Write);
    let _ = timeout(Duration::from_millis(500), async {
        // Whatever the client still sends is read and dropped, until it closes its side.
        while tcp.readable().await.is_ok() {
            match SCRATCH.with_borrow_mut(|buf| stream.try_read(buf)) {
                Ok(0) => return,
                Err(e) if e.kind() != io::ErrorKind::WouldBlock => return,
                Ok(_) | Err(_) => {}
            }
        }
    })
    .await;
}

/// One non-blocking read through the thread's scratch buffer into the connection.
fn read_some(stream: &impl ByteStream, conn: &mut Conn<'_>) -> io::Result<()> {
    SCRATCH.with_borrow_mut(|buf| match stream.try_read(buf) {
        Ok(0) => {
            conn.handle_eof();
            Ok(())
        }
        Ok(n) => {
            conn.handle_read(&buf[..n]);
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
        Err(e) => Err(e),
    })
}

/// Writes all of `bytes` within `limit` (else `TimedOut`). Only short answers go this way
/// (an upgrade, an error), but a client that reads nothing must not keep us waiting.
async fn write_all(tcp: &TcpStream, bytes: &[u8], limit: Duration) -> io::Result<()> {
    let mut out = Outbound::default();
    out.push_encoded(&bytes::Bytes::copy_from_slice(bytes));
    timeout(limit, flush(tcp, tcp, &mut out))
        .await
        .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into()))
}

/// Writes all of `out` (and the stream's own pending bytes) through `stream`, waiting while
/// the socket `tcp` is full (the caller bounds the time).
async fn flush(tcp: &TcpStream, stream: &impl ByteStream, out: &mut Outbound) -> io::Result<()> {
    stream.write_some(out)?;
    while !out.is_empty() || stream.has_pending() {
        tcp.writable().await?;
        stream.write_some(out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
