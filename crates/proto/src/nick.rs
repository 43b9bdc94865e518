//! `Nick`: a user's nickname, valid by construction (rules in names.rs).
//!
//! Data path: `/nick Alice`, `/msg bob …` or a JSON field → [`Nick::parse`] (a name a user picks)
//! or [`Nick::parse_known`] (a name already in use, guests included) → `Command`/`ServerEvent`.
//! Comparison, hashing and ordering use the lowercase [`Nick::key`]; display keeps the user's
//! spelling.

use std::fmt;
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::names::{GUEST_PREFIX, MAX_NICK_LEN, NameError, RESERVED_NICKS, first_bad_char};
use crate::text::excerpt;

/// A user's nickname: valid by construction, case-insensitive in comparisons.
#[derive(Clone)]
pub struct Nick {
    /// As the user typed it; shown to others.
    display: String,
    /// Lowercase; what equality, hashing, ordering and uniqueness use.
    key: String,
}

impl Nick {
    /// A nick a user asks for: syntax, reserved names and the guest prefix are checked.
    pub fn parse(input: &str) -> Result<Self, NameError> {
        let nick = Self::parse_known(input)?;
        if RESERVED_NICKS.contains(&nick.key.as_str()) {
            return Err(NameError::ReservedNick { nick: nick.display });
        }
        if nick.is_guest() {
            return Err(NameError::GuestNick { nick: nick.display });
        }
        Ok(nick)
    }

    /// A nick already in use (sent by the server, read from history): only the syntax is
    /// checked, so guest names are accepted. Use [`Nick::parse`] for a name a user picks.
    pub fn parse_known(input: &str) -> Result<Self, NameError> {
        let len = input.chars().count();
        let first = input.chars().next().ok_or(NameError::EmptyNick)?;
        if len > MAX_NICK_LEN {
            return Err(NameError::NickTooLong { len });
        }
        if !first.is_ascii_alphabetic() {
            return Err(NameError::NickStart {
                found: excerpt(&first.to_string(), 1),
            });
        }
        if let Some((found, position)) = first_bad_char(input) {
            return Err(NameError::NickChar { found, position });
        }
        Ok(Self {
            display: input.to_owned(),
            key: input.to_ascii_lowercase(),
        })
    }

    /// The guest nick `guest-<n>` for a connection that has not picked a nick.
    ///
    /// `n` is taken modulo 10^18 so that the name fits in [`MAX_NICK_LEN`]; a server counting
    /// connections never gets there.
    pub fn guest(n: u64) -> Self {
        let display = format!("{GUEST_PREFIX}{}", n % 1_000_000_000_000_000_000);
        Self {
            key: display.clone(),
            display,
        }
    }

    /// Whether this is a server-assigned guest name (`guest-…`, any case).
    pub fn is_guest(&self) -> bool {
        self.key.starts_with(GUEST_PREFIX)
    }

    /// The spelling the user chose.
    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// The lowercase form: index users by this.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl fmt::Display for Nick {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

impl fmt::Debug for Nick {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Nick({:?})", self.display)
    }
}

impl PartialEq for Nick {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for Nick {}

impl Hash for Nick {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key.hash(state);
    }
}

impl PartialOrd for Nick {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Nick {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key.cmp(&other.key)
    }
}

impl TryFrom<&str> for Nick {
    type Error = NameError;

    /// Same as [`Nick::parse`]: the rules for a nick a user picks.
    fn try_from(input: &str) -> Result<Self, NameError> {
        Self::parse(input)
    }
}

impl Serialize for Nick {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.display)
    }
}

impl<'de> Deserialize<'de> for Nick {
    /// Reads with [`Nick::parse_known`]: what the server sends includes guest names.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse_known(&text).map_err(serde::de::Error::custom)
    }
}

impl TryFrom<String> for Nick {
    type Error = NameError;

