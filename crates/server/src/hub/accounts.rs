//! Who is signed in: the hub's side of accounts. The hub never sees a password — the account
//! service (crates/server/src/accounts.rs) checks credentials off the hub and then tells it the
//! result ([`Hub::sign_in`]), as it tells it which names are registered, with their roles
//! ([`Hub::set_accounts`]). Here only the consequences: nicks, events, protection.

use rustchat_proto::{ErrorKind, Nick, ServerEvent};

use super::{Hub, Signed, refuse};
use crate::accounts::store::{AccountSummary, Role};
use crate::delivery::{ConnId, Encoded, Outcome};

impl Hub {
    /// The accounts as the database says now (by key, with their server role): the names to
    /// protect, and the roles of the sessions signed in to them (an operator granted or took a
    /// role with `rustchat admin` while they were signed in).
    ///
    /// A session signed in to an account that is suspended now is signed out.
    pub fn set_accounts(
        &mut self,
        accounts: impl IntoIterator<Item = AccountSummary>,
        now: u64,
    ) -> Outcome {
        let accounts: std::collections::HashMap<String, AccountSummary> =
            accounts.into_iter().map(|a| (a.key.clone(), a)).collect();
        let mut suspended = Vec::new();
        for session in self.sessions.values_mut() {
            if let Some(account) = &session.account {
                let summary = accounts.get(account.key());
                session.role = summary.and_then(|a| a.role);
                if summary.is_some_and(|a| a.suspended) {
                    suspended.push(account.clone());
                }
            }
        }
        self.registered = accounts.into_keys().collect();
        let mut outcome = Outcome::default();
        for account in suspended {
            let reason = "your account was suspended by the server's operator".to_owned();
            self.sign_out_everywhere(&account, &reason, now, &mut outcome);
        }
        outcome
    }

    /// The server's role of `conn`'s account, if it is signed in to one that has one.
    pub fn role(&self, conn: ConnId) -> Option<Role> {
        self.sessions.get(&conn)?.role
    }

    /// `account` was suspended (`on`) by `by` (from `conn`) or let back: its sessions are
    /// signed out (`SignedOut` saying who and why), and `conn` is told it is done.
    pub fn suspended(
        &mut self,
        conn: ConnId,
        account: &Nick,
        by: &Nick,
        reason: Option<String>,
        on: bool,
        now: u64,
    ) -> Outcome {
        let mut outcome = Outcome::default();
        let done = if on {
            let why = reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default();
            let text = format!("your account was suspended by {by}{why}");
            self.sign_out_everywhere(account, &text, now, &mut outcome);
            format!("{account} is suspended: signed out, and cannot sign in")
        } else {
            format!("{account} may sign in again")
        };
        outcome.push(conn, &Encoded::new(ServerEvent::info(done)));
        outcome
    }

