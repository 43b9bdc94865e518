//! The account service: registration, sign-in and password changes, answered off the hub.
//!
//! A password check costs tens of milliseconds of argon2 (accounts/hash.rs), and the account
//! tables live in SQLite: neither belongs under the hub's lock or on an async runtime's
//! threads. So a session's `/register`, `/login` and `/passwd` go here instead:
//!
//! ```text
//! Driver::act ── Shared::submit_account ── (quick refusals, with the hub's lock for an instant)
//!      │ holds the session's further input           │ a Job, or `Busy` when the queue is full
//!      │                                             ▼
//!      │                        account workers (`--auth-threads`, bounded queue)
//!      │                          throttle ─ SQLite ─ argon2 ─ audit log
//!      │                                             │ a Decision
//!      │                                             ▼
//!      │                        Shared: hub.sign_in / a reply ─ committer ─ outbox
//!      └──── resumes when the job's `Ticket` is done (the outbox's signal wakes it)
//! ```
//!
//! The session sends nothing else to the hub until its job is decided, so a client that sends
//! `/login` then a message has the message said under its account's nick — the order it sent.
//! Other sessions never wait: the workers are few (one by default, so hashing takes at most
//! one core) and the queue is bounded ([`QUEUE`]; past it, `Busy`).
//!
//! One worker also watches the database's revision counter, so what `rustchat admin` changes
//! while the server runs (a new account, a role) reaches the hub within [`WATCH_EVERY`].

pub mod hash;
pub mod store;
pub mod throttle;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rustchat_proto::{AccessToken, ErrorKind, Nick, Password, ServerEvent};

use self::store::{AccountStore, AccountSummary, AuditEntry, Role, StoreError};
use self::throttle::{Throttle, ThrottleRule, wait_text};
use crate::clock::Clock;
use crate::delivery::ConnId;
use crate::fanout::outbox::Outbox;
use crate::hub::Signed;

/// Jobs waiting for a worker, at most; past it, requests are refused with `Busy`. A waiting
/// session reads nothing (not even a WebSocket pong), so the queue must drain well within the
/// keepalive's 20 s: 256 hashes of ~25 ms on one worker are about 6 s.
pub const QUEUE: usize = 256;

/// How often the database's revision is checked for changes made by `rustchat admin`.
pub const WATCH_EVERY: Duration = Duration::from_secs(1);

/// Who may register an account (`--registration`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    /// Anyone may register their nick (the default).
    Open,
    /// Only with a single-use invite code from an admin (`rustchat admin invite`).
    Invite,
    /// Only admins create accounts (`rustchat admin create-account`).
    Closed,
}

impl Registration {
    /// Reads `open`, `invite` or `closed`.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "open" => Ok(Self::Open),
            "invite" => Ok(Self::Invite),
            "closed" => Ok(Self::Closed),
            _ => Err(format!(
                "unknown registration policy `{text}`: expected open, invite or closed"
            )),
        }
    }

    /// The name `--registration` takes.
    pub fn name(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Invite => "invite",
            Self::Closed => "closed",
        }
    }
}

/// The account service's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountsConfig {
    /// Who may register.
    pub registration: Registration,
    /// Worker threads that hash and check passwords (at least 1).
    pub workers: usize,
    /// Registrations one address may make per hour (`None`: no limit).
    pub registrations_per_hour: Option<u32>,
}

impl Default for AccountsConfig {
    fn default() -> Self {
        Self {
            registration: Registration::Open,
            workers: 1,
            registrations_per_hour: Some(10),
        }
    }
}

/// Set when a job is decided and its outcome submitted: the session may go on.
#[derive(Debug, Default)]
pub(crate) struct Ticket {
    done: AtomicBool,
}

impl Ticket {
    /// Whether the job is decided.
    pub(crate) fn is_done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }
}

