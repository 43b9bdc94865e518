//! The `pool:N` model's workers: N threads, and the waiting room where accepted connections
//! wait for one of them.
//!
//! A connection holds its worker for its whole life, so with N clients connected the next one
//! waits. It is not left in silence: the accepting thread tends the waiting room every
//! [`ROOM_TICK`] and, from the bytes a waiting client has sent (peeked, so the worker that
//! takes it later reads them as if nothing had happened):
//! - answers at once an HTTP request that needs no session (the page, `/healthz`, `/metrics`,
//!   a 4xx), so monitoring sees the queue while it is full;
//! - tells a line client (silent for the detection window, or one that has sent a line) that
//!   it is queued and its place — except a `HELLO` handshake client, whose first line back
//!   must be the handshake's;
//! - tells whoever is still waiting after `--pool-wait` that the server is busy (`ERROR server
//!   busy` or a 503 with `Retry-After`) and closes it.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use mio::net::TcpStream;
use rustchat_proto::is_hello;

use super::STACK;
use super::conn::serve_one;
use crate::opening::detect::{Kind, classify};
use crate::opening::{
    REQUIRES_TLS_LINE, answer_without_session, queued_notice, server_busy_response,
};
use crate::shared::Shared;

/// How often the accepting thread tends the waiting room while anyone is in it.
pub(super) const ROOM_TICK: Duration = Duration::from_millis(100);

/// N workers and the connections waiting for them.
#[derive(Debug)]
pub(super) struct Pool {
    room: Arc<Room>,
    workers: Vec<std::thread::JoinHandle<()>>,
    size: usize,
    /// Prompt answers and refusals still being written (the accepting thread's own).
    leaving: Vec<Leaving>,
    /// Where peeks land.
    scratch: Box<[u8]>,
    /// When the room may be tended next: at most once per [`ROOM_TICK`], however often
    /// connections arrive (a peek per waiting connection per accept would cost more than the
    /// accepting itself).
    next_tend: Instant,
}

#[derive(Debug, Default)]
struct Room {
    line: Mutex<Line>,
    /// Rung when a connection joins the line or the pool closes.
    ready: Condvar,
}

#[derive(Debug, Default)]
struct Line {
    waiting: VecDeque<Waiting>,
    /// Shutting down: workers serve who is in line, then exit.
    closed: bool,
    /// Workers waiting for a connection (or woken for one and not back yet): the first this
    /// many in line are about to be served, not kept waiting.
    idle: usize,
    /// Workers spawned that have not yet come for their first connection: free too (on a
    /// loaded machine a new thread may take a while to run, and a client arriving meanwhile
    /// must not be told the pool is busy).
    starting: usize,
}

/// A connection in line for a worker.
#[derive(Debug)]
struct Waiting {
    tcp: TcpStream,
    peer: SocketAddr,
    since: Instant,
    /// What it has turned out to speak, once the room could tell.
    kind: Option<Kind>,
    /// Told its place (line clients only).
    told: bool,
}

/// A connection the room answered or refused: what is left to write, and until when.
#[derive(Debug)]
struct Leaving {
    tcp: TcpStream,
    peer: SocketAddr,
    rest: Bytes,
    until: Instant,
}

/// What the room does with a waiting connection this time round.
enum Verdict {
    Wait,
    Gone,
    /// Tell it its place, and keep it in line.
    Tell,
    /// Take `used` bytes off the socket, send the bytes, close.
    Answer(usize, Bytes),
    /// The same, for a request answered without a session: it was taken out of the
    /// waiting-for-a-worker gauge before its answer was made (`/metrics` does not count itself).
    Answered(usize, Bytes),
}

impl Pool {
    pub(super) fn start(
        size: usize,
        shared: Arc<Shared>,
        stop: Arc<AtomicBool>,
    ) -> io::Result<Self> {
        let room = Arc::new(Room::default());
        room.lock().starting = size;
        let workers = (0..size)
            .map(|i| {
                let (room, shared, stop) = (room.clone(), shared.clone(), stop.clone());
                std::thread::Builder::new()
                    .name(format!("rustchat-worker-{i}"))
                    .stack_size(STACK)
                    .spawn(move || {
                        let mut poller = None;
                        let mut first = true;
                        while let Some((tcp, peer)) = room.next(&shared, &mut first) {
                            serve_one(tcp, peer, &shared, &stop, &mut poller);
                        }
                    })
            })
            .collect::<io::Result<Vec<_>>>()?;
        let scratch = vec![0; shared_peek_size(&shared)].into_boxed_slice();
        let next_tend = shared.clock.now();
        Ok(Self {
            room,
            workers,
            size,
            leaving: Vec::new(),
            scratch,
            next_tend,
        })
    }

