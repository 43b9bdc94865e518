//! History against real SQLite files in a temporary directory.

use std::error::Error;
use std::path::Path;

use rusqlite::{Connection, params};

use super::*;
use rustchat_proto::fixtures;

type TestResult = Result<(), Box<dyn Error>>;

/// Message `id` in `room` (`"#a"`), said by `alice`.
pub(crate) fn message(id: u64, room: &str) -> ChatMessage {
    ChatMessage {
        id,
        ts: 1_700_000_000_000 + id,
        room: fixtures::room(room),
        from: fixtures::nick("alice"),
        text: format!("message {id}"),
        action: id.is_multiple_of(7),
    }
}

fn ids(messages: &[ChatMessage]) -> Vec<u64> {
    messages.iter().map(|message| message.id).collect()
}

fn pragma(path: &Path, name: &str) -> Result<String, rusqlite::Error> {
    let conn = Connection::open(path)?;
    conn.query_row(&format!("PRAGMA {name}"), [], |row| {
        row.get::<_, rusqlite::types::Value>(0)
    })
    .map(|value| format!("{value:?}"))
}

#[test]
fn appended_messages_survive_a_reopen_in_order() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("data").join("history.db"); // parent is created
    let mut history = History::open(&path)?;
    assert_eq!(history.next_id()?, 1);
    history.append_batch(&[message(1, "#a"), message(2, "#b"), message(3, "#a")])?;
    history.append_batch(&[message(4, "#b")])?;
    history.close()?;

    let history = History::open(&path)?;
    assert_eq!(history.next_id()?, 5);
    assert_eq!(
        history.recent(10)?,
        vec![
            message(1, "#a"),
            message(2, "#b"),
            message(3, "#a"),
            message(4, "#b"),
        ]
    );
    assert_eq!(
        history.last(&RoomName::parse("#a")?, 10)?,
        vec![message(1, "#a"), message(3, "#a")]
    );
    assert_eq!(ids(&history.last(&RoomName::parse("#b")?, 1)?), [4]);
    assert!(history.last(&RoomName::parse("#nobody")?, 5)?.is_empty());
    Ok(())
}

#[test]
fn recent_keeps_the_last_n_of_every_room_oldest_first() -> TestResult {
    let mut history = History::open(&tempfile::tempdir()?.path().join("h.db"))?;
    let rooms = ["#a", "#b", "#a", "#c", "#a", "#b", "#a"];
    let batch: Vec<_> = (1..)
        .zip(rooms)
        .map(|(id, room)| message(id, room))
        .collect();
    history.append_batch(&batch)?;
    // #a: 1 3 5 7, #b: 2 6, #c: 4
    assert_eq!(ids(&history.recent(2)?), [2, 4, 5, 6, 7]);
    assert_eq!(ids(&history.recent(1)?), [4, 6, 7]);
    assert!(history.recent(0)?.is_empty());
    assert_eq!(ids(&history.last(&RoomName::parse("#a")?, 3)?), [3, 5, 7]);
    Ok(())
}

#[test]
fn ten_thousand_messages_append_in_one_transaction() -> TestResult {
    let mut history = History::open(&tempfile::tempdir()?.path().join("h.db"))?;
    let batch: Vec<_> = (1..=10_000).map(|id| message(id, "#bulk")).collect();
    history.append_batch(&batch)?;
    assert_eq!(history.next_id()?, 10_001);
    assert_eq!(
        ids(&history.last(&RoomName::parse("#bulk")?, 2)?),
        [9_999, 10_000]
    );
    history.append_batch(&[])?; // an empty batch is a no-op
    Ok(())
}

