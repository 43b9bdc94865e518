//! What every connection of every model shares: the hub, the history pipeline, the outboxes
//! and the counters — and the one place where a session's actions reach them.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use rustchat_proto::{Command, ErrorKind, ServerEvent};

use crate::accounts::store::AccountStore;
use crate::accounts::{Accounts, Decision, Effects, Job, Request, Ticket};
use crate::admission::{Admission, Refusal, RefusalLog};
use crate::clock::{Clock, SystemClock};
use crate::config::{HistoryMode, ServerConfig};
use crate::delivery::{ConnId, Outcome, Wire};
use crate::fanout::committer::{CommitConfig, Committer, CommitterJoin, Expiry};
use crate::fanout::outbox::{Outbox, SlowPolicy};
use crate::fanout::registry::{Registry, RegistryFanout};
use crate::history::{History, HistoryError};
use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::session::Action;
use crate::tls::Tls;

/// The server's shared state.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The settings.
    pub config: ServerConfig,
    /// Rooms and nicks. Locked briefly per command; the outcome is submitted to the committer
    /// under the same lock, so the history and every receiver see the hub's order.
    hub: Mutex<Hub>,
    /// Appends room messages (in batches), then fans out.
    committer: Committer,
    /// Outboxes of live connections.
    pub registry: Arc<Registry>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// The time: monotonic for deadlines and rates, wall for timestamps.
    pub clock: Arc<dyn Clock>,
    /// Connections per address and how fast each address opens them.
    admission: Admission,
    /// Refusals at accept are logged, a bounded number a second.
    refusal_log: RefusalLog,
    next_conn: AtomicU64,
    /// TLS on the port, if it is on.
    pub tls: Option<Tls>,
    /// Registration and sign-in, off the hub.
    accounts: Accounts,
    /// Address bans, checked at accept.
    klines: crate::klines::Klines,
}

/// Puts the actor's address on the audit entries of an outcome the hub made for its command.
fn stamp_address(outcome: &mut Outcome, ip: IpAddr) {
    for change in &mut outcome.state {
        if let crate::rules::StateChange::Audit { address, .. } = change {
            address.get_or_insert_with(|| ip.to_string());
        }
    }
}

/// The account service's way into the hub (it holds the server weakly: the server owns it).
struct HubEffects(Weak<Shared>);

impl Effects for HubEffects {
    fn decided(&self, conn: ConnId, decision: Decision, joining: bool) {
        let Some(shared) = self.0.upgrade() else {
            return;
        };
        let now = shared.clock.wall_ms();
        match (decision, joining) {
            (Decision::SignIn(signed), false) => {
                shared.with_hub(|hub| hub.sign_in(conn, signed, now));
            }
            (Decision::SignIn(signed), true) => {
                shared.with_hub(|hub| hub.connect_as(conn, Some(signed), now));
            }
            (Decision::Reply(event), false) => shared.submit(Outcome::reply(conn, event)),
            (
                Decision::Suspended {
                    account,
                    by,
                    reason,
                    on,
                },
                _,
            ) => {
                shared.with_hub(|hub| hub.suspended(conn, &account, &by, reason, on, now));
            }
            // Joins as a guest, then hears why the token did not sign it in.
            (Decision::Reply(event), true) => {
                shared.with_hub(|hub| {
                    let mut outcome = hub.connect(conn, now);
                    outcome.push(conn, &crate::delivery::Encoded::new(event));
                    outcome
                });
            }
        }
    }

    fn klines(&self, klines: Vec<crate::rules::Kline>) {
        if let Some(shared) = self.0.upgrade() {
            shared.klines.replace(klines);
        }
    }

    fn accounts(&self, accounts: Vec<crate::accounts::store::AccountSummary>) {
        if let Some(shared) = self.0.upgrade() {
            let now = shared.clock.wall_ms();
            shared.with_hub(|hub| hub.set_accounts(accounts, now));
        }
    }
}

impl Shared {
    /// Opens the history (restoring the hub's recent messages) and starts the committer.
    pub(crate) fn open(
        config: ServerConfig,
        tls: Option<Tls>,
    ) -> Result<(Arc<Self>, CommitterJoin), HistoryError> {
        Self::open_with(config, Arc::new(SystemClock), tls)
    }