    /// Puts an accepted connection in line; a free worker takes it at once.
    pub(super) fn queue(&self, tcp: TcpStream, peer: SocketAddr, shared: &Shared) {
        shared.metrics.pool_waiting(1);
        self.room.lock().waiting.push_back(Waiting {
            tcp,
            peer,
            since: shared.clock.now(),
            kind: None,
            told: false,
        });
        self.room.ready.notify_one();
    }

    /// How long the accepting thread may sleep before the room needs tending again.
    pub(super) fn tick(&self, idle: Duration, now: Instant) -> Duration {
        if self.leaving.is_empty() && self.room.lock().waiting.is_empty() {
            idle
        } else {
            let due = self.next_tend.saturating_duration_since(now);
            due.max(Duration::from_millis(1)).min(idle)
        }
    }

    /// Looks at everyone in line (see the module's documentation) and at the answers still
    /// being written.
    pub(super) fn tend(&mut self, shared: &Shared) {
        let now = shared.clock.now();
        if now < self.next_tend {
            return;
        }
        self.next_tend = now + ROOM_TICK;
        let config = &shared.config;
        let mut line = self.room.lock();
        let idle = line.idle + line.starting;
        let mut place = 0;
        let mut i = 0;
        while i < line.waiting.len() {
            let waiting = &mut line.waiting[i];
            let peeked = peek(&waiting.tcp, &mut self.scratch);
            let first = match peeked {
                Some(n) => &self.scratch[..n],
                None => &[][..],
            };
            let waited = now.saturating_duration_since(waiting.since);
            let verdict = if peeked == Some(0) {
                Verdict::Gone
            } else if waited >= config.pool_wait {
                shared.metrics.pool_busy_refusal();
                Verdict::Answer(first.len(), server_busy_response(first, self.size, waited))
            } else {
                judge(shared, waiting, first, waited)
            };
            match verdict {
                // A worker is already on its way: nobody waits, nobody is told so.
                Verdict::Wait | Verdict::Tell if place < idle => {}
                Verdict::Wait => {}
                Verdict::Tell => {
                    waiting.told = true;
                    // A fresh socket's send buffer takes a line whole.
                    let notice = queued_notice(place - idle + 1, self.size, config.pool_wait);
                    let _ = (&waiting.tcp).write(&notice);
                }
                Verdict::Gone | Verdict::Answer(..) | Verdict::Answered(..) => {
                    let Some(gone) = line.waiting.remove(i) else {
                        break;
                    };
                    let until = now + config.shutdown_grace;
                    match verdict {
                        Verdict::Answer(used, bytes) => {
                            shared.metrics.pool_waiting(-1);
                            self.leaving.push(Leaving::new(gone, used, bytes, until));
                        }
                        Verdict::Answered(used, bytes) => {
                            self.leaving.push(Leaving::new(gone, used, bytes, until));
                        }
                        _ => {
                            shared.metrics.pool_waiting(-1);
                            shared.release(gone.peer);
                        }
                    }
                    continue;
                }
            }
            place += 1;
            i += 1;
        }
        drop(line);
        self.leaving.retain_mut(|leaving| {
            let done = leaving.write(now);
            if done {
                shared.release(leaving.peer);
            }
            !done
        });
    }

    /// Closes the line (who is in it is still served, and told goodbye at once) and waits for
    /// the workers.
    pub(super) fn join(self, shared: &Shared) {
        self.room.lock().closed = true;
        self.room.ready.notify_all();
        for worker in self.workers {
            let _ = worker.join();
        }
        for leaving in self.leaving {
            shared.release(leaving.peer);
        }
    }
}

