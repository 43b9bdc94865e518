//! The TUI's state: keys, mouse and paste → edits, scrolling and [`Action`]s for the event
//! loop. No terminal and no socket here: tests drive it with `KeyEvent` values.

use std::time::Duration;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEventKind};

use crate::{Client, Completion, InputLine, Target, Wire};

/// Rows the mouse wheel scrolls.
const WHEEL_ROWS: usize = 3;

/// The client's own commands, shown by `/help` before the server's.
pub const CLIENT_HELP: &[&str] = &[
    "client commands:",
    "  /connect [URL]     connect (again, or to another server: ws://host:port/ws, tcp://host:port)",
    "  /disconnect        leave the server and stop reconnecting",
    "  /quit, /exit       leave and close the client (Ctrl-C too)",
    "  /ignore [NICK]     hide NICK's messages on this screen (no NICK: list who is ignored)",
    "  /unignore NICK     show them again",
    "  keys: Tab completes nicks, #rooms and /commands (again: the next one; Shift-Tab back);",
    "        Alt-1…9 go to the room with that number, Ctrl-N/Ctrl-P to the next/previous;",
    "        PageUp/PageDown or the mouse wheel scroll; Up/Down recall sent lines;",
    "        Ctrl-W deletes a word, Ctrl-U the line start; Ctrl-A/Home, Ctrl-E/End",
];

/// The client's own commands, for completion.
const CLIENT_COMMANDS: [&str; 7] = [
    "/connect",
    "/disconnect",
    "/exit",
    "/help",
    "/ignore",
    "/quit",
    "/unignore",
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
    /// Ring the terminal's bell when someone mentions us or writes to us privately.
    pub bell: bool,
    /// A Tab completion in progress.
    completion: Option<Completion>,
    /// Asking for an account's password: keys go here, shown as dots, never to the history.
    pub password_prompt: Option<PasswordPrompt>,
}

/// The password being typed for an account.
#[derive(Debug, Default)]
pub struct PasswordPrompt {
    /// Whose password.
    pub account: String,
    /// What was typed so far.
    typed: String,
}

