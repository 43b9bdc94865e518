//! `AccountStore`: accounts, invite codes and the audit log, in the history's SQLite file.
//!
//! One database holds everything the server keeps (`history.sqlite3` under the data directory):
//! a backup is one file. This store opens its own connection to it — the history's committer
//! has another, and `rustchat admin` a third while the server runs (WAL mode lets them read
//! and write side by side; a writer waits up to [`BUSY_TIMEOUT`] for another). Every change
//! bumps `revision` in `account_meta`, which the server polls to notice what `rustchat admin`
//! did.
//!
//! Nothing secret is stored in the clear: passwords as argon2id PHC strings (hash.rs), invite
//! codes as their SHA-256.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use rustchat_proto::{Nick, TokenInfo};

/// Most access tokens one account may hold.
pub const MAX_TOKENS_PER_ACCOUNT: usize = 100;

/// How long a statement waits for another connection's write lock before it fails.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS accounts (
        key       TEXT PRIMARY KEY,          -- the name, lowercase: unique case-insensitively
        name      TEXT NOT NULL,             -- as registered
        hash      TEXT NOT NULL,             -- argon2id PHC string
        role      TEXT,                      -- 'admin', 'moderator' or NULL
        created   INTEGER NOT NULL,          -- unix milliseconds
        suspended INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE IF NOT EXISTS invites (
        code_sha256 TEXT PRIMARY KEY,        -- hex; the code itself is shown once, never kept
        created     INTEGER NOT NULL,
        created_by  TEXT NOT NULL,
        used_by     TEXT,
        used_at     INTEGER
    );
    CREATE TABLE IF NOT EXISTS tokens (
        id        INTEGER PRIMARY KEY AUTOINCREMENT, -- what /revoke takes; never reused
        sha256    TEXT NOT NULL UNIQUE,      -- hex of the token; the token is shown once
        account   TEXT NOT NULL,             -- the account's key
        label     TEXT,
        created   INTEGER NOT NULL,
        last_used INTEGER
    );
    CREATE INDEX IF NOT EXISTS tokens_account ON tokens (account);
    CREATE TABLE IF NOT EXISTS account_meta (
        key   TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    );
    INSERT OR IGNORE INTO account_meta (key, value) VALUES ('revision', 0);
";

/// The audit log's table: written by the account service, by `rustchat admin`, and by the
/// history's committer for moderators' actions (which is why the history creates it too).
pub(crate) const AUDIT_SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS audit (
        id      INTEGER PRIMARY KEY,
        ts      INTEGER NOT NULL,
        actor   TEXT NOT NULL,               -- an account, a nick, or 'operator' (rustchat admin)
        action  TEXT NOT NULL,               -- 'sign_in', 'sign_in_failed', 'register', 'ban', ...
        target  TEXT,
        address TEXT,
        detail  TEXT
    );
";

/// A server-wide role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Everything, including roles of others.
    Admin,
    /// Moderation across every room.
    Moderator,
}

impl Role {
    /// The name stored and typed (`admin`, `moderator`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Moderator => "moderator",
        }
    }

    /// Reads a role's name.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.to_ascii_lowercase().as_str() {
            "admin" => Ok(Self::Admin),
            "moderator" | "mod" => Ok(Self::Moderator),
            _ => Err(format!(
                "unknown role `{text}`: expected admin or moderator"
            )),
        }
    }
}

/// One account as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The name as registered.
    pub name: Nick,
    /// Its server role, if any.
    pub role: Option<Role>,
    /// When it was created, unix milliseconds.
    pub created: u64,
    /// Whether it may not sign in.
    pub suspended: bool,
}

/// One account as the server's hub needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSummary {
    /// The name, lowercase.
    pub key: String,
    pub role: Option<Role>,
    pub suspended: bool,
}

