use super::*;
use crate::clock::SystemClock;
use crate::model::stream::MemoryStream;
use rustchat_proto::ServerEvent;
use std::time::Duration;

fn event(text: &str) -> Arc<Encoded> {
    Encoded::new(ServerEvent::info(text))
}

/// A receiver over `limit` is dropped at once (no grace).
fn at_once(limit: usize) -> SlowPolicy {
    SlowPolicy::new(limit, Duration::ZERO)
}

#[test]
fn drains_in_order() {
    let outbox = Outbox::new(at_once(1024), Wire::Line, None);
    assert_eq!(outbox.push(&event("a"), &SystemClock), Pushed::Queued);
    assert_eq!(outbox.push(&event("b"), &SystemClock), Pushed::Queued);
    let mut got = Vec::new();
    assert_eq!(outbox.drain(|e, _| got.push(e.clone())), Drained::Events);
    let texts: Vec<_> = got.iter().map(|e| e.line().clone()).collect();
    assert_eq!(
        texts,
        [event("a").line().clone(), event("b").line().clone()]
    );
    assert_eq!(outbox.queued_bytes(), 0);
}

#[test]
fn limit_at_the_boundary_and_past_it() {
    let one = event("x");
    let size = one.line().len();
    let outbox = Outbox::new(at_once(size * 2), Wire::Line, None);
    assert_eq!(outbox.push(&one, &SystemClock), Pushed::Queued);
    assert_eq!(
        outbox.push(&one, &SystemClock),
        Pushed::Queued,
        "exactly at the limit is fine"
    );
    assert_eq!(
        outbox.push(&one, &SystemClock),
        Pushed::Overflowed,
        "one past the limit overflows"
    );
    assert_eq!(
        outbox.push(&one, &SystemClock),
        Pushed::Overflowed,
        "stays overflowed"
    );
    let mut got: Vec<Arc<Encoded>> = Vec::new();
    assert_eq!(
        outbox.drain(|e, _| got.push(e.clone())),
        Drained::Overflowed
    );
    assert!(
        got.is_empty(),
        "a slow consumer's backlog is dropped, not kept"
    );
}

#[test]
fn close_after_flush_still_delivers() {
    let outbox = Outbox::new(at_once(1024), Wire::WsJson, None);
    assert_eq!(outbox.push(&event("bye"), &SystemClock), Pushed::Queued);
    outbox.close_after_flush(Ending::Quit);
    let mut got = Vec::new();
    assert_eq!(
        outbox.drain(|e, _| got.push(e.clone())),
        Drained::Closing(Ending::Quit)
    );
    assert_eq!(got.len(), 1);
}

#[test]
fn over_the_limit_is_forgiven_for_the_grace_and_no_longer() {
    let one = event("x");
    let size = one.line().len();
    let grace = Duration::from_millis(100);
    let outbox = Outbox::new(SlowPolicy::new(size * 2, grace), Wire::Line, None);
    for _ in 0..3 {
        assert_eq!(
            outbox.push(&one, &SystemClock),
            Pushed::Queued,
            "over the limit, in the grace"
        );
    }
    std::thread::sleep(grace);
    assert_eq!(
        outbox.push(&one, &SystemClock),
        Pushed::Overflowed,
        "still over it after the grace"
    );

    let outbox = Outbox::new(SlowPolicy::new(size * 2, grace), Wire::Line, None);
    for _ in 0..3 {
        assert_eq!(outbox.push(&one, &SystemClock), Pushed::Queued);
    }
    outbox.drain(|_, _| {});
    std::thread::sleep(grace);
    assert_eq!(
        outbox.push(&one, &SystemClock),
        Pushed::Queued,
        "caught up in time: the grace starts again"
    );
}

#[test]
fn past_the_hard_limit_is_never_forgiven() {
    let one = event("x");
    let size = one.line().len();
    let outbox = Outbox::new(
        SlowPolicy::new(size, Duration::from_secs(60)),
        Wire::Line,
        None,
    );
    for _ in 0..SlowPolicy::HARD_FACTOR {
        assert_eq!(outbox.push(&one, &SystemClock), Pushed::Queued);
    }
    assert_eq!(
        outbox.push(&one, &SystemClock),
        Pushed::Overflowed,
        "past four times the limit"
    );
}

/// Counts its wake-ups.
#[derive(Default)]
struct Counter(std::sync::atomic::AtomicUsize);