/// What a session asks of the service (checked by the caller: the nick to register is the
/// session's own, a `Passwd` comes from a signed-in session).
#[derive(Debug)]
pub(crate) enum Request {
    Register {
        nick: Nick,
        password: Password,
        invite: Option<String>,
    },
    Login {
        account: Nick,
        password: Password,
    },
    Passwd {
        account: Nick,
        old: Password,
        new: Password,
    },
    /// Sign in with an access token (on the upgrade, or `/login <token>`).
    TokenLogin {
        token: AccessToken,
    },
    /// Make an access token for `account`.
    IssueToken {
        account: Nick,
        label: Option<String>,
    },
    /// List `account`'s tokens.
    ListTokens {
        account: Nick,
    },
    /// Revoke `account`'s token `id`.
    Revoke {
        account: Nick,
        id: u64,
    },
    /// Suspend `account` (`on`) or lift it, asked by server staff `by` with role `role`.
    Suspend {
        by: Nick,
        role: Role,
        account: Nick,
        reason: Option<String>,
        on: bool,
    },
}

/// One request on its way to a worker.
#[derive(Debug)]
pub(crate) struct Job {
    pub conn: ConnId,
    pub ip: IpAddr,
    pub request: Request,
    pub ticket: Arc<Ticket>,
    pub outbox: Arc<Outbox>,
    /// The connection has not joined the hub yet: it joins with the decision (a token given
    /// on the WebSocket upgrade).
    pub joining: bool,
}

/// What the service decided, for the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// The session proved it owns the account (or has just created it): sign it in.
    SignIn(Signed),
    /// Tell the session this (an error, or a confirmation).
    Reply(ServerEvent),
    /// `account` was suspended (`on`) or let back by `by`: sign it out everywhere.
    Suspended {
        account: Nick,
        by: Nick,
        reason: Option<String>,
        on: bool,
    },
}

/// Carries out the service's decisions in the server (the hub, the committer).
pub(crate) trait Effects: Send + Sync {
    /// A job for `conn` was decided; `joining`: the connection joins the hub with it.
    fn decided(&self, conn: ConnId, decision: Decision, joining: bool);
    /// The accounts changed: all of them, with their server roles and suspensions.
    fn accounts(&self, accounts: Vec<AccountSummary>);
    /// The address bans as the database has them (`rustchat admin unkline` lifted one).
    fn klines(&self, klines: Vec<crate::rules::Kline>);
}

/// The service. See the module docs.
#[derive(Debug)]
pub(crate) struct Accounts {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: AccountsConfig,
    store: Mutex<AccountStore>,
    queue: Mutex<Queue>,
    ready: Condvar,
    throttles: Mutex<Throttles>,
    clock: Arc<dyn Clock>,
}

#[derive(Debug, Default)]
struct Queue {
    jobs: VecDeque<Job>,
    closed: bool,
}

