//! Drawing: [`App`] → one ratatui frame. Reads the state, never changes it; what the event
//! loop needs back (the page height, how far one can scroll) comes out as a [`View`].
//!
//! ```text
//! ┌ scrollback ──────────────────────────────────────┐│ rooms
//! │ 12:03:04 <alice> hello                            ││ 1 #lobby  3   (ours, numbered
//! │ 12:03:05 → bob joined #lobby            (dimmed)  ││ 2 #rust   1    for Alt-1…9)
//! │ 12:03:06 <bob> alice: look        (a mention: bold)││   #go     4   (others, dimmed)
//! ├ status: ● connected │ ws://… │ alice │ #lobby │ rtt 0.4 ms
//! └ > input line_
//! ```
//!
//! Every text drawn here was sanitised when it became an entry (client.rs), or is typed
//! input, which drops control characters (input.rs).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::app::{App, Status};
use crate::{Entry, EntryKind, Wire};

/// Width of the room panel, shown when the terminal is wide enough.
const ROOMS_WIDTH: u16 = 22;
const NICK_COLORS: [Color; 12] = [
    Color::Red,
    Color::Green,
    Color::Yellow,
    Color::Blue,
    Color::Magenta,
    Color::Cyan,
    Color::LightRed,
    Color::LightGreen,
    Color::LightYellow,
    Color::LightBlue,
    Color::LightMagenta,
    Color::LightCyan,
];

/// What the last draw learned about the scrollback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct View {
    /// Rows of scrollback on screen.
    pub page: usize,
    /// How far up one can scroll from the newest row.
    pub max_scroll: usize,
}

