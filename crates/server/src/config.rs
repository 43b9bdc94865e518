//! Server settings: every limit of ARCHITECTURE.md's "Safety defaults", with its default.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use crate::admission::ConnectRate;
use crate::hub::HubConfig;
use crate::session::flood::FloodConfig;

/// How connections are served (`--model`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    /// tokio, a task per connection (the default).
    Async,
    /// One of the blocking models.
    Blocking(Blocking),
}

impl Model {
    /// Parses `sequential`, `threads`, `threads:N`, `pool`, `pool:N` or `async`; `pool` alone
    /// means `default_pool` workers, `threads` alone `default_pool` spare threads.
    pub fn parse(text: &str, default_pool: usize) -> Result<Self, String> {
        let expected =
            "expected sequential, threads, threads:N (N ≥ 0), pool, pool:N (N ≥ 1) or async";
        let count = |prefix: &str| text.strip_prefix(prefix).map(str::parse::<usize>);
        Ok(match text {
            "async" => Self::Async,
            "sequential" => Self::Blocking(Blocking::Sequential),
            "threads" => Self::Blocking(Blocking::Threads(default_pool)),
            "pool" => Self::Blocking(Blocking::Pool(default_pool.max(1))),
            _ => match (count("threads:"), count("pool:")) {
                (Some(Ok(n)), _) => Self::Blocking(Blocking::Threads(n)),
                (_, Some(Ok(n))) if n >= 1 => Self::Blocking(Blocking::Pool(n)),
                _ => return Err(format!("unknown model `{text}`: {expected}")),
            },
        })
    }

    /// The name `--model` takes.
    pub fn name(&self) -> String {
        match self {
            Self::Async => "async".into(),
            Self::Blocking(Blocking::Sequential) => "sequential".into(),
            Self::Blocking(Blocking::Threads(n)) => format!("threads:{n}"),
            Self::Blocking(Blocking::Pool(n)) => format!("pool:{n}"),
        }
    }
}

/// How the blocking models share out connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocking {
    /// One connection at a time, on the accepting thread.
    Sequential,
    /// A thread per connection, never queued: threads wait in `accept`, and the one given a
    /// connection serves it. Besides the one per listening socket that always waits, up to N
    /// threads whose connection ended wait (for a while) for the next one instead of exiting.
    /// `Threads(0)`: every connection's thread exits with it.
    Threads(usize),
    /// N worker threads; a connection holds one for its lifetime, the rest queue.
    Pool(usize),
}

/// Where room history is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryMode {
    /// An SQLite file under the data directory (survives restarts).
    File,
    /// In memory only (lost when the process exits).
    Memory,
}

/// Everything `rustchat serve` can be told.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Addresses to listen on (default `127.0.0.1:8080`).
    pub listen: Vec<SocketAddr>,
    /// The concurrency model (default `async`).
    pub model: Model,
    /// The listen(2) backlog: connections the kernel queues before we accept them.
    pub backlog: i32,
    /// Most connections at once; more are told the server is full and closed.
    pub max_connections: usize,
    /// Most connections one address (an IPv6 /64) may hold open (64; 0: no limit). Loopback
    /// counts like any address.
    pub max_connections_per_ip: usize,
    /// How fast one address may open connections (10 a second, bursts of 20); `None`: no limit.
    pub connect_rate: Option<ConnectRate>,
    /// Directory for the history database.
    pub data_dir: PathBuf,
    /// File or memory history.
    pub history: HistoryMode,
    /// Messages kept per room in the history (`--history-keep`): between this and twice this
    /// (a room is cut back when it has grown by as much). `None`: every message (a file), or
    /// 1,000 a room (memory).
    pub history_keep: Option<usize>,
    /// Messages older than this are deleted from the history (`--history-max-age`), a
    /// thousand at a time between the committer's batches, looked for once a minute. `None`:
    /// kept forever.
    pub history_max_age: Option<Duration>,
    /// How often expired messages are looked for (60 s).
    pub history_expire_every: Duration,
    /// Longest line of the line protocol, in bytes (default 4 KiB).
    pub max_line: usize,
    /// Largest WebSocket frame and message, in bytes (default 64 KiB).
    pub max_ws_message: usize,
    /// Most frames one WebSocket message may have (default 64).
    pub max_ws_fragments: usize,
    /// Accept permessage-deflate from clients that offer it (`--deflate`, default on). The
    /// server answers with no context takeover either way, so a connection keeps no
    /// compression state and each event is compressed once for all its receivers.
    pub deflate: bool,
    /// Events and replies shorter than this many bytes go uncompressed (`--deflate-threshold`).
    pub deflate_threshold: usize,
    /// Largest HTTP request head, in bytes (default 8 KiB).
    pub max_http_head: usize,
    /// Most HTTP header fields (default 64).
    pub max_http_headers: usize,
    /// Time to send a complete HTTP head or finish the HELLO handshake (default 10 s).
    pub handshake_timeout: Duration,
    /// How long to wait for a client's first bytes before assuming the line protocol and
    /// greeting it (HTTP clients speak first; people with `nc` wait to be greeted).
    pub detect_timeout: Duration,
    /// Bytes of events a connection may have queued for longer than `slow_consumer_grace`
    /// (1 MiB); four times as much at any moment. Past either, it is a slow consumer.
    pub outbox_limit: usize,
    /// How long a connection may stay more than `outbox_limit` behind (2 s): long enough for
    /// a reader that keeps up to absorb a burst from a whole room, short enough that a client
    /// that stopped reading is soon let go.
    pub slow_consumer_grace: Duration,
    /// Flood control; `None` turns it off.
    pub flood: Option<FloodConfig>,
    /// WebSocket keepalive: ping a quiet client this often (20 s)...
    pub ping_interval: Duration,
    /// ...and drop it if no pong comes back within this (20 s).
    pub pong_timeout: Duration,
    /// Browser origins allowed besides the server's own host (`--allow-origin`).
    pub allowed_origins: Vec<String>,
    /// Time connections get to say goodbye at shutdown.
    pub shutdown_grace: Duration,
    /// How long a spare thread of the `threads` model waits in `accept` for its next connection
    /// before it exits (10 s); the last one on each listening socket stays.
    pub spare_wait: Duration,
    /// How long a connection may wait for a `pool` worker (10 s) before it is told the server
    /// is busy and closed. Meanwhile a line client is told its place in line, and an HTTP
    /// request that needs no session is answered at once.
    pub pool_wait: Duration,
    /// TLS on the port (`--tls-cert`/`--tls-key`, `--tls-self-signed`); `None`: plaintext only.
    pub tls: Option<crate::tls::TlsConfig>,
    /// Chat settings.
    pub hub: HubConfig,
    /// Accounts: who may register, how many threads check passwords.
    pub accounts: crate::accounts::AccountsConfig,
}

