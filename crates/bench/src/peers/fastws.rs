//! fastwebsockets' echo server, after its `examples/echo_server.rs`: a `FragmentCollector`
//! reads whole messages and writes each back. Its examples upgrade through hyper; we run the
//! same opening handshake with our sans-IO parser instead (no HTTP server needed for one
//! route), then hand the socket to `WebSocket::after_handshake`, so what is measured is
//! fastwebsockets' framing, exactly as with hyper.

use std::io;

use fastwebsockets::{FragmentCollector, OpCode, Role, WebSocket};
use tokio::net::{TcpListener, TcpStream};

/// Serves forever.
pub(super) async fn echo(listener: TcpListener) -> io::Result<()> {
    super::accept_loop(listener, |tcp| async move {
        let _ = client(tcp).await;
    })
    .await
}

async fn client(mut tcp: TcpStream) -> anyhow::Result<()> {
    super::accept_upgrade(&mut tcp).await?;
    let mut ws = FragmentCollector::new(WebSocket::after_handshake(tcp, Role::Server));
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            OpCode::Close => break,
            OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
            _ => {}
        }
    }
    Ok(())
}
