//! A WebSocket echo server on tokio: every message comes back unchanged.
//!
//! This is the server the Autobahn TestSuite checks (`scripts/autobahn`), so its limits are
//! raised to the suite's largest messages (16 MiB), and it accepts permessage-deflate.
//!
//! ```text
//! cargo run -p rustchat-ws --features tokio --example echo-server -- 127.0.0.1:9001
//! ```

use rustchat_ws::handshake::Upgrade;
use rustchat_ws::tokio::WebSocketStream;
use rustchat_ws::{Config, DeflateConfig, StreamError};
use tokio::net::{TcpListener, TcpStream};

fn config() -> Config {
    Config::default()
        .max_frame_size(64 << 20)
        .max_message_size(64 << 20)
        .max_fragments(1 << 20)
        .deflate(DeflateConfig::enabled())
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".into());
    let listener = TcpListener::bind(&addr).await?;
    eprintln!("echo-server: listening on ws://{}", listener.local_addr()?);
    loop {
        let (tcp, peer) = listener.accept().await?;
        tokio::spawn(async move {
            if let Err(e) = echo(tcp).await {
                eprintln!("echo-server: {peer}: {e}");
            }
        });
    }
}

async fn echo(tcp: TcpStream) -> Result<(), StreamError> {
    tcp.set_nodelay(true)?;
    // Speak the `chat` subprotocol when a client asks for it (the interop tests do).
    let choose = |up: &Upgrade| Ok(up.protocols().find(|p| *p == "chat").map(String::from));
    let mut ws = WebSocketStream::accept_with(tcp, config(), choose).await?;
    while let Some(message) = ws.recv().await? {
        ws.send(message).await?;
    }
    Ok(())
}
