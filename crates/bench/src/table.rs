//! The report as a table for the terminal: the columns that matter for each scenario.

use std::fmt::Write as _;

use crate::report::{Report, Sample};

/// One column: a header and how to show a sample in it.
struct Column {
    header: &'static str,
    cell: fn(&Sample) -> String,
}

/// Renders the report: a line about the run, the table, failures and warnings.
pub fn render(report: &Report) -> String {
    let columns = columns(report.scenario);
    let mut rows: Vec<Vec<String>> = vec![
        std::iter::once("server".to_string())
            .chain(columns.iter().map(|c| c.header.to_string()))
            .chain(std::iter::once("×first".to_string()))
            .collect(),
    ];
    for subject in &report.subjects {
        let mut row = vec![subject.name.clone()];
        match &subject.median {
            Some(m) => row.extend(columns.iter().map(|c| (c.cell)(m))),
            None => row.extend(columns.iter().map(|_| "-".to_string())),
        }
        row.push(
            subject
                .ratio_to_first
                .map_or("-".into(), |r| format!("{r:.2}")),
        );
        rows.push(row);
    }
    let mut out = String::new();
    let runs = report
        .subjects
        .iter()
        .map(|s| s.runs.len())
        .max()
        .unwrap_or(0);
    let _ = writeln!(
        out,
        "{} — {} (median of {runs} run{}), ×first = {} vs the first row, same runs",
        report.scenario,
        params_text(&report.params),
        if runs == 1 { "" } else { "s" },
        if report.scenario == "idle" {
            "RSS per connection"
        } else {
            "ops per server CPU-second"
        }
    );
    out.push_str(&align(&rows));
    let mut limited = false;
    for s in &report.subjects {
        for f in &s.failures {
            let _ = writeln!(out, "FAILED {}: {f}", s.name);
            limited |= LIMIT_SIGNS.iter().any(|sign| f.contains(sign));
        }
    }
    for (_, _, first) in report.with_errors() {
        limited |= LIMIT_SIGNS.iter().any(|sign| first.contains(sign));
    }
    if limited {
        out.push_str(LIMIT_HINT);
    }
    for w in &report.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    out
}

fn align(rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            let pad = widths[i] - cell.chars().count();
            if i == 0 {
                let _ = write!(out, "{cell}{}", " ".repeat(pad));
            } else {
                let _ = write!(out, "  {}{cell}", " ".repeat(pad));
            }
        }
        out.push('\n');
    }
    out
}

fn columns(scenario: &str) -> Vec<Column> {
    let latency = [
        Column {
            header: "p50",
            cell: |s| time(s.latency.p50_us),
        },
        Column {
            header: "p90",
            cell: |s| time(s.latency.p90_us),
        },
        Column {
            header: "p99",
            cell: |s| time(s.latency.p99_us),
        },
        Column {
            header: "max",
            cell: |s| time(s.latency.max_us),
        },
    ];
    let cost = [
        Column {
            header: "CPU/op",
            cell: |s| {
                s.server_cpu_per_op_us
                    .map_or("-".into(), |v| format!("{v:.2}µs"))
            },
        },
        Column {
            header: "ops/CPU-s",
            cell: |s| s.ops_per_server_cpu_s.map_or("-".into(), count),
        },
        Column {
            header: "srv CPU",
            cell: |s| {
                s.server_cpu_percent
                    .map_or("-".into(), |v| format!("{v:.0}%"))
            },
        },
        Column {
            header: "srv RSS",
            cell: |s| s.server_rss_bytes.map_or("-".into(), bytes),
        },
        Column {
            header: "gen CPU",
            cell: |s| format!("{:.0}%", s.generator_cpu_percent),
        },
        Column {
            header: "errors",
            cell: |s| s.errors.to_string(),
        },
    ];
    let mut out = match scenario {
        "idle" => vec![
            Column {
                header: "conns",
                cell: |s| s.connections.to_string(),
            },
            Column {
                header: "RSS before",
                cell: |s| s.rss_before_bytes.map_or("-".into(), bytes),
            },
            Column {
                header: "RSS after",
                cell: |s| s.server_rss_bytes.map_or("-".into(), bytes),
            },
            Column {
                header: "per conn",
                cell: |s| {
                    s.rss_per_connection_bytes
                        .map_or("-".into(), |b| bytes(b as u64))
                },
            },
            Column {
                header: "setup p99",
                cell: |s| time(s.latency.p99_us),
            },
            Column {
                header: "setup CPU/conn",
                cell: |s| s.setup_cpu_per_connection_us.map_or("-".into(), time),
            },
            Column {
                header: "idle CPU",
                cell: |s| {
                    s.server_cpu_percent
                        .map_or("-".into(), |v| format!("{v:.1}%"))
                },
            },
            Column {
                header: "errors",
                cell: |s| s.errors.to_string(),
            },
        ],
        "broadcast" => {
            let mut v = vec![
                Column {
                    header: "deliv/s",
                    cell: |s| count(s.ops_per_s),
                },
                Column {
                    header: "sent/s",
                    cell: |s| count(s.sent as f64 / s.seconds.max(1e-9)),
                },
            ];
            v.extend(latency);
            v.extend(cost);
            v
        }
        _ => {
            let mut v = vec![Column {
                header: "ops/s",
                cell: |s| count(s.ops_per_s),
            }];
            v.extend(latency);
            v.extend(cost);
            v
        }
    };
    if scenario == "handshake" {
        out[0].header = "conn/s";
    } else if scenario == "echo" {
        out[0].header = "msg/s";
    }
    out
}

