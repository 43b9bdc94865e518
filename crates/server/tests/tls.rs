//! End to end: TLS on the chat port — TLS lines, `wss://` and `https://` beside plaintext,
//! the `--plaintext` policy, broken and stalled handshakes, and certificate reloads — under
//! every model. Certificates come from a CA made in the test (`common::tls::Pki`).

#[macro_use]
mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use common::tls::{self as tls, Pki};
use common::{LineClient, TIMEOUT, eventually, metric, serve, untimed};
use rustchat_server::config::Model;
use rustchat_server::server::RunningServer;
use rustchat_server::tls::Plaintext;
use rustls::pki_types::pem::PemObject;
use tempfile::TempDir;

/// A server of `model` with TLS on (a pair from `pki`, serial 1) and `plaintext` as given.
fn tls_server(model: Model, pki: &Pki, plaintext: Plaintext) -> (RunningServer, TempDir) {
    serve(|config| {
        config.model = model;
        config.handshake_timeout = Duration::from_millis(600);
        pki.serve_tls(config, plaintext);
    })
}

fn tls_metric(server: &RunningServer, result: &str) -> u64 {
    let name = format!("rustchat_tls_handshakes_total{{result=\"{result}\"}}");
    metric(&server.metrics_text(), &name)
}

/// A TLS line client, a plaintext line client and a `wss://` client chat in one room; the
/// page and health check answer over `https://`.
fn tls_and_plaintext_chat_in_one_room(model: Model) {
    let pki = Pki::new();
    let (server, _dir) = tls_server(model, &pki, Plaintext::Loopback);
    let client = pki.client();
    let addr = server.addr();
    let mut alice = tls::line(addr, &client).renamed("alice");
    let mut bob = LineClient::named(addr, "bob");
    let mut carol = tls::wss(addr, &client, &[]);
    carol.expect_text("the welcome line", |t| t.starts_with("*** welcome, "));
    carol.send_text("/nick carol");
    bob.expect("carol's nick", |l| l.ends_with("is now known as carol"));

    alice.send("hello from TLS");
    bob.expect_event("#lobby <alice> hello from TLS");
    carol.expect_text("alice's line", |t| {
        untimed(t) == "#lobby <alice> hello from TLS"
    });
    bob.send("hello from plaintext");
    alice.expect_event("#lobby <bob> hello from plaintext");
    carol.send_text("hello from wss");
    alice.expect_event("#lobby <carol> hello from wss");
    bob.expect_event("#lobby <carol> hello from wss");

    let health = tls::https_get(addr, &client, "/healthz");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.ends_with("ok\n"), "{health}");
    let page = tls::https_get(addr, &client, "/");
    assert!(page.contains("<html"), "the page over https: {page:.200}");
    // alice, carol, and the two https requests.
    assert_eq!(tls_metric(&server, "ok"), 4);
}

/// A TLS client that says nothing after its handshake is a person at a terminal
/// (`openssl s_client`): it is greeted, as a silent plaintext client is. Its goodbye ends with
/// a `close_notify`.
fn a_silent_tls_client_is_greeted(model: Model) {
    let pki = Pki::new();
    let (server, _dir) = tls_server(model, &pki, Plaintext::Loopback);
    let mut client = tls::line(server.addr(), &pki.client());
    client.expect("the greeting", |l| {
        l.starts_with("*** rustchat: press Enter")
    });
    client.send("/quit");
    let rest = client.expect_eof();
    assert!(rest.iter().any(|l| l.starts_with("BYE")), "{rest:?}");
    // After a close_notify rustls reads a clean end; without one, `UnexpectedEof`.
    let end = client.stream.read(&mut [0u8; 16]);
    assert!(matches!(end, Ok(0)), "the server ends TLS cleanly: {end:?}");
}

/// `--plaintext refuse`: a plaintext line client is told to use TLS; a page request is
/// redirected to `https://`; a plaintext WebSocket upgrade gets 426; TLS still serves.
fn plaintext_is_refused_when_tls_is_required(model: Model) {
    let pki = Pki::new();
    let (server, _dir) = tls_server(model, &pki, Plaintext::Refuse);
    let addr = server.addr();

    let mut line = LineClient::connect(addr);
    line.send("hello?");
    let said = line.expect_eof();
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        said[0].starts_with("ERROR this server requires TLS") && said[0].contains("tls://"),
        "{said:?}"
    );

    let mut silent = LineClient::connect(addr);
    let said = silent.expect_eof();
    assert!(
        said[0].starts_with("ERROR this server requires TLS"),
        "{said:?}"
    );

    let page = http_exchange(
        addr,
        &format!(
            "GET /healthz HTTP/1.1\r\nHost: localhost:{}\r\n\r\n",
            addr.port()
        ),
    );
    assert!(page.starts_with("HTTP/1.1 308"), "{page}");
    let location = format!("Location: https://localhost:{}/healthz\r\n", addr.port());
    assert!(page.contains(&location), "{page}");

    let upgrade = http_exchange(addr, &common::upgrade_request(addr, ""));
    assert!(upgrade.starts_with("HTTP/1.1 426"), "{upgrade}");
    assert!(upgrade.contains("wss://"), "{upgrade}");

    tls::line(addr, &pki.client()).greeted();
    let text = server.metrics_text();
    assert_eq!(metric(&text, "rustchat_tls_plaintext_refusals_total"), 4);
}

