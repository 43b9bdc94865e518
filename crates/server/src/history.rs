//! `History`: the room messages the server keeps, in SQLite.
//!
//! Data path: the hub's `Outcome::record` → the committer thread (fanout/committer.rs) →
//! [`History::append_batch`], one transaction per batch → only then are the deliveries fanned
//! out. At startup, [`History::recent`] and [`History::next_id`] seed the hub's in-memory
//! history and id counter. At run time the database is write-mostly: `/history` is answered from
//! the hub's memory, not from here.
//!
//! Durability ([`Durability`]): the file is in WAL mode. With `synchronous=NORMAL` (the default)
//! a commit writes the transaction to the WAL and returns without `fsync`: a committed message
//! survives a crash of the process (even `SIGKILL`), because the bytes are in the OS page cache,
//! but the last commits may be lost if the *machine* loses power or the kernel panics (the WAL
//! is synced at checkpoints). `Durability::Full` syncs the WAL at every commit, which survives
//! power loss at the cost of one `fsync` per transaction — affordable because the committer
//! groups many messages into one transaction.
//!
//! `--history memory` ([`History::memory`]) is the same store on an SQLite `:memory:` database:
//! `/history` and the startup path behave the same, nothing touches the disk, nothing survives
//! the process, and each room keeps a bounded number of messages so memory cannot grow forever.
//!
//! Rows that do not read back as a valid message (a hand-edited file) are skipped with a warning.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use rusqlite::types::Value;
use rusqlite::{Connection, Row, TransactionBehavior, params};
use rustchat_proto::{ChatMessage, RoomName};

mod error;
mod row;
#[cfg(test)]
mod tests;

pub use error::HistoryError;
use row::{AppendError, parse_row, sql_int};

/// A count as SQLite takes it.
fn sql_count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The schema this code writes and understands (`PRAGMA user_version`).
/// 2 added `room_rules` (and `audit`, shared with the accounts); a version-1 file is upgraded
/// in place.
pub const SCHEMA_VERSION: u32 = 2;

/// Messages kept per room by [`History::memory`]: the most `/history` can ask for
/// (`MAX_HISTORY` = 500) with room to spare.
pub const MEMORY_KEEP_PER_ROOM: usize = 1000;

/// How long a statement waits for a lock held by another connection (a backup, `sqlite3` run
/// by the operator) before it fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS messages (
        id     INTEGER PRIMARY KEY,        -- ChatMessage::id: the order of history
        ts     INTEGER NOT NULL,           -- unix milliseconds
        room   TEXT NOT NULL,              -- '#lobby': lowercase, with its '#'
        nick   TEXT NOT NULL,              -- as spelled when said
        text   TEXT NOT NULL,
        action INTEGER NOT NULL DEFAULT 0  -- 1 for /me
    );
    -- \"the last N messages of a room\": an index seek, then a backward scan.
    CREATE INDEX IF NOT EXISTS messages_room_id ON messages (room, id);
    -- Each room's rules (owner, roles, bans, mutes, topic, modes) as one JSON object.
    CREATE TABLE IF NOT EXISTS room_rules (
        room  TEXT PRIMARY KEY,
        rules TEXT NOT NULL
    );
";

const INSERT: &str =
    "INSERT INTO messages (id, ts, room, nick, text, action) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

const LAST_OF_ROOM: &str = "SELECT id, ts, room, nick, text, action FROM messages
     WHERE room = ?1 ORDER BY id DESC LIMIT ?2";

/// Cuts a room back to its last ?2 messages.
const CUT_ROOM: &str = "DELETE FROM messages WHERE room = ?1 AND id < (SELECT MIN(id) FROM
    (SELECT id FROM messages WHERE room = ?1 ORDER BY id DESC LIMIT ?2))";

/// Deletes the oldest ?2 messages (by id) that were said before ?1.
const EXPIRE: &str = "DELETE FROM messages WHERE id IN
    (SELECT id FROM messages ORDER BY id LIMIT ?2) AND ts < ?1";

