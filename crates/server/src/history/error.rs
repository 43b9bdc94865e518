//! What can go wrong with the history store, each variant saying where.

use std::path::PathBuf;

/// What went wrong with the history store, and where.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The directory for the history file could not be created.
    #[error("cannot create the directory {dir} for the history file")]
    CreateDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file could not be opened as an SQLite database, or configured (WAL, pragmas).
    #[error("cannot open {place} (is it an SQLite file we can write?)")]
    Open {
        place: String,
        #[source]
        source: rusqlite::Error,
    },
    /// The file was written by a newer rustchat.
    #[error(
        "{place} has schema version {found}, this rustchat understands up to {supported}: \
         upgrade rustchat or point --history at another file"
    )]
    NewerSchema {
        place: String,
        found: u32,
        supported: u32,
    },
    /// Creating the tables failed.
    #[error("cannot create the history tables in {place}")]
    Schema {
        place: String,
        #[source]
        source: rusqlite::Error,
    },
    /// A message has a value SQLite cannot store (an integer above `i64::MAX`).
    #[error("cannot store message {id} in {place}: its {field} {value} is above {max}", max = i64::MAX)]
    OutOfRange {
        place: String,
        id: u64,
        field: &'static str,
        value: u64,
    },
    /// The append transaction failed (disk full, I/O error, duplicate id); nothing of the batch
    /// was stored.
    #[error("cannot append {count} messages to {place}")]
    Append {
        place: String,
        count: usize,
        #[source]
        source: rusqlite::Error,
    },
    /// Reading messages back failed.
    #[error("cannot read messages from {place}")]
    Read {
        place: String,
        #[source]
        source: rusqlite::Error,
    },
    /// The account tables could not be opened or created beside the history.
    #[error("cannot open the account tables")]
    Accounts {
        #[source]
        source: crate::accounts::store::StoreError,
    },
    /// Saving room rules or audit entries failed; nothing of the batch was stored.
    #[error("cannot save room rules or audit entries in {place}")]
    State {
        place: String,
        #[source]
        source: rusqlite::Error,
    },
    /// The committer's writer thread could not be spawned.
    #[error("cannot start the rustchat-history writer thread")]
    Spawn {
        #[source]
        source: std::io::Error,
    },
    /// The committer's writer thread panicked (in the fan-out); outcomes still queued were
    /// dropped.
    #[error("the rustchat-history writer thread panicked; outcomes still queued were dropped")]
    WriterPanicked,
    /// The final checkpoint or close failed (the data is committed; the WAL file may remain).
    #[error("cannot close {place} cleanly")]
    Close {
        place: String,
        #[source]
        source: rusqlite::Error,
    },
}

impl HistoryError {
    pub(crate) fn spawn(source: std::io::Error) -> Self {
        Self::Spawn { source }
    }
}
