//! The TUI's state: keys, mouse and paste → edits, scrolling and [`Action`]s for the event
//! loop. No terminal and no socket here: tests drive it with `KeyEvent` values.

use std::time::Duration;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEventKind};

use crate::{Client, InputLine, Target, Wire};

/// Rows the mouse wheel scrolls.
const WHEEL_ROWS: usize = 3;

/// The client's own commands, shown by `/help` before the server's.
pub const CLIENT_HELP: &[&str] = &[
    "client commands:",
    "  /connect [URL]     connect (again, or to another server: ws://host:port/ws, tcp://host:port)",
    "  /disconnect        leave the server and stop reconnecting",
    "  /quit, /exit       leave and close the client (Ctrl-C too)",
    "  keys: PageUp/PageDown or the mouse wheel scroll; Up/Down recall sent lines;",
    "        Ctrl-W deletes a word, Ctrl-U the line start; Ctrl-A/Home, Ctrl-E/End",
];

/// Where the connection stands, for the status bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Opening the connection.
    Connecting,
    /// Talking to the server.
    Connected(Wire),
    /// Lost; the next attempt comes after `delay`.
    Retrying { attempt: u32, delay: Duration },
    /// Not connected, not retrying (`/disconnect`).
    Offline,
}

/// What the event loop should do after an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this line to the server.
    Send(String),
    /// (Re)connect, to this target if given.
    Connect(Option<Target>),
    /// Leave the server and stay offline.
    Disconnect,
    /// Send this `/quit` line, and end the client.
    Quit(String),
}

/// The state of the full-screen client.
#[derive(Debug)]
pub struct App {
    /// The conversation.
    pub client: Client,
    /// What is being typed.
    pub input: InputLine,
    /// The server we talk to (or will, after `/connect`).
    pub target: Target,
    pub status: Status,
    /// The last measured WebSocket round trip.
    pub rtt: Option<Duration>,
    /// Rows scrolled up from the newest line; 0 follows new lines.
    pub scroll: usize,
    /// Rows the scrollback showed at the last draw (a page) and at most how far it scrolls.
    pub page: usize,
    pub max_scroll: usize,
    /// Draw with colours (off with `NO_COLOR`).
    pub color: bool,
}

impl App {
    /// A client for `target` that wants `nick` and `room`.
    pub fn new(target: Target, nick: Option<String>, room: Option<String>) -> Self {
        Self {
            client: Client::new(nick, room),
            input: InputLine::default(),
            target,
            status: Status::Connecting,
            rtt: None,
            scroll: 0,
            page: 10,
            max_scroll: usize::MAX,
            color: true,
        }
    }

    /// A terminal event → at most one action.
    pub fn on_event(&mut self, event: &Event, now_ms: u64) -> Option<Action> {
        match event {
            Event::Key(key) => self.on_key(key, now_ms),
            Event::Mouse(mouse) => {
                match mouse.kind {
                    MouseEventKind::ScrollUp => self.scroll_up(WHEEL_ROWS),
                    MouseEventKind::ScrollDown => self.scroll_down(WHEEL_ROWS),
                    _ => {}
                }
                None
            }
            Event::Paste(text) => {
                self.input.insert_str(text);
                None
            }
            _ => None,
        }
    }

