//! # rustchat-ws: RFC 6455 WebSocket, sans-IO
//!
//! A complete WebSocket implementation whose protocol core does no I/O: it takes bytes and
//! gives events, takes calls and gives bytes. Sockets, threads and clocks belong to the
//! adapters beside it — [`blocking`] over `std::io::{Read, Write}` and `tokio` (feature
//! `tokio`) over `AsyncRead + AsyncWrite` — so the same tested core serves both, and any other
//! runtime can drive it too.
//!
//! ## The data path
//! ```text
//! bytes ─▶ FrameDecoder ─▶ FrameChunk ─▶ Assembler (defragment, inflate, UTF-8) ─▶ Message
//!            (header rules, limits, unmasking)        Connection ─▶ Event
//! send(Message) ─▶ Connection (deflate) ─▶ Outbound (frames; pongs and close echoes too) ─▶ bytes
//! ```
//!
//! permessage-deflate (RFC 7692) is negotiated in the handshake when [`Config::deflate`] enables
//! it (a server: [`handshake::Upgrade::negotiate_deflate`]; a client:
//! [`handshake::ClientBuilder::deflate`]); the [`deflate`] module says what each setting costs
//! in memory, and the adapters do all of it for you.
//!
//! ## Example: two peers in memory
//! ```
//! use rustchat_ws::{Config, Connection, Event, Message, Role};
//!
//! let mut client = Connection::new(Role::Client, Config::default());
//! let mut server = Connection::new(Role::Server, Config::default());
//!
//! client.send(Message::text("hello")).unwrap();
//! let wire = client.outbound().take_all(); // masked frame bytes, ready for a socket
//! server.receive(&wire);
//! assert_eq!(server.next_event().unwrap(), Some(Event::Message(Message::text("hello"))));
//!
//! server.ping("are you there?").unwrap();
//! client.receive(&server.outbound().take_all());
//! assert!(matches!(client.next_event().unwrap(), Some(Event::Ping(_))));
//! // The pong the client owes is already queued as bytes:
//! server.receive(&client.outbound().take_all());
//! assert!(matches!(server.next_event().unwrap(), Some(Event::Pong(_))));
//! ```
//!
//! ## Example: a blocking echo server and a client, over real TCP
//! ```
//! use rustchat_ws::blocking::WebSocket;
//! use rustchat_ws::{CloseCode, CloseFrame, Message};
//! use std::net::TcpListener;
//!
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! let url = format!("ws://{}/", listener.local_addr()?);
//! let server = std::thread::spawn(move || -> Result<(), rustchat_ws::StreamError> {
//!     let (tcp, _) = listener.accept()?;
//!     let mut ws = WebSocket::accept(tcp)?;
//!     while let Some(message) = ws.recv()? {
//!         ws.send(message)?; // echo
//!     }
//!     Ok(()) // the client closed: the closing handshake is done
//! });
//!
//! let (mut client, _response) = WebSocket::connect(&url)?;
//! client.send(Message::text("hello"))?;
//! assert_eq!(client.recv()?, Some(Message::text("hello")));
//! client.close(Some(CloseFrame::new(CloseCode::NORMAL, "done")))?;
//! assert_eq!(client.recv()?, None);
//! server.join().expect("server thread")?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The same with tokio (feature `tokio`) is in the `tokio` module (`WebSocketStream`,
//! whose `recv` is cancel-safe and which splits into a reader and a writer), and runnable
//! programs are in `examples/`: `echo-server`, `blocking-echo-server`, `client`,
//! `autobahn-client`.
//!
//! ## TLS (`wss://`)
//! None built in, none needed: run the TLS handshake (rustls, tokio-rustls, native-tls…), then
//! give the TLS stream to [`blocking::WebSocket::client`] / [`blocking::WebSocket::accept`] or
//! their tokio counterparts — any `Read + Write` or `AsyncRead + AsyncWrite` will do. The
//! repository's `examples/wss-echo-server.rs`, `examples/wss-client.rs` (tokio-rustls) and
//! `examples/blocking-wss.rs` (rustls' `StreamOwned`) show each side.
//!
//! ## Limits
//! | limit | library default | on violation |
//! | --- | --- | --- |
//! | [`Config::max_frame_size`] | 1 MiB | close 1009, [`ProtocolError::FrameTooLarge`] |
//! | [`Config::max_message_size`] | 1 MiB | close 1009, [`ProtocolError::MessageTooLarge`] |
//! | the same, for the *inflated* size of a compressed message, checked while inflating | 1 MiB | close 1009, [`ProtocolError::InflatedTooLarge`] |
//! | [`Config::max_fragments`] | 4096 frames | close 1009, [`ProtocolError::TooManyFragments`] |
//! | control frame payload | 125 bytes (RFC) | close 1002 |
//! | pongs owed | one: a ping that arrives while our pong to an earlier one is still wholly unwritten (and last in the queue) replaces it (RFC 6455 §5.5.3) | — |
//!
//! Every limit is checked when a frame header arrives, before any memory is reserved for it.
//! What the connection owes the peer on its own account stays bounded too: a peer that floods
//! pings and reads nothing is owed one pong, whatever it sends; everything else queued in
//! [`Connection::outbound`] is what the application sent, which it can watch with
//! `outbound().len()`.

pub mod assembler;
pub mod blocking;
pub mod close;
pub mod config;
pub mod connection;
pub mod decoder;
pub mod deflate;
pub mod error;
pub mod frame;
pub mod handshake;
pub mod mask;
mod mask_source;
pub mod message;
pub mod outbound;
pub mod prepared;
pub mod role;
mod stream_error;
#[cfg(feature = "tokio")]
pub mod tokio;
pub mod utf8;

pub use close::{CloseCode, CloseFrame};
pub use config::Config;
pub use connection::{Connection, Event, State};
pub use deflate::{DeflateConfig, DeflateParams};
pub use error::{Error, ProtocolError, UsageError};
pub use message::{Message, Text};
pub use prepared::Prepared;
pub use role::Role;
pub use stream_error::StreamError;
