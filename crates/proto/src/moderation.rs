//! Moderation in the chat language: room roles, room modes, durations, and the arguments of
//! `/room register`, `/kick`, `/ban`, `/unban`, `/mute`, `/unmute`, `/op`, `/deop`, `/voice`,
//! `/devoice`, `/topic`, `/mode` and `/invite` — checked at the edge like every argument.
//!
//! Data path: slash.rs / json.rs → these checks → `Command` → the hub, which decides who may
//! (roles) and what it does (moderation.rs in crates/server).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::command::CommandError;

/// Longest reason (`/kick`, `/ban`), in bytes of UTF-8.
pub const MAX_REASON_BYTES: usize = 300;
/// Longest topic, in bytes of UTF-8.
pub const MAX_TOPIC_BYTES: usize = 300;
/// Longest room key (`+k`), in characters.
pub const MAX_KEY_CHARS: usize = 32;
/// Longest duration (`/ban`, `/mute`): a year, in milliseconds.
pub const MAX_DURATION_MS: u64 = 365 * 24 * 3_600_000;

/// A role in one room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomRole {
    /// May moderate the room (kick, ban, mute, topic, modes, invite, voice).
    Operator,
    /// May speak while the room is moderated (`+m`).
    Voiced,
}

impl RoomRole {
    /// The sigil the member list shows: `@` for operators, `+` for voiced.
    pub fn sigil(self) -> char {
        match self {
            Self::Operator => '@',
            Self::Voiced => '+',
        }
    }
}

/// One room mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Mode {
    /// `+i`: only invited members (and operators) may join.
    InviteOnly,
    /// `+k <key>`: joining needs the key (`/join #room key`).
    Key,
    /// `+m`: only voiced members and operators may speak.
    Moderated,
    /// `+R`: only signed-in users may join.
    RegisteredOnly,
}

impl Mode {
    /// The letter (`i`, `k`, `m`, `R`).
    pub fn letter(self) -> char {
        match self {
            Self::InviteOnly => 'i',
            Self::Key => 'k',
            Self::Moderated => 'm',
            Self::RegisteredOnly => 'R',
        }
    }

    fn from_letter(letter: char) -> Option<Self> {
        match letter {
            'i' => Some(Self::InviteOnly),
            'k' => Some(Self::Key),
            'm' => Some(Self::Moderated),
            'R' => Some(Self::RegisteredOnly),
            _ => None,
        }
    }
}

/// The modes every error about modes lists.
pub const KNOWN_MODES: &str = "+i (invite only), +k <key> (a key to join), +m (moderated: only \
                               voiced members and operators speak), +R (signed-in users only)";

/// One change of `/mode`: set (`+`) or clear (`-`) a mode; `+k` carries its key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModeChange {
    pub mode: Mode,
    pub on: bool,
    pub key: Option<String>,
}

impl fmt::Display for ModeChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.on { '+' } else { '-' };
        write!(f, "{sign}{}", self.mode.letter())?;
        if let Some(key) = &self.key {
            write!(f, " {key}")?;
        }
        Ok(())
    }
}

/// Reads `/mode` words: `+i`, `-m`, `+k secret`, `+im`, `-k`… (a `+k` takes the next word as
/// its key). Unknown letters are refused naming the known modes.
pub(crate) fn parse_modes(words: &[&str]) -> Result<Vec<ModeChange>, CommandError> {
    let mut changes = Vec::new();
    let mut words = words.iter();
    while let Some(word) = words.next() {
        let (on, letters) = match (word.strip_prefix('+'), word.strip_prefix('-')) {
            (Some(letters), _) => (true, letters),
            (_, Some(letters)) => (false, letters),
            _ => {
                return Err(CommandError::BadMode {
                    got: crate::text::excerpt(word, crate::text::EXCERPT_CHARS),
                });
            }
        };
        if letters.is_empty() {
            return Err(CommandError::BadMode {
                got: (*word).to_owned(),
            });
        }
        for letter in letters.chars() {
            let Some(mode) = Mode::from_letter(letter) else {
                let sign = if on { '+' } else { '-' };
                return Err(CommandError::BadMode {
                    got: crate::text::excerpt(&format!("{sign}{letter}"), 8),
                });
            };
            let key = if mode == Mode::Key && on {
                let key = words.next().ok_or(CommandError::MissingKey)?;
                Some(checked_key(key)?)
            } else {
                None
            };
            changes.push(ModeChange { mode, on, key });
        }
    }
    Ok(changes)
}

/// Checks a room key: 1 to [`MAX_KEY_CHARS`] characters, no spaces or control characters.
pub(crate) fn checked_key(key: &str) -> Result<String, CommandError> {
    let chars = key.chars().count();
    if chars == 0
        || chars > MAX_KEY_CHARS
        || key.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(CommandError::BadKey);
    }
    Ok(key.to_owned())
}