    /// A key → edits, scrolling, or an action (Enter, Ctrl-C).
    pub fn on_key(&mut self, key: &KeyEvent, now_ms: u64) -> Option<Action> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('c') if ctrl => return Some(Action::Quit("/quit".into())),
            KeyCode::Char('d') if ctrl && self.input.is_empty() => {
                return Some(Action::Quit("/quit".into()));
            }
            KeyCode::Char('w') if ctrl => self.input.delete_word_back(),
            KeyCode::Char('u') if ctrl => self.input.delete_to_start(),
            KeyCode::Char('a') if ctrl => self.input.home(),
            KeyCode::Char('e') if ctrl => self.input.end(),
            KeyCode::Char(_) if ctrl || key.modifiers.contains(KeyModifiers::ALT) => {}
            KeyCode::Char(c) => self.input.insert(c),
            KeyCode::Enter => return self.submit(now_ms),
            KeyCode::Backspace => self.input.backspace(),
            KeyCode::Delete => self.input.delete(),
            KeyCode::Left => self.input.left(),
            KeyCode::Right => self.input.right(),
            KeyCode::Home => self.input.home(),
            KeyCode::End => self.input.end(),
            KeyCode::Up => self.input.history_up(),
            KeyCode::Down => self.input.history_down(),
            KeyCode::PageUp => self.scroll_up(self.page.saturating_sub(1).max(1)),
            KeyCode::PageDown => self.scroll_down(self.page.saturating_sub(1).max(1)),
            _ => {}
        }
        None
    }

    fn scroll_up(&mut self, rows: usize) {
        self.scroll = self.scroll.saturating_add(rows).min(self.max_scroll);
    }

    fn scroll_down(&mut self, rows: usize) {
        self.scroll = self.scroll.saturating_sub(rows);
    }

    /// Enter: a client command, or a line for the server.
    fn submit(&mut self, now_ms: u64) -> Option<Action> {
        let line = self.input.submit()?;
        self.scroll = 0;
        let mut words = line.split_whitespace();
        let command = words.next().unwrap_or_default().to_ascii_lowercase();
        match command.as_str() {
            "/quit" | "/exit" => {
                let reason = line.trim().split_once(' ').map(|(_, r)| r.trim());
                Some(Action::Quit(match reason {
                    Some(reason) => format!("/quit {reason}"),
                    None => "/quit".into(),
                }))
            }
            "/disconnect" => Some(Action::Disconnect),
            "/connect" => match (words.next(), words.next()) {
                (None, _) => Some(Action::Connect(None)),
                (Some(url), None) => match Target::parse(url) {
                    Ok(target) => Some(Action::Connect(Some(target))),
                    Err(e) => {
                        self.client.notice(&e.to_string(), now_ms);
                        None
                    }
                },
                _ => {
                    self.client.notice("usage: /connect [URL]", now_ms);
                    None
                }
            },
            "/help" => {
                for line in CLIENT_HELP {
                    self.client.notice(line, now_ms);
                }
                self.client.notice("server commands:", now_ms);
                Some(Action::Send(line))
            }
            _ => Some(Action::Send(line)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{MouseEvent, MouseEventKind};

    fn app() -> App {
        App::new(Target::default(), None, None)
    }

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn ctrl(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
    }

    fn type_line(app: &mut App, text: &str) -> Option<Action> {
        for c in text.chars() {
            assert_eq!(app.on_key(&key(KeyCode::Char(c)), 0), None);
        }
        app.on_key(&key(KeyCode::Enter), 0)
    }

    #[test]
    fn enter_sends_lines_and_client_commands_become_actions() {
        let mut app = app();
        assert_eq!(
            type_line(&mut app, "hello"),
            Some(Action::Send("hello".into()))
        );
        assert_eq!(
            type_line(&mut app, "/join #rust"),
            Some(Action::Send("/join #rust".into()))
        );
        assert_eq!(
            type_line(&mut app, "/QUIT gone fishing"),
            Some(Action::Quit("/quit gone fishing".into()))
        );
        assert_eq!(
            type_line(&mut app, "/exit"),
            Some(Action::Quit("/quit".into()))
        );
        assert_eq!(type_line(&mut app, "/disconnect"), Some(Action::Disconnect));
        assert_eq!(type_line(&mut app, "/connect"), Some(Action::Connect(None)));
        assert_eq!(
            type_line(&mut app, "/connect tcp://127.0.0.1:7"),
            Some(Action::Connect(Some(Target::Tcp {
                host: "127.0.0.1".into(),
                port: 7,
                tls: false,
            })))
        );
        assert_eq!(type_line(&mut app, "   "), None);
        assert!(app.input.is_empty());
    }

    #[test]
    fn bad_connect_urls_and_help_show_notices() {
        let mut app = app();
        assert_eq!(type_line(&mut app, "/connect http://x/"), None);
        assert_eq!(type_line(&mut app, "/connect a b"), None);
        assert_eq!(
            type_line(&mut app, "/help"),
            Some(Action::Send("/help".into()))
        );
        let texts: Vec<_> = app
            .client
            .entries()
            .iter()
            .map(|e| format!("{:?}", e.kind))
            .collect();
        assert!(texts[0].contains("unknown scheme `http`"), "{texts:?}");
        assert!(texts[1].contains("usage: /connect [URL]"), "{texts:?}");
        assert!(texts.iter().any(|t| t.contains("/disconnect")), "{texts:?}");
    }

    #[test]
    fn editing_keys_reach_the_input_line() {
        let mut app = app();
        type_line(&mut app, "first");
        for c in "one two".chars() {
            app.on_key(&key(KeyCode::Char(c)), 0);
        }
        app.on_key(&ctrl('w'), 0);
        assert_eq!(app.input.text(), "one ");
        app.on_key(&ctrl('a'), 0);
        app.on_key(&key(KeyCode::Delete), 0);
        app.on_key(&ctrl('e'), 0);
        app.on_key(&key(KeyCode::Backspace), 0);
        assert_eq!(app.input.text(), "ne");
        app.on_key(&key(KeyCode::Left), 0);
        app.on_key(&ctrl('u'), 0);
        assert_eq!(app.input.text(), "e");
        app.on_key(&key(KeyCode::Up), 0);
        assert_eq!(app.input.text(), "first");
        app.on_key(&key(KeyCode::Down), 0);
        assert_eq!(app.input.text(), "e");
        app.on_key(&KeyEvent::new(KeyCode::Char('x'), KeyModifiers::ALT), 0);
        app.on_key(&KeyEvent::new(KeyCode::Char('X'), KeyModifiers::SHIFT), 0);
        assert_eq!(app.input.text(), "eX");
    }

    #[test]
    fn ctrl_c_and_ctrl_d_on_an_empty_line_quit() {
        let mut app = app();
        assert_eq!(
            app.on_key(&ctrl('c'), 0),
            Some(Action::Quit("/quit".into()))
        );
        app.on_key(&key(KeyCode::Char('x')), 0);
        assert_eq!(app.on_key(&ctrl('d'), 0), None);
        app.on_key(&key(KeyCode::Backspace), 0);
        assert_eq!(
            app.on_key(&ctrl('d'), 0),
            Some(Action::Quit("/quit".into()))
        );
    }

    #[test]
    fn paging_and_the_wheel_scroll_within_bounds() {
        let mut app = app();
        app.page = 11;
        app.max_scroll = 25;
        app.on_key(&key(KeyCode::PageUp), 0);
        assert_eq!(app.scroll, 10);
        app.on_key(&key(KeyCode::PageUp), 0);
        app.on_key(&key(KeyCode::PageUp), 0);
        assert_eq!(app.scroll, 25);
        app.on_key(&key(KeyCode::PageDown), 0);
        assert_eq!(app.scroll, 15);
        let wheel = |kind| {
            Event::Mouse(MouseEvent {
                kind,
                column: 0,
                row: 0,
                modifiers: KeyModifiers::NONE,
            })
        };
        app.on_event(&wheel(MouseEventKind::ScrollDown), 0);
        assert_eq!(app.scroll, 12);
        app.on_event(&wheel(MouseEventKind::ScrollUp), 0);
        assert_eq!(app.scroll, 15);
        for _ in 0..10 {
            app.on_event(&wheel(MouseEventKind::ScrollDown), 0);
        }
        assert_eq!(app.scroll, 0);
        app.scroll = 5;
        type_line(&mut app, "x");
        assert_eq!(app.scroll, 0, "sending a line jumps back to the newest");
        app.on_event(&Event::Paste("pasted\ntext".into()), 0);
        assert_eq!(app.input.text(), "pasted text");
    }
}
