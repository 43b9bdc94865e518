//! A WebSocket client on tokio: sends each line of standard input as a text message and
//! prints every message it receives, until stdin ends (then it closes the connection).
//!
//! ```text
//! cargo run -p rustchat-ws --features tokio --example echo-server -- 127.0.0.1:9001 &
//! echo hello | cargo run -p rustchat-ws --features tokio --example client -- ws://127.0.0.1:9001
//! ```

use rustchat_ws::tokio::WebSocketStream;
use rustchat_ws::{CloseCode, CloseFrame, Message};
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:9001".into());
    let (mut ws, _response) = WebSocketStream::connect(&url).await?;
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut stdin_open = true;
    loop {
        tokio::select! {
            // `recv` is cancel-safe: losing this race to stdin drops nothing.
            message = ws.recv() => match message? {
                Some(Message::Text(text)) => println!("{text}"),
                Some(Message::Binary(data)) => println!("<{} bytes of binary>", data.len()),
                None => return Ok(()),
            },
            line = lines.next_line(), if stdin_open => match line? {
                Some(line) => ws.send(Message::from(line)).await?,
                None => {
                    stdin_open = false;
                    ws.close(Some(CloseFrame::new(CloseCode::NORMAL, "bye"))).await?;
                }
            },
        }
    }
}
