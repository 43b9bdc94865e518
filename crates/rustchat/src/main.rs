//! `rustchat`: the chat server, and the tools around it.
//!
//! Reads like a recipe: parse the command line, set up logging, run the subcommand.

mod admin;
mod bench;
mod connect;
mod hello;
mod serve;
mod settings;

use clap::{FromArgMatches, Parser, Subcommand};

/// A self-hosted real-time chat server: one port for `nc`, WebSocket and the browser.
#[derive(Debug, Parser)]
#[command(name = "rustchat", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log lines as text, or as one JSON object each (for log shippers).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `fields`.
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the chat server (line protocol, WebSocket and HTTP on one port).
    Serve(serve::ServeArgs),
    /// Chat from the terminal: a full-screen client, or line mode when piped.
    Connect(connect::ConnectArgs),
    /// Probe a server with the HELLO handshake and print the round trip.
    Hello(hello::HelloArgs),
    /// Load-test a server (ours under each model, or any running one) against peer servers.
    Bench(bench::BenchArgs),
    /// Manage accounts, roles and invite codes, and read the audit log (also while the server
    /// runs).
    Admin(admin::AdminArgs),
}

fn main() -> std::process::ExitCode {
    let parsed = settings::parse(std::env::args_os().collect()).unwrap_or_else(|e| e.exit());
    let cli = Cli::from_arg_matches(&parsed.matches).unwrap_or_else(|e| e.exit());
    if matches!(&cli.command, Command::Serve(args) if args.print_config) {
        print!("{}", settings::describe(&parsed));
        return std::process::ExitCode::SUCCESS;
    }
    init_logging(cli.log_format);
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Connect(args) => connect::run(args),
        Command::Hello(args) => hello::run(args),
        Command::Bench(args) => bench::run(&args),
        Command::Admin(args) => admin::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Logs to stderr; `RUST_LOG` chooses what (default: info — the server's start and stop,
/// every connection opened, closed or refused; never the text of a message, which is logged
/// only at debug under the `rustchat::chat` target).
fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => {
            let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none();
            builder.with_ansi(ansi).init();
        }
        LogFormat::Json => builder.json().with_ansi(false).init(),
    }
}