#[test]
fn a_failing_batch_stores_nothing_and_says_where() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("h.db");
    let mut history = History::open(&path)?;
    history.append_batch(&[message(1, "#a")])?;
    let err = history
        .append_batch(&[message(2, "#a"), message(1, "#a")]) // duplicate id 1
        .expect_err("a duplicate id must fail");
    assert!(
        matches!(err, HistoryError::Append { count: 2, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    assert_eq!(
        history.next_id()?,
        2,
        "message 2 was rolled back with its batch"
    );

    let mut huge = message(3, "#a");
    huge.ts = u64::MAX;
    let err = history
        .append_batch(&[huge])
        .expect_err("ts above i64::MAX");
    assert!(
        err.to_string().contains("its ts 18446744073709551615"),
        "{err}"
    );
    Ok(())
}

#[test]
fn file_mode_is_wal_with_the_chosen_synchronous_level() -> TestResult {
    let dir = tempfile::tempdir()?;
    let normal = dir.path().join("normal.db");
    let history = History::open(&normal)?;
    assert_eq!(pragma(&normal, "journal_mode")?, r#"Text("wal")"#);
    let synchronous: i64 = history
        .conn
        .pragma_query_value(None, "synchronous", |row| row.get(0))?;
    assert_eq!(synchronous, 1, "NORMAL");

    let full = History::open_with(&dir.path().join("full.db"), Durability::Full)?;
    let synchronous: i64 = full
        .conn
        .pragma_query_value(None, "synchronous", |row| row.get(0))?;
    assert_eq!(synchronous, 2, "FULL");
    Ok(())
}

#[test]
fn a_newer_schema_is_refused_with_a_clear_message() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("h.db");
    History::open(&path)?.close()?;
    Connection::open(&path)?.pragma_update(None, "user_version", 99)?;

    let err = History::open(&path).expect_err("version 99 is from the future");
    assert!(matches!(
        err,
        HistoryError::NewerSchema {
            found: 99,
            supported: SCHEMA_VERSION,
            ..
        }
    ));
    let text = err.to_string();
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains("schema version 99"), "{text}");
    assert!(text.contains("upgrade rustchat"), "{text}");
    Ok(())
}

#[test]
fn a_file_that_is_not_a_database_is_refused() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("notes.txt");
    std::fs::write(
        &path,
        "this is not an SQLite file, it is long enough to have a header",
    )?;
    let err = History::open(&path).expect_err("not a database");
    assert!(matches!(err, HistoryError::Open { .. }), "{err:?}");
    assert!(err.to_string().contains("notes.txt"), "{err}");
    Ok(())
}

#[test]
fn hand_edited_rows_that_are_not_messages_are_skipped() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("h.db");
    let mut history = History::open(&path)?;
    history.append_batch(&[message(1, "#a"), message(9, "#a")])?;
    let conn = Connection::open(&path)?;
    let insert =
        "INSERT INTO messages (id, ts, room, nick, text, action) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
    conn.execute(insert, params![2, 1, "#a", "1bad-nick", "hi", 0])?;
    conn.execute(insert, params![3, 1, "no spaces allowed", "bob", "hi", 0])?;
    conn.execute(insert, params![4, -5, "#a", "bob", "negative time", 0])?;
    conn.execute(insert, params![5, 1, "#a", "bob", "", 0])?;
    conn.execute(
        insert,
        params![6, 1, b"#a".to_vec(), "bob", "room is a blob", 0],
    )?;
    conn.execute(insert, params![7, 1, "#a", "bob", vec![0xffu8, 0xfe], 0])?;
    conn.execute(
        "INSERT INTO messages VALUES (8, 1, '#a', 'bob', CAST(X'FF' AS TEXT), 0)",
        [],
    )?;
    drop(conn);

    assert_eq!(ids(&history.recent(100)?), [1, 9]);
    assert_eq!(ids(&history.last(&RoomName::parse("#a")?, 100)?), [1, 9]);
    assert_eq!(history.next_id()?, 10);
    Ok(())
}

#[test]
fn memory_mode_stores_and_reads_back() -> TestResult {
    let mut history = History::memory();
    assert_eq!(history.place(), "in-memory history");
    assert_eq!(history.next_id()?, 1);
    history.append_batch(&[message(1, "#a"), message(2, "#b"), message(3, "#a")])?;
    assert_eq!(ids(&history.recent(5)?), [1, 2, 3]);
    assert_eq!(ids(&history.last(&RoomName::parse("#a")?, 5)?), [1, 3]);
    assert_eq!(history.next_id()?, 4);
    history.close()?;
    Ok(())
}

#[test]
fn memory_mode_keeps_each_room_bounded() -> TestResult {
    let mut history = History::memory_keeping(3)?;
    for id in 1..=20 {
        history.append_batch(&[message(id, "#busy")])?;
    }
    history.append_batch(&[message(21, "#quiet")])?;
    let busy = history.last(&RoomName::parse("#busy")?, 100)?;
    assert!((3..=6).contains(&busy.len()), "kept {:?}", ids(&busy));
    assert_eq!(ids(&busy[busy.len() - 3..]), [18, 19, 20]);
    assert_eq!(ids(&history.last(&RoomName::parse("#quiet")?, 100)?), [21]);
    assert_eq!(history.next_id()?, 22);
    Ok(())
}