impl PasswordPrompt {
    /// How many characters were typed (shown as that many dots).
    pub fn typed_len(&self) -> usize {
        self.typed.chars().count()
    }
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
            bell: false,
            completion: None,
            password_prompt: None,
        }
    }

    /// If the server refused our nick as registered and we have no password for it, starts
    /// asking for one (the input line turns into a password prompt).
    pub fn ask_for_password(&mut self, now_ms: u64) {
        if let Some(account) = self.client.take_password_request() {
            self.client.notice(
                &format!(
                    "{account} is a registered nick: type its password and Enter to sign in \
                     (Esc: go on as a guest)"
                ),
                now_ms,
            );
            self.password_prompt = Some(PasswordPrompt {
                account,
                typed: String::new(),
            });
        }
    }

    /// A key while the password prompt is open.
    fn on_password_key(&mut self, key: &KeyEvent, now_ms: u64) -> Option<Action> {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let prompt = self.password_prompt.as_mut()?;
        match key.code {
            KeyCode::Char('c') if ctrl => return Some(Action::Quit("/quit".into())),
            KeyCode::Char('u') if ctrl => prompt.typed.clear(),
            KeyCode::Char(_) if ctrl => {}
            KeyCode::Char(c) => prompt.typed.push(c),
            KeyCode::Backspace => {
                prompt.typed.pop();
            }
            KeyCode::Esc => {
                let account = prompt.account.clone();
                self.password_prompt = None;
                self.client.notice(
                    &format!("not signed in; /login {account} <password> signs in later"),
                    now_ms,
                );
            }
            KeyCode::Enter if !prompt.typed.is_empty() => {
                let PasswordPrompt { account, typed } = self.password_prompt.take()?;
                return Some(Action::Send(self.client.sign_in_with(&account, typed)));
            }
            _ => {}
        }
        None
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
                match &mut self.password_prompt {
                    Some(prompt) => prompt.typed.push_str(text.trim_end_matches(['\r', '\n'])),
                    None => self.input.insert_str(text),
                }
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
        if self.password_prompt.is_some() {
            return self.on_password_key(key, now_ms);
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        match key.code {
            KeyCode::Tab => return self.complete(false),
            KeyCode::BackTab => return self.complete(true),
            _ => self.completion = None,
        }
        match key.code {
            KeyCode::Char('c') if ctrl => return Some(Action::Quit("/quit".into())),
            KeyCode::Char(digit @ '1'..='9') if alt => {
                let nth = digit as usize - '1' as usize;
                return self.go_to_room(|_, _| Some(nth), now_ms);
            }
            KeyCode::Char('n') if ctrl => {
                return self.go_to_room(|at, len| Some(at.map_or(0, |i| (i + 1) % len)), now_ms);
            }
            KeyCode::Char('p') if ctrl => {
                return self.go_to_room(
                    |at, len| Some(at.map_or(len - 1, |i| (i + len - 1) % len)),
                    now_ms,
                );
            }
            KeyCode::Char('d') if ctrl && self.input.is_empty() => {
                return Some(Action::Quit("/quit".into()));
            }
            KeyCode::Char('w') if ctrl => self.input.delete_word_back(),
            KeyCode::Char('u') if ctrl => self.input.delete_to_start(),
            KeyCode::Char('a') if ctrl => self.input.home(),
            KeyCode::Char('e') if ctrl => self.input.end(),
            KeyCode::Char(_) if ctrl || alt => {}
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

    /// Tab (Shift-Tab: `backwards`): completes the word before the cursor, or shows the next
    /// candidate of the completion under way.
    fn complete(&mut self, backwards: bool) -> Option<Action> {
        if let Some(completion) = &mut self.completion
            && completion.is_current(&self.input)
        {
            completion.step(&mut self.input, backwards);
            return None;
        }
        let mut commands: Vec<&str> = CLIENT_COMMANDS
            .iter()
            .chain(rustchat_proto::COMMANDS.iter())
            .copied()
            .collect();
        commands.sort_unstable();
        commands.dedup();
        let client = &self.client;
        let mut rooms: Vec<&str> = client.joined_rooms().iter().map(String::as_str).collect();
        rooms.extend(client.rooms().iter().map(|(room, _)| room.as_str()));
        let nicks: Vec<&str> = client.known_nicks().collect();
        self.completion = Completion::start(&self.input, &commands, &rooms, &nicks);
        if let Some(completion) = &mut self.completion {
            completion.step(&mut self.input, backwards);
        }
        None
    }

    /// Alt-N, Ctrl-N, Ctrl-P: makes another of the rooms we are in current (with `/join`,
    /// which for a room we are in only switches). `pick` gets the current room's index and
    /// the number of rooms, and names the index to go to.
    fn go_to_room(
        &mut self,
        pick: impl Fn(Option<usize>, usize) -> Option<usize>,
        now_ms: u64,
    ) -> Option<Action> {
        let rooms = self.client.joined_rooms();
        if rooms.is_empty() {
            self.client
                .notice("you are in no room: /join #room", now_ms);
            return None;
        }
        let current = self.client.room();
        let at = rooms.iter().position(|r| Some(r.as_str()) == current);
        let Some(room) = pick(at, rooms.len()).and_then(|i| rooms.get(i)).cloned() else {
            let count = rooms.len();
            self.client.notice(
                &format!("no such room: you are in {count} (Alt-1 to Alt-{count})"),
                now_ms,
            );
            return None;
        };
        if Some(room.as_str()) == current {
            return None;
        }
        self.scroll = 0;
        Some(Action::Send(format!("/join {room}")))
    }

    /// `/ignore [NICK]` and `/unignore NICK`.
    fn ignore(&mut self, command: &str, args: &[&str], now_ms: u64) {
        let said = match (command, args) {
            ("/ignore", []) if self.client.ignored().is_empty() => {
                "you ignore nobody; /ignore NICK hides someone's messages here".to_owned()
            }
            ("/ignore", []) => format!(
                "ignored: {} (/unignore NICK to see them again)",
                self.client.ignored().join(", ")
            ),
            ("/ignore", [nick]) => match self.client.ignore(nick) {
                Ok(true) => format!(
                    "ignoring {nick}: their messages are hidden on this screen (the server still sends them); /unignore {nick} to see them again"
                ),
                Ok(false) => format!("you already ignore {nick}"),
                Err(why) => format!("cannot ignore `{nick}`: {why}"),
            },
            ("/unignore", [nick]) => {
                if self.client.unignore(nick) {
                    format!("no longer ignoring {nick}")
                } else {
                    format!("you were not ignoring {nick}")
                }
            }
            ("/unignore", _) => "usage: /unignore NICK".to_owned(),
            _ => "usage: /ignore [NICK]".to_owned(),
        };
        self.client.notice(&said, now_ms);
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
            "/ignore" | "/unignore" => {
                let args: Vec<&str> = words.collect();
                self.ignore(&command, &args, now_ms);
                None
            }
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
    use rustchat_proto::ServerEvent;

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

    fn welcomed(nick: &str) -> App {
        use rustchat_proto::fixtures::{message, nick as n, room};
        let mut app = App::new(Target::default(), None, None);
        app.client.on_connected(Wire::WsJson);
        let mut event = |event| app.client.on_incoming(crate::Incoming::Event(event));
        event(ServerEvent::Welcome {
            nick: n(nick),
            room: room("#lobby"),
            motd: None,
            account: None,
        });
        for joined in ["#rust", "#go"] {
            event(ServerEvent::Joined {
                room: room(joined),
                nick: n(nick),
                ts: 1,
            });
        }
        event(ServerEvent::Message(message(1, "#lobby", "bob", "hi")));
        event(ServerEvent::Message(message(2, "#lobby", "barbara", "hey")));
        app
    }

    fn tab(app: &mut App) {
        assert_eq!(app.on_key(&key(KeyCode::Tab), 0), None);
    }

    #[test]
    fn tab_completes_nicks_rooms_and_commands_and_cycles() {
        let mut app = welcomed("alice");
        for c in "b".chars() {
            app.on_key(&key(KeyCode::Char(c)), 0);
        }
        tab(&mut app);
        assert_eq!(app.input.text(), "barbara: ", "the latest speaker first");
        tab(&mut app);
        assert_eq!(app.input.text(), "bob: ");
        app.on_key(&key(KeyCode::BackTab), 0);
        assert_eq!(app.input.text(), "barbara: ");
        for c in "see #r".chars() {
            app.on_key(&key(KeyCode::Char(c)), 0);
        }
        tab(&mut app);
        assert_eq!(app.input.text(), "barbara: see #rust ");
        app.on_key(&ctrl('u'), 0);
        for c in "/ign".chars() {
            app.on_key(&key(KeyCode::Char(c)), 0);
        }
        tab(&mut app);
        assert_eq!(app.input.text(), "/ignore ");
        app.on_key(&ctrl('u'), 0);
        for c in "/h".chars() {
            app.on_key(&key(KeyCode::Char(c)), 0);
        }
        tab(&mut app);
        tab(&mut app);
        assert_eq!(app.input.text(), "/history ", "/help, then /history");
        app.on_key(&ctrl('u'), 0);
        for c in "zz".chars() {
            app.on_key(&key(KeyCode::Char(c)), 0);
        }
        tab(&mut app);
        assert_eq!(app.input.text(), "zz", "nothing matches: nothing changes");
    }

    #[test]
    fn alt_digits_and_ctrl_n_p_switch_between_our_rooms() {
        let mut app = welcomed("alice");
        let alt = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::ALT);
        assert_eq!(app.client.room(), Some("#go"));
        assert_eq!(
            app.on_key(&alt('1'), 0),
            Some(Action::Send("/join #lobby".into()))
        );
        assert_eq!(
            app.on_key(&alt('2'), 0),
            Some(Action::Send("/join #rust".into()))
        );
        assert_eq!(app.on_key(&alt('3'), 0), None, "#go is current already");
        assert_eq!(app.on_key(&alt('7'), 0), None);
        assert!(
            format!("{:?}", app.client.entries().back())
                .contains("no such room: you are in 3 (Alt-1 to Alt-3)")
        );
        assert_eq!(
            app.on_key(&ctrl('n'), 0),
            Some(Action::Send("/join #lobby".into())),
            "after the last comes the first"
        );
        assert_eq!(
            app.on_key(&ctrl('p'), 0),
            Some(Action::Send("/join #rust".into()))
        );
        assert!(app.input.is_empty(), "switching types nothing");
    }

    #[test]
    fn ignore_and_unignore_are_client_commands() {
        let mut app = welcomed("alice");
        let last = |app: &App| format!("{:?}", app.client.entries().back());
        assert_eq!(type_line(&mut app, "/ignore"), None);
        assert!(last(&app).contains("you ignore nobody"), "{}", last(&app));
        assert_eq!(type_line(&mut app, "/ignore bob"), None);
        assert!(last(&app).contains("ignoring bob: their messages are hidden"));
        assert_eq!(type_line(&mut app, "/ignore"), None);
        assert!(last(&app).contains("ignored: bob"), "{}", last(&app));
        assert_eq!(type_line(&mut app, "/ignore bad!nick"), None);
        assert!(
            last(&app).contains("cannot ignore `bad!nick`"),
            "{}",
            last(&app)
        );
        assert_eq!(type_line(&mut app, "/unignore"), None);
        assert!(last(&app).contains("usage: /unignore NICK"));
        assert_eq!(type_line(&mut app, "/UNIGNORE Bob"), None);
        assert!(
            last(&app).contains("no longer ignoring Bob"),
            "{}",
            last(&app)
        );
        assert_eq!(type_line(&mut app, "/ignore a b"), None);
        assert!(last(&app).contains("usage: /ignore [NICK]"));
    }

    #[test]
    fn a_password_prompt_hides_what_is_typed_and_signs_in() {
        let mut app = welcomed("alice");
        app.client
            .on_incoming(crate::Incoming::Event(ServerEvent::error(
                rustchat_proto::ErrorKind::NickRegistered,
                "nick alice is registered — /login alice <password> if it is yours",
            )));
        app.ask_for_password(0);
        let prompt = app.password_prompt.as_ref().expect("asking");
        assert_eq!(prompt.account, "alice");
        for c in "secret-one".chars() {
            assert_eq!(app.on_key(&key(KeyCode::Char(c)), 0), None);
        }
        assert_eq!(app.input.text(), "", "not in the input line");
        assert_eq!(
            app.password_prompt.as_ref().map(PasswordPrompt::typed_len),
            Some(10)
        );
        assert_eq!(
            app.on_key(&key(KeyCode::Enter), 0),
            Some(Action::Send("/login alice secret-one".into()))
        );
        assert!(app.password_prompt.is_none());
        app.input.history_up();
        assert_eq!(app.input.text(), "", "nothing in the history");
    }

    #[test]
    fn escape_leaves_the_prompt_as_a_guest() {
        let mut app = welcomed("bob");
        app.client
            .on_incoming(crate::Incoming::Event(ServerEvent::error(
                rustchat_proto::ErrorKind::NickRegistered,
                "nick bob is registered — /login bob <password> if it is yours",
            )));
        app.ask_for_password(0);
        app.on_key(&key(KeyCode::Char('x')), 0);
        assert_eq!(app.on_key(&key(KeyCode::Esc), 0), None);
        assert!(app.password_prompt.is_none());
        // Typed /login lines are sent but never recalled.
        assert_eq!(
            type_line(&mut app, "/login bob typed-pass"),
            Some(Action::Send("/login bob typed-pass".into()))
        );
        app.input.history_up();
        assert_eq!(app.input.text(), "");
    }
}
