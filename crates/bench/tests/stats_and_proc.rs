//! Statistics, /proc parsing, wire helpers and report arithmetic, without sockets.

use rustchat_bench::child::parse_listening;
use rustchat_bench::measure::{Tally, Window};
use rustchat_bench::procfs::{self, CpuTimes};
use rustchat_bench::report::{Report, Sample};
use rustchat_bench::stats::{Latency, median};
use rustchat_bench::wire::{Framing, Inbox, Item, OutFrame, Stamp, find_stamp, parse_head};

#[test]
fn percentiles_of_a_known_distribution() {
    let mut latency = Latency::new();
    for us in 1..=1000u64 {
        latency.record_ns(us * 1000);
    }
    let s = latency.summary();
    assert_eq!(s.count, 1000);
    let close = |got: f64, want: f64| (got - want).abs() / want < 0.01;
    assert!(close(s.p50_us, 500.0), "p50 {}", s.p50_us);
    assert!(close(s.p90_us, 900.0), "p90 {}", s.p90_us);
    assert!(close(s.p99_us, 990.0), "p99 {}", s.p99_us);
    assert!(close(s.max_us, 1000.0), "max {}", s.max_us);
    assert!(close(s.mean_us, 500.5), "mean {}", s.mean_us);
    latency.reset();
    assert_eq!(latency.summary().count, 0);
}

#[test]
fn huge_and_zero_latencies_are_kept_in_range() {
    let mut latency = Latency::new();
    latency.record_ns(0);
    latency.record_ns(u64::MAX);
    assert_eq!(latency.count(), 2);
    assert!(latency.summary().max_us <= 60.1e6);
}

#[test]
fn medians() {
    assert_eq!(median([3.0, 1.0, 2.0]), Some(2.0));
    assert_eq!(median([4.0, 1.0, 3.0, 2.0]), Some(2.5));
    assert_eq!(median([f64::NAN, 7.0]), Some(7.0));
    assert_eq!(median(Vec::<f64>::new()), None);
}

#[test]
fn stat_with_a_tricky_command_name() {
    // The name holds spaces and a ')': fields are counted from the last ')'.
    let stat = "4242 (we (ird) name) S 1 4242 4242 0 -1 4194560 1000 0 0 0 \
                250 75 0 0 20 0 3 0 12345 123456789 2048 18446744073709551615";
    let cpu = procfs::parse_stat(stat).expect("parses");
    assert_eq!(
        cpu,
        CpuTimes {
            user_ticks: 250,
            system_ticks: 75
        }
    );
    assert!((cpu.seconds() - 3.25).abs() < 1e-9);
    assert_eq!(procfs::parse_stat("garbage"), None);
}

#[test]
fn vm_rss_in_bytes() {
    let status = "Name:\trustchat\nVmPeak:\t  20000 kB\nVmRSS:\t    9216 kB\nThreads:\t3\n";
    assert_eq!(procfs::parse_vm_rss(status), Some(9216 * 1024));
    assert_eq!(procfs::parse_vm_rss("Name:\tx\n"), None);
}

#[test]
fn listening_sockets_from_the_tcp_table() {
    let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 31337 1 0 100 0 0 10 0\n\
   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 31338 1 0 20 4 30 10 -1\n";
    assert_eq!(procfs::parse_listening_inodes(table, 8080), vec![31337]);
    assert!(procfs::parse_listening_inodes(table, 8081).is_empty());
}

#[test]
fn this_process_from_proc() {
    let pid = std::process::id();
    assert!(procfs::cpu_times(pid).is_ok());
    assert!(procfs::thread_cpu_times().is_ok());
    assert!(procfs::rss_bytes(pid).expect("rss") > 0);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    assert_eq!(procfs::listening_pid(port), Some(pid));
}

#[test]
fn listening_lines_of_the_children() {
    let ours = "2026-01-01T00:00:00Z  INFO rustchat::serve: rustchat listening on 127.0.0.1:40123 \
                (model async, history in memory; max 100000 connections)";
    assert_eq!(parse_listening(ours), "127.0.0.1:40123".parse().ok());
    let peer = "rustchat-bench peer fastwebsockets listening on 127.0.0.1:9";
    assert_eq!(parse_listening(peer), "127.0.0.1:9".parse().ok());
    assert_eq!(
        parse_listening("echo-server: listening on ws://[::1]:9001"),
        "[::1]:9001".parse().ok()
    );
    assert_eq!(parse_listening("starting up"), None);
}

#[test]
fn stamps_survive_a_server_line() {
    let mut frame = OutFrame::line(&[b'x'; 40]);
    frame.stamp(
        0xabcd,
        Stamp {
            sender: 7,
            sent_ns: 123_456_789,
        },
    );
    let text = String::from_utf8(frame.as_bytes().to_vec()).expect("ascii");
    let relayed = format!("[12:03:04] #bench-0 <guest-3> {}", text.trim_end());
    let stamp = find_stamp(relayed.as_bytes(), 0xabcd).expect("found");
    assert_eq!(
        stamp,
        Stamp {
            sender: 7,
            sent_ns: 123_456_789
        }
    );
    assert_eq!(
        find_stamp(relayed.as_bytes(), 0xabce),
        None,
        "another run's stamp"
    );
}

