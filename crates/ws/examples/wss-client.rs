//! A `wss://` client on tokio with tokio-rustls: TCP, then TLS (checking the server's
//! certificate against the PEM file given), then the WebSocket handshake over the TLS stream.
//! Sends one message and prints the echo.
//!
//! ```text
//! cargo run -p rustchat-ws --features tokio --example wss-client -- wss://localhost:9443/ CA.pem
//! ```

use std::error::Error;
use std::sync::Arc;

use rustchat_ws::handshake::ClientHandshake;
use rustchat_ws::tokio::WebSocketStream;
use rustchat_ws::{Config, Message};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// A connector that trusts only the certificates in `ca_pem`.
pub fn connector(ca_pem: &[u8]) -> Result<TlsConnector, Box<dyn Error>> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        roots.add(cert?)?;
    }
    #[allow(deprecated)] // ring lacks post-quantum key exchange; fine for an example
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// Opens `url` (`wss://host[:port]/path`) through `connector`.
pub async fn connect(
    url: &str,
    connector: &TlsConnector,
) -> Result<WebSocketStream<TlsStream<TcpStream>>, Box<dyn Error>> {
    let handshake = ClientHandshake::new(url)?;
    if !handshake.is_secure() {
        return Err(format!("{url}: expected a wss:// URL").into());
    }
    let tcp = TcpStream::connect((handshake.host(), handshake.port())).await?;
    tcp.set_nodelay(true)?;
    let name = ServerName::try_from(handshake.host().to_owned())?;
    let tls = connector.connect(name, tcp).await?;
    let (ws, _response) = WebSocketStream::client(tls, &handshake, Config::default()).await?;
    Ok(ws)
}

#[allow(dead_code)] // `main` is unused where the tests include this file
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, ca] = args.as_slice() else {
        return Err("usage: wss-client wss://HOST:PORT/PATH CA.pem".into());
    };
    let mut ws = connect(url, &connector(&std::fs::read(ca)?)?).await?;
    ws.send(Message::text("hello over wss")).await?;
    let echo = ws.recv().await?.ok_or("closed before the echo")?;
    println!("{}", echo.as_text().unwrap_or("(binary)"));
    ws.close(None).await?;
    while ws.recv().await?.is_some() {}
    Ok(())
}
