//! # rustchat-bench: the load generator behind `rustchat bench`
//!
//! Where it sits: outside the server, as its clients. For each server to measure — ours under
//! each concurrency model, a peer built on another WebSocket library, or one already running —
//! it starts the server as a child process, sets clients up, lets traffic warm up, then counts
//! for a fixed window what the clients receive and what the server spent (CPU from
//! `/proc/PID/stat`, memory from `/proc/PID/status`):
//!
//! ```text
//! cli (clap) ─ subjects (spawn child | --target) ─ scenarios::{handshake, broadcast, echo, idle}
//!      │            one current-thread runtime: setup ─ warm-up ─ measure (Tally, procfs)
//!      ▼
//! Sample per run ─ Report (median of runs, ratio to the first server) ─ table | JSON | SVG
//! ```
//!
//! Why it is built this way: the generator must not be what is measured. It runs on one
//! thread (a current-thread runtime, so counting is a `Cell` increment), sends pre-encoded
//! frames patched in place, parses stamps without allocating, and reports its own CPU so a
//! saturated generator is called out. Servers are compared by CPU time per operation, which
//! stays meaningful on a small machine where throughput is shared with the generator.
//!
//! ```no_run
//! use clap::Parser;
//! use rustchat_bench::BenchArgs;
//!
//! let args = BenchArgs::parse_from(["bench", "echo", "--peer", "all", "--duration", "2s"]);
//! let exe = std::env::current_exe()?; // a binary with `serve` and `bench serve-peer`
//! let report = rustchat_bench::measure(&args.scenario, &exe)?;
//! println!("{}", rustchat_bench::table::render(&report));
//! # Ok::<(), anyhow::Error>(())
//! ```

pub mod chart;
pub mod child;
pub mod cli;
pub mod measure;
pub mod net;
pub mod peers;
pub mod procfs;
pub mod progress;
pub mod report;
pub mod scenarios;
pub mod stats;
pub mod subjects;
pub mod table;
pub mod tls;
pub mod wire;

use std::path::Path;

use anyhow::{Context, bail};
use serde_json::json;
use tokio::task::LocalSet;

pub use cli::BenchArgs;
use cli::{Rate, Scenario};
use progress::Progress;
use report::{Report, Sample};
use subjects::{Live, Spec};

/// Runs `rustchat bench …`: measures and prints the report, or serves a peer. `exe` is a
/// binary that has the `serve` and `bench serve-peer` subcommands (the current `rustchat`).
/// Fails (exit code 1) if any server could not be measured.
pub fn run(args: &BenchArgs, exe: &Path) -> anyhow::Result<()> {
    let Some(opts) = args.scenario.run_opts() else {
        if let Scenario::ServePeer(peer) = &args.scenario {
            return peers::serve(peer);
        }
        bail!("nothing to run");
    };
    let report = measure(&args.scenario, exe)?;
    if opts.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", table::render(&report));
    }
    if let Some(path) = &opts.export_json {
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, json + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = &opts.svg {
        chart::draw(&report, path)?;
        if !opts.json {
            println!("chart: {}", path.display());
        }
    }
    if let Some((name, errors, first)) = report.with_errors().first() {
        bail!(
            "{name} had {errors} errors per run (first: {first}): the figures count only what \
             got through, so they measure the refusals as much as the server"
        );
    }
    if !report.all_ran() {
        bail!("not every server was measured (see FAILED above): the figures are incomplete");
    }
    Ok(())
}

/// Measures every server the scenario's options name, run after run, and builds the report.
pub fn measure(scenario: &Scenario, exe: &Path) -> anyhow::Result<Report> {
    let opts = scenario.run_opts().context("serve-peer measures nothing")?;
    raise_open_file_limit(needed_files(scenario));
    let specs = subjects::specs(scenario)?;
    // One certificate for the whole run, so every server pays for the same key type.
    let tls = opts.tls.then(tls::BenchTls::new).transpose()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the generator's runtime")?;
    let progress = Progress::new(specs.len() as u64 * u64::from(opts.runs));
    let mut results: Vec<(String, Vec<Result<Sample, String>>)> =
        specs.iter().map(|s| (s.name(), Vec::new())).collect();
    for run in 0..opts.runs {
        for (spec, (_, runs)) in specs.iter().zip(results.iter_mut()) {
            progress.doing(format!("{} run {}/{}", spec.name(), run + 1, opts.runs));
            runs.push(measure_one(
                &runtime,
                scenario,
                spec,
                exe,
                run,
                tls.as_ref(),
            ));
            progress.step();
        }
    }
    progress.finish();
    Ok(Report::new(scenario.name(), params(scenario), results))
}