    /// [`Shared::open`] with the time read from `clock` (a [`ManualClock`](crate::clock::ManualClock)
    /// in tests).
    #[cfg(test)]
    pub(crate) fn open_with_clock(
        config: ServerConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<(Arc<Self>, CommitterJoin), HistoryError> {
        Self::open_with(config, clock, None)
    }

    /// [`Shared::open`] with the time read from `clock`.
    pub(crate) fn open_with(
        config: ServerConfig,
        clock: Arc<dyn Clock>,
        tls: Option<Tls>,
    ) -> Result<(Arc<Self>, CommitterJoin), HistoryError> {
        let mut history = match (&config.history, config.history_keep) {
            (HistoryMode::File, _) => History::open(&config.data_dir.join("history.sqlite3"))?,
            (HistoryMode::Memory, None) => History::memory(),
            (HistoryMode::Memory, Some(keep)) => History::memory_keeping(keep)?,
        };
        if let (HistoryMode::File, Some(keep)) = (&config.history, config.history_keep) {
            let cut = history.keep_per_room(keep)?;
            if cut > 0 {
                tracing::info!("history: {cut} messages over --history-keep {keep} a room deleted");
            }
        }
        let mut hub_config = config.hub.clone();
        hub_config.max_age_ms = config
            .history_max_age
            .map(|age| u64::try_from(age.as_millis()).unwrap_or(u64::MAX));
        let mut hub = Hub::new(hub_config);
        hub.restore(history.recent(config.hub.history_cap)?, history.next_id()?);
        hub.restore_rules(history.rules()?);
        let klines = crate::klines::Klines::new(history.klines()?);
        // The account tables live in the history's file (one file to back up).
        let store = match config.history {
            HistoryMode::File => AccountStore::open(&config.data_dir.join("history.sqlite3")),
            HistoryMode::Memory => AccountStore::memory(),
        }
        .map_err(|source| HistoryError::Accounts { source })?;
        let accounts = Accounts::new(config.accounts, store, clock.clone());
        hub.set_accounts(
            accounts
                .summaries()
                .map_err(|source| HistoryError::Accounts { source })?,
            0,
        );
        let registry = Registry::new();
        let metrics = Arc::new(Metrics::default());
        let fanout = RegistryFanout::new(registry.clone(), metrics.clone(), clock.clone());
        let expiry = config.history_max_age.map(|max_age| Expiry {
            max_age,
            every: config.history_expire_every,
            clock: clock.clone(),
        });
        let commit = CommitConfig {
            expiry,
            ..CommitConfig::default()
        };
        let (committer, join) = Committer::start(history, fanout, commit)?;
        let admission = Admission::new(config.max_connections_per_ip, config.connect_rate);
        let shared = Self {
            admission,
            refusal_log: RefusalLog::default(),
            config,
            hub: Mutex::new(hub),
            committer,
            registry,
            metrics,
            clock,
            next_conn: AtomicU64::new(1),
            tls,
            accounts,
            klines,
        };
        let shared = Arc::new(shared);
        let effects = Arc::new(HubEffects(Arc::downgrade(&shared)));
        shared
            .accounts
            .start(effects)
            .map_err(HistoryError::spawn)?;
        Ok((shared, join))
    }

    /// A connection from `peer` was accepted: counted as open, or refused (server full, or a
    /// limit of its address) and counted as refused. Each admitted connection is
    /// [`release`](Self::release)d once when it ends.
    pub(crate) fn admit(&self, peer: SocketAddr) -> Result<(), Refusal> {
        self.metrics.connection_opened();
        let banned = self.klines.banned(peer.ip(), self.clock.wall_ms());
        let admitted = if let Some(remaining_ms) = banned {
            Err(Refusal::Banned { remaining_ms })
        } else if self.metrics.open_now() >= self.config.max_connections as u64 {
            Err(Refusal::Full {
                limit: self.config.max_connections,
            })
        } else {
            self.admission
                .admit(peer.ip(), self.clock.now())
                .inspect_err(|_| {
                    self.metrics.address_refusal();
                })
        };
        match admitted {
            // Counted at accept, so a burst cannot slip past the limit before sessions start
            // (and connections waiting for a pool worker count too).
            Ok(()) => self.metrics.open_connections(1),
            Err(refusal) => {
                self.metrics.connection_refused();
                self.refusal_log
                    .log(peer, &refusal.text(), self.clock.now());
            }
        }
        admitted
    }

    /// Logs a connection refused while it opened (an HTTP error answer, a plaintext client
    /// where TLS is required, a failed TLS handshake): the same bounded log as refusals at
    /// accept, ten a second then a count.
    pub(crate) fn log_refusal(&self, peer: SocketAddr, why: &str) {
        self.refusal_log.log(peer, why, self.clock.now());
    }

    /// A connection [`admit`](Self::admit) let in has ended.
    pub(crate) fn release(&self, peer: SocketAddr) {
        self.metrics.open_connections(-1);
        self.admission.release(peer.ip());
    }

    fn hub(&self) -> MutexGuard<'_, Hub> {
        self.hub.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A fresh connection id and its outbox, registered for fan-out.
    pub(crate) fn open_conn(
        &self,
        wire: Wire,
        deflate: Option<rustchat_ws::DeflateConfig>,
    ) -> (ConnId, Arc<Outbox>) {
        let conn = ConnId(self.next_conn.fetch_add(1, Ordering::Relaxed));
        let policy = SlowPolicy::new(self.config.outbox_limit, self.config.slow_consumer_grace);
        let outbox = Outbox::new(policy, wire, deflate);
        self.registry.insert(conn, outbox.clone());
        (conn, outbox)
    }

    /// Carries out a session's action.
    /// (`ip`: the client's address, for the audit log of what it does.)
    pub(crate) fn apply(&self, conn: ConnId, ip: IpAddr, action: Action, outbox: &Outbox) {
        let now = self.clock.wall_ms();
        match action {
            Action::Register => self.with_hub(|hub| hub.connect(conn, now)),
            Action::Command(command) => {
                self.metrics.command();
                if let rustchat_proto::Command::Say(text) | rustchat_proto::Command::Me(text) =
                    &command
                {
                    // At debug: the history has them already, and at info this line cost a
                    // quarter of the server's CPU flat out (docs/PERFORMANCE.md). Debug
                    // formatting escapes control characters and bidi overrides for the operator.
                    tracing::debug!(target: "rustchat::chat", %conn, "{text:?}");
                }
                match command {
                    rustchat_proto::Command::Kline { .. }
                    | rustchat_proto::Command::Unkline(_)
                    | rustchat_proto::Command::Klines => self.kline(conn, ip, command, now),
                    command => self.with_hub(|hub| {
                        let mut outcome = hub.handle(conn, command, now);
                        stamp_address(&mut outcome, ip);
                        outcome
                    }),
                }
            }
            // Replies go through the committer too, so they never overtake earlier events.
            Action::Reply(event) => self.submit(Outcome::reply(conn, event)),
            Action::Wire(wire) => outbox.set_wire(wire),
            // Through the committer too, so the close comes after every earlier reply.
            Action::Close(ending) => self.submit(Outcome::close(conn, ending)),
        }
    }

    /// Starts an account command (`/register`, `/login`, `/passwd`) for `conn`, connected
    /// from `ip`: refusals that need only the hub are answered at once (`None`); otherwise the
    /// job goes to the account service and the returned ticket says when it is decided —
    /// until then the caller must not hand this connection's further input on (see accounts.rs).
    pub(crate) fn submit_account(
        &self,
        conn: ConnId,
        ip: IpAddr,
        command: Command,
        outbox: &Arc<Outbox>,
    ) -> Option<Arc<Ticket>> {
        self.metrics.command();
        let request = {
            let hub = self.hub();
            let (Some(nick), account) = (hub.nick(conn), hub.account(conn)) else {
                return None;
            };
            let refuse = |kind, text: String| Err((kind, text));
            let request = match command {
                Command::Register { .. } if account.is_some() => refuse(
                    ErrorKind::AlreadyRegistered,
                    format!("you are signed in to {nick} already"),
                ),
                Command::Register { .. } if nick.is_guest() => refuse(
                    ErrorKind::InvalidNick,
                    format!(
                        "{nick} is a guest name and cannot be registered: pick a nick with \
                         /nick <name>, then /register <password>"
                    ),
                ),
                Command::Register { .. } if hub.is_registered(nick) => refuse(
                    ErrorKind::AlreadyRegistered,
                    format!(
                        "{nick} is registered already — /login {nick} <password> if it is yours"
                    ),
                ),
                Command::Register { password, invite } => Ok(Request::Register {
                    nick: nick.clone(),
                    password,
                    invite,
                }),
                Command::Login { account, password } => Ok(Request::Login { account, password }),
                Command::LoginToken(token) => Ok(Request::TokenLogin { token }),
                Command::Token(_) | Command::Tokens | Command::Revoke(_) if account.is_none() => {
                    refuse(
                        ErrorKind::NotSignedIn,
                        "you are not signed in: /login <account> <password> first — tokens \
                         belong to accounts"
                            .into(),
                    )
                }
                Command::Token(label) => Ok(Request::IssueToken {
                    account: account.cloned().unwrap_or_else(|| nick.clone()),
                    label,
                }),
                Command::Tokens => Ok(Request::ListTokens {
                    account: account.cloned().unwrap_or_else(|| nick.clone()),
                }),
                Command::Revoke(id) => Ok(Request::Revoke {
                    account: account.cloned().unwrap_or_else(|| nick.clone()),
                    id,
                }),
                Command::Suspend { .. } | Command::Unsuspend(_) if hub.staff(conn).is_none() => {
                    refuse(
                        ErrorKind::NotPermitted,
                        "only server moderators and admins suspend accounts".into(),
                    )
                }
                Command::Suspend {
                    account: target,
                    reason,
                } => Ok(Request::Suspend {
                    by: nick.clone(),
                    role: hub
                        .role(conn)
                        .unwrap_or(crate::accounts::store::Role::Moderator),
                    account: target,
                    reason,
                    on: true,
                }),
                Command::Unsuspend(target) => Ok(Request::Suspend {
                    by: nick.clone(),
                    role: hub
                        .role(conn)
                        .unwrap_or(crate::accounts::store::Role::Moderator),
                    account: target,
                    reason: None,
                    on: false,
                }),
                Command::Passwd { old, new } => match account {
                    Some(account) => Ok(Request::Passwd {
                        account: account.clone(),
                        old,
                        new,
                    }),
                    None => refuse(
                        ErrorKind::NotSignedIn,
                        "you are not signed in: /login <account> <password> first".into(),
                    ),
                },
                other => {
                    drop(hub);
                    self.with_hub(|hub| hub.handle(conn, other, self.clock.wall_ms()));
                    return None;
                }
            };
            match request {
                Ok(request) => request,
                Err((kind, text)) => {
                    drop(hub);
                    self.submit(Outcome::reply(conn, ServerEvent::error(kind, text)));
                    return None;
                }
            }
        };
        self.queue_account_job(conn, ip, request, outbox, false)
    }

    /// A client that gave an access token on the WebSocket upgrade joins the chat signed in
    /// (or as a guest told why not) once the account service has checked it; the ticket says
    /// when. `None`: it joined at once as a guest (the service was busy).
    pub(crate) fn connect_with_token(
        &self,
        conn: ConnId,
        ip: IpAddr,
        token: rustchat_proto::AccessToken,
        outbox: &Arc<Outbox>,
    ) -> Option<Arc<Ticket>> {
        self.queue_account_job(conn, ip, Request::TokenLogin { token }, outbox, true)
    }

    fn queue_account_job(
        &self,
        conn: ConnId,
        ip: IpAddr,
        request: Request,
        outbox: &Arc<Outbox>,
        joining: bool,
    ) -> Option<Arc<Ticket>> {
        let ticket = Arc::new(Ticket::default());
        let job = Job {
            conn,
            ip,
            request,
            ticket: ticket.clone(),
            outbox: outbox.clone(),
            joining,
        };
        if self.accounts.submit(job).is_ok() {
            return Some(ticket);
        }
        let now = self.clock.wall_ms();
        let busy = ServerEvent::error(
            ErrorKind::Busy,
            "the server is busy signing people in: try again in a few seconds",
        );
        if joining {
            self.with_hub(|hub| {
                let mut outcome = hub.connect(conn, now);
                outcome.push(conn, &crate::delivery::Encoded::new(busy));
                outcome
            });
        } else {
            self.submit(Outcome::reply(conn, busy));
        }
        None
    }

    /// `/kline`, `/unkline`, `/klines`: server staff only. A change is written (with its audit
    /// entry) by the committer before the answer goes out; new connections from the range are
    /// refused at once (those already open stay: kick or ban them in their rooms).
    fn kline(&self, conn: ConnId, ip: IpAddr, command: Command, now: u64) {
        use crate::rules::{Kline, StateChange};
        let Some(by) = self.hub().staff(conn) else {
            let refusal = ServerEvent::error(
                ErrorKind::NotPermitted,
                "only server moderators and admins ban addresses",
            );
            return self.submit(Outcome::reply(conn, refusal));
        };
        let audit = |action: &str, target: String, detail: Option<String>| StateChange::Audit {
            ts: now,
            actor: by.to_string(),
            action: action.to_owned(),
            target: Some(target),
            address: Some(ip.to_string()),
            detail,
        };
        let mut outcome = Outcome::default();
        let reply = match command {
            Command::Kline {
                net,
                duration,
                reason,
            } => {
                let kline = Kline {
                    net,
                    until: duration.map(|d| now.saturating_add(d)),
                    by: by.to_string(),
                    reason: reason.clone(),
                };
                if self.klines.add(kline.clone(), now) {
                    outcome.state.push(StateChange::Kline(kline));
                    outcome.state.push(audit("kline", net.to_string(), reason));
                    let how_long = duration
                        .map(|d| format!(" for {}", rustchat_proto::duration_text(d)))
                        .unwrap_or_default();
                    ServerEvent::info(format!(
                        "connections from {net} are refused now{how_long} (those open stay)"
                    ))
                } else {
                    ServerEvent::error(
                        ErrorKind::Usage,
                        format!(
                            "{} address bans already, the most kept: lift some with /unkline",
                            crate::klines::MAX_KLINES
                        ),
                    )
                }
            }
            Command::Unkline(net) => {
                if self.klines.remove(&net) {
                    outcome.state.push(StateChange::Unkline(net));
                    outcome.state.push(audit("unkline", net.to_string(), None));
                    ServerEvent::info(format!("{net} may connect again"))
                } else {
                    ServerEvent::error(
                        ErrorKind::NoSuchNick,
                        format!("{net} is not banned: /klines lists the bans"),
                    )
                }
            }
            _ => {
                let list = self.klines.list(now);
                let mut text = format!("address bans ({}):", list.len());
                for kline in list {
                    let until = kline.until.map_or("until lifted".to_owned(), |u| {
                        format!("for another {} min", u.saturating_sub(now).div_ceil(60_000))
                    });
                    let reason = kline.reason.map(|r| format!(" ({r})")).unwrap_or_default();
                    text += &format!("\n  {} {until}, by {}{reason}", kline.net, kline.by);
                }
                ServerEvent::info(text)
            }
        };
        outcome.push(conn, &crate::delivery::Encoded::new(reply));
        self.submit(outcome);
    }

    /// The nick `conn` has in the chat, if it has joined.
    pub(crate) fn nick_of(&self, conn: ConnId) -> Option<String> {
        self.hub().nick(conn).map(ToString::to_string)
    }

    /// The connection is gone: tell its rooms, forget it. Returns the nick it had, if it had
    /// joined the chat (for the log).
    pub(crate) fn close_conn(&self, conn: ConnId, reason: Option<String>) -> Option<String> {
        let mut nick = None;
        self.with_hub(|hub| {
            nick = hub.nick(conn).map(ToString::to_string);
            hub.disconnect(conn, reason, self.clock.wall_ms())
        });
        self.registry.remove(conn);
        nick
    }

    fn with_hub(&self, f: impl FnOnce(&mut Hub) -> Outcome) {
        let mut hub = self.hub();
        let outcome = f(&mut hub);
        self.submit(outcome);
    }

    fn submit(&self, outcome: Outcome) {
        if outcome.record.is_none()
            && outcome.state.is_empty()
            && outcome.deliveries.is_empty()
            && outcome.close.is_none()
        {
            return;
        }
        if self.committer.submit(outcome).is_err() {
            tracing::warn!("the history committer has stopped: an event was dropped");
        }
    }

    /// The `/metrics` page.
    pub(crate) fn metrics_text(&self) -> String {
        let hub = self.hub().stats();
        let commit = self.committer.stats();
        let mut text = self.metrics.render(&[
            (
                "rustchat_users",
                "Chat users connected to the hub.",
                hub.connections as u64,
            ),
            ("rustchat_rooms", "Rooms with members.", hub.rooms as u64),
            (
                "rustchat_messages_total",
                "Room and private messages accepted.",
                hub.messages,
            ),
            (
                "rustchat_history_batches_total",
                "History transactions committed.",
                commit.batches(),
            ),
            (
                "rustchat_history_appended_total",
                "Messages appended to the history.",
                commit.appended(),
            ),
            (
                "rustchat_history_errors_total",
                "History appends that failed.",
                commit.errors(),
            ),
            (
                "rustchat_history_expired_total",
                "Messages deleted from the history for their age (--history-max-age).",
                commit.expired(),
            ),
            (
                "rustchat_history_cut_total",
                "Messages deleted from the history by the bound per room (--history-keep).",
                commit.cut(),
            ),
            (
                "rustchat_history_db_bytes",
                "Size of the history database on disk, its write-ahead log included (0 in memory).",
                self.history_bytes(),
            ),
        ]);
        if let Some(tls) = &self.tls {
            tls.render_metrics(&mut text);
        }
        text
    }

    /// The history database's size on disk (file and write-ahead log), 0 in memory.
    fn history_bytes(&self) -> u64 {
        if self.config.history != HistoryMode::File {
            return 0;
        }
        let file = self.config.data_dir.join("history.sqlite3");
        let size = |path: &std::path::Path| std::fs::metadata(path).map_or(0, |m| m.len());
        size(&file) + size(&file.with_extension("sqlite3-wal"))
    }

    /// Stops the committer after everything submitted is committed and delivered.
    pub(crate) fn shutdown_history(&self) {
        self.accounts.close();
        self.committer.close();
    }
}
