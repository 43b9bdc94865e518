//! tokio-tungstenite peers, written the way its users write them.
//!
//! `broadcast` follows tokio-tungstenite's own `examples/server.rs` (the chat-like broadcast
//! example): a map of every client's unbounded channel behind a mutex; each client's stream
//! half sends every text message it receives to all the channels, and the channel is forwarded
//! into the client's sink half (`forward` feeds while messages are waiting and flushes when the
//! channel runs dry, so bursts are written together). Unlike the example the sender gets its
//! own message too, as the confirmation a chat server sends.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use futures_channel::mpsc::{UnboundedSender, unbounded};
use futures_util::{SinkExt, StreamExt, TryStreamExt, future, pin_mut};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::tungstenite::Message;

type PeerMap = Arc<Mutex<HashMap<SocketAddr, UnboundedSender<Message>>>>;

/// Broadcasts every text message to every client, forever (over TLS if `tls` is given: the
/// TLS handshake on the client's task, then tokio-tungstenite over the TLS stream).
pub(super) async fn broadcast(listener: TcpListener, tls: Option<TlsAcceptor>) -> io::Result<()> {
    let peers = PeerMap::default();
    loop {
        let (tcp, addr) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        let peers = peers.clone();
        match tls.clone() {
            None => {
                tokio::spawn(broadcast_client(peers, tcp, addr));
            }
            Some(tls) => {
                tokio::spawn(async move {
                    if let Ok(stream) = tls.accept(tcp).await {
                        broadcast_client(peers, stream, addr).await;
                    }
                });
            }
        }
    }
}

async fn broadcast_client<S>(peers: PeerMap, stream: S, addr: SocketAddr)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let (tx, rx) = unbounded();
    lock(&peers).insert(addr, tx);
    let (outgoing, incoming) = ws.split();
    let broadcast_incoming = incoming.try_for_each(|msg| {
        if msg.is_text() {
            for tx in lock(&peers).values() {
                let _ = tx.unbounded_send(msg.clone());
            }
        }
        future::ok(())
    });
    let receive_from_others = rx.map(Ok).forward(outgoing);
    pin_mut!(broadcast_incoming, receive_from_others);
    future::select(broadcast_incoming, receive_from_others).await;
    lock(&peers).remove(&addr);
}

fn lock(
    peers: &PeerMap,
) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, UnboundedSender<Message>>> {
    peers.lock().unwrap_or_else(|p| p.into_inner())
}

/// Echoes every data message, forever (over TLS if `tls` is given).
pub(super) async fn echo(listener: TcpListener, tls: Option<TlsAcceptor>) -> io::Result<()> {
    super::accept_loop_tls(listener, tls, Echo).await
}

#[derive(Debug, Clone, Copy)]
struct Echo;

impl super::Serve for Echo {
    async fn serve<S>(self, stream: S)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let _ = echo_client(stream).await;
    }
}

async fn echo_client<S>(stream: S) -> Result<(), tokio_tungstenite::tungstenite::Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut ws = tokio_tungstenite::accept_async(stream).await?;
    while let Some(msg) = ws.next().await {
        let msg = msg?;
        if msg.is_text() || msg.is_binary() {
            ws.send(msg).await?;
        }
    }
    Ok(())
}
