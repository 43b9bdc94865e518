//! The bounded queue of events waiting for one connection.
//!
//! Backpressure policy (ARCHITECTURE.md, "Safety defaults"): the fan-out never blocks on a
//! receiver. Each connection's queue is bounded in bytes; a push that would go past the bound
//! marks the connection as a *slow consumer* and drops the event. The connection's driver sees
//! the mark, says why and disconnects that client. Everyone else keeps receiving every event,
//! in order, and the server's memory per connection stays bounded.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll};

use crate::delivery::{Encoded, Wire};

/// What the driver finds when it drains the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drained {
    /// Events were moved out (maybe none).
    Events,
    /// The queue overflowed: disconnect this client as a slow consumer.
    Overflowed,
    /// The server asked to close this connection once its events are sent (`/quit`).
    Closing,
    /// The server is shutting down: say goodbye after the events.
    Shutdown,
}

/// Queues that kept more than this many slots after a burst give the memory back when they
/// drain, so an idle connection holds no backlog-sized buffer.
const KEEP_SLOTS: usize = 16;

#[derive(Debug, Default)]
struct Queue {
    events: VecDeque<Arc<Encoded>>,
    bytes: usize,
    overflowed: bool,
    closing: bool,
    shutdown: bool,
    wire: Option<Wire>,
    /// The async driver waiting for this queue, if it is waiting.
    task: Option<std::task::Waker>,
}