#[derive(Debug)]
struct Throttles {
    /// Failed sign-ins per account (by key).
    accounts: Throttle<String>,
    /// Failed sign-ins per address.
    addresses: Throttle<IpAddr>,
    /// Registrations per address (each one counts).
    registrations: Option<Throttle<IpAddr>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Accounts {
    /// A service over `store`; no worker runs until [`Accounts::start`].
    pub(crate) fn new(config: AccountsConfig, store: AccountStore, clock: Arc<dyn Clock>) -> Self {
        let registrations = config.registrations_per_hour.map(|n| {
            let hour = Duration::from_secs(3600);
            Throttle::new(ThrottleRule {
                free: n.max(1),
                window: hour,
                lockout: hour,
                max_lockout: hour,
            })
        });
        Self {
            inner: Arc::new(Inner {
                config,
                store: Mutex::new(store),
                queue: Mutex::new(Queue::default()),
                ready: Condvar::new(),
                throttles: Mutex::new(Throttles {
                    accounts: Throttle::new(ThrottleRule::SIGN_IN),
                    addresses: Throttle::new(ThrottleRule::SIGN_IN),
                    registrations,
                }),
                clock,
            }),
        }
    }

    /// The accounts now (by key, with their server roles), for the hub at startup.
    pub(crate) fn summaries(&self) -> Result<Vec<AccountSummary>, StoreError> {
        lock(&self.inner.store).summaries()
    }

    /// Starts the workers; `effects` carries out their decisions.
    pub(crate) fn start(&self, effects: Arc<dyn Effects>) -> std::io::Result<()> {
        for index in 0..self.inner.config.workers.max(1) {
            let inner = self.inner.clone();
            let effects = effects.clone();
            std::thread::Builder::new()
                .name(format!("rustchat-accounts-{index}"))
                .spawn(move || inner.work(index == 0, &*effects))?;
        }
        Ok(())
    }

    /// Queues a job. `Err` gives it back when the queue is full or the service stopped.
    pub(crate) fn submit(&self, job: Job) -> Result<(), Box<Job>> {
        let mut queue = lock(&self.inner.queue);
        if queue.closed || queue.jobs.len() >= QUEUE {
            return Err(Box::new(job));
        }
        queue.jobs.push_back(job);
        drop(queue);
        self.inner.ready.notify_one();
        Ok(())
    }

    /// Stops the workers once the queued jobs are done.
    pub(crate) fn close(&self) {
        lock(&self.inner.queue).closed = true;
        self.inner.ready.notify_all();
    }
}

impl Inner {
    /// A worker's life: take a job, decide it, hand over the decision, mark it done. The
    /// watcher (`watch`) also reloads the registered names when the database changed.
    fn work(&self, watch: bool, effects: &dyn Effects) {
        let mut seen = if watch {
            lock(&self.store).revision().ok()
        } else {
            None
        };
        let mut next_check = Instant::now() + WATCH_EVERY;
        loop {
            let job = {
                let mut queue = lock(&self.queue);
                loop {
                    if let Some(job) = queue.jobs.pop_front() {
                        break Some(job);
                    }
                    if queue.closed {
                        break None;
                    }
                    let wait = next_check.saturating_duration_since(Instant::now());
                    if watch && wait.is_zero() {
                        break None;
                    }
                    let wait = if watch {
                        wait
                    } else {
                        Duration::from_secs(3600)
                    };
                    queue = self
                        .ready
                        .wait_timeout(queue, wait)
                        .map_or_else(|p| p.into_inner().0, |(q, _)| q);
                }
            };
            match job {
                Some(job) => {
                    let decision = self.decide(&job);
                    effects.decided(job.conn, decision, job.joining);
                    job.ticket.done.store(true, Ordering::Release);
                    job.outbox.signal();
                }
                None if lock(&self.queue).closed => return,
                None => {}
            }
            if watch && Instant::now() >= next_check {
                next_check = Instant::now() + WATCH_EVERY;
                self.check_revision(&mut seen, effects);
            }
        }
    }

    /// Reloads the registered names if the database's revision moved.
    fn check_revision(&self, seen: &mut Option<i64>, effects: &dyn Effects) {
        let store = lock(&self.store);
        let revision = match store.revision() {
            Ok(revision) => revision,
            Err(e) => {
                tracing::warn!("accounts: cannot read the database's revision: {e}");
                return;
            }
        };
        if *seen == Some(revision) {
            return;
        }
        // In memory, the history's bans are in another database: only a file has them all.
        let klines = store.is_file().then(|| store.klines()).transpose();
        match (store.summaries(), klines) {
            (Ok(accounts), Ok(klines)) => {
                drop(store);
                *seen = Some(revision);
                effects.accounts(accounts);
                if let Some(klines) = klines {
                    effects.klines(klines);
                }
            }
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!("accounts: cannot reload the accounts or address bans: {e}");
            }
        }
    }

    fn decide(&self, job: &Job) -> Decision {
        let result = match &job.request {
            Request::Register {
                nick,
                password,
                invite,
            } => self.register(job.ip, nick, password, invite.as_deref()),
            Request::Login { account, password } => self.login(job.ip, account, password),
            Request::Passwd { account, old, new } => self.passwd(job.ip, account, old, new),
            Request::TokenLogin { token } => self.token_login(job.ip, token),
            Request::IssueToken { account, label } => {
                self.issue_token(job.ip, account, label.as_deref())
            }
            Request::ListTokens { account } => lock(&self.store)
                .tokens(account)
                .map(|tokens| Decision::Reply(ServerEvent::Tokens { tokens })),
            Request::Revoke { account, id } => self.revoke(job.ip, account, *id),
            Request::Suspend {
                by,
                role,
                account,
                reason,
                on,
            } => self.suspend(job.ip, by, *role, account, reason.clone(), *on),
        };
        result.unwrap_or_else(|e| {
            tracing::error!("accounts: {e}");
            Decision::Reply(ServerEvent::error(
                ErrorKind::Internal,
                "internal error: the account database failed — try again later",
            ))
        })
    }

