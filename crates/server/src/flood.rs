//! Flood control: a token bucket per connection (time is passed in, no clock is read).
//!
//! Each command costs one token; tokens refill at `rate` per second up to `burst`. A command
//! that finds the bucket empty is refused with a warning; a client that keeps going after
//! `strikes` refusals in a row is disconnected.

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
    last_ms: u64,
    strikes: u32,
}

impl TokenBucket {
    /// A full bucket at time `now_ms`.
    pub fn new(config: FloodConfig, now_ms: u64) -> Self {
        Self {
            config,
            tokens: config.burst,
            last_ms: now_ms,
            strikes: 0,
        }
    }

    /// Spends a token for a command at `now_ms`.
    pub fn check(&mut self, now_ms: u64) -> Verdict {
        let elapsed = now_ms.saturating_sub(self.last_ms) as f64 / 1000.0;
        self.last_ms = now_ms.max(self.last_ms);
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

    fn bucket() -> TokenBucket {
        TokenBucket::new(
            FloodConfig {
                rate: 2.0,
                burst: 3.0,
                strikes: 2,
            },
            0,
        )
    }

    #[test]
    fn burst_then_warn_then_disconnect() {
        let mut b = bucket();
        for _ in 0..3 {
            assert_eq!(b.check(0), Verdict::Allow, "within the burst");
        }
        assert_eq!(b.check(0), Verdict::Warn);
        assert_eq!(b.check(0), Verdict::Warn, "at the strike limit");
        assert_eq!(b.check(0), Verdict::Disconnect, "past it");
    }

    #[test]
    fn refills_at_the_rate() {
        let mut b = bucket();
        for _ in 0..3 {
            b.check(0);
        }
        assert_eq!(b.check(0), Verdict::Warn);
        assert_eq!(
            b.check(500),
            Verdict::Allow,
            "half a second at 2/s gives one token"
        );
        assert_eq!(b.check(500), Verdict::Warn);
        assert_eq!(
            b.check(10_000),
            Verdict::Allow,
            "refilled, capped at the burst"
        );
    }

    #[test]
    fn a_clock_going_backwards_is_harmless() {
        let mut b = bucket();
        assert_eq!(b.check(1000), Verdict::Allow);
        assert_eq!(b.check(10), Verdict::Allow);
    }
}