#[test]
fn a_file_keeps_between_n_and_2n_a_room_and_rooms_already_over_are_cut_at_open() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("history.db");
    let mut history = History::open(&path)?;
    let many: Vec<_> = (1..=30).map(|id| message(id, "#a")).collect();
    history.append_batch(&many)?;
    history.append_batch(&[message(31, "#b")])?;
    history.close()?;

    let mut history = History::open(&path)?;
    assert_eq!(
        history.keep_per_room(10)?,
        20,
        "#a cut to its last 10 at once"
    );
    assert_eq!(
        ids(&history.last(&fixtures::room("#a"), 100)?),
        (21..=30).collect::<Vec<_>>()
    );
    // Growing: no cut until the room has grown by 10 more, then back to 10.
    let more: Vec<_> = (32..=41).map(|id| message(id, "#a")).collect();
    history.append_batch(&more[..9])?;
    assert_eq!(
        history.last(&fixtures::room("#a"), 100)?.len(),
        19,
        "between N and 2N"
    );
    history.append_batch(&more[9..])?;
    let kept = ids(&history.last(&fixtures::room("#a"), 100)?);
    assert_eq!(kept, (32..=41).collect::<Vec<_>>());
    assert_eq!(
        history.last(&fixtures::room("#b"), 100)?.len(),
        1,
        "other rooms untouched"
    );
    assert_eq!(history.cut_so_far(), 30);
    history.close()?;
    Ok(())
}

#[test]
fn expiry_deletes_the_oldest_in_chunks_and_nothing_younger() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut history = History::open(&dir.path().join("history.db"))?;
    // ts = 1_700_000_000_000 + id: ids 1..=25 are older than the cutoff, 26..=40 younger.
    let all: Vec<_> = (1..=40)
        .map(|id| message(id, if id % 2 == 0 { "#a" } else { "#b" }))
        .collect();
    history.append_batch(&all)?;
    let cutoff = 1_700_000_000_000 + 26;
    assert_eq!(history.expire_before(cutoff, 10)?, 10, "a full chunk");
    assert_eq!(history.expire_before(cutoff, 10)?, 10);
    assert_eq!(
        history.expire_before(cutoff, 10)?,
        5,
        "the rest: a short chunk"
    );
    assert_eq!(
        history.expire_before(cutoff, 10)?,
        0,
        "nothing older is left"
    );
    assert_eq!(history.count()?, 15);
    let left = history.recent(100)?;
    assert_eq!(ids(&left), (26..=40).collect::<Vec<_>>());
    assert_eq!(history.next_id()?, 41, "ids go on after the deleted ones");
    history.close()?;
    Ok(())
}

#[test]
fn room_rules_and_audit_entries_are_saved_and_restored_and_a_version_1_file_upgrades() -> TestResult
{
    use crate::rules::{RoomRules, Sanction, StateChange};
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("h.db");
    History::open(&path)?.close()?;
    // A file as version 1 left it: no room_rules table.
    let old = Connection::open(&path)?;
    old.execute_batch("DROP TABLE room_rules; PRAGMA user_version = 1;")?;
    drop(old);
    let mut history = History::open(&path)?;
    let room = rustchat_proto::RoomName::parse("#club")?;
    let mut rules = RoomRules {
        owner: Some("Alice".into()),
        moderated: true,
        ..RoomRules::default()
    };
    rules.bans.insert(
        "mallory".into(),
        Sanction {
            until: Some(99),
            by: "alice".into(),
            reason: Some("spam".into()),
        },
    );
    history.save_state(&[
        StateChange::Rules {
            room: room.clone(),
            rules: rules.clone(),
        },
        StateChange::Audit {
            ts: 5,
            actor: "alice".into(),
            action: "ban".into(),
            target: Some("mallory in #club".into()),
            address: Some("192.0.2.1".into()),
            detail: Some("spam".into()),
        },
    ])?;
    history.close()?;
    let history = History::open(&path)?;
    assert_eq!(history.rules()?, vec![(room.clone(), rules)]);
    let audited: i64 = Connection::open(&path)?.query_row(
        "SELECT COUNT(*) FROM audit WHERE action = 'ban'",
        [],
        |r| r.get(0),
    )?;
    assert_eq!(audited, 1);
    // Empty rules remove the row.
    let mut history = history;
    history.save_state(&[StateChange::Rules {
        room,
        rules: RoomRules::default(),
    }])?;
    assert!(history.rules()?.is_empty());
    Ok(())
}
