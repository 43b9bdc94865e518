//! The blocking concurrency models: `sequential`, `threads` and `pool:N`.
//!
//! They differ only in who runs a connection: the accepting thread itself (`sequential`: the
//! others wait in the kernel's backlog), a thread of its own (`threads`: a new one, or one whose
//! connection has ended and that waits for the next, as a thread cache does), or one of N
//! workers that keeps it for its whole life (`pool`: the rest queue). The thread serving a connection blocks in
//! `poll(2)` (mio) on two things: its socket, and a waker its outbox rings when events arrive —
//! so a broadcast never waits for a slow receiver, exactly as in the async model.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};
use rustchat_ws::handshake::{HandshakeError, Request};
use rustchat_ws::outbound::Outbound;

use crate::detect::{Kind, classify};
use crate::driver::{self, Driver};
use crate::http::Route;
use crate::session::{Ending, Session};
use crate::state::Shared;

/// How the blocking models share out connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocking {
    /// One connection at a time, on the accepting thread.
    Sequential,
    /// A thread per connection, never queued; up to N threads whose connection ended wait
    /// (for a while) to serve the next one instead of exiting. `Threads(0)`: every connection
    /// gets a new thread, which exits with it.
    Threads(usize),
    /// N worker threads; a connection holds one for its lifetime, the rest queue.
    Pool(usize),
}

const SOCKET: Token = Token(0);
const WAKE: Token = Token(1);
/// How often a blocked thread looks at the stop flag and its deadlines.
const TICK: Duration = Duration::from_millis(250);
/// Stack of a connection thread or pool worker. A session needs little (its deepest frame is
/// the 16 KiB read buffer); the 2 MiB default would be mapped and unmapped per connection,
/// while stacks this small are reused from the C library's cache of freed stacks.
const STACK: usize = 256 * 1024;
/// How long a spare thread of the `threads` model waits for a connection before it exits.
const SPARE_WAIT: Duration = Duration::from_secs(10);