/// What an account needs to sign in.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The account as listed.
    pub account: Account,
    /// Its password's PHC string.
    pub hash: String,
}

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// When, unix milliseconds.
    pub ts: u64,
    /// Who did it.
    pub actor: String,
    /// What (`sign_in`, `sign_in_failed`, `register`, `password_changed`, ...).
    pub action: String,
    /// To whom, if anyone.
    pub target: Option<String>,
    /// From which address, if over the network.
    pub address: Option<String>,
    /// Anything else worth keeping (never a secret).
    pub detail: Option<String>,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The name is an account already.
    #[error("{0} is registered already")]
    Exists(String),
    /// No account has that name.
    #[error("no account is named {0}")]
    NoSuchAccount(String),
    /// The account holds [`MAX_TOKENS_PER_ACCOUNT`] tokens already.
    #[error(
        "{0} has {MAX_TOKENS_PER_ACCOUNT} access tokens already: revoke one first (/tokens, /revoke)"
    )]
    TooManyTokens(String),
    /// The change would leave the server without an admin.
    #[error("{0} is the last admin: make another account admin first")]
    LastAdmin(String),
    /// The database failed.
    #[error("account database: {0}")]
    Sql(#[from] rusqlite::Error),
    /// A row holds what this version cannot read (a hand-edited file).
    #[error("account database: {0}")]
    Corrupt(String),
}

/// The accounts' tables on one connection. See the module docs.
#[derive(Debug)]
pub struct AccountStore {
    conn: Connection,
    /// In a file (shared with the history and `rustchat admin`), not in memory.
    file: bool,
}

