//! The bounded queue of events waiting for one connection.
//!
//! Backpressure policy (ARCHITECTURE.md, "Safety defaults"): the fan-out never blocks on a
//! receiver. Each connection's queue is bounded in bytes; a push that would go past the bound
//! marks the connection as a *slow consumer* and drops the event. The connection's driver sees
//! the mark, says why and disconnects that client. Everyone else keeps receiving every event,
//! in order, and the server's memory per connection stays bounded.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use tokio::sync::Notify;

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
}

#[derive(Debug, Default)]
struct Queue {
    events: VecDeque<Arc<Encoded>>,
    bytes: usize,
    overflowed: bool,
    closing: bool,
    wire: Option<Wire>,
}

/// One connection's outbound event queue; shared by the fan-out (producer) and the
/// connection's driver (consumer).
#[derive(Debug)]
pub struct Outbox {
    queue: Mutex<Queue>,
    limit: usize,
    /// Wakes an async driver.
    notify: Notify,
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
            notify: Notify::new(),
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
    pub fn push(&self, event: &Arc<Encoded>) -> bool {
        let mut q = self.lock();
        if q.overflowed {
            return false;
        }
        let size = q.wire.map_or(0, |wire| event.bytes(wire).len());
        if q.bytes + size > self.limit {
            q.overflowed = true;
            q.events.clear();
            q.bytes = 0;
        } else {
            q.events.push_back(Arc::clone(event));
            q.bytes += size;
        }
        let ok = !q.overflowed;
        drop(q);
        self.wake();
        ok
    }

    /// Asks the driver to close the connection after the queued events.
    pub fn close_after_flush(&self) {
        self.lock().closing = true;
        self.wake();
    }

    /// Has `wake` called whenever something is queued (for a driver that blocks in a poller).
    pub fn set_waker(&self, wake: impl Fn() + Send + Sync + 'static) {
        let _ = self.waker.set(Waker(Box::new(wake)));
    }

    fn wake(&self) {
        self.notify.notify_one();
        if let Some(Waker(wake)) = self.waker.get() {
            wake();
        }
    }

    /// Moves the queued events into `into` (oldest first).
    pub fn drain(&self, into: &mut Vec<Arc<Encoded>>) -> Drained {
        let mut q = self.lock();
        if q.overflowed {
            return Drained::Overflowed;
        }
        into.extend(q.events.drain(..));
        q.bytes = 0;
        if q.closing {
            Drained::Closing
        } else {
            Drained::Events
        }
    }

    /// Whether anything is waiting (events, an overflow or a close request).
    pub fn is_ready(&self) -> bool {
        let q = self.lock();
        !q.events.is_empty() || q.overflowed || q.closing
    }

    /// Waits (async) until something may be ready. Cancel-safe.
    pub async fn wait(&self) {
        if !self.is_ready() {
            self.notify.notified().await;
        }
    }

    /// Whether the queue overflowed (the client is a slow consumer).
    pub fn is_overflowed(&self) -> bool {
        self.lock().overflowed
    }

    /// Waits (async) until the queue overflows. Cancel-safe.
    pub async fn wait_overflow(&self) {
        while !self.is_overflowed() {
            self.notify.notified().await;
        }
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
        assert_eq!(outbox.drain(&mut got), Drained::Events);
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
        let mut got = Vec::new();
        assert_eq!(outbox.drain(&mut got), Drained::Overflowed);
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
        assert_eq!(outbox.drain(&mut got), Drained::Closing);
        assert_eq!(got.len(), 1);
    }
}
