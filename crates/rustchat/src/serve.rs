//! `rustchat serve`: flags → `ServerConfig` → a running server until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use rustchat_server::accounts::{AccountsConfig, Registration};
use rustchat_server::config::{ConnectRate, HistoryMode, Model, ServerConfig};
use rustchat_server::server::RunningServer;
use rustchat_server::session::flood::FloodConfig;
use rustchat_server::tls::{Identity, Plaintext, TlsConfig};

/// Options of `rustchat serve`. Every limit has the default of docs/ARCHITECTURE.md.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// A TOML file of settings: each key is a flag's long name (`max-connections = 10000`,
    /// `listen = ["0.0.0.0:8080"]`, `tls-self-signed = true`). Flags and `RUSTCHAT_*`
    /// environment variables (`RUSTCHAT_MAX_CONNECTIONS=10000`) override it; see
    /// packaging/rustchat.toml.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print the effective settings (as a config file, each with where it came from) and exit.
    #[arg(long)]
    pub(crate) print_config: bool,
    /// Address to listen on, `HOST:PORT` (a host name listens on every address it resolves
    /// to: `localhost:8080` is 127.0.0.1 and ::1); repeat for several, or separate them with
    /// commas (e.g. `--listen 0.0.0.0:8080,[::]:8080`).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8080", value_parser = parse_listen)]
    listen: Vec<Listen>,
    /// Concurrency model: `async` (tokio), `threads[:N]` (a thread per connection; up to N, default
    /// 4 per core, wait as spares for the next connection instead of exiting; `threads:0` keeps
    /// none), `pool[:N]` (N workers, default 4 per core; a connection holds one for its life, the
    /// rest queue) or `sequential` (one at a time).
    #[arg(long, default_value = "async", value_parser = parse_model)]
    model: Model,
    /// Directory of the history database.
    #[arg(long, value_name = "DIR", default_value = "rustchat-data")]
    data_dir: PathBuf,
    /// Where room history lives: `file` (SQLite under --data-dir) or `memory` (lost on exit).
    #[arg(long, value_enum, default_value_t = History::File)]
    history: History,
    /// Messages kept per room in the history (a room holds between N and 2N: it is cut back
    /// when it has grown by N). Default: every message (file), 1,000 a room (memory).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    history_keep: Option<u64>,
    /// Delete messages older than this from the history: a number and a unit, `30d`, `12h`,
    /// `90m`, `3600s` (looked for once a minute, a thousand at a time). Default: kept forever.
    #[arg(long, value_name = "AGE", value_parser = parse_age)]
    history_max_age: Option<Duration>,
    /// Pending connections the kernel may queue (listen backlog).
    #[arg(long, default_value_t = 1024)]
    backlog: i32,
    /// Most connections at once; more are told the server is full.
    #[arg(long, default_value_t = 10_000)]
    max_connections: usize,
    /// Most connections one address may hold open (an IPv6 address counts by its /64;
    /// loopback like any other); 0 for no limit.
    #[arg(long, value_name = "N", default_value_t = 64)]
    max_connections_per_ip: usize,
    /// How fast one address may open connections: `RATE/BURST` a second (e.g. `10/20`), or `off`.
    #[arg(long, value_name = "RATE/BURST|off", default_value = "10/20", value_parser = parse_connect_rate)]
    connect_rate: ConnectRateArg,
    /// Longest line-protocol line, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 4096)]
    max_line: usize,
    /// Largest WebSocket message (and frame), in bytes; for a compressed message, what it
    /// inflates to.
    #[arg(long, value_name = "BYTES", default_value_t = 64 * 1024)]
    max_message: usize,
    /// permessage-deflate for WebSocket clients that offer it (every browser does): `on` or
    /// `off`. Each event is compressed once for all its receivers, and no connection keeps
    /// compression state between messages.
    #[arg(long, value_name = "on|off", default_value = "on", value_parser = parse_on_off, action = clap::ArgAction::Set)]
    deflate: bool,
    /// Events and replies shorter than this go uncompressed.
    #[arg(long, value_name = "BYTES", default_value_t = rustchat_server::config::DEFAULT_DEFLATE_THRESHOLD)]
    deflate_threshold: usize,
    /// Outbound bytes a client may fall behind for longer than --slow-consumer-grace (four
    /// times as much at any moment) before it is dropped as a slow consumer.
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20)]
    outbox_limit: usize,
    /// Seconds a client may stay more than --outbox-limit behind before it is dropped.
    #[arg(long, value_name = "SECS", default_value = "2", value_parser = parse_secs)]
    slow_consumer_grace: Duration,
    /// Flood control: `RATE/BURST` commands per second (e.g. `10/20`), or `off`.
    #[arg(long, value_name = "RATE/BURST|off", default_value = "10/20", value_parser = parse_rate_limit)]
    rate_limit: RateLimit,
    /// Seconds flood control's queue may stay full (the client sending faster than the rate
    /// the whole time) before the client is disconnected. Lines over the rate wait, 20 at most,
    /// and are handled at the rate, in order.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_secs)]
    flood_patience: Duration,
    /// Seconds a connection may wait for a `pool` worker before it is told the server is busy.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_secs)]
    pool_wait: Duration,
    /// Seconds to complete an HTTP request head or the HELLO handshake.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    handshake_timeout: u64,
    /// Seconds of WebSocket silence before a keepalive ping (and to wait for its pong).
    #[arg(long, value_name = "SECS", default_value_t = 20)]
    ping_interval: u64,
    /// A browser origin allowed to open WebSockets besides this server's own (repeatable).
    #[arg(long, value_name = "ORIGIN")]
    allow_origin: Vec<String>,
    /// Message of the day, shown on connect.
    #[arg(long)]
    motd: Option<String>,
    /// Room messages replayed on join.
    #[arg(long, value_name = "N", default_value_t = 50)]
    replay: usize,
    /// TLS certificate, PEM: the server's certificate first, then its chain. With --tls-key,
    /// the port serves TLS (https://, wss://, TLS lines) beside plaintext; the files are
    /// loaded again on SIGHUP and whenever they change.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key, PEM (PKCS#8, RSA or SEC1; RSA, ECDSA or Ed25519).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve TLS with a self-signed certificate for localhost, 127.0.0.1 and ::1, made once and
    /// kept in DATA_DIR/tls (for trying TLS out; the log says how to trust it).
    #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"])]
    tls_self_signed: bool,
    /// While TLS is on, who may still connect without it: `allow` (anyone), `loopback` (only
    /// from this machine) or `refuse` (nobody; HTTP is redirected to https://, lines are told
    /// to use TLS).
    #[arg(long, value_name = "POLICY", default_value = "loopback", value_parser = Plaintext::parse)]
    plaintext: Plaintext,
    /// Who may register an account: `open` (anyone registers their nick with /register),
    /// `invite` (with a single-use code from `rustchat admin invite`) or `closed` (only
    /// `rustchat admin create-account`).
    #[arg(long, value_name = "POLICY", default_value = "open", value_parser = Registration::parse)]
    registration: Registration,
    /// Registrations one address may make per hour; 0 for no limit.
    #[arg(long, value_name = "N", default_value_t = 10)]
    registrations_per_ip: u32,
    /// Threads that hash and check passwords (argon2id, ~20-40 ms each): what sign-ins may
    /// take of the machine at most; the rest wait in a bounded queue.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    auth_threads: u32,
}

