//! `RoomName`: a room's name, valid by construction (rules in names.rs).
//!
//! Data path: `/join rust`, `/who #Rust` or a JSON field → [`RoomName::parse`] → `Command` /
//! `ServerEvent`. Stored lowercase with its `#`, so equality is plain string equality.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::names::{MAX_ROOM_LEN, NameError, first_bad_char};

/// A room name, stored lowercase with its `#` (`#lobby`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoomName(String);

impl RoomName {
    /// Parses `#rust`, `rust` or `#Rust` (all give `#rust`).
    pub fn parse(input: &str) -> Result<Self, NameError> {
        let (bare, offset) = match input.strip_prefix('#') {
            Some(bare) => (bare, 1),
            None => (input, 0),
        };
        let len = bare.chars().count();
        if len == 0 {
            return Err(NameError::EmptyRoom);
        }
        if len > MAX_ROOM_LEN {
            return Err(NameError::RoomTooLong { len });
        }
        if let Some((found, position)) = first_bad_char(bare) {
            return Err(NameError::RoomChar {
                found,
                position: position + offset,
            });
        }
        Ok(Self(format!("#{}", bare.to_ascii_lowercase())))
    }

    /// The room every connection starts in.
    pub fn lobby() -> Self {
        Self("#lobby".to_owned())
    }

    /// The name with its `#`: `#lobby`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RoomName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RoomName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RoomName({:?})", self.0)
    }
}

impl TryFrom<&str> for RoomName {
    type Error = NameError;

    fn try_from(input: &str) -> Result<Self, NameError> {
        Self::parse(input)
    }
}

impl Serialize for RoomName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for RoomName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl TryFrom<String> for RoomName {
    type Error = NameError;

    fn try_from(input: String) -> Result<Self, NameError> {
        Self::parse(&input)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error_kind::{ErrorKind, ErrorReply};

    fn room_err(input: &str) -> NameError {
        match RoomName::parse(input) {
            Ok(room) => panic!("{input:?} was accepted as {room:?}"),
            Err(err) => err,
        }
    }

    #[test]
    fn room_accepts_with_or_without_hash_and_lowercases() -> Result<(), NameError> {
        assert_eq!(RoomName::parse("#Rust")?.as_str(), "#rust");
        assert_eq!(RoomName::parse("rust")?, RoomName::parse("#RUST")?);
        assert_eq!(RoomName::parse("a-b_9")?.to_string(), "#a-b_9");
        assert_eq!(RoomName::lobby().as_str(), "#lobby");
        Ok(())
    }

    #[test]
    fn room_length_limit_at_boundary_and_past_it() {
        assert!(RoomName::parse(&format!("#{}", "r".repeat(MAX_ROOM_LEN))).is_ok());
        let err = room_err(&format!("#{}", "r".repeat(33)));
        assert_eq!(err, NameError::RoomTooLong { len: 33 });
        assert_eq!(
            err.to_string(),
            "room name too long: 33 characters, at most 32 after the #"
        );
        assert_eq!(err.kind(), ErrorKind::InvalidRoom);
    }

    #[test]
    fn empty_room_is_refused() {
        assert_eq!(room_err("#"), NameError::EmptyRoom);
        assert_eq!(room_err(""), NameError::EmptyRoom);
        assert!(room_err("#").to_string().contains("like #lobby"));
    }

    #[test]
    fn room_characters_are_restricted_and_positions_count_the_hash() {
        assert_eq!(
            room_err("#a.b"),
            NameError::RoomChar {
                found: ".".into(),
                position: 3
            }
        );
        assert_eq!(
            room_err("a.b"),
            NameError::RoomChar {
                found: ".".into(),
                position: 2
            }
        );
        assert_eq!(
            room_err("##x"),
            NameError::RoomChar {
                found: "#".into(),
                position: 2
            }
        );
    }

    #[test]
    fn rooms_serialize_as_strings_and_deserialize_with_checks() -> Result<(), serde_json::Error> {
        let room: RoomName = serde_json::from_str("\"#Lobby\"")?;
        assert_eq!(serde_json::to_string(&room)?, "\"#lobby\"");
        assert!(serde_json::from_str::<RoomName>("\"#a b\"").is_err());
        assert_eq!(
            RoomName::try_from("Rust".to_owned()),
            RoomName::parse("#rust")
        );
        Ok(())
    }
}
