//! The command line of `rustchat bench`: one subcommand per scenario, the same run options on
//! each (what to measure against, how long, how often, where the results go).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Load-test a chat server (ours under each concurrency model, or any running one) and compare
/// it with peer servers measured in the same run.
///
/// Raise the open-file limit first for big runs (`ulimit -n 65536`); the bench itself raises
/// its soft limit up to the hard limit.
#[derive(Debug, Parser)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub scenario: Scenario,
}

/// What load to generate.
#[derive(Debug, Subcommand)]
pub enum Scenario {
    /// C clients connect, run the HELLO handshake and quit, in a loop: connections per second
    /// (with --tls: full TLS handshakes, on any server).
    Handshake(HandshakeArgs),
    /// R rooms × C clients, S senders per room: deliveries per second and end-to-end latency.
    Broadcast(BroadcastArgs),
    /// WebSocket echo of M-byte messages over C connections (the ws library against peers).
    Echo(EchoArgs),
    /// Open N connections, join rooms and hold them: server memory per connection.
    Idle(IdleArgs),
    /// Run a peer server for comparison (started by the bench as a child process).
    #[command(hide = true)]
    ServePeer(ServePeerArgs),
}

/// Options every scenario takes.
#[derive(Debug, Clone, Args)]
pub struct RunOpts {
    /// How long each measured window lasts (`5s`, `300ms`, or seconds as a number).
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Load before measuring starts (not counted).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Measure every server this many times (each with a fresh server); the report shows the
    /// median of the runs.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub runs: u32,
    /// Bench an already-running rustchat server (or, for `echo`, any WebSocket echo server).
    #[arg(long, value_name = "ADDR")]
    pub target: Option<SocketAddr>,
    /// The process id of the --target server, for its CPU and memory (default: found from
    /// the listening port in /proc, when it runs on this machine as this user).
    #[arg(long, value_name = "PID", requires = "target")]
    pub server_pid: Option<u32>,
    /// Start our server under each of these models in turn (default: all four).
    #[arg(long, value_name = "MODELS", num_args = 0..=1,
          default_missing_value = "sequential,threads,pool,async", conflicts_with = "target")]
    pub compare_models: Option<String>,
    /// The model of the one server started when --compare-models is not given.
    #[arg(long, default_value = "async", value_parser = parse_model)]
    pub model: String,
    /// Also measure these peer servers (comma-separated, or `all`), each in its own process.
    #[arg(long, value_name = "NAME", value_delimiter = ',')]
    pub peer: Vec<PeerChoice>,
    /// Print the report as JSON on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Also write the report as JSON to this file (the table is still printed).
    #[arg(long, value_name = "FILE")]
    pub export_json: Option<PathBuf>,
    /// Also draw the report as an SVG chart.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// Spread client sockets over this many source addresses 127.0.0.1, .2, … (each has about
    /// 28,000 ports), for runs with very many connections.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub source_addrs: u8,
    /// Time allowed for all clients to connect and join before a run is given up.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub setup_timeout: Duration,
    /// Speak TLS to every server (wss://, TLS lines): the bench makes a certificate for the
    /// run and starts each server with it (peers: tokio-tungstenite, on tokio-rustls).
    #[arg(long, conflicts_with = "target")]
    pub tls: bool,
    /// WebSocket clients offer permessage-deflate (no context takeover either way) and inflate
    /// what comes compressed; servers that decline it (every peer) are sent plain frames.
    #[arg(long)]
    pub deflate: bool,
}

/// `handshake` options.
#[derive(Debug, Clone, Args)]
pub struct HandshakeArgs {
    /// Concurrent clients.
    #[arg(long, short = 'c', default_value_t = 100)]
    pub clients: usize,
    #[command(flatten)]
    pub run: RunOpts,
}

