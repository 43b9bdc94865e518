//! Counters for `GET /metrics`, in the Prometheus text exposition format.
//!
//! Plain relaxed atomics: each is a statistic, not a synchronisation point.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A counter or gauge and its help text.
#[derive(Debug)]
struct Metric {
    name: &'static str,
    help: &'static str,
    gauge: bool,
    value: AtomicU64,
}

impl Metric {
    const fn counter(name: &'static str, help: &'static str) -> Self {
        Self {
            name,
            help,
            gauge: false,
            value: AtomicU64::new(0),
        }
    }

    const fn gauge(name: &'static str, help: &'static str) -> Self {
        Self {
            name,
            help,
            gauge: true,
            value: AtomicU64::new(0),
        }
    }
}

impl Metric {
    fn adjust(&self, delta: i64) {
        if delta >= 0 {
            self.value.fetch_add(delta.unsigned_abs(), Relaxed);
        } else {
            self.value.fetch_sub(delta.unsigned_abs(), Relaxed);
        }
    }
}

/// The server's counters.
#[derive(Debug)]
pub struct Metrics {
    connections_total: Metric,
    connections_open: Metric,
    connections_refused: Metric,
    address_refusals: Metric,
    line_sessions: Metric,
    ws_sessions: Metric,
    ws_deflate_sessions: Metric,
    http_requests: Metric,
    commands: Metric,
    deliveries: Metric,
    write_through: Metric,
    threads_started: Metric,
    accepting_threads: Metric,
    pool_waiting: Metric,
    pool_busy: Metric,
    slow_consumers: Metric,
    flood_disconnects: Metric,
    flood_delayed: Metric,
    protocol_errors: Metric,
    timeouts: Metric,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            connections_total: Metric::counter(
                "rustchat_connections_total",
                "TCP connections accepted.",
            ),
            connections_open: Metric::gauge(
                "rustchat_connections_open",
                "TCP connections open now.",
            ),
            connections_refused: Metric::counter(
                "rustchat_connections_refused_total",
                "Connections refused because the server was full.",
            ),
            address_refusals: Metric::counter(
                "rustchat_address_refusals_total",
                "Connections refused by a limit per address (open connections or connection rate); also counted in rustchat_connections_refused_total.",
            ),
            line_sessions: Metric::counter(
                "rustchat_line_sessions_total",
                "Line-protocol chat sessions started.",
            ),
            ws_sessions: Metric::counter(
                "rustchat_websocket_sessions_total",
                "WebSocket chat sessions started.",
            ),
            ws_deflate_sessions: Metric::counter(
                "rustchat_websocket_deflate_sessions_total",
                "WebSocket chat sessions that negotiated permessage-deflate.",
            ),
            http_requests: Metric::counter(
                "rustchat_http_requests_total",
                "Plain HTTP requests answered (not upgrades).",
            ),
            commands: Metric::counter("rustchat_commands_total", "Commands received from clients."),
            deliveries: Metric::counter("rustchat_deliveries_total", "Events queued for clients."),
            write_through: Metric::counter(
                "rustchat_write_through_bytes_total",
                "Event bytes the fan-out wrote straight to idle clients' sockets.",
            ),
            threads_started: Metric::counter(
                "rustchat_connection_threads_started_total",
                "Threads started by the threads model (a thread serves one connection after another while it is kept as a spare).",
            ),
            accepting_threads: Metric::gauge(
                "rustchat_accepting_threads",
                "Threads of the threads model waiting in accept for a connection.",
            ),
            pool_waiting: Metric::gauge(
                "rustchat_pool_waiting",
                "Connections waiting for a worker of the pool model.",
            ),
            pool_busy: Metric::counter(
                "rustchat_pool_busy_refusals_total",
                "Connections of the pool model closed after waiting too long for a worker.",
            ),
            slow_consumers: Metric::counter(
                "rustchat_slow_consumer_disconnects_total",
                "Clients disconnected because they read too slowly.",
            ),
            flood_disconnects: Metric::counter(
                "rustchat_flood_disconnects_total",
                "Clients disconnected for flooding (flood control's queue full for its whole patience).",
            ),
            flood_delayed: Metric::counter(
                "rustchat_flood_delayed_total",
                "Commands that waited in flood control's queue before they were handled.",
            ),
            protocol_errors: Metric::counter(
                "rustchat_protocol_errors_total",
                "Connections ended by a protocol or handshake error.",
            ),
            timeouts: Metric::counter(
                "rustchat_timeouts_total",
                "Connections dropped by a timeout (handshake, keepalive).",
            ),
        }
    }
}