#[test]
fn masked_frames_unmask_and_parse() {
    for len in [5usize, 200, 70_000] {
        let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let key = [1, 2, 3, 4];
        let frame = OutFrame::ws(0x2, &payload, key);
        let head = parse_head(frame.as_bytes()).expect("complete");
        assert_eq!(head.opcode, 0x2);
        assert_eq!(head.payload_len, len);
        assert_eq!(head.mask, Some(key));
        let body = &frame.as_bytes()[head.header_len..];
        let unmasked: Vec<u8> = body
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ key[i % 4])
            .collect();
        assert_eq!(unmasked, payload);
        assert_eq!(
            parse_head(&frame.as_bytes()[..1]),
            None,
            "incomplete header"
        );
    }
}

#[tokio::test]
async fn inbox_cuts_frames_and_lines() {
    // Two unmasked server frames and a ping, split across reads.
    let mut wire = vec![0x81, 3, b'a', b'b', b'c', 0x89, 1, b'p', 0x82, 2, b'x'];
    let mut inbox = Inbox::new(Framing::Ws, 4);
    let mut reader: &[u8] = &wire;
    let mut got = Vec::new();
    while inbox.fill(&mut reader).await.expect("read") > 0 {
        while let Some(item) = inbox.next_item() {
            got.push(format!("{item:?}"));
        }
    }
    assert_eq!(got.len(), 2, "{got:?}");
    wire.push(b'y');
    let mut inbox = Inbox::new(Framing::Ws, 64);
    let mut reader: &[u8] = &wire;
    inbox.fill(&mut reader).await.expect("read");
    assert!(matches!(
        inbox.next_item(),
        Some(Item::Data {
            payload: b"abc",
            mask: None
        })
    ));
    assert_eq!(inbox.next_item(), Some(Item::Ping(b"p")));
    assert!(matches!(
        inbox.next_item(),
        Some(Item::Data { payload: b"xy", .. })
    ));
    let mut lines = Inbox::new(Framing::Line, 64);
    let mut reader: &[u8] = b"one\ntwo\nthr";
    lines.fill(&mut reader).await.expect("read");
    assert!(matches!(
        lines.next_item(),
        Some(Item::Data {
            payload: b"one",
            ..
        })
    ));
    assert!(matches!(
        lines.next_item(),
        Some(Item::Data {
            payload: b"two",
            ..
        })
    ));
    assert_eq!(lines.next_item(), None, "`thr` waits for its newline");
}

fn sample(ops: u64, cpu: f64) -> Sample {
    let tally = Tally::default();
    tally.ops.set(ops);
    let window = Window {
        seconds: 2.0,
        server_cpu_s: Some(cpu),
        server_rss: Some(1 << 20),
        generator_cpu: 0.5,
    };
    Sample::new(&tally, &window)
}

#[test]
fn samples_derive_rates_and_costs() {
    let s = sample(1000, 0.5);
    assert_eq!(s.ops_per_s, 500.0);
    assert_eq!(s.server_cpu_per_op_us, Some(500.0));
    assert_eq!(s.ops_per_server_cpu_s, Some(2000.0));
    assert_eq!(s.server_cpu_percent, Some(25.0));
    assert_eq!(s.generator_cpu_percent, 50.0);
}

#[test]
fn report_medians_and_same_run_ratios() {
    let ours = vec![
        Ok(sample(1000, 1.0)),
        Ok(sample(3000, 1.0)),
        Ok(sample(2000, 1.0)),
    ];
    let peer = vec![
        Ok(sample(500, 1.0)),
        Ok(sample(1000, 1.0)),
        Err("crashed".to_string()),
    ];
    let report = Report::new(
        "broadcast",
        serde_json::json!({}),
        vec![("async".into(), ours), ("peer".into(), peer)],
    );
    let median = report.subjects[0].median.as_ref().expect("median");
    assert_eq!(median.ops, 2000);
    assert_eq!(report.subjects[0].ratio_to_first, Some(1.0));
    // Run by run: 500/1000 = 0.5, 1000/3000 = 0.333…; the failed run has no ratio.
    let ratio = report.subjects[1].ratio_to_first.expect("ratio");
    assert!((ratio - (0.5 + 1.0 / 3.0) / 2.0).abs() < 1e-9, "{ratio}");
    assert_eq!(report.subjects[1].failures, vec!["crashed".to_string()]);
    assert!(!report.all_ran());
    let json = serde_json::to_value(&report).expect("serialises");
    assert_eq!(json["subjects"][0]["median"]["ops"], 2000);
}
