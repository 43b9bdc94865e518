//! The bounded queue of events waiting for one connection.
//!
//! Backpressure policy (ARCHITECTURE.md, "Backpressure"): the fan-out never blocks on a
//! receiver, and a receiver is judged only by what *it* failed to take. Each queue has a
//! limit in bytes ([`SlowPolicy::limit`], `--outbox-limit`). A receiver may be over it for a
//! moment — a burst from a whole room, every sender inside its flood limits, can be larger
//! than the limit — but one that is *still* over it [`SlowPolicy::grace`] later, or that
//! falls [`SlowPolicy::hard_limit`] behind at any moment, is a *slow consumer*: its backlog
//! is dropped, and its driver says why and disconnects it. Everyone else keeps receiving
//! every event, in order, and the memory a connection can hold is bounded by the hard limit
//! (and it is mostly shared: queued events are pointers to encodings all receivers share).
//!
//! Writing through: while a connection is *idle* — its driver has nothing pending and is not
//! writing — the fan-out writes that connection's events to its socket itself, in one
//! non-blocking vectored write per batch ([`Outbox::flush`]), instead of waking the driver to
//! do it; and as soon as [`FLUSH_AT`] bytes are queued in the middle of a batch, so a big
//! batch reaches the socket while it is being fanned out instead of piling up first. A
//! delivery then costs the one system call it must cost, no task or thread switch, and what
//! stays queued is what the socket refused. Order is kept by one rule: only the holder of the
//! right to write does so. The driver takes it back ([`Outbox::claim`]) before its session
//! produces any bytes, and gives it up ([`Outbox::release`]) only when everything is written
//! and the queue is empty; the fan-out writes only whole queued events, under the queue's
//! lock, while the connection is idle. Whatever a write-through leaves unwritten (the socket
//! was full) stays queued — the first event possibly part-written — and goes to the driver,
//! which resumes where it stopped.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll};
use std::time::Instant;

use crate::clock::Clock;
use crate::delivery::{Encoded, Wire};
use crate::model::stream::ByteStream;
use crate::session::action::Ending;
use rustchat_ws::DeflateConfig;

mod policy;
pub use policy::SlowPolicy;

/// What the driver finds when it drains the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drained {
    /// Events were moved out (maybe none).
    Events,
    /// The queue overflowed: disconnect this client as a slow consumer.
    Overflowed,
    /// The server asked to close this connection once its events are sent (`/quit`, a
    /// flood), ending it as given.
    Closing(Ending),
    /// The server is shutting down: say goodbye after the events.
    Shutdown,
}

/// What [`Outbox::push`] did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// Queued for the driver (woken if it needs to be).
    Queued,
    /// Queued on an idle connection: the pusher must call [`Outbox::flush`] after its batch.
    FlushDue,
    /// Queued on an idle connection that has [`FLUSH_AT`] bytes waiting: the pusher should
    /// call [`Outbox::flush`] now, before it queues more of its batch.
    FlushNow,
    /// The queue overflowed: the connection is a slow consumer and the event was dropped.
    Overflowed,
}

/// Queues that kept more than this many slots after a burst give the memory back when they
/// drain, so an idle connection holds no backlog-sized buffer.
const KEEP_SLOTS: usize = 16;

/// Bytes queued on an idle connection in the middle of a batch past which the fan-out writes
/// them through at once ([`Pushed::FlushNow`]) instead of at the end of the batch: big enough
/// that a broadcast of small events still costs one write per receiver per batch, small
/// enough that a burst never piles up in the queue before the socket has been offered it.
pub const FLUSH_AT: usize = 64 * 1024;

#[derive(Debug, Default)]
struct Queue {
    events: VecDeque<Arc<Encoded>>,
    bytes: usize,
    overflowed: bool,
    /// Since when `bytes` has been over the limit, while it is.
    behind_since: Option<Instant>,
    /// Close after the queued events, ending the session so (`/quit`, a flood).
    closing: Option<Ending>,
    shutdown: bool,
    wire: Option<Wire>,
    /// The receiver takes shared compressed frames (permessage-deflate, negotiated so).
    deflate: Option<DeflateConfig>,
    /// The async driver waiting for this queue, if it is waiting.
    task: Option<std::task::Waker>,
    /// Bytes of the first queued event already written through.
    front_written: usize,
    /// The socket, for writing through.
    socket: Option<Arc<dyn ByteStream>>,
    /// The driver has nothing pending and is not writing: the fan-out may write instead.
    idle: bool,
    /// A pusher owes a [`Outbox::flush`].
    flush_due: bool,
    /// Something besides events wants the driver ([`Outbox::signal`]).
    signalled: bool,
}

/// One connection's outbound event queue; shared by the fan-out (producer) and the
/// connection's driver (consumer).
#[derive(Debug)]
pub struct Outbox {
    queue: Mutex<Queue>,
    policy: SlowPolicy,
    /// Wakes a blocking driver (its poller's waker), if it set one.
    waker: OnceLock<Waker>,
}

