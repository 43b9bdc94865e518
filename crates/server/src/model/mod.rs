//! The concurrency models: the only code that touches sockets, threads and runtimes.
//!
//! Each model accepts connections (`listener`), moves bytes through the transport seam
//! (`stream`) and drives the sans-IO `Opening` and `Conn` of every connection; `server` starts
//! and stops the one chosen with `--model`: `tasks` (tokio, a task per connection) or
//! `blocking` (`sequential`, `threads`, `pool`).

pub(crate) mod blocking;
pub(crate) mod listener;
pub mod server;
pub(crate) mod stream;
pub(crate) mod tasks;
