//! The JSON protocol, server side of the conversation: `ServerEvent` ↔ JSON objects.
//!
//! Data path: hub → `ServerEvent` → [`ServerEvent::to_json`] (once per event) → the same
//! WebSocket text frame for every JSON receiver. Clients read events back with
//! [`ServerEvent::from_json`].
//!
//! The format is serde's internally tagged form: `{"type":"nick_changed","old":…,"new":…,"ts":…}`,
//! type names in `snake_case`, every field always present (`null` for an absent option). Numbers
//! are unsigned 64-bit; ids and millisecond times stay far below 2^53 in practice, so JavaScript
//! reads them exactly.

use serde_json::Value;

use crate::{JsonError, ServerEvent};

impl ServerEvent {
    /// This event as one JSON object, `{"type":"…", …}`.
    pub fn to_json(&self) -> String {
        match serde_json::to_string(self) {
            Ok(json) => json,
            // Unreachable with these types (string keys, infallible field serializers); a
            // well-formed error object is still better than a panic.
            Err(err) => {
                let message = Value::from(format!("event could not be encoded: {err}"));
                format!(r#"{{"type":"error","kind":"internal","message":{message}}}"#)
            }
        }
    }

    /// Reads a server event (for clients). Unknown error kinds read as `ErrorKind::Other`.
    pub fn from_json(text: &str) -> Result<Self, JsonError> {
        serde_json::from_str(text).map_err(|err| JsonError::Event {
            detail: err.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use crate::fixtures::{nick, room};
    use crate::strategies;
    use proptest::prelude::*;

    #[test]
    fn events_have_a_snake_case_type_and_every_field() {
        let event = ServerEvent::NickChanged {
            old: nick("guest-1"),
            new: nick("alice"),
            ts: 5,
        };
        assert_eq!(
            event.to_json(),
            r#"{"type":"nick_changed","old":"guest-1","new":"alice","ts":5}"#
        );
        let left = ServerEvent::Left {
            room: room("a"),
            nick: nick("bob"),
            ts: 1,
            reason: None,
        };
        assert_eq!(
            left.to_json(),
            r##"{"type":"left","room":"#a","nick":"bob","ts":1,"reason":null}"##
        );
        let error = ServerEvent::error(ErrorKind::NickTaken, "nick taken");
        assert_eq!(
            error.to_json(),
            r#"{"type":"error","kind":"nick_taken","message":"nick taken"}"#
        );
    }

    #[test]
    fn bad_events_are_refused_with_the_reason() {
        let err = ServerEvent::from_json(r##"{"type":"joined","room":"#a"}"##);
        assert!(
            matches!(&err, Err(JsonError::Event { detail }) if detail.contains("missing field")),
            "{err:?}"
        );
        assert!(ServerEvent::from_json(r#"{"type":"teleport"}"#).is_err());
        let future = ServerEvent::from_json(r#"{"type":"error","kind":"new_kind","message":"m"}"#);
        assert_eq!(future, Ok(ServerEvent::error(ErrorKind::Other, "m")));
    }

    proptest! {
        #[test]
        fn events_round_trip_and_tag_their_type(event in strategies::event()) {
            let json = event.to_json();
            let tag = format!(r#"{{"type":"{}""#, event.type_name());
            prop_assert!(json.starts_with(&tag), "{} does not start with {}", json, tag);
            prop_assert_eq!(ServerEvent::from_json(&json), Ok(event));
        }
    }
}
