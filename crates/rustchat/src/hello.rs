//! `rustchat hello HOST:PORT [SEQ]`: the HELLO X / X+1 / X+2 handshake as a probe.
//!
//! Prints the three lines and the round trip (from sending `HELLO X` to reading `HELLO X+1`),
//! checks that the server then starts the session (its welcome), says `/quit` and closes.
//! With `--count N` it repeats and prints min/avg/max. The protocol logic is
//! `rustchat_proto::HelloClient`; this file only moves lines over a blocking socket.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use clap::Args;
use rustchat_client::{random_unit, sanitize};
use rustchat_proto::{HELLO_MAX, HelloClient};

/// Options of `rustchat hello`.
#[derive(Debug, Args)]
pub(crate) struct HelloArgs {
    /// Server address (line protocol), like 127.0.0.1:8080.
    #[arg(value_name = "HOST:PORT")]
    addr: String,
    /// The number X to start from, at most 18446744073709551613 (default: random).
    #[arg(value_name = "SEQ", value_parser = parse_seq)]
    seq: Option<u64>,
    /// Run the handshake N times (a new connection each) and print min/avg/max round trip.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    count: u32,
    /// Seconds to wait for the connection and for each answer.
    #[arg(long, value_name = "SECS", default_value_t = 5)]
    timeout: u64,
}

fn parse_seq(text: &str) -> Result<u64, String> {
    let seq: u64 = text
        .parse()
        .map_err(|_| format!("expected a number from 0 to {HELLO_MAX}"))?;
    HelloClient::new(seq).map_err(|e| e.to_string())?;
    Ok(seq)
}

/// Runs the probe; an error if any handshake fails.
pub(crate) fn run(args: HelloArgs) -> anyhow::Result<()> {
    let addrs: Vec<SocketAddr> = args
        .addr
        .to_socket_addrs()
        .with_context(|| {
            format!(
                "cannot resolve `{}`: expected HOST:PORT, like 127.0.0.1:8080",
                args.addr
            )
        })?
        .collect();
    let timeout = Duration::from_secs(args.timeout.max(1));
    let mut rtts = Vec::new();
    for round in 1..=args.count {
        let seq = args.seq.unwrap_or_else(|| (random_unit() * 1e6) as u64);
        let mut transcript = Vec::new();
        let result = handshake(&args.addr, &addrs, seq, timeout, &mut transcript);
        if args.count == 1 || result.is_err() {
            for line in &transcript {
                println!("{line}");
            }
        }
        let rtt = result?;
        if args.count == 1 {
            println!("handshake ok with {}: round trip {}", args.addr, ms(rtt));
        } else {
            println!(
                "hello {round}/{}: HELLO {seq}, round trip {}",
                args.count,
                ms(rtt)
            );
        }
        rtts.push(rtt);
    }
    if args.count > 1 {
        let min = rtts.iter().min().copied().unwrap_or_default();
        let max = rtts.iter().max().copied().unwrap_or_default();
        let avg = rtts.iter().sum::<Duration>() / args.count;
        println!(
            "{} handshakes with {}: round trip min/avg/max = {}/{}/{}",
            args.count,
            args.addr,
            ms(min),
            ms(avg),
            ms(max)
        );
    }
    Ok(())
}

fn ms(duration: Duration) -> String {
    format!("{:.3} ms", duration.as_secs_f64() * 1000.0)
}

/// One handshake on a new connection; `transcript` gets the lines (`> ` sent, `< ` received).
fn handshake(
    addr: &str,
    addrs: &[SocketAddr],
    seq: u64,
    timeout: Duration,
    transcript: &mut Vec<String>,
) -> anyhow::Result<Duration> {
    let stream = connect(addr, addrs, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    let _ = stream.set_nodelay(true);
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut client = HelloClient::new(seq)?;

    let first = client.first_line();
    let start = Instant::now();
    writer.write_all(format!("{first}\n").as_bytes())?;
    transcript.push(format!("> {first}"));
    let reply = read_line(&mut reader, addr)?;
    let rtt = start.elapsed();
    transcript.push(format!("< {}", sanitize(&reply)));
    if reply.starts_with("ERROR ") {
        bail!("{addr} refused the handshake: {}", sanitize(&reply));
    }
    let last = client
        .receive(&reply)
        .map_err(|e| anyhow!("{addr} answered wrongly: {e}"))?;
    writer.write_all(format!("{last}\n").as_bytes())?;
    transcript.push(format!("> {last}"));

    // The server checks the third line: an error, or the session's welcome, comes next.
    let next = read_line(&mut reader, addr)?;
    if next.starts_with("ERROR ") {
        transcript.push(format!("< {}", sanitize(&next)));
        bail!("{addr} refused the handshake: {}", sanitize(&next));
    }
    let _ = writer.write_all(b"/quit\n");
    let _ = writer.shutdown(std::net::Shutdown::Write);
    // Read the goodbye until the server closes (bounded by the read timeout).
    let mut rest = Vec::new();
    let _ = std::io::Read::read_to_end(&mut reader, &mut rest);
    Ok(rtt)
}

fn connect(addr: &str, addrs: &[SocketAddr], timeout: Duration) -> anyhow::Result<TcpStream> {
    let mut last = None;
    for socket in addrs {
        match TcpStream::connect_timeout(socket, timeout) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some(e),
        }
    }
    let reason = match last {
        Some(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused — is rustchat serve running?".to_owned()
        }
        Some(e) if e.kind() == std::io::ErrorKind::TimedOut => {
            format!("no answer within {} s", timeout.as_secs_f64())
        }
        Some(e) => e.to_string(),
        None => "the name has no address".to_owned(),
    };
    bail!("cannot connect to {addr}: {reason}")
}

/// One line from the server, without its terminator.
fn read_line(reader: &mut impl BufRead, addr: &str) -> anyhow::Result<String> {
    let mut line = String::new();
    let read = reader.read_line(&mut line).map_err(|e| match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
            anyhow!("{addr} did not answer in time")
        }
        _ => anyhow!("reading from {addr} failed: {e}"),
    })?;
    if read == 0 {
        bail!("{addr} closed the connection without answering");
    }
    let line = line.strip_suffix('\n').unwrap_or(&line);
    Ok(line.strip_suffix('\r').unwrap_or(line).to_owned())
}
