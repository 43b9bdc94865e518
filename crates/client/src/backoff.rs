//! Reconnect delays: exponential backoff, capped, with jitter.
//!
//! 0.5 s, 1 s, 2 s, 4 s, 8 s, then 10 s for ever, each ±20%, so that many clients that lost
//! the same server do not all knock again at the same instant. The random part is passed in
//! (a number in `[0, 1)`), which keeps this a pure function of its inputs and testable.
//!
//! ```
//! use std::time::Duration;
//! use rustchat_client::Backoff;
//! let mut backoff = Backoff::default();
//! assert_eq!(backoff.next_delay(0.5), Duration::from_millis(500)); // 0.5: no jitter
//! assert_eq!(backoff.next_delay(0.5), Duration::from_secs(1));
//! backoff.reset();
//! assert_eq!(backoff.next_delay(0.0), Duration::from_millis(400)); // -20%
//! ```

use std::time::Duration;

/// Exponential backoff state.
#[derive(Debug, Clone)]
pub struct Backoff {
    /// The first delay.
    pub initial: Duration,
    /// No delay (before jitter) is longer.
    pub max: Duration,
    /// Each delay is moved by up to this fraction either way.
    pub jitter: f64,
    /// Failures since the last success.
    attempts: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(10),
            jitter: 0.2,
            attempts: 0,
        }
    }
}

impl Backoff {
    /// The delay before the next attempt; `unit` is a random number in `[0, 1)`.
    pub fn next_delay(&mut self, unit: f64) -> Duration {
        let doublings = self.attempts.min(16);
        self.attempts = self.attempts.saturating_add(1);
        let base = self.initial.saturating_mul(1 << doublings).min(self.max);
        let factor = 1.0 + self.jitter * (unit.clamp(0.0, 1.0) * 2.0 - 1.0);
        base.mul_f64(factor)
    }

    /// How many attempts failed since the last success.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// A connection succeeded: start again from the first delay.
    pub fn reset(&mut self) {
        self.attempts = 0;
    }
}

/// A random number in `[0, 1)` from the operating system (0.5, no jitter, if it fails).
pub fn random_unit() -> f64 {
    getrandom::u64().map_or(0.5, |n| (n >> 11) as f64 / (1u64 << 53) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_half_a_second_to_the_cap() {
        let mut backoff = Backoff::default();
        let delays: Vec<_> = (0..8)
            .map(|_| backoff.next_delay(0.5).as_millis())
            .collect();
        assert_eq!(
            delays,
            [500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]
        );
        assert_eq!(backoff.attempts(), 8);
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        for attempt in 0..40 {
            for unit in [0.0, 0.1, 0.5, 0.99, 1.0, -3.0, 7.0, random_unit()] {
                let mut backoff = Backoff::default();
                let mut base = Backoff::default();
                for _ in 0..attempt {
                    backoff.next_delay(0.5);
                    base.next_delay(0.5);
                }
                let delay = backoff.next_delay(unit).as_secs_f64();
                let middle = base.next_delay(0.5).as_secs_f64();
                assert!(delay >= middle * 0.8 - 1e-9 && delay <= middle * 1.2 + 1e-9);
                assert!((0.4..=12.0).contains(&delay), "{delay}");
            }
        }
    }

    #[test]
    fn reset_starts_over_and_many_failures_do_not_overflow() {
        let mut backoff = Backoff::default();
        for _ in 0..100_000 {
            backoff.next_delay(1.0);
        }
        assert_eq!(backoff.next_delay(1.0), Duration::from_secs(12));
        backoff.reset();
        assert_eq!(backoff.next_delay(1.0), Duration::from_millis(600));
    }

    #[test]
    fn random_units_are_in_range() {
        for _ in 0..1000 {
            let unit = random_unit();
            assert!((0.0..1.0).contains(&unit), "{unit}");
        }
    }
}