fn parse_on_off(text: &str) -> Result<bool, String> {
    match text.to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" => Ok(true),
        "off" | "false" | "no" => Ok(false),
        _ => Err(format!("`{text}`: expected on or off")),
    }
}

fn parse_model(text: &str) -> Result<Model, String> {
    Model::parse(text, ServerConfig::default_pool_size())
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum History {
    File,
    Memory,
}

/// A number of seconds, fractions allowed (`2`, `0.5`).
fn parse_secs(text: &str) -> Result<Duration, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
        .ok_or_else(|| format!("`{text}`: expected a number of seconds, 0 or more (e.g. 2 or 0.5)"))
}

/// `--history-max-age`: a positive number and a unit (`d`, `h`, `m`, `s`).
fn parse_age(text: &str) -> Result<Duration, String> {
    let expected = "expected a number and a unit, like 30d, 12h, 90m or 3600s";
    let text = text.trim();
    let unit = text.chars().last().unwrap_or(' ');
    let number = &text[..text.len() - unit.len_utf8().min(text.len())];
    let seconds = match unit {
        'd' => 86_400.0,
        'h' => 3_600.0,
        'm' => 60.0,
        's' => 1.0,
        _ => return Err(format!("`{text}`: {expected}")),
    };
    number
        .parse::<f64>()
        .ok()
        .filter(|n| *n > 0.0)
        .and_then(|n| Duration::try_from_secs_f64(n * seconds).ok())
        .ok_or_else(|| format!("`{text}`: {expected}"))
}