/// Sends `request` on a plaintext connection and reads the answer to the end.
fn http_exchange(addr: std::net::SocketAddr, request: &str) -> String {
    let mut tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    tcp.write_all(request.as_bytes()).expect("send");
    let mut answer = Vec::new();
    let _ = tcp.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// Reads until the server closes; returns what came and how long it took (panics after
/// `limit`).
fn closed_within(tcp: &mut TcpStream, limit: Duration) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    tcp.set_read_timeout(Some(limit)).expect("timeout");
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match tcp.read(&mut chunk) {
            Ok(0) | Err(_) if started.elapsed() < limit => return (got, started.elapsed()),
            Ok(0) | Err(_) => panic!("not closed within {limit:?}"),
            Ok(n) => got.extend_from_slice(&chunk[..n]),
        }
    }
}

/// A garbage handshake is answered with an alert and closed; a handshake that stalls is
/// closed at `--handshake-timeout`; one cut short is counted as such. A chat client over TLS
/// goes on meanwhile (models that serve several at once).
fn broken_handshakes_are_closed_and_counted(model: Model) {
    let pki = Pki::new();
    let (server, _dir) = tls_server(model, &pki, Plaintext::Loopback);
    let addr = server.addr();
    let several = !matches!(
        model,
        Model::Blocking(rustchat_server::config::Blocking::Sequential)
    );
    let mut alice = several.then(|| tls::line(addr, &pki.client()).renamed("alice"));

    // An empty ClientHello: rustls answers with a decode_error alert.
    let mut empty = TcpStream::connect(addr).expect("connect");
    empty
        .write_all(b"\x16\x03\x01\x00\x04\x01\x00\x00\x00")
        .expect("send");
    let (alert, _) = closed_within(&mut empty, Duration::from_secs(2));
    assert_eq!(alert.first(), Some(&0x15), "a TLS alert record: {alert:?}");
    // A handshake record whose body is text.
    let mut garbage = TcpStream::connect(addr).expect("connect");
    garbage
        .write_all(b"\x16\x03\x01\x00\x0bhello world")
        .expect("send");
    closed_within(&mut garbage, Duration::from_secs(2));
    eventually("the malformed count", TIMEOUT, || {
        tls_metric(&server, "malformed") == 2
    });

    // Half a record header, then silence.
    let mut stalled = TcpStream::connect(addr).expect("connect");
    stalled.write_all(b"\x16\x03").expect("send");
    let (_, took) = closed_within(&mut stalled, Duration::from_secs(3));
    assert!(took >= Duration::from_millis(500), "closed after {took:?}");
    eventually("the timeout count", TIMEOUT, || {
        tls_metric(&server, "timeout") == 1
    });

    // Half a record header, then the client hangs up.
    let mut quitter = TcpStream::connect(addr).expect("connect");
    quitter.write_all(b"\x16\x03\x01").expect("send");
    quitter.shutdown(Shutdown::Write).expect("hang up");
    closed_within(&mut quitter, Duration::from_secs(2));
    eventually("the hung-up count", TIMEOUT, || {
        tls_metric(&server, "hung_up") == 1
    });

    if let Some(alice) = alice.as_mut() {
        alice.sync();
    }
    tls::line(addr, &pki.client()).greeted();
}