/// What to do with a connection that has waited `waited` (less than `--pool-wait`) and sent
/// `first`.
fn judge(shared: &Shared, waiting: &mut Waiting, first: &[u8], waited: Duration) -> Verdict {
    if waiting.kind.is_none() && (!first.is_empty() || waited >= shared.config.detect_timeout) {
        waiting.kind = classify(first);
    }
    // Plaintext where TLS is required: a worker's opening refuses it in its protocol (an HTTP
    // client's answer needs its whole head); a line client is refused at once, not told to wait.
    let refused = shared
        .tls
        .as_ref()
        .is_some_and(|tls| !tls.allows_plaintext(waiting.peer.ip()));
    match waiting.kind {
        Some(Kind::Http) if refused => Verdict::Wait,
        Some(Kind::Line) if refused => {
            if let Some(tls) = &shared.tls {
                tls.plaintext_refused();
            }
            shared.log_refusal(
                waiting.peer,
                "plaintext where TLS is required (--plaintext)",
            );
            let answer = bytes::Bytes::from_static(REQUIRES_TLS_LINE.as_bytes());
            Verdict::Answer(first.len(), answer)
        }
        Some(Kind::Http) => {
            shared.metrics.pool_waiting(-1);
            match answer_without_session(shared, first) {
                Some((used, answer)) => Verdict::Answered(used, answer),
                None => {
                    shared.metrics.pool_waiting(1);
                    Verdict::Wait
                }
            }
        }
        Some(Kind::Line) if !waiting.told && !starts_hello(first) => Verdict::Tell,
        _ => Verdict::Wait,
    }
}

/// Whether a line client's first line is a HELLO handshake (or could still become one).
fn starts_hello(first: &[u8]) -> bool {
    let line = first.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let line = line.trim();
    is_hello(line) || (!line.is_empty() && "HELLO".starts_with(line))
}

/// Reads without taking: `Some(0)` at the end of the stream, `None` when nothing has arrived
/// (or the socket failed: the worker will find out).
fn peek(tcp: &TcpStream, into: &mut [u8]) -> Option<usize> {
    loop {
        match tcp.peek(into) {
            Ok(n) => return Some(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return None,
        }
    }
}

/// Enough to hold a whole request head, so a complete one can be answered from a peek.
fn shared_peek_size(shared: &Shared) -> usize {
    shared.config.max_http_head + 1
}

impl Leaving {
    /// Takes the `used` bytes of the request off the socket, and sends `answer` from now on.
    fn new(gone: Waiting, mut used: usize, answer: Bytes, until: Instant) -> Self {
        let Waiting { mut tcp, peer, .. } = gone;
        let mut sink = [0; 1024];
        while used > 0 {
            match tcp.read(&mut sink[..used.min(1024)]) {
                Ok(0) | Err(_) => break,
                Ok(n) => used -= n,
            }
        }
        Self {
            tcp,
            peer,
            rest: answer,
            until,
        }
    }

    /// Writes what the socket takes; `true` once all is sent (the write side is then shut, so
    /// the client reads the answer to its end), the client is gone, or time is up.
    fn write(&mut self, now: Instant) -> bool {
        while !self.rest.is_empty() {
            match (&self.tcp).write(&self.rest) {
                Ok(0) => return true,
                Ok(n) => self.rest.advance(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return now >= self.until,
                Err(_) => return true,
            }
        }
        let _ = self.tcp.shutdown(Shutdown::Write);
        true
    }
}

impl Room {
    fn lock(&self) -> MutexGuard<'_, Line> {
        self.line.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next connection for a worker, waiting for one; `None` once the line is closed and
    /// empty. `first`: the worker's first call (it stops counting as starting).
    fn next(&self, shared: &Shared, first: &mut bool) -> Option<(TcpStream, SocketAddr)> {
        let mut line = self.lock();
        if std::mem::take(first) {
            line.starting = line.starting.saturating_sub(1);
        }
        loop {
            if let Some(waiting) = line.waiting.pop_front() {
                shared.metrics.pool_waiting(-1);
                return Some((waiting.tcp, waiting.peer));
            }
            if line.closed {
                return None;
            }
            line.idle += 1;
            line = self.ready.wait(line).unwrap_or_else(|p| p.into_inner());
            line.idle -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::starts_hello;

    #[test]
    fn hello_clients_are_recognised_from_their_first_bytes() {
        for hello in [&b"HELLO 41\n"[..], b"HELLO 7", b"HEL", b"  HELLO 3\r\n"] {
            assert!(starts_hello(hello), "{:?}", String::from_utf8_lossy(hello));
        }
        for chat in [&b"HELLO everyone\n"[..], b"/nick bob\n", b"\n", b""] {
            assert!(!starts_hello(chat), "{:?}", String::from_utf8_lossy(chat));
        }
    }
}