fn millis(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn sql_millis(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

/// The hex SHA-256 of a secret (invite codes, tokens): enough for high-entropy secrets, which
/// cannot be guessed from it the way a password could.
pub fn sha256_hex(secret: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, secret.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// A fresh access token: `rct_` and 256 random bits as 64 hex digits.
pub fn new_access_token() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness for a token: {e}"))?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("{}{hex}", rustchat_proto::TOKEN_PREFIX))
}

/// A fresh invite code: 128 random bits as 32 hex digits.
pub fn new_invite_code() -> Result<String, String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness for a code: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl AccountStore {
    /// Opens (creating the tables if needed) the store in the database file at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let _: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        Self::with(conn, true)
    }

    /// A store in memory (for `--history memory`: nothing survives the process).
    pub fn memory() -> Result<Self, StoreError> {
        Self::with(Connection::open_in_memory()?, false)
    }

    fn with(conn: Connection, file: bool) -> Result<Self, StoreError> {
        let klines = crate::klines::KLINES_SCHEMA;
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {SCHEMA} {AUDIT_SCHEMA} {klines} COMMIT;"
        ))?;
        Ok(Self { conn, file })
    }

    /// Whether the store is the history's file (else it is in memory, apart from the history,
    /// and knows nothing of the address bans the history keeps).
    pub fn is_file(&self) -> bool {
        self.file
    }

    /// The change counter: different from the last read means something changed.
    pub fn revision(&self) -> Result<i64, StoreError> {
        Ok(self.conn.query_row(
            "SELECT value FROM account_meta WHERE key = 'revision'",
            [],
            |r| r.get(0),
        )?)
    }

    /// Ends a change: its audit entry, a new revision (for the server to notice), commit.
    fn commit_change(tx: rusqlite::Transaction<'_>, audit: &AuditEntry) -> Result<(), StoreError> {
        Self::append_audit(&tx, audit)?;
        tx.execute(
            "UPDATE account_meta SET value = value + 1 WHERE key = 'revision'",
            [],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Creates an account (and records it in the audit log as done by `actor`).
    pub fn create(
        &mut self,
        name: &Nick,
        hash: &str,
        role: Option<Role>,
        now: u64,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        let inserted = tx.execute(
            "INSERT OR IGNORE INTO accounts (key, name, hash, role, created) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![name.key(), name.as_str(), hash, role.map(Role::name), sql_millis(now)],
        )?;
        if inserted == 0 {
            return Err(StoreError::Exists(name.to_string()));
        }
        Self::commit_change(tx, audit)
    }

    /// The account named `name` (any case) with its password hash.
    pub fn credentials(&self, name: &Nick) -> Result<Option<Credentials>, StoreError> {
        self.conn
            .query_row(
                "SELECT name, hash, role, created, suspended FROM accounts WHERE key = ?1",
                [name.key()],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, bool>(4)?,
                    ))
                },
            )
            .optional()?
            .map(|(name, hash, role, created, suspended)| {
                Ok(Credentials {
                    account: Self::account(&name, role.as_deref(), created, suspended)?,
                    hash,
                })
            })
            .transpose()
    }

    fn account(
        name: &str,
        role: Option<&str>,
        created: i64,
        suspended: bool,
    ) -> Result<Account, StoreError> {
        let name = Nick::parse_known(name)
            .map_err(|e| StoreError::Corrupt(format!("account name {name:?}: {e}")))?;
        let role = role
            .map(Role::parse)
            .transpose()
            .map_err(StoreError::Corrupt)?;
        Ok(Account {
            name,
            role,
            created: millis(created),
            suspended,
        })
    }

    /// Replaces an account's password hash.
    pub fn set_hash(
        &mut self,
        name: &Nick,
        hash: &str,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        let changed = tx.execute(
            "UPDATE accounts SET hash = ?2 WHERE key = ?1",
            params![name.key(), hash],
        )?;
        if changed == 0 {
            return Err(StoreError::NoSuchAccount(name.to_string()));
        }
        Self::commit_change(tx, audit)
    }

    /// Gives an account a role (`None`: takes it away). Refuses to take the role of the last
    /// admin: the server must never be left without one.
    pub fn set_role(
        &mut self,
        name: &Nick,
        role: Option<Role>,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        let current: Option<Option<String>> = tx
            .query_row(
                "SELECT role FROM accounts WHERE key = ?1",
                [name.key()],
                |r| r.get(0),
            )
            .optional()?;
        let Some(current) = current else {
            return Err(StoreError::NoSuchAccount(name.to_string()));
        };
        if current.as_deref() == Some("admin") && role != Some(Role::Admin) {
            let admins: i64 = tx.query_row(
                "SELECT COUNT(*) FROM accounts WHERE role = 'admin'",
                [],
                |r| r.get(0),
            )?;
            if admins <= 1 {
                return Err(StoreError::LastAdmin(name.to_string()));
            }
        }
        tx.execute(
            "UPDATE accounts SET role = ?2 WHERE key = ?1",
            params![name.key(), role.map(Role::name)],
        )?;
        Self::commit_change(tx, audit)
    }

    /// Every account, by name.
    pub fn list(&self) -> Result<Vec<Account>, StoreError> {
        let mut statement = self
            .conn
            .prepare("SELECT name, role, created, suspended FROM accounts ORDER BY key")?;
        let rows = statement.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, bool>(3)?,
            ))
        })?;
        let mut accounts = Vec::new();
        for row in rows {
            let (name, role, created, suspended) = row?;
            accounts.push(Self::account(&name, role.as_deref(), created, suspended)?);
        }
        Ok(accounts)
    }

    /// Every account's key, server role and suspension (what the hub protects and honours).
    pub fn summaries(&self) -> Result<Vec<AccountSummary>, StoreError> {
        let mut statement = self
            .conn
            .prepare("SELECT key, role, suspended FROM accounts")?;
        let rows = statement.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, bool>(2)?,
            ))
        })?;
        let mut accounts = Vec::new();
        for row in rows {
            let (key, role, suspended) = row?;
            let role = role
                .map(|r| Role::parse(&r))
                .transpose()
                .map_err(StoreError::Corrupt)?;
            accounts.push(AccountSummary {
                key,
                role,
                suspended,
            });
        }
        Ok(accounts)
    }

    /// Suspends an account (`on`) or lifts its suspension; `false` if it was so already.
    /// Refuses to suspend the last admin.
    pub fn set_suspended(
        &mut self,
        name: &Nick,
        on: bool,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let tx = self.conn.transaction()?;
        let current: Option<(Option<String>, bool)> = tx
            .query_row(
                "SELECT role, suspended FROM accounts WHERE key = ?1",
                [name.key()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((role, suspended)) = current else {
            return Err(StoreError::NoSuchAccount(name.to_string()));
        };
        if suspended == on {
            return Ok(false);
        }
        if on && role.as_deref() == Some("admin") {
            let admins: i64 = tx.query_row(
                "SELECT COUNT(*) FROM accounts WHERE role = 'admin' AND suspended = 0",
                [],
                |r| r.get(0),
            )?;
            if admins <= 1 {
                return Err(StoreError::LastAdmin(name.to_string()));
            }
        }
        tx.execute(
            "UPDATE accounts SET suspended = ?2 WHERE key = ?1",
            params![name.key(), on],
        )?;
        Self::commit_change(tx, audit)?;
        Ok(true)
    }

    /// Keeps an invite code (by its hash) made by `by`.
    pub fn add_invite(&mut self, code: &str, by: &str, now: u64) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO invites (code_sha256, created, created_by) VALUES (?1, ?2, ?3)",
            params![sha256_hex(code), sql_millis(now), by],
        )?;
        Ok(())
    }

    /// Creates an account with an unused invite code, using the code up, in one transaction:
    /// `Ok(false)` if the code is unknown or used (nothing is created then).
    pub fn create_invited(
        &mut self,
        name: &Nick,
        hash: &str,
        code: &str,
        now: u64,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let tx = self.conn.transaction()?;
        let used = tx.execute(
            "UPDATE invites SET used_by = ?2, used_at = ?3 WHERE code_sha256 = ?1 AND used_by IS NULL",
            params![sha256_hex(code), name.as_str(), sql_millis(now)],
        )?;
        if used == 0 {
            return Ok(false);
        }
        let inserted = tx.execute(
            "INSERT OR IGNORE INTO accounts (key, name, hash, role, created) VALUES (?1, ?2, ?3, NULL, ?4)",
            params![name.key(), name.as_str(), hash, sql_millis(now)],
        )?;
        if inserted == 0 {
            return Err(StoreError::Exists(name.to_string()));
        }
        Self::commit_change(tx, audit)?;
        Ok(true)
    }

    /// Keeps a new token (by its hash) for `account`; its id.
    pub fn add_token(
        &mut self,
        account: &Nick,
        token: &str,
        label: Option<&str>,
        now: u64,
        audit: &AuditEntry,
    ) -> Result<u64, StoreError> {
        let tx = self.conn.transaction()?;
        let held: i64 = tx.query_row(
            "SELECT COUNT(*) FROM tokens WHERE account = ?1",
            [account.key()],
            |r| r.get(0),
        )?;
        if usize::try_from(held).unwrap_or(usize::MAX) >= MAX_TOKENS_PER_ACCOUNT {
            return Err(StoreError::TooManyTokens(account.to_string()));
        }
        tx.execute(
            "INSERT INTO tokens (sha256, account, label, created) VALUES (?1, ?2, ?3, ?4)",
            params![sha256_hex(token), account.key(), label, sql_millis(now)],
        )?;
        let id = millis(tx.last_insert_rowid());
        Self::commit_change(tx, audit)?;
        Ok(id)
    }

    /// The account a token signs in to (and the token's id), marking it used now; `None` for
    /// an unknown or revoked token.
    pub fn use_token(
        &mut self,
        token: &str,
        now: u64,
    ) -> Result<Option<(u64, Credentials)>, StoreError> {
        let found: Option<(i64, String)> = self
            .conn
            .query_row(
                "SELECT t.id, a.name FROM tokens t JOIN accounts a ON a.key = t.account
                 WHERE t.sha256 = ?1",
                [sha256_hex(token)],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((id, name)) = found else {
            return Ok(None);
        };
        self.conn.execute(
            "UPDATE tokens SET last_used = ?2 WHERE id = ?1",
            params![id, sql_millis(now)],
        )?;
        let name = Nick::parse_known(&name)
            .map_err(|e| StoreError::Corrupt(format!("account name {name:?}: {e}")))?;
        Ok(self.credentials(&name)?.map(|c| (millis(id), c)))
    }

    /// An account's tokens, oldest first.
    pub fn tokens(&self, account: &Nick) -> Result<Vec<TokenInfo>, StoreError> {
        let mut statement = self.conn.prepare(
            "SELECT id, label, created, last_used FROM tokens WHERE account = ?1 ORDER BY id",
        )?;
        let rows = statement.query_map([account.key()], |r| {
            Ok(TokenInfo {
                id: millis(r.get(0)?),
                label: r.get(1)?,
                created: millis(r.get(2)?),
                last_used: r.get::<_, Option<i64>>(3)?.map(millis),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Revokes `account`'s token `id`: `false` if it has none by that id.
    pub fn revoke_token(
        &mut self,
        account: &Nick,
        id: u64,
        audit: &AuditEntry,
    ) -> Result<bool, StoreError> {
        let tx = self.conn.transaction()?;
        let gone = tx.execute(
            "DELETE FROM tokens WHERE id = ?1 AND account = ?2",
            params![i64::try_from(id).unwrap_or(-1), account.key()],
        )?;
        if gone == 0 {
            return Ok(false);
        }
        Self::commit_change(tx, audit)?;
        Ok(true)
    }

    /// Revokes every token of `account` (a password reset by the operator); how many.
    pub fn revoke_all_tokens(&mut self, account: &Nick) -> Result<usize, StoreError> {
        Ok(self
            .conn
            .execute("DELETE FROM tokens WHERE account = ?1", [account.key()])?)
    }

    /// The address bans (`/kline`), as the database has them.
    pub fn klines(&self) -> Result<Vec<crate::rules::Kline>, StoreError> {
        Ok(crate::klines::read(&self.conn)?)
    }

    /// Lifts the address ban of exactly `net` (from `rustchat admin`: a running server notices
    /// within a second); whether there was one.
    pub fn unkline(&mut self, net: &ipnet::IpNet, audit: &AuditEntry) -> Result<bool, StoreError> {
        let tx = self.conn.transaction()?;
        let gone = tx.execute("DELETE FROM address_bans WHERE net = ?1", [net.to_string()])?;
        if gone == 0 {
            return Ok(false);
        }
        Self::commit_change(tx, audit)?;
        Ok(true)
    }

    /// Appends to the audit log.
    pub fn audit(&mut self, entry: &AuditEntry) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        Self::append_audit(&tx, entry)?;
        tx.commit()?;
        Ok(())
    }

    fn append_audit(tx: &rusqlite::Transaction<'_>, e: &AuditEntry) -> Result<(), StoreError> {
        tx.execute(
            "INSERT INTO audit (ts, actor, action, target, address, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![sql_millis(e.ts), e.actor, e.action, e.target, e.address, e.detail],
        )?;
        Ok(())
    }

    /// The last `limit` audit entries, oldest first.
    pub fn audit_log(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let mut statement = self.conn.prepare(
            "SELECT ts, actor, action, target, address, detail FROM
               (SELECT * FROM audit ORDER BY id DESC LIMIT ?1) ORDER BY id",
        )?;
        let rows = statement.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
            Ok(AuditEntry {
                ts: millis(r.get(0)?),
                actor: r.get(1)?,
                action: r.get(2)?,
                target: r.get(3)?,
                address: r.get(4)?,
                detail: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