impl std::task::Wake for Counter {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

fn wakes(counter: &Arc<Counter>) -> usize {
    counter.0.load(std::sync::atomic::Ordering::SeqCst)
}

#[test]
fn wakes_once_per_batch_not_per_event() {
    let outbox = Outbox::new(at_once(1024), Wire::Line, None);
    let counter = Arc::new(Counter::default());
    let waker = std::task::Waker::from(counter.clone());
    let mut cx = Context::from_waker(&waker);
    assert!(outbox.poll_ready(&mut cx, true).is_pending());
    assert_eq!(outbox.push(&event("a"), &SystemClock), Pushed::Queued);
    assert_eq!(outbox.push(&event("b"), &SystemClock), Pushed::Queued);
    assert_eq!(outbox.push(&event("c"), &SystemClock), Pushed::Queued);
    assert_eq!(
        wakes(&counter),
        1,
        "only the first event of a batch wakes the driver"
    );
    assert!(outbox.poll_ready(&mut cx, true).is_ready());
    let mut got = 0;
    outbox.drain(|_, _| got += 1);
    assert_eq!(got, 3);
    assert!(outbox.poll_ready(&mut cx, true).is_pending());
    assert_eq!(outbox.push(&event("d"), &SystemClock), Pushed::Queued);
    assert_eq!(wakes(&counter), 2, "an emptied queue wakes again");
}

#[test]
fn a_stuck_driver_still_hears_of_overflow_and_shutdown() {
    let one = event("x");
    let outbox = Outbox::new(at_once(one.line().len()), Wire::Line, None);
    let counter = Arc::new(Counter::default());
    let waker = std::task::Waker::from(counter.clone());
    let mut cx = Context::from_waker(&waker);
    assert_eq!(outbox.push(&one, &SystemClock), Pushed::Queued);
    assert!(
        outbox.poll_ready(&mut cx, false).is_pending(),
        "events alone do not wake a driver that cannot take them"
    );
    assert_eq!(outbox.push(&one, &SystemClock), Pushed::Overflowed);
    assert_eq!(wakes(&counter), 1, "the overflow wakes it");
    assert!(outbox.poll_ready(&mut cx, false).is_ready());

    let outbox = Outbox::new(at_once(1024), Wire::Line, None);
    assert!(outbox.poll_ready(&mut cx, false).is_pending());
    outbox.shut_down();
    assert_eq!(wakes(&counter), 2, "the shutdown wakes it");
    assert!(outbox.poll_ready(&mut cx, false).is_ready());
    assert_eq!(outbox.drain(|_, _| {}), Drained::Shutdown);
}

#[test]
fn a_drained_burst_gives_its_memory_back() {
    let outbox = Outbox::new(at_once(1 << 20), Wire::Line, None);
    for _ in 0..1000 {
        assert_eq!(outbox.push(&event("burst"), &SystemClock), Pushed::Queued);
    }
    outbox.drain(|_, _| {});
    assert!(outbox.lock().events.capacity() <= KEEP_SLOTS);
    assert_eq!(outbox.queued_bytes(), 0);
}

fn idle_outbox(socket: &Arc<MemoryStream>) -> (Arc<Outbox>, Arc<Counter>, std::task::Waker) {
    let outbox = Outbox::new(at_once(1024), Wire::Line, None);
    outbox.set_socket(Some(socket.clone()));
    assert!(outbox.release());
    let counter = Arc::new(Counter::default());
    let waker = std::task::Waker::from(counter.clone());
    assert!(
        outbox
            .poll_ready(&mut Context::from_waker(&waker), true)
            .is_pending()
    );
    (outbox, counter, waker)
}

#[test]
fn an_idle_connection_is_written_through_in_one_write_per_batch() {
    let socket = MemoryStream::with_room(usize::MAX);
    let (outbox, counter, _waker) = idle_outbox(&socket);
    assert_eq!(outbox.push(&event("a"), &SystemClock), Pushed::FlushDue);
    assert_eq!(
        outbox.push(&event("b"), &SystemClock),
        Pushed::Queued,
        "one flush per batch"
    );
    let expected = [event("a").line().clone(), event("b").line().clone()].concat();
    assert_eq!(outbox.flush(), expected.len());
    assert_eq!(socket.got(), expected);
    assert_eq!(wakes(&counter), 0, "the driver slept through it");
    assert_eq!(outbox.queued_bytes(), 0);
    assert_eq!(
        outbox.push(&event("c"), &SystemClock),
        Pushed::FlushDue,
        "still idle"
    );
}

#[test]
fn a_full_socket_hands_the_rest_to_the_driver_mid_event() {
    let socket = MemoryStream::with_room(3);
    let (outbox, counter, waker) = idle_outbox(&socket);
    assert_eq!(outbox.push(&event("first"), &SystemClock), Pushed::FlushDue);
    assert_eq!(outbox.push(&event("second"), &SystemClock), Pushed::Queued);
    assert_eq!(outbox.flush(), 3);
    assert_eq!(wakes(&counter), 1, "the driver is woken to finish");
    assert!(
        outbox
            .poll_ready(&mut Context::from_waker(&waker), true)
            .is_ready()
    );
    assert_eq!(
        outbox.push(&event("third"), &SystemClock),
        Pushed::Queued,
        "no longer idle: no more writing through"
    );
    let mut rest = socket.got();
    outbox.claim();
    outbox.drain(|e, skip| rest.extend_from_slice(&e.line()[skip..]));
    let whole = [
        event("first").line().clone(),
        event("second").line().clone(),
        event("third").line().clone(),
    ]
    .concat();
    assert_eq!(
        rest, whole,
        "written-through prefix + drained rest = every byte once"
    );
}

#[test]
fn a_big_batch_is_written_through_as_it_is_queued() {
    let socket = MemoryStream::with_room(usize::MAX);
    let outbox = Outbox::new(at_once(1 << 20), Wire::Line, None);
    outbox.set_socket(Some(socket.clone()));
    assert!(outbox.release());
    let big = event(&"b".repeat(4000));
    let mut pushed = Vec::new();
    for _ in 0..40 {
        pushed.push(outbox.push(&big, &SystemClock));
        if pushed.last() == Some(&Pushed::FlushNow) {
            assert!(outbox.flush() >= FLUSH_AT);
        }
    }
    assert_eq!(pushed[0], Pushed::FlushDue, "one flush owed for the batch");
    let now = pushed.iter().filter(|p| **p == Pushed::FlushNow).count();
    assert_eq!(
        now,
        40 * big.line().len() / FLUSH_AT,
        "a flush every 64 KiB"
    );
    assert!(outbox.queued_bytes() < FLUSH_AT, "only the last bit waits");
}

#[test]
fn an_overflow_keeps_the_rest_of_a_part_written_event_and_nothing_else() {
    let socket = MemoryStream::with_room(3);
    let first = event("first");
    let outbox = Outbox::new(at_once(first.line().len() * 2), Wire::Line, None);
    outbox.set_socket(Some(socket.clone()));
    assert!(outbox.release());
    assert_eq!(outbox.push(&first, &SystemClock), Pushed::FlushDue);
    assert_eq!(outbox.flush(), 3, "three bytes of it are on the wire");
    assert_eq!(outbox.push(&event("second"), &SystemClock), Pushed::Queued);
    assert_eq!(
        outbox.push(&event("third"), &SystemClock),
        Pushed::Overflowed
    );
    let mut rest = socket.got();
    assert_eq!(
        outbox.drain(|e, skip| rest.extend_from_slice(&e.line()[skip..])),
        Drained::Overflowed
    );
    assert_eq!(
        rest,
        first.line()[..],
        "the first event whole, the backlog dropped"
    );
}

#[test]
fn a_claimed_connection_is_never_written_through() {
    let socket = MemoryStream::with_room(usize::MAX);
    let (outbox, _counter, _waker) = idle_outbox(&socket);
    assert_eq!(outbox.push(&event("a"), &SystemClock), Pushed::FlushDue);
    outbox.claim();
    assert_eq!(outbox.flush(), 0, "the driver took the socket back first");
    assert!(socket.got().is_empty());
    assert!(!outbox.release(), "refused while an event waits");
    let mut got = 0;
    outbox.drain(|_, skip| {
        assert_eq!(skip, 0);
        got += 1;
    });
    assert_eq!(got, 1);
    assert!(outbox.release());
    outbox.set_socket(None);
    assert_eq!(
        outbox.push(&event("b"), &SystemClock),
        Pushed::Queued,
        "no socket: no writing through"
    );
}
