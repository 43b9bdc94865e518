//! One connection on one thread: its opening, then the session loop around `Conn`, then its
//! goodbye. The thread blocks in `poll(2)` on the socket and on the waker its outbox rings.

use std::io;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use mio::Interest;
use mio::net::TcpStream;
use mio::unix::SourceFd;
use rustchat_ws::outbound::Outbound;

use super::poller::Poller;
use super::{SOCKET, TICK};
use crate::admission::Refusal;
use crate::conn::Conn;
use crate::model::listener::NODELAY_INHERITED;
use crate::model::stream::ByteStream;
use crate::opening::{Opening, Step};
use crate::session::Session;
use crate::shared::Shared;
use crate::tls::stream::{Link, TlsState};

/// One client, start to end, on the calling thread; `poller` is the thread's, made if need be.
pub(super) fn serve_one(
    tcp: TcpStream,
    peer: SocketAddr,
    shared: &Shared,
    stop: &AtomicBool,
    poller: &mut Option<Poller>,
) {
    if let Err(e) = connection(tcp, peer, shared, stop, poller) {
        tracing::debug!(%peer, "connection ended: {e}");
    }
    shared.release(peer);
}

fn connection(
    mut tcp: TcpStream,
    peer: SocketAddr,
    shared: &Shared,
    stop: &AtomicBool,
    poller: &mut Option<Poller>,
) -> io::Result<()> {
    if !NODELAY_INHERITED {
        tcp.set_nodelay(true)?;
    }
    let poller = match poller {
        Some(poller) => poller,
        None => poller.insert(Poller::new()?),
    };
    // Registered until the end; closing the socket takes it out of the poll instance, unless
    // the fan-out still holds it (see `run_session`).
    poller
        .poll
        .registry()
        .register(&mut tcp, SOCKET, Interest::READABLE)?;
    let opening = Opening::new(shared, shared.clock.now(), peer);
    match open(&tcp, shared, poller, stop, opening)? {
        Some((session, tls)) => {
            let link = Link::new(tcp, tls);
            run_session(link, peer, shared, session, stop, poller)
        }
        None => Ok(()),
    }
}

/// Carries out an opening's steps (see `opening`: it decides; this waits, reads and writes)
/// until it has a session for the connection, or none. When the server stops, a wait ends as
/// if its deadline had passed: a silent client is greeted (and then told goodbye), a slow
/// head gets its 408.
fn open(
    tcp: &TcpStream,
    shared: &Shared,
    poller: &mut Poller,
    stop: &AtomicBool,
    mut opening: Opening,
) -> io::Result<Option<(Session, Option<Box<TlsState>>)>> {
    let config = &shared.config;
    let mut step = Step::Read {
        deadline: opening.deadline(),
    };
    loop {
        step = match step {
            Step::Read { deadline } => match read_once(tcp, poller, deadline, stop)? {
                Some(0) => opening.eof(shared),
                Some(n) => opening.read(shared, &poller.scratch[..n], shared.clock.now()),
                None => opening.timeout(shared, shared.clock.now().max(deadline)),
            },
            Step::Send { bytes, deadline } => {
                write_all_until(tcp, tcp, poller, &mut outbound(&bytes), deadline)?;
                Step::Read { deadline }
            }
            Step::Answer(bytes) => {
                let mut out = outbound(&bytes);
                write_and_close(tcp, tcp, poller, &mut out, config.shutdown_grace)?;
                return Ok(None);
            }
            Step::Gone => return Ok(None),
            Step::Session {
                preface,
                session,
                tls,
            } => {
                if !preface.is_empty() {
                    let until = Instant::now() + config.handshake_timeout;
                    write_all_until(tcp, tcp, poller, &mut outbound(&preface), until)?;
                }
                return Ok(Some((*session, tls)));
            }
        };
    }
}

