//! Line mode, for pipes and scripts (like websocat): input lines → the server; every event →
//! one printed line.
//!
//! Data path: input line → [`Transport::send_line`]; [`Transport::recv`] →
//! [`ServerEvent::to_line`] (or the JSON object with `--json`, or the server's line as it came)
//! → the sanitiser → output. At the end of input the client sends `/quit` and waits a bounded
//! time for the server's goodbye (the `bye` event, or the connection closing).

use std::io::Write;
use std::time::Duration;

use rustchat_proto::ServerEvent;
use tokio::io::{AsyncBufRead, AsyncBufReadExt};
use tokio::time::Instant;

use crate::Target;
use crate::tls::Trust;
use crate::transport::{ClientError, Incoming, Transport};
use rustchat_proto::{sanitize, sanitize_json};

/// How line mode behaves.
#[derive(Debug, Clone)]
pub struct LineOptions {
    /// Print events as JSON objects, one per line, instead of protocol lines.
    pub json: bool,
    /// Sent as `/nick NAME` right after connecting.
    pub nick: Option<String>,
    /// Sent as `/join ROOM` right after connecting.
    pub room: Option<String>,
    /// How long to wait for the connection.
    pub connect_timeout: Duration,
    /// How long to wait for the server's goodbye after `/quit`.
    pub quit_wait: Duration,
    /// Whom to trust for `wss://` and `tls://`.
    pub trust: Trust,
    /// The password of the account `nick`: `/login NICK PASSWORD` is sent instead of `/nick`.
    /// Without one, when the server says the nick is registered, the password is asked for on
    /// the terminal (`/dev/tty`) if there is one.
    pub password: Option<rustchat_proto::Password>,
    /// An access token: `/login TOKEN` is sent first (before `nick`, which is then not sent).
    pub token: Option<rustchat_proto::AccessToken>,
}

impl Default for LineOptions {
    fn default() -> Self {
        Self {
            json: false,
            nick: None,
            room: None,
            connect_timeout: Duration::from_secs(10),
            quit_wait: Duration::from_secs(3),
            trust: Trust::default(),
            password: None,
            token: None,
        }
    }
}

/// Connects to `target` and runs line mode until the input ends (then `/quit`) or the server
/// closes. Errors: the connection failed or was lost, or the output could not be written.
pub async fn run<R, W>(
    target: &Target,
    options: &LineOptions,
    input: R,
    output: W,
) -> Result<(), ClientError>
where
    R: AsyncBufRead + Unpin,
    W: Write,
{
    let mut transport = Transport::connect(target, options.connect_timeout, &options.trust).await?;
    let result = converse(&mut transport, options, input, output).await;
    transport.close().await;
    result
}

async fn converse<R, W>(
    transport: &mut Transport,
    options: &LineOptions,
    input: R,
    mut output: W,
) -> Result<(), ClientError>
where
    R: AsyncBufRead + Unpin,
    W: Write,
{
    match (&options.nick, &options.password) {
        _ if options.token.is_some() => {
            if let Some(token) = &options.token {
                transport
                    .send_line(&format!("/login {}", token.expose()))
                    .await?;
            }
        }
        (Some(nick), Some(password)) => {
            transport
                .send_line(&format!("/login {nick} {}", password.expose()))
                .await?;
        }
        (Some(nick), None) => transport.send_line(&format!("/nick {nick}")).await?,
        (None, _) => {}
    }
    if let Some(room) = &options.room {
        transport.send_line(&format!("/join {room}")).await?;
    }
    // Asked for the password once already (or had it): do not ask again.
    let mut asked = options.password.is_some() || options.token.is_some();
    let mut lines = input.lines();
    // Set once the input ended and `/quit` went out: when to stop waiting for the goodbye.
    let mut quit_deadline: Option<Instant> = None;
    loop {
        tokio::select! {
            line = lines.next_line(), if quit_deadline.is_none() => match line? {
                Some(line) => {
                    let line = line.strip_suffix('\r').unwrap_or(&line);
                    if !line.trim().is_empty() {
                        transport.send_line(line).await?;
                    }
                }
                None => {
                    transport.send_line("/quit").await?;
                    quit_deadline = Some(Instant::now() + options.quit_wait);
                }
            },
            item = transport.recv() => match item {
                Ok(Some(item)) => {
                    let bye = matches!(item, Incoming::Event(ServerEvent::Bye { .. }));
                    if let Some(nick) = options.nick.as_deref().filter(|_| !asked)
                        && refuses_as_registered(&item, nick)
                    {
                        asked = true;
                        if let Some(line) = ask_password(nick).await {
                            transport.send_line(&line).await?;
                        }
                    }
                    match print(&mut output, &item, options.json) {
                        // The reader went away (`| head`): a normal end, as for any Unix filter.
                        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
                        result => result?,
                    }
                    if bye && quit_deadline.is_some() {
                        return Ok(());
                    }
                }
                Ok(None) => return Ok(()),
                // After our /quit the server may just drop the connection: that is the goodbye.
                Err(_) if quit_deadline.is_some() => return Ok(()),
                Err(e) => return Err(e),
            },
            () = sleep_until(quit_deadline) => return Ok(()),
        }
    }
}

