//! Time, read in one place. Deadlines, keepalive, flood control and the slow-consumer grace run
//! on a monotonic clock (`Instant`): a wall-clock step (NTP, a suspended VM) moves none of them.
//! Wall-clock time is only for what people read: message timestamps.
//!
//! The sans-IO parts (sessions, the token bucket, the outbox) take `now` as an argument; the
//! [`Clock`] is what the server reads it from, so tests can drive time by hand
//! ([`ManualClock`]) and check keepalive or flood refills in milliseconds of test time.
//!
//! ```
//! use std::time::Duration;
//! use rustchat_server::clock::{Clock, ManualClock};
//!
//! let clock = ManualClock::new();
//! let start = clock.now();
//! clock.advance(Duration::from_secs(20));
//! assert_eq!(clock.now() - start, Duration::from_secs(20));
//! ```

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Where the server reads the time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Monotonic now: for deadlines and rates.
    fn now(&self) -> Instant;

    /// Unix time in milliseconds: for timestamps people read.
    fn wall_ms(&self) -> u64;
}

/// The system's clocks.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn wall_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }
}

/// A clock that moves only when told to: both of its readings advance together.
#[derive(Debug)]
pub struct ManualClock {
    start: Instant,
    wall_start_ms: u64,
    elapsed: Mutex<Duration>,
}

impl ManualClock {
    /// A clock at the system's current time, standing still.
    pub fn new() -> std::sync::Arc<Self> {
        std::sync::Arc::new(Self {
            start: Instant::now(),
            wall_start_ms: SystemClock.wall_ms(),
            elapsed: Mutex::new(Duration::ZERO),
        })
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        *self.elapsed.lock().unwrap_or_else(PoisonError::into_inner) += by;
    }

    fn elapsed(&self) -> Duration {
        *self.elapsed.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.start + self.elapsed()
    }

    fn wall_ms(&self) -> u64 {
        self.wall_start_ms + self.elapsed().as_millis() as u64
    }
}
