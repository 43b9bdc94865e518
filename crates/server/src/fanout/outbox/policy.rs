//! The slow-consumer policy: how far behind, and for how long, a receiver may fall.

use std::time::Duration;

/// When a receiver counts as a slow consumer (see the module's documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlowPolicy {
    /// Bytes a receiver may have queued for longer than `grace` (`--outbox-limit`).
    pub limit: usize,
    /// Bytes a receiver may never have queued, not even for a moment.
    pub hard_limit: usize,
    /// How long a receiver may stay over `limit` before it is dropped.
    pub grace: Duration,
}

impl SlowPolicy {
    /// How many times `limit` the hard limit is.
    pub const HARD_FACTOR: usize = 4;

    /// `limit` for `grace`, and [`SlowPolicy::HARD_FACTOR`] times `limit` at any moment.
    pub fn new(limit: usize, grace: Duration) -> Self {
        Self {
            limit,
            hard_limit: limit.saturating_mul(Self::HARD_FACTOR),
            grace,
        }
    }
}
