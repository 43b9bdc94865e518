//! `Committer`: group commit of the history on one writer thread, then fan-out.
//!
//! Data path: hub → `Outcome` → [`Committer::submit`] → queue → the `rustchat-history` thread:
//! take the first waiting outcome, then whatever else is already queued (up to
//! [`CommitConfig::max_batch`]), append all their records in ONE transaction, and only then
//! hand each outcome, in submission order, to the [`Fanout`] (which queues bytes to sockets).
//!
//! Why a batch per wake-up: a transaction costs a WAL write (and an `fsync` with
//! `Durability::Full`) whatever its size, so one transaction per message would cap throughput.
//! The batch grows by itself with load — while one commit runs, the next outcomes queue up — and
//! the thread never waits for a batch to fill, so a lone message is committed at once.
//!
//! Order: every outcome goes through the queue, record or not, so a receiver never sees a
//! notice overtake an earlier message. Durability: no delivery of a record happens before its
//! commit returns, so a message any client has received is in the history after a crash.
//!
//! The queue is an unbounded `std::sync::mpsc` channel: `submit` is called by the hub's caller,
//! possibly on an async runtime worker and under the hub's lock, so it must never block; a
//! bounded queue would stall every connection behind one slow disk. The cost is memory while
//! the disk is slower than the chat; [`CommitStats::queued`] shows that backlog in
//! `/metrics`. Downstream, each connection's outbox is bounded as usual.
//!
//! Failure policy: if a commit fails (disk full, I/O error), the error is logged, counted in
//! [`CommitStats`] and the batch is delivered anyway. Chat stays available and the operator is
//! told; refusing would drop messages the hub has already accepted and numbered, with no way to
//! tell their senders. Those messages are then missing from the history after a restart.
//!
//! Shutdown: [`Committer::close`] (or dropping the `Committer`) closes the queue — later submits
//! get their outcome back in [`Stopped`] — and the thread commits and delivers everything
//! submitted before, checkpoints and closes the database; [`CommitterJoin::join`] waits for that
//! and returns the final counters.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::{Arc, PoisonError, RwLock};
use std::thread::JoinHandle;

use crate::delivery::Outcome;
use crate::history::{History, HistoryError};

#[cfg(test)]
mod tests;

/// The name of the writer thread (in `top -H`, `gdb`, panics).
pub const THREAD_NAME: &str = "rustchat-history";

/// Where committed outcomes go: the server's fan-out to connection outboxes.
///
/// Called on the committer thread, in submission order, and only after the outcome's record
/// (if any) is committed. It should only queue (never wait on a socket): it holds up every
/// later outcome.
pub trait Fanout: Send + 'static {
    /// Delivers one outcome.
    fn deliver(&mut self, outcome: Outcome);

    /// Called after the last outcome of each batch.
    fn end_batch(&mut self) {}
}

impl<F: FnMut(Outcome) + Send + 'static> Fanout for F {
    fn deliver(&mut self, outcome: Outcome) {
        self(outcome);
    }
}

/// Committer settings.
#[derive(Debug, Clone)]
pub struct CommitConfig {
    /// Most outcomes taken per wake-up (and so records per transaction). Bigger batches amortise
    /// the commit better; smaller ones deliver the first outcome of a burst sooner.
    pub max_batch: usize,
    /// Deleting messages past an age (`--history-max-age`), if asked.
    pub expiry: Option<Expiry>,
}

impl Default for CommitConfig {
    /// `max_batch` 1024: at tens of thousands of messages per second this is tens of commits per
    /// second, and one batch is committed in a few milliseconds.
    fn default() -> Self {
        Self {
            max_batch: 1024,
            expiry: None,
        }
    }
}

/// Messages older than `max_age` (by their timestamp, against `clock`'s wall time) are deleted
/// by the committer thread, between batches: at most [`EXPIRE_CHUNK`] per transaction, so a
/// large backlog of old messages is deleted a little at a time and never holds up delivery for
/// long.
#[derive(Debug, Clone)]
pub struct Expiry {
    /// How old a message may get.
    pub max_age: std::time::Duration,
    /// How often to look (once a minute; tests look more often).
    pub every: std::time::Duration,
    /// Wall time.
    pub clock: Arc<dyn crate::clock::Clock>,
}

