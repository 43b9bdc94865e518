//! Flood control: a token bucket per connection (monotonic time is passed in, no clock is read).
//!
//! Each line or frame costs one token; tokens refill at `rate` per second up to `burst`. A command
//! that finds the bucket empty is refused with a warning; a client that keeps going after
//! `strikes` refusals in a row is disconnected.

use std::time::Instant;

/// Flood-control settings (`--rate-limit off` disables it, e.g. for benchmarks).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FloodConfig {
    /// Commands per second sustained.
    pub rate: f64,
    /// Commands allowed in a burst.
    pub burst: f64,
    /// Refused commands in a row before the client is disconnected.
    pub strikes: u32,
}

impl Default for FloodConfig {
    /// 10 commands/s with bursts of 20: far above a person typing or pasting a few lines,
    /// far below what a runaway script sends.
    fn default() -> Self {
        Self {
            rate: 10.0,
            burst: 20.0,
            strikes: 20,
        }
    }
}

/// What the bucket says about one command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Go ahead.
    Allow,
    /// Refuse this command and warn the client.
    Warn,
    /// Disconnect the client.
    Disconnect,
}

/// One connection's bucket.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    config: FloodConfig,
    tokens: f64,
    last: Instant,
    strikes: u32,
}

impl TokenBucket {
    /// A full bucket at time `now`.
    pub fn new(config: FloodConfig, now: Instant) -> Self {
        Self {
            config,
            tokens: config.burst,
            last: now,
            strikes: 0,
        }
    }

    /// Spends a token for a line or frame at `now`.
    pub fn check(&mut self, now: Instant) -> Verdict {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now.max(self.last);
        self.tokens = (self.tokens + elapsed * self.config.rate).min(self.config.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            self.strikes = 0;
            return Verdict::Allow;
        }
        self.strikes += 1;
        if self.strikes > self.config.strikes {
            Verdict::Disconnect
        } else {
            Verdict::Warn
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
                strikes: 2,
            },
            at(0),
        )
    }

    #[test]
    fn burst_then_warn_then_disconnect() {
        let mut b = bucket();
        for _ in 0..3 {
            assert_eq!(b.check(at(0)), Verdict::Allow, "within the burst");
        }
        assert_eq!(b.check(at(0)), Verdict::Warn);
        assert_eq!(b.check(at(0)), Verdict::Warn, "at the strike limit");
        assert_eq!(b.check(at(0)), Verdict::Disconnect, "past it");
    }

    #[test]
    fn refills_at_the_rate() {
        let mut b = bucket();
        for _ in 0..3 {
            b.check(at(0));
        }
        assert_eq!(b.check(at(0)), Verdict::Warn);
        assert_eq!(
            b.check(at(500)),
            Verdict::Allow,
            "half a second at 2/s gives one token"
        );
        assert_eq!(b.check(at(500)), Verdict::Warn);
        assert_eq!(
            b.check(at(10_000)),
            Verdict::Allow,
            "refilled, capped at the burst"
        );
    }

    #[test]
    fn a_clock_going_backwards_is_harmless() {
        let mut b = bucket();
        assert_eq!(b.check(at(1000)), Verdict::Allow);
        assert_eq!(b.check(at(10)), Verdict::Allow);
    }
}
