//! # rustchat-server
//!
//! The chat server behind `rustchat serve`. Its data path (see `docs/ARCHITECTURE.md`):
//!
//! ```text
//! socket bytes ─ Opening (opening.rs: detect, HTTP head, route, refusals) ─┬─ Answer ─ close
//!                                                                          └─ Session
//!   Session (session.rs: LineSession | WsSession, flood control, keepalive) ─ Action
//!                                                                                   │
//!   Shared::apply (state.rs) ─ Hub::handle (hub.rs, pure) ─ Outcome ─ Committer ────┘
//!                                   (committer.rs: history append in batches, then fan-out)
//!   Registry ─ Outbox per connection (bounded; a receiver that stays behind = slow consumer)
//!     ├─ idle connection: the fan-out writes through to its socket
//!     └─ busy connection: its driver drains the outbox into the Session ─ socket
//! ```
//!
//! The hub is pure state; the opening and the sessions are sans-IO, and take the time from a
//! [`clock::Clock`] (monotonic for deadlines and rates); only the model modules
//! (`model_async`, `model_blocking`) own sockets, tasks, threads and timers, so every
//! concurrency model runs the same chat logic.

pub mod action;
pub mod clock;
pub mod committer;
pub mod config;
pub mod conn;
pub mod delivery;
pub mod detect;
pub mod driver;
pub mod flood;
pub mod history;
pub mod http;
pub mod hub;
pub mod line_session;
pub mod listener;
pub mod metrics;
pub mod model_async;
pub mod model_blocking;
pub mod opening;
pub mod outbox;
pub mod registry;
pub mod server;
pub mod session;
pub mod state;
pub mod stream;
pub mod ws_session;