/// Every distinct room, one index seek per room (not a scan of all messages).
const ROOMS: &str = "
    WITH RECURSIVE rooms(room) AS (
        SELECT MIN(room) FROM messages
        UNION ALL
        SELECT (SELECT MIN(room) FROM messages WHERE room > rooms.room)
        FROM rooms WHERE rooms.room IS NOT NULL
    )
    SELECT room FROM rooms WHERE room IS NOT NULL";

/// How hard a commit tries to reach the disk (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous=NORMAL`: survives a process crash; the last commits may be lost on power
    /// loss. The fast default.
    #[default]
    Normal,
    /// `synchronous=FULL`: survives power loss; one `fsync` per committed batch.
    Full,
}

/// The message store: an SQLite file, or an SQLite `:memory:` database.
#[derive(Debug)]
pub struct History {
    conn: Connection,
    /// "history file /path" or "in-memory history": where errors and warnings say they happened.
    place: String,
    /// Keeps each room bounded (memory mode always; a file with `--history-keep`).
    prune: Option<Prune>,
    /// An SQLite `:memory:` database (nothing to checkpoint).
    in_memory: bool,
}

/// Memory mode's bound: rooms are cut back to `keep` messages once they have grown by `keep`
/// since the last cut, so a room holds at most `2 * keep` and pruning costs one `DELETE` per
/// `keep` messages.
#[derive(Debug)]
struct Prune {
    keep: usize,
    grown: HashMap<RoomName, usize>,
    /// Messages deleted by cuts so far.
    deleted: u64,
}

impl History {
    /// Opens (creating it and its directory if missing) the history file, with
    /// [`Durability::Normal`].
    pub fn open(path: &Path) -> Result<Self, HistoryError> {
        Self::open_with(path, Durability::Normal)
    }