/// `broadcast` options.
#[derive(Debug, Clone, Args)]
pub struct BroadcastArgs {
    /// Rooms.
    #[arg(long, short = 'r', default_value_t = 1)]
    pub rooms: usize,
    /// Clients per room (senders included).
    #[arg(long, short = 'c', default_value_t = 1000)]
    pub clients: usize,
    /// Senders per room.
    #[arg(long, short = 's', default_value_t = 1)]
    pub senders: usize,
    /// Messages per second per sender, or `max` (flat out, see --window).
    #[arg(long, default_value = "100", value_parser = parse_rate)]
    pub rate: Rate,
    /// Flat out: most of its own messages a sender keeps unconfirmed (not yet received back).
    #[arg(long, default_value_t = 64)]
    pub window: u64,
    /// Message text size in bytes (at least 30: the timestamp stamp).
    #[arg(long, default_value_t = 32)]
    pub size: usize,
    /// Client transport.
    #[arg(long, value_enum, default_value_t = Transport::Ws)]
    pub transport: Transport,
    /// Newcomers a second who join the first room while it talks (each is sent its history
    /// replay and announced to the room, then leaves): a replay mix. Default: none.
    #[arg(long, value_name = "PER_SECOND", default_value_t = 0.0)]
    pub joiners: f64,
    #[command(flatten)]
    pub run: RunOpts,
}

/// `echo` options.
#[derive(Debug, Clone, Args)]
pub struct EchoArgs {
    /// Connections, each with one message in flight.
    #[arg(long, short = 'c', default_value_t = 100)]
    pub clients: usize,
    /// Message size in bytes (at least 8: the timestamp).
    #[arg(long, default_value_t = 20)]
    pub size: usize,
    #[command(flatten)]
    pub run: RunOpts,
}

/// `idle` options.
#[derive(Debug, Clone, Args)]
pub struct IdleArgs {
    /// Connections to open and hold.
    #[arg(long, short = 'n', default_value_t = 1000)]
    pub connections: usize,
    /// Rooms the connections are spread over (chat servers only).
    #[arg(long, default_value_t = 100)]
    pub rooms: usize,
    /// Client transport.
    #[arg(long, value_enum, default_value_t = Transport::Ws)]
    pub transport: Transport,
    /// Connections being set up at once.
    #[arg(long, default_value_t = 128)]
    pub concurrency: usize,
    #[command(flatten)]
    pub run: RunOpts,
}

/// `serve-peer` options (hidden: the bench starts peers itself).
#[derive(Debug, Clone, Args)]
pub struct ServePeerArgs {
    /// Which peer.
    #[arg(value_enum)]
    pub peer: Peer,
    /// What it does with messages.
    #[arg(long, value_enum, default_value_t = PeerMode::Echo)]
    pub mode: PeerMode,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Serve TLS with this certificate (PEM; with --tls-key), on tokio-rustls.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The --tls-cert's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

/// How clients talk to a chat server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// WebSocket text frames (`/ws`).
    Ws,
    /// The line protocol over TCP.
    Line,
}

/// A sender's pace.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub enum Rate {
    /// Messages per second.
    PerSecond(f64),
    /// As fast as the window of unconfirmed messages allows.
    Max,
}

/// A peer server built into the bench.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Peer {
    /// tokio-tungstenite: a minimal broadcast server (broadcast, idle) or echo server (echo).
    TokioTungstenite,
    /// fastwebsockets echo server.
    Fastwebsockets,
    /// Plain tokio TCP echo: the floor (no WebSocket at all).
    TcpEcho,
    /// Our rustchat-ws WebSocket echo server (the ws crate's `echo-server` example).
    RustchatWs,
    /// yawc's echo server on hyper, with permessage-deflate (level 1).
    Yawc,
}

/// `--peer` values: a peer or all that fit the scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PeerChoice {
    TokioTungstenite,
    Fastwebsockets,
    TcpEcho,
    RustchatWs,
    Yawc,
    /// Every peer that can run the scenario.
    All,
}

/// What a peer server does with the messages it receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PeerMode {
    /// Send each message back to its sender.
    Echo,
    /// Send each text message to every connected client (the sender too).
    Broadcast,
}

impl Peer {
    /// Whether it can serve TLS (`--tls`).
    pub fn serves_tls(self) -> bool {
        matches!(self, Self::TokioTungstenite | Self::RustchatWs)
    }

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::TokioTungstenite => "tokio-tungstenite",
            Self::Fastwebsockets => "fastwebsockets",
            Self::TcpEcho => "tcp-echo",
            Self::RustchatWs => "rustchat-ws",
            Self::Yawc => "yawc",
        }
    }

    /// Every peer.
    pub const ALL: [Peer; 5] = [
        Self::RustchatWs,
        Self::Fastwebsockets,
        Self::TokioTungstenite,
        Self::TcpEcho,
        Self::Yawc,
    ];
}

