//! `rustchat serve --config FILE`, `RUSTCHAT_*` variables and `--print-config`, through the
//! real binary: which wins, what a running server does with the file, and that the example file
//! in packaging/ names every setting with its true default.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::process::ServeProcess;

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_rustchat"))
}

/// `rustchat serve --print-config ARGS…` with `env`, as `key → (value, source)`.
fn print_config(args: &[&str], env: &[(&str, &str)]) -> BTreeMap<String, (String, String)> {
    let out = Command::new(bin())
        .args(["serve", "--print-config"])
        .args(args)
        .env_remove("RUSTCHAT_MAX_LINE")
        .envs(env.iter().copied())
        .output()
        .expect("rustchat runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "--print-config failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    settings_of(&text)
}

/// The `key = value  # source` lines of a config text.
fn settings_of(text: &str) -> BTreeMap<String, (String, String)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && l.contains(" = "))
        .filter_map(|l| {
            let (setting, source) = l.split_once("  # ").unwrap_or((l, ""));
            let (key, value) = setting.split_once(" = ")?;
            Some((key.to_owned(), (value.to_owned(), source.to_owned())))
        })
        .collect()
}

#[test]
fn the_command_line_beats_the_environment_which_beats_the_file_which_beats_the_default() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("rustchat.toml");
    std::fs::write(
        &file,
        "max-line = 100\nreplay = 7\nmotd = \"from the file\"\n",
    )
    .expect("write");
    let file = file.to_str().expect("a UTF-8 path");
    let value = |settings: &BTreeMap<String, (String, String)>, key: &str| {
        settings.get(key).cloned().unwrap_or_default()
    };

    let all = print_config(
        &["--config", file, "--max-line", "300"],
        &[("RUSTCHAT_MAX_LINE", "200"), ("RUSTCHAT_REPLAY", "9")],
    );
    assert_eq!(
        value(&all, "max-line"),
        ("300".into(), "from the command line".into())
    );
    assert_eq!(
        value(&all, "replay"),
        ("9".into(), "from RUSTCHAT_REPLAY".into())
    );
    assert_eq!(
        value(&all, "motd"),
        ("\"from the file\"".into(), format!("from {file}"))
    );
    assert_eq!(value(&all, "backlog"), ("1024".into(), "default".into()));

    let env = print_config(&["--config", file], &[("RUSTCHAT_MAX_LINE", "200")]);
    assert_eq!(
        value(&env, "max-line"),
        ("200".into(), "from RUSTCHAT_MAX_LINE".into())
    );
    let from_file = print_config(&["--config", file], &[]);
    assert_eq!(
        value(&from_file, "max-line"),
        ("100".into(), format!("from {file}"))
    );

    // The file itself can come from the environment.
    let named = print_config(&[], &[("RUSTCHAT_CONFIG", file)]);
    assert_eq!(
        value(&named, "replay"),
        ("7".into(), format!("from {file}"))
    );
}

#[test]
fn a_bad_setting_stops_the_server_before_it_starts_naming_the_file_and_line() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("rustchat.toml");
    std::fs::write(&file, "motd = \"hi\"\nmax-conections = 5\n").expect("write");
    let out = Command::new(bin())
        .args(["serve", "--history", "memory", "--config"])
        .arg(&file)
        .output()
        .expect("rustchat runs");
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(
        said.contains(&format!(
            "{}, line 2: `max-conections` is not a setting — did you mean `max-connections`?",
            file.display()
        )),
        "{said}"
    );
    let out = Command::new(bin())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("RUSTCHAT_MAX_LINE", "lots")
        .output()
        .expect("rustchat runs");
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(
        said.contains("invalid value 'lots' for '--max-line"),
        "{said}"
    );
}

#[test]
fn a_server_runs_with_the_settings_of_its_file() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("rustchat.toml");
    std::fs::write(
        &file,
        "history = \"memory\"\nmotd = \"settings from a file\"\nmax-line = 64\n",
    )
    .expect("write");
    let file = file.to_str().expect("a UTF-8 path");
    let server = ServeProcess::start(bin(), dir.path(), &["--config", file])
        .unwrap_or_else(|why| panic!("rustchat serve starts: {why}"));
    let tcp = TcpStream::connect(server.addr).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    // The server greets a line client after its first line (it may be HELLO, or HTTP).
    (&tcp).write_all(b"/nick filed\n").expect("send");
    let mut lines = BufReader::new(tcp.try_clone().expect("clone")).lines();
    let mut seen = Vec::new();
    let motd = loop {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("closed; saw {seen:?}"))
            .expect("a line");
        if line.contains("settings from a file") {
            break line;
        }
        seen.push(line);
    };
    assert!(!motd.is_empty());
    (&tcp)
        .write_all(format!("{}\n", "x".repeat(100)).as_bytes())
        .expect("send");
    let refusal = lines
        .find_map(|l| l.ok().filter(|l| l.starts_with("ERROR")))
        .expect("an error for the long line");
    assert!(refusal.contains("64"), "max-line = 64 applies: {refusal}");
}

#[test]
fn the_example_file_names_every_setting_with_its_true_default() {
    let example_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging/rustchat.toml");
    let example = std::fs::read_to_string(&example_path).expect("packaging/rustchat.toml");
    // Each setting's first `# key = value` line, uncommented.
    let mut first = BTreeMap::new();
    for line in example.lines() {
        let Some(setting) = line.strip_prefix("# ") else {
            continue;
        };
        let Some((key, value)) = setting.split_once(" = ") else {
            continue;
        };
        if key.chars().all(|c| c.is_ascii_lowercase() || c == '-') {
            first.entry(key.to_owned()).or_insert(value.to_owned());
        }
    }
    let defaults = print_config(&["--listen", "127.0.0.1:8080"], &[]);
    let out = Command::new(bin())
        .args(["serve", "--print-config"])
        .output()
        .expect("rustchat runs");
    let printed = String::from_utf8_lossy(&out.stdout);
    for line in printed.lines() {
        let Some((key, _)) = line.strip_prefix("# ").unwrap_or(line).split_once(" = ") else {
            continue;
        };
        assert!(
            first.contains_key(key),
            "packaging/rustchat.toml does not mention `{key}`"
        );
    }
    for (key, (value, source)) in &defaults {
        if source == "default" {
            assert_eq!(
                first.get(key),
                Some(value),
                "packaging/rustchat.toml shows a wrong default for `{key}`"
            );
        }
    }
    // Uncommented, the examples are valid settings.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let uncommented = dir.path().join("all.toml");
    let text: String = first.iter().map(|(k, v)| format!("{k} = {v}\n")).collect();
    std::fs::write(&uncommented, text).expect("write");
    let all = print_config(&["--config", uncommented.to_str().expect("UTF-8")], &[]);
    assert_eq!(all.len(), first.len(), "{all:?}");
}
