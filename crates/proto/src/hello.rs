//! The HELLO handshake: an optional three-way greeting before a line-protocol session.
//!
//! Data path: the first decoded line of a connection → [`is_hello`] → if so, [`HelloServer`]
//! answers and verifies; the chat session (`Command::parse`) starts after the third line.
//!
//! ```text
//! client → server   HELLO X        X: unsigned 64-bit decimal, at most u64::MAX - 2
//! server → client   HELLO X+1
//! client → server   HELLO X+2
//! ```
//!
//! Lines are taken and given without their terminator, as `LineCodec` yields them. A number
//! that leaves no room to count up (X > u64::MAX - 2) is refused, never wrapped. Any failure
//! is a `HelloError`; the server sends it as `ERROR handshake: …` and closes the connection.

use thiserror::Error;

use crate::error_kind::{ErrorKind, ErrorReply};
use crate::text::excerpt;

/// Largest X a client may start with: X+2 must still fit in a u64.
pub const HELLO_MAX: u64 = u64::MAX - 2;
/// How many characters of a bad handshake line an error message quotes.
const QUOTE_CHARS: usize = 64;

/// The handshake failed (peer misbehaviour), or was driven past its end (API misuse).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HelloError {
    /// The first line looked like a handshake but is not `HELLO <n>`.
    #[error("handshake: expected HELLO <n>, got {got}")]
    Malformed { got: String },
    /// A reply did not carry the next number (or no number at all).
    #[error("handshake: expected HELLO {expected}, got {got}")]
    WrongNumber { expected: u64, got: String },
    /// X is too large for X+2 to fit in 64 bits.
    #[error("handshake: HELLO {number} is too large, expected a number at most {HELLO_MAX}")]
    Overflow { number: String },
    /// Misuse: a line was given after the handshake had ended (done or failed).
    #[error("handshake: already over, expected no more HELLO lines")]
    Finished,
}

impl ErrorReply for HelloError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Handshake
    }
}

/// Whether a connection's first line starts the handshake: `HELLO`, whitespace, then a digit
/// or a sign. `HELLO everyone` is a chat message; `HELLO 12x` and `HELLO -1` are handshakes
/// (that fail).
pub fn is_hello(line: &str) -> bool {
    let Some(rest) = line.trim_start().strip_prefix("HELLO") else {
        return false;
    };
    let number = rest.trim_start();
    number.len() < rest.len()
        && number.starts_with(|c: char| c.is_ascii_digit() || c == '+' || c == '-')
}

/// What a line holds, as far as the handshake cares.
enum HelloLine {
    Number(u64),
    TooLarge(String),
    Garbage,
}

fn read_hello(line: &str) -> HelloLine {
    let Some(rest) = line.trim().strip_prefix("HELLO") else {
        return HelloLine::Garbage;
    };
    let digits = rest.trim_start();
    if digits.len() == rest.len()
        || digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return HelloLine::Garbage;
    }
    // All ASCII digits: the only way to fail is to exceed u64::MAX.
    match digits.parse() {
        Ok(number) => HelloLine::Number(number),
        Err(_) => HelloLine::TooLarge(excerpt(digits, QUOTE_CHARS)),
    }
}

/// The received line as an error message shows it: escaped, truncated, never empty.
fn shown(line: &str) -> String {
    if line.is_empty() {
        "an empty line".to_owned()
    } else {
        excerpt(line, QUOTE_CHARS)
    }
}

/// The next number, refusing any X above [`HELLO_MAX`].
fn next(number: u64, step: u64) -> Result<u64, HelloError> {
    if number > HELLO_MAX {
        return Err(HelloError::Overflow {
            number: number.to_string(),
        });
    }
    number.checked_add(step).ok_or(HelloError::Overflow {
        number: number.to_string(),
    })
}

fn check_reply(line: &str, expected: u64) -> Result<(), HelloError> {
    match read_hello(line) {
        HelloLine::Number(number) if number == expected => Ok(()),
        _ => Err(HelloError::WrongNumber {
            expected,
            got: shown(line),
        }),
    }
}

/// What the server does after a handshake line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HelloStep {
    /// Send this line (`HELLO X+1`) and wait for the next one.
    Reply(String),
    /// The handshake is complete: the chat session starts.
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ServerState {
    AwaitHello,
    AwaitAck { expected: u64 },
    Done,
    Failed,
}

