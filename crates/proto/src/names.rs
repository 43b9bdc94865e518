//! The naming rules shared by `Nick` (nick.rs) and `RoomName` (room_name.rs), and `NameError`,
//! one variant per rule.
//!
//! Data path: a command argument (`/nick Alice`, `/join rust`, a JSON field) → `Nick::parse` /
//! `RoomName::parse` → a value that is valid by construction, carried inside `Command` and
//! `ServerEvent`. Code that holds a `Nick` never re-checks it.
//!
//! Rules:
//! - A nick is 1 to 24 characters: an ASCII letter, then ASCII letters, digits, `_` or `-`.
//!   Nicks compare and hash case-insensitively (`Alice` == `alice`) but keep the spelling the
//!   user chose for display.
//! - A few names are reserved ([`RESERVED_NICKS`]), in any case.
//! - Names starting with `guest-` (any case) belong to the server: it hands out `guest-<n>` to
//!   connections that have not picked a nick, and users may not pick one, so a guest name never
//!   collides with a chosen one.
//! - A room name is `#` then 1 to 32 ASCII letters, digits, `_` or `-`. The `#` may be left out
//!   on input (`rust` → `#rust`); rooms are stored lowercase.

use thiserror::Error;

use crate::error_kind::{ErrorKind, ErrorReply};
use crate::text::excerpt;

/// Longest nick, in characters (all ASCII, so also bytes).
pub const MAX_NICK_LEN: usize = 24;
/// Longest room name, in characters, without the `#`.
pub const MAX_ROOM_LEN: usize = 32;
/// Nicks nobody may take, compared case-insensitively.
pub const RESERVED_NICKS: [&str; 8] = [
    "server", "system", "admin", "root", "rustchat", "operator", "nickserv", "chanserv",
];
/// The prefix of server-assigned guest nicks; users may not pick a nick starting with it.
pub const GUEST_PREFIX: &str = "guest-";

/// A naming rule was broken. Each message says what was wrong and what is expected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NameError {
    #[error("nick is empty: expected 1 to {MAX_NICK_LEN} characters")]
    EmptyNick,
    #[error("nick too long: {len} characters, at most {MAX_NICK_LEN}")]
    NickTooLong { len: usize },
    #[error("nick must start with an ASCII letter, got '{found}'")]
    NickStart { found: String },
    #[error(
        "nick has an invalid character '{found}' at position {position}: use ASCII letters, digits, '_' or '-'"
    )]
    NickChar { found: String, position: usize },
    #[error("nick {nick} is reserved: pick another with /nick <name>")]
    ReservedNick { nick: String },
    #[error(
        "nick {nick} looks like a guest name: nicks starting with '{GUEST_PREFIX}' are given out by the server, pick another"
    )]
    GuestNick { nick: String },
    #[error("room name is empty: expected # then 1 to {MAX_ROOM_LEN} characters, like #lobby")]
    EmptyRoom,
    #[error("room name too long: {len} characters, at most {MAX_ROOM_LEN} after the #")]
    RoomTooLong { len: usize },
    #[error(
        "room name has an invalid character '{found}' at position {position}: use ASCII letters, digits, '_' or '-' after the #"
    )]
    RoomChar { found: String, position: usize },
}

impl ErrorReply for NameError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::EmptyRoom | Self::RoomTooLong { .. } | Self::RoomChar { .. } => {
                ErrorKind::InvalidRoom
            }
            _ => ErrorKind::InvalidNick,
        }
    }
}

fn is_name_char(ch: char) -> bool {
    ch.is_ascii_alphanumeric() || ch == '_' || ch == '-'
}

/// Whether `text` names `nick` as a word: case-insensitively, with no name character right
/// before or after it (`alice:` and `@Alice` do, `malice` and `alice_2` do not). What the
/// terminal client and the page highlight.
pub fn mentions(text: &str, nick: &str) -> bool {
    if nick.is_empty() || !nick.chars().all(is_name_char) {
        return false;
    }
    let bytes = text.as_bytes();
    let len = nick.len();
    (0..text.len().saturating_sub(len - 1)).any(|at| {
        let word = bytes.get(at..at + len);
        let before = at.checked_sub(1).and_then(|b| bytes.get(b));
        let after = bytes.get(at + len);
        word.is_some_and(|w| w.eq_ignore_ascii_case(nick.as_bytes()))
            && !before.is_some_and(|&b| is_name_char(char::from(b)))
            && !after.is_some_and(|&b| is_name_char(char::from(b)))
    })
}

/// The first character that is not a name character, with its 1-based position.
pub(crate) fn first_bad_char(name: &str) -> Option<(String, usize)> {
    let (index, ch) = name.char_indices().find(|&(_, ch)| !is_name_char(ch))?;
    let position = name[..index].chars().count() + 1;
    Some((excerpt(&ch.to_string(), 1), position))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nick_rules_and_room_rules_have_their_own_kinds() {
        assert_eq!(
            NameError::GuestNick {
                nick: "guest-1".into()
            }
            .kind(),
            ErrorKind::InvalidNick
        );
        assert_eq!(NameError::EmptyNick.kind(), ErrorKind::InvalidNick);
        assert_eq!(
            NameError::RoomChar {
                found: ".".into(),
                position: 2
            }
            .kind(),
            ErrorKind::InvalidRoom
        );
        assert_eq!(NameError::EmptyRoom.kind(), ErrorKind::InvalidRoom);
    }

    #[test]
    fn a_mention_is_the_nick_as_a_whole_word_in_any_case() {
        for text in [
            "alice",
            "Alice: hi",
            "hi @ALICE!",
            "(alice)",
            "héalice",
            "ask alice-",
        ] {
            let expected = !text.ends_with('-');
            assert_eq!(mentions(text, "alice"), expected, "{text:?}");
        }
        for text in ["malice", "alice_2", "alices", "ali ce", "", "🦀alic"] {
            assert!(!mentions(text, "alice"), "{text:?}");
        }
        assert!(!mentions("anything", ""));
        assert!(!mentions("a b", "a b"), "not a nick");
    }

    #[test]
    fn first_bad_char_counts_characters_from_one() {
        assert_eq!(first_bad_char("ab-c_9"), None);
        assert_eq!(first_bad_char("éa!"), Some(("é".into(), 1)));
        assert_eq!(first_bad_char("aé!"), Some(("é".into(), 2)));
        assert_eq!(first_bad_char("a\tb"), Some(("\\t".into(), 2)));
    }
}
