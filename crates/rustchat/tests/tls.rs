//! TLS through the real binary: `serve --tls-self-signed` (made once, kept, announced with its
//! fingerprint), `connect --ca-file … tls://…` against it, reloads on SIGHUP, and start-up
//! errors that name the file.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::process::ServeProcess;

const TIMEOUT: Duration = Duration::from_secs(10);

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_rustchat"))
}

/// The first log line that satisfies `done`.
fn log_until(server: &ServeProcess, what: &str, done: impl Fn(&str) -> bool) -> String {
    let mut lines = server.log_until(what, TIMEOUT, done);
    lines.pop().unwrap_or_default()
}

/// `rustchat connect ARGS…` in line mode with `input` on its standard input; its output.
fn connect(args: &[&str], input: &str) -> (bool, String, String) {
    let mut child = Command::new(bin())
        .arg("connect")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rustchat connect starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write");
    let deadline = Instant::now() + TIMEOUT;
    while child.try_wait().expect("status").is_none() {
        assert!(Instant::now() < deadline, "rustchat connect did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_self_signed_server_is_announced_kept_and_reached_with_its_certificate() {
    let dir = tempfile::tempdir().expect("a directory");
    let args = ["--history", "memory", "--tls-self-signed"];
    let server = ServeProcess::start(bin(), dir.path(), &args).expect("serve starts");
    let tls_line = log_until(&server, "the certificate", |l| {
        l.contains("TLS on: certificate")
    });
    let fingerprint = tls_line
        .split("SHA-256 fingerprint ")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .expect("a fingerprint")
        .to_owned();
    assert_eq!(fingerprint.len(), 32 * 3 - 1, "{tls_line}");
    let how = log_until(&server, "how to trust it", |l| {
        l.contains("self-signed certificate")
    });
    assert!(
        how.contains("made now") && how.contains("--ca-file"),
        "{how}"
    );

    let cert = dir.path().join("tls/self-signed-cert.pem");
    let cert = cert.to_str().expect("a UTF-8 path");
    let url = format!("tls://localhost:{}", server.addr.port());
    let (ok, out, err) = connect(&["--ca-file", cert, &url], "/nick secure\nhello over tls\n");
    assert!(ok, "{out}\n{err}");
    assert!(
        out.contains("<secure> hello over tls") && out.contains("BYE"),
        "{out}\n{err}"
    );

    // Without the certificate: refused, saying what to do.
    let (ok, out, err) = connect(&[&url], "hi\n");
    assert!(!ok, "{out}");
    assert!(err.contains("--ca-file"), "{err}");
    drop(server);

    // A restart keeps the pair: the same fingerprint, "kept".
    let again = ServeProcess::start(bin(), dir.path(), &args).expect("serve starts again");
    let tls_line = log_until(&again, "the certificate", |l| {
        l.contains("TLS on: certificate")
    });
    assert!(tls_line.contains(&fingerprint), "{tls_line}");
    let how = log_until(&again, "how to trust it", |l| {
        l.contains("self-signed certificate")
    });
    assert!(how.contains("kept from an earlier start"), "{how}");
}

/// Writes a certificate for localhost with a fresh key as `NAME-cert.pem` / `NAME-key.pem`.
fn pair(dir: &Path, name: &str) -> (String, String) {
    let key = rcgen::KeyPair::generate().expect("a key");
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .expect("params")
        .self_signed(&key)
        .expect("a certificate");
    let cert_path = dir.join(format!("{name}-cert.pem"));
    let key_path = dir.join(format!("{name}-key.pem"));
    std::fs::write(&cert_path, cert.pem()).expect("write");
    std::fs::write(&key_path, key.serialize_pem()).expect("write");
    let text = |p: std::path::PathBuf| p.to_str().expect("a UTF-8 path").to_owned();
    (text(cert_path), text(key_path))
}

#[test]
fn sighup_reloads_and_a_broken_pair_keeps_the_one_in_use() {
    let dir = tempfile::tempdir().expect("a directory");
    let (cert, key) = pair(dir.path(), "server");
    let args = [
        "--history",
        "memory",
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
    ];
    let server = ServeProcess::start(bin(), dir.path(), &args).expect("serve starts");
    log_until(&server, "the certificate", |l| {
        l.contains("TLS on: certificate")
    });

    // A key that is not the certificate's: the watcher refuses it and says why.
    let (_, other_key) = pair(dir.path(), "other");
    std::fs::copy(&other_key, &key).expect("replace the key");
    let refused = log_until(&server, "a refused reload", |l| {
        l.contains("the certificate in use stays")
    });
    assert!(
        refused.contains("does not belong to the certificate"),
        "{refused}"
    );

    // Unchanged files are not looked at again by the watcher, but SIGHUP always reloads.
    let hup = Command::new("kill")
        .args(["-HUP", &server.pid()])
        .status()
        .expect("kill runs");
    assert!(hup.success());
    let again = log_until(&server, "SIGHUP's reload", |l| {
        l.contains("the certificate in use stays")
    });
    assert!(again.contains("server-key.pem"), "{again}");

    // A good pair again, by SIGHUP (or the watcher, whichever comes first): loaded.
    let (new_cert, new_key) = pair(dir.path(), "next");
    std::fs::copy(&new_cert, &cert).expect("replace the certificate");
    std::fs::copy(&new_key, &key).expect("replace the key");
    let _ = Command::new("kill").args(["-HUP", &server.pid()]).status();
    let loaded = log_until(&server, "the new pair", |l| {
        l.contains("new handshakes get the certificate")
    });
    assert!(loaded.contains("server-cert.pem"), "{loaded}");
}

#[test]
fn a_pair_that_cannot_be_loaded_stops_the_start_naming_the_file() {
    let dir = tempfile::tempdir().expect("a directory");
    let missing = dir.path().join("missing.pem");
    let missing = missing.to_str().expect("a UTF-8 path");
    let out = Command::new(bin())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--history",
            "memory",
            "--data-dir",
        ])
        .arg(dir.path())
        .args(["--tls-cert", missing, "--tls-key", missing])
        .output()
        .expect("serve runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot serve TLS") && err.contains("missing.pem"),
        "{err}"
    );

    let out = Command::new(bin())
        .args(["serve", "--tls-cert", missing])
        .output()
        .expect("serve runs");
    assert_eq!(out.status.code(), Some(2), "a usage error");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tls-key"));
}