/// Whether `item` is the server refusing `nick` because it belongs to an account.
fn refuses_as_registered(item: &Incoming, nick: &str) -> bool {
    let message = match item {
        Incoming::Event(ServerEvent::Error {
            kind: rustchat_proto::ErrorKind::NickRegistered,
            message,
        }) => message.as_str(),
        Incoming::Line(line) => line.strip_prefix("ERROR ").unwrap_or_default(),
        _ => return false,
    };
    message
        .strip_prefix("nick ")
        .and_then(|rest| rest.split_once(" is registered"))
        .is_some_and(|(name, _)| name.eq_ignore_ascii_case(nick))
}

/// Asks for `nick`'s password on the terminal (`/dev/tty`, echo off); the `/login` line to
/// send, or `None` (no terminal, or nothing typed) after saying on stderr what to do instead.
async fn ask_password(nick: &str) -> Option<String> {
    let prompt = format!("{nick} is a registered nick; password (Enter: go on as a guest): ");
    let typed = tokio::task::spawn_blocking(move || rpassword::prompt_password(prompt)).await;
    match typed {
        Ok(Ok(password)) if !password.is_empty() => Some(format!("/login {nick} {password}")),
        Ok(Ok(_)) => None,
        _ => {
            eprintln!(
                "{nick} is a registered nick and there is no terminal to ask its password on: \
                 set RUSTCHAT_PASSWORD"
            );
            None
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Writes one item as sanitised lines, and flushes (a pipe reader sees each event at once).
fn print<W: Write>(output: &mut W, item: &Incoming, json: bool) -> std::io::Result<()> {
    match item {
        Incoming::Event(event) if json => {
            writeln!(output, "{}", sanitize_json(&event.to_json()))?;
        }
        Incoming::Event(event) => {
            for line in event.to_line().lines() {
                writeln!(output, "{}", sanitize(line))?;
            }
        }
        Incoming::Line(text) if json => {
            for line in text.split('\n') {
                let line = serde_json::Value::from(line);
                writeln!(
                    output,
                    "{}",
                    sanitize_json(&format!(r#"{{"type":"line","text":{line}}}"#))
                )?;
            }
        }
        Incoming::Line(text) => {
            for line in text.split('\n') {
                writeln!(output, "{}", sanitize(line))?;
            }
        }
        Incoming::Pong(_) => return Ok(()),
    }
    output.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustchat_proto::{ErrorKind, Nick, RoomName};

    fn printed(item: &Incoming, json: bool) -> String {
        let mut out = Vec::new();
        print(&mut out, item, json).unwrap_or_else(|e| panic!("{e}"));
        String::from_utf8(out).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn events_print_as_protocol_lines_or_json() -> Result<(), Box<dyn std::error::Error>> {
        let event = Incoming::Event(ServerEvent::Joined {
            room: RoomName::parse("#rust")?,
            nick: Nick::parse("alice")?,
            ts: 43_384_000,
        });
        assert_eq!(printed(&event, false), "[12:03:04] -> alice joined #rust\n");
        assert_eq!(
            printed(&event, true),
            "{\"type\":\"joined\",\"room\":\"#rust\",\"nick\":\"alice\",\"ts\":43384000}\n"
        );
        let error = Incoming::Event(ServerEvent::error(ErrorKind::Usage, "usage: /msg"));
        assert_eq!(printed(&error, false), "ERROR usage: /msg\n");
        assert_eq!(printed(&Incoming::Pong(Duration::ZERO), false), "");
        Ok(())
    }

    #[test]
    fn peer_text_is_escaped_in_every_format() -> Result<(), Box<dyn std::error::Error>> {
        let evil = "\u{1b}]0;owned\u{7}\u{1b}[2J\u{9b}1m\u{202e}txt";
        let event = Incoming::Event(ServerEvent::info(evil));
        let line = printed(&event, false);
        assert_eq!(
            line,
            "*** \\x1b]0;owned\\x07\\x1b[2J\\u{9b}1m\\u{202e}txt\n"
        );
        let json = printed(&event, true);
        assert!(
            !json.trim_end().chars().any(rustchat_proto::is_unsafe),
            "{json:?}"
        );
        let value: serde_json::Value = serde_json::from_str(&json)?;
        assert_eq!(value["text"], evil);
        let raw = printed(&Incoming::Line(format!("[12:00:00] #a <b> {evil}")), false);
        assert!(
            !raw.trim_end().chars().any(rustchat_proto::is_unsafe),
            "{raw:?}"
        );
        let raw_json = printed(&Incoming::Line("a\u{1b}b".into()), true);
        assert_eq!(raw_json, "{\"type\":\"line\",\"text\":\"a\\u001bb\"}\n");
        Ok(())
    }
}
