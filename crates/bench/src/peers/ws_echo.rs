//! Our ws crate's echo server (the logic of `crates/ws/examples/echo-server.rs`): every message
//! comes back unchanged through `rustchat_ws::tokio::WebSocketStream`.

use std::io;

use rustchat_ws::tokio::WebSocketStream;
use rustchat_ws::{Config, DeflateConfig, StreamError};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// The example's limits (raised for the Autobahn suite's largest messages), and like it,
/// permessage-deflate for clients that offer it.
fn config() -> Config {
    Config::default()
        .max_frame_size(64 << 20)
        .max_message_size(64 << 20)
        .max_fragments(1 << 20)
        .deflate(DeflateConfig::enabled())
}

/// Serves forever (over TLS if `tls` is given).
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
        let _ = client(stream).await;
    }
}

async fn client<S: AsyncRead + AsyncWrite + Unpin>(stream: S) -> Result<(), StreamError> {
    let mut ws = WebSocketStream::accept_with(stream, config(), |_| Ok(None)).await?;
    while let Some(message) = ws.recv().await? {
        ws.send(message).await?;
    }
    Ok(())
}
