//! The committer against real SQLite files: order, batching, commit-before-delivery, shutdown.

use std::error::Error;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};
use rustchat_proto::{ChatMessage, Nick, RoomName, ServerEvent};

use super::*;
use crate::delivery::ConnId;

type TestResult = Result<(), Box<dyn Error>>;

/// Outcome `n`: one info event for `ConnId(n)`, and message `n` as its record if `with_record`.
fn outcome(n: u64, with_record: bool) -> Outcome {
    let mut outcome = Outcome::reply(ConnId(n), ServerEvent::info(n.to_string()));
    outcome.record = with_record.then(|| ChatMessage {
        id: n,
        ts: 1_700_000_000_000 + n,
        room: RoomName::lobby(),
        from: Nick::parse_known("alice").expect("valid nick"),
        text: format!("message {n}"),
        action: false,
    });
    outcome
}

/// A fan-out that reports each outcome's receiver, in delivery order.
fn recorder() -> (impl Fanout, mpsc::Receiver<u64>) {
    let (tx, rx) = mpsc::channel();
    let fanout = move |outcome: Outcome| {
        for delivery in &outcome.deliveries {
            let _ = tx.send(delivery.to.0);
        }
    };
    (fanout, rx)
}

/// A fan-out that, at its first delivery, says so and then waits to be let go: while it waits,
/// the test queues outcomes that the thread will find all at once.
fn held_at_first_delivery() -> (impl Fanout, Gate) {
    let (entered_tx, entered) = mpsc::channel();
    let (release, release_rx) = mpsc::channel();
    let mut first = true;
    let fanout = move |_: Outcome| {
        if std::mem::take(&mut first) {
            let _ = entered_tx.send(());
            let _ = release_rx.recv();
        }
    };
    (fanout, Gate { entered, release })
}

/// The test's side of [`held_at_first_delivery`].
struct Gate {
    entered: mpsc::Receiver<()>,
    release: mpsc::Sender<()>,
}

impl Gate {
    fn wait_entered(&self) -> Result<(), mpsc::RecvTimeoutError> {
        self.entered.recv_timeout(Duration::from_secs(10))
    }

    fn release(&self) -> Result<(), mpsc::SendError<()>> {
        self.release.send(())
    }
}

#[test]
fn deliveries_keep_submission_order_with_and_without_records() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (fanout, delivered) = recorder();
    let config = CommitConfig::default().with_max_batch(7);
    let (committer, join) =
        Committer::start(History::open(&dir.path().join("h.db"))?, fanout, config)?;
    for n in 1..=500 {
        committer.submit(outcome(n, n % 3 != 0))?;
    }
    committer.shutdown();
    let stats = join.join()?;
    assert_eq!(
        delivered.iter().collect::<Vec<_>>(),
        (1..=500).collect::<Vec<_>>()
    );
    assert_eq!(stats.submitted, 500);
    assert_eq!(stats.delivered, 500);
    assert_eq!(stats.appended, 334);
    assert_eq!(stats.queued(), 0);
    assert!(stats.largest_batch <= 7, "{stats:?}");
    Ok(())
}

/// Checks, at each delivery, that the record is already visible to another connection.
struct CheckVisible {
    reader: Connection,
    report: mpsc::Sender<bool>,
}

impl Fanout for CheckVisible {
    fn deliver(&mut self, outcome: Outcome) {
        let Some(record) = outcome.record else { return };
        let visible = self
            .reader
            .query_row(
                "SELECT COUNT(*) FROM messages WHERE id = ?1",
                [record.id as i64],
                |row| row.get::<_, i64>(0),
            )
            .is_ok_and(|count| count == 1);
        let _ = self.report.send(visible);
    }
}