impl PeerChoice {
    /// The peer named, `None` for `all`.
    pub fn peer(self) -> Option<Peer> {
        match self {
            Self::TokioTungstenite => Some(Peer::TokioTungstenite),
            Self::Fastwebsockets => Some(Peer::Fastwebsockets),
            Self::TcpEcho => Some(Peer::TcpEcho),
            Self::RustchatWs => Some(Peer::RustchatWs),
            Self::Yawc => Some(Peer::Yawc),
            Self::All => None,
        }
    }
}

impl Scenario {
    /// The run options, for every scenario but `serve-peer`.
    pub fn run_opts(&self) -> Option<&RunOpts> {
        match self {
            Self::Handshake(a) => Some(&a.run),
            Self::Broadcast(a) => Some(&a.run),
            Self::Echo(a) => Some(&a.run),
            Self::Idle(a) => Some(&a.run),
            Self::ServePeer(_) => None,
        }
    }

    /// The scenario's name.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Handshake(_) => "handshake",
            Self::Broadcast(_) => "broadcast",
            Self::Echo(_) => "echo",
            Self::Idle(_) => "idle",
            Self::ServePeer(_) => "serve-peer",
        }
    }
}

/// Parses `5s`, `300ms`, `1.5s`, `2m` or a plain number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}`: expected a duration like 5s, 300ms or 2m"))?;
    let seconds = match unit.trim() {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" | "min" => value * 60.0,
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{text}`: use ms, s or m"
            ));
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("`{text}`: {e}"))
}

/// Parses `--rate`: a positive number of messages per second, or `max`.
pub fn parse_rate(text: &str) -> Result<Rate, String> {
    if text.eq_ignore_ascii_case("max") {
        return Ok(Rate::Max);
    }
    match text.parse::<f64>() {
        Ok(n) if n > 0.0 && n.is_finite() => Ok(Rate::PerSecond(n)),
        _ => Err(format!(
            "`{text}`: expected messages per second (e.g. 100) or `max`"
        )),
    }
}

/// Checks a `--model` name with the parser `rustchat serve --model` uses, so the two accept
/// the same names and say the same thing about the others.
/// A model, optionally followed by more `rustchat serve` flags for that subject
/// (`"async --deflate off"`): the same server measured with and without a setting, in one run.
/// A first word `@PATH` runs another `rustchat` binary (`"@old/rustchat async"`): two builds
/// of the server, in one run.
pub fn parse_model(text: &str) -> Result<String, String> {
    let mut words = text.split_whitespace();
    let mut model = words.next().unwrap_or_default();
    if model.starts_with('@') {
        model = words.next().unwrap_or_default();
    }
    rustchat_server::config::Model::parse(model, 1).map(|_| text.to_owned())
}

/// Splits `--compare-models`' list and checks every name.
pub fn parse_model_list(text: &str) -> Result<Vec<String>, String> {
    let models: Vec<String> = text
        .split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(parse_model)
        .collect::<Result<_, _>>()?;
    if models.is_empty() {
        return Err("--compare-models: name at least one model".into());
    }
    Ok(models)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_lists_take_what_serve_takes() {
        assert_eq!(
            parse_model_list("sequential, threads:0,threads,pool:3 ,async"),
            Ok(vec![
                "sequential".to_string(),
                "threads:0".into(),
                "threads".into(),
                "pool:3".into(),
                "async".into()
            ])
        );
        for bad in ["pool:0", "threads:x", "fibers"] {
            let err = parse_model_list(bad).expect_err(bad);
            assert!(
                err.contains("expected sequential, threads, threads:N"),
                "{err}"
            );
        }
        assert!(parse_model_list(" , ").is_err(), "an empty list");
    }

    #[test]
    fn a_subject_may_carry_serve_flags_and_another_binary() {
        assert_eq!(
            parse_model_list("async --deflate off,@/opt/old/rustchat threads"),
            Ok(vec![
                "async --deflate off".to_string(),
                "@/opt/old/rustchat threads".into()
            ])
        );
        let err = parse_model_list("@/opt/old/rustchat fibers").expect_err("a bad model");
        assert!(err.contains("expected sequential"), "{err}");
    }
}
