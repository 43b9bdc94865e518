//! Statistics: latency in an HDR histogram, and medians over repeated runs.

use hdrhistogram::Histogram;
use serde::Serialize;

/// Highest latency kept apart from the others: one minute, in nanoseconds.
const MAX_NS: u64 = 60_000_000_000;

/// Latencies in nanoseconds, 3 significant digits (0.1% error) from 1 ns to a minute.
/// Recording is a few arithmetic operations and no allocation.
#[derive(Debug, Clone)]
pub struct Latency {
    histogram: Histogram<u64>,
}

impl Default for Latency {
    fn default() -> Self {
        Self::new()
    }
}

impl Latency {
    /// An empty histogram.
    pub fn new() -> Self {
        let histogram = Histogram::new_with_bounds(1, MAX_NS, 3)
            .unwrap_or_else(|_| Histogram::new(3).expect("3 significant digits are valid"));
        Self { histogram }
    }

    /// Records one latency (values past a minute count as a minute).
    pub fn record_ns(&mut self, ns: u64) {
        self.histogram.saturating_record(ns.clamp(1, MAX_NS));
    }

    /// Forgets everything recorded.
    pub fn reset(&mut self) {
        self.histogram.reset();
    }

    /// How many latencies were recorded.
    pub fn count(&self) -> u64 {
        self.histogram.len()
    }

    /// Percentiles in microseconds.
    pub fn summary(&self) -> LatencySummary {
        let h = &self.histogram;
        if h.is_empty() {
            return LatencySummary::default();
        }
        let us = |ns: u64| ns as f64 / 1000.0;
        LatencySummary {
            count: h.len(),
            p50_us: us(h.value_at_quantile(0.50)),
            p90_us: us(h.value_at_quantile(0.90)),
            p99_us: us(h.value_at_quantile(0.99)),
            max_us: us(h.max()),
            mean_us: h.mean() / 1000.0,
        }
    }
}

/// A latency distribution in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    /// Latencies recorded.
    pub count: u64,
    /// Median.
    pub p50_us: f64,
    /// 90th percentile.
    pub p90_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// Largest.
    pub max_us: f64,
    /// Mean.
    pub mean_us: f64,
}

impl LatencySummary {
    /// The median of each field over several runs.
    pub fn median_of(runs: &[LatencySummary]) -> LatencySummary {
        let m = |f: fn(&LatencySummary) -> f64| median(runs.iter().map(f)).unwrap_or(0.0);
        LatencySummary {
            count: m(|r| r.count as f64) as u64,
            p50_us: m(|r| r.p50_us),
            p90_us: m(|r| r.p90_us),
            p99_us: m(|r| r.p99_us),
            max_us: m(|r| r.max_us),
            mean_us: m(|r| r.mean_us),
        }
    }
}

/// The median of some numbers (the mean of the middle two for an even count); `None` if
/// there are none. NaNs are ignored.
pub fn median(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let mut v: Vec<f64> = values.into_iter().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    })
}

/// The median of optional numbers: `None` when no run has one.
pub fn median_opt(values: impl IntoIterator<Item = Option<f64>>) -> Option<f64> {
    median(values.into_iter().flatten())
}
