//! # rustchat-client: the terminal client of rustchat
//!
//! Where it sits: between a person (a terminal, or a pipe) and a rustchat server.
//!
//! ```text
//! keys ─▶ tui::App ─┐                                   ┌─▶ Client (view model) ─▶ tui::draw ─▶ screen
//! stdin lines ──────┴─▶ Transport::send_line ─▶ socket ─┤
//!                                socket ─▶ Transport::recv ─▶ Incoming ─┴─▶ line_mode::print ─▶ stdout
//!                                                   (every peer text through `sanitize`)
//! ```
//!
//! - [`Target`] (target.rs): `ws://…`, `tcp://…` or `host:port`, parsed once at the edge.
//! - [`Transport`] (transport.rs): the socket, speaking JSON over WebSocket (subprotocol
//!   `rustchat.json`) or lines over TCP; cancel-safe `recv`, WebSocket pings for the round trip.
//! - [`Client`] (client.rs): server events → scrollback entries, nick, room, room list; what to
//!   send by itself (`/list`, and `/nick` + `/join` to restore a session after a reconnect).
//! - [`sanitize`] (from `rustchat_proto`, shared with the server's line protocol): nothing a
//!   peer sends can drive the terminal.
//! - [`line_mode`]: pipes and scripts. [`tui`]: the full-screen client; its state
//!   ([`tui::App`], with [`InputLine`] and [`Backoff`]) is separate from drawing and tested
//!   without a terminal.
//!
//! The protocol layers (`rustchat-proto`, `rustchat-ws`) do no I/O; this crate is where the
//! sockets, the clock and the terminal live.
//!
//! ```
//! use rustchat_client::{Client, Incoming, Target, sanitize};
//! use rustchat_proto::ServerEvent;
//!
//! let target: Target = "ws://127.0.0.1:8080/ws".parse()?;
//! assert_eq!(target.addr(), "127.0.0.1:8080");
//!
//! let mut client = Client::new(Some("alice".into()), None);
//! client.on_incoming(Incoming::Event(ServerEvent::info("hi \u{1b}[2J")));
//! assert_eq!(client.entries().len(), 1);
//! assert_eq!(sanitize("hi \u{1b}[2J"), "hi \\x1b[2J");
//! # Ok::<(), rustchat_client::TargetError>(())
//! ```

mod backoff;
mod client;
mod complete;
mod input;
pub mod line_mode;
mod target;
mod tls;
mod transport;
pub mod tui;

pub use backoff::{Backoff, random_unit};
pub use client::{Client, Entry, EntryKind, KNOWN_NICKS, MAX_IGNORED, SCROLLBACK, holds_secret};
pub use complete::Completion;
pub use input::InputLine;
pub use line_mode::LineOptions;
pub use rustchat_proto::{is_unsafe, sanitize, sanitize_json};
pub use target::{DEFAULT_URL, Target, TargetError};
pub use tls::{Trust, TrustError};
pub use transport::{ClientError, Incoming, JSON_PROTOCOL, Transport, Wire};
