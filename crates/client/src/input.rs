//! The input line: editing keys → text and a cursor, plus the history of sent lines.
//!
//! Pure state, no terminal: the TUI maps keys to these methods and draws [`InputLine::text`]
//! with the cursor at [`InputLine::cursor`] (counted in characters).
//!
//! ```
//! use rustchat_client::InputLine;
//! let mut input = InputLine::default();
//! input.insert_str("hello world");
//! input.delete_word_back();
//! assert_eq!(input.text(), "hello ");
//! assert_eq!(input.submit().as_deref(), Some("hello "));
//! input.history_up();
//! assert_eq!(input.text(), "hello ");
//! ```

use rustchat_proto::is_unsafe;

/// How many sent lines the history keeps.
pub(crate) const HISTORY: usize = 500;

/// An editable line with a history.
#[derive(Debug, Default, Clone)]
pub struct InputLine {
    chars: Vec<char>,
    /// Insert position, 0..=chars.len().
    cursor: usize,
    history: Vec<String>,
    /// Which history line is shown while browsing; `None` when editing a fresh line.
    browsing: Option<usize>,
    /// The fresh line put aside while browsing the history.
    draft: Vec<char>,
}

impl InputLine {
    /// The text being edited.
    pub fn text(&self) -> String {
        self.chars.iter().collect()
    }

    /// The cursor position, in characters from the start.
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// Whether nothing is typed.
    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// Types a character at the cursor. Tabs and line breaks become spaces; other control
    /// characters and bidi overrides are dropped, so the line can be drawn as it is.
    pub fn insert(&mut self, c: char) {
        let c = match c {
            '\t' | '\n' | '\r' => ' ',
            c if is_unsafe(c) => return,
            c => c,
        };
        self.chars.insert(self.cursor, c);
        self.cursor += 1;
    }

    /// Types a string at the cursor (a paste).
    pub fn insert_str(&mut self, text: &str) {
        for c in text.chars() {
            self.insert(c);
        }
    }

    /// Replaces the characters from `start` to the cursor with `text` (a completion); the
    /// cursor ends after it. Characters `insert` would drop are dropped here too.
    pub fn replace_before_cursor(&mut self, start: usize, text: &str) {
        let start = start.min(self.cursor);
        self.chars.drain(start..self.cursor);
        self.cursor = start;
        self.insert_str(text);
    }

    pub fn left(&mut self) {
        self.cursor = self.cursor.saturating_sub(1);
    }

    pub fn right(&mut self) {
        self.cursor = (self.cursor + 1).min(self.chars.len());
    }

    pub fn home(&mut self) {
        self.cursor = 0;
    }

    pub fn end(&mut self) {
        self.cursor = self.chars.len();
    }

    /// Deletes the character before the cursor.
    pub fn backspace(&mut self) {
        if self.cursor > 0 {
            self.cursor -= 1;
            self.chars.remove(self.cursor);
        }
    }

    /// Deletes the character under the cursor.
    pub fn delete(&mut self) {
        if self.cursor < self.chars.len() {
            self.chars.remove(self.cursor);
        }
    }

    /// Ctrl-W: deletes the word before the cursor, and the spaces after it.
    pub fn delete_word_back(&mut self) {
        let mut start = self.cursor;
        while start > 0 && self.chars[start - 1].is_whitespace() {
            start -= 1;
        }
        while start > 0 && !self.chars[start - 1].is_whitespace() {
            start -= 1;
        }
        self.chars.drain(start..self.cursor);
        self.cursor = start;
    }

    /// Ctrl-U: deletes from the start of the line to the cursor.
    pub fn delete_to_start(&mut self) {
        self.chars.drain(..self.cursor);
        self.cursor = 0;
    }

    /// Up: the previous sent line (the fresh line is kept aside).
    pub fn history_up(&mut self) {
        let index = match self.browsing {
            None if self.history.is_empty() => return,
            None => {
                self.draft = std::mem::take(&mut self.chars);
                self.history.len() - 1
            }
            Some(index) => index.saturating_sub(1),
        };
        self.show_history(index);
    }

    /// Down: the next sent line, and past the newest the fresh line again.
    pub fn history_down(&mut self) {
        let Some(index) = self.browsing else {
            return;
        };
        if index + 1 < self.history.len() {
            self.show_history(index + 1);
        } else {
            self.browsing = None;
            self.chars = std::mem::take(&mut self.draft);
            self.cursor = self.chars.len();
        }
    }

