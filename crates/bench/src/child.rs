//! Servers the bench starts as child processes: our server under a model, or a peer. Each runs
//! in its own process so that its CPU time and memory are its own.
//!
//! A child says where it listens on stderr (`… listening on ADDR …`); the bench reads that
//! line, then keeps draining stderr on a thread (a full pipe would stall the server) and keeps
//! the last lines to explain a failure. Dropping a [`ChildServer`] kills the process.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use anyhow::{Context, bail};

/// How long a child may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// Lines of stderr kept for error messages.
const KEPT_LINES: usize = 20;

/// A running child server.
#[derive(Debug)]
pub struct ChildServer {
    child: Child,
    addr: SocketAddr,
    last_lines: Arc<Mutex<VecDeque<String>>>,
}

impl ChildServer {
    /// Starts `command` and waits until it says where it listens.
    pub fn spawn(mut command: Command, what: &str) -> anyhow::Result<Self> {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start {what}"))?;
        let stderr = child.stderr.take().context("no stderr pipe")?;
        let last_lines = Arc::new(Mutex::new(VecDeque::new()));
        let (found_tx, found_rx) = mpsc::channel();
        let kept = last_lines.clone();
        std::thread::Builder::new()
            .name("bench-child-stderr".into())
            .spawn(move || drain(stderr, &found_tx, &kept))
            .context("cannot start a thread")?;
        let mut server = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            last_lines,
        };
        match found_rx.recv_timeout(START_TIMEOUT) {
            Ok(addr) => server.addr = addr,
            Err(_) => bail!(
                "{what} did not say `listening on ADDR` within {} s; its last output:\n{}",
                START_TIMEOUT.as_secs(),
                server.last_output()
            ),
        }
        Ok(server)
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it has exited (crashed, or refused its arguments).
    pub fn has_exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// Its last lines on stderr.
    pub fn last_output(&self) -> String {
        let lines = self.last_lines.lock().unwrap_or_else(|p| p.into_inner());
        lines.iter().cloned().collect::<Vec<_>>().join("\n")
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn drain(
    stderr: impl std::io::Read,
    found: &mpsc::Sender<SocketAddr>,
    kept: &Mutex<VecDeque<String>>,
) {
    let mut announced = false;
    for line in BufReader::new(stderr).lines() {
        let Ok(line) = line else { return };
        if !announced && let Some(addr) = parse_listening(&line) {
            announced = true;
            let _ = found.send(addr);
        }
        let mut kept = kept.lock().unwrap_or_else(|p| p.into_inner());
        if kept.len() == KEPT_LINES {
            kept.pop_front();
        }
        kept.push_back(line);
    }
}

/// The address in a `… listening on ADDR …` line (`ws://` and trailing punctuation allowed).
pub fn parse_listening(line: &str) -> Option<SocketAddr> {
    let rest = &line[line.find("listening on ")? + "listening on ".len()..];
    let word = rest.split_whitespace().next()?;
    let word = word.strip_prefix("ws://").unwrap_or(word);
    word.trim_end_matches([',', ';', ')', '/']).parse().ok()
}