/// A blocking driver's wake-up call.
struct Waker(Box<dyn Fn() + Send + Sync>);

impl std::fmt::Debug for Waker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Waker")
    }
}

impl Outbox {
    /// An outbox for a connection on `wire` (taking compressed frames if `deflate`), whose
    /// receiver is judged by `policy`.
    pub fn new(policy: SlowPolicy, wire: Wire, deflate: Option<DeflateConfig>) -> Arc<Self> {
        Arc::new(Self {
            queue: Mutex::new(Queue {
                wire: Some(wire),
                deflate,
                ..Queue::default()
            }),
            policy,
            waker: OnceLock::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // The queue is consistent after every statement; a panicking holder leaves it usable.
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Changes the wire format (a WebSocket client switched to JSON).
    pub fn set_wire(&self, wire: Wire) {
        self.lock().wire = Some(wire);
    }

    /// Queues an event. On an idle connection nobody is woken: the pusher writes the batch
    /// through with [`flush`](Self::flush) (`FlushDue`, once per batch, or `FlushNow` when
    /// [`FLUSH_AT`] bytes wait). Otherwise the driver is woken when the queue goes from empty
    /// to not empty (or overflows): it drains everything queued when it runs, so one wake-up
    /// per batch is enough. A receiver past the hard limit, or over the limit for longer than
    /// the grace, overflows: the event is dropped and so is its backlog.
    pub fn push(&self, event: &Arc<Encoded>, clock: &dyn Clock) -> Pushed {
        let mut q = self.lock();
        if q.overflowed {
            return Pushed::Overflowed;
        }
        let size = q
            .wire
            .map_or(0, |wire| event.bytes(wire, q.deflate.as_ref()).len());
        let queued = q.bytes + size;
        if queued > self.policy.hard_limit
            || (queued > self.policy.limit && self.behind(&mut q, clock.now()))
        {
            self.overflow(q);
            return Pushed::Overflowed;
        }
        let was_empty = q.events.is_empty();
        q.events.push_back(Arc::clone(event));
        q.bytes = queued;
        if q.idle && q.socket.is_some() {
            if q.bytes >= FLUSH_AT {
                q.flush_due = true;
                return Pushed::FlushNow;
            }
            if q.flush_due {
                return Pushed::Queued;
            }
            q.flush_due = true;
            return Pushed::FlushDue;
        }
        if was_empty {
            self.wake(q);
        }
        Pushed::Queued
    }

    /// Marks a slow consumer: its backlog is dropped — all but an event the fan-out has begun
    /// to write through, whose rest must still go out before the goodbye (a cut frame would
    /// corrupt the stream) — and its driver is woken to say goodbye.
    fn overflow(&self, mut q: MutexGuard<'_, Queue>) {
        q.overflowed = true;
        let partial = (q.front_written > 0)
            .then(|| q.events.pop_front())
            .flatten();
        q.events = partial.into_iter().collect();
        q.bytes = 0;
        q.behind_since = None;
        self.wake(q);
    }

    /// The queue is over the limit: whether it has been for longer than the grace (it starts
    /// counting now if it was not).
    fn behind(&self, q: &mut Queue, now: Instant) -> bool {
        let since = *q.behind_since.get_or_insert(now);
        now.duration_since(since) >= self.policy.grace
    }

    /// Forgets when the queue went over the limit, if it is back under it.
    fn caught_up(&self, q: &mut Queue) {
        if q.bytes <= self.policy.limit {
            q.behind_since = None;
        }
    }

    /// Writes the queued events through to an idle connection's socket, in one vectored
    /// write. What the socket does not take (or all of it, if the driver has meanwhile taken
    /// the connection back) is left to the driver, woken if needed. Returns the bytes written.
    pub fn flush(&self) -> usize {
        let mut q = self.lock();
        q.flush_due = false;
        if !q.idle || q.events.is_empty() {
            return 0;
        }
        let Some(wire) = q.wire else {
            return 0;
        };
        let (mut written, pending) = {
            let Some(socket) = q.socket.as_deref() else {
                return 0;
            };
            let mut slices = [IoSlice::new(&[]); 64];
            let mut count = 0;
            for (slot, event) in slices.iter_mut().zip(&q.events) {
                let skip = if count == 0 { q.front_written } else { 0 };
                *slot = IoSlice::new(&event.bytes(wire, q.deflate.as_ref())[skip..]);
                count += 1;
            }
            // Full or broken: the driver finds out which, and copes, on its own next write.
            let written = socket.try_write_vectored(&slices[..count]).unwrap_or(0);
            (written, socket.has_pending())
        };
        let total = written;
        q.bytes = q.bytes.saturating_sub(written);
        self.caught_up(&mut q);
        while let Some(front) = q.events.front() {
            let left = front.bytes(wire, q.deflate.as_ref()).len() - q.front_written;
            if written < left {
                q.front_written += written;
                break;
            }
            written -= left;
            q.front_written = 0;
            q.events.pop_front();
        }
        if !q.events.is_empty() || pending {
            // The socket is full (or took only the first 64 events, or not all of a TLS
            // link's records): the driver takes over, and writes the rest as the socket
            // drains.
            q.idle = false;
            self.wake(q);
        }
        total
    }

    /// The driver takes back the right to write: call before its session produces any bytes
    /// (then drain, as the first queued event may be part-written).
    pub fn claim(&self) {
        self.lock().idle = false;
    }

    /// The driver has written everything: the fan-out may write through until the next
    /// [`claim`](Self::claim). Refused (`false`) while events are queued: drain them first.
    pub fn release(&self) -> bool {
        let mut q = self.lock();
        let free = q.events.is_empty()
            && !q.overflowed
            && q.closing.is_none()
            && !q.shutdown
            && !q.signalled;
        q.idle = free && q.socket.is_some();
        free
    }

    /// Lets the fan-out write through to `socket` while the connection is idle (`None`: never
    /// again — the driver is about to close it).
    pub fn set_socket(&self, socket: Option<Arc<dyn ByteStream>>) {
        let mut q = self.lock();
        if socket.is_none() {
            q.idle = false;
        }
        q.socket = socket;
    }

    /// Asks the driver to close the connection after the queued events, ending its session
    /// as given (the first request wins).
    pub fn close_after_flush(&self, ending: Ending) {
        let mut q = self.lock();
        q.closing.get_or_insert(ending);
        self.wake(q);
    }

    /// Asks the driver to say goodbye after the queued events: the server is stopping.
    pub fn shut_down(&self) {
        let mut q = self.lock();
        q.shutdown = true;
        self.wake(q);
    }

    /// Wakes the driver for something that is not an event: a job it waits for is done (the
    /// account service's). Counts as news until the next [`drain`](Self::drain).
    pub fn signal(&self) {
        let mut q = self.lock();
        q.signalled = true;
        self.wake(q);
    }

    /// Has `wake` called whenever something is queued (for a driver that blocks in a poller).
    pub fn set_waker(&self, wake: impl Fn() + Send + Sync + 'static) {
        let _ = self.waker.set(Waker(Box::new(wake)));
    }

    /// Wakes whichever driver waits, after letting go of the lock.
    fn wake(&self, mut q: MutexGuard<'_, Queue>) {
        let task = q.task.take();
        drop(q);
        if let Some(task) = task {
            task.wake();
        }
        if let Some(Waker(wake)) = self.waker.get() {
            wake();
        }
    }

    /// Hands the queued events to `each` (oldest first, under the queue's lock: keep it
    /// cheap) with how many of its bytes were already written through (only the first event
    /// can have any), and says what else the driver must do.
    pub fn drain(&self, mut each: impl FnMut(&Arc<Encoded>, usize)) -> Drained {
        let mut q = self.lock();
        // After an overflow, only the rest of a part-written event is left to hand out.
        let skip = std::mem::take(&mut q.front_written);
        q.signalled = false;
        for (i, event) in q.events.iter().enumerate() {
            each(event, if i == 0 { skip } else { 0 });
        }
        q.events.clear();
        if q.events.capacity() > KEEP_SLOTS {
            q.events = VecDeque::new();
        }
        q.bytes = 0;
        q.behind_since = None;
        if q.overflowed {
            Drained::Overflowed
        } else if let Some(ending) = &q.closing {
            Drained::Closing(ending.clone())
        } else if q.shutdown {
            Drained::Shutdown
        } else {
            Drained::Events
        }
    }

    /// Whether anything is waiting for a driver that takes events (`taking_events`) or only
    /// hears of an overflow or the shutdown (its socket is not keeping up).
    pub fn has_news(&self, taking_events: bool) -> bool {
        Self::ready(&self.lock(), taking_events)
    }

    fn ready(q: &Queue, taking_events: bool) -> bool {
        q.overflowed
            || q.shutdown
            || q.signalled
            || (taking_events && (!q.events.is_empty() || q.closing.is_some()))
    }

    /// Polls (async) until there is something to drain. A driver whose socket is not keeping
    /// up (`taking_events` false) is still told at once of an overflow or a shutdown. Only the
    /// last task to poll is woken.
    pub fn poll_ready(&self, cx: &mut Context<'_>, taking_events: bool) -> Poll<()> {
        let mut q = self.lock();
        if Self::ready(&q, taking_events) {
            return Poll::Ready(());
        }
        match &mut q.task {
            Some(task) if task.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// Whether the queue overflowed (the client is a slow consumer).
    pub fn is_overflowed(&self) -> bool {
        self.lock().overflowed
    }

    /// Bytes queued now.
    pub fn queued_bytes(&self) -> usize {
        self.lock().bytes
    }
}

#[cfg(test)]
mod tests;