/// One run against one server: start it, measure, stop it.
fn measure_one(
    runtime: &tokio::runtime::Runtime,
    scenario: &Scenario,
    spec: &Spec,
    exe: &Path,
    run: u32,
    tls: Option<&tls::BenchTls>,
) -> Result<Sample, String> {
    let mut live = spec.start(exe, tls).map_err(|e| format!("{e:#}"))?;
    run_against(runtime, scenario, &mut live, run)
}

/// Runs one scenario against a server that is already up (used by tests with in-process
/// servers, too).
pub fn run_against(
    runtime: &tokio::runtime::Runtime,
    scenario: &Scenario,
    live: &mut Live,
    run: u32,
) -> Result<Sample, String> {
    let run_id = run ^ std::process::id().rotate_left(16) ^ 0x5eed;
    let local = LocalSet::new();
    let result = runtime.block_on(local.run_until(scenarios::run_once(scenario, live, run_id)));
    {
        let _inside = runtime.enter();
        drop(local); // closes every client socket of the run
    }
    result.map_err(|e| {
        let mut message = format!("{e:#}");
        if let Some(note) = live.death_note() {
            message = format!("{message}; {note}");
        } else if live.name == "sequential" || live.name.starts_with("pool") {
            message.push_str(&format!(
                " ({} serves a limited number of connections at once)",
                live.name
            ));
        }
        message
    })
}

/// File descriptors the scenario needs (clients, and slack).
fn needed_files(scenario: &Scenario) -> u64 {
    let clients = match scenario {
        Scenario::Handshake(a) => a.clients,
        Scenario::Broadcast(a) => a.rooms * a.clients,
        Scenario::Echo(a) => a.clients,
        Scenario::Idle(a) => a.connections,
        Scenario::ServePeer(_) => 0,
    };
    clients as u64 + 64
}

/// Raises the soft open-file limit to the hard limit, and says what to type if that is not
/// enough (`ulimit -n` raises the hard limit too, for root or up to the system's maximum).
fn raise_open_file_limit(needed: u64) {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if limit < needed => eprintln!(
            "warning: at most {limit} open files, this run needs about {needed}: \
             run `ulimit -n 65536` first"
        ),
        Ok(_) => {}
        Err(e) => eprintln!("warning: cannot raise the open-file limit: {e}"),
    }
}

/// The scenario's settings, for the report.
fn params(scenario: &Scenario) -> serde_json::Value {
    let Some(o) = scenario.run_opts() else {
        return json!({});
    };
    let timing = json!({
        "duration_s": o.duration.as_secs_f64(),
        "warmup_s": o.warmup.as_secs_f64(),
        "runs": o.runs,
        "tls": o.tls,
    });
    let mut p = match scenario {
        Scenario::Handshake(a) => json!({ "clients": a.clients }),
        Scenario::Broadcast(a) => json!({
            "rooms": a.rooms, "clients": a.clients, "senders": a.senders,
            "rate": match a.rate { Rate::PerSecond(r) => json!(r), Rate::Max => json!("max") },
            "window": a.window, "size": a.size, "transport": a.transport,
        }),
        Scenario::Echo(a) => json!({ "clients": a.clients, "size": a.size }),
        Scenario::Idle(a) => json!({
            "connections": a.connections, "rooms": a.rooms, "transport": a.transport,
        }),
        Scenario::ServePeer(_) => json!({}),
    };
    if let (Some(p), Some(t)) = (p.as_object_mut(), timing.as_object()) {
        p.extend(t.clone());
    }
    p
}