/// Most messages one expiry transaction deletes.
pub const EXPIRE_CHUNK: usize = 1000;

impl CommitConfig {
    /// Sets [`CommitConfig::max_batch`] (at least 1).
    pub fn with_max_batch(mut self, max_batch: usize) -> Self {
        self.max_batch = max_batch.max(1);
        self
    }
}

/// Counters for `/metrics`, updated by the committer thread.
#[derive(Debug, Default)]
pub struct CommitStats {
    submitted: AtomicU64,
    delivered: AtomicU64,
    batches: AtomicU64,
    appended: AtomicU64,
    largest_batch: AtomicU64,
    errors: AtomicU64,
    lost: AtomicU64,
    expired: AtomicU64,
    cut: AtomicU64,
}

/// The counters at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CommitStatsSnapshot {
    /// Outcomes accepted by [`Committer::submit`].
    pub submitted: u64,
    /// Outcomes handed to the fan-out.
    pub delivered: u64,
    /// Transactions committed (outcomes without a record need none).
    pub batches: u64,
    /// Messages committed to the history.
    pub appended: u64,
    /// Most messages committed in one transaction.
    pub largest_batch: u64,
    /// Transactions that failed (their outcomes were delivered anyway).
    pub errors: u64,
    /// Messages delivered but not stored because their transaction failed.
    pub lost: u64,
}

impl CommitStatsSnapshot {
    /// Outcomes waiting for the committer: the backlog when the disk is slower than the chat.
    pub fn queued(&self) -> u64 {
        self.submitted.saturating_sub(self.delivered)
    }
}

impl CommitStats {
    /// Outcomes accepted by [`Committer::submit`].
    pub fn submitted(&self) -> u64 {
        self.submitted.load(Ordering::Relaxed)
    }

    /// Outcomes handed to the fan-out.
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// Transactions committed.
    pub fn batches(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }

    /// Messages committed to the history.
    pub fn appended(&self) -> u64 {
        self.appended.load(Ordering::Relaxed)
    }

    /// Most messages committed in one transaction.
    pub fn largest_batch(&self) -> u64 {
        self.largest_batch.load(Ordering::Relaxed)
    }

    /// Transactions that failed (their outcomes were delivered anyway).
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// Messages delivered but not stored because their transaction failed.
    pub fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }

    /// Messages deleted for their age (`--history-max-age`).
    pub fn expired(&self) -> u64 {
        self.expired.load(Ordering::Relaxed)
    }

    /// Messages deleted by the bound per room (`--history-keep`, and memory mode's).
    pub fn cut(&self) -> u64 {
        self.cut.load(Ordering::Relaxed)
    }

    /// Outcomes submitted but not yet delivered: the backlog when the disk is slower than the
    /// chat (a gauge for `/metrics`).
    pub fn queued(&self) -> u64 {
        self.snapshot().queued()
    }

    /// Every counter at once.
    pub fn snapshot(&self) -> CommitStatsSnapshot {
        CommitStatsSnapshot {
            submitted: self.submitted(),
            delivered: self.delivered(),
            batches: self.batches(),
            appended: self.appended(),
            largest_batch: self.largest_batch(),
            errors: self.errors(),
            lost: self.lost(),
        }
    }
}

/// [`Committer::submit`] after [`Committer::close`], or after the thread died (a panic in the
/// fan-out): the outcome is handed back (boxed: this is the rare path), neither stored nor
/// delivered.
#[derive(Debug, thiserror::Error)]
#[error("the history committer has stopped; the outcome was neither stored nor delivered")]
pub struct Stopped(pub Box<Outcome>);

