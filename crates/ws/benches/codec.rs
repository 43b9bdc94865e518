//! Codec benchmarks: `rustchat_ws` against tungstenite, measured back to back in one run.
//!
//! Each criterion group holds our variant and the peer's over the same bytes. The number to
//! read is the **ratio**, and on a shared, noisy machine two members measured seconds apart can
//! see different loads, so after criterion `main` measures every ratio again *paired*: 1 ms
//! slices of each member alternate for 3 s, and it prints the median of the per-round ratios
//! (with quartiles) and the ratio of each member's fastest round ("best": load only adds time,
//! so this is the estimate least disturbed by other processes). Only groups criterion measured
//! in this run are paired, so a filter selects both.
//!
//! What each member does per iteration, on a long-lived connection (steady state: buffers are
//! warm, as on a chat server's busy connection):
//! - **decode**: the same pre-encoded masked client frames (N × 20 B text or N × 64 KiB
//!   binary), ours fed by `receive` in 128 KiB reads (tungstenite's read size) and drained with
//!   `next_event`, tungstenite by `read` over an in-memory stream whose input is rewound. Both
//!   copy the wire bytes once, as from a socket.
//! - **encode**: a burst of N messages, then one flush into a `Vec<u8>` standing in for the
//!   socket (it copies, as the kernel does): ours `send` ×N then vectored writes of
//!   `outbound()`, tungstenite `write` ×N then `flush`.
//! - **unmask**: masking 1 MiB in place against `memcpy` of 1 MiB (the floor) and the
//!   byte-at-a-time loop. tungstenite's `apply_mask` is private (`protocol::frame::mask` is not
//!   a public module), so it cannot be measured directly.
//!
//! Run: `cargo bench -p rustchat-ws --bench codec` (about 2 minutes; add a filter such as
//! `decode_small` to run one group).

use std::hint::black_box;
use std::io::{self, Cursor, IoSlice, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use criterion::{Criterion, Throughput};
use rustchat_ws::mask::{apply_mask, apply_mask_bytewise};
use rustchat_ws::outbound::Outbound;
use rustchat_ws::{Config, Connection, Message, Role};
use tungstenite::protocol::Role as PeerRole;

/// A 20-byte chat line.
const SMALL_TEXT: &str = "hi all, how are you?";
/// Messages per iteration for 20-byte messages.
const SMALL_COUNT: usize = 1000;
/// Size of a large message.
const LARGE_SIZE: usize = 64 * 1024;
/// Messages per iteration for 64 KiB messages.
const LARGE_COUNT: usize = 100;
/// Bytes per simulated socket read: tungstenite's default read buffer size, used for ours.
const READ_SIZE: usize = 128 * 1024;
/// Buffer size for the masking group.
const MASK_SIZE: usize = 1 << 20;
/// Our member's name in each group.
const OURS: &str = "rustchat_ws";
/// The peer's member's name in each group.
const PEER: &str = "tungstenite";
/// How long the paired pass alternates the two members of one ratio.
const PAIRED_TIME: Duration = Duration::from_secs(3);
/// Length of one member's slice in a paired round.
const PAIRED_SLICE: Duration = Duration::from_millis(1);

/// The ratios this bench exists for: (group, numerator, denominator, target). A ratio is the
/// numerator's throughput ÷ the denominator's (the denominator's time ÷ the numerator's).
const RATIOS: &[(&str, &str, &str, Option<f64>)] = &[
    ("decode_small", OURS, PEER, Some(1.5)),
    ("decode_large", OURS, PEER, None),
    ("encode_small_server", OURS, PEER, None),
    ("encode_large_server", OURS, PEER, None),
    ("encode_small_client", OURS, PEER, None),
    ("unmask_1MiB", "apply_mask", "memcpy", Some(0.5)),
    ("unmask_1MiB", "apply_mask_bytewise", "memcpy", None),
];

/// One benchmark: one iteration of work over state it owns.
struct Member {
    name: &'static str,
    run: Box<dyn FnMut()>,
}

impl Member {
    fn new(name: &'static str, run: impl FnMut() + 'static) -> Self {
        Self {
            name,
            run: Box::new(run),
        }
    }
}

/// Members compared in one criterion group.
struct Group {
    name: &'static str,
    throughput: Throughput,
    members: Vec<Member>,
}

// ---- the transports and the payloads ----

/// An in-memory transport for tungstenite: reads from `input`, writes append to `output`.
struct MemStream {
    input: Cursor<Vec<u8>>,
    output: Vec<u8>,
}

impl Read for MemStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.input.read(buf)
    }
}

