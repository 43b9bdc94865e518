//! The blocking concurrency models: `sequential`, `threads` and `pool:N`.
//!
//! They differ only in who runs a connection: the accepting thread itself (`sequential`: the
//! others wait in the kernel's backlog), a thread of its own (`threads`: whichever of the
//! threads waiting in `accept` the kernel gives it to — see [`Crew`]), or one of N workers that
//! keeps it for its whole life (`pool`: the rest queue). The thread serving a connection blocks
//! in `poll(2)` (mio) on two things: its socket, and a waker its outbox rings when events
//! arrive — so a broadcast never waits for a slow receiver, exactly as in the async model.

use std::io::{self, IoSlice};
use std::net::{Shutdown, TcpListener};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use mio::net::TcpStream;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};
use rustchat_ws::outbound::Outbound;

pub use crate::config::Blocking;
use crate::conn::Conn;
use crate::listener::NODELAY_INHERITED;
use crate::opening::{Opening, Step};
use crate::session::Session;
use crate::state::Shared;
use crate::stream::ByteStream;

const SOCKET: Token = Token(0);
const WAKE: Token = Token(1);
/// How often the accepting loop (`sequential`, `pool`), [`Crew::serve`] (`threads`) and a
/// connection still being detected look at the stop flag. A session's thread needs no such
/// tick: it sleeps until its next deadline, and the shutdown reaches it through its outbox.
const TICK: Duration = Duration::from_millis(250);
/// Stack of a connection thread or pool worker. A session needs little (reads land in the
/// thread's heap scratch buffer); the 2 MiB default would be mapped and unmapped per new
/// thread, while stacks this small are reused from the C library's cache of freed stacks.
const STACK: usize = 256 * 1024;
/// The most one read takes from a socket.
const READ_CHUNK: usize = 16 * 1024;

/// Serves until `stop` is set, then lets connections say goodbye and returns.
pub fn serve(
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
    let pool = match model {
        Blocking::Pool(n) => Some(Pool::start(n.max(1), shared.clone(), stop.clone())?),
        _ => None,
    };
    let mut events = Events::with_capacity(64);
    let mut poller = None; // sequential serves on this thread
    while !stop.load(Ordering::Acquire) {
        poll_retrying(&mut poll, &mut events, Some(TICK))?;
        for event in &events {
            let Some(listener) = sockets.get(event.token().0) else {
                continue;
            };
            while let Ok((tcp, _)) = listener.accept() {
                let Some(tcp) = admit(tcp, &shared) else {
                    continue;
                };
                match &pool {
                    Some(pool) => pool.queue(tcp),
                    None => serve_one(tcp, &shared, &stop, &mut poller),
                }
            }
        }
    }
    drop(sockets); // stop listening before the goodbyes
    if let Some(pool) = pool {
        pool.join();
    }
    Ok(())
}

