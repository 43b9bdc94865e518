//! `rustchat serve` as a child process, for the tests that need the real binary (a crash, a
//! signal, memory measured from outside): started on port 0, its address read from its log,
//! killed when dropped so that a failing test leaves nothing behind.

#![allow(dead_code)] // each test file uses a different subset

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long the binary may take to say where it listens.
const STARTUP: Duration = Duration::from_secs(20);

/// A running `rustchat serve`.
pub(crate) struct ServeProcess {
    pub(crate) child: Child,
    pub(crate) addr: SocketAddr,
    /// Its log lines after the listening line (drained on a thread: a full pipe would block
    /// the server).
    pub(crate) log: mpsc::Receiver<String>,
}

impl ServeProcess {
    /// Runs `bin serve --listen 127.0.0.1:0 --data-dir DATA_DIR ARGS…` with an `info` log, and
    /// waits for the line that says where it listens.
    pub(crate) fn start(bin: &Path, data_dir: &Path, args: &[&str]) -> Result<Self, String> {
        let mut child = Command::new(bin)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(args)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let Some(stderr) = child.stderr.take() else {
            return Err("the child has no stderr pipe".into());
        };
        let (tx, log) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        // Built before the address is known, so that an early return still kills the child.
        let mut process = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            log,
        };
        let deadline = Instant::now() + STARTUP;
        process.addr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = process
                .log
                .recv_timeout(left)
                .map_err(|_| format!("no `rustchat listening on` log line within {STARTUP:?}"))?;
            if let Some(rest) = line.split("rustchat listening on ").nth(1) {
                let addr = rest.split(' ').next().unwrap_or_default();
                break addr
                    .parse()
                    .map_err(|e| format!("listening address {addr:?}: {e}"))?;
            }
        };
        Ok(process)
    }

    /// Log lines until one satisfies `done` (returned last, after the lines before it), or
    /// panics after `limit` showing what the log said.
    pub(crate) fn log_until(
        &self,
        what: &str,
        limit: Duration,
        done: impl Fn(&str) -> bool,
    ) -> Vec<String> {
        let deadline = Instant::now() + limit;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = self.log.recv_timeout(left) else {
                panic!(
                    "no log line with {what}; the log said:\n{}",
                    seen.join("\n")
                );
            };
            let found = done(&line);
            seen.push(line);
            if found {
                return seen;
            }
        }
    }

    /// The process id, as `kill` takes it.
    pub(crate) fn pid(&self) -> String {
        self.child.id().to_string()
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
