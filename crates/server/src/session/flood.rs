//! Flood control, the way IRC servers' "fake lag" works: a token bucket per connection, and a
//! bounded queue in front of it (monotonic time is passed in, no clock is read).
//!
//! Each line or frame costs one token; tokens refill at `rate` per second up to `burst`. A
//! line that finds the bucket empty is not refused: it waits in the connection's queue and is
//! handled when a token comes, so a pasted block of text arrives slowly and in order. While the
//! queue is full the server stops reading the connection (TCP holds the rest back). A client
//! that keeps the queue full for `patience` — sending faster than `rate`, for that long — is
//! told once, when the queue first fills, and disconnected at the end of it.

use std::time::{Duration, Instant};

/// Flood-control settings (`--rate-limit off` disables it, e.g. for benchmarks).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FloodConfig {
    /// Commands per second sustained.
    pub rate: f64,
    /// Commands handled at once before the rate applies.
    pub burst: f64,
    /// Commands that may wait for a token; past them the connection is not read.
    pub queue: usize,
    /// How long the queue may stay full before the client is disconnected.
    pub patience: Duration,
}

impl Default for FloodConfig {
    /// 10 commands/s with bursts of 20, and 20 more waiting: a paste of 40 lines is all taken
    /// at once and handled within 2 s; a person typing never meets the limit. A client must
    /// send faster than 10 a second for 10 s on end to be disconnected.
    fn default() -> Self {
        Self {
            rate: 10.0,
            burst: 20.0,
            queue: 20,
            patience: Duration::from_secs(10),
        }
    }
}

/// One connection's bucket.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    config: FloodConfig,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket at time `now`.
    pub fn new(config: FloodConfig, now: Instant) -> Self {
        Self {
            config,
            tokens: config.burst,
            last: now,
        }
    }

    /// The settings.
    pub fn config(&self) -> &FloodConfig {
        &self.config
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now.max(self.last);
        self.tokens = (self.tokens + elapsed * self.config.rate).min(self.config.burst);
    }

    /// Spends a token at `now`, if there is one.
    pub fn take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// When the next token comes (as of the last [`take`](Self::take); then if one was left).
    pub fn next_token(&self) -> Instant {
        if self.tokens >= 1.0 || self.config.rate <= 0.0 {
            return self.last;
        }
        let wait = (1.0 - self.tokens) / self.config.rate;
        // A little late rather than early, so that a wake-up at this time finds the token.
        self.last + Duration::from_secs_f64(wait) + Duration::from_micros(500)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Milliseconds after a fixed start, as the monotonic clock would say.
    fn at(ms: u64) -> Instant {
        static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        *START.get_or_init(Instant::now) + Duration::from_millis(ms)
    }

    fn bucket() -> TokenBucket {
        TokenBucket::new(
            FloodConfig {
                rate: 2.0,
                burst: 3.0,
                ..FloodConfig::default()
            },
            at(0),
        )
    }

    #[test]
    fn a_burst_then_one_token_per_interval() {
        let mut b = bucket();
        for _ in 0..3 {
            assert!(b.take(at(0)), "within the burst");
        }
        assert!(!b.take(at(0)), "empty");
        let next = b.next_token();
        assert!(next >= at(500) && next < at(502), "{:?}", next - at(0));
        assert!(!b.take(at(499)));
        assert!(b.take(next), "the token comes when said");
        assert!(b.take(at(10_000)), "refilled");
        assert!(b.take(at(10_000)));
        assert!(b.take(at(10_000)));
        assert!(!b.take(at(10_000)), "capped at the burst");
    }

    #[test]
    fn a_clock_going_backwards_is_harmless() {
        let mut b = bucket();
        assert!(b.take(at(1000)));
        assert!(b.take(at(10)));
        assert!(b.next_token() <= at(1000), "a token is left: now");
    }
}