    fn audit(&self, ip: IpAddr, actor: &str, action: &str, target: Option<&str>) -> AuditEntry {
        AuditEntry {
            ts: self.clock.wall_ms(),
            actor: actor.to_owned(),
            action: action.to_owned(),
            target: target.map(str::to_owned),
            address: Some(ip.to_string()),
            detail: None,
        }
    }

    fn register(
        &self,
        ip: IpAddr,
        nick: &Nick,
        password: &Password,
        invite: Option<&str>,
    ) -> Result<Decision, StoreError> {
        let refuse = |kind, text: String| Ok(Decision::Reply(ServerEvent::error(kind, text)));
        match (self.config.registration, invite) {
            (Registration::Closed, _) => {
                return refuse(
                    ErrorKind::RegistrationClosed,
                    "registration is closed on this server: an admin creates accounts \
                     (rustchat admin create-account)"
                        .into(),
                );
            }
            (Registration::Invite, None) => {
                return refuse(
                    ErrorKind::RegistrationClosed,
                    "this server registers by invitation: /register <password> <invite-code>, \
                     with a code from an admin"
                        .into(),
                );
            }
            _ => {}
        }
        let now = self.clock.now();
        if let Some(registrations) = &lock(&self.throttles).registrations
            && let Err(wait) = registrations.check(&ip, now)
        {
            return refuse(
                ErrorKind::Throttled,
                format!(
                    "too many registrations from your address: try again in {}",
                    wait_text(wait)
                ),
            );
        }
        let hash = match hash::hash(password.expose()) {
            Ok(hash) => hash,
            Err(e) => {
                tracing::error!("accounts: {e}");
                return refuse(ErrorKind::Internal, format!("internal error: {e}"));
            }
        };
        let audit = self.audit(ip, nick.as_str(), "register", Some(nick.as_str()));
        let wall = self.clock.wall_ms();
        let mut store = lock(&self.store);
        let created = match (self.config.registration, invite) {
            (Registration::Invite, Some(code)) => {
                store.create_invited(nick, &hash, code, wall, &audit)
            }
            _ => store.create(nick, &hash, None, wall, &audit).map(|()| true),
        };
        drop(store);
        match created {
            Ok(true) => {
                if let Some(registrations) = &mut lock(&self.throttles).registrations {
                    registrations.failed(&ip, now);
                }
                tracing::info!(target: "rustchat::accounts", account = %nick, %ip, "registered");
                Ok(Decision::SignIn(Signed {
                    account: nick.clone(),
                    role: None,
                }))
            }
            Ok(false) => refuse(
                ErrorKind::RegistrationClosed,
                "that invite code is unknown or used already: ask an admin for another".into(),
            ),
            Err(StoreError::Exists(_)) => refuse(
                ErrorKind::AlreadyRegistered,
                format!("{nick} is registered already — /login {nick} <password> if it is yours"),
            ),
            Err(e) => Err(e),
        }
    }

