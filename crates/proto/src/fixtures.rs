//! Names and messages for tests, so that every crate's tests build them the same way instead
//! of keeping a copy each. In this crate's own tests, and for other crates with the `fixtures`
//! feature (a dev-dependency feature: nothing here is for production code).
//!
//! Each function panics, naming the input, when it is not valid: a test's own literal is a bug
//! in the test, not input to recover from.

use crate::event::ChatMessage;
use crate::{Nick, RoomName};

/// A nick a test spells out (`"alice"`, `"guest-3"`): any nick the server may send.
pub fn nick(name: &str) -> Nick {
    Nick::parse_known(name).unwrap_or_else(|err| panic!("test nick {name:?}: {err}"))
}

/// A room a test spells out, with or without its `#`.
pub fn room(name: &str) -> RoomName {
    RoomName::parse(name).unwrap_or_else(|err| panic!("test room {name:?}: {err}"))
}

/// Message `id` in `room` from `from`, saying `text`, sent at `id` seconds after the epoch
/// (so ids and times grow together).
pub fn message(id: u64, room_name: &str, from: &str, text: &str) -> ChatMessage {
    ChatMessage {
        id,
        ts: id * 1000,
        room: room(room_name),
        from: nick(from),
        text: text.to_owned(),
        action: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixtures_build_what_they_say() {
        assert_eq!(nick("guest-3"), Nick::guest(3));
        assert_eq!(room("rust").as_str(), "#rust");
        let m = message(7, "#a", "alice", "hi");
        assert_eq!(
            (m.id, m.ts, m.room.as_str(), m.from.as_str()),
            (7, 7000, "#a", "alice")
        );
        assert_eq!(m.text, "hi");
    }

    #[test]
    #[should_panic(expected = "test nick \"1x\"")]
    fn a_bad_literal_names_itself() {
        nick("1x");
    }
}
