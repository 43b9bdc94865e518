//! `ErrorKind`: the machine-readable half of every error the server reports.
//!
//! Data path: any layer's error (`LineError`, `JsonError`, `CommandError`, `NameError`,
//! `HelloError`, or a hub refusal) → `ErrorKind` + human message → `ServerEvent::Error` →
//! `ERROR <message>` line or `{"type":"error","kind":…,"message":…}` JSON.
//!
//! Programs branch on the kind; people read the message. The [`ErrorReply`] trait turns any
//! error of this crate into the event the server sends back.

use serde::{Deserialize, Serialize};

use crate::ServerEvent;

/// What went wrong, for programs. Serialized in `snake_case` (`"nick_taken"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The HELLO handshake failed; the server closes the connection.
    Handshake,
    /// A line was longer than the line limit; it was discarded, the connection is kept.
    LineTooLong,
    /// A line was not UTF-8; it was discarded, the connection is kept.
    InvalidUtf8,
    /// A JSON message could not be read as a client message.
    InvalidJson,
    /// `/foo` is not a command.
    UnknownCommand,
    /// A command had missing or malformed arguments.
    Usage,
    /// A message text was empty or longer than the text limit.
    InvalidText,
    /// A nick breaks a naming rule (syntax, reserved, guest prefix).
    InvalidNick,
    /// A room name breaks a naming rule.
    InvalidRoom,
    /// The nick is held by someone else (case-insensitively).
    NickTaken,
    /// No connected user has that nick.
    NoSuchNick,
    /// No room has that name.
    NoSuchRoom,
    /// The command needs a room the client has not joined.
    NotInRoom,
    /// The client sends faster than the flood control allows.
    Flood,
    /// The client reads slower than the server writes; it is being disconnected.
    SlowConsumer,
    /// The server failed; not the client's fault.
    Internal,
    /// The nick belongs to an account: sign in to it with `/login`.
    NickRegistered,
    /// A password is shorter or longer than the limits.
    InvalidPassword,
    /// Wrong account name or password (which one is not said).
    AuthFailed,
    /// Too many failed sign-ins or registrations: the message says when to try again.
    Throttled,
    /// The server does not let this client register (registration is closed, or needs a
    /// valid invite code).
    RegistrationClosed,
    /// The nick is an account already, or the session is signed in to one.
    AlreadyRegistered,
    /// The command needs a signed-in session.
    NotSignedIn,
    /// The signed-in account has no access token with that id.
    NoSuchToken,
    /// You lack the role this needs (operator, owner, server moderator), or the target is
    /// protected from you (an owner, an admin).
    NotPermitted,
    /// You are banned from that room.
    Banned,
    /// You are muted in that room.
    Muted,
    /// The room is moderated (`+m`): only voiced members and operators speak.
    Moderated,
    /// The room is invite-only (`+i`) and you were not invited.
    InviteOnly,
    /// The room has a key (`+k`) and you gave none or a wrong one.
    BadKey,
    /// The room lets only signed-in users in (`+R`).
    RegisteredOnly,
    /// The account is suspended: it cannot sign in.
    Suspended,
    /// No message with that id is kept (any more) in a room's recent history.
    NoSuchMessage,
    /// The server is too busy for this request now; the message says when to try again.
    Busy,
    /// A kind this version does not know (sent by a newer server). Never sent by this version.
    #[serde(other)]
    Other,
}

/// An error that the server reports to the client that caused it.
///
/// Implemented by every error type of this crate; the hub's own refusals build
/// [`ServerEvent::Error`] directly.
pub trait ErrorReply: std::fmt::Display {
    /// The machine-readable kind.
    fn kind(&self) -> ErrorKind;

    /// The `ServerEvent::Error` to send back: this kind, and the `Display` text as message.
    fn to_event(&self) -> ServerEvent {
        ServerEvent::error(self.kind(), self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_serialize_in_snake_case() -> Result<(), serde_json::Error> {
        assert_eq!(
            serde_json::to_string(&ErrorKind::NickTaken)?,
            "\"nick_taken\""
        );
        assert_eq!(
            serde_json::to_string(&ErrorKind::InvalidUtf8)?,
            "\"invalid_utf8\""
        );
        Ok(())
    }

    #[test]
    fn unknown_kinds_read_as_other() -> Result<(), serde_json::Error> {
        let kind: ErrorKind = serde_json::from_str("\"from_the_future\"")?;
        assert_eq!(kind, ErrorKind::Other);
        Ok(())
    }
}
