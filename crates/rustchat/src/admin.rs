//! `rustchat admin`: the operator's tools for accounts, working on the data directory's
//! database — while the server runs, too.
//!
//! Why through the database rather than a socket to the server: it needs no server running
//! (the first admin is made before the first start), nothing new listening, and no credentials
//! for the admin channel itself — whoever may write the data directory is the operator. SQLite
//! in WAL mode lets this process write beside the server; every change bumps a revision the
//! server checks each second, so a new account's nick is protected within a second, and a new
//! password or role applies at the next sign-in.

use std::io::BufRead;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use rustchat_proto::{Nick, Password};
use rustchat_server::accounts::hash;
use rustchat_server::accounts::store::{AccountStore, AuditEntry, Role, new_invite_code};

/// Options of `rustchat admin`.
#[derive(Debug, Args)]
#[command(after_help = "\
Works on DATA_DIR/history.sqlite3, the server's database, whether or not the server is running
(changes reach a running server within a second). Passwords are asked for on the terminal, or
read as one line from standard input with --password-stdin; never give one as an argument.

Examples:
  rustchat admin create-account alice --role admin
  echo 'a long passphrase' | rustchat admin reset-password bob --password-stdin
  rustchat admin invite --count 5
  rustchat admin audit --limit 50")]
pub(crate) struct AdminArgs {
    /// The server's data directory.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "rustchat-data",
        global = true
    )]
    data_dir: PathBuf,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create an account (whatever --registration says).
    CreateAccount {
        /// Its name, which is its nick.
        name: String,
        /// A server role for it: admin or moderator.
        #[arg(long, value_parser = Role::parse)]
        role: Option<Role>,
        /// Read the password as one line from standard input instead of the terminal.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a new password for an account (its owner forgot it, or it was stolen): its access
    /// tokens are revoked too.
    ResetPassword {
        name: String,
        /// Read the password as one line from standard input instead of the terminal.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Give an account a server role: admin or moderator.
    Grant {
        name: String,
        #[arg(value_parser = Role::parse)]
        role: Role,
    },
    /// Take an account's server role away (never the last admin's).
    Revoke { name: String },
    /// Sign an account out everywhere and refuse its sign-ins (never the last admin).
    Suspend {
        name: String,
        /// Why, for the audit log.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Let a suspended account sign in again.
    Unsuspend { name: String },
    /// List the address bans (`/kline`).
    Klines,
    /// Lift an address ban (the way back in if staff banned their own range).
    Unkline {
        /// The address or range, as `/klines` shows it.
        range: String,
    },
    /// Make single-use invite codes (for --registration invite), printed one a line.
    Invite {
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
        count: u32,
    },
    /// List the accounts.
    Accounts,
    /// Show the audit log: sign-ins, failed sign-ins, registrations, operator actions.
    Audit {
        /// The last N entries.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
}

fn account_name(text: &str) -> anyhow::Result<Nick> {
    Nick::parse(text).with_context(|| format!("`{text}` cannot be an account name"))
}

/// A password from standard input (one line) or the terminal (asked twice).
fn read_password(from_stdin: bool) -> anyhow::Result<Password> {
    let text = if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        let first = rpassword::prompt_password("password: ")
            .context("no terminal to ask the password on: use --password-stdin")?;
        let again = rpassword::prompt_password("again: ")
            .context("no terminal to ask the password on: use --password-stdin")?;
        if first != again {
            bail!("the two passwords differ; nothing was changed");
        }
        first
    };
    Ok(Password::parse(&text)?)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn operator(action: &str, target: Option<&str>, detail: Option<String>) -> AuditEntry {
    AuditEntry {
        ts: now_ms(),
        actor: "operator".into(),
        action: action.into(),
        target: target.map(str::to_owned),
        address: None,
        detail,
    }
}

/// `2026-12-07 03:22:10` (UTC) for a unix time in milliseconds.
fn utc(ts_ms: u64) -> String {
    let nanos = i128::from(ts_ms) * 1_000_000;
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| ts_ms.to_string())
}

/// Runs one admin command.
pub(crate) fn run(args: AdminArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create {}", args.data_dir.display()))?;
    let path = args.data_dir.join("history.sqlite3");
    let mut store = AccountStore::open(&path)
        .with_context(|| format!("cannot open the database {}", path.display()))?;
    match args.command {
        AdminCommand::CreateAccount {
            name,
            role,
            password_stdin,
        } => {
            let name = account_name(&name)?;
            let password = read_password(password_stdin)?;
            let hash = hash::hash(password.expose()).map_err(anyhow::Error::msg)?;
            let detail = role.map(|r| format!("role {}", r.name()));
            let audit = operator("create_account", Some(name.as_str()), detail);
            store.create(&name, &hash, role, now_ms(), &audit)?;
            match role {
                Some(role) => println!("created {name} ({})", role.name()),
                None => println!("created {name}"),
            }
        }
        AdminCommand::ResetPassword {
            name,
            password_stdin,
        } => {
            let name = account_name(&name)?;
            if store.credentials(&name)?.is_none() {
                bail!("no account is named {name}");
            }
            let password = read_password(password_stdin)?;
            let hash = hash::hash(password.expose()).map_err(anyhow::Error::msg)?;
            let revoked = store.revoke_all_tokens(&name)?;
            let detail = Some(format!("{revoked} access tokens revoked"));
            let audit = operator("reset_password", Some(name.as_str()), detail);
            store.set_hash(&name, &hash, &audit)?;
            println!("the password of {name} is changed; {revoked} access tokens revoked");
        }
        AdminCommand::Grant { name, role } => {
            let name = account_name(&name)?;
            let audit = operator("grant", Some(name.as_str()), Some(role.name().into()));
            store.set_role(&name, Some(role), &audit)?;
            println!("{name} is {} now", role.name());
        }
        AdminCommand::Revoke { name } => {
            let name = account_name(&name)?;
            store.set_role(&name, None, &operator("revoke", Some(name.as_str()), None))?;
            println!("{name} has no server role now");
        }
        AdminCommand::Suspend { name, reason } => {
            let name = account_name(&name)?;
            let audit = operator("suspend", Some(name.as_str()), reason);
            if store.set_suspended(&name, true, &audit)? {
                println!("{name} is suspended: signed out within a second, and cannot sign in");
            } else {
                println!("{name} was suspended already");
            }
        }
        AdminCommand::Unsuspend { name } => {
            let name = account_name(&name)?;
            let audit = operator("unsuspend", Some(name.as_str()), None);
            if store.set_suspended(&name, false, &audit)? {
                println!("{name} may sign in again");
            } else {
                println!("{name} was not suspended");
            }
        }
        AdminCommand::Klines => {
            let klines = store.klines()?;
            println!("{} address bans", klines.len());
            for kline in klines {
                let until = kline
                    .until
                    .map_or("until lifted".to_owned(), |u| format!("until {}", utc(u)));
                let reason = kline.reason.map(|r| format!(" ({r})")).unwrap_or_default();
                println!(
                    "{}",
                    rustchat_proto::sanitize(&format!(
                        "{} {until}, by {}{reason}",
                        kline.net, kline.by
                    ))
                );
            }
        }
        AdminCommand::Unkline { range } => {
            let net = rustchat_proto::parse_address_range(&range)?;
            let audit = operator("unkline", Some(&net.to_string()), None);
            if store.unkline(&net, &audit)? {
                println!("{net} may connect again (a running server lets it in within a second)");
            } else {
                bail!("{net} is not banned: rustchat admin klines lists the bans");
            }
        }
        AdminCommand::Invite { count } => {
            for _ in 0..count {
                let code = new_invite_code().map_err(anyhow::Error::msg)?;
                store.add_invite(&code, "operator", now_ms())?;
                println!("{code}");
            }
            store.audit(&operator("invite", None, Some(format!("{count} codes"))))?;
        }
        AdminCommand::Accounts => {
            let accounts = store.list()?;
            println!("{} accounts", accounts.len());
            for account in accounts {
                let role = account.role.map_or("-", Role::name);
                let state = if account.suspended { "suspended" } else { "" };
                println!(
                    "{:<24} {:<10} created {} {state}",
                    account.name.as_str(),
                    role,
                    utc(account.created)
                );
            }
        }
        AdminCommand::Audit { limit } => {
            for entry in store.audit_log(limit)? {
                let mut line = format!("{} {:<15} {}", utc(entry.ts), entry.action, entry.actor);
                if let Some(target) = entry.target.filter(|t| *t != entry.actor) {
                    line += &format!(" -> {target}");
                }
                if let Some(address) = entry.address {
                    line += &format!(" from {address}");
                }
                if let Some(detail) = entry.detail {
                    line += &format!(" ({detail})");
                }
                println!("{}", rustchat_proto::sanitize(&line));
            }
        }
    }
    Ok(())
}