/// New files are picked up without a restart: new handshakes see the new certificate,
/// connections made before keep chatting, and a broken pair leaves the last good one in use.
fn certificates_reload_without_dropping_anyone(model: Model) {
    let pki = Pki::new();
    let (server, _dir) = tls_server(model, &pki, Plaintext::Loopback);
    let addr = server.addr();
    let config = pki.client();
    let mut alice = tls::line(addr, &config).renamed("alice");
    assert_eq!(tls::peer_serial(&alice.stream), "01");

    let reloads = || metric(&server.metrics_text(), "rustchat_tls_reloads_total");
    pki.issue("server", 2);
    eventually("the new pair to be loaded", Duration::from_secs(5), || {
        reloads() == 1
    });
    let mut bob = tls::line(addr, &config).renamed("bob");
    assert_eq!(tls::peer_serial(&bob.stream), "02");
    alice.send("still here");
    bob.expect_event("#lobby <alice> still here");

    // A key that is not the certificate's: refused, the pair in use stays.
    let (_, other_key) = pki.issue("other", 3);
    let (_, key) = pki.issue("unused", 4);
    std::fs::copy(&other_key, key.with_file_name("server-key.pem")).expect("replace the key");
    let failed = || metric(&server.metrics_text(), "rustchat_tls_failed_reloads_total");
    eventually(
        "the broken pair to be refused",
        Duration::from_secs(5),
        || failed() == 1,
    );
    let carol = tls::connect(addr, &config);
    assert_eq!(tls::peer_serial(&carol), "02");
    let tls = server.tls().expect("TLS is on");
    let err = tls.reload().expect_err("the pair is still broken");
    assert!(
        err.to_string()
            .contains("does not belong to the certificate"),
        "{err}"
    );
    bob.send("and me");
    alice.expect_event("#lobby <bob> and me");
}

/// A burst far bigger than the socket buffers, to a TLS reader that pauses: every message
/// arrives, in order (records left pending by the fan-out's write-through reach the client).
fn a_burst_reaches_a_paused_tls_reader_in_order(model: Model) {
    let pki = Pki::new();
    let (server, _dir) = serve(|config| {
        config.model = model;
        config.flood = None;
        pki.serve_tls(config, Plaintext::Loopback);
    });
    let addr = server.addr();
    let mut reader = tls::line(addr, &pki.client()).renamed("reader");
    let mut sender = LineClient::named(addr, "sender");
    reader.sync();
    let filler = "x".repeat(900);
    const COUNT: usize = 400;
    for i in 0..COUNT {
        sender.send(&format!("{i:04} {filler}"));
    }
    std::thread::sleep(Duration::from_millis(300));
    for i in 0..COUNT {
        let line = reader.expect("the next message", |l| l.contains("<sender> "));
        let want = format!("#lobby <sender> {i:04} {filler}");
        assert_eq!(untimed(&line), want, "message {i} out of order or cut");
    }
    reader.sync();
}

scenarios!(async_model: tls_and_plaintext_chat_in_one_room, python_websockets_chats_over_wss,
    openssl_s_client_chats_over_tls, a_silent_tls_client_is_greeted,
    plaintext_is_refused_when_tls_is_required, broken_handshakes_are_closed_and_counted,
    certificates_reload_without_dropping_anyone, a_burst_reaches_a_paused_tls_reader_in_order);
scenarios!(threads: tls_and_plaintext_chat_in_one_room, python_websockets_chats_over_wss,
    openssl_s_client_chats_over_tls, a_silent_tls_client_is_greeted,
    plaintext_is_refused_when_tls_is_required, broken_handshakes_are_closed_and_counted,
    certificates_reload_without_dropping_anyone, a_burst_reaches_a_paused_tls_reader_in_order);
scenarios!(pool: tls_and_plaintext_chat_in_one_room, python_websockets_chats_over_wss,
    openssl_s_client_chats_over_tls, a_silent_tls_client_is_greeted,
    plaintext_is_refused_when_tls_is_required, broken_handshakes_are_closed_and_counted,
    certificates_reload_without_dropping_anyone, a_burst_reaches_a_paused_tls_reader_in_order);
// One client at a time: the scenarios that hold two clients at once cannot be played.
scenarios!(sequential: a_silent_tls_client_is_greeted, plaintext_is_refused_when_tls_is_required,
    broken_handshakes_are_closed_and_counted);

use common::{async_model, pool, sequential, threads};

/// Without TLS configured, a TLS handshake is closed at once (it is not taken for a line
/// client that would be sent plaintext it cannot read).
#[test]
fn a_tls_handshake_on_a_plaintext_port_is_closed() {
    let (server, _dir) = serve(|_| {});
    let mut tcp = TcpStream::connect(server.addr()).expect("connect");
    tcp.write_all(b"\x16\x03\x01\x00\x05hello").expect("send");
    let (got, _) = closed_within(&mut tcp, Duration::from_secs(2));
    assert!(got.is_empty(), "nothing in plaintext: {got:?}");
}