    /// Same as [`Nick::parse`].
    fn try_from(input: String) -> Result<Self, NameError> {
        Self::parse(&input)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error_kind::{ErrorKind, ErrorReply};

    fn nick_err(input: &str) -> NameError {
        match Nick::parse(input) {
            Ok(nick) => panic!("{input:?} was accepted as {nick:?}"),
            Err(err) => err,
        }
    }

    #[test]
    fn nick_keeps_display_and_compares_case_insensitively() -> Result<(), NameError> {
        let nick = Nick::parse("Alice_9-x")?;
        assert_eq!(nick.as_str(), "Alice_9-x");
        assert_eq!(nick.key(), "alice_9-x");
        assert_eq!(nick.to_string(), "Alice_9-x");
        assert_eq!(nick, Nick::parse("ALICE_9-X")?);
        let set: std::collections::HashSet<Nick> = [Nick::parse("bob")?, Nick::parse("BOB")?]
            .into_iter()
            .collect();
        assert_eq!(set.len(), 1);
        Ok(())
    }

    #[test]
    fn nick_length_limit_at_boundary_and_past_it() {
        assert!(Nick::parse("a").is_ok());
        assert!(Nick::parse(&"a".repeat(MAX_NICK_LEN)).is_ok());
        let err = nick_err(&"a".repeat(31));
        assert_eq!(err, NameError::NickTooLong { len: 31 });
        assert_eq!(err.to_string(), "nick too long: 31 characters, at most 24");
        assert_eq!(
            nick_err(&"a".repeat(25)),
            NameError::NickTooLong { len: 25 }
        );
    }

    #[test]
    fn empty_nick_is_refused() {
        assert_eq!(nick_err(""), NameError::EmptyNick);
        assert_eq!(
            nick_err("").to_string(),
            "nick is empty: expected 1 to 24 characters"
        );
    }

    #[test]
    fn nick_must_start_with_a_letter() {
        assert_eq!(
            nick_err("9lives").to_string(),
            "nick must start with an ASCII letter, got '9'"
        );
        assert_eq!(nick_err("_x"), NameError::NickStart { found: "_".into() });
        assert_eq!(nick_err("éric"), NameError::NickStart { found: "é".into() });
    }

    #[test]
    fn nick_characters_are_restricted() {
        let err = nick_err("bob!");
        assert_eq!(
            err,
            NameError::NickChar {
                found: "!".into(),
                position: 4
            }
        );
        assert_eq!(
            err.to_string(),
            "nick has an invalid character '!' at position 4: use ASCII letters, digits, '_' or '-'"
        );
        assert_eq!(
            nick_err("a b"),
            NameError::NickChar {
                found: " ".into(),
                position: 2
            }
        );
        assert_eq!(
            nick_err("a\nb"),
            NameError::NickChar {
                found: "\\n".into(),
                position: 2
            }
        );
        assert_eq!(
            nick_err("aé"),
            NameError::NickChar {
                found: "é".into(),
                position: 2
            }
        );
    }

    #[test]
    fn reserved_nicks_are_refused_in_any_case() {
        for name in RESERVED_NICKS {
            assert!(
                matches!(nick_err(name), NameError::ReservedNick { .. }),
                "{name}"
            );
        }
        let err = nick_err("Admin");
        assert_eq!(
            err.to_string(),
            "nick Admin is reserved: pick another with /nick <name>"
        );
        assert_eq!(err.kind(), ErrorKind::InvalidNick);
        assert!(Nick::parse("administrator").is_ok());
    }

    #[test]
    fn users_may_not_pick_guest_names() {
        let err = nick_err("Guest-7");
        assert_eq!(
            err,
            NameError::GuestNick {
                nick: "Guest-7".into()
            }
        );
        assert!(err.to_string().contains("starting with 'guest-'"));
        assert!(Nick::parse("guest").is_ok());
        assert!(Nick::parse("guest_7").is_ok());
    }

    #[test]
    fn guest_names_are_valid_known_nicks() -> Result<(), NameError> {
        let guest = Nick::guest(42);
        assert_eq!(guest.as_str(), "guest-42");
        assert!(guest.is_guest());
        assert_eq!(Nick::parse_known("guest-42")?, guest);
        let biggest = Nick::guest(u64::MAX);
        assert!(biggest.as_str().len() <= MAX_NICK_LEN);
        assert_eq!(Nick::parse_known(biggest.as_str())?, biggest);
        Ok(())
    }

    #[test]
    fn nicks_serialize_as_strings_and_deserialize_guests() -> Result<(), serde_json::Error> {
        let nick: Nick = serde_json::from_str("\"guest-3\"")?;
        assert_eq!(serde_json::to_string(&nick)?, "\"guest-3\"");
        assert!(serde_json::from_str::<Nick>("\"1x\"").is_err());
        assert_eq!(Nick::try_from("Bob".to_owned()), Nick::parse("bob"));
        Ok(())
    }
}
