//! The measured window: what the clients count, and what the server and the generator cost
//! meanwhile.
//!
//! All client tasks of a run share one [`Tally`] on the generator's single thread, so counting
//! is a `Cell` increment. Counting happens only while [`Tally::measuring`] is set: warm-up
//! traffic flows but is not counted. Around the window the bench reads the server's CPU time
//! (`/proc/PID/stat`, all its threads) and its RSS, and the generator thread's own CPU time: a
//! generator near 100% of its core is the bottleneck, and the report says so.

use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant};

use crate::procfs::{self, CpuTimes};
use crate::stats::Latency;

/// The bench's clock: nanoseconds since the run started (monotonic).
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    base: Instant,
}

impl Default for Clock {
    fn default() -> Self {
        Self {
            base: Instant::now(),
        }
    }
}

impl Clock {
    /// Nanoseconds since the clock was made.
    pub fn now_ns(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64
    }
}

/// What the clients of one run count.
#[derive(Debug, Default)]
pub struct Tally {
    /// Counting is on.
    pub measuring: Cell<bool>,
    /// The run is over: tasks should stop.
    pub stopping: Cell<bool>,
    /// Operations completed while measuring (connections, deliveries, echoes).
    pub ops: Cell<u64>,
    /// Messages sent while measuring (broadcast).
    pub sent: Cell<u64>,
    /// Failures (any time).
    pub errors: Cell<u64>,
    /// Clients ready (set up).
    pub ready: Cell<usize>,
    /// Latencies while measuring.
    pub latency: RefCell<Latency>,
    /// The first failure, to show.
    pub first_error: RefCell<Option<String>>,
}

impl Tally {
    /// Counts one operation and its latency, if measuring.
    pub fn op(&self, latency_ns: u64) {
        if self.measuring.get() {
            self.ops.set(self.ops.get() + 1);
            self.latency.borrow_mut().record_ns(latency_ns);
        }
    }

    /// Counts one failure and keeps the first message.
    pub fn error(&self, error: impl std::fmt::Display) {
        self.errors.set(self.errors.get() + 1);
        let mut first = self.first_error.borrow_mut();
        if first.is_none() {
            *first = Some(error.to_string());
        }
    }
}

/// What a window cost.
#[derive(Debug, Clone, Copy, Default)]
pub struct Window {
    /// Its length.
    pub seconds: f64,
    /// The server's CPU time (user + system) during it.
    pub server_cpu_s: Option<f64>,
    /// The server's RSS at its end.
    pub server_rss: Option<u64>,
    /// The generator thread's CPU time during it, as a fraction of the window.
    pub generator_cpu: f64,
}

/// A CPU reading of the server and of the generator thread.
#[derive(Debug, Clone, Copy)]
struct Reading {
    at: Instant,
    server: Option<CpuTimes>,
    generator: CpuTimes,
}

fn read(pid: Option<u32>) -> Reading {
    Reading {
        at: Instant::now(),
        server: pid.and_then(|p| procfs::cpu_times(p).ok()),
        generator: procfs::thread_cpu_times().unwrap_or_default(),
    }
}

/// Lets traffic warm up, then counts for `duration`; call from the generator's thread.
pub async fn measure(
    tally: &Tally,
    pid: Option<u32>,
    warmup: Duration,
    duration: Duration,
) -> Window {
    tokio::time::sleep(warmup).await;
    tally.latency.borrow_mut().reset();
    let before = read(pid);
    tally.measuring.set(true);
    tokio::time::sleep(duration).await;
    tally.measuring.set(false);
    let after = read(pid);
    let seconds = after.at.duration_since(before.at).as_secs_f64();
    Window {
        seconds,
        server_cpu_s: match (before.server, after.server) {
            (Some(b), Some(a)) => Some(a.since(&b)),
            _ => None,
        },
        server_rss: pid.and_then(|p| procfs::rss_bytes(p).ok()),
        generator_cpu: after.generator.since(&before.generator) / seconds.max(1e-9),
    }
}
