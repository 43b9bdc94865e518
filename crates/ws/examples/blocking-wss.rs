//! `wss://` with the blocking adapter and rustls' `StreamOwned`: a server thread and a client
//! in one process, no runtime. The certificate is made on the spot for `localhost` (rcgen);
//! the client trusts exactly it.
//!
//! ```text
//! cargo run -p rustchat-ws --example blocking-wss
//! ```

use std::error::Error;
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

use rustchat_ws::blocking::WebSocket;
use rustchat_ws::handshake::ClientHandshake;
use rustchat_ws::{Config, Message};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConnection, ServerConnection, StreamOwned};

#[allow(deprecated)] // ring lacks post-quantum key exchange; fine for an example
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Server and client TLS settings around a fresh self-signed certificate for `localhost`.
pub fn configs() -> Result<(Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>), Box<dyn Error>> {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
    let cert: CertificateDer<'static> = made.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(made.signing_key.serialize_der()));
    let server = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)?;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert)?;
    let client = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok((Arc::new(server), Arc::new(client)))
}

/// Serves one connection of `listener`: TLS, then the WebSocket handshake, then echo.
pub fn serve_one(
    listener: &TcpListener,
    config: Arc<rustls::ServerConfig>,
) -> Result<(), Box<dyn Error>> {
    let (tcp, _) = listener.accept()?;
    let tls = StreamOwned::new(ServerConnection::new(config)?, tcp);
    let mut ws = WebSocket::accept(tls)?;
    while let Some(message) = ws.recv()? {
        ws.send(message)?;
    }
    Ok(())
}

/// Connects to `wss://localhost:PORT/`, sends `text` and returns the echo.
pub fn echo_once(
    port: u16,
    config: Arc<rustls::ClientConfig>,
    text: &str,
) -> Result<String, Box<dyn Error>> {
    let handshake = ClientHandshake::new(&format!("wss://localhost:{port}/"))?;
    let tcp = TcpStream::connect(("127.0.0.1", port))?;
    let conn = ClientConnection::new(config, ServerName::try_from("localhost")?)?;
    let (mut ws, _) =
        WebSocket::client(StreamOwned::new(conn, tcp), &handshake, Config::default())?;
    ws.send(Message::text(text.to_owned()))?;
    let echo = ws.recv()?.ok_or("closed before the echo")?;
    ws.close(None)?;
    while ws.recv()?.is_some() {}
    Ok(echo.as_text().ok_or("a binary echo")?.to_owned())
}

#[allow(dead_code)] // `main` is unused where the tests include this file
fn main() -> Result<(), Box<dyn Error>> {
    let (server, client) = configs()?;
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let thread =
        std::thread::spawn(move || serve_one(&listener, server).map_err(|e| e.to_string()));
    println!("{}", echo_once(port, client, "hello over wss, blocking")?);
    thread.join().map_err(|_| "the server thread panicked")??;
    Ok(())
}