/// One connection's outbound event queue; shared by the fan-out (producer) and the
/// connection's driver (consumer).
#[derive(Debug)]
pub struct Outbox {
    queue: Mutex<Queue>,
    limit: usize,
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
    /// An outbox holding at most `limit` bytes of encoded events for a connection on `wire`.
    pub fn new(limit: usize, wire: Wire) -> Arc<Self> {
        Arc::new(Self {
            queue: Mutex::new(Queue {
                wire: Some(wire),
                ..Queue::default()
            }),
            limit,
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

    /// Queues an event; returns `false` if the connection is (now) a slow consumer.
    ///
    /// The driver is woken only when the queue goes from empty to not empty (or overflows):
    /// it drains everything queued when it runs, so one wake-up per batch is enough.
    pub fn push(&self, event: &Arc<Encoded>) -> bool {
        let mut q = self.lock();
        if q.overflowed {
            return false;
        }
        let size = q.wire.map_or(0, |wire| event.bytes(wire).len());
        let wake = if q.bytes + size > self.limit {
            q.overflowed = true;
            q.events = VecDeque::new();
            q.bytes = 0;
            true
        } else {
            let was_empty = q.events.is_empty();
            q.events.push_back(Arc::clone(event));
            q.bytes += size;
            was_empty
        };
        let ok = !q.overflowed;
        if wake {
            self.wake(q);
        }
        ok
    }

    /// Asks the driver to close the connection after the queued events.
    pub fn close_after_flush(&self) {
        let mut q = self.lock();
        q.closing = true;
        self.wake(q);
    }

    /// Asks the driver to say goodbye after the queued events: the server is stopping.
    pub fn shut_down(&self) {
        let mut q = self.lock();
        q.shutdown = true;
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
    /// cheap), and says what else the driver must do.
    pub fn drain(&self, mut each: impl FnMut(&Arc<Encoded>)) -> Drained {
        let mut q = self.lock();
        if q.overflowed {
            return Drained::Overflowed;
        }
        q.events.iter().for_each(&mut each);
        q.events.clear();
        if q.events.capacity() > KEEP_SLOTS {
            q.events = VecDeque::new();
        }
        q.bytes = 0;
        if q.closing {
            Drained::Closing
        } else if q.shutdown {
            Drained::Shutdown
        } else {
            Drained::Events
        }
    }

    /// Whether anything is waiting (events, an overflow, a close or shutdown request).
    pub fn is_ready(&self) -> bool {
        Self::ready(&self.lock(), true)
    }

    fn ready(q: &Queue, taking_events: bool) -> bool {
        q.overflowed || q.shutdown || (taking_events && (!q.events.is_empty() || q.closing))
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
mod tests {
    use super::*;
    use rustchat_proto::ServerEvent;

    fn event(text: &str) -> Arc<Encoded> {
        Encoded::new(ServerEvent::info(text))
    }

    #[test]
    fn drains_in_order() {
        let outbox = Outbox::new(1024, Wire::Line);
        assert!(outbox.push(&event("a")));
        assert!(outbox.push(&event("b")));
        let mut got = Vec::new();
        assert_eq!(outbox.drain(|e| got.push(e.clone())), Drained::Events);
        let texts: Vec<_> = got.iter().map(|e| e.line().clone()).collect();
        assert_eq!(
            texts,
            [event("a").line().clone(), event("b").line().clone()]
        );
        assert_eq!(outbox.queued_bytes(), 0);
    }

    #[test]
    fn limit_at_the_boundary_and_past_it() {
        let one = event("x");
        let size = one.line().len();
        let outbox = Outbox::new(size * 2, Wire::Line);
        assert!(outbox.push(&one));
        assert!(outbox.push(&one), "exactly at the limit is fine");
        assert!(!outbox.push(&one), "one past the limit overflows");
        assert!(!outbox.push(&one), "stays overflowed");
        let mut got: Vec<Arc<Encoded>> = Vec::new();
        assert_eq!(outbox.drain(|e| got.push(e.clone())), Drained::Overflowed);
        assert!(
            got.is_empty(),
            "a slow consumer's backlog is dropped, not kept"
        );
    }

    #[test]
    fn close_after_flush_still_delivers() {
        let outbox = Outbox::new(1024, Wire::WsJson);
        assert!(outbox.push(&event("bye")));
        outbox.close_after_flush();
        let mut got = Vec::new();
        assert_eq!(outbox.drain(|e| got.push(e.clone())), Drained::Closing);
        assert_eq!(got.len(), 1);
    }

    /// Counts its wake-ups.
    #[derive(Default)]
    struct Counter(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    fn wakes(counter: &Arc<Counter>) -> usize {
        counter.0.load(std::sync::atomic::Ordering::SeqCst)
    }

    #[test]
    fn wakes_once_per_batch_not_per_event() {
        let outbox = Outbox::new(1024, Wire::Line);
        let counter = Arc::new(Counter::default());
        let waker = std::task::Waker::from(counter.clone());
        let mut cx = Context::from_waker(&waker);
        assert!(outbox.poll_ready(&mut cx, true).is_pending());
        assert!(outbox.push(&event("a")));
        assert!(outbox.push(&event("b")));
        assert!(outbox.push(&event("c")));
        assert_eq!(
            wakes(&counter),
            1,
            "only the first event of a batch wakes the driver"
        );
        assert!(outbox.poll_ready(&mut cx, true).is_ready());
        let mut got = 0;
        outbox.drain(|_| got += 1);
        assert_eq!(got, 3);
        assert!(outbox.poll_ready(&mut cx, true).is_pending());
        assert!(outbox.push(&event("d")));
        assert_eq!(wakes(&counter), 2, "an emptied queue wakes again");
    }

    #[test]
    fn a_stuck_driver_still_hears_of_overflow_and_shutdown() {
        let one = event("x");
        let outbox = Outbox::new(one.line().len(), Wire::Line);
        let counter = Arc::new(Counter::default());
        let waker = std::task::Waker::from(counter.clone());
        let mut cx = Context::from_waker(&waker);
        assert!(outbox.push(&one));
        assert!(
            outbox.poll_ready(&mut cx, false).is_pending(),
            "events alone do not wake a driver that cannot take them"
        );
        assert!(!outbox.push(&one));
        assert_eq!(wakes(&counter), 1, "the overflow wakes it");
        assert!(outbox.poll_ready(&mut cx, false).is_ready());

        let outbox = Outbox::new(1024, Wire::Line);
        assert!(outbox.poll_ready(&mut cx, false).is_pending());
        outbox.shut_down();
        assert_eq!(wakes(&counter), 2, "the shutdown wakes it");
        assert!(outbox.poll_ready(&mut cx, false).is_ready());
        assert_eq!(outbox.drain(|_| {}), Drained::Shutdown);
    }

    #[test]
    fn a_drained_burst_gives_its_memory_back() {
        let outbox = Outbox::new(1 << 20, Wire::Line);
        for _ in 0..1000 {
            assert!(outbox.push(&event("burst")));
        }
        outbox.drain(|_| {});
        assert!(outbox.lock().events.capacity() <= KEEP_SLOTS);
        assert_eq!(outbox.queued_bytes(), 0);
    }
}
