//! `rustchat admin` against the data directory of a running `rustchat serve` (both the real
//! binary), and `rustchat connect` signing in with `RUSTCHAT_PASSWORD`.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::process::ServeProcess;

const WAIT: Duration = Duration::from_secs(20);

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_rustchat"))
}

/// `rustchat admin --data-dir DIR ARGS…` with `stdin`; its output.
fn admin(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(bin())
        .arg("admin")
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rustchat admin starts");
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin.as_bytes()).expect("stdin takes it");
    }
    child.wait_with_output().expect("rustchat admin ends")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A line client that has joined; reads lines until one satisfies `want`.
struct Lines {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    seen: Vec<String>,
}

impl Lines {
    fn join(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(WAIT)).expect("timeout");
        let writer = stream.try_clone().expect("a second handle");
        let mut lines = Self {
            reader: BufReader::new(stream),
            writer,
            seen: Vec::new(),
        };
        lines.send("");
        lines.expect(|l| l.starts_with("*** welcome"));
        lines
    }

    fn send(&mut self, line: &str) {
        self.writer
            .write_all(format!("{line}\n").as_bytes())
            .expect("write");
    }

    fn expect(&mut self, want: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            let mut line = String::new();
            match self.reader.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = line.trim_end().to_owned();
                    self.seen.push(line.clone());
                    if want(&line) {
                        return line;
                    }
                }
            }
        }
        panic!("not found; received {:#?}", self.seen);
    }
}

#[test]
fn accounts_made_by_admin_while_the_server_runs_are_protected_and_sign_in() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let server =
        ServeProcess::start(bin(), dir.path(), &["--registration", "closed"]).expect("starts");
    let mut guest = Lines::join(server.addr);
    guest.send("/nick judy");
    guest.expect(|l| l.contains("is now known as judy"));
    guest.send("/register judys-password");
    guest.expect(|l| l.starts_with("ERROR registration is closed on this server"));

    let made = admin(
        dir.path(),
        &[
            "create-account",
            "Kim",
            "--role",
            "moderator",
            "--password-stdin",
        ],
        "kims-password\n",
    );
    assert!(made.status.success(), "{made:?}");
    assert_eq!(stdout(&made), "created Kim (moderator)\n");

    // Within a second or so the running server protects the new name.
    let deadline = Instant::now() + WAIT;
    loop {
        guest.send("/nick kim");
        let answer = guest.expect(|l| l.starts_with("ERROR") || l.contains("is now known as kim"));
        if answer.starts_with("ERROR nick kim is registered") {
            break;
        }
        assert!(Instant::now() < deadline, "never protected: {answer}");
        guest.send("/nick judy");
        guest.expect(|l| l.contains("is now known as judy"));
        std::thread::sleep(Duration::from_millis(200));
    }
    guest.send("/login kim kims-password");
    guest.expect(|l| l == "*** you are signed in as Kim");

    // A moderator bans their own range by mistake; the operator lifts it from the shell.
    guest.send("/kline 127.0.0.0/8 oops");
    guest.expect(|l| l.starts_with("*** connections from 127.0.0.0/8 are refused now"));
    let refused = |addr| {
        let mut stream = TcpStream::connect(addr).expect("connect");
        // A banned client is answered and closed at once; another is greeted and kept.
        stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        let mut answer = String::new();
        let _ = std::io::Read::read_to_string(&mut stream, &mut answer);
        answer
    };
    assert_eq!(
        refused(server.addr),
        "ERROR your address is banned from this server\n"
    );
    let listed = stdout(&admin(dir.path(), &["klines"], ""));
    assert!(
        listed.starts_with("1 address bans\n127.0.0.0/8 until lifted, by Kim (oops)"),
        "{listed}"
    );
    let lifted = admin(dir.path(), &["unkline", "127.0.0.0/8"], "");
    assert!(lifted.status.success(), "{lifted:?}");
    let deadline = Instant::now() + WAIT;
    while refused(server.addr).starts_with("ERROR your address is banned") {
        assert!(
            Instant::now() < deadline,
            "the server never noticed the lifted ban"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // A reset password applies at the next sign-in; the audit log shows it all.
    let reset = admin(
        dir.path(),
        &["reset-password", "kim", "--password-stdin"],
        "a-new-password\n",
    );
    assert!(reset.status.success(), "{reset:?}");
    assert_eq!(
        stdout(&reset),
        "the password of kim is changed; 0 access tokens revoked\n"
    );
    let mut other = Lines::join(server.addr);
    other.send("/login kim kims-password");
    other.expect(|l| l == "ERROR wrong account name or password");
    other.send("/login kim a-new-password");
    other.expect(|l| l == "*** you are signed in as Kim");
    let audit = stdout(&admin(dir.path(), &["audit"], ""));
    for action in [
        "create_account",
        "sign_in ",
        "reset_password",
        "sign_in_failed",
    ] {
        assert!(audit.contains(action), "{action} missing from:\n{audit}");
    }
    assert!(audit.contains("from 127.0.0.1"), "{audit}");
    let listed = stdout(&admin(dir.path(), &["accounts"], ""));
    assert!(listed.starts_with("1 accounts\nKim "), "{listed}");

    // Errors say what was wrong and change nothing.
    let short = admin(
        dir.path(),
        &["create-account", "lee", "--password-stdin"],
        "short\n",
    );
    assert!(!short.status.success());
    assert!(
        String::from_utf8_lossy(&short.stderr).contains("password too short: 5 bytes"),
        "{short:?}"
    );
    let last = admin(dir.path(), &["revoke", "kim"], "");
    assert!(
        last.status.success(),
        "a moderator may lose the role: {last:?}"
    );
    let again = admin(
        dir.path(),
        &["create-account", "KIM", "--password-stdin"],
        "kims-password\n",
    );
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("KIM is registered already"),
        "{again:?}"
    );
}

