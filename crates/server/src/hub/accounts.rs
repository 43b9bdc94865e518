//! Who is signed in: the hub's side of accounts. The hub never sees a password — the account
//! service (crates/server/src/accounts.rs) checks credentials off the hub and then tells it the
//! result ([`Hub::sign_in`]), as it tells it which names are registered
//! ([`Hub::set_registered`]). Here only the consequences: nicks, events, protection.

use std::collections::HashSet;

use rustchat_proto::{ErrorKind, Nick, ServerEvent};

use super::{Hub, Signed, refuse};
use crate::accounts::store::Role;
use crate::delivery::{ConnId, Encoded, Outcome};

impl Hub {
    /// The names (by [`Nick::key`]) that belong to accounts: nobody else may `/nick` to them.
    /// Replaces the whole set (the account service reloads it when the database changes).
    pub fn set_registered(&mut self, keys: impl IntoIterator<Item = String>) {
        self.registered = keys.into_iter().collect::<HashSet<_>>();
    }

    /// The accounts as the database says now (by key, with their server role): the names to
    /// protect, and the roles of the sessions signed in to them (an operator granted or took a
    /// role with `rustchat admin` while they were signed in).
    pub fn set_accounts(&mut self, accounts: impl IntoIterator<Item = (String, Option<Role>)>) {
        let roles: std::collections::HashMap<String, Option<Role>> = accounts.into_iter().collect();
        for session in self.sessions.values_mut() {
            if let Some(account) = &session.account {
                session.role = roles.get(account.key()).copied().flatten();
            }
        }
        self.registered = roles.into_keys().collect();
    }

    /// Adds one registered name.
    pub fn add_registered(&mut self, account: &Nick) {
        self.registered.insert(account.key().to_owned());
    }

    /// Whether `nick` belongs to an account.
    pub fn is_registered(&self, nick: &Nick) -> bool {
        self.registered.contains(nick.key())
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