/// Lets a connection in (it stays non-blocking: every wait is a poll), or refuses it when the
/// server is full.
fn admit(tcp: TcpStream, shared: &Arc<Shared>) -> Option<TcpStream> {
    shared.metrics.connection_opened();
    if shared.metrics.open_now() >= shared.config.max_connections as u64 {
        shared.metrics.connection_refused();
        let shared = shared.clone();
        std::thread::spawn(move || refuse_full(tcp, &shared));
        return None;
    }
    // Counted at accept, so connections queued for a pool worker count too.
    shared.metrics.open_connections(1);
    Some(tcp)
}

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
struct Crew {
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
    fn serve(
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
            let tcp = match accepted {
                Ok((tcp, _)) => {
                    failing = false;
                    tcp
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
                .and_then(|()| admit(TcpStream::from_std(tcp), &self.shared))
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
            serve_one(tcp, &self.shared, &self.stop, &mut poller);
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

/// A fixed set of workers fed through a queue of accepted connections.
#[derive(Debug)]
struct Pool {
    queue: mpsc::Sender<TcpStream>,
    workers: Vec<std::thread::JoinHandle<()>>,
}

impl Pool {
    fn start(size: usize, shared: Arc<Shared>, stop: Arc<AtomicBool>) -> io::Result<Self> {
        let (queue, inbox) = mpsc::channel::<TcpStream>();
        let inbox = Arc::new(Mutex::new(inbox));
        let workers = (0..size)
            .map(|i| {
                let (inbox, shared, stop) = (inbox.clone(), shared.clone(), stop.clone());
                std::thread::Builder::new()
                    .name(format!("rustchat-worker-{i}"))
                    .stack_size(STACK)
                    .spawn(move || {
                        let mut poller = None;
                        loop {
                            let next = inbox.lock().unwrap_or_else(|p| p.into_inner()).recv();
                            match next {
                                Ok(tcp) => serve_one(tcp, &shared, &stop, &mut poller),
                                Err(_) => return, // queue closed: shutting down
                            }
                        }
                    })
            })
            .collect::<io::Result<Vec<_>>>()?;
        Ok(Self { queue, workers })
    }

    fn queue(&self, tcp: TcpStream) {
        let _ = self.queue.send(tcp);
    }

    /// Closes the queue (queued connections are still served) and waits for the workers.
    fn join(self) {
        drop(self.queue);
        for worker in self.workers {
            let _ = worker.join();
        }
    }
}

/// What a thread waits on while it serves a connection: a poll instance and the waker the
/// connection's outbox rings. Made by a thread's first connection, kept for the next ones.
#[derive(Debug)]
struct Poller {
    poll: Poll,
    waker: Arc<Waker>,
    events: Events,
    /// Where reads land before the session takes them (zeroed once, not per read).
    scratch: Box<[u8]>,
}

impl Poller {
    fn new() -> io::Result<Self> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKE)?);
        Ok(Self {
            poll,
            waker,
            events: Events::with_capacity(8),
            scratch: vec![0; READ_CHUNK].into_boxed_slice(),
        })
    }

    /// Sleeps until the socket or the waker has news, at most `timeout` (`None`: no limit).
    fn wait(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        poll_retrying(&mut self.poll, &mut self.events, timeout)
    }

    /// What the connection's socket is polled for (it is registered from start to end).
    fn watch(&self, sock: &TcpStream, interest: Interest) -> io::Result<()> {
        self.poll
            .registry()
            .reregister(&mut SourceFd(&sock.as_raw_fd()), SOCKET, interest)
    }
}

/// One client, start to end, on the calling thread; `poller` is the thread's, made if need be.
fn serve_one(tcp: TcpStream, shared: &Shared, stop: &AtomicBool, poller: &mut Option<Poller>) {
    if let Err(e) = connection(tcp, shared, stop, poller) {
        tracing::debug!("connection ended: {e}");
    }
    shared.metrics.open_connections(-1);
}

fn connection(
    mut tcp: TcpStream,
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
    let opening = Opening::new(shared, shared.clock.now());
    match open(&tcp, shared, poller, stop, opening)? {
        Some(session) => run_session(tcp, shared, session, stop, poller),
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
) -> io::Result<Option<Session>> {
    let config = &shared.config;
    let mut step = Step::Read {
        deadline: opening.deadline(),
    };
    loop {
        step = match step {
            Step::Read { deadline } => match read_once(tcp, poller, deadline, stop)? {
                Some(0) => opening.eof(),
                Some(n) => opening.read(shared, &poller.scratch[..n], shared.clock.now()),
                None => opening.timeout(shared, shared.clock.now().max(deadline)),
            },
            Step::Answer(bytes) => {
                write_and_close(tcp, poller, &bytes, config.shutdown_grace)?;
                return Ok(None);
            }
            Step::Gone => return Ok(None),
            Step::Session { preface, session } => {
                if !preface.is_empty() {
                    let until = Instant::now() + config.handshake_timeout;
                    write_all_until(tcp, poller, &preface, until)?;
                }
                return Ok(Some(session));
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

/// Writes all of `bytes` by `deadline` (else `TimedOut`), waiting in poll while the socket is
/// full.
fn write_all_until(
    tcp: &TcpStream,
    poller: &mut Poller,
    mut bytes: &[u8],
    deadline: Instant,
) -> io::Result<()> {
    let mut watching = false;
    let result = loop {
        if bytes.is_empty() {
            break Ok(());
        }
        match tcp.try_write_vectored(&[IoSlice::new(bytes)]) {
            Ok(0) => break Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break Err(io::ErrorKind::TimedOut.into());
                }
                if !watching {
                    poller.watch(tcp, Interest::READABLE | Interest::WRITABLE)?;
                    watching = true;
                }
                poller.wait(Some(left.min(TICK)))?;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => break Err(e),
        }
    };
    if watching {
        poller.watch(tcp, Interest::READABLE)?;
    }
    result
}

/// Writes `bytes` within `grace`, shuts down our side, and drains the peer's for up to half a
/// second, so the client reads everything before the close.
fn write_and_close(
    tcp: &TcpStream,
    poller: &mut Poller,
    bytes: &[u8],
    grace: Duration,
) -> io::Result<()> {
    let result = write_all_until(tcp, poller, bytes, Instant::now() + grace);
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
    tcp: TcpStream,
    shared: &Shared,
    session: Session,
    stop: &AtomicBool,
    poller: &mut Poller,
) -> io::Result<()> {
    // Shared with the fan-out, which writes through while this thread sleeps.
    let sock = Arc::new(tcp);
    let mut conn = Conn::new(shared, session, sock.clone());
    let ring = poller.waker.clone();
    conn.outbox().set_waker(move || {
        let _ = ring.wake();
    });
    let result = drive(&sock, &mut conn, poller, stop);
    let mut rest = conn.close();
    if result.is_ok() {
        let mut bytes = BytesMut::with_capacity(rest.len());
        while !rest.is_empty() {
            let chunk = rest.first_chunk();
            bytes.extend_from_slice(chunk);
            let n = chunk.len();
            rest.advance(n);
        }
        let _ = write_and_close(&sock, poller, &bytes, shared.config.shutdown_grace);
    }
    // The poll instance serves this thread's next connection. Closing the socket forgets it
    // there, unless someone else still holds it open.
    if let Err(sock) = Arc::try_unwrap(sock) {
        let _ = poller
            .poll
            .registry()
            .deregister(&mut SourceFd(&sock.as_raw_fd()));
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
    sock: &mio::net::TcpStream,
    conn: &mut Conn<'_>,
    poller: &mut Poller,
    stop: &AtomicBool,
) -> io::Result<()> {
    let mut writing = false;
    let mut unread = true;
    loop {
        if conn.outbox_has_news() {
            conn.handle_outbox();
            continue;
        }
        write_some(sock, conn.poll_transmit())?;
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
            unread = read_all(sock, conn, &mut poller.scratch)?;
            continue;
        }
        let want_write = conn.wants_write();
        if want_write != writing {
            let interest = if want_write {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            poller.watch(sock, interest)?;
            writing = want_write;
        }
        // Until it wakes, the fan-out writes this client's events itself.
        conn.sleep();
        // Until the next keepalive or handshake deadline, if any: an idle session costs no
        // wake-ups. The shutdown rings the outbox's waker.
        let due = conn.poll_timeout();
        poller.wait(due.map(|at| at.saturating_duration_since(Instant::now())))?;
        conn.wake();
        unread |= poller.events.iter().any(|e| {
            e.token() == SOCKET && (e.is_readable() || e.is_read_closed() || e.is_error())
        });
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
/// still hold unread bytes (no new readiness event will say so).
fn read_all(sock: &mio::net::TcpStream, conn: &mut Conn<'_>, buf: &mut [u8]) -> io::Result<bool> {
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
                if SHORT_READ_DRAINS && n < buf.len() {
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

/// Writes what the socket takes now (vectored), leaving the rest queued.
fn write_some(sock: &impl ByteStream, out: &mut Outbound) -> io::Result<()> {
    while !out.is_empty() {
        let mut slices = [IoSlice::new(&[]); 64];
        let count = out.io_slices(&mut slices);
        match sock.try_write_vectored(&slices[..count]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => out.advance(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Tells a connection over the limit that the server is full, on a thread of its own.
fn refuse_full(mut tcp: TcpStream, shared: &Shared) {
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
    let opening = Opening::refusing(shared.clock.now());
    let _ = open(&tcp, shared, &mut poller, &AtomicBool::new(false), opening);
}

fn poll_retrying(
    poll: &mut Poll,
    events: &mut Events,
    timeout: Option<Duration>,
) -> io::Result<()> {
    match poll.poll(events, timeout) {
        Err(e) if e.kind() == io::ErrorKind::Interrupted => {
            events.clear();
            Ok(())
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let bytes = vec![b'x'; 32 << 20];
        let grace = Duration::from_millis(200);
        let started = Instant::now();
        let result = write_and_close(&tcp, &mut poller, &bytes, grace);
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
