//! Tab completion of the word before the cursor: a command when the line starts with `/`, a
//! room when the word starts with `#`, otherwise a nick (the most recently seen first; at the
//! start of the line followed by `: `, as chat clients address someone). Tab again shows the
//! next candidate, Shift-Tab the previous one; any edit starts afresh.
//!
//! ```
//! use rustchat_client::{Completion, InputLine};
//! let mut input = InputLine::default();
//! input.insert_str("hi al");
//! let nicks = ["alex", "alice", "bob"];
//! let mut completion = Completion::start(&input, &[], &[], &nicks).expect("two nicks match");
//! completion.step(&mut input, false);
//! assert_eq!(input.text(), "hi alex ");
//! completion.step(&mut input, false);
//! assert_eq!(input.text(), "hi alice ");
//! ```

use crate::InputLine;

/// A completion in progress.
#[derive(Debug, Clone)]
pub struct Completion {
    /// Where the word being completed starts, in characters.
    start: usize,
    /// What the word may become, each with what follows it.
    candidates: Vec<String>,
    /// The candidate shown, once one is.
    index: Option<usize>,
    /// The line as the last step left it (text, cursor): if it changed, this completion is over.
    shown: (String, usize),
}

impl Completion {
    /// Starts completing the word before the cursor from these candidates (nicks in the order
    /// they should be offered); `None` if the word is empty or nothing matches.
    pub fn start(
        input: &InputLine,
        commands: &[&str],
        rooms: &[&str],
        nicks: &[&str],
    ) -> Option<Self> {
        let text: Vec<char> = input.text().chars().collect();
        let cursor = input.cursor().min(text.len());
        let start = text[..cursor]
            .iter()
            .rposition(|c| c.is_whitespace())
            .map_or(0, |at| at + 1);
        let word: String = text[start..cursor].iter().collect();
        if word.is_empty() {
            return None;
        }
        let first = text[..start].iter().all(|c| c.is_whitespace());
        let (pool, after) = if first && word.starts_with('/') {
            (commands, " ")
        } else if word.starts_with('#') {
            (rooms, " ")
        } else {
            (nicks, if first { ": " } else { " " })
        };
        let word = word.to_lowercase();
        let mut candidates: Vec<String> = Vec::new();
        for name in pool {
            let fits = name.to_lowercase().starts_with(&word);
            if fits
                && !candidates
                    .iter()
                    .any(|c| c[..c.len() - after.len()].eq_ignore_ascii_case(name))
            {
                candidates.push(format!("{name}{after}"));
            }
        }
        if candidates.is_empty() {
            return None;
        }
        Some(Self {
            start,
            candidates,
            index: None,
            shown: (input.text(), input.cursor()),
        })
    }

    /// Whether `input` is still as this completion left it (so Tab continues it).
    pub fn is_current(&self, input: &InputLine) -> bool {
        self.shown.0 == input.text() && self.shown.1 == input.cursor()
    }

    /// Shows the next candidate (the previous one if `backwards`) in place of the word.
    pub fn step(&mut self, input: &mut InputLine, backwards: bool) {
        let count = self.candidates.len();
        let index = match (self.index, backwards) {
            (None, false) => 0,
            (None, true) => count - 1,
            (Some(i), false) => (i + 1) % count,
            (Some(i), true) => (i + count - 1) % count,
        };
        self.index = Some(index);
        input.replace_before_cursor(self.start, &self.candidates[index]);
        self.shown = (input.text(), input.cursor());
    }

    /// How many candidates there are.
    pub fn len(&self) -> usize {
        self.candidates.len()
    }

    /// Never true: a completion starts only with a candidate.
    pub fn is_empty(&self) -> bool {
        self.candidates.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMANDS: [&str; 4] = ["/join", "/msg", "/me", "/ignore"];
    const ROOMS: [&str; 3] = ["#lobby", "#rust", "#rust-async"];
    const NICKS: [&str; 4] = ["bob", "Bobby", "alice", "carol"];

    fn typed(text: &str) -> InputLine {
        let mut input = InputLine::default();
        input.insert_str(text);
        input
    }

    fn tab(input: &mut InputLine) -> Option<Completion> {
        let mut completion = Completion::start(input, &COMMANDS, &ROOMS, &NICKS)?;
        completion.step(input, false);
        Some(completion)
    }

    #[test]
    fn commands_at_the_start_rooms_after_a_hash_nicks_elsewhere() {
        let mut input = typed("/ig");
        assert!(tab(&mut input).is_some());
        assert_eq!(input.text(), "/ignore ");
        let mut input = typed("/join #ru");
        let completion = tab(&mut input).expect("rooms match");
        assert_eq!(
            (input.text().as_str(), completion.len()),
            ("/join #rust ", 2)
        );
        let mut input = typed("/msg AL");
        tab(&mut input);
        assert_eq!(input.text(), "/msg alice ");
        let mut input = typed("car");
        tab(&mut input);
        assert_eq!(input.text(), "carol: ", "at the start a nick is addressed");
        let mut input = typed("say /ig");
        assert!(tab(&mut input).is_none(), "a command only starts a line");
        assert!(tab(&mut typed("")).is_none());
        assert!(
            tab(&mut typed("hi ")).is_none(),
            "no word before the cursor"
        );
        assert!(tab(&mut typed("zed")).is_none());
    }

    #[test]
    fn tab_again_cycles_and_shift_tab_goes_back() {
        let mut input = typed("hi b");
        let mut completion = tab(&mut input).expect("two bobs");
        assert_eq!(input.text(), "hi bob ");
        assert!(completion.is_current(&input));
        completion.step(&mut input, false);
        assert_eq!(input.text(), "hi Bobby ");
        completion.step(&mut input, false);
        assert_eq!(input.text(), "hi bob ");
        completion.step(&mut input, true);
        assert_eq!(input.text(), "hi Bobby ");
        input.insert('!');
        assert!(
            !completion.is_current(&input),
            "an edit ends the completion"
        );
    }

    #[test]
    fn only_the_word_before_the_cursor_is_replaced() {
        let mut input = typed("al, see you");
        for _ in 0.."see you".len() + 2 {
            input.left();
        }
        tab(&mut input);
        assert_eq!(input.text(), "alice: , see you");
        assert_eq!(input.cursor(), "alice: ".len());
        let mut backwards = typed("#r");
        let mut completion =
            Completion::start(&backwards, &COMMANDS, &ROOMS, &NICKS).expect("rooms match");
        completion.step(&mut backwards, true);
        assert_eq!(backwards.text(), "#rust-async ");
    }
}