macro_rules! bump {
    ($($fn:ident => $field:ident),* $(,)?) => {
        $(
            #[doc = concat!("Adds one to `", stringify!($field), "`.")]
            pub fn $fn(&self) {
                self.$field.value.fetch_add(1, Relaxed);
            }
        )*
    };
}

impl Metrics {
    bump! {
        connection_opened => connections_total,
        connection_refused => connections_refused,
        address_refusal => address_refusals,
        line_session => line_sessions,
        ws_session => ws_sessions,
        ws_deflate_session => ws_deflate_sessions,
        http_request => http_requests,
        command => commands,
        thread_started => threads_started,
        pool_busy_refusal => pool_busy,
        slow_consumer => slow_consumers,
        flood_disconnect => flood_disconnects,
        protocol_error => protocol_errors,
        timeout => timeouts,
    }

    /// Adjusts the open-connections gauge.
    pub fn open_connections(&self, delta: i64) {
        self.connections_open.adjust(delta);
    }

    /// Adjusts the gauge of threads waiting in `accept` (`threads` model).
    pub fn accepting_threads(&self, delta: i64) {
        self.accepting_threads.adjust(delta);
    }

    /// Adjusts the gauge of connections waiting for a pool worker.
    pub fn pool_waiting(&self, delta: i64) {
        self.pool_waiting.adjust(delta);
    }

    /// Connections open now.
    pub fn open_now(&self) -> u64 {
        self.connections_open.value.load(Relaxed)
    }

    /// Counts events queued for clients.
    pub fn add_delivered(&self, n: u64) {
        self.deliveries.value.fetch_add(n, Relaxed);
    }

    /// Counts commands that waited for flood control.
    pub fn add_flood_delayed(&self, n: u64) {
        self.flood_delayed.value.fetch_add(n, Relaxed);
    }

    /// Counts event bytes written through to idle connections.
    pub fn add_written_through(&self, bytes: u64) {
        self.write_through.value.fetch_add(bytes, Relaxed);
    }

    /// Renders every metric, then the `extra` gauges (hub and history figures read at render
    /// time), in the Prometheus text format.
    pub fn render(&self, extra: &[(&str, &str, u64)]) -> String {
        let all = [
            &self.connections_total,
            &self.connections_open,
            &self.connections_refused,
            &self.address_refusals,
            &self.line_sessions,
            &self.ws_sessions,
            &self.ws_deflate_sessions,
            &self.http_requests,
            &self.commands,
            &self.deliveries,
            &self.write_through,
            &self.threads_started,
            &self.accepting_threads,
            &self.pool_waiting,
            &self.pool_busy,
            &self.slow_consumers,
            &self.flood_disconnects,
            &self.flood_delayed,
            &self.protocol_errors,
            &self.timeouts,
        ];
        let mut out = String::new();
        for m in all {
            let kind = if m.gauge { "gauge" } else { "counter" };
            write_metric(&mut out, m.name, m.help, kind, m.value.load(Relaxed));
        }
        for (name, help, value) in extra {
            write_metric(&mut out, name, help, "gauge", *value);
        }
        out
    }
}

fn write_metric(out: &mut String, name: &str, help: &str, kind: &str, value: u64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.connection_opened();
        m.open_connections(1);
        m.add_delivered(5);
        let text = m.render(&[("rustchat_rooms", "Rooms now.", 3)]);
        assert!(
            text.contains(
                "# TYPE rustchat_connections_total counter\nrustchat_connections_total 1\n"
            )
        );
        assert!(
            text.contains("# TYPE rustchat_connections_open gauge\nrustchat_connections_open 1\n")
        );
        assert!(text.contains("rustchat_deliveries_total 5\n"));
        assert!(text.contains(
            "# HELP rustchat_rooms Rooms now.\n# TYPE rustchat_rooms gauge\nrustchat_rooms 3\n"
        ));
    }
}
