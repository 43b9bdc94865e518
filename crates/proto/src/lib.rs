//! The rustchat chat language: what clients and the server say to each other. Pure: no I/O,
//! no threads, no clock (times come in as unix milliseconds).
//!
//! Where it sits in the data path:
//!
//! ```text
//! bytes ─ LineCodec ─▶ line ─ (HelloServer, first lines only) ─▶ Command::parse ─┐
//! JSON text frame ───────────────────────────────────────▶ Command::from_json ─┤
//!                                                                              ▼
//!                                                      Command ─▶ hub (crates/server)
//!                                                                              │
//! line text  ◀─ ServerEvent::to_line ◀─┬─ ServerEvent ◀────────────────────────┘
//! JSON text  ◀─ ServerEvent::to_json ◀─┘   (each encoded once, shared by all receivers)
//! ```
//!
//! One type per stage, one file per type: [`LineCodec`] (line.rs), [`Command`] (command.rs, slash commands in slash.rs),
//! [`ServerEvent`] (event.rs, encoded by line_format.rs and json_event.rs), [`Nick`] and [`RoomName`]
//! (nick.rs, room_name.rs, rules in names.rs), the handshake (hello.rs). Each layer has its own error enum, one variant per
//! rule, and every error message says what was wrong and what is expected; [`ErrorReply`]
//! turns any of them into the `ServerEvent::Error` the client receives. The wire formats are
//! specified in `docs/PROTOCOL.md`.
//!
//! ```
//! use bytes::BytesMut;
//! use rustchat_proto::{Command, ErrorReply, LineCodec, Nick, RoomName, ServerEvent};
//!
//! // A client typed two lines and half of a third.
//! let mut codec = LineCodec::new();
//! let mut buf = BytesMut::from(&b"/join Rust\r\n/nick 1x\nhel"[..]);
//!
//! let line = codec.decode(&mut buf)?;
//! assert_eq!(line.as_deref(), Some("/join Rust"));
//! let command = Command::parse("/join Rust")?;
//! assert_eq!(command, Some(Command::Join(RoomName::parse("#rust")?)));
//!
//! // A bad nick becomes an error reply that says what is expected.
//! let bad = Command::parse("/nick 1x").expect_err("digits cannot start a nick");
//! assert_eq!(bad.to_event().to_line(), "ERROR nick must start with an ASCII letter, got '1'\n");
//! assert_eq!(codec.decode(&mut buf)?.as_deref(), Some("/nick 1x"));
//! assert_eq!(codec.decode(&mut buf)?, None); // "hel" waits for its newline
//!
//! // The hub answers with events, encoded once per wire format.
//! let joined = ServerEvent::Joined {
//!     room: RoomName::parse("rust")?,
//!     nick: Nick::parse("alice")?,
//!     ts: 43_384_000, // 12:03:04 UTC
//! };
//! assert_eq!(joined.to_line(), "[12:03:04] -> alice joined #rust\n");
//! assert_eq!(joined.to_json(), r##"{"type":"joined","room":"#rust","nick":"alice","ts":43384000}"##);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod command;
mod error_kind;
mod event;
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;
mod hello;
mod json;
mod json_event;
mod line;
mod line_format;
mod moderation;
mod names;
mod nick;
mod password;
mod room_name;
mod sanitize;
mod slash;
#[cfg(test)]
mod strategies;
mod text;

pub use command::{COMMANDS, Command, CommandError, HELP, MAX_HISTORY, MAX_TEXT_BYTES};
pub use error_kind::{ErrorKind, ErrorReply};
pub use event::{ChatMessage, ModAction, RoomSummary, ServerEvent, TokenInfo};
pub use hello::{HELLO_MAX, HelloClient, HelloError, HelloServer, HelloStep, is_hello};
/// Address ranges (`/kline`), as the `ipnet` crate has them.
pub use ipnet::IpNet;
pub use json::{JsonError, MAX_JSON_BYTES};
pub use line::{DEFAULT_MAX_LINE, LineCodec, LineError};
pub use moderation::{
    KNOWN_MODES, MAX_DURATION_MS, MAX_KEY_CHARS, MAX_REASON_BYTES, MAX_TOPIC_BYTES, Mode,
    ModeChange, RoomRole, duration_text, parse_address_range, parse_duration,
};
pub use names::{GUEST_PREFIX, MAX_NICK_LEN, MAX_ROOM_LEN, NameError, RESERVED_NICKS, mentions};
pub use nick::Nick;
pub use password::{
    AccessToken, MAX_INVITE_BYTES, MAX_PASSWORD_BYTES, MAX_TOKEN_LABEL_CHARS, MIN_PASSWORD_BYTES,
    Password, TOKEN_PREFIX,
};
pub use room_name::RoomName;
pub use sanitize::{is_unsafe, sanitize, sanitize_json};
