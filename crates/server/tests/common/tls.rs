//! TLS for the end-to-end tests: a certificate authority made in the test (rcgen, never
//! checked in), server certificates it issues, and clients over rustls that trust it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SerialNumber};
use rustchat_server::config::ServerConfig;
use rustchat_server::tls::{Identity, Plaintext, TlsConfig};
use rustchat_ws::blocking::WebSocket;
use rustchat_ws::handshake::ClientHandshake;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use tempfile::TempDir;

use super::{LineClient, TIMEOUT, Wire, WsClient};

/// TLS over a TCP socket, client side.
pub(crate) type TlsStream = StreamOwned<ClientConnection, TcpStream>;

impl Wire for TlsStream {
    fn tcp(&self) -> &TcpStream {
        self.get_ref()
    }
}

/// A test certificate authority and the files of what it issued.
pub(crate) struct Pki {
    pub(crate) dir: TempDir,
    ca: CertificateDer<'static>,
    ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for Pki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pki")
            .field("dir", &self.dir.path())
            .finish()
    }
}

impl Pki {
    /// A fresh CA.
    pub(crate) fn new() -> Self {
        let key = KeyPair::generate().expect("a CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "rustchat test CA");
        let cert = params.self_signed(&key).expect("the CA certificate");
        Self {
            dir: tempfile::tempdir().expect("a temporary directory"),
            ca: cert.der().clone(),
            ca_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// The CA certificate's PEM file (for programs that trust it: openssl, Python).
    pub(crate) fn ca_file(&self) -> PathBuf {
        let path = self.dir.path().join("ca.pem");
        std::fs::write(&path, &self.ca_pem).expect("write the CA");
        path
    }

    /// Issues a certificate for `localhost` and 127.0.0.1 with `serial` and writes it (with
    /// the CA after it, as a chain) and its key as `NAME-cert.pem` and `NAME-key.pem`.
    pub(crate) fn issue(&self, name: &str, serial: u64) -> (PathBuf, PathBuf) {
        let key = KeyPair::generate().expect("a server key");
        let mut params = CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
            .expect("server params");
        params.serial_number = Some(SerialNumber::from(serial));
        params
            .distinguished_name
            .push(DnType::CommonName, "rustchat test server");
        let cert = params.signed_by(&key, &self.issuer).expect("signed");
        let cert_path = self.dir.path().join(format!("{name}-cert.pem"));
        let key_path = self.dir.path().join(format!("{name}-key.pem"));
        std::fs::write(&cert_path, format!("{}{}", cert.pem(), self.ca_pem)).expect("write");
        std::fs::write(&key_path, key.serialize_pem()).expect("write");
        (cert_path, key_path)
    }

    /// A client config that trusts this CA only.
    pub(crate) fn client(&self) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca.clone()).expect("the CA is a root");
        let provider = rustchat_server::tls::load::provider();
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Arc::new(config)
    }

    /// Turns TLS on in `config` with a pair issued now (serial 1).
    pub(crate) fn serve_tls(&self, config: &mut ServerConfig, plaintext: Plaintext) {
        let (cert, key) = self.issue("server", 1);
        config.tls = Some(TlsConfig {
            identity: Identity::Files { cert, key },
            plaintext,
        });
    }
}

/// A TLS connection to `addr` for `localhost`, its handshake done.
pub(crate) fn connect(addr: SocketAddr, config: &Arc<ClientConfig>) -> TlsStream {
    let tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    tcp.set_write_timeout(Some(TIMEOUT)).expect("timeout");
    let name = ServerName::try_from("localhost").expect("a name");
    let conn = ClientConnection::new(config.clone(), name).expect("a client connection");
    let mut stream = StreamOwned::new(conn, tcp);
    while stream.conn.is_handshaking() {
        stream
            .conn
            .complete_io(&mut stream.sock)
            .expect("the TLS handshake");
    }
    stream
}

/// A TLS line client (`openssl s_client` in Rust).
pub(crate) fn line(addr: SocketAddr, config: &Arc<ClientConfig>) -> LineClient<TlsStream> {
    LineClient::from_stream(connect(addr, config))
}

/// The serial number of the certificate the server showed, as hex.
pub(crate) fn peer_serial(stream: &TlsStream) -> String {
    let chain = stream.conn.peer_certificates().expect("a certificate");
    let (_, cert) = x509_parser::parse_x509_certificate(chain[0].as_ref()).expect("X.509");
    cert.tbs_certificate.raw_serial_as_string()
}

/// A WebSocket client over TLS (`wss://localhost/ws`) offering `protocols`.
pub(crate) fn wss(
    addr: SocketAddr,
    config: &Arc<ClientConfig>,
    protocols: &[&str],
) -> WsClient<TlsStream> {
    let handshake = ClientHandshake::builder(format!("wss://localhost:{}/ws", addr.port()))
        .protocols(protocols.iter().copied())
        .build()
        .expect("a handshake");
    let (ws, response) = WebSocket::client(connect(addr, config), &handshake, Default::default())
        .expect("the WebSocket handshake over TLS");
    WsClient::over(ws, response.protocol().map(str::to_owned))
}

/// One HTTPS request (`GET path`); the whole response as text.
pub(crate) fn https_get(addr: SocketAddr, config: &Arc<ClientConfig>, path: &str) -> String {
    let mut stream = connect(addr, config);
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: localhost:{}\r\n\r\n",
        addr.port()
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = Vec::new();
    // The server closes after answering (with a close_notify).
    let _ = stream.read_to_end(&mut response);
    String::from_utf8_lossy(&response).into_owned()
}

/// Whether a missing peer program must fail the test (CI) instead of skipping it.
fn peers_required() -> bool {
    std::env::var("RUSTCHAT_REQUIRE_PEERS").as_deref() == Ok("1")
}

/// Skips (loudly) or, where peers are required, fails for a missing peer.
fn missing(peer: &str, why: &str, install: &str) -> Option<PathBuf> {
    assert!(
        !peers_required(),
        "{peer} is required (RUSTCHAT_REQUIRE_PEERS=1) but missing: {why}; {install}"
    );
    eprintln!("SKIPPED: {peer} missing ({why}) — {install}");
    None
}

/// The venv python with `websockets` (made by scripts/setup-python-peer), if there.
pub(crate) fn python_peer() -> Option<PathBuf> {
    let venv = std::env::var_os("RUSTCHAT_PYENV").map_or_else(
        || {
            let home = std::env::var_os("HOME").unwrap_or_default();
            PathBuf::from(home).join(".cache/rustchat/pyenv")
        },
        PathBuf::from,
    );
    let python = venv.join("bin/python");
    let works = std::process::Command::new(&python)
        .args(["-c", "import ssl, websockets"])
        .output()
        .is_ok_and(|out| out.status.success());
    if works {
        Some(python)
    } else {
        missing(
            "the python websockets peer",
            &format!("{} cannot import ssl and websockets", python.display()),
            "run scripts/setup-python-peer",
        )
    }
}

/// `openssl` (for `s_client`), if installed.
pub(crate) fn openssl() -> Option<PathBuf> {
    let works = std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|out| out.status.success());
    if works {
        Some(PathBuf::from("openssl"))
    } else {
        missing(
            "openssl",
            "`openssl version` did not run",
            "install Debian's openssl (scripts/setup-tls-peers)",
        )
    }
}

/// A child process whose output lines arrive on a channel, killed when dropped.
pub(crate) struct Peer {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    pub(crate) seen: Vec<String>,
}

impl Peer {
    /// Starts `command` with piped standard input and output.
    pub(crate) fn spawn(mut command: std::process::Command) -> Self {
        use std::process::Stdio;
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the peer starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (send, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if send.send(line).is_err() {
                    return;
                }
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Writes `text` to the peer's standard input.
    pub(crate) fn type_in(&mut self, text: &str) {
        let stdin = self.child.stdin.as_mut().expect("piped stdin");
        stdin.write_all(text.as_bytes()).expect("write to the peer");
        stdin.flush().expect("flush");
    }

    /// Waits (at most 10 s) for an output line that satisfies `pred`.
    pub(crate) fn expect(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if pred(&line) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "the peer did not print {what}; it printed:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Waits (at most 10 s) for the peer to exit; its status.
    pub(crate) fn wait(&mut self) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().expect("the peer's status") {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the peer did not exit; it printed:\n{}",
                self.seen.join("\n")
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