/// The server's side: answers `HELLO X` with `HELLO X+1`, then checks `HELLO X+2`.
#[derive(Debug, Clone)]
pub struct HelloServer {
    state: ServerState,
}

impl Default for HelloServer {
    fn default() -> Self {
        Self::new()
    }
}

impl HelloServer {
    /// Waiting for the client's `HELLO X`.
    pub fn new() -> Self {
        Self {
            state: ServerState::AwaitHello,
        }
    }

    /// Takes the next line from the client. An error ends the handshake.
    pub fn receive(&mut self, line: &str) -> Result<HelloStep, HelloError> {
        let state = std::mem::replace(&mut self.state, ServerState::Failed);
        let (state, step) = match state {
            ServerState::AwaitHello => {
                let (reply, expected) = first_reply(line)?;
                (
                    ServerState::AwaitAck { expected },
                    HelloStep::Reply(format!("HELLO {reply}")),
                )
            }
            ServerState::AwaitAck { expected } => {
                check_reply(line, expected)?;
                (ServerState::Done, HelloStep::Done)
            }
            ServerState::Done | ServerState::Failed => {
                self.state = state;
                return Err(HelloError::Finished);
            }
        };
        self.state = state;
        Ok(step)
    }

    /// Whether the handshake completed successfully.
    pub fn is_done(&self) -> bool {
        self.state == ServerState::Done
    }
}

/// For a first line `HELLO X`: X+1 to send and X+2 to expect.
fn first_reply(line: &str) -> Result<(u64, u64), HelloError> {
    match read_hello(line) {
        HelloLine::Number(number) => Ok((next(number, 1)?, next(number, 2)?)),
        HelloLine::TooLarge(number) => Err(HelloError::Overflow { number }),
        HelloLine::Garbage => Err(HelloError::Malformed { got: shown(line) }),
    }
}

/// The client's side: sends `HELLO X`, checks `HELLO X+1`, answers `HELLO X+2`.
#[derive(Debug, Clone)]
pub struct HelloClient {
    start: u64,
    /// Set once a reply was received (right or wrong): the handshake is then over.
    over: bool,
}

impl HelloClient {
    /// A handshake starting from `start`, at most [`HELLO_MAX`].
    pub fn new(start: u64) -> Result<Self, HelloError> {
        next(start, 2)?;
        Ok(Self { start, over: false })
    }

    /// The line to send first: `HELLO X`.
    pub fn first_line(&self) -> String {
        format!("HELLO {}", self.start)
    }