/// A count with a k/M suffix.
pub fn count(v: f64) -> String {
    match v {
        v if v >= 10e6 => format!("{:.1}M", v / 1e6),
        v if v >= 1e6 => format!("{:.2}M", v / 1e6),
        v if v >= 10e3 => format!("{:.0}k", v / 1e3),
        v if v >= 1e3 => format!("{:.1}k", v / 1e3),
        v => format!("{v:.0}"),
    }
}

/// Microseconds as µs, ms or s.
pub fn time(us: f64) -> String {
    match us {
        us if us >= 1e6 => format!("{:.2}s", us / 1e6),
        us if us >= 1e3 => format!("{:.2}ms", us / 1e3),
        us => format!("{us:.0}µs"),
    }
}

/// Bytes in KiB/MiB.
pub fn bytes(b: u64) -> String {
    let b = b as f64;
    match b {
        b if b >= 1024.0 * 1024.0 => format!("{:.1}MiB", b / 1024.0 / 1024.0),
        b if b >= 1024.0 => format!("{:.1}KiB", b / 1024.0),
        b => format!("{b:.0}B"),
    }
}

/// The scenario's settings as `key=value` words.
pub fn params_text(params: &serde_json::Value) -> String {
    let Some(map) = params.as_object() else {
        return params.to_string();
    };
    map.iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => format!("{k}={s}"),
            v => format!("{k}={v}"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a rustchat server says when its limits, not its speed, stopped the load.
pub const LIMIT_SIGNS: [&str; 4] = [
    "from your address",
    "flood control",
    "flooding",
    "server full",
];

/// The advice printed under failures that show a limit.
const LIMIT_HINT: &str = "hint: the server's limits refused the load, so this measures them, not the \
server: start the rustchat server under test with --rate-limit off --max-connections-per-ip 0 \
--connect-rate off (and a --max-connections above the client count)\n";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::SubjectReport;

    fn failed_with(why: &str) -> Report {
        Report {
            scenario: "idle",
            op: "connections",
            params: serde_json::json!({}),
            subjects: vec![SubjectReport {
                name: "target 127.0.0.1:8080".into(),
                median: None,
                runs: Vec::new(),
                failures: vec![why.into()],
                ratio_to_first: None,
            }],
            warnings: Vec::new(),
        }
    }

    #[test]
    fn a_failure_that_shows_a_server_limit_says_which_flags_lift_it() {
        let refused = failed_with(
            "the server answered 429 Too Many Requests instead of 101 Switching Protocols: \
             connecting too fast from your address: at most 10 new connections a second",
        );
        let text = render(&refused);
        assert!(text.contains("FAILED target 127.0.0.1:8080: the server answered 429"));
        assert!(
            text.contains("hint: the server's limits refused the load"),
            "{text}"
        );
        assert!(text.contains("--connect-rate off"), "{text}");
        let broken = render(&failed_with("connection refused (os error 111)"));
        assert!(!broken.contains("hint:"), "{broken}");
    }
}
