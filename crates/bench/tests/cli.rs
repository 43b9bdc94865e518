//! Argument parsing: defaults, units, lists, and the errors that say what to type.

use std::time::Duration;

use clap::Parser;
use rustchat_bench::BenchArgs;
use rustchat_bench::cli::{Peer, PeerChoice, Rate, Scenario, Transport, parse_duration};
use rustchat_bench::subjects::{Spec, specs};

fn parse(args: &[&str]) -> Result<BenchArgs, clap::Error> {
    BenchArgs::try_parse_from(std::iter::once("bench").chain(args.iter().copied()))
}

#[test]
fn broadcast_defaults_match_the_issue() {
    let args = parse(&["broadcast"]).expect("parses");
    let Scenario::Broadcast(b) = &args.scenario else {
        panic!("not broadcast")
    };
    assert_eq!((b.rooms, b.clients, b.senders, b.window), (1, 1000, 1, 64));
    assert_eq!(b.rate, Rate::PerSecond(100.0));
    assert_eq!(b.transport, Transport::Ws);
    assert_eq!(b.run.duration, Duration::from_secs(5));
    assert_eq!(b.run.warmup, Duration::from_secs(1));
    assert_eq!(b.run.runs, 1);
    assert_eq!(
        specs(&args.scenario).expect("specs"),
        vec![Spec::Model("async".into())]
    );
}

#[test]
fn durations_rates_and_models() {
    assert_eq!(parse_duration("300ms"), Ok(Duration::from_millis(300)));
    assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
    assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
    assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
    assert!(parse_duration("5 parsecs").is_err());
    let args = parse(&["broadcast", "--rate", "max", "--duration", "250ms"]).expect("parses");
    let Scenario::Broadcast(b) = &args.scenario else {
        panic!("not broadcast")
    };
    assert_eq!(b.rate, Rate::Max);
    assert!(parse(&["broadcast", "--rate", "-3"]).is_err());
    assert!(parse(&["handshake", "--model", "fibers"]).is_err());
    assert!(parse(&["handshake", "--model", "pool:3"]).is_ok());
}

#[test]
fn compare_models_defaults_to_all_four_then_peers() {
    let args = parse(&[
        "broadcast",
        "--compare-models",
        "--peer",
        "tokio-tungstenite",
    ])
    .expect("parses");
    let names: Vec<String> = specs(&args.scenario)
        .expect("specs")
        .iter()
        .map(Spec::name)
        .collect();
    assert_eq!(
        names,
        [
            "sequential",
            "threads",
            "pool",
            "async",
            "tokio-tungstenite"
        ]
    );
    let args = parse(&["handshake", "--compare-models=async,pool:2"]).expect("parses");
    let names: Vec<String> = specs(&args.scenario)
        .expect("specs")
        .iter()
        .map(Spec::name)
        .collect();
    assert_eq!(names, ["async", "pool:2"]);
}

#[test]
fn echo_runs_our_library_first_and_all_peers() {
    let args = parse(&["echo", "--peer", "all"]).expect("parses");
    let names: Vec<String> = specs(&args.scenario)
        .expect("specs")
        .iter()
        .map(Spec::name)
        .collect();
    assert_eq!(
        names,
        [
            "rustchat-ws",
            "fastwebsockets",
            "tokio-tungstenite",
            "tcp-echo",
            "yawc"
        ]
    );
    let args = parse(&["echo", "--peer", "fastwebsockets,tcp-echo"]).expect("parses");
    let Scenario::Echo(e) = &args.scenario else {
        panic!("not echo")
    };
    assert_eq!(
        e.run.peer,
        [PeerChoice::Fastwebsockets, PeerChoice::TcpEcho]
    );
    assert_eq!(Peer::TcpEcho.name(), "tcp-echo");
}

#[test]
fn mistakes_say_what_to_do() {
    let args = parse(&["handshake", "--peer", "fastwebsockets"]).expect("parses");
    let err = specs(&args.scenario)
        .expect_err("no peer speaks HELLO")
        .to_string();
    assert!(err.contains("HELLO"), "{err}");
    let args = parse(&["echo", "--compare-models"]).expect("parses");
    let err = specs(&args.scenario)
        .expect_err("echo has no models")
        .to_string();
    assert!(err.contains("--peer"), "{err}");
    assert!(parse(&["idle", "--target", "127.0.0.1:1", "--compare-models"]).is_err());
    assert!(
        parse(&["idle", "--server-pid", "1"]).is_err(),
        "needs --target"
    );
    assert!(parse(&["broadcast", "--runs", "0"]).is_err());
}

#[test]
fn a_target_is_measured_as_is() {
    let args =
        parse(&["idle", "--target", "127.0.0.1:8080", "--server-pid", "42"]).expect("parses");
    assert_eq!(
        specs(&args.scenario).expect("specs"),
        vec![Spec::Target(
            "127.0.0.1:8080".parse().expect("addr"),
            Some(42)
        )]
    );
}
