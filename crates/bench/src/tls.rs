//! `--tls`: every server of the run speaks TLS on its port, with a certificate the bench makes
//! for `localhost` at the start of the run (rcgen; a P-256 ECDSA key, what a certificate
//! authority issues by default today), and the clients trust exactly that certificate.
//!
//! Clients read and write through [`Stream`]: the socket itself, or TLS over it
//! (tokio-rustls, the same ring provider as the servers).

use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use anyhow::Context as _;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// The run's certificate: its files (for the servers) and a connector that trusts it.
#[derive(Debug)]
pub struct BenchTls {
    _dir: tempfile::TempDir,
    /// The certificate, PEM.
    pub cert: PathBuf,
    /// Its private key, PEM.
    pub key: PathBuf,
    connector: Connector,
}

/// Makes the client side of TLS connections.
#[derive(Clone)]
pub struct Connector(TlsConnector);

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Connector")
    }
}

impl BenchTls {
    /// A fresh certificate for `localhost` and 127.0.0.1 in a temporary directory.
    pub fn new() -> anyhow::Result<Self> {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
            .context("cannot make the run's certificate")?;
        let dir = tempfile::tempdir().context("cannot make a directory for the certificate")?;
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        std::fs::write(&cert, made.cert.pem())?;
        std::fs::write(&key, made.signing_key.serialize_pem())?;
        let mut roots = rustls::RootCertStore::empty();
        roots.add(CertificateDer::from(made.cert.der().to_vec()))?;
        let config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self {
            _dir: dir,
            cert,
            key,
            connector: Connector(TlsConnector::from(Arc::new(config))),
        })
    }

    /// The clients' side.
    pub fn connector(&self) -> Connector {
        self.connector.clone()
    }
}

/// Our server's crypto provider (ring, X25519 first), for the clients and the TLS peers
/// alike: every server of a run is offered the same key exchange and pays for the same one.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    rustchat_server::tls::load::provider()
}

impl Connector {
    /// The TLS handshake over `tcp`, for `localhost`.
    pub async fn connect(&self, tcp: TcpStream) -> io::Result<Stream> {
        let name = ServerName::try_from("localhost").map_err(io::Error::other)?;
        let tls = self.0.connect(name, tcp).await?;
        Ok(Stream::Tls(Box::new(tls)))
    }
}

/// A client's connection: plain TCP, or TLS over it.
#[derive(Debug)]
pub enum Stream {
    /// TCP.
    Plain(TcpStream),
    /// TLS over TCP.
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl Stream {
    /// Writes all of `bytes` and flushes (over TLS, records a full socket held back go out
    /// before this returns).
    pub async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        use tokio::io::AsyncWriteExt;
        self.write_all(bytes).await?;
        self.flush().await
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }
}