#[test]
fn a_record_is_committed_before_its_outcome_is_delivered() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("h.db");
    let history = History::open(&path)?;
    let reader = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let (report, seen) = mpsc::channel();
    let fanout = CheckVisible { reader, report };
    let (committer, join) = Committer::start(history, fanout, CommitConfig::default())?;
    for n in 1..=2_000 {
        committer.submit(outcome(n, n % 5 != 0))?;
    }
    committer.shutdown();
    join.join()?;
    let seen: Vec<bool> = seen.iter().collect();
    assert_eq!(seen.len(), 1_600);
    assert!(
        seen.iter().all(|&visible| visible),
        "a record was delivered before its commit"
    );
    Ok(())
}

#[test]
fn ten_thousand_queued_messages_commit_in_one_transaction() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("h.db");
    let (fanout, gate) = held_at_first_delivery();
    let config = CommitConfig::default().with_max_batch(20_000);
    let (committer, join) = Committer::start(History::open(&path)?, fanout, config)?;
    committer.submit(outcome(0, false))?;
    gate.wait_entered()?; // the thread now waits in deliver(0)
    for n in 1..=10_000 {
        committer.submit(outcome(n, true))?;
    }
    gate.release()?;
    committer.shutdown();
    let stats = join.join()?;
    assert_eq!(
        (stats.batches, stats.appended, stats.largest_batch),
        (1, 10_000, 10_000)
    );
    assert_eq!(History::open(&path)?.next_id()?, 10_001);
    Ok(())
}

#[test]
fn the_default_batch_bounds_each_transaction() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (fanout, gate) = held_at_first_delivery();
    let history = History::open(&dir.path().join("h.db"))?;
    let (committer, join) = Committer::start(history, fanout, CommitConfig::default())?;
    committer.submit(outcome(0, false))?;
    gate.wait_entered()?; // the thread now waits in deliver(0)
    for n in 1..=10_000 {
        committer.submit(outcome(n, true))?;
    }
    gate.release()?;
    committer.shutdown();
    let stats = join.join()?;
    // 9 batches of 1024, then 784.
    assert_eq!(stats.batches, 10);
    assert_eq!(stats.largest_batch, 1024);
    assert!(stats.batches < stats.appended);
    Ok(())
}

#[test]
fn shutdown_flushes_everything_and_the_file_reopens() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("h.db");
    let (fanout, delivered) = recorder();
    let (committer, join) =
        Committer::start(History::open(&path)?, fanout, CommitConfig::default())?;
    for n in 1..=100_000 {
        committer.submit(outcome(n, true))?;
    }
    committer.shutdown();
    let stats = join.join()?;
    assert_eq!(
        (stats.delivered, stats.appended, stats.errors),
        (100_000, 100_000, 0)
    );
    assert!(stats.batches < stats.appended, "{stats:?}");
    assert_eq!(delivered.iter().count(), 100_000);
    assert!(
        !dir.path().join("h.db-wal").exists()
            || std::fs::metadata(dir.path().join("h.db-wal"))?.len() == 0
    );

    let history = History::open(&path)?;
    assert_eq!(history.next_id()?, 100_001);
    let last = history.last(&RoomName::lobby(), 2)?;
    assert_eq!(
        last.iter().map(|m| m.id).collect::<Vec<_>>(),
        [99_999, 100_000]
    );
    Ok(())
}

#[test]
fn memory_mode_commits_and_delivers() -> TestResult {
    let (fanout, delivered) = recorder();
    let (committer, join) = Committer::start(History::memory(), fanout, CommitConfig::default())?;
    for n in 1..=50 {
        committer.submit(outcome(n, n % 2 == 0))?;
    }
    let stats = committer.stats();
    committer.shutdown();
    let last = join.join()?;
    assert_eq!((last.delivered, last.appended), (50, 25));
    assert_eq!(stats.snapshot(), last);
    assert_eq!(delivered.iter().count(), 50);
    Ok(())
}

