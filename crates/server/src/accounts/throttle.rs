//! `Throttle`: how many failures a key (an account, an address) may have before it must wait,
//! and for how long.
//!
//! The rule: [`ThrottleRule::free`] failures within [`ThrottleRule::window`] cost nothing; the
//! failure that reaches the limit locks the key for `lockout`, and each further one (made after
//! the lock ended, since a locked key is refused without trying) doubles it, up to `max_lockout`.
//! A quiet `max_lockout` after the last failure (or after the lock, if it ends later), or a
//! success, forgets the key. The table is
//! bounded: past [`MAX_KEYS`] keys, the ones with the oldest last failure are dropped first.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// Most keys one throttle remembers.
pub const MAX_KEYS: usize = 65_536;

/// Limits of one throttle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleRule {
    /// Failures allowed within `window` before the first lock.
    pub free: u32,
    /// The window those failures are counted in.
    pub window: Duration,
    /// The first lock.
    pub lockout: Duration,
    /// The longest lock.
    pub max_lockout: Duration,
}

impl ThrottleRule {
    /// Sign-ins: 5 failures a minute, then 1 minute, 2, 4… up to an hour.
    pub const SIGN_IN: Self = Self {
        free: 5,
        window: Duration::from_secs(60),
        lockout: Duration::from_secs(60),
        max_lockout: Duration::from_secs(3600),
    };
}

#[derive(Debug, Clone, Copy)]
struct Record {
    /// Failures counted so far (in the window, or since the first lock).
    failures: u32,
    /// When the counting window began.
    since: Instant,
    /// The last failure.
    last: Instant,
    /// Locked until then.
    until: Option<Instant>,
}

/// Failures per key. See the module docs.
#[derive(Debug)]
pub struct Throttle<K> {
    rule: ThrottleRule,
    records: HashMap<K, Record>,
}

impl<K: Eq + Hash + Clone> Throttle<K> {
    /// An empty throttle keeping `rule`.
    pub fn new(rule: ThrottleRule) -> Self {
        Self {
            rule,
            records: HashMap::new(),
        }
    }

    /// `Err(wait)` while `key` is locked: how long until it may try again.
    pub fn check(&self, key: &K, now: Instant) -> Result<(), Duration> {
        match self.records.get(key).and_then(|r| r.until) {
            Some(until) if until > now => Err(until - now),
            _ => Ok(()),
        }
    }

    /// A failure for `key`; returns the lock it now has, if any.
    pub fn failed(&mut self, key: &K, now: Instant) -> Option<Duration> {
        let rule = self.rule;
        if !self.records.contains_key(key) && self.records.len() >= MAX_KEYS {
            self.forget_oldest(now);
        }
        let record = self.records.entry(key.clone()).or_insert(Record {
            failures: 0,
            since: now,
            last: now,
            until: None,
        });
        // Quiet for `max_lockout` since its last failure or the end of its lock, if later.
        let quiet_since = record
            .until
            .map_or(record.last, |until| until.max(record.last));
        let quiet = now.saturating_duration_since(quiet_since) >= rule.max_lockout;
        let window_over = now.saturating_duration_since(record.since) >= rule.window;
        if quiet || (window_over && record.failures < rule.free) {
            *record = Record {
                failures: 0,
                since: now,
                last: now,
                until: None,
            };
        }
        record.failures += 1;
        record.last = now;
        if record.failures < rule.free {
            return None;
        }
        let doublings = (record.failures - rule.free).min(16);
        let lock = rule
            .lockout
            .saturating_mul(1 << doublings)
            .min(rule.max_lockout);
        record.until = Some(now + lock);
        Some(lock)
    }

    /// A success for `key`: its failures are forgotten.
    pub fn succeeded(&mut self, key: &K) {
        self.records.remove(key);
    }

    /// Keys remembered now.
    pub fn remembered(&self) -> usize {
        self.records.len()
    }

    /// Makes room: drops every key quiet for `max_lockout`, and if none is, the oldest tenth.
    fn forget_oldest(&mut self, now: Instant) {
        let quiet = self.rule.max_lockout;
        self.records
            .retain(|_, r| now.saturating_duration_since(r.last) < quiet);
        if self.records.len() < MAX_KEYS {
            return;
        }
        let mut lasts: Vec<Instant> = self.records.values().map(|r| r.last).collect();
        lasts.sort_unstable();
        let cut = lasts[lasts.len() / 10];
        self.records.retain(|_, r| r.last > cut);
    }
}

/// "42 s", "3 min", "1 h 5 min": a wait as people read it (rounded up to the second).
pub fn wait_text(wait: Duration) -> String {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min {} s", secs / 60, secs % 60),
        _ => format!("{} h {} min", secs / 3600, secs / 60 % 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: ThrottleRule = ThrottleRule::SIGN_IN;

    #[test]
    fn five_failures_a_minute_are_free_then_the_lock_doubles() {
        let start = Instant::now();
        let mut throttle = Throttle::new(RULE);
        for i in 0..4 {
            let now = start + Duration::from_secs(i);
            assert_eq!(throttle.check(&"alice", now), Ok(()));
            assert_eq!(throttle.failed(&"alice", now), None, "failure {}", i + 1);
        }
        let fifth = start + Duration::from_secs(4);
        assert_eq!(
            throttle.failed(&"alice", fifth),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            throttle.check(&"alice", fifth + Duration::from_secs(18)),
            Err(Duration::from_secs(42))
        );
        assert_eq!(throttle.check(&"bob", fifth), Ok(()), "keys are apart");
        let after = fifth + Duration::from_secs(60);
        assert_eq!(throttle.check(&"alice", after), Ok(()));
        assert_eq!(
            throttle.failed(&"alice", after),
            Some(Duration::from_secs(120))
        );
        let later = after + Duration::from_secs(120);
        assert_eq!(
            throttle.failed(&"alice", later),
            Some(Duration::from_secs(240))
        );
        throttle.succeeded(&"alice");
        assert_eq!(throttle.check(&"alice", later), Ok(()));
        assert_eq!(throttle.failed(&"alice", later), None, "a success forgets");
    }

    #[test]
    fn slow_failures_never_lock_and_the_lock_is_capped() {
        let start = Instant::now();
        let mut throttle = Throttle::new(RULE);
        for i in 0..20 {
            // One failure every 15 s: 4 per window.
            let now = start + Duration::from_secs(15 * i);
            assert_eq!(throttle.failed(&1, now), None, "failure {i}");
        }
        let mut now = start + Duration::from_secs(10_000);
        let mut last = Duration::ZERO;
        for _ in 0..30 {
            if let Some(lock) = throttle.failed(&2, now) {
                last = lock;
                now += lock;
            }
        }
        assert_eq!(last, RULE.max_lockout);
    }

    #[test]
    fn the_table_is_bounded() {
        let now = Instant::now();
        let mut throttle = Throttle::new(RULE);
        for key in 0..MAX_KEYS + 10 {
            throttle.failed(&key, now);
        }
        assert!(
            throttle.remembered() <= MAX_KEYS,
            "{}",
            throttle.remembered()
        );
    }

    #[test]
    fn waits_read_as_people_read_them() {
        assert_eq!(wait_text(Duration::from_millis(41_200)), "42 s");
        assert_eq!(wait_text(Duration::from_secs(125)), "2 min 5 s");
        assert_eq!(wait_text(Duration::from_secs(3900)), "1 h 5 min");
    }
}
