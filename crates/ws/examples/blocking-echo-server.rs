//! A WebSocket echo server with the blocking adapter: one thread per connection, no runtime.
//!
//! ```text
//! cargo run -p rustchat-ws --example blocking-echo-server -- 127.0.0.1:9002
//! ```

use std::net::{TcpListener, TcpStream};

use rustchat_ws::StreamError;
use rustchat_ws::blocking::WebSocket;

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9002".into());
    let listener = TcpListener::bind(&addr)?;
    eprintln!(
        "blocking-echo-server: listening on ws://{}",
        listener.local_addr()?
    );
    for stream in listener.incoming() {
        let stream = stream?;
        std::thread::spawn(move || {
            if let Err(e) = echo(stream) {
                eprintln!("blocking-echo-server: {e}");
            }
        });
    }
    Ok(())
}

fn echo(stream: TcpStream) -> Result<(), StreamError> {
    stream.set_nodelay(true)?;
    let mut ws = WebSocket::accept(stream)?;
    while let Some(message) = ws.recv()? {
        ws.send(message)?;
    }
    Ok(())
}