    fn show_history(&mut self, index: usize) {
        self.browsing = Some(index);
        self.chars = self.history[index].chars().collect();
        self.cursor = self.chars.len();
    }

    /// Enter: takes the line (`None` if blank) and remembers it in the history.
    pub fn submit(&mut self) -> Option<String> {
        let text = self.text();
        self.chars.clear();
        self.cursor = 0;
        self.browsing = None;
        self.draft.clear();
        if text.trim().is_empty() {
            return None;
        }
        // A line with a password is sent, never recalled.
        if self.history.last() != Some(&text) && !crate::client::holds_secret(&text) {
            if self.history.len() == HISTORY {
                self.history.remove(0);
            }
            self.history.push(text.clone());
        }
        Some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(text: &str) -> InputLine {
        let mut input = InputLine::default();
        input.insert_str(text);
        input
    }

    #[test]
    fn typing_and_moving_the_cursor() {
        let mut input = typed("helo");
        input.left();
        input.insert('l');
        assert_eq!((input.text().as_str(), input.cursor()), ("hello", 4));
        input.home();
        input.left();
        input.insert('>');
        input.end();
        input.right();
        input.insert('!');
        assert_eq!((input.text().as_str(), input.cursor()), (">hello!", 7));
    }

    #[test]
    fn backspace_and_delete_at_the_edges() {
        let mut input = typed("ab");
        input.delete();
        assert_eq!(input.text(), "ab");
        input.backspace();
        assert_eq!(input.text(), "a");
        input.home();
        input.backspace();
        input.delete();
        assert!(input.is_empty());
        input.backspace();
        input.delete();
        assert_eq!(input.cursor(), 0);
    }

    #[test]
    fn multibyte_characters_are_one_position() {
        let mut input = typed("día 🦀");
        input.left();
        input.backspace();
        assert_eq!(input.text(), "día🦀");
        input.home();
        input.right();
        input.right();
        input.delete();
        assert_eq!(input.text(), "dí🦀");
    }

    #[test]
    fn ctrl_w_deletes_the_previous_word_only() {
        let mut input = typed("say hello  world");
        input.delete_word_back();
        assert_eq!(input.text(), "say hello  ");
        input.delete_word_back();
        assert_eq!(input.text(), "say ");
        let mut input = typed("one two three");
        for _ in 0..6 {
            input.left();
        }
        input.delete_word_back();
        assert_eq!((input.text().as_str(), input.cursor()), ("one  three", 4));
        input.home();
        input.delete_word_back();
        assert_eq!(input.text(), "one  three");
    }

    #[test]
    fn ctrl_u_deletes_to_the_start() {
        let mut input = typed("/msg bob hi");
        for _ in 0..2 {
            input.left();
        }
        input.delete_to_start();
        assert_eq!((input.text().as_str(), input.cursor()), ("hi", 0));
    }

    #[test]
    fn history_walks_back_and_returns_to_the_draft() {
        let mut input = InputLine::default();
        for line in ["first", "second", "second", "  ", "third"] {
            input.insert_str(line);
            input.submit();
        }
        input.insert_str("draft");
        input.history_up();
        assert_eq!(input.text(), "third");
        input.history_up();
        input.history_up();
        input.history_up();
        assert_eq!(
            input.text(),
            "first",
            "second was kept once, blank not at all"
        );
        input.history_down();
        assert_eq!(input.text(), "second");
        input.history_down();
        input.history_down();
        assert_eq!((input.text().as_str(), input.cursor()), ("draft", 5));
        input.history_down();
        assert_eq!(input.text(), "draft");
    }

    #[test]
    fn history_is_bounded_and_submit_clears() {
        let mut input = InputLine::default();
        assert_eq!(input.submit(), None);
        input.history_up();
        assert!(input.is_empty());
        for n in 0..HISTORY + 10 {
            input.insert_str(&n.to_string());
            assert_eq!(input.submit(), Some(n.to_string()));
        }
        assert_eq!(input.history.len(), HISTORY);
        assert!(input.is_empty());
        input.insert_str("a\nb\tc\u{1b}[2J\u{202e}d");
        assert_eq!(input.text(), "a b c[2Jd");
    }
}
