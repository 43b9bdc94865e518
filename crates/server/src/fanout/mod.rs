//! The fan-out: from the hub's outcomes to each connection's socket.
//!
//! ```text
//! Outcome ─ committer (history in batches, then in order) ─ registry ─ outbox per connection
//!                                                                        ├─ written through (idle)
//!                                                                        └─ drained by its driver
//! ```

pub mod committer;
pub mod outbox;
pub mod registry;