/// Events shorter than this go uncompressed by default: measured in docs/PERFORMANCE.md.
pub const DEFAULT_DEFLATE_THRESHOLD: usize = 64;

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: vec![SocketAddr::from(([127, 0, 0, 1], 8080))],
            model: Model::Async,
            backlog: 1024,
            max_connections: 10_000,
            max_connections_per_ip: 64,
            connect_rate: Some(ConnectRate::default()),
            data_dir: PathBuf::from("rustchat-data"),
            history: HistoryMode::File,
            history_keep: None,
            history_max_age: None,
            history_expire_every: Duration::from_secs(60),
            max_line: 4096,
            max_ws_message: 64 * 1024,
            max_ws_fragments: 64,
            deflate: true,
            deflate_threshold: DEFAULT_DEFLATE_THRESHOLD,
            max_http_head: 8 * 1024,
            max_http_headers: 64,
            handshake_timeout: Duration::from_secs(10),
            detect_timeout: Duration::from_millis(500),
            outbox_limit: 1 << 20,
            slow_consumer_grace: Duration::from_secs(2),
            flood: Some(FloodConfig::default()),
            ping_interval: Duration::from_secs(20),
            pong_timeout: Duration::from_secs(20),
            allowed_origins: Vec::new(),
            shutdown_grace: Duration::from_secs(2),
            spare_wait: Duration::from_secs(10),
            pool_wait: Duration::from_secs(10),
            tls: None,
            hub: HubConfig::default(),
            accounts: crate::accounts::AccountsConfig::default(),
        }
    }
}

impl ServerConfig {
    /// The WebSocket limits as the ws crate's config.
    pub fn ws_config(&self) -> rustchat_ws::Config {
        rustchat_ws::Config::default()
            .max_frame_size(self.max_ws_message)
            .max_message_size(self.max_ws_message)
            .max_fragments(self.max_ws_fragments)
            .deflate(self.ws_deflate())
    }

    /// permessage-deflate as the server uses it: no context kept on either side (what lets a
    /// compressed event be shared, and idle connections hold nothing), level 1.
    pub fn ws_deflate(&self) -> rustchat_ws::DeflateConfig {
        let mut deflate = rustchat_ws::DeflateConfig::enabled()
            .no_context_takeover(true)
            .peer_no_context_takeover(true)
            .threshold(self.deflate_threshold);
        deflate.enabled = self.deflate;
        deflate
    }

    /// The default `pool` size: four workers per core (connections mostly wait, so a pool
    /// sized to the cores alone would leave them idle).
    pub fn default_pool_size() -> usize {
        std::thread::available_parallelism().map_or(4, |n| n.get() * 4)
    }

    /// The HTTP head limits as the ws crate's handshake limits.
    pub fn head_limits(&self) -> rustchat_ws::handshake::HeadLimits {
        rustchat_ws::handshake::HeadLimits {
            max_head_bytes: self.max_http_head,
            max_headers: self.max_http_headers,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_round_trip() {
        for name in ["async", "sequential", "threads:0", "threads:5", "pool:3"] {
            assert_eq!(
                Model::parse(name, 8).map(|m| m.name()),
                Ok(name.to_string())
            );
        }
        assert_eq!(
            Model::parse("pool", 8),
            Ok(Model::Blocking(Blocking::Pool(8)))
        );
        assert_eq!(
            Model::parse("threads", 8),
            Ok(Model::Blocking(Blocking::Threads(8)))
        );
    }

    #[test]
    fn bad_models_say_what_is_expected() {
        for bad in ["pool:0", "pool:x", "threads:", "threads:-1", "fibers", ""] {
            let err = Model::parse(bad, 8).expect_err(bad);
            assert!(
                err.contains("expected sequential, threads, threads:N"),
                "{err}"
            );
        }
    }
}
