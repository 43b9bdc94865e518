//! Which servers a run measures, and starting each one: our server under a model, a peer
//! (both as child processes of the current executable), or a server already running.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use anyhow::bail;

use crate::child::ChildServer;
use crate::cli::{Peer, PeerMode, RunOpts, Scenario, parse_model_list};
use crate::procfs;
use crate::tls::{BenchTls, Connector};

/// How a server under test comes to be.
#[derive(Debug, Clone, PartialEq)]
pub enum Spec {
    /// `rustchat serve --model MODEL`.
    Model(String),
    /// `rustchat bench serve-peer PEER --mode MODE`.
    Peer(Peer, PeerMode),
    /// Already running at this address (process id known or not).
    Target(SocketAddr, Option<u32>),
}

impl Spec {
    /// The name shown in reports.
    pub fn name(&self) -> String {
        match self {
            Self::Model(model) => model.clone(),
            Self::Peer(peer, _) => peer.name().to_string(),
            Self::Target(addr, _) => format!("target {addr}"),
        }
    }

    /// Whether it speaks the chat protocol (rooms, HELLO) rather than plain echo/broadcast.
    pub fn speaks_chat(&self) -> bool {
        !matches!(self, Self::Peer(..))
    }

    /// Starts it (or finds the running one's process), serving TLS with `tls`'s certificate
    /// when given.
    pub fn start(&self, exe: &Path, tls: Option<&BenchTls>) -> anyhow::Result<Live> {
        let tls_args = |cmd: &mut Command| {
            if let Some(tls) = tls {
                cmd.arg("--tls-cert").arg(&tls.cert);
                cmd.arg("--tls-key").arg(&tls.key);
            }
        };
        let mut live = match self {
            Self::Model(spec) => {
                // `[@EXE] MODEL [FLAG…]`: another binary, and extra `rustchat serve` flags.
                let mut words = spec.split_whitespace().peekable();
                let exe = match words.next_if(|w| w.starts_with('@')) {
                    Some(other) => Path::new(&other[1..]),
                    None => exe,
                };
                let model = words.next().unwrap_or("async");
                let mut cmd = Command::new(exe);
                cmd.args(["serve", "--model", model, "--listen", "127.0.0.1:0"])
                    .args(words)
                    .args(["--history", "memory", "--rate-limit", "off"])
                    .args(["--max-connections", "100000"])
                    // Every client of the bench comes from 127.0.0.1.
                    .args(["--max-connections-per-ip", "0", "--connect-rate", "off"])
                    // What an operator gets by default (chat messages are logged at debug).
                    .env("RUST_LOG", "info")
                    .env("NO_COLOR", "1");
                tls_args(&mut cmd);
                if tls.is_some() {
                    cmd.args(["--plaintext", "allow"]);
                }
                Live::child(cmd, self, &format!("`rustchat serve --model {model}`"))
            }
            Self::Peer(peer, mode) => {
                let mut cmd = Command::new(exe);
                cmd.args(["bench", "serve-peer", peer.name(), "--mode"])
                    .arg(match mode {
                        PeerMode::Echo => "echo",
                        PeerMode::Broadcast => "broadcast",
                    })
                    .args(["--listen", "127.0.0.1:0"]);
                tls_args(&mut cmd);
                Live::child(cmd, self, &format!("peer {}", peer.name()))
            }
            Self::Target(addr, pid) => Ok(Live {
                name: self.name(),
                addr: *addr,
                pid: pid.or_else(|| procfs::listening_pid(addr.port())),
                speaks_chat: true,
                raw_tcp: false,
                tls: None,
                child: None,
            }),
        }?;
        live.tls = tls.map(BenchTls::connector);
        Ok(live)
    }
}

/// A server ready to be measured.
#[derive(Debug)]
pub struct Live {
    /// Its name in reports.
    pub name: String,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its process, for CPU and memory.
    pub pid: Option<u32>,
    /// Whether clients must join rooms (a chat server) or just connect (a peer).
    pub speaks_chat: bool,
    /// Whether it is a plain TCP server (no WebSocket handshake).
    pub raw_tcp: bool,
    /// Clients speak TLS to it (`--tls`) through this.
    pub tls: Option<Connector>,
    child: Option<ChildServer>,
}

