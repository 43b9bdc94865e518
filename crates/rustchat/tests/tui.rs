//! The full-screen client in a real pseudo-terminal: `rustchat connect ws://…` in an 80×24
//! PTY, read back through a vt100 parser. Types a message, sees it echoed, resizes, quits,
//! and checks that the terminal was restored (main screen, cursor shown, raw mode off).

use std::io::{Read, Write};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use std::net::{SocketAddr, TcpStream};

use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};
use rustchat_server::config::{HistoryMode, ServerConfig};
use rustchat_server::server::RunningServer;

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

const WAIT: Duration = Duration::from_secs(20);

/// The terminal side: the PTY's output parsed as a vt100 screen, and every raw byte.
struct Screen {
    parser: vt100::Parser,
    raw: Vec<u8>,
    output: Receiver<Vec<u8>>,
}

impl Screen {
    fn pump(&mut self, wait: Duration) -> bool {
        match self.output.recv_timeout(wait) {
            Ok(bytes) => {
                self.parser.process(&bytes);
                self.raw.extend_from_slice(&bytes);
                true
            }
            Err(_) => false,
        }
    }

    fn text(&self) -> String {
        self.parser.screen().contents()
    }

    /// Row `row` of the screen as text.
    fn row(&self, row: u16) -> String {
        let (_, cols) = self.parser.screen().size();
        self.parser
            .screen()
            .rows(0, cols)
            .nth(usize::from(row))
            .unwrap_or_default()
    }

    fn wait_until(&mut self, what: &str, done: impl Fn(&Self) -> bool) -> Result {
        let deadline = Instant::now() + WAIT;
        while !done(self) {
            if Instant::now() > deadline {
                return Err(
                    format!("timed out waiting for {what}; screen:\n{}", self.text()).into(),
                );
            }
            self.pump(Duration::from_millis(50));
        }
        Ok(())
    }
}

fn is_raw(master: &dyn MasterPty) -> Option<bool> {
    let termios = master.get_termios()?;
    let flags = format!("{:?}", termios.local_flags);
    Some(!flags.contains("ICANON") && !flags.contains("ISIG"))
}

fn server_on(addr: SocketAddr) -> Result<RunningServer> {
    Ok(rustchat_server::server::start(ServerConfig {
        listen: vec![addr],
        history: HistoryMode::Memory,
        detect_timeout: Duration::from_millis(50),
        ..Default::default()
    })?)
}

/// `rustchat connect ARGS` in an 80×24 PTY; killed when dropped, so that a failing test
/// leaves no client behind.
struct Tui {
    master: Box<dyn MasterPty + Send>,
    child: Killed,
    keys: Box<dyn Write + Send>,
    screen: Screen,
}

impl Tui {
    fn start(args: &[&str]) -> Result<Self> {
        let pty = native_pty_system().openpty(PtySize {
            rows: 24,
            cols: 80,
            pixel_width: 0,
            pixel_height: 0,
        })?;
        assert_eq!(is_raw(&*pty.master), Some(false), "a fresh PTY is cooked");
        let mut command = CommandBuilder::new(env!("CARGO_BIN_EXE_rustchat"));
        command.arg("connect");
        command.args(args);
        command.env("TERM", "xterm-256color");
        command.env_remove("NO_COLOR");
        let child = Killed(pty.slave.spawn_command(command)?);
        drop(pty.slave); // the reader sees the end once the client exits
        let mut reader = pty.master.try_clone_reader()?;
        let keys = pty.master.take_writer()?;
        let (tx, output) = channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = reader.read(&mut buf) {
                if tx.send(buf[..n].to_vec()).is_err() {
                    return;
                }
            }
        });
        let screen = Screen {
            parser: vt100::Parser::new(24, 80, 0),
            raw: Vec::new(),
            output,
        };
        Ok(Self {
            master: pty.master,
            child,
            keys,
            screen,
        })
    }

    /// Waits for the client to exit, reading the screen meanwhile and to the end after.
    fn wait_exit(&mut self) -> Result<portable_pty::ExitStatus> {
        let deadline = Instant::now() + WAIT;
        let status = loop {
            if let Some(status) = self.child.try_wait()? {
                break status;
            }
            if Instant::now() > deadline {
                self.child.kill()?;
                return Err(format!("the client did not exit:\n{}", self.screen.text()).into());
            }
            self.screen.pump(Duration::from_millis(50));
        };
        while self.screen.pump(Duration::from_millis(200)) {}
        Ok(status)
    }
}

/// The client process, killed when dropped.
struct Killed(Box<dyn Child + Send + Sync>);