#[test]
fn a_failed_commit_is_counted_and_still_delivered() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (fanout, delivered) = recorder();
    let history = History::open(&dir.path().join("h.db"))?;
    let (committer, join) = Committer::start(history, fanout, CommitConfig::default())?;
    committer.submit(outcome(1, true))?;
    assert_eq!(delivered.recv_timeout(Duration::from_secs(10))?, 1);
    committer.submit(outcome(1, true))?; // the same id again: the insert fails
    committer.submit(outcome(2, false))?;
    committer.shutdown();
    let stats = join.join()?;
    assert_eq!(delivered.iter().collect::<Vec<_>>(), [1, 2]);
    assert_eq!((stats.errors, stats.lost, stats.appended), (1, 1, 1));
    assert_eq!(stats.delivered, 3);
    Ok(())
}

#[test]
fn submit_after_the_thread_died_hands_the_outcome_back() -> TestResult {
    let fanout = |_: Outcome| panic!("fan-out failure (expected by this test)");
    let (committer, join) = Committer::start(History::memory(), fanout, CommitConfig::default())?;
    committer.submit(outcome(1, false))?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let refused = loop {
        match committer.submit(outcome(2, false)) {
            Err(Stopped(outcome)) => break outcome,
            Ok(()) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(1)),
            Ok(()) => return Err("the committer never stopped".into()),
        }
    };
    assert_eq!(refused.deliveries[0].to, ConnId(2));
    committer.shutdown();
    assert!(matches!(join.join(), Err(HistoryError::WriterPanicked)));
    Ok(())
}

#[test]
fn close_through_a_shared_reference_flushes_then_refuses() -> TestResult {
    let (fanout, delivered) = recorder();
    let (committer, join) = Committer::start(History::memory(), fanout, CommitConfig::default())?;
    let committer = std::sync::Arc::new(committer); // as in the server's shared state
    for n in 1..=100 {
        committer.submit(outcome(n, true))?;
    }
    committer.close();
    committer.close(); // idempotent
    let Err(Stopped(refused)) = committer.submit(outcome(101, true)) else {
        return Err("a submit after close was accepted".into());
    };
    assert_eq!(refused.record.map(|record| record.id), Some(101));
    let stats = join.join()?; // the handle is still alive: close alone ends the thread
    assert_eq!(
        (stats.submitted, stats.delivered, stats.appended),
        (100, 100, 100)
    );
    assert_eq!(delivered.iter().count(), 100);
    assert_eq!(committer.stats().queued(), 0);
    Ok(())
}

/// `--history-max-age`: while the queue is quiet the committer deletes what got too old, a
/// chunk at a time, and counts it; chat delivered meanwhile is not held up.
#[test]
fn expiry_runs_while_the_queue_is_quiet_and_counts() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("history.db");
    let mut history = History::open(&path)?;
    // 2,500 messages "said" at 1_700_000_000_000 + n ms.
    let old: Vec<_> = (1..=2_500)
        .filter_map(|n| outcome(n, true).record)
        .collect();
    history.append_batch(&old)?;
    // The clock says now (2023's timestamps are years old): all of them are past an hour.
    let clock = crate::clock::ManualClock::new();
    let config = CommitConfig {
        expiry: Some(Expiry {
            max_age: Duration::from_secs(3_600),
            every: Duration::from_millis(20),
            clock,
        }),
        ..CommitConfig::default()
    };
    let (fanout, delivered) = recorder();
    let (committer, join) = Committer::start(history, fanout, config)?;
    let stats = committer.stats();
    let deadline = Instant::now() + Duration::from_secs(10);
    while stats.expired() < 2_500 {
        assert!(
            Instant::now() < deadline,
            "expired {} of 2500",
            stats.expired()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // A message now (its ts is the fixture's, also old: it goes as soon as it is looked at,
    // after being delivered like any other).
    committer.submit(outcome(9_999, false))?;
    assert_eq!(delivered.recv_timeout(Duration::from_secs(5))?, 9_999);
    committer.close();
    join.join()?;
    let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let left: i64 = conn.query_row("SELECT COUNT(*) FROM messages", [], |row| row.get(0))?;
    assert_eq!(left, 0);
    Ok(())
}
