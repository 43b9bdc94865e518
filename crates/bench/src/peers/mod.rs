//! Peer servers built into the bench, each written the way that library's users write it, so
//! the same scenario measures them next to ours. `rustchat bench serve-peer NAME` runs one in
//! its own process (so its CPU time is its own), on a multi-threaded tokio runtime like our
//! server's.
//!
//! | peer | echo | broadcast |
//! | --- | --- | --- |
//! | `rustchat-ws` | our ws crate's `echo-server` example | - |
//! | `fastwebsockets` | its `echo_server` example (`FragmentCollector`) | - |
//! | `tokio-tungstenite` | `StreamExt::next` + `SinkExt::send` | its `server.rs` example: a channel per client, split sink/stream |
//! | `tcp-echo` | bytes back as they come (the floor: no WebSocket at all) | - |
//! | `yawc` | its hyper upgrade, `StreamExt::next` + `SinkExt::send`, permessage-deflate level 1 | - |
//!
//! `rustchat-ws` and `yawc` take permessage-deflate when the bench's clients offer it
//! (`--deflate`); the others decline it.
//!
//! With `--tls-cert`/`--tls-key` (the bench's `--tls`), `tokio-tungstenite` and `rustchat-ws`
//! serve TLS on tokio-rustls (ring, as our server): the TLS handshake, then the library's
//! WebSocket handshake over the TLS stream, as its users write it.

mod fastws;
mod tcp_echo;
mod tungstenite;
mod ws_echo;
mod yawc_echo;

use std::io;

use anyhow::{Context, bail};
use bytes::BytesMut;
use rustchat_ws::handshake::{HeadLimits, Request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::cli::{Peer, PeerMode, ServePeerArgs};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsAcceptor;

/// `rustchat bench serve-peer`: serves until killed.
pub fn serve(args: &ServePeerArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(async {
        let listener = TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        eprintln!(
            "rustchat-bench peer {} listening on {}",
            args.peer.name(),
            listener.local_addr()?
        );
        let tls = match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => Some(acceptor(cert, key)?),
            _ => None,
        };
        serve_on(listener, args.peer, args.mode, tls).await?;
        Ok(())
    })
}

/// TLS settings from the bench's certificate files.
fn acceptor(cert: &std::path::Path, key: &std::path::Path) -> anyhow::Result<TlsAcceptor> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("cannot read {}", cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("cannot read {}", key.display()))?;
    let config = rustls::ServerConfig::builder_with_provider(crate::tls::provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    Ok(TlsAcceptor::from(std::sync::Arc::new(config)))
}

/// Serves `peer` in `mode` on `listener` (on the caller's runtime), over TLS if `tls` is given.
pub async fn serve_on(
    listener: TcpListener,
    peer: Peer,
    mode: PeerMode,
    tls: Option<TlsAcceptor>,
) -> anyhow::Result<()> {
    match (peer, mode, tls) {
        (Peer::TokioTungstenite, PeerMode::Broadcast, tls) => {
            tungstenite::broadcast(listener, tls).await?;
        }
        (Peer::TokioTungstenite, PeerMode::Echo, tls) => tungstenite::echo(listener, tls).await?,
        (Peer::RustchatWs, PeerMode::Echo, tls) => ws_echo::echo(listener, tls).await?,
        (Peer::Fastwebsockets, PeerMode::Echo, None) => fastws::echo(listener).await?,
        (Peer::TcpEcho, PeerMode::Echo, None) => tcp_echo::echo(listener).await?,
        (Peer::Yawc, PeerMode::Echo, None) => yawc_echo::echo(listener).await?,
        (peer, PeerMode::Broadcast, _) => bail!("{} has no broadcast server", peer.name()),
        (peer, _, Some(_)) => bail!("{} has no TLS server", peer.name()),
    }
    Ok(())
}

/// A peer's per-connection code, for any stream (TCP, or TLS over it).
pub(super) trait Serve: Clone + Send + Sync + 'static {
    /// Serves one connection to its end.
    fn serve<S>(self, stream: S) -> impl std::future::Future<Output = ()> + Send
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static;
}

/// Accepts connections forever, serving each on its own task — after its TLS handshake, if
/// `tls` is given (a failed handshake only drops that connection).
async fn accept_loop_tls<H: Serve>(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    handler: H,
) -> io::Result<()> {
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        let handler = handler.clone();
        match tls.clone() {
            None => {
                tokio::spawn(handler.serve(tcp));
            }
            Some(tls) => {
                tokio::spawn(async move {
                    if let Ok(stream) = tls.accept(tcp).await {
                        handler.serve(stream).await;
                    }
                });
            }
        }
    }
}

/// Accepts connections forever, serving each on its own task.
async fn accept_loop<F, Fut>(listener: TcpListener, serve: F) -> io::Result<()>
where
    F: Fn(TcpStream) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        tokio::spawn(serve(tcp));
    }
}

/// The server side of the WebSocket opening handshake, with our sans-IO parser, for peers
/// whose library leaves it to an HTTP server (fastwebsockets: hyper). Clients of the bench send
/// nothing before the `101`, so nothing is read past the request head.
async fn accept_upgrade(tcp: &mut TcpStream) -> anyhow::Result<()> {
    let mut buf = BytesMut::with_capacity(1024);
    let (request, used) = loop {
        if let Some(parsed) = Request::parse(&buf, &HeadLimits::default())? {
            break parsed;
        }
        if tcp.read_buf(&mut buf).await? == 0 {
            bail!("closed during the handshake");
        }
    };
    if used != buf.len() {
        bail!("frames sent before the handshake completed");
    }
    let response = request.upgrade()?.accept(None)?;
    tcp.write_all(&response).await?;
    Ok(())
}