    /// Checks the server's reply and returns the last line to send, `HELLO X+2`.
    pub fn receive(&mut self, reply: &str) -> Result<String, HelloError> {
        if std::mem::replace(&mut self.over, true) {
            return Err(HelloError::Finished);
        }
        check_reply(reply, next(self.start, 1)?)?;
        Ok(format!("HELLO {}", next(self.start, 2)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(server: &mut HelloServer, line: &str) -> Result<String, HelloError> {
        match server.receive(line)? {
            HelloStep::Reply(reply) => Ok(reply),
            HelloStep::Done => panic!("{line:?} ended the handshake early"),
        }
    }

    #[test]
    fn three_way_handshake_in_memory() -> Result<(), HelloError> {
        let mut client = HelloClient::new(41)?;
        let mut server = HelloServer::new();
        let first = client.first_line();
        assert_eq!(first, "HELLO 41");
        let answer = reply(&mut server, &first)?;
        assert_eq!(answer, "HELLO 42");
        let last = client.receive(&answer)?;
        assert_eq!(last, "HELLO 43");
        assert!(!server.is_done());
        assert_eq!(server.receive(&last)?, HelloStep::Done);
        assert!(server.is_done());
        Ok(())
    }

    #[test]
    fn largest_start_works_and_past_it_is_refused() -> Result<(), HelloError> {
        let mut server = HelloServer::new();
        assert_eq!(
            reply(&mut server, &format!("HELLO {HELLO_MAX}"))?,
            format!("HELLO {}", u64::MAX - 1)
        );
        assert_eq!(
            server.receive(&format!("HELLO {}", u64::MAX))?,
            HelloStep::Done
        );
        assert!(HelloClient::new(HELLO_MAX).is_ok());
        for start in [u64::MAX - 1, u64::MAX] {
            let overflow = HelloError::Overflow {
                number: start.to_string(),
            };
            assert_eq!(
                HelloServer::new().receive(&format!("HELLO {start}")),
                Err(overflow.clone())
            );
            assert_eq!(HelloClient::new(start).err(), Some(overflow));
        }
        let err = HelloServer::new().receive("HELLO 18446744073709551616");
        assert_eq!(
            err.map_err(|e| e.to_string()),
            Err("handshake: HELLO 18446744073709551616 is too large, expected a number at most 18446744073709551613".into())
        );
        Ok(())
    }

    #[test]
    fn garbage_first_line_quotes_what_was_received() {
        let err = HelloServer::new().receive("HELLO 12x");
        assert_eq!(
            err.map_err(|e| e.to_string()),
            Err("handshake: expected HELLO <n>, got HELLO 12x".into())
        );
        let err = HelloServer::new().receive("HELLO -1\u{1b}[2J");
        assert_eq!(
            err,
            Err(HelloError::Malformed {
                got: "HELLO -1\\u{1b}[2J".into()
            })
        );
        let long = format!("HELLO {}", "9x".repeat(100));
        let Err(HelloError::Malformed { got }) = HelloServer::new().receive(&long) else {
            panic!("long garbage was accepted");
        };
        assert_eq!(got.chars().count(), QUOTE_CHARS + 1);
        assert!(got.ends_with('…'));
        assert_eq!(
            HelloServer::new().receive(""),
            Err(HelloError::Malformed {
                got: "an empty line".into()
            })
        );
        assert_eq!(
            HelloServer::new().receive("HELLO +5"),
            Err(HelloError::Malformed {
                got: "HELLO +5".into()
            })
        );
    }

    #[test]
    fn wrong_third_line_says_the_expected_number() -> Result<(), HelloError> {
        for bad in ["HELLO 3", "HELLO", "hello 2", "bye"] {
            let mut server = HelloServer::new();
            reply(&mut server, "HELLO 0")?;
            let err = server.receive(bad);
            assert_eq!(
                err,
                Err(HelloError::WrongNumber {
                    expected: 2,
                    got: bad.into()
                })
            );
            assert!(!server.is_done());
        }
        let mut server = HelloServer::new();
        reply(&mut server, "HELLO 0")?;
        let message = server
            .receive("HELLO 3")
            .map_err(|e| e.to_event().to_line());
        assert_eq!(
            message,
            Err("ERROR handshake: expected HELLO 2, got HELLO 3\n".into())
        );
        Ok(())
    }

    #[test]
    fn client_checks_the_reply() -> Result<(), HelloError> {
        let mut client = HelloClient::new(7)?;
        assert_eq!(
            client.receive("HELLO 9"),
            Err(HelloError::WrongNumber {
                expected: 8,
                got: "HELLO 9".into()
            })
        );
        assert_eq!(client.receive("HELLO 8"), Err(HelloError::Finished));
        Ok(())
    }

    #[test]
    fn lines_after_the_end_are_misuse() -> Result<(), HelloError> {
        let mut server = HelloServer::new();
        reply(&mut server, "HELLO 1")?;
        server.receive("HELLO 3")?;
        assert_eq!(server.receive("HELLO 3"), Err(HelloError::Finished));
        assert!(server.is_done());
        let mut failed = HelloServer::new();
        assert!(failed.receive("nope").is_err());
        assert_eq!(failed.receive("HELLO 1"), Err(HelloError::Finished));
        assert_eq!(HelloError::Finished.kind(), ErrorKind::Handshake);
        Ok(())
    }

    #[test]
    fn surrounding_whitespace_and_leading_zeros_are_tolerated() -> Result<(), HelloError> {
        assert_eq!(reply(&mut HelloServer::new(), " HELLO  007 \r")?, "HELLO 8");
        Ok(())
    }

    #[test]
    fn is_hello_tells_handshakes_from_chat() {
        for line in [
            "HELLO 5",
            "HELLO  5",
            "HELLO\t5",
            "HELLO 12x",
            "HELLO -1",
            "HELLO +1",
            " HELLO 5",
        ] {
            assert!(is_hello(line), "{line:?}");
        }
        for line in [
            "HELLO",
            "HELLO everyone",
            "HELLO5",
            "hello 5",
            "/nick bob",
            "",
        ] {
            assert!(!is_hello(line), "{line:?}");
        }
    }
}
