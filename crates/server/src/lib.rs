//! # rustchat-server
//!
//! The chat server behind `rustchat serve`. The modules are the data path, in order (see
//! `docs/ARCHITECTURE.md`):
//!
//! ```text
//! model/ (the only code with sockets, threads, runtimes: tasks.rs | blocking/, listener, stream)
//!   │ bytes, and the clock's time
//!   ▼
//! opening/ (sans-IO: detect, HTTP head, route, refusals) ─ Answer ─ close
//!   │ Session
//!   ▼
//! conn/ (sans-IO: Conn = Session + Driver) ◀─ session/ (line | ws, flood control, keepalive)
//!   │ Action
//!   ▼
//! shared.rs ─ hub (pure) ─ Outcome (delivery.rs) ─ fanout/ (committer ─ history, registry,
//!   outbox per connection) ─┬─ written through to an idle connection's stream
//!                           └─ drained by its Conn ─ model/ writes it
//! ```
//!
//! Both ways bytes leave: a connection's own (its `Conn::poll_transmit`, written by its model)
//! and the fan-out's write-through (`fanout::outbox`, through the same `model::stream::ByteStream`
//! while the connection is idle).
//!
//! ```
//! use rustchat_server::config::{HistoryMode, ServerConfig};
//!
//! let config = ServerConfig {
//!     listen: vec!["127.0.0.1:0".parse()?],
//!     history: HistoryMode::Memory,
//!     ..ServerConfig::default()
//! };
//! let server = rustchat_server::server::start(config)?;
//! let addr = server.addr(); // a client may connect now
//! # let _ = addr;
//! server.shutdown()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// In data-path order: bytes open a connection, a session reads them, the shared state and the
// pure hub decide, the fan-out delivers; `model` is the only code that touches sockets,
// threads and runtimes.
//
// Public: what runs a server (`config`, `server`, `clock`, `data_dir`) and the pure parts that
// the benchmarks measure on their own (`session`, `hub`, `delivery`, `history`, `fanout`,
// `metrics`). Crate-private: how a connection is opened and driven, and the models.
pub mod config;
pub mod clock;
pub(crate) mod admission;
pub mod data_dir;
pub(crate) mod opening;
pub mod session;
pub(crate) mod conn;
pub(crate) mod shared;
pub mod accounts;
pub mod rules;
pub(crate) mod klines;
pub mod hub;
pub mod delivery;
pub mod history;
pub mod fanout;
pub mod metrics;
pub(crate) mod model;
pub mod tls;

pub use model::server;
pub use opening::http::PAGE;