    /// Opens the history file with the given durability.
    pub fn open_with(path: &Path, durability: Durability) -> Result<Self, HistoryError> {
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| HistoryError::CreateDir {
                dir: dir.to_owned(),
                source,
            })?;
        }
        let place = format!("history file {}", path.display());
        let open_err = |source| HistoryError::Open {
            place: place.clone(),
            source,
        };
        let conn = Connection::open(path).map_err(open_err)?;
        configure_file(&conn, durability).map_err(open_err)?;
        Self::with_schema(conn, place, None)
    }

    /// An in-memory store (`--history memory`) keeping [`MEMORY_KEEP_PER_ROOM`] messages per room.
    pub fn memory() -> Self {
        match Self::memory_keeping(MEMORY_KEEP_PER_ROOM) {
            Ok(history) => history,
            // Opening `:memory:` only fails if SQLite cannot allocate a few kilobytes.
            Err(err) => panic!("cannot create an in-memory SQLite database: {err}"),
        }
    }

    /// An in-memory store keeping at least `per_room` (and at most twice that) messages per room.
    pub fn memory_keeping(per_room: usize) -> Result<Self, HistoryError> {
        let place = "in-memory history".to_owned();
        let conn = Connection::open_in_memory().map_err(|source| HistoryError::Open {
            place: place.clone(),
            source,
        })?;
        let prune = Prune {
            keep: per_room.max(1),
            grown: HashMap::new(),
            deleted: 0,
        };
        Self::with_schema(conn, place, Some(prune))
    }

    /// Checks the schema version, creating the tables in a new file.
    fn with_schema(
        conn: Connection,
        place: String,
        prune: Option<Prune>,
    ) -> Result<Self, HistoryError> {
        let found: u32 = conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(|source| HistoryError::Open {
                place: place.clone(),
                source,
            })?;
        if found > SCHEMA_VERSION {
            return Err(HistoryError::NewerSchema {
                place,
                found,
                supported: SCHEMA_VERSION,
            });
        }
        if found < SCHEMA_VERSION {
            let audit = crate::accounts::store::AUDIT_SCHEMA;
            let klines = crate::klines::KLINES_SCHEMA;
            let create = format!(
                "BEGIN IMMEDIATE; {SCHEMA} {audit} {klines} PRAGMA user_version = {SCHEMA_VERSION}; \
                 COMMIT;"
            );
            if let Err(source) = conn.execute_batch(&create) {
                return Err(HistoryError::Schema { place, source });
            }
        }
        let in_memory = prune.is_some();
        Ok(Self {
            conn,
            place,
            prune,
            in_memory,
        })
    }

    /// Where this store is, as errors say it ("history file /var/lib/rustchat/history.db").
    pub fn place(&self) -> &str {
        &self.place
    }

    /// Makes rules and audit entries durable, in one transaction (before their events go out).
    pub fn save_state<'a>(
        &mut self,
        changes: impl IntoIterator<Item = &'a crate::rules::StateChange>,
    ) -> Result<(), HistoryError> {
        use crate::rules::StateChange;
        let place = self.place.clone();
        let fail = |source| HistoryError::State {
            place: place.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(fail)?;
        let mut bans_changed = false;
        for change in changes {
            bans_changed |= matches!(change, StateChange::Kline(_) | StateChange::Unkline(_));
            match change {
                StateChange::Rules { room, rules } if rules.is_empty() => {
                    tx.execute("DELETE FROM room_rules WHERE room = ?1", [room.as_str()])
                        .map_err(fail)?;
                }
                StateChange::Rules { room, rules } => {
                    let json = serde_json::to_string(rules).unwrap_or_default();
                    tx.execute(
                        "INSERT INTO room_rules (room, rules) VALUES (?1, ?2)
                         ON CONFLICT (room) DO UPDATE SET rules = excluded.rules",
                        params![room.as_str(), json],
                    )
                    .map_err(fail)?;
                }
                StateChange::Redact { id } => {
                    tx.execute(
                        "DELETE FROM messages WHERE id = ?1",
                        [i64::try_from(*id).unwrap_or(-1)],
                    )
                    .map_err(fail)?;
                }
                StateChange::Kline(kline) => {
                    tx.execute(
                        "INSERT INTO address_bans (net, until, by, reason) VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT (net) DO UPDATE SET until = excluded.until, by = excluded.by,
                         reason = excluded.reason",
                        params![
                            kline.net.to_string(),
                            kline.until.map(|u| i64::try_from(u).unwrap_or(i64::MAX)),
                            kline.by,
                            kline.reason
                        ],
                    )
                    .map_err(fail)?;
                }
                StateChange::Unkline(net) => {
                    tx.execute("DELETE FROM address_bans WHERE net = ?1", [net.to_string()])
                        .map_err(fail)?;
                }
                StateChange::Audit {
                    ts,
                    actor,
                    action,
                    target,
                    address,
                    detail,
                } => {
                    tx.execute(
                        "INSERT INTO audit (ts, actor, action, target, address, detail)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        params![
                            i64::try_from(*ts).unwrap_or(i64::MAX),
                            actor,
                            action,
                            target,
                            address,
                            detail
                        ],
                    )
                    .map_err(fail)?;
                }
            }
        }
        // The account service reloads the bans when this moves (it reads the file apart from
        // this connection: a reload that read before this commit is corrected a second later).
        if bans_changed && !self.in_memory {
            let watched: bool = tx
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'account_meta')",
                    [],
                    |r| r.get(0),
                )
                .map_err(fail)?;
            if watched {
                tx.execute(
                    "UPDATE account_meta SET value = value + 1 WHERE key = 'revision'",
                    [],
                )
                .map_err(fail)?;
            }
        }
        tx.commit().map_err(fail)
    }

    /// Every room's rules (at startup). Rows that do not read back are skipped with a warning.
    pub fn rules(&self) -> Result<Vec<(RoomName, crate::rules::RoomRules)>, HistoryError> {
        let read = |source| HistoryError::Read {
            place: self.place.clone(),
            source,
        };
        let mut statement = self
            .conn
            .prepare("SELECT room, rules FROM room_rules")
            .map_err(read)?;
        let rows = statement
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(read)?;
        let mut all = Vec::new();
        for row in rows {
            let (room, json) = row.map_err(read)?;
            match (RoomName::parse(&room), serde_json::from_str(&json)) {
                (Ok(room), Ok(rules)) => all.push((room, rules)),
                _ => tracing::warn!(%room, "room rules that do not read back were skipped"),
            }
        }
        Ok(all)
    }

    /// Every address ban (at startup).
    pub fn klines(&self) -> Result<Vec<crate::rules::Kline>, HistoryError> {
        crate::klines::read(&self.conn).map_err(|source| HistoryError::Read {
            place: self.place.clone(),
            source,
        })
    }

    /// Appends the messages in one transaction: all are stored, or none.
    pub fn append_batch(&mut self, messages: &[ChatMessage]) -> Result<(), HistoryError> {
        self.append_all(messages)
    }

    /// Like [`History::append_batch`], for messages that are not in one slice (the committer
    /// takes them from its outcomes without copying).
    pub fn append_all<'a>(
        &mut self,
        messages: impl IntoIterator<Item = &'a ChatMessage>,
    ) -> Result<(), HistoryError> {
        let mut count = 0;
        let result = self.try_append(messages, &mut count);
        result.map_err(|err| match err {
            AppendError::Sql(source) => HistoryError::Append {
                place: self.place.clone(),
                count,
                source,
            },
            AppendError::Range { id, field, value } => HistoryError::OutOfRange {
                place: self.place.clone(),
                id,
                field,
                value,
            },
        })
    }

    fn try_append<'a>(
        &mut self,
        messages: impl IntoIterator<Item = &'a ChatMessage>,
        count: &mut usize,
    ) -> Result<(), AppendError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut insert = tx.prepare_cached(INSERT)?;
            for message in messages {
                *count += 1;
                insert.execute(params![
                    sql_int(message, "id", message.id)?,
                    sql_int(message, "ts", message.ts)?,
                    message.room.as_str(),
                    message.from.as_str(),
                    message.text,
                    message.action,
                ])?;
                if let Some(prune) = &mut self.prune {
                    prune.grew(&tx, &message.room)?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The next message id to hand out: one past the largest stored, or 1 for an empty store.
    pub fn next_id(&self) -> Result<u64, HistoryError> {
        let max: Option<i64> = self
            .conn
            .query_row("SELECT MAX(id) FROM messages", [], |row| row.get(0))
            .map_err(|source| self.read_err(source))?;
        Ok(max.map_or(1, |max| u64::try_from(max).unwrap_or(0) + 1))
    }

    /// The last `n` messages of `room`, oldest first.
    pub fn last(&self, room: &RoomName, n: usize) -> Result<Vec<ChatMessage>, HistoryError> {
        let mut messages = self.last_raw(&Value::Text(room.as_str().to_owned()), n)?;
        messages.reverse();
        Ok(messages)
    }

    /// For startup: the last `per_room` messages of every room, oldest first overall (by id).
    pub fn recent(&self, per_room: usize) -> Result<Vec<ChatMessage>, HistoryError> {
        let mut messages = Vec::new();
        if per_room == 0 {
            return Ok(messages);
        }
        for room in self.rooms()? {
            messages.extend(self.last_raw(&room, per_room)?);
        }
        messages.sort_unstable_by_key(|message| message.id);
        Ok(messages)
    }

    /// Keeps at most about `per_room` messages per room from now on: a room is cut back to
    /// `per_room` whenever it has grown by `per_room` (so it holds between `per_room` and
    /// twice that, and a cut costs one `DELETE` per `per_room` messages). Rooms already over
    /// are cut now. Returns the messages deleted now.
    pub fn keep_per_room(&mut self, per_room: usize) -> Result<u64, HistoryError> {
        let keep = per_room.max(1);
        let mut deleted = 0;
        for room in self.rooms()? {
            deleted += self
                .conn
                .prepare_cached(CUT_ROOM)
                .and_then(|mut cut| cut.execute(params![room, sql_count(keep)]))
                .map_err(|source| self.write_err(source))? as u64;
        }
        self.prune = Some(Prune {
            keep,
            grown: HashMap::new(),
            deleted,
        });
        Ok(deleted)
    }

    /// Deletes up to `chunk` of the oldest messages if they were said before `cutoff_ms`
    /// (unix milliseconds), in one short transaction; returns how many. Call again while it
    /// returns `chunk`. Ids follow time, so the oldest messages are the first ids: when the
    /// oldest message is younger than the cutoff this costs one index seek.
    pub fn expire_before(&mut self, cutoff_ms: u64, chunk: usize) -> Result<u64, HistoryError> {
        let cutoff = i64::try_from(cutoff_ms).unwrap_or(i64::MAX);
        self.conn
            .prepare_cached(EXPIRE)
            .and_then(|mut expire| expire.execute(params![cutoff, sql_count(chunk)]))
            .map(|n| n as u64)
            .map_err(|source| self.write_err(source))
    }

    /// Messages deleted so far by the bound per room (see [`History::keep_per_room`]).
    pub fn cut_so_far(&self) -> u64 {
        self.prune.as_ref().map_or(0, |prune| prune.deleted)
    }

    /// Messages stored now (for tests and tools; a full count).
    pub fn count(&self) -> Result<u64, HistoryError> {
        self.conn
            .query_row("SELECT COUNT(*) FROM messages", [], |row| {
                row.get::<_, i64>(0)
            })
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(|source| self.read_err(source))
    }

    /// Checkpoints the WAL into the main file and closes the database.
    pub fn close(self) -> Result<(), HistoryError> {
        let place = self.place;
        let close_err = |source| HistoryError::Close {
            place: place.clone(),
            source,
        };
        if !self.in_memory {
            self.conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .map_err(close_err)?;
        }
        self.conn.close().map_err(|(_, source)| close_err(source))
    }

    /// The stored room values, as stored (a hand-edited one may not even be text).
    fn rooms(&self) -> Result<Vec<Value>, HistoryError> {
        let read = || -> rusqlite::Result<Vec<Value>> {
            let mut stmt = self.conn.prepare_cached(ROOMS)?;
            let rooms = stmt.query_map([], |row| row.get(0))?;
            rooms.collect()
        };
        read().map_err(|source| self.read_err(source))
    }

    /// The last `n` messages of a room, newest first; unreadable rows skipped.
    fn last_raw(&self, room: &Value, n: usize) -> Result<Vec<ChatMessage>, HistoryError> {
        let limit = i64::try_from(n).unwrap_or(i64::MAX);
        let read = || -> rusqlite::Result<Vec<ChatMessage>> {
            let mut stmt = self.conn.prepare_cached(LAST_OF_ROOM)?;
            let mut rows = stmt.query(params![room, limit])?;
            let mut messages = Vec::new();
            while let Some(row) = rows.next()? {
                match parse_row(row) {
                    Ok(message) => messages.push(message),
                    Err(why) => self.warn_skipped(row, &why),
                }
            }
            Ok(messages)
        };
        read().map_err(|source| self.read_err(source))
    }

    fn warn_skipped(&self, row: &Row<'_>, why: &str) {
        let id = row.get_ref(0).ok().and_then(|id| id.as_i64().ok());
        tracing::warn!(place = %self.place, ?id, "skipping a history row: {why}");
    }

    fn write_err(&self, source: rusqlite::Error) -> HistoryError {
        HistoryError::Append {
            place: self.place.clone(),
            count: 0,
            source,
        }
    }

    fn read_err(&self, source: rusqlite::Error) -> HistoryError {
        HistoryError::Read {
            place: self.place.clone(),
            source,
        }
    }
}

/// WAL, the chosen `synchronous` level, and a busy timeout.
fn configure_file(conn: &Connection, durability: Durability) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(%mode, "the history file is not in WAL mode; appends will be slower");
    }
    let synchronous = match durability {
        Durability::Normal => "NORMAL",
        Durability::Full => "FULL",
    };
    conn.pragma_update(None, "synchronous", synchronous)
}

impl Prune {
    /// Counts one new message of `room`; cuts the room back to `keep` when it has grown by `keep`.
    fn grew(&mut self, conn: &Connection, room: &RoomName) -> rusqlite::Result<()> {
        let grown = match self.grown.get_mut(room) {
            Some(grown) => grown,
            None => self.grown.entry(room.clone()).or_insert(0),
        };
        *grown += 1;
        if *grown < self.keep {
            return Ok(());
        }
        *grown = 0;
        let deleted = conn
            .prepare_cached(CUT_ROOM)?
            .execute(params![room.as_str(), sql_count(self.keep)])?;
        self.deleted += deleted as u64;
        Ok(())
    }
}