/// Draws the whole screen.
pub fn draw(frame: &mut Frame<'_>, app: &App) -> View {
    let [main, status, input] = Layout::vertical([
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    let chat = if main.width >= 3 * ROOMS_WIDTH {
        let [chat, rooms] =
            Layout::horizontal([Constraint::Min(1), Constraint::Length(ROOMS_WIDTH)]).areas(main);
        draw_rooms(frame, rooms, app);
        chat
    } else {
        main
    };
    let view = draw_scrollback(frame, chat, app);
    draw_status(frame, status, app);
    draw_input(frame, input, app);
    view
}

fn draw_scrollback(frame: &mut Frame<'_>, area: Rect, app: &App) -> View {
    let height = usize::from(area.height);
    let entries = app.client.entries();
    // Each entry is at least one row: these many are enough to fill the view, scrolled.
    let wanted = app.scroll.saturating_add(2 * height).min(entries.len());
    let styles = Styles::new(app);
    let lines: Vec<Line<'_>> = entries
        .iter()
        .skip(entries.len() - wanted)
        .map(|entry| styles.entry(entry))
        .collect();
    let paragraph = Paragraph::new(lines).wrap(Wrap { trim: false });
    let total = paragraph.line_count(area.width);
    let max_scroll = if wanted == entries.len() {
        total.saturating_sub(height)
    } else {
        app.scroll.saturating_add(height) // more above: allow the next page
    };
    let scroll = app.scroll.min(total.saturating_sub(height));
    let top = total.saturating_sub(height + scroll);
    let top = u16::try_from(top).unwrap_or(u16::MAX);
    frame.render_widget(paragraph.scroll((top, 0)), area);
    View {
        page: height,
        max_scroll,
    }
}

/// The rooms we are in first, numbered for Alt-1…9, then the server's other rooms, dimmed.
fn draw_rooms(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let current = app.client.room();
    let joined = app.client.joined_rooms();
    let members = |room: &str| {
        app.client
            .rooms()
            .iter()
            .find(|(r, _)| r == room)
            .map_or(String::new(), |(_, n)| format!("{n:>3}"))
    };
    let mut lines: Vec<Line<'_>> = joined
        .iter()
        .enumerate()
        .map(|(i, room)| {
            let style = if Some(room.as_str()) == current {
                Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED)
            } else {
                Style::new()
            };
            let number = if i < 9 {
                format!("{} ", i + 1)
            } else {
                "  ".to_owned()
            };
            Line::from(vec![
                Span::styled(number, Style::new().add_modifier(Modifier::DIM)),
                Span::styled(format!("{room:<15}"), style),
                Span::raw(members(room)),
            ])
        })
        .collect();
    let dim = Style::new().add_modifier(Modifier::DIM);
    lines.extend(
        app.client
            .rooms()
            .iter()
            .filter(|(room, _)| !joined.contains(room))
            .map(|(room, n)| Line::styled(format!("  {room:<15}{n:>3}"), dim)),
    );
    let block = Block::new().borders(Borders::LEFT).title(" rooms ");
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

fn draw_status(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let (dot, state, color) = match &app.status {
        Status::Connecting => ("◌", "connecting".to_owned(), Color::Yellow),
        Status::Connected(Wire::WsJson) => ("●", "connected".to_owned(), Color::Green),
        Status::Connected(_) => ("●", "connected (lines)".to_owned(), Color::Green),
        Status::Retrying { attempt, delay } => (
            "◌",
            format!(
                "connection lost, retry {attempt} in {:.1} s",
                delay.as_secs_f32()
            ),
            Color::Yellow,
        ),
        Status::Offline => ("○", "offline (/connect)".to_owned(), Color::Red),
    };
    let bar = Style::new().add_modifier(Modifier::REVERSED);
    let dot_style = if app.color { bar.fg(color) } else { bar };
    let mut text = format!(
        " {state} │ {} │ {}",
        app.target,
        app.client.nick().unwrap_or("-")
    );
    text.push_str(&format!(" │ {}", app.client.room().unwrap_or("-")));
    if let Some(account) = app.client.account() {
        text.push_str(&format!(" (signed in as {account})"));
    }
    if let Some(topic) = app.client.room().and_then(|room| app.client.topic(room)) {
        text.push_str(&format!(" │ {topic}"));
    }
    match app.rtt {
        Some(rtt) => text.push_str(&format!(" │ rtt {:.1} ms", rtt.as_secs_f64() * 1000.0)),
        None => text.push_str(" │ rtt -"),
    }
    if app.scroll > 0 {
        text.push_str(&format!(" │ ↑{} (PageDown)", app.scroll));
    }
    let width = usize::from(area.width);
    let line = Line::from(vec![
        Span::styled(format!(" {dot}"), dot_style),
        Span::styled(format!("{text:<width$}"), bar),
    ]);
    frame.render_widget(Paragraph::new(line), area);
}

fn draw_input(frame: &mut Frame<'_>, area: Rect, app: &App) {
    if let Some(prompt) = &app.password_prompt {
        let text = format!(
            "password for {}: {}",
            prompt.account,
            "•".repeat(prompt.typed_len())
        );
        let x = u16::try_from(text.chars().count()).unwrap_or(u16::MAX);
        frame.render_widget(Paragraph::new(text), area);
        let x = area.x.saturating_add(x).min(area.right().saturating_sub(1));
        frame.set_cursor_position(Position::new(x, area.y));
        return;
    }
    let prompt = "> ";
    let room = usize::from(area.width)
        .saturating_sub(prompt.len() + 1)
        .max(1);
    let chars: Vec<char> = app.input.text().chars().collect();
    let cursor = app.input.cursor();
    // Scroll the line sideways so that the cursor stays visible.
    let mut start = 0;
    while start < cursor && width(&chars[start..cursor]) >= room {
        start += 1;
    }
    let shown: String = chars[start..].iter().collect();
    let x = prompt.len() + width(&chars[start..cursor]);
    frame.render_widget(Paragraph::new(format!("{prompt}{shown}")), area);
    let x = area.x.saturating_add(u16::try_from(x).unwrap_or(u16::MAX));
    frame.set_cursor_position(Position::new(x.min(area.right().saturating_sub(1)), area.y));
}

fn width(chars: &[char]) -> usize {
    Span::raw(chars.iter().collect::<String>()).width()
}

/// How each kind of entry looks.
struct Styles<'a> {
    app: &'a App,
    room: Option<&'a str>,
}

impl<'a> Styles<'a> {
    fn new(app: &'a App) -> Self {
        Self {
            app,
            room: app.client.room(),
        }
    }

    fn fg(&self, color: Color) -> Style {
        if self.app.color {
            Style::new().fg(color)
        } else {
            Style::new()
        }
    }

    fn nick(&self, nick: &str, own: bool) -> Style {
        if own {
            return self
                .fg(Color::White)
                .add_modifier(Modifier::BOLD | Modifier::REVERSED);
        }
        self.fg(nick_color(nick))
    }

    /// The text of a message that mentions us.
    fn mention(&self) -> Style {
        let style = Style::new().add_modifier(Modifier::BOLD);
        if self.app.color {
            style.fg(Color::LightYellow)
        } else {
            style.add_modifier(Modifier::UNDERLINED)
        }
    }

    fn entry<'e>(&self, entry: &'e Entry) -> Line<'e> {
        let dim = Style::new().add_modifier(Modifier::DIM);
        let text_style = if entry.mention {
            self.mention()
        } else {
            Style::new()
        };
        let mut spans = Vec::with_capacity(6);
        if let Some(ts) = entry.ts {
            spans.push(Span::styled(format!("{} ", clock(ts)), dim));
        }
        match &entry.kind {
            EntryKind::Chat {
                room,
                from,
                text,
                action,
                own,
                ..
            } => {
                if self.room != Some(room.as_str()) {
                    spans.push(Span::styled(format!("{room} "), dim));
                }
                if *action {
                    spans.push(Span::raw("* "));
                    spans.push(Span::styled(from.as_str(), self.nick(from, *own)));
                    spans.push(Span::styled(
                        format!(" {text}"),
                        text_style.add_modifier(Modifier::ITALIC),
                    ));
                } else {
                    spans.push(Span::raw("<"));
                    spans.push(Span::styled(from.as_str(), self.nick(from, *own)));
                    spans.push(Span::raw("> "));
                    spans.push(Span::styled(text.as_str(), text_style));
                }
            }
            EntryKind::Private {
                from,
                to,
                text,
                own,
            } => {
                let style = self.fg(Color::Magenta);
                spans.push(Span::styled("<", style));
                spans.push(Span::styled(from.as_str(), self.nick(from, *own)));
                spans.push(Span::styled(" → ", style));
                spans.push(Span::styled(to.as_str(), self.nick(to, !*own)));
                spans.push(Span::styled("> ", style));
                spans.push(Span::raw(text.as_str()));
            }
            EntryKind::Presence(text) => spans.push(Span::styled(text.as_str(), dim)),
            EntryKind::Info(text) => {
                spans.push(Span::styled(format!("*** {text}"), self.fg(Color::Cyan)));
            }
            EntryKind::Error(text) => {
                let style = self.fg(Color::Red).add_modifier(Modifier::BOLD);
                spans.push(Span::styled(format!("ERROR {text}"), style));
            }
            EntryKind::Line(text) => spans.push(Span::styled(text.as_str(), text_style)),
            EntryKind::Local(text) => {
                spans.push(Span::styled(
                    format!("-- {text}"),
                    self.fg(Color::Yellow).add_modifier(Modifier::DIM),
                ));
            }
        }
        Line::from(spans)
    }
}

