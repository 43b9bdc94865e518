//! The client over TLS against our server: `wss://` and `tls://` with a trusted certificate,
//! and each way verification can fail, told as the user needs to hear it.

use std::path::Path;
use std::time::Duration;

use rustchat_client::{ClientError, Incoming, Target, Transport, Trust, Wire};
use rustchat_server::config::{HistoryMode, ServerConfig};
use rustchat_server::server::{RunningServer, start};
use rustchat_server::tls::{Identity, Plaintext, TlsConfig};

const WAIT: Duration = Duration::from_secs(5);

/// A server whose certificate (self-signed, written under `dir`) is for `names`.
fn server(dir: &Path, names: &[&str]) -> (RunningServer, std::path::PathBuf) {
    let key = rcgen::KeyPair::generate().expect("a key");
    let params =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .expect("params");
    let cert = params.self_signed(&key).expect("a certificate");
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).expect("write");
    std::fs::write(&key_path, key.serialize_pem()).expect("write");
    let config = ServerConfig {
        listen: vec!["127.0.0.1:0".parse().expect("an address")],
        data_dir: dir.to_owned(),
        history: HistoryMode::Memory,
        detect_timeout: Duration::from_millis(50),
        max_connections_per_ip: 0,
        connect_rate: None,
        tls: Some(TlsConfig {
            identity: Identity::Files {
                cert: cert_path.clone(),
                key: key_path,
            },
            plaintext: Plaintext::Loopback,
        }),
        ..ServerConfig::default()
    };
    (start(config).expect("the server starts"), cert_path)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

async fn first_line(transport: &mut Transport) -> String {
    loop {
        match tokio::time::timeout(WAIT, transport.recv()).await {
            Ok(Ok(Some(Incoming::Line(line)))) => return line,
            Ok(Ok(Some(Incoming::Event(event)))) => return format!("{event:?}"),
            Ok(Ok(Some(Incoming::Pong(_)))) => {}
            other => panic!("no event: {other:?}"),
        }
    }
}

#[test]
fn wss_and_tls_lines_with_a_trusted_certificate() {
    let dir = tempfile::tempdir().expect("a directory");
    let (server, cert) = server(dir.path(), &["localhost", "127.0.0.1"]);
    let port = server.addr().port();
    let trust = Trust::ca_file(&cert).expect("the certificate loads");
    runtime().block_on(async {
        let wss: Target = format!("wss://localhost:{port}/ws").parse().expect("a URL");
        let mut ws = Transport::connect(&wss, WAIT, &trust)
            .await
            .expect("wss connects");
        assert_eq!(ws.wire(), Wire::WsJson);
        let welcome = first_line(&mut ws).await;
        assert!(welcome.contains("Welcome"), "{welcome}");

        let tls: Target = format!("tls://127.0.0.1:{port}").parse().expect("a URL");
        let mut lines = Transport::connect(&tls, WAIT, &trust)
            .await
            .expect("tls connects");
        assert_eq!(lines.wire(), Wire::TcpLines);
        lines.send_line("").await.expect("press Enter");
        let greeting = first_line(&mut lines).await;
        assert!(greeting.starts_with("*** "), "{greeting}");
    });
}

/// Connects to `url` with `trust` and returns the error's text.
fn refusal(url: &str, trust: &Trust) -> String {
    let target: Target = url.parse().expect("a URL");
    runtime().block_on(async {
        match Transport::connect(&target, WAIT, trust).await {
            Ok(_) => panic!("{url} connected"),
            Err(error) => {
                assert!(
                    matches!(error, ClientError::Tls { .. }),
                    "{url}: not a TLS error: {error:?}"
                );
                error.to_string()
            }
        }
    })
}

#[test]
fn verification_failures_say_what_to_do() {
    let dir = tempfile::tempdir().expect("a directory");
    let (server, cert) = server(dir.path(), &["chat.example"]);
    let port = server.addr().port();

    let unknown = refusal(&format!("wss://127.0.0.1:{port}/ws"), &Trust::default());
    assert!(
        unknown.contains("authority this client does not trust") && unknown.contains("--ca-file"),
        "{unknown}"
    );

    let trust = Trust::ca_file(&cert).expect("the certificate loads");
    let wrong_name = refusal(&format!("tls://127.0.0.1:{port}"), &trust);
    assert!(
        wrong_name.contains("not valid for `127.0.0.1`"),
        "{wrong_name}"
    );

    // --insecure connects anyway.
    let target: Target = format!("tls://127.0.0.1:{port}").parse().expect("a URL");
    let insecure = Trust::insecure();
    assert!(insecure.is_insecure());
    runtime().block_on(async {
        Transport::connect(&target, WAIT, &insecure)
            .await
            .expect("--insecure skips the check");
    });
}

#[test]
fn tls_to_a_plaintext_server_says_so() {
    let dir = tempfile::tempdir().expect("a directory");
    let config = ServerConfig {
        listen: vec!["127.0.0.1:0".parse().expect("an address")],
        data_dir: dir.path().to_owned(),
        history: HistoryMode::Memory,
        ..ServerConfig::default()
    };
    let server = start(config).expect("the server starts");
    let said = refusal(
        &format!("tls://127.0.0.1:{}", server.addr().port()),
        &Trust::insecure(),
    );
    assert!(said.contains("is TLS on there"), "{said}");
}

#[test]
fn a_ca_file_that_is_not_pem_is_refused_clearly() {
    let dir = tempfile::tempdir().expect("a directory");
    let path = dir.path().join("ca.pem");
    std::fs::write(&path, "hello").expect("write");
    let err = Trust::ca_file(&path).expect_err("not a certificate");
    assert!(
        err.to_string().contains("holds no usable certificate"),
        "{err}"
    );
    let missing = Trust::ca_file(&dir.path().join("nope.pem")).expect_err("missing");
    assert!(missing.to_string().contains("cannot read"), "{missing}");
}
