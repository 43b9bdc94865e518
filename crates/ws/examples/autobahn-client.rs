//! The Autobahn TestSuite client driver: runs every case the fuzzing server offers, echoing
//! each message back (offering permessage-deflate), then asks the server to write its report.
//!
//! ```text
//! cargo run -p rustchat-ws --features tokio --example autobahn-client -- ws://127.0.0.1:9001
//! ```

use rustchat_ws::handshake::ClientHandshake;
use rustchat_ws::tokio::WebSocketStream;
use rustchat_ws::{Config, DeflateConfig, StreamError};

const AGENT: &str = "rustchat-ws";

fn config() -> Config {
    Config::default()
        .max_frame_size(64 << 20)
        .max_message_size(64 << 20)
        .max_fragments(1 << 20)
        .deflate(DeflateConfig::enabled())
}

async fn connect(url: &str) -> Result<WebSocketStream<tokio::net::TcpStream>, StreamError> {
    let handshake = ClientHandshake::builder(url)
        .deflate(config().deflate)
        .build()?;
    Ok(WebSocketStream::connect_with(&handshake, config()).await?.0)
}

async fn case_count(base: &str) -> Result<u32, Box<dyn std::error::Error>> {
    let mut ws = connect(&format!("{base}/getCaseCount")).await?;
    let message = ws
        .recv()
        .await?
        .ok_or("the server closed without sending the case count")?;
    let text = message
        .as_text()
        .ok_or("the case count was not a text message")?;
    let count = text.trim().parse()?;
    while ws.recv().await?.is_some() {}
    Ok(count)
}

/// Echoes until the case ends; protocol errors are what many cases test, so they end the case.
async fn run_case(base: &str, case: u32) -> Result<(), StreamError> {
    let mut ws = connect(&format!("{base}/runCase?case={case}&agent={AGENT}")).await?;
    while let Some(message) = ws.recv().await? {
        ws.send(message).await?;
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:9001".into());
    let count = case_count(&base).await?;
    eprintln!("autobahn-client: {count} cases");
    for case in 1..=count {
        if let Err(e) = run_case(&base, case).await {
            eprintln!("case {case}: {e}");
        }
    }
    let mut ws = connect(&format!("{base}/updateReports?agent={AGENT}")).await?;
    while ws.recv().await?.is_some() {}
    eprintln!("autobahn-client: reports updated");
    Ok(())
}
