//! `rustchat hello`, end to end: against a real server in-process, and against fake servers
//! that answer wrongly.

mod common;

use common::{Result, server};

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Output};
use std::thread::JoinHandle;
use std::time::Duration;

fn hello(args: &[&str]) -> Result<Output> {
    Ok(Command::new(env!("CARGO_BIN_EXE_rustchat"))
        .arg("hello")
        .args(args)
        .args(["--timeout", "5"])
        .output()?)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A one-connection fake server: reads the client's first line, answers `reply`, then
/// returns everything else the client sent.
fn fake_server(reply: &'static str) -> Result<(SocketAddr, JoinHandle<String>)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let handle = std::thread::spawn(move || {
        let Ok((stream, _)) = listener.accept() else {
            return String::new();
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let mut reader = BufReader::new(&stream);
        let mut first = String::new();
        let _ = reader.read_line(&mut first);
        let _ = (&stream).write_all(reply.as_bytes());
        let mut rest = String::new();
        let _ = reader.read_to_string(&mut rest);
        first + &rest
    });
    Ok((addr, handle))
}

#[test]
fn handshake_with_a_real_server_prints_three_lines_and_the_round_trip() -> Result {
    let server = server()?;
    let output = hello(&[&server.addr().to_string(), "41"])?;
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout} {}", text(&output.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[..3],
        ["> HELLO 41", "< HELLO 42", "> HELLO 43"],
        "{stdout}"
    );
    assert!(lines[3].starts_with(&format!("handshake ok with {}: round trip ", server.addr())));
    assert!(lines[3].ends_with(" ms"), "{stdout}");
    assert_eq!(lines.len(), 4, "{stdout}");
    Ok(())
}

#[test]
fn random_start_and_count_print_min_avg_max() -> Result {
    let server = server()?;
    let output = hello(&[&server.addr().to_string(), "--count", "3"])?;
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout} {}", text(&output.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    for (n, line) in lines[..3].iter().enumerate() {
        assert!(
            line.starts_with(&format!("hello {}/3: HELLO ", n + 1)),
            "{stdout}"
        );
    }
    assert!(lines[3].starts_with("3 handshakes with "), "{stdout}");
    assert!(lines[3].contains("round trip min/avg/max = "), "{stdout}");
    Ok(())
}

#[test]
fn a_wrong_number_fails_with_exit_one() -> Result {
    let (addr, fake) = fake_server("HELLO 99\n")?;
    let output = hello(&[&addr.to_string(), "41"])?;
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(text(&output.stdout), "> HELLO 41\n< HELLO 99\n");
    assert_eq!(
        text(&output.stderr).trim(),
        format!("Error: {addr} answered wrongly: handshake: expected HELLO 42, got HELLO 99")
    );
    assert_eq!(
        fake.join().map_err(|_| "fake server panicked")?,
        "HELLO 41\n"
    );
    Ok(())
}

#[test]
fn a_server_error_is_shown_and_fails_with_exit_one() -> Result {
    let (addr, fake) = fake_server("ERROR handshake: expected HELLO <n>, got \u{1b}[2J\n")?;
    let output = hello(&[&addr.to_string(), "7"])?;
    assert_eq!(output.status.code(), Some(1));
    let stdout = text(&output.stdout);
    assert_eq!(
        stdout,
        "> HELLO 7\n< ERROR handshake: expected HELLO <n>, got \\x1b[2J\n"
    );
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("refused the handshake: ERROR handshake: expected HELLO <n>"),
        "{stderr}"
    );
    assert!(!stderr.contains('\u{1b}'), "{stderr}");
    fake.join().map_err(|_| "fake server panicked")?;
    Ok(())
}

#[test]
fn usage_and_connection_errors() -> Result {
    let output = hello(&["127.0.0.1:1", "18446744073709551614"])?;
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("is too large"));
    let output = hello(&["127.0.0.1:1", "--count", "0"])?;
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let output = hello(&[&format!("127.0.0.1:{port}")])?;
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        text(&output.stderr).trim(),
        format!(
            "Error: cannot connect to 127.0.0.1:{port}: connection refused — is rustchat serve running?"
        )
    );
    let output = hello(&["no-port-here"])?;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("expected HOST:PORT"),
        "{}",
        text(&output.stderr)
    );
    Ok(())
}