/// Serves until `stop` is set, then lets connections say goodbye and returns.
pub fn serve(
    shared: Arc<Shared>,
    listeners: Vec<TcpListener>,
    model: Blocking,
    stop: Arc<AtomicBool>,
) -> io::Result<()> {
    let mut poll = Poll::new()?;
    let mut sockets = Vec::new();
    for (i, listener) in listeners.into_iter().enumerate() {
        listener.set_nonblocking(true)?;
        let mut listener = mio::net::TcpListener::from_std(listener);
        poll.registry()
            .register(&mut listener, Token(i), Interest::READABLE)?;
        sockets.push(listener);
    }
    let live = Arc::new(AtomicUsize::new(0));
    let spares = Arc::new(Spares::new(match model {
        Blocking::Threads(keep) => keep,
        _ => 0,
    }));
    let pool = match model {
        Blocking::Pool(n) => Some(Pool::start(n.max(1), shared.clone(), stop.clone())?),
        _ => None,
    };
    let mut events = Events::with_capacity(64);
    let mut poller = None; // sequential serves on this thread
    while !stop.load(Ordering::Acquire) {
        poll_retrying(&mut poll, &mut events, TICK)?;
        for event in &events {
            let Some(listener) = sockets.get(event.token().0) else {
                continue;
            };
            while let Ok((tcp, _)) = listener.accept() {
                let Some(tcp) = admit(tcp, &shared) else {
                    continue;
                };
                match (&pool, model) {
                    (Some(pool), _) => pool.queue(tcp),
                    (None, Blocking::Sequential) => serve_one(tcp, &shared, &stop, &mut poller),
                    (None, _) => {
                        if let Some(tcp) = spares.offer(tcp) {
                            spawn_thread(tcp, &shared, &stop, &live, &spares);
                        }
                    }
                }
            }
        }
    }
    drop(sockets); // stop listening before the goodbyes
    if let Some(pool) = pool {
        pool.join();
    }
    spares.wake_all(); // they see `stop` and leave

    let deadline = Instant::now() + shared.config.shutdown_grace + Duration::from_secs(1);
    while live.load(Ordering::Acquire) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

/// Turns a mio stream back into a blocking std stream, or refuses it when the server is full.
fn admit(tcp: mio::net::TcpStream, shared: &Shared) -> Option<TcpStream> {
    shared.metrics.connection_opened();
    let tcp = TcpStream::from(socket2::Socket::from(std::os::fd::OwnedFd::from(tcp)));
    if tcp.set_nonblocking(false).is_err() {
        return None;
    }
    if shared.metrics.open_now() >= shared.config.max_connections as u64 {
        shared.metrics.connection_refused();
        let max = shared.config.max_connections;
        std::thread::spawn(move || refuse_full(tcp, max));
        return None;
    }
    // Counted at accept, so connections queued for a pool worker count too.
    shared.metrics.open_connections(1);
    Some(tcp)
}

/// Starts a thread for `tcp`; when that connection ends, the thread may stay as a spare.
fn spawn_thread(
    tcp: TcpStream,
    shared: &Arc<Shared>,
    stop: &Arc<AtomicBool>,
    live: &Arc<AtomicUsize>,
    spares: &Arc<Spares>,
) {
    live.fetch_add(1, Ordering::AcqRel);
    let spawned = std::thread::Builder::new()
        .name("rustchat-conn".into())
        .stack_size(STACK)
        .spawn({
            let (shared, stop, live, spares) =
                (shared.clone(), stop.clone(), live.clone(), spares.clone());
            move || {
                let (mut next, mut poller) = (Some(tcp), None);
                while let Some(tcp) = next {
                    serve_one(tcp, &shared, &stop, &mut poller);
                    next = spares.wait(&shared, &stop);
                }
                live.fetch_sub(1, Ordering::AcqRel);
            }
        });
    match spawned {
        Ok(_) => shared.metrics.thread_started(),
        Err(e) => {
            // The connection went down with the closure: it is closed, and no longer open.
            live.fetch_sub(1, Ordering::AcqRel);
            shared.metrics.open_connections(-1);
            tracing::warn!("cannot start a connection thread: {e}");
        }
    }
}

/// The `threads` model's spare threads: those whose connection ended and that wait, for up to
/// [`SPARE_WAIT`], to be handed the next one. A connection is handed over only when a spare is
/// waiting for it, so none ever queues behind a busy thread.
#[derive(Debug)]
struct Spares {
    /// How many may wait at once; more exit.
    keep: usize,
    waiting: Mutex<Waiting>,
    handed: Condvar,
}

#[derive(Debug, Default)]
struct Waiting {
    /// Spare threads now waiting (or woken and not yet gone).
    threads: usize,
    /// Connections handed over, not yet taken; never more than `threads`.
    connections: VecDeque<TcpStream>,
}

impl Spares {
    fn new(keep: usize) -> Self {
        Self {
            keep,
            waiting: Mutex::new(Waiting::default()),
            handed: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Hands `tcp` to a waiting spare, or gives it back when none is free.
    fn offer(&self, tcp: TcpStream) -> Option<TcpStream> {
        if self.keep == 0 {
            return Some(tcp);
        }
        let mut waiting = self.lock();
        if waiting.threads <= waiting.connections.len() {
            return Some(tcp);
        }
        waiting.connections.push_back(tcp);
        drop(waiting);
        self.handed.notify_one();
        None
    }

    /// Wakes every waiting spare (to see that the server stops).
    fn wake_all(&self) {
        let _waiting = self.lock();
        self.handed.notify_all();
    }

    /// Called by a thread whose connection ended: the next connection, or `None` when it
    /// should exit (enough spares already, nothing came in time, or the server stops).
    fn wait(&self, shared: &Shared, stop: &AtomicBool) -> Option<TcpStream> {
        let mut waiting = self.lock();
        if waiting.threads >= self.keep {
            return None;
        }
        waiting.threads += 1;
        shared.metrics.spare_threads(1);
        let until = Instant::now() + SPARE_WAIT;
        loop {
            // A handed connection is taken even when stopping: it gets its goodbye.
            let next = waiting.connections.pop_front();
            let left = until.saturating_duration_since(Instant::now());
            if next.is_some() || left.is_zero() || stop.load(Ordering::Acquire) {
                waiting.threads -= 1;
                shared.metrics.spare_threads(-1);
                return next;
            }
            waiting = self
                .handed
                .wait_timeout(waiting, left.min(TICK))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
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
}

impl Poller {
    fn new() -> io::Result<Self> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKE)?);
        Ok(Self {
            poll,
            waker,
            events: Events::with_capacity(8),
        })
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
    tcp: TcpStream,
    shared: &Shared,
    stop: &AtomicBool,
    poller: &mut Option<Poller>,
) -> io::Result<()> {
    tcp.set_nodelay(true)?;
    let config = &shared.config;
    let mut first = BytesMut::new();
    let deadline = Instant::now() + config.detect_timeout;
    let kind = loop {
        match read_until(&tcp, &mut first, deadline, stop)? {
            None => break Kind::Line, // silent: greet it
            Some(0) => return Ok(()),
            Some(_) => {
                if let Some(kind) = classify(&first) {
                    break kind;
                }
            }
        }
    };
    match kind {
        Kind::Line => {
            let session = driver::line_session(shared, &first);
            run_session(tcp, shared, session, stop, poller)
        }
        Kind::Http => http(tcp, shared, first, stop, poller),
    }
}

fn http(
    tcp: TcpStream,
    shared: &Shared,
    mut buf: BytesMut,
    stop: &AtomicBool,
    poller: &mut Option<Poller>,
) -> io::Result<()> {
    let config = &shared.config;
    let limits = config.head_limits();
    let deadline = Instant::now() + config.handshake_timeout;
    let (request, used) = loop {
        match Request::parse(&buf, &limits) {
            Ok(Some(done)) => break done,
            Ok(None) => {}
            Err(e) => return refuse_http(&tcp, shared, &e),
        }
        match read_until(&tcp, &mut buf, deadline, stop)? {
            Some(0) => return Ok(()),
            Some(_) => {}
            None => {
                shared.metrics.timeout();
                let response = driver::head_timeout_response(config.handshake_timeout);
                return write_and_close(&tcp, &response);
            }
        }
    };
    let routed = driver::route_request(shared, &request);
    match routed {
        Route::Respond(bytes) => {
            shared.metrics.http_request();
            write_and_close(&tcp, &bytes)
        }
        Route::Upgrade { response, wire } => {
            (&tcp).write_all(&response)?;
            let session = driver::ws_session(shared, wire, &buf[used..]);
            run_session(tcp, shared, session, stop, poller)
        }
    }
}

fn refuse_http(tcp: &TcpStream, shared: &Shared, e: &HandshakeError) -> io::Result<()> {
    shared.metrics.protocol_error();
    write_and_close(tcp, &e.response())
}

/// Reads once into `buf`, waiting at most until `deadline` (`None`: it passed, or we stop).
fn read_until(
    tcp: &TcpStream,
    buf: &mut BytesMut,
    deadline: Instant,
    stop: &AtomicBool,
) -> io::Result<Option<usize>> {
    let mut chunk = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stop.load(Ordering::Acquire) {
            return Ok(None);
        }
        tcp.set_read_timeout(Some(left.min(TICK)))?;
        match (&*tcp).read(&mut chunk) {
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                return Ok(Some(n));
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Drives a session: the thread blocks in poll on its socket and its outbox's waker.
fn run_session(
    tcp: TcpStream,
    shared: &Shared,
    mut session: Session,
    stop: &AtomicBool,
    poller: &mut Option<Poller>,
) -> io::Result<()> {
    let poller = match poller {
        Some(poller) => poller,
        None => poller.insert(Poller::new()?),
    };
    tcp.set_nonblocking(true)?;
    let mut sock = mio::net::TcpStream::from_std(tcp);
    poller
        .poll
        .registry()
        .register(&mut sock, SOCKET, Interest::READABLE)?;
    // Shared with the fan-out, which writes through while this thread sleeps.
    let sock = Arc::new(sock);
    let mut driver = Driver::open(shared, &session);
    driver.write_through(sock.clone());
    let ring = poller.waker.clone();
    driver.outbox().set_waker(move || {
        let _ = ring.wake();
    });
    let result = drive(&sock, &mut session, &mut driver, poller, stop);
    let flush = driver.close(&session);
    // The poll instance serves this thread's next connection: forget this socket.
    let _ = poller
        .poll
        .registry()
        .deregister(&mut SourceFd(&sock.as_raw_fd()));
    if result.is_ok() && flush {
        finish(sock, session.outbound(), shared.config.shutdown_grace);
    }
    result
}

/// The session's loop: act, write, sleep until the socket or the outbox has news.
fn drive(
    sock: &mio::net::TcpStream,
    session: &mut Session,
    driver: &mut Driver<'_>,
    poller: &mut Poller,
    stop: &AtomicBool,
) -> io::Result<()> {
    let mut writing = false;
    let mut last_tick = Instant::now();
    loop {
        driver.act(session);
        let overflowed = session.is_open() && driver.outbox().is_overflowed();
        if (driver.wants_events(session) && driver.outbox().is_ready()) || overflowed {
            driver.pump(session);
            continue;
        }
        write_some(sock, session.outbound())?;
        if !session.is_open() {
            return Ok(());
        }
        let want_write = !session.outbound().is_empty();
        if want_write != writing {
            let interest = if want_write {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            poller.poll.registry().reregister(
                &mut SourceFd(&sock.as_raw_fd()),
                SOCKET,
                interest,
            )?;
            writing = want_write;
        }
        if !want_write {
            // Until it wakes, the fan-out writes this client's events itself.
            driver.release(session);
        }
        poll_retrying(&mut poller.poll, &mut poller.events, TICK)?;
        driver.claim();
        if poller
            .events
            .iter()
            .any(|e| e.token() == SOCKET && (e.is_readable() || e.is_read_closed()))
        {
            read_all(sock, session, driver)?;
        }
        if stop.load(Ordering::Acquire) {
            session.end(Ending::Shutdown);
        }
        if last_tick.elapsed() >= Duration::from_secs(1) {
            last_tick = Instant::now();
            driver.tick(session);
        }
    }
}

/// Reads until the socket would block (mio readiness is edge-triggered), acting on each read
/// so buffers stay bounded.
fn read_all(
    mut sock: &mio::net::TcpStream,
    session: &mut Session,
    driver: &mut Driver<'_>,
) -> io::Result<()> {
    let mut buf = [0u8; 16 * 1024];
    while session.is_open() {
        match sock.read(&mut buf) {
            Ok(0) => {
                session.eof();
                return Ok(());
            }
            Ok(n) => {
                session.receive(&buf[..n]);
                driver.act(session);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Writes what the socket takes now (vectored), leaving the rest queued.
fn write_some(mut sock: &mio::net::TcpStream, out: &mut Outbound) -> io::Result<()> {
    while !out.is_empty() {
        let mut slices = [IoSlice::new(&[]); 64];
        let count = out.io_slices(&mut slices);
        match sock.write_vectored(&slices[..count]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => out.advance(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Flushes the last bytes within `grace`, closes our side first, waits briefly for theirs.
/// `sock` is ours alone again: the driver has taken it back from the fan-out.
fn finish(sock: Arc<mio::net::TcpStream>, out: &mut Outbound, grace: Duration) {
    let Ok(sock) = Arc::try_unwrap(sock) else {
        return;
    };
    let tcp = TcpStream::from(socket2::Socket::from(std::os::fd::OwnedFd::from(sock)));
    let _ = tcp.set_nonblocking(false);
    let _ = tcp.set_write_timeout(Some(grace));
    let mut rest = BytesMut::new();
    while !out.is_empty() {
        rest.extend_from_slice(out.first_chunk());
        let n = out.first_chunk().len();
        out.advance(n);
    }
    let _ = write_and_close(&tcp, &rest);
}

/// Writes `bytes`, shuts down our side, and drains the peer's for up to half a second.
fn write_and_close(tcp: &TcpStream, bytes: &[u8]) -> io::Result<()> {
    let result = (&*tcp).write_all(bytes);
    let _ = tcp.shutdown(Shutdown::Write);
    let _ = tcp.set_read_timeout(Some(Duration::from_millis(500)));
    let mut sink = [0u8; 1024];
    while matches!((&*tcp).read(&mut sink), Ok(n) if n > 0) {}
    result
}

fn refuse_full(tcp: TcpStream, max: usize) {
    let mut first = BytesMut::new();
    let _ = read_until(
        &tcp,
        &mut first,
        Instant::now() + Duration::from_millis(500),
        &AtomicBool::new(false),
    );
    let bytes = driver::server_full_response(&first, max);
    let _ = write_and_close(&tcp, &bytes);
}

fn poll_retrying(poll: &mut Poll, events: &mut Events, timeout: Duration) -> io::Result<()> {
    match poll.poll(events, Some(timeout)) {
        Err(e) if e.kind() == io::ErrorKind::Interrupted => {
            events.clear();
            Ok(())
        }
        other => other,
    }
}
