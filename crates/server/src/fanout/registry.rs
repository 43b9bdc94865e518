//! The outboxes of all live connections, and the fan-out that fills them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use crate::clock::Clock;
use crate::delivery::{ConnId, Outcome};
use crate::fanout::committer::Fanout;
use crate::fanout::outbox::{Outbox, Pushed};
use crate::metrics::Metrics;

/// Who is connected, by id, with the queue each one drains.
#[derive(Debug, Default)]
pub struct Registry {
    outboxes: RwLock<HashMap<ConnId, Arc<Outbox>>>,
    /// Set (under the write lock) once the server stops: later arrivals are told at once.
    stopping: AtomicBool,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Adds a connection's outbox.
    pub fn insert(&self, conn: ConnId, outbox: Arc<Outbox>) {
        let mut outboxes = self.outboxes.write().unwrap_or_else(|p| p.into_inner());
        if self.stopping.load(Ordering::Relaxed) {
            outbox.shut_down();
        }
        outboxes.insert(conn, outbox);
    }

    /// The server is stopping: every connection, present and future, says goodbye.
    pub fn shut_down_all(&self) {
        let outboxes = self.outboxes.write().unwrap_or_else(|p| p.into_inner());
        self.stopping.store(true, Ordering::Relaxed);
        for outbox in outboxes.values() {
            outbox.shut_down();
        }
    }

    /// Removes a connection.
    pub fn remove(&self, conn: ConnId) {
        self.outboxes
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&conn);
    }

    /// Number of registered connections.
    pub fn len(&self) -> usize {
        self.outboxes
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    /// Whether no connection is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Queues every delivery of `outcome` on its receiver's outbox: a pointer copy each. A
    /// receiver that overflows is marked as a slow consumer; nobody else is affected. Idle
    /// receivers are added to `due`: [`Outbox::flush`] each once the batch is queued.
    pub fn deliver(
        &self,
        outcome: &Outcome,
        metrics: &Metrics,
        clock: &dyn Clock,
        due: &mut Vec<Arc<Outbox>>,
    ) {
        let outboxes = self.outboxes.read().unwrap_or_else(|p| p.into_inner());
        let mut delivered = 0;
        let mut written = 0;
        for delivery in &outcome.deliveries {
            if let Some(outbox) = outboxes.get(&delivery.to) {
                match outbox.push(&delivery.event, clock) {
                    Pushed::Queued => delivered += 1,
                    Pushed::FlushDue => {
                        delivered += 1;
                        due.push(Arc::clone(outbox));
                    }
                    Pushed::FlushNow => {
                        // A big batch: this receiver's share goes to its socket now, so
                        // what stays queued is only what the socket refused.
                        delivered += 1;
                        written += outbox.flush();
                    }
                    Pushed::Overflowed => {}
                }
            }
        }
        metrics.add_delivered(delivered);
        if written > 0 {
            metrics.add_written_through(written as u64);
        }
        if let Some((conn, ending)) = &outcome.close
            && let Some(outbox) = outboxes.get(conn)
        {
            outbox.close_after_flush(ending.clone());
        }
    }
}

/// The committer's fan-out target: the registry.
#[derive(Debug)]
pub struct RegistryFanout {
    /// Where events go.
    pub registry: Arc<Registry>,
    /// Counts deliveries.
    pub metrics: Arc<Metrics>,
    /// Times how long a receiver has been behind.
    clock: Arc<dyn Clock>,
    /// Idle receivers of this batch, to write through when it is all queued.
    due: Vec<Arc<Outbox>>,
}

impl RegistryFanout {
    /// Fans out into `registry`, counting in `metrics`, timing by `clock`.
    pub fn new(registry: Arc<Registry>, metrics: Arc<Metrics>, clock: Arc<dyn Clock>) -> Self {
        Self {
            registry,
            metrics,
            clock,
            due: Vec::new(),
        }
    }
}

impl Fanout for RegistryFanout {
    fn deliver(&mut self, outcome: Outcome) {
        self.registry
            .deliver(&outcome, &self.metrics, &*self.clock, &mut self.due);
    }

    /// One write per idle receiver for the whole batch: flat out, a batch holds many events.
    fn end_batch(&mut self) {
        let mut written = 0;
        for outbox in self.due.drain(..) {
            written += outbox.flush();
        }
        self.metrics.add_written_through(written as u64);
        if self.due.capacity() > 4096 {
            self.due = Vec::new();
        }
    }
}
