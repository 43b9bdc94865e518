//! The blocking concurrency models: `sequential`, `threads` and `pool:N`.
//!
//! They differ only in who runs a connection: the accepting thread itself (`sequential`: the
//! others wait in the kernel's backlog), a thread of its own (`threads`: whichever of the
//! threads waiting in `accept` the kernel gives it to — see [`Crew`]), or one of N workers that
//! keeps it for its whole life (`pool`: the rest queue). The thread serving a connection blocks
//! in `poll(2)` (mio) on two things: its socket, and a waker its outbox rings when events
//! arrive — so a broadcast never waits for a slow receiver, exactly as in the async model.

//!
//! Files: `threads.rs` (the leader/followers crew), `pool.rs` (N workers and their queue),
//! `poller.rs` (what a serving thread waits on), `conn.rs` (one connection on one thread: the
//! opening, then the session loop around `Conn`).

mod conn;
mod poller;
mod pool;
mod threads;

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

pub(crate) use crate::config::Blocking;
use crate::shared::Shared;
use conn::{refuse, serve_one};
use poller::poll_retrying;
use pool::Pool;
use threads::Crew;

pub(super) const SOCKET: Token = Token(0);
pub(super) const WAKE: Token = Token(1);
/// How often the accepting loop (`sequential`, `pool`), [`Crew::serve`] (`threads`) and a
/// connection still being detected look at the stop flag. A session's thread needs no such
/// tick: it sleeps until its next deadline, and the shutdown reaches it through its outbox.
pub(super) const TICK: Duration = Duration::from_millis(250);
/// Stack of a connection thread or pool worker. A session needs little (reads land in the
/// thread's heap scratch buffer); the 2 MiB default would be mapped and unmapped per new
/// thread, while stacks this small are reused from the C library's cache of freed stacks.
pub(super) const STACK: usize = 256 * 1024;
/// The most one read takes from a socket.
pub(super) const READ_CHUNK: usize = 16 * 1024;

/// Serves until `stop` is set, then lets connections say goodbye and returns.
pub(crate) fn serve(
    shared: Arc<Shared>,
    listeners: Vec<TcpListener>,
    model: Blocking,
    stop: Arc<AtomicBool>,
) -> io::Result<()> {
    if let Blocking::Threads(spares) = model {
        return Crew::serve(shared, listeners, spares, stop);
    }
    let mut poll = Poll::new()?;
    let mut sockets = Vec::new();
    for (i, listener) in listeners.into_iter().enumerate() {
        listener.set_nonblocking(true)?;
        let mut listener = mio::net::TcpListener::from_std(listener);
        poll.registry()
            .register(&mut listener, Token(i), Interest::READABLE)?;
        sockets.push(listener);
    }
    let mut pool = match model {
        Blocking::Pool(n) => Some(Pool::start(n.max(1), shared.clone(), stop.clone())?),
        _ => None,
    };
    let mut events = Events::with_capacity(64);
    let mut poller = None; // sequential serves on this thread
    while !stop.load(Ordering::Acquire) {
        let tick = pool
            .as_ref()
            .map_or(TICK, |pool| pool.tick(TICK, shared.clock.now()));
        poll_retrying(&mut poll, &mut events, Some(tick))?;
        for event in &events {
            let Some(listener) = sockets.get(event.token().0) else {
                continue;
            };
            while let Ok((tcp, peer)) = listener.accept() {
                let Some(tcp) = admit(tcp, peer, &shared) else {
                    continue;
                };
                match &pool {
                    Some(pool) => pool.queue(tcp, peer, &shared),
                    None => serve_one(tcp, peer, &shared, &stop, &mut poller),
                }
            }
        }
        if let Some(pool) = &mut pool {
            pool.tend(&shared);
        }
    }
    drop(sockets); // stop listening before the goodbyes
    if let Some(pool) = pool {
        pool.join(&shared);
    }
    Ok(())
}

/// Refusals told politely — waiting up to `REFUSAL_WAIT` to answer in the client's protocol —
/// each on a thread of its own, at most this many at once; past it, a refusal is one `ERROR`
/// line written at once, so a flood of refused connections cannot make a thread each.
const POLITE_REFUSALS: usize = 64;

/// Polite refusals under way (in this process).
static REFUSING: AtomicUsize = AtomicUsize::new(0);

/// Lets a connection from `peer` in (it stays non-blocking: every wait is a poll), or refuses
/// it (the server is full, or its address over a limit), telling it why.
pub(super) fn admit(tcp: TcpStream, peer: SocketAddr, shared: &Arc<Shared>) -> Option<TcpStream> {
    let Err(refusal) = shared.admit(peer) else {
        return Some(tcp);
    };
    if REFUSING.fetch_add(1, Ordering::AcqRel) < POLITE_REFUSALS {
        let shared = shared.clone();
        let polite = std::thread::Builder::new().spawn(move || {
            refuse(tcp, &shared, refusal);
            REFUSING.fetch_sub(1, Ordering::AcqRel);
        });
        if polite.is_err() {
            REFUSING.fetch_sub(1, Ordering::AcqRel);
        }
    } else {
        REFUSING.fetch_sub(1, Ordering::AcqRel);
        // A fresh socket's send buffer takes one line whole.
        let _ = (&tcp).write(format!("ERROR {}\n", refusal.text()).as_bytes());
    }
    None
}