/// `--rate-limit`: off, or a token bucket.
#[derive(Debug, Clone, Copy)]
struct RateLimit(Option<FloodConfig>);

fn parse_rate_limit(text: &str) -> Result<RateLimit, String> {
    Ok(RateLimit(parse_rate(text)?.map(|(rate, burst)| {
        FloodConfig {
            rate,
            burst,
            ..FloodConfig::default()
        }
    })))
}

/// One `--listen`: every address its host resolves to.
#[derive(Debug, Clone)]
struct Listen(Vec<SocketAddr>);

fn parse_listen(text: &str) -> Result<Listen, String> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(Listen(vec![addr]));
    }
    let expected = "expected HOST:PORT, such as 127.0.0.1:8080, [::]:8080 or localhost:8080";
    let Some((host, port)) = text.rsplit_once(':') else {
        return Err(format!("`{text}` has no port: {expected}"));
    };
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(format!("`{text}`: {expected}"));
    }
    let mut addrs: Vec<SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs(text)
        .map_err(|e| format!("cannot resolve `{host}`: {e}"))?
        .collect();
    // One listener per address, however many times the resolver names it.
    addrs.sort();
    addrs.dedup();
    if addrs.is_empty() {
        return Err(format!("`{host}` resolves to no address"));
    }
    Ok(Listen(addrs))
}

/// `--connect-rate`, parsed.
#[derive(Debug, Clone, Copy)]
struct ConnectRateArg(Option<ConnectRate>);

fn parse_connect_rate(text: &str) -> Result<ConnectRateArg, String> {
    Ok(ConnectRateArg(
        parse_rate(text)?.map(|(rate, burst)| ConnectRate { rate, burst }),
    ))
}

/// `RATE/BURST` (positive numbers) or `off`.
fn parse_rate(text: &str) -> Result<Option<(f64, f64)>, String> {
    if text.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let expected = "expected RATE/BURST with positive numbers (e.g. 10/20) or `off`";
    let (rate, burst) = text
        .split_once('/')
        .ok_or_else(|| format!("`{text}`: {expected}"))?;
    let number = |s: &str| {
        s.trim()
            .parse::<f64>()
            .ok()
            .filter(|n| *n > 0.0 && n.is_finite())
    };
    match (number(rate), number(burst)) {
        (Some(rate), Some(burst)) => Ok(Some((rate, burst))),
        _ => Err(format!("`{text}`: {expected}")),
    }
}

impl ServeArgs {
    fn config(self) -> ServerConfig {
        let mut config = ServerConfig {
            listen: self.listen.into_iter().flat_map(|l| l.0).collect(),
            model: self.model,
            backlog: self.backlog,
            max_connections: self.max_connections,
            max_connections_per_ip: self.max_connections_per_ip,
            connect_rate: self.connect_rate.0,
            data_dir: self.data_dir,
            history: match self.history {
                History::File => HistoryMode::File,
                History::Memory => HistoryMode::Memory,
            },
            history_keep: self
                .history_keep
                .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
            history_max_age: self.history_max_age,
            max_line: self.max_line,
            max_ws_message: self.max_message,
            deflate: self.deflate,
            deflate_threshold: self.deflate_threshold,
            outbox_limit: self.outbox_limit,
            slow_consumer_grace: self.slow_consumer_grace,
            flood: self.rate_limit.0.map(|flood| FloodConfig {
                patience: self.flood_patience,
                ..flood
            }),
            handshake_timeout: Duration::from_secs(self.handshake_timeout),
            ping_interval: Duration::from_secs(self.ping_interval),
            pong_timeout: Duration::from_secs(self.ping_interval),
            allowed_origins: self.allow_origin,
            pool_wait: self.pool_wait,
            accounts: AccountsConfig {
                registration: self.registration,
                workers: usize::try_from(self.auth_threads).unwrap_or(1),
                registrations_per_hour: Some(self.registrations_per_ip).filter(|n| *n > 0),
            },
            ..ServerConfig::default()
        };
        config.tls = match (self.tls_cert, self.tls_key, self.tls_self_signed) {
            (Some(cert), Some(key), _) => Some(Identity::Files { cert, key }),
            (_, _, true) => Some(Identity::SelfSigned),
            _ => None,
        }
        .map(|identity| TlsConfig {
            identity,
            plaintext: self.plaintext,
        });
        config.hub.motd = self.motd;
        config.hub.replay_on_join = self.replay;
        config
    }
}

