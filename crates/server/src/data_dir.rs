//! One data directory, one server. Two servers on the same history would both hand out the
//! same message ids (each seeds its counter from the file at startup) and one would lose
//! messages to `UNIQUE constraint failed`. So a server that keeps its history in a file takes
//! an exclusive lock on `DATA_DIR/rustchat.lock` before it opens anything, holds it while it
//! runs, and writes its PID into the file so that a second server can say whose it is.
//!
//! The lock is `flock(2)` (std's `File::try_lock`): the kernel drops it when the process ends,
//! however it ends, so a server killed with SIGKILL leaves nothing to clean up — the stale PID
//! in the file is only ever read while the lock is held by a live process.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The lock file's name in the data directory.
pub const LOCK_FILE: &str = "rustchat.lock";

/// Why the data directory could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    /// Another live server holds it.
    #[error(
        "the data directory {} is in use by another rustchat server (PID {pid}, which holds \
         {LOCK_FILE}): two servers on one history would hand out the same message ids — stop \
         that server, or give this one its own --data-dir",
        dir.display()
    )]
    InUse {
        /// The directory.
        dir: PathBuf,
        /// The other server's PID, as its lock file says (`unknown` if it says nothing).
        pid: String,
    },
    /// The directory or its lock file could not be made, opened or locked.
    #[error("cannot lock the data directory {}: {source}", dir.display())]
    Io {
        /// The directory.
        dir: PathBuf,
        /// What failed.
        source: io::Error,
    },
}

/// The exclusive right to a data directory, until dropped.
#[derive(Debug)]
pub(crate) struct DataDirLock {
    _file: File,
}

impl DataDirLock {
    /// Creates `dir` if needed and locks it for this process, or says who holds it.
    pub(crate) fn acquire(dir: &Path) -> Result<Self, DataDirError> {
        let io = |source| DataDirError::Io {
            dir: dir.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join(LOCK_FILE))
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(DataDirError::InUse {
                    dir: dir.to_path_buf(),
                    pid: holder(&mut file),
                });
            }
            Err(TryLockError::Error(source)) => return Err(io(source)),
        }
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        Ok(Self { _file: file })
    }
}

/// The PID a locked file holds, or `unknown`.
fn holder(file: &mut File) -> String {
    let mut text = String::new();
    // Bounded: a PID is a few digits; anything else in the file is not ours to print whole.
    let _ = file.take(32).read_to_string(&mut text);
    let pid = text.trim();
    if !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()) {
        pid.to_owned()
    } else {
        "unknown".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_naming_the_holder_and_freed_with_the_first() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let data = dir.path().join("nested/data");
        let first = DataDirLock::acquire(&data).expect("the first lock");
        let pid = std::process::id().to_string();
        let contents = std::fs::read_to_string(data.join(LOCK_FILE)).expect("the lock file");
        assert_eq!(contents, format!("{pid}\n"));

        let err = DataDirLock::acquire(&data).expect_err("the directory is taken");
        assert!(
            matches!(&err, DataDirError::InUse { pid: p, .. } if *p == pid),
            "{err:?}"
        );
        let said = err.to_string();
        assert!(said.contains(&data.display().to_string()), "{said}");
        assert!(said.contains(&format!("PID {pid}")), "{said}");
        assert!(said.contains("--data-dir"), "{said}");

        drop(first);
        let again = DataDirLock::acquire(&data).expect("free again once the first is gone");
        drop(again);
    }

    #[test]
    fn a_lock_file_that_does_not_hold_a_pid_says_unknown() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let _first = DataDirLock::acquire(dir.path()).expect("the first lock");
        std::fs::write(dir.path().join(LOCK_FILE), "\u{1b}[2J not a pid").expect("overwritten");
        let err = DataDirLock::acquire(dir.path()).expect_err("taken");
        assert!(
            matches!(&err, DataDirError::InUse { pid, .. } if pid == "unknown"),
            "{err:?}"
        );
    }
}