/// Python's `ssl` with the `websockets` package, over wss — with the JSON subprotocol, then in
/// lines — chats with a plaintext line client.
fn python_websockets_chats_over_wss(model: Model) {
    let Some(python) = tls::python_peer() else {
        return;
    };
    let pki = Pki::new();
    let (server, _dir) = tls_server(model, &pki, Plaintext::Loopback);
    let addr = server.addr();
    let mut bob = LineClient::named(addr, "bob");
    for (nick, mode) in [("py", "json"), ("pyline", "line")] {
        let mut command = std::process::Command::new(&python);
        command
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/peers/py_wss_chat.py"
            ))
            .arg(format!("wss://localhost:{}/ws", addr.port()))
            .arg(pki.ca_file())
            .args([nick, mode]);
        let mut py = tls::Peer::spawn(command);
        // Python starting, importing websockets and shaking hands: seconds on a busy machine.
        let said = format!("#lobby <{nick}> hello from python");
        bob.expect_within(&said, Duration::from_secs(20), |l| untimed(l) == said);
        bob.send("ready");
        py.expect("OK", |l| l == "OK");
        assert!(py.wait().success(), "{mode}: {:?}", py.seen);
        bob.expect("the Python client's goodbye", |l| {
            l.contains(&format!("<- {nick} left #lobby"))
        });
    }
}

/// `openssl s_client`, the TLS line client people have, verifying our certificate against the
/// test CA, chats with a plaintext line client and quits.
fn openssl_s_client_chats_over_tls(model: Model) {
    let Some(openssl) = tls::openssl() else {
        return;
    };
    let pki = Pki::new();
    let (server, _dir) = tls_server(model, &pki, Plaintext::Loopback);
    let addr = server.addr();
    let mut bob = LineClient::named(addr, "bob");
    let mut command = std::process::Command::new(openssl);
    command
        .args([
            "s_client",
            "-quiet",
            "-verify_return_error",
            "-servername",
            "localhost",
        ])
        .arg("-CAfile")
        .arg(pki.ca_file())
        .arg("-connect")
        .arg(addr.to_string());
    let mut ossl = tls::Peer::spawn(command);
    ossl.expect("the greeting", |l| {
        l.starts_with("*** rustchat: press Enter")
    });
    ossl.type_in("/nick ossl\nhello from openssl\n");
    bob.expect_event("#lobby <ossl> hello from openssl");
    bob.send("hi openssl");
    ossl.expect("bob's line", |l| untimed(l) == "#lobby <bob> hi openssl");
    ossl.type_in("/quit\n");
    ossl.expect("the goodbye", |l| l.starts_with("BYE"));
    ossl.wait();
}

/// An RSA certificate and key made by `openssl req` (PKCS#8 PEM, as openssl writes them) are
/// served as well as rcgen's ECDSA ones.
#[test]
fn an_rsa_pair_made_by_openssl_is_served() {
    let Some(openssl) = tls::openssl() else {
        return;
    };
    let dir = tempfile::tempdir().expect("a directory");
    let (cert, key) = (
        dir.path().join("rsa-cert.pem"),
        dir.path().join("rsa-key.pem"),
    );
    let made = std::process::Command::new(openssl)
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
        ])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let (server, _data) = serve(|config| {
        config.tls = Some(rustchat_server::tls::TlsConfig {
            identity: rustchat_server::tls::Identity::Files {
                cert: cert.clone(),
                key: key.clone(),
            },
            plaintext: Plaintext::Loopback,
        });
    });
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(&cert).expect("the certificate");
    for der in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
        roots.add(der.expect("PEM")).expect("a root");
    }
    let config =
        rustls::ClientConfig::builder_with_provider(rustchat_server::tls::load::provider())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
    let health = tls::https_get(server.addr(), &std::sync::Arc::new(config), "/healthz");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
}

/// A record header announcing a 512-byte ClientHello, and the first 64 bytes of it.
fn half_a_hello() -> Vec<u8> {
    let mut bytes = vec![
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ];
    bytes.resize(64, 0x2a);
    bytes
}