/// The handle outcomes are submitted through. `Sync`: keep it in the server's shared state.
/// [`Committer::close`] (or dropping it) is the signal to flush and stop.
#[derive(Debug)]
pub struct Committer {
    /// The queue's only sender; `None` once closed. Dropping it is what ends the thread, after
    /// the thread has drained the queue. `submit` takes the read lock (shared, uncontended in
    /// practice: the hub's lock already orders most submits); `close` takes the write lock, so
    /// every submit either lands before the close, and is flushed, or sees `None` and fails.
    queue: RwLock<Option<Sender<Outcome>>>,
    stats: Arc<CommitStats>,
}

/// Waits for the committer thread to finish: see [`CommitterJoin::join`].
#[derive(Debug)]
pub struct CommitterJoin {
    thread: JoinHandle<Result<(), HistoryError>>,
    stats: Arc<CommitStats>,
}

impl Committer {
    /// Spawns the `rustchat-history` thread, which owns `history` and `fanout` from now on.
    pub fn start(
        history: History,
        fanout: impl Fanout,
        config: CommitConfig,
    ) -> Result<(Committer, CommitterJoin), HistoryError> {
        let (queue, inbox) = mpsc::channel();
        let stats = Arc::new(CommitStats::default());
        let next_expiry = config.expiry.as_ref().map(|_| std::time::Instant::now());
        let writer = Writer {
            history,
            fanout,
            inbox,
            max_batch: config.max_batch.max(1),
            stats: Arc::clone(&stats),
            expiry: config.expiry,
            next_expiry,
        };
        let thread = std::thread::Builder::new()
            .name(THREAD_NAME.to_owned())
            .spawn(move || writer.run())
            .map_err(HistoryError::spawn)?;
        let join = CommitterJoin {
            thread,
            stats: Arc::clone(&stats),
        };
        let committer = Committer {
            queue: RwLock::new(Some(queue)),
            stats,
        };
        Ok((committer, join))
    }

    /// Queues an outcome: its record is committed, then it is delivered. Never blocks.
    pub fn submit(&self, outcome: Outcome) -> Result<(), Stopped> {
        let queue = self.queue.read().unwrap_or_else(PoisonError::into_inner);
        let Some(queue) = queue.as_ref() else {
            return Err(Stopped(Box::new(outcome)));
        };
        // Counted first, so that `queued` never sees a delivery before its submission.
        self.stats.submitted.fetch_add(1, Ordering::Relaxed);
        queue.send(outcome).map_err(|err| {
            self.stats.submitted.fetch_sub(1, Ordering::Relaxed);
            Stopped(Box::new(err.0))
        })
    }

    /// Closes the queue: later submits fail with [`Stopped`]; the thread commits and delivers
    /// everything submitted before, closes the history and ends (wait for it with
    /// [`CommitterJoin::join`]). Idempotent.
    pub fn close(&self) {
        let mut queue = self.queue.write().unwrap_or_else(PoisonError::into_inner);
        queue.take();
    }

    /// The live counters, for `/metrics`.
    pub fn stats(&self) -> Arc<CommitStats> {
        Arc::clone(&self.stats)
    }

    /// [`Committer::close`], for an owner that is done with the handle.
    pub fn shutdown(self) {
        self.close();
    }
}

impl CommitterJoin {
    /// Waits until the [`Committer`] is closed (or dropped), every outcome submitted through it
    /// is committed and delivered, and the database is checkpointed and closed; returns the final
    /// counters. (It waits forever if the `Committer` is never closed.)
    pub fn join(self) -> Result<CommitStatsSnapshot, HistoryError> {
        match self.thread.join() {
            Ok(Ok(())) => Ok(self.stats.snapshot()),
            Ok(Err(err)) => Err(err),
            Err(_) => Err(HistoryError::WriterPanicked),
        }
    }
}

/// The committer thread's state.
struct Writer<F> {
    history: History,
    fanout: F,
    inbox: Receiver<Outcome>,
    max_batch: usize,
    stats: Arc<CommitStats>,
    expiry: Option<Expiry>,
    /// When to look for expired messages next.
    next_expiry: Option<std::time::Instant>,
}

