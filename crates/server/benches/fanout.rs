//! The fan-out path: one room message to 1,000 receivers.
//!
//! Measures each stage the server runs for a broadcast — the hub deciding who gets it, the
//! history append, queueing on every receiver's outbox, and each receiver's session taking it —
//! and, as the baseline the design avoids, encoding the event once per receiver. Throughput is
//! per receiver, so criterion prints the cost of one delivery.
//!
//! ```text
//! cargo bench -p rustchat-server --bench fanout
//! ```

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use rustchat_proto::{ChatMessage, Command, Nick, RoomName, ServerEvent};
use rustchat_server::clock::SystemClock;
use rustchat_server::delivery::{ConnId, Encoded, Outcome, Wire};
use rustchat_server::fanout::outbox::{Outbox, SlowPolicy};
use rustchat_server::fanout::registry::Registry;
use rustchat_server::history::History;
use rustchat_server::hub::{Hub, HubConfig};
use rustchat_server::metrics::Metrics;
use rustchat_server::session::line::LineSession;
use rustchat_server::session::ws::{Keepalive, WsSession};
use rustchat_server::session::{Session, Transport};

const RECEIVERS: u64 = 1000;

/// A hub with `RECEIVERS` connections in `#lobby`; connection 1 is the sender.
fn hub() -> Hub {
    let mut hub = Hub::new(HubConfig::default());
    for id in 1..=RECEIVERS {
        let _ = hub.connect(ConnId(id), 0);
    }
    hub
}

/// A registry with an outbox per receiver: half line clients, half WebSocket JSON clients.
fn registry() -> (Arc<Registry>, Vec<Arc<Outbox>>) {
    let registry = Registry::new();
    let outboxes = (1..=RECEIVERS)
        .map(|id| {
            let wire = if id % 2 == 0 {
                Wire::Line
            } else {
                Wire::WsJson
            };
            let outbox = Outbox::new(SlowPolicy::new(usize::MAX, Duration::ZERO), wire, None);
            registry.insert(ConnId(id), outbox.clone());
            outbox
        })
        .collect();
    (registry, outboxes)
}

fn message(id: u64) -> ChatMessage {
    ChatMessage {
        id,
        ts: 1_795_424_770_418,
        room: RoomName::lobby(),
        from: Nick::guest(1),
        text: "hello everyone, this is a typical chat line".into(),
        action: false,
    }
}

fn say() -> Command {
    Command::Say("hello everyone, this is a typical chat line".into())
}

fn hub_decides(c: &mut Criterion) {
    let mut group = c.benchmark_group("fanout/hub");
    group.throughput(Throughput::Elements(RECEIVERS));
    let mut hub = hub();
    group.bench_function("say to 1000 members", |b| {
        b.iter(|| black_box(hub.handle(ConnId(1), say(), 1)));
    });
    group.finish();
}

fn deliver(c: &mut Criterion) {
    let mut group = c.benchmark_group("fanout/deliver");
    group.throughput(Throughput::Elements(RECEIVERS));
    let metrics = Metrics::default();
    let (registry, outboxes) = registry();
    let mut drained = 0usize;
    // No sockets here, so nothing is ever written through.
    let mut due = Vec::new();
    let outcome = |event: &Arc<Encoded>| {
        let mut outcome = Outcome::default();
        outcome.push_all((1..=RECEIVERS).map(ConnId), event);
        outcome
    };
    // The design: one Encoded per event; each receiver gets a pointer.
    group.bench_function("queue shared event (pointer copy)", |b| {
        b.iter_batched(
            || outcome(&Encoded::new(ServerEvent::Message(message(1)))),
            |outcome| {
                registry.deliver(&outcome, &metrics, &SystemClock, &mut due);
                for outbox in &outboxes {
                    outbox.drain(|event, _| drained += event.line().len());
                }
            },
            BatchSize::SmallInput,
        );
    });
    black_box(drained);
    // The baseline it avoids: encoding the event for every receiver.
    group.bench_function("encode per receiver (baseline)", |b| {
        let event = ServerEvent::Message(message(1));
        b.iter(|| {
            for id in 1..=RECEIVERS {
                let bytes = if id % 2 == 0 {
                    event.to_line()
                } else {
                    event.to_json()
                };
                black_box(bytes);
            }
        });
    });
    group.finish();
}

fn sessions_take_it(c: &mut Criterion) {
    let mut group = c.benchmark_group("fanout/session");
    group.throughput(Throughput::Elements(RECEIVERS));
    let keepalive = Keepalive {
        interval: Duration::from_secs(20),
        timeout: Duration::from_secs(20),
    };
    let now = std::time::Instant::now();
    let mut sessions: Vec<Session> = (1..=RECEIVERS)
        .map(|id| {
            let transport = if id % 2 == 0 {
                Transport::Line(LineSession::new(4096))
            } else {
                let config = rustchat_ws::Config::default();
                Transport::Ws(WsSession::new(
                    config,
                    Some(Wire::WsJson),
                    None,
                    keepalive,
                    now,
                    &[],
                ))
            };
            Session::new(transport, None)
        })
        .collect();
    group.bench_function("push_event into 1000 sessions", |b| {
        b.iter_batched(
            || Encoded::new(ServerEvent::Message(message(1))),
            |event| {
                for session in &mut sessions {
                    session.push_event(&event);
                    let out = session.outbound();
                    let n = out.len();
                    out.advance(n);
                }
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

fn history_append(c: &mut Criterion) {
    let mut group = c.benchmark_group("fanout/history");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut file = History::open(&dir.path().join("bench.sqlite3")).expect("open history");
    let batch: Vec<ChatMessage> = (0..64).map(message).collect();
    let mut next = 1_000_000;
    group.throughput(Throughput::Elements(batch.len() as u64));
    group.bench_function("append batch of 64 (SQLite WAL)", |b| {
        b.iter(|| {
            let messages: Vec<ChatMessage> = batch
                .iter()
                .map(|m| {
                    next += 1;
                    ChatMessage {
                        id: next,
                        ..m.clone()
                    }
                })
                .collect();
            file.append_batch(&messages).expect("append");
        });
    });
    group.throughput(Throughput::Elements(1));
    group.bench_function("append one message per transaction", |b| {
        b.iter(|| {
            next += 1;
            file.append_batch(&[message(next)]).expect("append");
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .measurement_time(std::time::Duration::from_secs(3))
        .warm_up_time(std::time::Duration::from_secs(1));
    targets = hub_decides, deliver, sessions_take_it, history_append
}
criterion_main!(benches);
