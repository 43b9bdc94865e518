//! A `wss://` echo server on tokio with tokio-rustls: TLS first, then the WebSocket handshake
//! over the TLS stream. `rustchat-ws` needs nothing TLS-specific — any `AsyncRead + AsyncWrite`
//! will do.
//!
//! ```text
//! cargo run -p rustchat-ws --features tokio --example wss-echo-server -- CERT.pem KEY.pem [127.0.0.1:9443]
//! cargo run -p rustchat-ws --features tokio --example wss-echo-server -- --self-signed [127.0.0.1:9443]
//! ```
//!
//! With `--self-signed` it makes a certificate for `localhost` (rcgen) and writes it to
//! `wss-example-cert.pem`, for the client to trust:
//! `cargo run -p rustchat-ws --features tokio --example wss-client -- wss://localhost:9443/ wss-example-cert.pem`.

use std::error::Error;
use std::sync::Arc;

use rustchat_ws::StreamError;
use rustchat_ws::tokio::WebSocketStream;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// TLS settings from a PEM certificate chain and key, on rustls' ring provider.
pub fn acceptor(cert_pem: &[u8], key_pem: &[u8]) -> Result<TlsAcceptor, Box<dyn Error>> {
    let chain = CertificateDer::pem_slice_iter(cert_pem).collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_slice(key_pem)?;
    #[allow(deprecated)] // ring lacks post-quantum key exchange; fine for an example
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// A certificate and key for `localhost` and 127.0.0.1, as PEM.
pub fn self_signed() -> Result<(String, String), rcgen::Error> {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])?;
    Ok((made.cert.pem(), made.signing_key.serialize_pem()))
}

/// Accepts connections until the listener fails; each is served on a task of its own.
pub async fn serve(listener: TcpListener, acceptor: TlsAcceptor) -> std::io::Result<()> {
    loop {
        let (tcp, peer) = listener.accept().await?;
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            if let Err(e) = echo(tcp, acceptor).await {
                eprintln!("wss-echo-server: {peer}: {e}");
            }
        });
    }
}

/// One connection: the TLS handshake, the WebSocket handshake, then echo until the close.
pub async fn echo(tcp: TcpStream, acceptor: TlsAcceptor) -> Result<(), StreamError> {
    tcp.set_nodelay(true)?;
    let tls = acceptor.accept(tcp).await?;
    let mut ws = WebSocketStream::accept(tls).await?;
    while let Some(message) = ws.recv().await? {
        ws.send(message).await?;
    }
    Ok(())
}

#[allow(dead_code)] // `main` is unused where the tests include this file
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (cert, key, addr) = match args.as_slice() {
        [flag, rest @ ..] if flag == "--self-signed" => {
            let (cert, key) = self_signed()?;
            std::fs::write("wss-example-cert.pem", &cert)?;
            eprintln!("wss-echo-server: certificate for localhost written to wss-example-cert.pem");
            (cert.into_bytes(), key.into_bytes(), rest.first().cloned())
        }
        [cert, key, rest @ ..] => (
            std::fs::read(cert)?,
            std::fs::read(key)?,
            rest.first().cloned(),
        ),
        _ => return Err("usage: wss-echo-server (CERT.pem KEY.pem | --self-signed) [ADDR]".into()),
    };
    let listener = TcpListener::bind(addr.as_deref().unwrap_or("127.0.0.1:9443")).await?;
    eprintln!(
        "wss-echo-server: listening on wss://{}/",
        listener.local_addr()?
    );
    serve(listener, acceptor(&cert, &key)?).await?;
    Ok(())
}