/// Checks a reason or topic: at most `max` bytes, blank is none.
pub(crate) fn checked_note(text: &str, max: usize) -> Result<Option<String>, CommandError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if text.len() > max {
        return Err(CommandError::NoteTooLong {
            len: text.len(),
            max,
        });
    }
    Ok(Some(text.to_owned()))
}

/// Reads a duration: a positive number and a unit, `30s`, `10m`, `2h`, `7d` — at most a year.
pub fn parse_duration(word: &str) -> Result<u64, CommandError> {
    let bad = || CommandError::BadDuration {
        got: crate::text::excerpt(word, crate::text::EXCERPT_CHARS),
    };
    let unit = word.chars().last().ok_or_else(bad)?;
    let per = match unit {
        's' => 1_000,
        'm' => 60_000,
        'h' => 3_600_000,
        'd' => 86_400_000,
        _ => return Err(bad()),
    };
    let number: u64 = word[..word.len() - 1].parse().map_err(|_| bad())?;
    match number.checked_mul(per) {
        Some(ms) if ms > 0 && ms <= MAX_DURATION_MS => Ok(ms),
        _ => Err(bad()),
    }
}

/// Reads an address (`203.0.113.7`, `2001:db8::1`: just it) or a range (`203.0.113.0/24`).
/// The range is normalised: `203.0.113.7/24` is `203.0.113.0/24`.
pub fn parse_address_range(word: &str) -> Result<ipnet::IpNet, CommandError> {
    let bad = || CommandError::BadAddress {
        got: crate::text::excerpt(word, crate::text::EXCERPT_CHARS),
    };
    if let Ok(addr) = word.parse::<std::net::IpAddr>() {
        return Ok(ipnet::IpNet::from(addr));
    }
    word.parse::<ipnet::IpNet>()
        .map(|net| net.trunc())
        .map_err(|_| bad())
}

/// Whether a word reads as a duration (so `/ban #r bob 10m spam` takes `10m` as one).
pub(crate) fn looks_like_duration(word: &str) -> bool {
    word.len() >= 2
        && word[..word.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && word.ends_with(['s', 'm', 'h', 'd'])
}

/// A duration as people read it: `10m`, `2h`, `7d`, `90s`.
pub fn duration_text(ms: u64) -> String {
    let secs = ms / 1000;
    match secs {
        s if s % 86_400 == 0 && s > 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 && s > 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 && s > 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_have_a_unit_and_a_ceiling() {
        assert_eq!(parse_duration("30s"), Ok(30_000));
        assert_eq!(parse_duration("10m"), Ok(600_000));
        assert_eq!(parse_duration("2h"), Ok(7_200_000));
        assert_eq!(parse_duration("365d"), Ok(MAX_DURATION_MS));
        for bad in ["", "10", "m", "0m", "366d", "1.5h", "-1h", "10y"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_duration("10y").map_err(|e| e.to_string()),
            Err("invalid duration 10y: expected a number and a unit, like 30s, 10m, 2h or 7d (at most 365d)".into())
        );
        assert_eq!(duration_text(7_200_000), "2h");
        assert_eq!(duration_text(90_000), "90s");
        assert!(looks_like_duration("10m") && !looks_like_duration("spam"));
    }

    #[test]
    fn addresses_and_ranges() {
        assert_eq!(
            parse_address_range("203.0.113.7").map(|n| n.to_string()),
            Ok("203.0.113.7/32".into())
        );
        assert_eq!(
            parse_address_range("203.0.113.7/24").map(|n| n.to_string()),
            Ok("203.0.113.0/24".into())
        );
        assert_eq!(
            parse_address_range("2001:db8::/32").map(|n| n.to_string()),
            Ok("2001:db8::/32".into())
        );
        for bad in ["", "nope", "10.0.0.0/33", "10.0.0/8"] {
            assert!(parse_address_range(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn modes_are_known_letters_and_k_takes_a_key() {
        let changes = parse_modes(&["+im", "-R", "+k", "s3cret", "-k"]).expect("valid");
        let shown: Vec<String> = changes.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["+i", "+m", "-R", "+k s3cret", "-k"]);
        assert_eq!(
            parse_modes(&["+x"]).map_err(|e| e.to_string()),
            Err(format!("unknown mode +x: the modes are {KNOWN_MODES}"))
        );
        assert_eq!(parse_modes(&["+k"]), Err(CommandError::MissingKey));
        assert!(parse_modes(&["i"]).is_err());
        assert!(parse_modes(&["+k", &"x".repeat(MAX_KEY_CHARS + 1)]).is_err());
    }
}