/// Runs the server until Ctrl-C or SIGTERM, then shuts down gracefully.
pub(crate) fn run(args: ServeArgs) -> anyhow::Result<()> {
    let config = args.config();
    let model = config.model.name();
    let history = match config.history {
        HistoryMode::File => format!(
            "history in {}",
            config.data_dir.join("history.sqlite3").display()
        ),
        HistoryMode::Memory => "history in memory".into(),
    };
    let history = match (config.history_keep, config.history_max_age) {
        (None, None) => history,
        (keep, age) => format!(
            "{history}, keeping {}{}",
            keep.map_or("every message".into(), |n| format!(
                "{n}–{} messages a room",
                2 * n
            )),
            age.map_or(String::new(), |age| format!(
                " for at most {} s",
                age.as_secs()
            ))
        ),
    };
    let server =
        rustchat_server::server::start(config.clone()).context("the server could not start")?;
    for addr in server.addrs() {
        tracing::info!(
            "rustchat listening on {addr} (model {model}, {history}; max {} connections, lines ≤ {} B, WebSocket messages ≤ {} B, outbox ≤ {} B, rate limit {})",
            config.max_connections,
            config.max_line,
            config.max_ws_message,
            config.outbox_limit,
            config
                .flood
                .map_or("off".into(), |f| format!("{}/s burst {}", f.rate, f.burst)),
        );
        tracing::info!(
            "chat: nc {} {} | browser: http://{addr}/ | WebSocket: ws://{addr}/ws",
            addr.ip(),
            addr.port()
        );
        if server.tls().is_some() {
            tracing::info!(
                "chat over TLS: rustchat connect tls://{addr} (or openssl s_client -quiet -connect {addr}) | browser: https://{addr}/ | WebSocket: wss://{addr}/ws",
            );
        }
    }
    if let (Some(tls), Some(settings)) = (server.tls(), &config.tls) {
        announce_tls(tls, settings.plaintext, server.addr());
    }
    wait_for_signal(&server)?;
    tracing::info!("shutting down: saying goodbye to clients and flushing the history");
    server
        .shutdown()
        .context("the history did not close cleanly")?;
    tracing::info!("bye");
    Ok(())
}

/// Tells the operator which certificate is served, and for a self-signed one how to trust it.
fn announce_tls(tls: &rustchat_server::tls::Tls, plaintext: Plaintext, addr: SocketAddr) {
    let facts = tls.facts();
    let (cert, _) = tls.files();
    let plaintext = match plaintext {
        Plaintext::Allow => "plaintext from anyone",
        Plaintext::Loopback => "plaintext only from loopback (--plaintext)",
        Plaintext::Refuse => "no plaintext (--plaintext)",
    };
    tracing::info!(
        "TLS on: certificate {} (serial {}, expires {}), SHA-256 fingerprint {}; {plaintext}; SIGHUP or changed files reload it",
        cert.display(),
        facts.serial,
        facts.expires,
        facts.fingerprint
    );
    if let Some(made_now) = tls.self_signed() {
        let port = addr.port();
        tracing::warn!(
            "self-signed certificate {} ({}), for localhost, 127.0.0.1 and ::1 only: trust it with `curl --cacert {0} https://localhost:{port}/`, `rustchat connect --ca-file {0} wss://localhost:{port}/ws`; a browser asks once (compare the fingerprint above) — use --tls-cert/--tls-key for a real one",
            cert.display(),
            if made_now {
                "made now"
            } else {
                "kept from an earlier start"
            },
        );
    }
}