    /// Checks `password` against `account`, through the throttles: `Ok(Ok(name))` with the
    /// account's name as registered, `Ok(Err(refusal))` for the client.
    fn check_password(
        &self,
        ip: IpAddr,
        account: &Nick,
        password: &Password,
    ) -> Result<Result<Signed, ServerEvent>, StoreError> {
        let now = self.clock.now();
        let locked = {
            let throttles = lock(&self.throttles);
            throttles
                .accounts
                .check(&account.key().to_owned(), now)
                .err()
                .map(|wait| (wait, format!("for {account}")))
                .or_else(|| {
                    let wait = throttles.addresses.check(&ip, now).err()?;
                    Some((wait, "from your address".to_owned()))
                })
        };
        if let Some((wait, whose)) = locked {
            let text = format!(
                "too many failed sign-ins {whose}: try again in {}",
                wait_text(wait)
            );
            return Ok(Err(ServerEvent::error(ErrorKind::Throttled, text)));
        }
        let credentials = lock(&self.store).credentials(account)?;
        let name = match credentials {
            Some(c) if hash::verify(password.expose(), &c.hash) => {
                if c.account.suspended {
                    let text = format!(
                        "the account {} is suspended: it cannot sign in (ask the server's staff)",
                        c.account.name
                    );
                    return Ok(Err(ServerEvent::error(ErrorKind::Suspended, text)));
                }
                Some(Signed {
                    account: c.account.name,
                    role: c.account.role,
                })
            }
            Some(_) => None,
            None => {
                hash::verify_nothing(password.expose());
                None
            }
        };
        if let Some(name) = name {
            lock(&self.throttles)
                .accounts
                .succeeded(&account.key().to_owned());
            return Ok(Ok(name));
        }
        let lock_now = {
            let mut throttles = lock(&self.throttles);
            let by_account = throttles.accounts.failed(&account.key().to_owned(), now);
            let by_address = throttles.addresses.failed(&ip, now);
            by_account.max(by_address)
        };
        let audit = self.audit(
            ip,
            account.as_str(),
            "sign_in_failed",
            Some(account.as_str()),
        );
        lock(&self.store).audit(&audit)?;
        tracing::info!(target: "rustchat::accounts", account = %account, %ip, "failed sign-in");
        let mut text = "wrong account name or password".to_owned();
        if let Some(wait) = lock_now {
            text += &format!("; too many failures: try again in {}", wait_text(wait));
        }
        Ok(Err(ServerEvent::error(ErrorKind::AuthFailed, text)))
    }

    fn login(
        &self,
        ip: IpAddr,
        account: &Nick,
        password: &Password,
    ) -> Result<Decision, StoreError> {
        match self.check_password(ip, account, password)? {
            Ok(signed) => {
                let name = signed.account.as_str();
                let audit = self.audit(ip, name, "sign_in", Some(name));
                lock(&self.store).audit(&audit)?;
                tracing::info!(target: "rustchat::accounts", account = %name, %ip, "signed in");
                Ok(Decision::SignIn(signed))
            }
            Err(refusal) => Ok(Decision::Reply(refusal)),
        }
    }

    fn suspend(
        &self,
        ip: IpAddr,
        by: &Nick,
        role: Role,
        account: &Nick,
        reason: Option<String>,
        on: bool,
    ) -> Result<Decision, StoreError> {
        let refuse = |kind, text: String| Ok(Decision::Reply(ServerEvent::error(kind, text)));
        let Some(target) = lock(&self.store).credentials(account)? else {
            return refuse(
                ErrorKind::NoSuchNick,
                format!("no account is named {account}"),
            );
        };
        let name = target.account.name;
        if target.account.role == Some(Role::Admin) && role != Role::Admin {
            return refuse(
                ErrorKind::NotPermitted,
                format!("{name} is an admin: only an admin may suspend an admin"),
            );
        }
        let action = if on { "suspend" } else { "unsuspend" };
        let mut audit = self.audit(ip, by.as_str(), action, Some(name.as_str()));
        audit.detail.clone_from(&reason);
        match lock(&self.store).set_suspended(&name, on, &audit) {
            Ok(true) => Ok(Decision::Suspended {
                account: name,
                by: by.clone(),
                reason,
                on,
            }),
            Ok(false) => Ok(Decision::Reply(ServerEvent::info(format!(
                "{name} is {} already",
                if on { "suspended" } else { "not suspended" }
            )))),
            Err(e @ StoreError::LastAdmin(_)) => refuse(ErrorKind::NotPermitted, e.to_string()),
            Err(e) => Err(e),
        }
    }

