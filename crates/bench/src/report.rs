//! Results: one [`Sample`] per run of a server, the median per server, and the ratio to the
//! first server measured in the same runs.

use serde::Serialize;

use crate::measure::{Tally, Window};
use crate::stats::{LatencySummary, median, median_opt};

/// A generator busier than this (of its one core) was probably the bottleneck.
pub const GENERATOR_BUSY: f64 = 0.9;

/// What one run of one server measured. "Op" is the scenario's unit: a connection
/// (handshake, idle), a delivered message (broadcast) or an echoed message (echo).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Sample {
    /// Operations completed in the window.
    pub ops: u64,
    /// The window, in seconds.
    pub seconds: f64,
    /// Operations per second.
    pub ops_per_s: f64,
    /// Latency of the operations (broadcast: send to receipt; echo: round trip; handshake:
    /// connect to `HELLO X+1`; idle: connect to joined).
    pub latency: LatencySummary,
    /// Server CPU seconds (user + system) in the window.
    pub server_cpu_s: Option<f64>,
    /// Server CPU in the window, in % of one core.
    pub server_cpu_percent: Option<f64>,
    /// Server resident memory at the end of the window.
    pub server_rss_bytes: Option<u64>,
    /// Server CPU time per operation, in microseconds.
    pub server_cpu_per_op_us: Option<f64>,
    /// Operations per server CPU-second.
    pub ops_per_server_cpu_s: Option<f64>,
    /// The generator thread's CPU in the window, in % of one core.
    pub generator_cpu_percent: f64,
    /// Failures (connections refused or dropped, bad answers).
    pub errors: u64,
    /// Messages sent in the window (broadcast).
    pub sent: u64,
    /// Connections held (idle).
    pub connections: u64,
    /// Server RSS before the connections were opened (idle).
    pub rss_before_bytes: Option<u64>,
    /// Server RSS added per held connection (idle).
    pub rss_per_connection_bytes: Option<f64>,
    /// Server CPU spent setting one connection up — connect, TLS handshake (`--tls`),
    /// WebSocket upgrade and, on a chat server, joining a room — in microseconds (idle).
    pub setup_cpu_per_connection_us: Option<f64>,
    /// The first error, if any.
    pub first_error: Option<String>,
}

impl Sample {
    /// A sample from a window and what the clients counted in it.
    pub fn new(tally: &Tally, window: &Window) -> Self {
        let ops = tally.ops.get();
        let per_op = |cpu: f64| (ops > 0).then(|| cpu * 1e6 / ops as f64);
        let per_cpu = |cpu: f64| (cpu > 0.0).then(|| ops as f64 / cpu);
        Self {
            ops,
            seconds: window.seconds,
            ops_per_s: ops as f64 / window.seconds.max(1e-9),
            latency: tally.latency.borrow().summary(),
            server_cpu_s: window.server_cpu_s,
            server_cpu_percent: window
                .server_cpu_s
                .map(|cpu| 100.0 * cpu / window.seconds.max(1e-9)),
            server_rss_bytes: window.server_rss,
            server_cpu_per_op_us: window.server_cpu_s.and_then(per_op),
            ops_per_server_cpu_s: window.server_cpu_s.and_then(per_cpu),
            generator_cpu_percent: 100.0 * window.generator_cpu,
            errors: tally.errors.get(),
            sent: tally.sent.get(),
            first_error: tally.first_error.borrow().clone(),
            ..Self::default()
        }
    }

    /// The median of every field over several runs.
    pub fn median_of(runs: &[Sample]) -> Sample {
        let m = |f: fn(&Sample) -> f64| median(runs.iter().map(f)).unwrap_or(0.0);
        let mo = |f: fn(&Sample) -> Option<f64>| median_opt(runs.iter().map(f));
        let latencies: Vec<LatencySummary> = runs.iter().map(|r| r.latency).collect();
        Sample {
            ops: m(|r| r.ops as f64) as u64,
            seconds: m(|r| r.seconds),
            ops_per_s: m(|r| r.ops_per_s),
            latency: LatencySummary::median_of(&latencies),
            server_cpu_s: mo(|r| r.server_cpu_s),
            server_cpu_percent: mo(|r| r.server_cpu_percent),
            server_rss_bytes: mo(|r| r.server_rss_bytes.map(|b| b as f64)).map(|b| b as u64),
            server_cpu_per_op_us: mo(|r| r.server_cpu_per_op_us),
            ops_per_server_cpu_s: mo(|r| r.ops_per_server_cpu_s),
            generator_cpu_percent: m(|r| r.generator_cpu_percent),
            errors: m(|r| r.errors as f64) as u64,
            sent: m(|r| r.sent as f64) as u64,
            connections: m(|r| r.connections as f64) as u64,
            rss_before_bytes: mo(|r| r.rss_before_bytes.map(|b| b as f64)).map(|b| b as u64),
            rss_per_connection_bytes: mo(|r| r.rss_per_connection_bytes),
            setup_cpu_per_connection_us: mo(|r| r.setup_cpu_per_connection_us),
            first_error: runs.iter().find_map(|r| r.first_error.clone()),
        }
    }

