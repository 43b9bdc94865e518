//! What the binary's end-to-end tests share: a chat server in this process, or the binary
//! itself as a child process.

#![allow(dead_code)] // each test file uses a different subset

pub(crate) mod process;

use std::time::Duration;

use rustchat_server::config::{HistoryMode, ServerConfig};
use rustchat_server::server::RunningServer;

pub(crate) type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

/// A server on a free port of 127.0.0.1, history in memory, and a short wait before a silent
/// client is taken for a line client (the clients under test speak first anyway).
pub(crate) fn server() -> Result<RunningServer> {
    Ok(rustchat_server::server::start(ServerConfig {
        listen: vec!["127.0.0.1:0".parse()?],
        history: HistoryMode::Memory,
        detect_timeout: Duration::from_millis(50),
        ..Default::default()
    })?)
}