    fn token_login(&self, ip: IpAddr, token: &AccessToken) -> Result<Decision, StoreError> {
        let now = self.clock.now();
        if let Err(wait) = lock(&self.throttles).addresses.check(&ip, now) {
            let text = format!(
                "too many failed sign-ins from your address: try again in {}",
                wait_text(wait)
            );
            return Ok(Decision::Reply(ServerEvent::error(
                ErrorKind::Throttled,
                text,
            )));
        }
        let found = lock(&self.store).use_token(token.expose(), self.clock.wall_ms())?;
        let Some((id, credentials)) = found else {
            lock(&self.throttles).addresses.failed(&ip, now);
            let mut audit = self.audit(ip, "-", "sign_in_failed", None);
            audit.detail = Some("unknown or revoked token".into());
            lock(&self.store).audit(&audit)?;
            return Ok(Decision::Reply(ServerEvent::error(
                ErrorKind::AuthFailed,
                "unknown or revoked access token: sign in with /login <account> <password>",
            )));
        };
        let name = credentials.account.name;
        if credentials.account.suspended {
            let text = format!(
                "the account {name} is suspended: it cannot sign in (ask the server's staff)"
            );
            return Ok(Decision::Reply(ServerEvent::error(
                ErrorKind::Suspended,
                text,
            )));
        }
        let mut audit = self.audit(ip, name.as_str(), "sign_in", Some(name.as_str()));
        audit.detail = Some(format!("token {id}"));
        lock(&self.store).audit(&audit)?;
        tracing::info!(target: "rustchat::accounts", account = %name, %ip, token = id, "signed in with a token");
        Ok(Decision::SignIn(Signed {
            account: name,
            role: credentials.account.role,
        }))
    }

    fn issue_token(
        &self,
        ip: IpAddr,
        account: &Nick,
        label: Option<&str>,
    ) -> Result<Decision, StoreError> {
        let token = match store::new_access_token() {
            Ok(token) => token,
            Err(e) => {
                let event = ServerEvent::error(ErrorKind::Internal, format!("internal error: {e}"));
                return Ok(Decision::Reply(event));
            }
        };
        let mut audit = self.audit(ip, account.as_str(), "token_issued", Some(account.as_str()));
        audit.detail = label.map(str::to_owned);
        let added =
            lock(&self.store).add_token(account, &token, label, self.clock.wall_ms(), &audit);
        match added {
            Ok(id) => Ok(Decision::Reply(ServerEvent::Token {
                id,
                token,
                label: label.map(str::to_owned),
            })),
            Err(e @ StoreError::TooManyTokens(_)) => Ok(Decision::Reply(ServerEvent::error(
                ErrorKind::Usage,
                e.to_string(),
            ))),
            Err(e) => Err(e),
        }
    }

    fn revoke(&self, ip: IpAddr, account: &Nick, id: u64) -> Result<Decision, StoreError> {
        let mut audit = self.audit(
            ip,
            account.as_str(),
            "token_revoked",
            Some(account.as_str()),
        );
        audit.detail = Some(format!("token {id}"));
        if lock(&self.store).revoke_token(account, id, &audit)? {
            Ok(Decision::Reply(ServerEvent::info(format!(
                "token {id} is revoked: it signs nobody in any more"
            ))))
        } else {
            Ok(Decision::Reply(ServerEvent::error(
                ErrorKind::NoSuchToken,
                format!("you have no token {id}: /tokens lists yours"),
            )))
        }
    }

    fn passwd(
        &self,
        ip: IpAddr,
        account: &Nick,
        old: &Password,
        new: &Password,
    ) -> Result<Decision, StoreError> {
        if let Err(refusal) = self.check_password(ip, account, old)? {
            return Ok(Decision::Reply(refusal));
        }
        let hash = match hash::hash(new.expose()) {
            Ok(hash) => hash,
            Err(e) => {
                let event = ServerEvent::error(ErrorKind::Internal, format!("internal error: {e}"));
                return Ok(Decision::Reply(event));
            }
        };
        let audit = self.audit(
            ip,
            account.as_str(),
            "password_changed",
            Some(account.as_str()),
        );
        lock(&self.store).set_hash(account, &hash, &audit)?;
        Ok(Decision::Reply(ServerEvent::info(format!(
            "the password of {account} is changed"
        ))))
    }
}
