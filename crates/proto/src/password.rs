//! `Password`: a secret in the chat language — checked at the edge like every other argument,
//! and never shown: its `Debug` hides the text, it has no `Display`, and the only way to read it
//! is [`Password::expose`], which a reader of the code can search for.
//!
//! Data path: `/register`, `/login`, `/passwd` (slash.rs) or their JSON objects (json.rs) →
//! [`Password::parse`] (length limits) → `Command` → the server's account service, which hashes
//! or verifies it off the hub and forgets it.

use std::fmt;

use crate::command::CommandError;

/// Shortest password accepted, in bytes of UTF-8.
pub const MIN_PASSWORD_BYTES: usize = 8;
/// Longest password accepted, in bytes of UTF-8 (argon2 hashes any length; this bounds the
/// work and the line a client may send).
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// Longest invite code accepted, in bytes.
pub const MAX_INVITE_BYTES: usize = 64;

/// A password as a client sent it. See the module docs.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Checks the length: [`MIN_PASSWORD_BYTES`] to [`MAX_PASSWORD_BYTES`] bytes.
    pub fn parse(text: &str) -> Result<Self, CommandError> {
        let len = text.len();
        if len < MIN_PASSWORD_BYTES {
            return Err(CommandError::PasswordTooShort { len });
        }
        if len > MAX_PASSWORD_BYTES {
            return Err(CommandError::PasswordTooLong { len });
        }
        Ok(Self(text.to_owned()))
    }

    /// The password's text: for hashing, verifying and sending, nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<hidden>)")
    }
}

/// What every access token starts with (so a token is recognised wherever it is pasted).
pub const TOKEN_PREFIX: &str = "rct_";

/// An access token (`/token` issues them): a secret like a password, but made by the server —
/// `rct_` and 64 hex digits (256 random bits) — so it can sign in without an account name, and
/// be revoked on its own. Like [`Password`], it never shows itself.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(String);

impl AccessToken {
    /// Checks the form: `rct_` then 64 lowercase hex digits.
    pub fn parse(text: &str) -> Result<Self, CommandError> {
        let digits = text.strip_prefix(TOKEN_PREFIX).unwrap_or_default();
        if digits.len() == 64
            && digits
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            Ok(Self(text.to_owned()))
        } else {
            Err(CommandError::BadToken)
        }
    }

    /// Whether `text` looks like a token at all (its prefix): `/login rct_…` signs in with one.
    pub fn looks_like(text: &str) -> bool {
        text.starts_with(TOKEN_PREFIX)
    }

    /// The token's text: for checking and sending, nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(<hidden>)")
    }
}

/// Longest token label, in characters.
pub const MAX_TOKEN_LABEL_CHARS: usize = 64;

/// Checks a token's label: 1 to [`MAX_TOKEN_LABEL_CHARS`] characters, no control characters.
pub(crate) fn checked_label(label: &str) -> Result<String, CommandError> {
    let label = label.trim();
    let chars = label.chars().count();
    if chars == 0 || chars > MAX_TOKEN_LABEL_CHARS || label.chars().any(char::is_control) {
        return Err(CommandError::BadTokenLabel { chars });
    }
    Ok(label.to_owned())
}

/// Checks an invite code: 1 to [`MAX_INVITE_BYTES`] bytes of letters, digits, `-` and `_`.
pub(crate) fn checked_invite(code: &str) -> Result<String, CommandError> {
    let fits = !code.is_empty() && code.len() <= MAX_INVITE_BYTES;
    if fits
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Ok(code.to_owned())
    } else {
        Err(CommandError::BadInvite)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ErrorKind, ErrorReply};

    #[test]
    fn lengths_at_and_past_each_limit() {
        assert!(Password::parse(&"x".repeat(MIN_PASSWORD_BYTES)).is_ok());
        assert!(Password::parse(&"x".repeat(MAX_PASSWORD_BYTES)).is_ok());
        let short = Password::parse("1234567").expect_err("7 bytes");
        assert_eq!(
            short.to_string(),
            "password too short: 7 bytes, expected at least 8"
        );
        assert_eq!(short.kind(), ErrorKind::InvalidPassword);
        let long = Password::parse(&"x".repeat(MAX_PASSWORD_BYTES + 1)).expect_err("too long");
        assert_eq!(
            long.to_string(),
            "password too long: 1025 bytes, expected at most 1024"
        );
        // Bytes, not characters: four 2-byte characters are 8 bytes.
        assert!(Password::parse("éééé").is_ok());
    }

    #[test]
    fn debug_never_shows_the_text() {
        let password = Password::parse("hunter2hunter2").expect("long enough");
        let shown = format!("{password:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(password.expose(), "hunter2hunter2");
    }

    #[test]
    fn tokens_have_one_form_and_hide_themselves() {
        let good = format!("rct_{}", "0a".repeat(32));
        let token = AccessToken::parse(&good).expect("the form");
        assert_eq!(token.expose(), good);
        assert!(!format!("{token:?}").contains("0a0a"));
        for bad in [
            "rct_".to_owned(),
            format!("rct_{}", "0A".repeat(32)),
            format!("rct_{}", "0a".repeat(33)),
            format!("xyz_{}", "0a".repeat(32)),
        ] {
            assert_eq!(
                AccessToken::parse(&bad),
                Err(CommandError::BadToken),
                "{bad}"
            );
        }
        assert_eq!(checked_label(" laptop "), Ok("laptop".to_owned()));
        assert!(checked_label(&"x".repeat(MAX_TOKEN_LABEL_CHARS + 1)).is_err());
        assert!(checked_label("a\u{7}b").is_err());
    }

    #[test]
    fn invite_codes_are_short_plain_words() {
        assert_eq!(checked_invite("ab-C_9"), Ok("ab-C_9".to_owned()));
        for bad in ["", "a b", "a/b", &"x".repeat(MAX_INVITE_BYTES + 1)] {
            assert_eq!(checked_invite(bad), Err(CommandError::BadInvite), "{bad:?}");
        }
    }
}