#[test]
fn connect_signs_in_with_the_password_from_the_environment() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let server = ServeProcess::start(bin(), dir.path(), &[]).expect("starts");
    let made = admin(
        dir.path(),
        &["create-account", "lena", "--password-stdin"],
        "lenas-password\n",
    );
    assert!(made.status.success(), "{made:?}");
    for url in [format!("ws://{}/ws", server.addr), server.addr.to_string()] {
        let output = Command::new(bin())
            .args(["connect", "--nick", "lena", &url])
            .env("RUSTCHAT_PASSWORD", "lenas-password")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .expect("rustchat connect runs");
        let printed = stdout(&output);
        assert!(
            printed.contains("*** you are signed in as lena"),
            "{url}: {printed}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(!printed.contains("lenas-password"), "{printed}");
    }
    // A token made by /token signs `connect --token-file` in.
    let mut lena = Lines::join(server.addr);
    lena.send("/login lena lenas-password");
    lena.expect(|l| l == "*** you are signed in as lena");
    lena.send("/token cli");
    let shown = lena.expect(|l| l.starts_with("*** token 1 (cli): "));
    let token = shown.rsplit(' ').next().unwrap_or_default();
    let file = dir.path().join("token");
    std::fs::write(&file, format!("{token}\n")).expect("the token file");
    let output = Command::new(bin())
        .args(["connect", "--token-file"])
        .arg(&file)
        .arg(format!("ws://{}/ws", server.addr))
        .stdin(Stdio::null())
        .output()
        .expect("rustchat connect runs");
    assert!(
        stdout(&output).contains("*** you are signed in as lena"),
        "{output:?}"
    );
    std::fs::write(&file, "not a token").expect("the token file");
    let bad = Command::new(bin())
        .args(["connect", "--token-file"])
        .arg(&file)
        .arg(server.addr.to_string())
        .stdin(Stdio::null())
        .output()
        .expect("rustchat connect runs");
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("invalid access token"),
        "{bad:?}"
    );

    let wrong = Command::new(bin())
        .args(["connect", "--nick", "lena", &server.addr.to_string()])
        .env("RUSTCHAT_PASSWORD", "short")
        .stdin(Stdio::null())
        .output()
        .expect("rustchat connect runs");
    assert_eq!(wrong.status.code(), Some(2), "{wrong:?}");
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("RUSTCHAT_PASSWORD: password too short")
    );
}