impl<F: Fanout> Writer<F> {
    /// Batches until the queue is closed and empty, then closes the history. Expiry, if on,
    /// runs between batches and while the queue is quiet.
    fn run(mut self) -> Result<(), HistoryError> {
        let mut batch = Vec::with_capacity(self.max_batch);
        loop {
            if self
                .next_expiry
                .is_some_and(|at| at <= std::time::Instant::now())
            {
                self.expire();
            }
            let first = match self.next_expiry {
                None => match self.inbox.recv() {
                    Ok(first) => first,
                    Err(_) => break,
                },
                Some(at) => {
                    let wait = at.saturating_duration_since(std::time::Instant::now());
                    match self.inbox.recv_timeout(wait) {
                        Ok(first) => first,
                        Err(mpsc::RecvTimeoutError::Timeout) => continue,
                        Err(mpsc::RecvTimeoutError::Disconnected) => break,
                    }
                }
            };
            batch.push(first);
            self.take_queued(&mut batch);
            self.commit(&batch);
            for outcome in batch.drain(..) {
                self.fanout.deliver(outcome);
                self.stats.delivered.fetch_add(1, Ordering::Relaxed);
            }
            self.fanout.end_batch();
        }
        self.history.close()
    }

    /// Adds what is already queued, without waiting, up to `max_batch`.
    fn take_queued(&self, batch: &mut Vec<Outcome>) {
        while batch.len() < self.max_batch {
            match self.inbox.try_recv() {
                Ok(outcome) => batch.push(outcome),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
    }

    /// Deletes one chunk of expired messages; looks again soon if the chunk was full (a
    /// backlog), else after `every`.
    fn expire(&mut self) {
        let Some(expiry) = &self.expiry else {
            return;
        };
        let max_age = u64::try_from(expiry.max_age.as_millis()).unwrap_or(u64::MAX);
        let cutoff = expiry.clock.wall_ms().saturating_sub(max_age);
        let every = expiry.every;
        let deleted = match self.history.expire_before(cutoff, EXPIRE_CHUNK) {
            Ok(deleted) => deleted,
            Err(err) => {
                tracing::error!(error = %error_chain(&err), "deleting expired history failed");
                0
            }
        };
        self.stats.expired.fetch_add(deleted, Ordering::Relaxed);
        let backlog = deleted == EXPIRE_CHUNK as u64;
        let pause = if backlog {
            std::time::Duration::from_millis(10)
        } else {
            every
        };
        self.next_expiry = Some(std::time::Instant::now() + pause);
    }

    /// Appends the batch's records in one transaction; a failure is logged and counted.
    fn commit(&mut self, batch: &[Outcome]) {
        if batch.iter().any(|outcome| !outcome.state.is_empty()) {
            let changes = batch.iter().flat_map(|outcome| &outcome.state);
            if let Err(err) = self.history.save_state(changes) {
                let errors = self.stats.errors.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::error!(
                    error = %error_chain(&err),
                    errors,
                    "saving room rules failed; they hold until a restart"
                );
            }
        }
        let records = batch.iter().filter_map(|outcome| outcome.record.as_ref());
        let count = records.clone().count() as u64;
        if count == 0 {
            return;
        }
        let appended = self.history.append_all(records);
        self.stats
            .cut
            .store(self.history.cut_so_far(), Ordering::Relaxed);
        match appended {
            Ok(()) => {
                self.stats.batches.fetch_add(1, Ordering::Relaxed);
                self.stats.appended.fetch_add(count, Ordering::Relaxed);
                self.stats.largest_batch.fetch_max(count, Ordering::Relaxed);
            }
            Err(err) => {
                let errors = self.stats.errors.fetch_add(1, Ordering::Relaxed) + 1;
                self.stats.lost.fetch_add(count, Ordering::Relaxed);
                tracing::error!(
                    error = %error_chain(&err),
                    errors,
                    "history commit failed; delivering {count} messages that will be missing \
                     from the history after a restart"
                );
            }
        }
    }
}

/// "outer: inner: innermost", for a log line.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