impl std::ops::Deref for Killed {
    type Target = Box<dyn Child + Send + Sync>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Killed {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[test]
fn full_screen_client_in_a_pty() -> Result {
    let server = server_on("127.0.0.1:0".parse()?)?;
    let url = format!("ws://{}/ws", server.addr());
    let mut tui = Tui::start(&[&url, "--nick", "tester"])?;
    let screen = &mut tui.screen;
    screen.wait_until("the status bar", |s| s.row(22).contains("● connected"))?;
    assert!(
        screen.parser.screen().alternate_screen(),
        "full screen uses the alternate screen"
    );
    assert_eq!(is_raw(&*tui.master), Some(true), "raw mode while running");
    screen.wait_until("the nick", |s| s.row(22).contains("│ tester │ #lobby"))?;

    tui.keys.write_all("hello from the pty ✓".as_bytes())?;
    screen.wait_until("the typed text", |s| {
        s.row(23).starts_with("> hello from the pty ✓")
    })?;
    tui.keys.write_all(b"\r")?;
    screen.wait_until("the echo", |s| {
        s.text().contains("<tester> hello from the pty ✓")
    })?;
    assert_eq!(
        screen.row(23).trim_end(),
        ">",
        "the input line is empty again"
    );
    screen.wait_until("a round trip", |s| {
        s.row(22).contains("rtt ") && !s.row(22).contains("rtt -")
    })?;

    tui.master.resize(PtySize {
        rows: 30,
        cols: 100,
        pixel_width: 0,
        pixel_height: 0,
    })?;
    screen.parser.set_size(30, 100);
    screen.wait_until("the resized layout", |s| {
        s.row(28).contains("● connected") && s.row(29).starts_with('>')
    })?;
    assert!(
        screen.text().contains("<tester> hello from the pty ✓"),
        "{}",
        screen.text()
    );

    tui.keys.write_all(b"/quit\r")?;
    let status = tui.wait_exit()?;
    assert!(status.success(), "{status:?}");
    let screen = &tui.screen;
    assert!(
        !screen.parser.screen().alternate_screen(),
        "left the alternate screen"
    );
    assert!(!screen.parser.screen().hide_cursor(), "the cursor is shown");
    let raw = String::from_utf8_lossy(&screen.raw);
    assert!(
        raw.contains("\u{1b}[?1049l"),
        "leave-alternate-screen was written"
    );
    assert!(
        raw.contains("\u{1b}[?1000l"),
        "mouse reporting was turned off"
    );
    assert_eq!(is_raw(&*tui.master), Some(false), "raw mode is off again");
    Ok(())
}

/// The server goes away and comes back on the same address: the client says so in the status
/// bar, retries, and restores its nick and room.
#[test]
fn reconnects_and_restores_nick_and_room() -> Result {
    let server = server_on("127.0.0.1:0".parse()?)?;
    let addr = server.addr();
    let url = format!("ws://{addr}/ws");
    let mut tui = Tui::start(&[&url, "--nick", "tester", "--room", "rust"])?;
    let screen = &mut tui.screen;
    screen.wait_until("the room", |s| {
        s.row(22).contains("● connected │ ws://127.0.0.1:")
    })?;
    // The server's own word that we joined (the status bar shows the room asked for at once).
    screen.wait_until("the join", |s| s.text().contains("tester joined #rust"))?;
    server.shutdown()?;
    screen.wait_until("the loss", |s| s.row(22).contains("connection lost, retry"))?;
    let server = server_on(addr)?;
    screen.wait_until("the reconnect", |s| s.row(22).contains("● connected"))?;
    // Ask the new server who is in #rust, over the line protocol.
    let mut peer = TcpStream::connect(addr)?;
    peer.set_read_timeout(Some(WAIT))?;
    let deadline = Instant::now() + WAIT;
    let mut seen = String::new();
    while !seen.contains("*** members of #rust (1): tester") {
        assert!(
            Instant::now() < deadline,
            "tester is not back in #rust: {seen}"
        );
        peer.write_all(b"/who #rust\n")?;
        std::thread::sleep(Duration::from_millis(200));
        let mut buf = [0u8; 4096];
        let n = peer.read(&mut buf)?;
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    tui.keys.write_all(b"/quit\r")?;
    assert!(tui.wait_exit()?.success());
    drop(server);
    Ok(())
}

/// SIGTERM ends the client like /quit: the terminal is restored.
#[cfg(unix)]
#[test]
fn sigterm_restores_the_terminal() -> Result {
    let server = server_on("127.0.0.1:0".parse()?)?;
    let url = format!("ws://{}/ws", server.addr());
    let mut tui = Tui::start(&[&url])?;
    tui.screen
        .wait_until("the status bar", |s| s.row(22).contains("● connected"))?;
    assert_eq!(is_raw(&*tui.master), Some(true));
    let pid = tui.child.process_id().ok_or("no pid")?;
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()?;
    assert!(killed.success());
    assert!(tui.wait_exit()?.success());
    assert!(!tui.screen.parser.screen().alternate_screen());
    assert!(!tui.screen.parser.screen().hide_cursor());
    assert_eq!(is_raw(&*tui.master), Some(false));
    Ok(())
}

/// A line-protocol peer with a nick, for the full-screen client to talk to.
fn line_peer(addr: SocketAddr, nick: &str) -> Result<TcpStream> {
    let mut peer = TcpStream::connect(addr)?;
    peer.write_all(format!("/nick {nick}\n").as_bytes())?;
    Ok(peer)
}

/// Where `needle` is on the screen, as (row, column).
fn find(screen: &Screen, needle: &str) -> Option<(u16, u16)> {
    let (rows, _) = screen.parser.screen().size();
    (0..rows).find_map(|row| {
        let text = screen.row(row);
        let at = text.find(needle)?;
        Some((row, u16::try_from(text[..at].chars().count()).ok()?))
    })
}

/// Tab completion, a highlighted mention, `/ignore`, and Alt-1 / Ctrl-N / Ctrl-P between
/// rooms, typed into the real binary in a PTY while line clients talk to it.
#[test]
fn completes_highlights_ignores_and_switches_rooms_from_the_keyboard() -> Result {
    let server = server_on("127.0.0.1:0".parse()?)?;
    let url = format!("ws://{}/ws", server.addr());
    let mut tui = Tui::start(&[&url, "--nick", "tester"])?;
    let screen = &mut tui.screen;
    screen.wait_until("the nick", |s| s.row(22).contains("│ tester │ #lobby"))?;
    let mut bob = line_peer(server.addr(), "bobby")?;
    let mut carol = line_peer(server.addr(), "carol")?;
    screen.wait_until("both nicks", |s| {
        s.text().contains("is now known as carol") && s.text().contains("is now known as bobby")
    })?;

    tui.keys.write_all(b"/msg bo\t")?;
    screen.wait_until("the completed nick", |s| {
        s.row(23).trim_end() == "> /msg bobby"
    })?;
    tui.keys.write_all(b"\x15/ig\t")?;
    screen.wait_until("the completed command", |s| {
        s.row(23).trim_end() == "> /ignore"
    })?;
    tui.keys.write_all(b"\x15")?;

    bob.write_all(b"tester: are you around?\nnothing for you here\n")?;
    screen.wait_until("bob's lines", |s| s.text().contains("nothing for you here"))?;
    let Some((row, col)) = find(screen, "tester: are you around?") else {
        return Err(format!("no mention on screen:\n{}", screen.text()).into());
    };
    let cell = screen.parser.screen().cell(row, col).ok_or("no cell")?;
    assert!(cell.bold(), "a mention is bold");
    let (row, col) = find(screen, "nothing for you here").ok_or("no plain line")?;
    let cell = screen.parser.screen().cell(row, col).ok_or("no cell")?;
    assert!(!cell.bold(), "other lines are not");

    tui.keys.write_all(b"/ignore bobby\r")?;
    screen.wait_until("the ignore notice", |s| s.text().contains("ignoring bobby"))?;
    bob.write_all(b"can you hear me\n")?;
    carol.write_all(b"carol was here\n")?;
    screen.wait_until("carol's line", |s| s.text().contains("carol was here"))?;
    assert!(
        !screen.text().contains("can you hear me"),
        "{}",
        screen.text()
    );

    tui.keys.write_all(b"/join #rust\r")?;
    screen.wait_until("#rust", |s| s.row(22).contains("│ tester │ #rust"))?;
    screen.wait_until("the numbered panel", |s| {
        s.text().contains("1 #lobby") && s.text().contains("2 #rust")
    })?;
    tui.keys.write_all(b"\x1b1")?;
    screen.wait_until("Alt-1: #lobby", |s| s.row(22).contains("│ tester │ #lobby"))?;
    tui.keys.write_all(b"\x0e")?;
    screen.wait_until("Ctrl-N: #rust", |s| s.row(22).contains("│ tester │ #rust"))?;
    tui.keys.write_all(b"\x10")?;
    screen.wait_until("Ctrl-P: #lobby", |s| {
        s.row(22).contains("│ tester │ #lobby")
    })?;

    tui.keys.write_all(b"/quit\r")?;
    assert!(tui.wait_exit()?.success());
    Ok(())
}

/// The terminal goes away under the client (its window is closed): it gets SIGHUP and its
/// terminal reads fail; it must exit, not spin on the dead terminal.
#[cfg(unix)]
#[test]
fn a_vanished_terminal_ends_the_client() -> Result {
    let server = server_on("127.0.0.1:0".parse()?)?;
    let url = format!("ws://{}/ws", server.addr());
    let mut tui = Tui::start(&[&url])?;
    tui.screen
        .wait_until("the status bar", |s| s.row(22).contains("● connected"))?;
    // Closing the master side is what a terminal emulator does when its window closes.
    let Tui {
        master,
        keys,
        mut child,
        ..
    } = tui;
    drop(keys);
    drop(master);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if child.try_wait()?.is_some() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err("the client outlived its terminal by 10 s".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