impl Write for MemStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.output.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

type PeerSocket = tungstenite::WebSocket<MemStream>;

fn peer(role: Role, input: Vec<u8>, output_capacity: usize) -> PeerSocket {
    let stream = MemStream {
        input: Cursor::new(input),
        output: Vec::with_capacity(output_capacity),
    };
    let role = match role {
        Role::Client => PeerRole::Client,
        Role::Server => PeerRole::Server,
    };
    tungstenite::WebSocket::from_raw_socket(stream, role, None)
}

/// The message both libraries send or receive.
#[derive(Clone)]
enum Payload {
    Text(&'static str),
    Binary(Bytes),
}

impl Payload {
    fn large() -> Self {
        Self::Binary((0..LARGE_SIZE).map(|i| (i * 31 % 251) as u8).collect())
    }

    fn ours(&self) -> Message {
        match self {
            Self::Text(text) => Message::text(*text),
            Self::Binary(data) => Message::binary(data.clone()),
        }
    }

    fn peer(&self) -> tungstenite::Message {
        match self {
            Self::Text(text) => {
                tungstenite::Message::text(tungstenite::Utf8Bytes::from_static(text))
            }
            Self::Binary(data) => tungstenite::Message::binary(data.clone()),
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::Text(text) => text.len(),
            Self::Binary(data) => data.len(),
        }
    }
}

// ---- decode ----

/// `count` masked client frames carrying `payload`, as a server receives them.
fn client_wire(payload: &Payload, count: usize) -> Vec<u8> {
    let mut client = Connection::new(Role::Client, Config::default());
    for _ in 0..count {
        client.send(payload.ours()).expect("client is open");
    }
    client.outbound().take_all().to_vec()
}

/// Our server reading `wire` in socket-sized pieces; returns how many messages came out.
fn decode_ours(conn: &mut Connection, wire: &[u8]) -> usize {
    let mut messages = 0;
    for read in wire.chunks(READ_SIZE) {
        conn.receive(read);
        while let Some(event) = conn.next_event().expect("valid frames") {
            black_box(event);
            messages += 1;
        }
    }
    messages
}

/// tungstenite's server reading `count` messages, its input rewound to the start.
fn decode_peer(ws: &mut PeerSocket, count: usize) {
    ws.get_mut().input.set_position(0);
    for _ in 0..count {
        black_box(ws.read().expect("valid frames"));
    }
}

fn decode_group(name: &'static str, payload: &Payload, count: usize) -> Group {
    let wire = client_wire(payload, count);
    let mut conn = Connection::new(Role::Server, Config::default());
    assert_eq!(decode_ours(&mut conn, &wire), count, "{OURS} decodes all");
    let mut ws = peer(Role::Server, wire.clone(), 0);
    decode_peer(&mut ws, count);
    let consumed = ws.get_ref().input.position() as usize;
    assert_eq!(consumed, wire.len(), "{PEER} decodes all");
    Group {
        name,
        throughput: Throughput::Bytes(wire.len() as u64),
        members: vec![
            Member::new(OURS, move || {
                decode_ours(&mut conn, black_box(&wire));
            }),
            Member::new(PEER, move || decode_peer(&mut ws, count)),
        ],
    }
}

// ---- encode ----

/// Writes everything `out` holds into `sink` with vectored writes, as an adapter does.
fn flush_into(out: &mut Outbound, sink: &mut Vec<u8>) {
    while !out.is_empty() {
        let written = {
            let mut slices = [IoSlice::new(&[]); 64];
            let n = out.io_slices(&mut slices);
            sink.write_vectored(&slices[..n])
                .expect("Vec writes succeed")
        };
        out.advance(written);
    }
}

fn encode_ours(conn: &mut Connection, sink: &mut Vec<u8>, payload: &Payload, count: usize) {
    sink.clear();
    for _ in 0..count {
        conn.send(payload.ours()).expect("open");
    }
    flush_into(conn.outbound(), sink);
    black_box(&sink[..]);
}

fn encode_peer(ws: &mut PeerSocket, payload: &Payload, count: usize) {
    ws.get_mut().output.clear();
    for _ in 0..count {
        ws.write(payload.peer()).expect("open");
    }
    ws.flush().expect("in-memory flush");
    black_box(&ws.get_ref().output[..]);
}

fn encode_group(name: &'static str, role: Role, payload: Payload, count: usize) -> Group {
    let mut conn = Connection::new(role, Config::default());
    let mut sink = Vec::new();
    encode_ours(&mut conn, &mut sink, &payload, count);
    let mut ws = peer(role, Vec::new(), sink.len());
    encode_peer(&mut ws, &payload, count);
    let theirs = &ws.get_ref().output;
    assert_eq!(sink.len(), theirs.len(), "same wire size");
    // A client's random mask keys differ; a server's frames are byte for byte the same.
    assert!(role == Role::Client || sink == *theirs, "same bytes");
    let peer_payload = payload.clone();
    Group {
        name,
        throughput: Throughput::Bytes((payload.len() * count) as u64),
        members: vec![
            Member::new(OURS, move || {
                encode_ours(&mut conn, &mut sink, &payload, count);
            }),
            Member::new(PEER, move || encode_peer(&mut ws, &peer_payload, count)),
        ],
    }
}

// ---- unmask ----

fn unmask_group() -> Group {
    let src: Vec<u8> = (0..MASK_SIZE).map(|i| i as u8).collect();
    let mut copy = vec![0u8; MASK_SIZE];
    Group {
        name: "unmask_1MiB",
        throughput: Throughput::Bytes(MASK_SIZE as u64),
        members: vec![
            Member::new("memcpy", move || {
                copy.copy_from_slice(black_box(&src));
                black_box(&mut copy);
            }),
            masking_member("apply_mask", apply_mask),
            masking_member("apply_mask_bytewise", apply_mask_bytewise),
        ],
    }
}

fn masking_member(name: &'static str, mask: fn(&mut [u8], [u8; 4], usize)) -> Member {
    let mut buf: Vec<u8> = (0..MASK_SIZE).map(|i| i as u8).collect();
    Member::new(name, move || {
        mask(black_box(&mut buf), black_box([0x37, 0xfa, 0x21, 0x3d]), 0);
    })
}

// ---- running ----

fn measure(c: &mut Criterion, group: &mut Group) {
    let mut g = c.benchmark_group(group.name);
    g.throughput(group.throughput.clone());
    for member in &mut group.members {
        g.bench_function(member.name, |b| b.iter(&mut member.run));
    }
    g.finish();
}

fn main() {
    let started = SystemTime::now();
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(40)
        .nresamples(20_000)
        .configure_from_args();
    let small = Payload::Text(SMALL_TEXT);
    let mut groups = [
        decode_group("decode_small", &small, SMALL_COUNT),
        decode_group("decode_large", &Payload::large(), LARGE_COUNT),
        encode_group(
            "encode_small_server",
            Role::Server,
            small.clone(),
            SMALL_COUNT,
        ),
        encode_group(
            "encode_large_server",
            Role::Server,
            Payload::large(),
            LARGE_COUNT,
        ),
        encode_group("encode_small_client", Role::Client, small, SMALL_COUNT),
        unmask_group(),
    ];
    for group in &mut groups {
        measure(&mut c, group);
    }
    c.final_summary();
    report_ratios(&mut groups, &criterion_dir(), started);
}

// ---- ratios ----

/// Prints each ratio whose two members criterion measured in this run: from criterion's
/// medians, then from a paired pass.
fn report_ratios(groups: &mut [Group], dir: &Path, started: SystemTime) {
    let mut header = false;
    for &(group_name, num, den, target) in RATIOS {
        let Some(group) = groups.iter_mut().find(|g| g.name == group_name) else {
            continue;
        };
        let base = dir.join(group_name);
        let (Some(num_t), Some(den_t)) = (
            fresh_median(&base.join(num), started),
            fresh_median(&base.join(den), started),
        ) else {
            continue;
        };
        if !std::mem::replace(&mut header, true) {
            println!("\nthroughput ratios: criterion medians | paired: median [quartiles], best");
        }
        let paired = paired_ratio(group, num, den);
        let verdict = match target {
            Some(t) if paired.best >= t && paired.median >= t => format!("  target ≥ {t}: met"),
            Some(t) if paired.best >= t => format!("  target ≥ {t}: met when uncontended"),
            Some(t) => format!("  target ≥ {t}: MISSED"),
            None => String::new(),
        };
        let [q1, q3] = paired.quartiles;
        println!(
            "  {group_name:<19} {num} ÷ {den} = {:.2}× | {:.2}× [{q1:.2}–{q3:.2}], {:.2}×{verdict}",
            den_t / num_t,
            paired.median,
            paired.best,
        );
    }
}

/// A ratio measured in alternating rounds.
struct Paired {
    /// Median of the per-round ratios.
    median: f64,
    /// First and third quartiles of the per-round ratios: the spread the load caused.
    quartiles: [f64; 2],
    /// Ratio of each member's fastest round: load only ever adds time, so this is the
    /// estimate least disturbed by other processes.
    best: f64,
}

/// Alternates short slices of the two members (swapping which goes first each round) and
/// summarises the throughput ratio `num ÷ den`.
fn paired_ratio(group: &mut Group, num: &str, den: &str) -> Paired {
    let index = |name: &str| {
        let found = group.members.iter().position(|m| m.name == name);
        found.expect("a member named in RATIOS")
    };
    let members = [index(num), index(den)];
    let reps = members.map(|i| reps_per_slice(&mut group.members[i].run));
    let mut rounds: Vec<[f64; 2]> = Vec::new();
    let start = Instant::now();
    while start.elapsed() < PAIRED_TIME || rounds.len() < 5 {
        let order = if rounds.len().is_multiple_of(2) {
            [0, 1]
        } else {
            [1, 0]
        };
        let mut per_iter = [0.0; 2];
        for side in order {
            let run = &mut group.members[members[side]].run;
            per_iter[side] = time_reps(run, reps[side]) / reps[side] as f64;
        }
        rounds.push(per_iter);
    }
    let mut ratios: Vec<f64> = rounds.iter().map(|[n, d]| d / n).collect();
    ratios.sort_by(f64::total_cmp);
    let quartile = |q: usize| ratios[(ratios.len() - 1) * q / 4];
    let fastest = |side: usize| rounds.iter().map(|r| r[side]).fold(f64::INFINITY, f64::min);
    Paired {
        median: quartile(2),
        quartiles: [quartile(1), quartile(3)],
        best: fastest(1) / fastest(0),
    }
}

/// How many iterations fill one paired slice (at least one).
fn reps_per_slice(run: &mut dyn FnMut()) -> usize {
    let once = time_reps(run, 1).max(1e-9);
    ((PAIRED_SLICE.as_secs_f64() / once) as usize).max(1)
}

fn time_reps(run: &mut dyn FnMut(), reps: usize) -> f64 {
    let start = Instant::now();
    for _ in 0..reps {
        run();
    }
    start.elapsed().as_secs_f64()
}

/// Where criterion saves its results (the lookup criterion does, minus `cargo metadata`).
fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return home.into();
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_TARGET_TMPDIR")).join(".."),
        PathBuf::from,
    );
    target.join("criterion")
}

/// The median time per iteration criterion saved for one benchmark, if saved since `since`.
fn fresh_median(bench_dir: &Path, since: SystemTime) -> Option<f64> {
    let path = bench_dir.join("new").join("estimates.json");
    let modified = std::fs::metadata(&path).ok()?.modified().ok()?;
    if modified < since {
        return None;
    }
    let json = std::fs::read_to_string(path).ok()?;
    let median = &json[json.find("\"median\"")?..];
    let key = "\"point_estimate\":";
    let value = &median[median.find(key)? + key.len()..];
    let end = value.find([',', '}'])?;
    value[..end].trim().parse().ok()
}
