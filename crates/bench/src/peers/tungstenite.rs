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
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;

type PeerMap = Arc<Mutex<HashMap<SocketAddr, UnboundedSender<Message>>>>;

/// Broadcasts every text message to every client, forever.
pub(super) async fn broadcast(listener: TcpListener) -> io::Result<()> {
    let peers = PeerMap::default();
    loop {
        let (tcp, addr) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        tokio::spawn(broadcast_client(peers.clone(), tcp, addr));
    }
}

async fn broadcast_client(peers: PeerMap, tcp: TcpStream, addr: SocketAddr) {
    let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else {
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

/// Echoes every data message, forever.
pub(super) async fn echo(listener: TcpListener) -> io::Result<()> {
    super::accept_loop(listener, |tcp| async move {
        let _ = echo_client(tcp).await;
    })
    .await
}

async fn echo_client(tcp: TcpStream) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    let mut ws = tokio_tungstenite::accept_async(tcp).await?;
    while let Some(msg) = ws.next().await {
        let msg = msg?;
        if msg.is_text() || msg.is_binary() {
            ws.send(msg).await?;
        }
    }
    Ok(())
}