impl Live {
    fn child(cmd: Command, spec: &Spec, what: &str) -> anyhow::Result<Self> {
        let child = ChildServer::spawn(cmd, what)?;
        Ok(Self {
            name: spec.name(),
            addr: child.addr(),
            pid: Some(child.pid()),
            speaks_chat: spec.speaks_chat(),
            raw_tcp: matches!(spec, Spec::Peer(Peer::TcpEcho, _)),
            tls: None,
            child: Some(child),
        })
    }

    /// A server this process runs itself (tests): its CPU is counted with the generator's.
    pub fn in_process(name: &str, addr: SocketAddr, speaks_chat: bool, raw_tcp: bool) -> Self {
        Self {
            name: name.to_string(),
            addr,
            pid: Some(std::process::id()),
            speaks_chat,
            raw_tcp,
            tls: None,
            child: None,
        }
    }

    /// If the server was a child that died, what it said last.
    pub fn death_note(&mut self) -> Option<String> {
        let child = self.child.as_mut()?;
        child.has_exited().then(|| {
            format!(
                "the server exited; its last output:\n{}",
                child.last_output()
            )
        })
    }
}

/// The servers a scenario's options ask for, ours first (ratios are to the first).
pub fn specs(scenario: &Scenario) -> anyhow::Result<Vec<Spec>> {
    let Some(run) = scenario.run_opts() else {
        bail!("serve-peer measures nothing");
    };
    let name = scenario.name();
    let fits: &[Peer] = match scenario {
        Scenario::Broadcast(_) | Scenario::Idle(_) => &[Peer::TokioTungstenite],
        Scenario::Echo(_) => &Peer::ALL,
        // TLS handshakes are everybody's; the HELLO handshake is only ours.
        Scenario::Handshake(_) if run.tls => &[Peer::TokioTungstenite],
        _ => &[],
    };
    let mode = match scenario {
        Scenario::Echo(_) => PeerMode::Echo,
        _ => PeerMode::Broadcast,
    };
    // Under --tls, only the peers that serve TLS fit.
    let fits: Vec<Peer> = fits
        .iter()
        .copied()
        .filter(|p| !run.tls || p.serves_tls())
        .collect();
    let peers = peers(run, &fits, name)?;
    let mut specs = ours(run, scenario)?;
    for peer in peers.into_iter().map(|p| Spec::Peer(p, mode)) {
        if !specs.contains(&peer) {
            specs.push(peer);
        }
    }
    Ok(specs)
}

fn ours(run: &RunOpts, scenario: &Scenario) -> anyhow::Result<Vec<Spec>> {
    if let Some(addr) = run.target {
        return Ok(vec![Spec::Target(addr, run.server_pid)]);
    }
    if let Scenario::Echo(_) = scenario {
        if run.compare_models.is_some() {
            bail!(
                "echo measures WebSocket libraries, not chat models: use --peer (rustchat-ws is \
                 our library's echo server)"
            );
        }
        return Ok(vec![Spec::Peer(Peer::RustchatWs, PeerMode::Echo)]);
    }
    let models = match &run.compare_models {
        Some(list) => parse_model_list(list).map_err(anyhow::Error::msg)?,
        None => vec![run.model.clone()],
    };
    Ok(models.into_iter().map(Spec::Model).collect())
}

fn peers(run: &RunOpts, fits: &[Peer], scenario: &str) -> anyhow::Result<Vec<Peer>> {
    let mut out = Vec::new();
    for choice in &run.peer {
        match choice.peer() {
            None => out.extend_from_slice(fits),
            Some(p) if fits.contains(&p) => out.push(p),
            Some(p) => {
                let fitting: Vec<&str> = fits.iter().map(|p| p.name()).collect();
                bail!(
                    "peer {} cannot run `{scenario}`; peers for it: {}",
                    p.name(),
                    if fitting.is_empty() {
                        "none (the HELLO handshake is rustchat's own)".into()
                    } else {
                        fitting.join(", ")
                    }
                );
            }
        }
    }
    out.dedup();
    Ok(out)
}