/// 1,000 clients that start a TLS handshake and stall are each closed at
/// `--handshake-timeout`, while a TLS client and a plaintext client chat on, losing nothing.
fn a_thousand_stalled_handshakes_are_closed_in_time(model: Model) {
    let pki = Pki::new();
    let (server, _dir) = serve(|config| {
        config.model = model;
        config.handshake_timeout = Duration::from_secs(2);
        pki.serve_tls(config, Plaintext::Loopback);
    });
    let addr = server.addr();
    let mut alice = tls::line(addr, &pki.client()).renamed("alice");
    let mut bob = LineClient::named(addr, "bob");
    let hello = half_a_hello();
    let mut stalled: Vec<TcpStream> = (0..1000)
        .map(|_| {
            let mut tcp = TcpStream::connect(addr).expect("connect");
            tcp.write_all(&hello).expect("half a hello");
            tcp
        })
        .collect();
    let opened = Instant::now();
    // Inside the flood limits (bursts of 20, the nick included).
    for i in 0..10 {
        alice.send(&format!("still here {i}"));
        bob.send(&format!("me too {i}"));
    }
    for i in 0..10 {
        bob.expect_event(&format!("#lobby <alice> still here {i}"));
        alice.expect_event(&format!("#lobby <bob> me too {i}"));
    }
    // Every stalled client is closed: after its 2 s, well before 2 s + 5 s of slack.
    for tcp in &mut stalled {
        let left = (opened + Duration::from_secs(7)).saturating_duration_since(Instant::now());
        tcp.set_read_timeout(Some(left.max(Duration::from_millis(10))))
            .expect("timeout");
        let mut buf = [0u8; 64];
        match tcp.read(&mut buf) {
            Ok(0) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            other => panic!("a stalled handshake was not closed in time: {other:?}"),
        }
    }
    assert!(
        opened.elapsed() >= Duration::from_millis(1500),
        "closed too early"
    );
    eventually("1,000 timeouts counted", TIMEOUT, || {
        tls_metric(&server, "timeout") == 1000
    });
    alice.sync();
    bob.sync();
}

mod stalled {
    use super::*;
    // Not `pool`: its workers would each hold a stalled opening for its deadline in turn
    // (that model's nature: a connection holds a worker for its life); not `sequential`.
    scenarios!(async_model: a_thousand_stalled_handshakes_are_closed_in_time);
    scenarios!(threads: a_thousand_stalled_handshakes_are_closed_in_time);
}

/// TLS 1.2 and 1.3 are both served; ALPN `http/1.1` is chosen only when the client offers it
/// (browsers do; `openssl s_client` and most libraries offer nothing, and are served too).
#[test]
fn tls_1_2_and_1_3_with_alpn_only_when_asked() {
    let pki = Pki::new();
    let (server, _dir) = tls_server(async_model(), &pki, Plaintext::Loopback);
    let base = pki.client();
    let with = |versions: &[&'static rustls::SupportedProtocolVersion], alpn: &[&[u8]]| {
        let mut config = (*base).clone();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        if versions.len() == 1 {
            let provider = rustchat_server::tls::load::provider();
            let mut only = rustls::ClientConfig::builder_with_provider(provider)
                .with_protocol_versions(versions)
                .expect("versions")
                .with_root_certificates({
                    let mut roots = rustls::RootCertStore::empty();
                    let pem = std::fs::read(pki.ca_file()).expect("the CA");
                    for der in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
                        roots.add(der.expect("PEM")).expect("a root");
                    }
                    roots
                })
                .with_no_client_auth();
            only.alpn_protocols = config.alpn_protocols.clone();
            config = only;
        }
        tls::connect(server.addr(), &std::sync::Arc::new(config))
    };
    let v13 = with(&[&rustls::version::TLS13], &[b"h2", b"http/1.1"]);
    assert_eq!(
        v13.conn.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_3)
    );
    assert_eq!(v13.conn.alpn_protocol(), Some(&b"http/1.1"[..]));
    let v12 = with(&[&rustls::version::TLS12], &[]);
    assert_eq!(
        v12.conn.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_2)
    );
    assert_eq!(v12.conn.alpn_protocol(), None, "no ALPN unless asked");
    let mut page = LineClient::from_stream(v12);
    page.send_raw(
        format!(
            "GET /healthz HTTP/1.1\r\nHost: localhost:{}\r\n\r\n",
            server.addr().port()
        )
        .as_bytes(),
    );
    let status = page.next_line().expect("an answer");
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
}

/// Under `pool`, a plaintext line client that must use TLS is refused while it waits for a
/// worker — told to use TLS, not told its place in a line it will never reach.
#[test]
fn a_waiting_plaintext_client_is_refused_not_queued() {
    let pki = Pki::new();
    let (server, _dir) = serve(|config| {
        config.model = Model::Blocking(rustchat_server::config::Blocking::Pool(1));
        pki.serve_tls(config, Plaintext::Refuse);
    });
    let addr = server.addr();
    let mut holder = tls::line(addr, &pki.client()).renamed("holder");
    let mut line = LineClient::connect(addr);
    let said = line.expect_eof();
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        said[0].starts_with("ERROR this server requires TLS"),
        "{said:?}"
    );
    holder.sync();
}
