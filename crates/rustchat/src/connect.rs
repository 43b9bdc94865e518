//! `rustchat connect [URL]`: flags → a [`Target`] → the full-screen client on a terminal, or
//! line mode when standard input or output is not a terminal (pipes, scripts).
//!
//! Everything else lives in `rustchat-client`; this file only reads the command line.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use rustchat_client::tui::{self, TuiOptions};
use rustchat_client::{DEFAULT_URL, LineOptions, Target, Trust, line_mode};
use rustchat_proto::{AccessToken, Nick, Password, RoomName};

/// Options of `rustchat connect`.
#[derive(Debug, Args)]
#[command(after_help = "\
On a terminal: a full-screen client. /help lists its commands (/connect [URL], /disconnect,
/ignore [NICK], /unignore NICK, /quit) and the server's. Tab completes nicks, #rooms and
/commands; Alt-1…9 and Ctrl-N/Ctrl-P switch between your rooms; messages that name you are
highlighted; PageUp/PageDown or the mouse wheel scroll, Up/Down recall sent lines.

Piped (stdin or stdout not a terminal): line mode. Each input line is sent, each event printed
as one line (--json: as one JSON object); the end of input sends /quit. Control characters and
escape sequences from other users are always shown escaped (\\x1b), never sent to the terminal.

Accounts: with --nick NAME of a registered account, the password is read from the environment
variable RUSTCHAT_PASSWORD if set (never from a flag: other users can see a command line), else
asked for on the terminal when the server says the nick is registered. --token-file FILE signs
in with an access token (/token makes one) instead. /register PASSWORD,
/login ACCOUNT PASSWORD, /logout and /passwd OLD NEW work as typed; lines holding a password are
never kept in the input history.

Exit status: 0 normal, 1 connection failure, 2 usage error.

Examples:
  rustchat connect --nick alice --room rust
  echo hello | rustchat connect 127.0.0.1:8080
  rustchat connect --json ws://127.0.0.1:8080/ws < /dev/null
  rustchat connect --ca-file rustchat-data/tls/self-signed-cert.pem wss://localhost:8080/ws")]
pub(crate) struct ConnectArgs {
    /// Server: ws://host:port/path (WebSocket, JSON events), tcp://host:port or host:port (line
    /// protocol); wss://host:port/path and tls://host:port are the same over TLS.
    #[arg(value_name = "URL", default_value = DEFAULT_URL, value_parser = Target::parse)]
    url: Target,
    /// Nick to take after connecting (and after every reconnect).
    #[arg(long, value_name = "NAME", value_parser = parse_nick)]
    nick: Option<String>,
    /// Room to join after connecting, like #rust (the # may be left out).
    #[arg(long, value_name = "#ROOM", value_parser = parse_room)]
    room: Option<String>,
    /// Line mode: print events as JSON objects, one per line (needs a ws:// URL).
    #[arg(long)]
    json: bool,
    /// Seconds to wait for a connection.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    connect_timeout: u64,
    /// wss:// and tls://: trust only the certificates in this PEM file (a private CA, or the
    /// server's self-signed certificate), like curl --cacert. Default: Mozilla's roots.
    #[arg(long, value_name = "FILE", conflicts_with = "insecure")]
    ca_file: Option<PathBuf>,
    /// wss:// and tls://: do not check the server's certificate at all. Anyone on the path
    /// can then read and change the chat; for tests only.
    #[arg(long)]
    insecure: bool,
    /// Sign in with the access token in this file (made with /token; keep the file private)
    /// instead of a password.
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// Full screen: ring the terminal's bell when a message names you or someone writes to you
    /// privately.
    #[arg(long)]
    bell: bool,
}

fn parse_nick(text: &str) -> Result<String, String> {
    Nick::parse(text)
        .map(|nick| nick.to_string())
        .map_err(|e| e.to_string())
}

fn parse_room(text: &str) -> Result<String, String> {
    RoomName::parse(text)
        .map(|room| room.to_string())
        .map_err(|e| e.to_string())
}

/// Runs the client until `/quit` (terminal) or the end of input (line mode).
pub(crate) fn run(args: ConnectArgs) -> anyhow::Result<()> {
    if args.json && args.url.is_lines() {
        clap::Error::raw(
            clap::error::ErrorKind::ArgumentConflict,
            "--json needs a WebSocket URL (ws://host:port/ws): the line protocol has no JSON events\n",
        )
        .exit();
    }
    let timeout = Duration::from_secs(args.connect_timeout.max(1));
    let trust = match (&args.ca_file, args.insecure) {
        (Some(path), _) => Trust::ca_file(path)?,
        (None, true) => {
            eprintln!(
                "WARNING: --insecure: the server's certificate is not checked — anyone between \
                 you and the server can read and change this chat"
            );
            Trust::insecure()
        }
        (None, false) => Trust::default(),
    };
    let password = match std::env::var("RUSTCHAT_PASSWORD") {
        Ok(text) if args.nick.is_some() => match Password::parse(&text) {
            Ok(password) => Some(password),
            Err(e) => clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!("RUSTCHAT_PASSWORD: {e}\n"),
            )
            .exit(),
        },
        Ok(_) => clap::Error::raw(
            clap::error::ErrorKind::MissingRequiredArgument,
            "RUSTCHAT_PASSWORD is set: say whose it is with --nick NAME\n",
        )
        .exit(),
        Err(_) => None,
    };
    let token = match &args.token_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the token file {}", path.display()))?;
            match AccessToken::parse(text.trim()) {
                Ok(token) => Some(token),
                Err(e) => clap::Error::raw(
                    clap::error::ErrorKind::ValueValidation,
                    format!("--token-file {}: {e}\n", path.display()),
                )
                .exit(),
            }
        }
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the client runtime")?;
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let result = if interactive && !args.json {
        let options = TuiOptions {
            nick: args.nick,
            room: args.room,
            connect_timeout: timeout,
            trust,
            bell: args.bell,
            password,
            token,
        };
        runtime.block_on(tui::run(args.url, options))
    } else {
        let options = LineOptions {
            json: args.json,
            nick: args.nick,
            room: args.room,
            connect_timeout: timeout,
            trust,
            password,
            token,
            ..LineOptions::default()
        };
        let input = tokio::io::BufReader::new(tokio::io::stdin());
        runtime.block_on(line_mode::run(
            &args.url,
            &options,
            input,
            std::io::stdout().lock(),
        ))
    };
    // A read of standard input may still be blocked in a worker thread: do not wait for it.
    runtime.shutdown_background();
    Ok(result?)
}