    /// The figure servers are compared by: operations per server CPU-second (more is
    /// better), or for `idle` the memory per connection (less is better).
    pub fn merit(&self, scenario: &str) -> Option<f64> {
        match scenario {
            "idle" => self.rss_per_connection_bytes,
            _ => self.ops_per_server_cpu_s,
        }
    }
}

/// Everything measured about one server.
#[derive(Debug, Clone, Serialize)]
pub struct SubjectReport {
    /// The server: a model (`async`), a peer (`tokio-tungstenite`) or `target ADDR`.
    pub name: String,
    /// The median over the runs that succeeded.
    pub median: Option<Sample>,
    /// Every run that succeeded, in order.
    pub runs: Vec<Sample>,
    /// Why runs failed.
    pub failures: Vec<String>,
    /// This server's figure of merit divided by the first server's, run by run (each ratio
    /// from one run, where both were measured back to back), then the median.
    pub ratio_to_first: Option<f64>,
}

/// The whole result of `rustchat bench SCENARIO`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `handshake`, `broadcast`, `echo` or `idle`.
    pub scenario: &'static str,
    /// What an operation is here.
    pub op: &'static str,
    /// The scenario's settings.
    pub params: serde_json::Value,
    /// One entry per server, in the order measured.
    pub subjects: Vec<SubjectReport>,
    /// Things the reader must know (a busy generator, errors).
    pub warnings: Vec<String>,
}

impl Report {
    /// Builds the report from each server's runs (`None`: that run failed, with a reason).
    pub fn new(
        scenario: &'static str,
        params: serde_json::Value,
        results: Vec<(String, Vec<Result<Sample, String>>)>,
    ) -> Self {
        let first_merits: Vec<Option<f64>> = results
            .first()
            .map(|(_, runs)| runs.iter().map(|r| merit(r, scenario)).collect())
            .unwrap_or_default();
        let subjects = results
            .into_iter()
            .map(|(name, runs)| {
                let ratios = runs.iter().zip(&first_merits).map(|(run, first)| {
                    let (mine, first) = (merit(run, scenario)?, (*first)?);
                    (first > 0.0).then(|| mine / first)
                });
                let ratio_to_first = median_opt(ratios.collect::<Vec<_>>());
                let (ok, failed): (Vec<_>, Vec<_>) = runs.into_iter().partition(Result::is_ok);
                let runs: Vec<Sample> = ok.into_iter().flatten().collect();
                SubjectReport {
                    name,
                    median: (!runs.is_empty()).then(|| Sample::median_of(&runs)),
                    runs,
                    failures: failed.into_iter().filter_map(Result::err).collect(),
                    ratio_to_first,
                }
            })
            .collect::<Vec<_>>();
        let warnings = warnings(&subjects);
        Self {
            scenario,
            op: op_name(scenario),
            params,
            subjects,
            warnings,
        }
    }

    /// Servers whose runs had errors (refused messages, lost connections), with the median
    /// count and the first error: their figures count only what got through.
    pub fn with_errors(&self) -> Vec<(&str, u64, &str)> {
        self.subjects
            .iter()
            .filter_map(|s| {
                let m = s.median.as_ref()?;
                (m.errors > 0).then(|| {
                    (
                        s.name.as_str(),
                        m.errors,
                        m.first_error.as_deref().unwrap_or("?"),
                    )
                })
            })
            .collect()
    }

    /// Whether every server was measured in every run, with a non-zero figure.
    pub fn all_ran(&self) -> bool {
        self.subjects
            .iter()
            .all(|s| s.failures.is_empty() && s.median.as_ref().is_some_and(|m| m.ops > 0))
    }
}

fn merit(run: &Result<Sample, String>, scenario: &str) -> Option<f64> {
    run.as_ref().ok()?.merit(scenario)
}

/// The unit of a scenario's operations.
pub fn op_name(scenario: &str) -> &'static str {
    match scenario {
        "handshake" => "connections",
        "broadcast" => "deliveries",
        "echo" => "messages",
        _ => "connections",
    }
}

fn warnings(subjects: &[SubjectReport]) -> Vec<String> {
    let mut out = Vec::new();
    for s in subjects {
        let Some(m) = &s.median else { continue };
        if m.generator_cpu_percent >= GENERATOR_BUSY * 100.0 {
            out.push(format!(
                "{}: the load generator used {:.0}% of its core: it may have been the \
                 bottleneck, so throughput is a lower bound (CPU per op is still valid)",
                s.name, m.generator_cpu_percent
            ));
        }
        if m.errors > 0 {
            out.push(format!(
                "{}: {} errors per run (median); first: {}",
                s.name,
                m.errors,
                m.first_error.as_deref().unwrap_or("?")
            ));
        }
        if m.server_cpu_s.is_none() {
            out.push(format!(
                "{}: the server's CPU and memory are unknown (pass --server-pid)",
                s.name
            ));
        }
    }
    out
}