/// Blocks until Ctrl-C (SIGINT) or SIGTERM; on SIGHUP, reloads the TLS certificate.
fn wait_for_signal(server: &RunningServer) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the signal runtime")?;
    runtime
        .block_on(async {
            #[cfg(unix)]
            {
                use tokio::signal::unix::{SignalKind, signal};
                let mut term = signal(SignalKind::terminate())?;
                let mut hangup = signal(SignalKind::hangup())?;
                loop {
                    tokio::select! {
                        r = tokio::signal::ctrl_c() => return r,
                        _ = term.recv() => return Ok(()),
                        _ = hangup.recv() => match server.tls() {
                            // Logged (and counted) inside: a failure keeps the pair in use.
                            Some(tls) => { let _ = tls.reload(); }
                            None => tracing::info!("SIGHUP: nothing to reload (TLS is off)"),
                        },
                    }
                }
            }
            #[cfg(not(unix))]
            tokio::signal::ctrl_c().await
        })
        .context("cannot listen for signals")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_take_a_unit() {
        assert_eq!(parse_age("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert_eq!(parse_age("12h"), Ok(Duration::from_secs(12 * 3_600)));
        assert_eq!(parse_age("1.5m"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_age("3600s"), Ok(Duration::from_secs(3600)));
        for bad in ["30", "d", "-1d", "0h", "soon", "", "3w", "30µ"] {
            let err = parse_age(bad).expect_err(bad);
            assert!(err.contains("like 30d, 12h, 90m or 3600s"), "{err}");
        }
    }

    #[test]
    fn seconds_take_fractions_and_refuse_what_is_not_a_duration() {
        assert_eq!(parse_secs("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_secs("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_secs("0"), Ok(Duration::ZERO));
        for bad in ["-1", "inf", "NaN", "soon", ""] {
            let err = parse_secs(bad).expect_err(bad);
            assert!(err.contains("expected a number of seconds"), "{err}");
        }
    }

    #[test]
    fn listen_takes_addresses_and_host_names() {
        let one = parse_listen("0.0.0.0:9000").map(|l| l.0);
        assert_eq!(one, Ok(vec![SocketAddr::from(([0, 0, 0, 0], 9000))]));
        let local = parse_listen("localhost:8080")
            .map(|l| l.0)
            .expect("localhost resolves");
        assert!(
            !local.is_empty()
                && local
                    .iter()
                    .all(|a| a.ip().is_loopback() && a.port() == 8080),
            "{local:?}"
        );
        for bad in ["localhost", "localhost:http", ":8080", "127.0.0.1:99999"] {
            let err = parse_listen(bad).map(|_| ()).expect_err(bad);
            assert!(
                err.contains("expected HOST:PORT") || err.contains("no port"),
                "{bad}: {err}"
            );
        }
        let err = parse_listen("no-such-host.invalid:8080")
            .map(|_| ())
            .expect_err("unresolvable");
        assert!(
            err.contains("cannot resolve `no-such-host.invalid`"),
            "{err}"
        );
    }

    #[test]
    fn connect_rates_are_rate_slash_burst_or_off() {
        assert!(parse_connect_rate("off").is_ok_and(|r| r.0.is_none()));
        let rate = parse_connect_rate("2/4").map(|r| r.0.map(|c| (c.rate, c.burst)));
        assert_eq!(rate, Ok(Some((2.0, 4.0))));
        let err = parse_connect_rate("fast")
            .map(|_| ())
            .expect_err("not a rate");
        assert!(err.contains("expected RATE/BURST"), "{err}");
    }

    #[test]
    fn rate_limits_are_rate_slash_burst_or_off() {
        assert!(parse_rate_limit("off").is_ok_and(|r| r.0.is_none()));
        let limit = parse_rate_limit("5/10").map(|r| r.0.map(|f| (f.rate, f.burst)));
        assert_eq!(limit, Ok(Some((5.0, 10.0))));
        for bad in ["5", "0/10", "5/-1", "a/b"] {
            let err = parse_rate_limit(bad).map(|_| ()).expect_err(bad);
            assert!(err.contains("expected RATE/BURST"), "{err}");
        }
    }
}
