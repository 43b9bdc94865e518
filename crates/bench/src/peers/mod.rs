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

mod fastws;
mod tcp_echo;
mod tungstenite;
mod ws_echo;

use std::io;

use anyhow::{Context, bail};
use bytes::BytesMut;
use rustchat_ws::handshake::{HeadLimits, Request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::cli::{Peer, PeerMode, ServePeerArgs};

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
        serve_on(listener, args.peer, args.mode).await?;
        Ok(())
    })
}

/// Serves `peer` in `mode` on `listener` (on the caller's runtime).
pub async fn serve_on(listener: TcpListener, peer: Peer, mode: PeerMode) -> anyhow::Result<()> {
    match (peer, mode) {
        (Peer::TokioTungstenite, PeerMode::Broadcast) => tungstenite::broadcast(listener).await?,
        (Peer::TokioTungstenite, PeerMode::Echo) => tungstenite::echo(listener).await?,
        (Peer::Fastwebsockets, PeerMode::Echo) => fastws::echo(listener).await?,
        (Peer::TcpEcho, PeerMode::Echo) => tcp_echo::echo(listener).await?,
        (Peer::RustchatWs, PeerMode::Echo) => ws_echo::echo(listener).await?,
        (peer, PeerMode::Broadcast) => bail!("{} has no broadcast server", peer.name()),
    }
    Ok(())
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
