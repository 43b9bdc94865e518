//! The floor: a plain tokio TCP echo server. Whatever a client sends comes back as it is — no
//! framing, no masking, no UTF-8 — so the gap between it and a WebSocket echo is what the
//! WebSocket layer costs.

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Serves forever.
pub(super) async fn echo(listener: TcpListener) -> io::Result<()> {
    super::accept_loop(listener, |tcp| async move {
        let _ = client(tcp).await;
    })
    .await
}

async fn client(mut tcp: TcpStream) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = tcp.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        tcp.write_all(&buf[..n]).await?;
    }
}
