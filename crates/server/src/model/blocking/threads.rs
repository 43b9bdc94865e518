//! The `threads` model: a thread per connection, as leader/followers on the accept queue.

use std::io;
use std::net::{Shutdown, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mio::net::TcpStream;

use super::conn::serve_one;
use super::{STACK, TICK, admit};
use crate::shared::Shared;

/// Whether shutting down a listening socket's reading side wakes the threads blocked in its
/// `accept` (Linux: they get `EINVAL`). Elsewhere they look at the stop flag every [`TICK`].
const SHUTDOWN_WAKES_ACCEPT: bool = cfg!(target_os = "linux");

/// The `threads` model, as leader/followers with the kernel's accept queue as the hand-off:
/// threads with no connection block in `accept(2)` on a listening socket, and the kernel gives
/// each new connection to exactly one of them. That thread serves it itself — no acceptor
/// thread to wake, nothing handed between threads — after starting a new thread to take its
/// place if it was the last one accepting on that socket. So every connection has a thread of
/// its own at once, and none waits for another to end. When its connection ends, a thread
/// accepts again if fewer than `spares` threads wait besides one per socket, else it exits; a
/// thread that waits `spare_wait` for nothing exits too, unless it is the last on its socket.
#[derive(Debug)]
pub(super) struct Crew {
    doors: Vec<Door>,
    /// Threads that may wait in `accept` besides one per socket.
    spares: usize,
    /// Threads waiting on all sockets (the sum of the doors' counts, kept exact so that
    /// threads finishing together cannot all go back past the limit).
    waiting: AtomicUsize,
    /// Threads running (serving or waiting), so the shutdown can wait for their goodbyes.
    live: AtomicUsize,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
}

/// A listening socket (blocking) and the threads waiting in its `accept`.
#[derive(Debug)]
struct Door {
    listener: TcpListener,
    /// Threads in (or on their way into) `accept` on it: counted before a thread starts, so a
    /// socket never looks unattended while its next thread is being made.
    waiting: AtomicUsize,
}

impl Crew {
    pub(super) fn serve(
        shared: Arc<Shared>,
        listeners: Vec<TcpListener>,
        spares: usize,
        stop: Arc<AtomicBool>,
    ) -> io::Result<()> {
        // `accept` gives up after this, so a thread can see it has waited long enough.
        let give_up = if SHUTDOWN_WAKES_ACCEPT {
            shared.config.spare_wait
        } else {
            shared.config.spare_wait.min(TICK)
        };
        let mut doors = Vec::with_capacity(listeners.len());
        for listener in listeners {
            listener.set_nonblocking(false)?;
            socket2::SockRef::from(&listener).set_read_timeout(Some(give_up))?;
            doors.push(Door {
                listener,
                waiting: AtomicUsize::new(0),
            });
        }
        let crew = Arc::new(Crew {
            doors,
            spares,
            waiting: AtomicUsize::new(0),
            live: AtomicUsize::new(0),
            shared,
            stop,
        });
        let started = (0..crew.doors.len()).try_for_each(|door| crew.start(door));
        if started.is_ok() {
            while !crew.stop.load(Ordering::Acquire) {
                std::thread::sleep(TICK);
            }
        } else {
            // Not every address has a thread: the server does not run half-way.
            crew.stop.store(true, Ordering::Release);
        }
        // Stop listening before the goodbyes; this also wakes the threads waiting in `accept`.
        for door in &crew.doors {
            let _ = socket2::SockRef::from(&door.listener).shutdown(Shutdown::Read);
        }
        let deadline = Instant::now() + crew.shared.config.shutdown_grace + Duration::from_secs(1);
        while crew.live.load(Ordering::Acquire) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        started
    }

    /// Starts a thread that accepts on `door`, counted as waiting there from now on.
    fn start(self: &Arc<Self>, door: usize) -> io::Result<()> {
        self.live.fetch_add(1, Ordering::AcqRel);
        self.enter(door);
        let crew = self.clone();
        let started = std::thread::Builder::new()
            .name("rustchat-conn".into())
            .stack_size(STACK)
            .spawn(move || {
                crew.work(door);
                crew.live.fetch_sub(1, Ordering::AcqRel);
            });
        match started {
            Ok(_) => {
                self.shared.metrics.thread_started();
                Ok(())
            }
            Err(e) => {
                self.leave(door);
                self.live.fetch_sub(1, Ordering::AcqRel);
                Err(e)
            }
        }
    }

    /// Counts one more thread waiting on `door` (the total is the caller's).
    fn enter_door(&self, door: usize) {
        self.doors[door].waiting.fetch_add(1, Ordering::AcqRel);
        self.shared.metrics.accepting_threads(1);
    }

    fn enter(&self, door: usize) {
        self.waiting.fetch_add(1, Ordering::AcqRel);
        self.enter_door(door);
    }

    /// Stops counting one thread as waiting on `door`; returns how many were there before.
    fn leave(&self, door: usize) -> usize {
        self.shared.metrics.accepting_threads(-1);
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        self.doors[door].waiting.fetch_sub(1, Ordering::AcqRel)
    }

    /// A thread's life: accept, serve, and again, until told to go. Counted as waiting on
    /// `door` when it is called; not when it returns.
    fn work(self: &Arc<Self>, door: usize) {
        let listener = &self.doors[door].listener;
        let mut poller = None;
        let mut since = Instant::now();
        let mut failing = false; // said once per run of failed accepts
        loop {
            let accepted = listener.accept();
            if self.stop.load(Ordering::Acquire) {
                self.leave(door); // a connection accepted now gets the listener's fate
                return;
            }
            let (tcp, peer) = match accepted {
                Ok(accepted) => {
                    failing = false;
                    accepted
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if since.elapsed() >= self.shared.config.spare_wait && self.idle_out(door) {
                        return;
                    }
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => continue,
                Err(e) => {
                    // Out of descriptors or memory: the connection waits in the backlog.
                    if !failing {
                        tracing::warn!("accept failed: {e}; trying again every 50 ms");
                    }
                    failing = true;
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
            };
            let Some(tcp) = tcp
                .set_nonblocking(true)
                .ok()
                .and_then(|()| admit(TcpStream::from_std(tcp), peer, &self.shared))
            else {
                continue;
            };
            if self.leave(door) == 1 {
                // The last one waiting here: somebody must accept while this thread serves.
                if let Err(e) = self.start(door) {
                    tracing::warn!(
                        "cannot start a connection thread: {e}; new connections wait in the backlog until one ends"
                    );
                }
            }
            serve_one(tcp, peer, &self.shared, &self.stop, &mut poller);
            if self.stop.load(Ordering::Acquire) || !self.back(door) {
                return;
            }
            since = Instant::now();
        }
    }

    /// After a connection: accept again (`true`) if the socket has nobody accepting or fewer
    /// than `spares` threads wait besides one per socket; else the thread exits.
    fn back(&self, door: usize) -> bool {
        let limit = self.doors.len() + self.spares;
        let mut waiting = self.waiting.load(Ordering::Acquire);
        loop {
            if waiting >= limit && self.doors[door].waiting.load(Ordering::Acquire) > 0 {
                return false;
            }
            match self.waiting.compare_exchange(
                waiting,
                waiting + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(seen) => waiting = seen,
            }
        }
        self.enter_door(door);
        true
    }

    /// `accept` gave up waiting: the thread exits (`true`) unless it is the last on its socket.
    fn idle_out(&self, door: usize) -> bool {
        let waiting = &self.doors[door].waiting;
        let mut now = waiting.load(Ordering::Acquire);
        while now > 1 {
            match waiting.compare_exchange(now, now - 1, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    self.waiting.fetch_sub(1, Ordering::AcqRel);
                    self.shared.metrics.accepting_threads(-1);
                    return true;
                }
                Err(seen) => now = seen,
            }
        }
        false
    }
}
