//! # rustchat-server
//!
//! The chat server behind `rustchat serve`. Its data path (see `docs/ARCHITECTURE.md`):
//!
//! ```text
//! socket bytes ─ detect ─┬─ HTTP (http.rs): page, /healthz, /metrics, or upgrade ─┐
//!                        └─ line protocol ──────────────────────────────────────────┤
//!                                                                                   ▼
//!   Session (session.rs: LineSession | WsSession, flood control, keepalive) ─ Action
//!                                                                                   │
//!   Shared::apply (state.rs) ─ Hub::handle (hub.rs, pure) ─ Outcome ─ Committer ────┘
//!                                   (committer.rs: history append in batches, then fan-out)
//!   Registry ─ Outbox per connection (bounded; overflow = slow consumer) ─ Session ─ socket
//! ```
//!
//! The hub is pure state; sessions are sans-IO; only the model modules (`model_async`) own
//! sockets, tasks and timers, so every concurrency model runs the same chat logic.

pub mod action;
pub mod clock;
pub mod committer;
pub mod config;
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
pub mod ws_session;