/// A stable colour per nick (FNV-1a of the lowercased nick, as nicks compare).
pub fn nick_color(nick: &str) -> Color {
    let hash = nick.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte.to_ascii_lowercase())).wrapping_mul(0x0100_0193)
    });
    NICK_COLORS[hash as usize % NICK_COLORS.len()]
}

/// `HH:MM:SS` (UTC, as the server's lines) of a unix time in milliseconds.
pub fn clock(ts_ms: u64) -> String {
    let secs = ts_ms / 1000 % 86_400;
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Incoming, Target};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use rustchat_proto::{ChatMessage, Nick, RoomName, ServerEvent};

    fn screen(app: &App, width: u16, height: u16) -> (String, View) {
        let mut terminal =
            Terminal::new(TestBackend::new(width, height)).unwrap_or_else(|e| panic!("{e}"));
        let mut view = None;
        terminal
            .draw(|frame| view = Some(draw(frame, app)))
            .unwrap_or_else(|e| panic!("{e}"));
        let buffer = terminal.backend().buffer();
        let text = (0..height)
            .map(|y| {
                (0..width)
                    .map(|x| buffer[(x, y)].symbol())
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("\n");
        (text, view.unwrap_or_else(|| panic!("no view")))
    }

    fn say(app: &mut App, id: u64, from: &str, text: &str) {
        let message = ChatMessage {
            id,
            ts: 43_384_000 + id * 1000,
            room: RoomName::parse("#lobby").unwrap_or_else(|e| panic!("{e}")),
            from: Nick::parse(from).unwrap_or_else(|e| panic!("{e}")),
            text: text.into(),
            action: false,
        };
        app.client
            .on_incoming(Incoming::Event(ServerEvent::Message(message)));
    }

    #[test]
    fn clock_and_nick_colours_are_stable() {
        assert_eq!(clock(43_384_000), "12:03:04");
        assert_eq!(clock(86_400_000 + 5_000), "00:00:05");
        assert_eq!(nick_color("alice"), nick_color("ALICE"));
        let colours: std::collections::HashSet<_> =
            ["alice", "bob", "carol", "dave", "eve", "mallory"]
                .iter()
                .map(|n| nick_color(n))
                .collect();
        assert!(colours.len() >= 3, "{colours:?}");
    }

    #[test]
    fn draws_messages_status_and_input() {
        let mut app = App::new(Target::default(), Some("alice".into()), None);
        app.status = Status::Connected(Wire::WsJson);
        say(&mut app, 1, "bob", "hi \u{1b}[2J there");
        app.input.insert_str("typing");
        let (text, view) = screen(&app, 80, 10);
        assert!(
            text.contains("12:03:05 #lobby <bob> hi \\x1b[2J there"),
            "{text}"
        );
        assert!(
            text.contains("connected │ ws://127.0.0.1:8080/ws │ alice"),
            "{text}"
        );
        assert!(text.contains("> typing"), "{text}");
        assert!(text.contains("rooms"), "{text}");
        assert_eq!(view.page, 8);
        let (narrow, _) = screen(&app, 40, 10);
        assert!(!narrow.contains("rooms"), "{narrow}");
    }

    #[test]
    fn scrolling_shows_older_rows_and_is_bounded() {
        let mut app = App::new(Target::default(), None, None);
        for id in 1..=30 {
            say(&mut app, id, "bob", &format!("message {id}"));
        }
        let (text, view) = screen(&app, 80, 12);
        assert!(
            text.contains("message 30") && !text.contains("message 20 "),
            "{text}"
        );
        assert_eq!(view.page, 10);
        app.scroll = 10;
        let (text, _) = screen(&app, 80, 12);
        assert!(
            text.contains("message 20") && !text.contains("message 21"),
            "{text}"
        );
        app.scroll = 1000;
        let (text, view) = screen(&app, 80, 12);
        assert!(
            text.contains("message 1 ") || text.contains("message 1\u{20}"),
            "{text}"
        );
        assert!(view.max_scroll >= 20);
    }

    #[test]
    fn our_rooms_are_numbered_and_a_mention_stands_out() {
        let mut app = App::new(Target::default(), None, None);
        app.client.on_connected(Wire::WsJson);
        let lobby = RoomName::parse("#lobby").unwrap_or_else(|e| panic!("{e}"));
        let me = Nick::parse("alice").unwrap_or_else(|e| panic!("{e}"));
        let mut event = |event| app.client.on_incoming(Incoming::Event(event));
        event(ServerEvent::Welcome {
            nick: me.clone(),
            room: lobby.clone(),
            motd: None,
            account: None,
        });
        event(ServerEvent::Joined {
            room: RoomName::parse("#rust").unwrap_or_else(|e| panic!("{e}")),
            nick: me,
            ts: 1,
        });
        event(ServerEvent::Rooms {
            rooms: ["#go", "#lobby", "#rust"]
                .iter()
                .map(|r| rustchat_proto::RoomSummary {
                    room: RoomName::parse(r).unwrap_or_else(|e| panic!("{e}")),
                    members: 2,
                })
                .collect(),
        });
        say(&mut app, 1, "bob", "alice: lunch?");
        say(&mut app, 2, "bob", "no mention here");
        let mut terminal =
            Terminal::new(TestBackend::new(80, 10)).unwrap_or_else(|e| panic!("{e}"));
        terminal
            .draw(|frame| {
                draw(frame, &app);
            })
            .unwrap_or_else(|e| panic!("{e}"));
        let buffer = terminal.backend().buffer();
        let row = |y: u16| (0..80).map(|x| buffer[(x, y)].symbol()).collect::<String>();
        for (y, (number, room)) in [("1", "#lobby"), ("2", "#rust"), (" ", "#go")]
            .iter()
            .enumerate()
        {
            let y = u16::try_from(y + 1).unwrap_or(0);
            let panel = format!("│{number} {room:<15}  2");
            assert!(row(y).trim_end().ends_with(&panel), "{}", row(y));
        }
        let cell_of = |needle: &str| {
            (0..8u16)
                .find_map(|y| row(y).find(needle).map(|x| (x, y)))
                .map(|(x, y)| &buffer[(u16::try_from(row(y)[..x].chars().count()).unwrap_or(0), y)])
                .unwrap_or_else(|| panic!("{needle} is not on screen"))
        };
        let mention = cell_of("lunch?");
        assert!(mention.modifier.contains(Modifier::BOLD), "{mention:?}");
        assert_eq!(mention.fg, Color::LightYellow);
        let plain = cell_of("no mention");
        assert!(!plain.modifier.contains(Modifier::BOLD), "{plain:?}");
    }
}
