//! Our ws crate's echo server (the logic of `crates/ws/examples/echo-server.rs`): every message
//! comes back unchanged through `rustchat_ws::tokio::WebSocketStream`.

use std::io;

use rustchat_ws::tokio::WebSocketStream;
use rustchat_ws::{Config, StreamError};
use tokio::net::{TcpListener, TcpStream};

/// The example's limits (raised for the Autobahn suite's largest messages).
fn config() -> Config {
    Config::default()
        .max_frame_size(64 << 20)
        .max_message_size(64 << 20)
        .max_fragments(1 << 20)
}

/// Serves forever.
pub(super) async fn echo(listener: TcpListener) -> io::Result<()> {
    super::accept_loop(listener, |tcp| async move {
        let _ = client(tcp).await;
    })
    .await
}

async fn client(tcp: TcpStream) -> Result<(), StreamError> {
    let mut ws = WebSocketStream::accept_with(tcp, config(), |_| Ok(None)).await?;
    while let Some(message) = ws.recv().await? {
        ws.send(message).await?;
    }
    Ok(())
}