/// Reads once into the thread's scratch buffer, waiting at most until `deadline` (`None`: it
/// passed, or the server stops); `Some(0)` at the end of the stream.
fn read_once(
    tcp: &TcpStream,
    poller: &mut Poller,
    deadline: Instant,
    stop: &AtomicBool,
) -> io::Result<Option<usize>> {
    loop {
        match tcp.try_read(&mut poller.scratch) {
            Ok(n) => return Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stop.load(Ordering::Acquire) {
            return Ok(None);
        }
        poller.wait(Some(left.min(TICK)))?;
    }
}

/// `bytes` as an outbound queue.
fn outbound(bytes: &Bytes) -> Outbound {
    let mut out = Outbound::default();
    out.push_encoded(bytes);
    out
}

/// Writes all of `out` (and the stream's own pending bytes) through `stream` by `deadline`
/// (else `TimedOut`), waiting in poll while the socket `tcp` is full.
fn write_all_until(
    tcp: &TcpStream,
    stream: &impl ByteStream,
    poller: &mut Poller,
    out: &mut Outbound,
    deadline: Instant,
) -> io::Result<()> {
    let mut watching = false;
    let result = loop {
        if let Err(e) = stream.write_some(out) {
            break Err(e);
        }
        if out.is_empty() && !stream.has_pending() {
            break Ok(());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break Err(io::ErrorKind::TimedOut.into());
        }
        if !watching {
            poller.watch(tcp, Interest::READABLE | Interest::WRITABLE)?;
            watching = true;
        }
        poller.wait(Some(left.min(TICK)))?;
    };
    if watching {
        poller.watch(tcp, Interest::READABLE)?;
    }
    result
}

/// Writes `out` through `stream` within `grace`, shuts down our side of `tcp`, and drains the
/// peer's for up to half a second, so the client reads everything before the close.
fn write_and_close(
    tcp: &TcpStream,
    stream: &impl ByteStream,
    poller: &mut Poller,
    out: &mut Outbound,
    grace: Duration,
) -> io::Result<()> {
    let result = write_all_until(tcp, stream, poller, out, Instant::now() + grace);
    let _ = tcp.shutdown(Shutdown::Write);
    let until = Instant::now() + Duration::from_millis(500);
    while let Ok(Some(n)) = read_once(tcp, poller, until, &AtomicBool::new(false)) {
        if n == 0 {
            break;
        }
    }
    result
}

/// Drives a session: the thread blocks in poll on its socket and its outbox's waker. The logic
/// is [`Conn`]'s; this thread only waits, reads and writes.
fn run_session(
    link: Link<TcpStream>,
    peer: SocketAddr,
    shared: &Shared,
    session: Session,
    stop: &AtomicBool,
    poller: &mut Poller,
) -> io::Result<()> {
    // Shared with the fan-out, which writes through while this thread sleeps.
    let link = Arc::new(link);
    let mut conn = Conn::new(shared, session, link.clone(), peer);
    let ring = poller.waker.clone();
    conn.outbox().set_waker(move || {
        let _ = ring.wake();
    });
    let result = drive(&link, &mut conn, poller, stop);
    let mut rest = conn.close();
    if result.is_ok() {
        link.close_notify();
        let grace = shared.config.shutdown_grace;
        let _ = write_and_close(link.socket(), &*link, poller, &mut rest, grace);
    }
    // The poll instance serves this thread's next connection. Closing the socket forgets it
    // there, unless someone else still holds it open.
    if let Err(link) = Arc::try_unwrap(link) {
        let _ = poller
            .poll
            .registry()
            .deregister(&mut SourceFd(&link.socket().as_raw_fd()));
    }
    result
}

/// The session's loop: write, read what the socket holds, sleep until the socket or the
/// outbox has news.
///
/// Readiness is edge-triggered (mio), so an event says only that bytes arrived, once: the
/// loop keeps its own `unread` flag — the socket may hold bytes nobody has read — and reads
/// before it sleeps whenever the flag is set. It starts set: the opening read only what it
/// needed, and a client may have sent far more in its first write (issue 17: a 20 KB first
/// line followed by `/who` waited forever for an edge that had already come). It stays set
/// when a read stops early (the session fell behind on writing, or a read filled the
/// buffer), so no path can wait for an edge after a partial read.
fn drive(
    link: &Link<TcpStream>,
    conn: &mut Conn<'_>,
    poller: &mut Poller,
    stop: &AtomicBool,
) -> io::Result<()> {
    let mut writing = false;
    let mut unread = true;
    // The peer's end of stream was announced: reads go on to the 0 that says it, since no
    // edge will announce it again (the FIN may have come with the last bytes).
    let mut hung_up = false;
    loop {
        if conn.outbox_has_news() {
            conn.handle_outbox();
            continue;
        }
        link.write_some(conn.poll_transmit())?;
        if conn.is_done() {
            return Ok(());
        }
        if stop.load(Ordering::Acquire) {
            // Looked at before every sleep: the server sets `stop` before it rings the
            // outboxes, and this outbox may have been shut down before its waker was set.
            conn.handle_shutdown();
            continue;
        }
        if unread && conn.wants_read() {
            // Bytes may be waiting and no edge will announce them again: read them now.
            // A short TLS read proves nothing: records may wait behind the one decrypted.
            let drains = SHORT_READ_DRAINS && !hung_up && !link.is_tls();
            unread = read_all(link, conn, &mut poller.scratch, drains)?;
            continue;
        }
        // TLS records the link made itself (a write's tail) wait for the socket too.
        let want_write = conn.wants_write() || link.has_pending();
        if want_write != writing {
            let interest = if want_write {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            poller.watch(link.socket(), interest)?;
            writing = want_write;
        }
        // Until it wakes, the fan-out writes this client's events itself.
        conn.sleep();
        // Until the next keepalive or handshake deadline, if any: an idle session costs no
        // wake-ups. The shutdown rings the outbox's waker.
        let due = conn.poll_timeout();
        poller.wait(due.map(|at| at.saturating_duration_since(Instant::now())))?;
        conn.wake();
        for e in poller.events.iter().filter(|e| e.token() == SOCKET) {
            unread |= e.is_readable() || e.is_read_closed() || e.is_error();
            hung_up |= e.is_read_closed() || e.is_error();
        }
        if due.is_some_and(|at| at <= Instant::now()) {
            conn.handle_timeout();
        }
    }
}

/// Whether a read that did not fill the buffer emptied the socket, so that more data arriving
/// later is sure to raise a new readiness event (Linux's edge-triggered epoll raises one for
/// every arrival), and the read that would only say `WouldBlock` can be skipped.
const SHORT_READ_DRAINS: bool = cfg!(any(target_os = "linux", target_os = "android"));

/// Reads and hands over what was read, read by read (so buffers stay bounded), until the
/// socket is drained or the connection stops taking input. Returns whether the socket may
/// still hold unread bytes (no new readiness event will say so). `short_read_drains`: a
/// read that did not fill the buffer may be taken to have drained the socket (not once the
/// peer has hung up — the end of stream still waits behind the bytes — nor over TLS).
fn read_all(
    sock: &impl ByteStream,
    conn: &mut Conn<'_>,
    buf: &mut [u8],
    short_read_drains: bool,
) -> io::Result<bool> {
    while !conn.is_done() {
        if !conn.wants_read() {
            return Ok(true);
        }
        match sock.try_read(buf) {
            Ok(0) => {
                conn.handle_eof();
                return Ok(false);
            }
            Ok(n) => {
                conn.handle_read(&buf[..n]);
                if short_read_drains && n < buf.len() {
                    return Ok(false);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

/// Tells a connection refused at accept why (call it on a thread of its own).
pub(super) fn refuse(mut tcp: TcpStream, shared: &Shared, refusal: Refusal) {
    let mut poller = match Poller::new() {
        Ok(poller) => poller,
        Err(e) => {
            tracing::warn!("cannot refuse a connection politely: {e}");
            return;
        }
    };
    if poller
        .poll
        .registry()
        .register(&mut tcp, SOCKET, Interest::READABLE)
        .is_err()
    {
        return;
    }
    let opening = Opening::refusing(shared.clock.now(), refusal);
    let _ = open(&tcp, shared, &mut poller, &AtomicBool::new(false), opening);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A connected pair on loopback whose client reads nothing and has a tiny receive window.
    fn deaf_pair() -> io::Result<(std::net::TcpStream, TcpStream)> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let client = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
        client.set_recv_buffer_size(4096)?;
        client.connect(&listener.local_addr()?.into())?;
        let (server_side, _) = listener.accept()?;
        server_side.set_nonblocking(true)?;
        Ok((client.into(), TcpStream::from_std(server_side)))
    }

    /// The last words to a client that reads nothing (an HTTP response, a goodbye) are given up
    /// after the grace period: it cannot keep a thread — in `sequential`, the only one.
    #[test]
    fn a_goodbye_nobody_reads_is_given_up_after_the_grace() -> io::Result<()> {
        let (_client, mut tcp) = deaf_pair()?;
        let mut poller = Poller::new()?;
        poller
            .poll
            .registry()
            .register(&mut tcp, SOCKET, Interest::READABLE)?;
        // Far more than loopback buffers hold (a few MiB), so the write must wait.
        let bytes = Bytes::from(vec![b'x'; 32 << 20]);
        let grace = Duration::from_millis(200);
        let started = Instant::now();
        let result = write_and_close(&tcp, &tcp, &mut poller, &mut outbound(&bytes), grace);
        let took = started.elapsed();
        assert_eq!(
            result.map_err(|e| e.kind()),
            Err(io::ErrorKind::TimedOut),
            "the write cannot have finished"
        );
        // The grace, then at most half a second waiting for the client's end of the stream.
        assert!(
            took >= grace && took < grace + Duration::from_millis(1500),
            "took {took:?}"
        );
        Ok(())
    }
}
