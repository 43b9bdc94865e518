//! Messages as SQLite rows and back: each `u64` checked to fit SQLite's `i64` on the way in,
//! each column checked on the way out (a hand-edited file may hold anything), and every failure
//! saying which value of which message or column was wrong.

use rusqlite::Row;
use rusqlite::types::ValueRef;
use rustchat_proto::{ChatMessage, Nick, RoomName};

/// Why an append failed, before the place and count are attached.
pub(super) enum AppendError {
    Sql(rusqlite::Error),
    Range {
        id: u64,
        field: &'static str,
        value: u64,
    },
}

impl From<rusqlite::Error> for AppendError {
    fn from(err: rusqlite::Error) -> Self {
        Self::Sql(err)
    }
}

/// A `u64` as SQLite's `i64`, or which value of which message does not fit.
pub(super) fn sql_int(
    message: &ChatMessage,
    field: &'static str,
    value: u64,
) -> Result<i64, AppendError> {
    i64::try_from(value).map_err(|_| AppendError::Range {
        id: message.id,
        field,
        value,
    })
}

/// A row back into a message, or why it cannot be one.
pub(super) fn parse_row(row: &Row<'_>) -> Result<ChatMessage, String> {
    let room = text_col(row, 2, "room")?;
    let nick = text_col(row, 3, "nick")?;
    let text = text_col(row, 4, "text")?;
    if text.is_empty() {
        return Err("the text is empty".to_owned());
    }
    Ok(ChatMessage {
        id: int_col(row, 0, "id")?,
        ts: int_col(row, 1, "ts")?,
        room: RoomName::parse(room).map_err(|err| format!("room {room:?}: {err}"))?,
        from: Nick::parse_known(nick).map_err(|err| format!("nick {nick:?}: {err}"))?,
        text: text.to_owned(),
        action: int_col(row, 5, "action")? != 0,
    })
}

fn int_col(row: &Row<'_>, idx: usize, name: &str) -> Result<u64, String> {
    match row.get_ref(idx).map_err(|err| err.to_string())? {
        ValueRef::Integer(value) => {
            u64::try_from(value).map_err(|_| format!("{name} {value} is negative"))
        }
        other => Err(format!("{name} is {}, not an integer", other.data_type())),
    }
}

fn text_col<'r>(row: &'r Row<'_>, idx: usize, name: &str) -> Result<&'r str, String> {
    match row.get_ref(idx).map_err(|err| err.to_string())? {
        ValueRef::Text(bytes) => {
            std::str::from_utf8(bytes).map_err(|err| format!("{name} is not UTF-8: {err}"))
        }
        other => Err(format!("{name} is {}, not text", other.data_type())),
    }
}
