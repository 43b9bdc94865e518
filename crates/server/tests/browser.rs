//! The browser page end to end: a server on `127.0.0.1:0`, then `node
//! tests/browser/chat.test.mjs http://ADDR`, which drives two headless Chromium pages and a raw
//! TCP line client against it (what it checks is listed at the top of that script).
//!
//! It needs `node`, Debian's Chromium at `/usr/bin/chromium` (or `$CHROMIUM`) and
//! `tests/browser/node_modules` (playwright-core); `scripts/setup-browser` installs all three.
//! Without them the test prints `SKIPPED: …` and passes, unless `RUSTCHAT_REQUIRE_BROWSER=1`
//! (CI), where anything missing fails it.

#[macro_use]
mod common;

use std::io::{Read, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use rustchat_server::config::{HistoryMode, Model, ServerConfig};
use rustchat_server::server;
use rustchat_server::tls::Plaintext;

use common::tls::Pki;

/// The script stops itself after 60 s; this bounds a node or browser that hangs anyway.
const LIMIT: Duration = Duration::from_secs(120);

fn chat_page_works_in_headless_chromium(model: Model) {
    run_page_test(model, None);
}

/// The same over https (TLS on, a certificate from a CA made here): the page must talk wss://
/// to its own origin, and the terminal client beside it stays on plaintext (loopback).
fn chat_page_works_over_https(model: Model) {
    let pki = Pki::new();
    run_page_test(model, Some(&pki));
}

fn run_page_test(model: Model, tls: Option<&Pki>) {
    let root = repo_root();
    if !browser_available(&root) {
        return;
    }
    let mut config = ServerConfig {
        listen: vec!["127.0.0.1:0".parse().expect("a socket address")],
        history: HistoryMode::Memory,
        model,
        // Chromium may take longer than 100 ms between connecting and sending its request
        // when the machine is busy; the server then greets it in the line protocol and the
        // page load fails (ERR_INVALID_HTTP_RESPONSE). The terminal client waits for its
        // greeting, so a longer wait only slows it down.
        detect_timeout: Duration::from_secs(1),
        ..Default::default()
    };
    if let Some(pki) = tls {
        pki.serve_tls(&mut config, Plaintext::Loopback);
    }
    let server = server::start(config).expect("the server starts");
    let scheme = if tls.is_some() { "https" } else { "http" };
    let url = format!("{scheme}://{}", server.addr());
    let mut node = Command::new("node");
    node.arg(root.join("tests/browser/chat.test.mjs"))
        .arg(&url)
        .current_dir(&root);
    let run = run_bounded(node).expect("node runs");
    server.shutdown().expect("a clean shutdown");
    println!("{}{}", run.stdout, run.stderr);
    assert!(
        run.status.is_some_and(|s| s.success()),
        "the browser test failed ({}):\n--- stdout\n{}--- stderr\n{}",
        run.status
            .map_or_else(|| format!("killed after {LIMIT:?}"), |s| s.to_string()),
        run.stdout,
        run.stderr,
    );
}

use common::{async_model, pool, threads};

// Not `sequential`: the script holds two pages and a line client open at once.
scenarios!(async_model: chat_page_works_in_headless_chromium, chat_page_works_over_https);
scenarios!(threads: chat_page_works_in_headless_chromium, chat_page_works_over_https);
scenarios!(pool: chat_page_works_in_headless_chromium);

/// The workspace root (this crate is `crates/server`).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Whether node, Chromium and playwright-core are installed. If not: panics naming what is
/// missing when `RUSTCHAT_REQUIRE_BROWSER=1`, else says SKIPPED on stderr and returns false.
fn browser_available(root: &Path) -> bool {
    let chromium =
        std::env::var_os("CHROMIUM").map_or_else(|| "/usr/bin/chromium".into(), PathBuf::from);
    let node_works = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let mut missing = Vec::new();
    if !node_works {
        missing.push("node (not on PATH)".to_owned());
    }
    if !chromium.exists() {
        missing.push(format!("Chromium ({} does not exist)", chromium.display()));
    }
    let playwright = root.join("tests/browser/node_modules/playwright-core");
    if !playwright.exists() {
        missing.push(format!(
            "playwright-core ({} does not exist)",
            playwright.display()
        ));
    }
    if missing.is_empty() {
        return true;
    }
    let missing = missing.join(", ");
    if std::env::var("RUSTCHAT_REQUIRE_BROWSER").as_deref() == Ok("1") {
        panic!(
            "the browser test is required (RUSTCHAT_REQUIRE_BROWSER=1) but cannot run: missing \
             {missing} — install them with scripts/setup-browser"
        );
    }
    // Written to the stderr handle itself: libtest captures `eprintln!`, and a skip must show.
    let _ = writeln!(
        std::io::stderr(),
        "\n*** SKIPPED: browser test (chat_page_works_in_headless_chromium): missing {missing} \
         — run scripts/setup-browser ***\n"
    );
    false
}

/// What a bounded child process printed, and how it ended (`None`: killed at [`LIMIT`]).
#[derive(Debug)]
struct Run {
    status: Option<ExitStatus>,
    stdout: String,
    stderr: String,
}

/// Runs `command` with its output captured, killing it if it outlives [`LIMIT`].
fn run_bounded(mut command: Command) -> std::io::Result<Run> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().map(drain);
    let stderr = child.stderr.take().map(drain);
    let deadline = Instant::now() + LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if Instant::now() >= deadline {
            child.kill()?;
            child.wait()?;
            break None;
        }
        thread::sleep(Duration::from_millis(50));
    };
    let text = |reader: Option<thread::JoinHandle<String>>| {
        reader.map_or_else(String::new, |r| r.join().unwrap_or_default())
    };
    Ok(Run {
        status,
        stdout: text(stdout),
        stderr: text(stderr),
    })
}

/// Reads a pipe to its end on a thread, so a chatty child never blocks on a full pipe.
fn drain(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}