    /// Signs out every session signed in to `account`, giving each a guest name.
    fn sign_out_everywhere(
        &mut self,
        account: &Nick,
        reason: &str,
        now: u64,
        outcome: &mut Outcome,
    ) {
        let holders: Vec<ConnId> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.account.as_ref().map(Nick::key) == Some(account.key()))
            .map(|(conn, _)| *conn)
            .collect();
        for holder in holders {
            if let Some(session) = self.sessions.get_mut(&holder) {
                session.account = None;
                session.role = None;
            }
            let event = ServerEvent::SignedOut {
                reason: reason.to_owned(),
            };
            outcome.push(holder, &Encoded::new(event));
            let guest = self.fresh_guest();
            self.rename(holder, guest, now, outcome);
        }
    }

    /// Whether `nick` belongs to an account.
    pub fn is_registered(&self, nick: &Nick) -> bool {
        self.registered.contains(nick.key())
    }

    /// `conn`'s nick if it is server staff (signed in to an account with a server role).
    pub fn staff(&self, conn: ConnId) -> Option<Nick> {
        let session = self.sessions.get(&conn)?;
        session.role.map(|_| session.nick.clone())
    }

    /// The account `conn` is signed in to, if any.
    pub fn account(&self, conn: ConnId) -> Option<&Nick> {
        self.sessions.get(&conn)?.account.as_ref()
    }

    /// `conn` proved it owns `account` (the account service checked its password): it takes
    /// the account's nick and keeps it while signed in. Whoever held the nick is renamed to a
    /// fresh guest name (told why); a session signed in to the same account elsewhere is
    /// signed out (`SignedOut`: the newest sign-in wins). `SignedIn` goes to `conn`,
    /// `NickChanged` to everyone who shares a room with a renamed session. A `conn` that has
    /// gone meanwhile gets nothing, and nothing changes.
    pub fn sign_in(&mut self, conn: ConnId, signed: Signed, now: u64) -> Outcome {
        let Signed { account, role } = signed;
        let mut outcome = Outcome::default();
        if !self.sessions.contains_key(&conn) {
            return outcome;
        }
        self.registered.insert(account.key().to_owned());
        self.evict(conn, &account, now, &mut outcome);
        if let Some(session) = self.sessions.get_mut(&conn) {
            session.account = Some(account.clone());
            session.role = role;
        }
        self.rename(conn, account.clone(), now, &mut outcome);
        outcome.push(conn, &Encoded::new(ServerEvent::SignedIn { account }));
        outcome
    }

    /// Whoever other than `conn` holds `account`'s nick gets a fresh guest name: signed out if
    /// it was signed in to the account (the newest sign-in wins), else told why.
    pub(super) fn evict(&mut self, conn: ConnId, account: &Nick, now: u64, outcome: &mut Outcome) {
        let Some(&holder) = self.nicks.get(account.key()) else {
            return;
        };
        if holder == conn {
            return;
        }
        let was_signed_in = self
            .sessions
            .get(&holder)
            .is_some_and(|s| s.account.as_ref().map(Nick::key) == Some(account.key()));
        if was_signed_in {
            if let Some(session) = self.sessions.get_mut(&holder) {
                session.account = None;
                session.role = None;
            }
            let reason = format!("{account} signed in from another connection");
            outcome.push(holder, &Encoded::new(ServerEvent::SignedOut { reason }));
        } else {
            let text = format!(
                "{account} is a registered nick and its owner signed in: you get a guest \
                 name — pick another with /nick <name>"
            );
            outcome.push(holder, &Encoded::new(ServerEvent::info(text)));
        }
        let guest = self.fresh_guest();
        self.rename(holder, guest, now, outcome);
    }

    /// `/logout`: the session leaves its account and becomes a guest (a fresh guest name, so
    /// the account's nick is free for its owner); `SignedOut` to it, `NickChanged` to its
    /// room mates. Not signed in: `NotSignedIn`.
    pub(super) fn sign_out(&mut self, conn: ConnId, now: u64) -> Outcome {
        let Some(session) = self.sessions.get_mut(&conn) else {
            return Outcome::default();
        };
        session.role = None;
        if session.account.take().is_none() {
            return refuse(
                conn,
                ErrorKind::NotSignedIn,
                "you are not signed in: /login <account> <password> signs in",
            );
        }
        let mut outcome = Outcome::default();
        let reason = "you signed out".to_owned();
        outcome.push(conn, &Encoded::new(ServerEvent::SignedOut { reason }));
        let guest = self.fresh_guest();
        self.rename(conn, guest, now, &mut outcome);
        outcome
    }

    /// Gives `conn` the nick `new` (free, or held by `conn` itself in another case) and tells
    /// it and its room mates; the same spelling is no change.
    pub(super) fn rename(&mut self, conn: ConnId, new: Nick, now: u64, outcome: &mut Outcome) {
        let Some(old) = self.sessions.get(&conn).map(|s| s.nick.clone()) else {
            return;
        };
        if old.as_str() == new.as_str() {
            return;
        }
        if self.nicks.get(old.key()) == Some(&conn) {
            self.nicks.remove(old.key());
        }
        self.nicks.insert(new.key().to_owned(), conn);
        let receivers = self.room_mates(conn);
        if let Some(session) = self.sessions.get_mut(&conn) {
            session.nick = new.clone();
        }
        let event = Encoded::new(ServerEvent::NickChanged { old, new, ts: now });
        outcome.push_all(receivers, &event);
    }
}
