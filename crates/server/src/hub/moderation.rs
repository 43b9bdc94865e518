//! Room moderation: who may do what in a room, and what it does. The rules themselves
//! (`RoomRules`, rules.rs) are data; this is the hub's side — checks on joining and speaking,
//! and the moderation commands. Every change is handed to the history (`Outcome::state`) to
//! be made durable before anyone hears of it, with an audit entry naming who did it.
//!
//! Who may:
//! - server admins and moderators: everything, in every room — except that a moderator cannot
//!   act on an admin;
//! - a room's owner (the account that ran `/room register`): everything in that room,
//!   including `/op` and `/deop`;
//! - a room's operators: kick, ban, mute, voice, topic, modes, invite — never on the owner
//!   or on server staff;
//! - anyone: see a room's topic and modes, and register a room nobody owns while signed in
//!   and in it.

use rustchat_proto::{
    Command, ErrorKind, ModAction, Mode, ModeChange, Nick, RoomName, RoomRole, ServerEvent,
    duration_text,
};

use super::{Hub, inform, refuse};
use crate::accounts::store::Role;
use crate::delivery::{ConnId, Encoded, Outcome};
use crate::rules::{RoomRules, Sanction, StateChange, TopicSet};

/// How much a session may do in a room, from least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Rank {
    Member,
    Operator,
    Owner,
    Moderator,
    Admin,
}

/// Who a moderation command is about.
struct Target {
    nick: Nick,
    conn: Option<ConnId>,
    /// The key rules are kept under: the account's if signed in, else the nick's.
    key: String,
    account: Option<Nick>,
}

impl Hub {
    /// Seeds the rooms' rules at startup (from the history).
    pub fn restore_rules(&mut self, rules: impl IntoIterator<Item = (RoomName, RoomRules)>) {
        self.rules.extend(rules);
    }

    /// The key `conn`'s rules are kept under: its account's, or its nick's.
    fn identity(&self, conn: ConnId) -> Option<String> {
        let session = self.sessions.get(&conn)?;
        Some(
            session
                .account
                .as_ref()
                .unwrap_or(&session.nick)
                .key()
                .to_owned(),
        )
    }

    fn rank(&self, conn: ConnId, room: &RoomName) -> Rank {
        let Some(session) = self.sessions.get(&conn) else {
            return Rank::Member;
        };
        match session.role {
            Some(Role::Admin) => return Rank::Admin,
            Some(Role::Moderator) => return Rank::Moderator,
            None => {}
        }
        let (Some(account), Some(rules)) = (&session.account, self.rules.get(room)) else {
            return Rank::Member;
        };
        if rules
            .owner
            .as_deref()
            .is_some_and(|owner| owner.eq_ignore_ascii_case(account.as_str()))
        {
            Rank::Owner
        } else if rules.operators.contains(account.key()) {
            Rank::Operator
        } else {
            Rank::Member
        }
    }

    /// The rank a target holds in `room` whether or not it is connected (by its key).
    fn target_rank(&self, target: &Target, room: &RoomName) -> Rank {
        if let Some(conn) = target.conn {
            return self.rank(conn, room);
        }
        let Some(rules) = self.rules.get(room) else {
            return Rank::Member;
        };
        if rules
            .owner
            .as_deref()
            .is_some_and(|o| o.eq_ignore_ascii_case(&target.key))
        {
            Rank::Owner
        } else if rules.operators.contains(&target.key) {
            Rank::Operator
        } else {
            Rank::Member
        }
    }

    fn resolve(&self, nick: &Nick) -> Target {
        let conn = self.nicks.get(nick.key()).copied();
        let session = conn.and_then(|c| self.sessions.get(&c));
        let account = session.and_then(|s| s.account.clone());
        let nick = session.map_or_else(|| nick.clone(), |s| s.nick.clone());
        let key = account.as_ref().unwrap_or(&nick).key().to_owned();
        Target {
            nick,
            conn,
            key,
            account,
        }
    }

    /// Whether `conn` may join `room` now (with `key`, if it gave one); the refusal if not.
    /// Server staff and the room's operators pass every mode; a ban holds for all but staff.
    pub(super) fn may_join(
        &mut self,
        conn: ConnId,
        room: &RoomName,
        key: Option<&str>,
        now: u64,
    ) -> Result<(), Box<Outcome>> {
        let rank = self.rank(conn, room);
        let identity = self.identity(conn).unwrap_or_default();
        let signed_in = self
            .sessions
            .get(&conn)
            .is_some_and(|s| s.account.is_some());
        let Some(rules) = self.rules.get(room) else {
            return Ok(());
        };
        let no = |kind, text: String| Err(Box::new(refuse(conn, kind, text)));
        if rank < Rank::Moderator
            && let Some(ban) = rules.bans.get(&identity).filter(|b| b.holds(now))
        {
            return no(ErrorKind::Banned, banned_text(room, ban, now));
        }
        if rank >= Rank::Operator {
            return Ok(());
        }
        if rules.registered_only && !signed_in {
            return no(
                ErrorKind::RegisteredOnly,
                format!("{room} is for signed-in users only (+R): /login or /register first"),
            );
        }
        let invited = self
            .invites
            .get(room)
            .is_some_and(|invited| invited.contains(&identity));
        if rules.invite_only && !invited {
            return no(
                ErrorKind::InviteOnly,
                format!("{room} is invite-only (+i): ask one of its operators to /invite you"),
            );
        }
        if let Some(wanted) = &rules.key
            && key != Some(wanted.as_str())
            && !invited
        {
            let text = match key {
                None => format!("{room} needs a key (+k): /join {room} <key>"),
                Some(_) => format!("wrong key for {room}: ask one of its operators for it"),
            };
            return no(ErrorKind::BadKey, text);
        }
        if let Some(invited) = self.invites.get_mut(room) {
            invited.remove(&identity);
        }
        Ok(())
    }

    /// Whether `conn` may speak in `room` now; the refusal if not.
    pub(super) fn may_speak(
        &self,
        conn: ConnId,
        room: &RoomName,
        now: u64,
    ) -> Result<(), Box<Outcome>> {
        let Some(rules) = self.rules.get(room) else {
            return Ok(());
        };
        let rank = self.rank(conn, room);
        if rank >= Rank::Operator {
            return Ok(());
        }
        let identity = self.identity(conn).unwrap_or_default();
        if let Some(mute) = rules.mutes.get(&identity).filter(|m| m.holds(now)) {
            let until = mute
                .until
                .map(|u| format!(" for another {}", remaining(u.saturating_sub(now))))
                .unwrap_or_default();
            let text = format!("you are muted in {room}{until}: nobody hears you there");
            return Err(Box::new(refuse(conn, ErrorKind::Muted, text)));
        }
        if rules.moderated && !rules.voiced.contains(&identity) {
            let text = format!(
                "{room} is moderated (+m): only voiced members and operators speak — ask an \
                 operator for /voice"
            );
            return Err(Box::new(refuse(conn, ErrorKind::Moderated, text)));
        }
        Ok(())
    }

    /// The roles of `room`'s members, for `Members`.
    pub(super) fn member_roles(
        &self,
        room: &RoomName,
        nicks: &[Nick],
    ) -> std::collections::BTreeMap<String, RoomRole> {
        let mut roles = std::collections::BTreeMap::new();
        let Some(rules) = self.rules.get(room) else {
            return roles;
        };
        for nick in nicks {
            let Some(conn) = self.nicks.get(nick.key()) else {
                continue;
            };
            let key = self.identity(*conn).unwrap_or_default();
            let signed_in = self.sessions.get(conn).is_some_and(|s| s.account.is_some());
            let owner = rules
                .owner
                .as_deref()
                .is_some_and(|o| o.eq_ignore_ascii_case(&key));
            if signed_in && (owner || rules.operators.contains(&key)) {
                roles.insert(nick.to_string(), RoomRole::Operator);
            } else if rules.voiced.contains(&key) {
                roles.insert(nick.to_string(), RoomRole::Voiced);
            }
        }
        roles
    }

    /// The topic a joiner of `room` is shown, if it has one.
    pub(super) fn topic_event(&self, room: &RoomName) -> Option<ServerEvent> {
        let topic = self.rules.get(room)?.topic.as_ref()?;
        Some(ServerEvent::Topic {
            room: room.clone(),
            text: Some(topic.text.clone()),
            by: Nick::parse_known(&topic.by).ok(),
            ts: topic.ts,
        })
    }

    /// The modes a joiner of `room` is shown, if it has any.
    pub(super) fn modes_event(&self, room: &RoomName, now: u64) -> Option<ServerEvent> {
        let modes = self.rules.get(room)?.modes();
        (!modes.is_empty()).then(|| ServerEvent::Modes {
            room: room.clone(),
            modes,
            by: None,
            ts: now,
        })
    }

    /// The moderation commands: see the module docs for who may.
    pub(super) fn moderate(&mut self, conn: ConnId, command: Command, now: u64) -> Outcome {
        match command {
            Command::RoomRegister(room) => self.register_room(conn, room, now),
            Command::Kick { room, nick, reason } => {
                self.sanction(conn, room, &nick, ModAction::Kicked, None, reason, now)
            }
            Command::Ban {
                room,
                nick,
                duration,
                reason,
            } => self.sanction(conn, room, &nick, ModAction::Banned, duration, reason, now),
            Command::Unban { room, nick } => {
                self.sanction(conn, room, &nick, ModAction::Unbanned, None, None, now)
            }
            Command::Mute {
                room,
                nick,
                duration,
            } => self.sanction(conn, room, &nick, ModAction::Muted, duration, None, now),
            Command::Unmute { room, nick } => {
                self.sanction(conn, room, &nick, ModAction::Unmuted, None, None, now)
            }
            Command::RoomRole {
                room,
                nick,
                role,
                on,
            } => {
                let action = match (role, on) {
                    (RoomRole::Operator, true) => ModAction::Opped,
                    (RoomRole::Operator, false) => ModAction::Deopped,
                    (RoomRole::Voiced, true) => ModAction::Voiced,
                    (RoomRole::Voiced, false) => ModAction::Devoiced,
                };
                self.sanction(conn, room, &nick, action, None, None, now)
            }
            Command::Topic { room, text } => self.topic(conn, room, text, now),
            Command::Mode { room, changes } => self.modes(conn, room, changes, now),
            Command::Invite { nick, room } => self.invite(conn, &nick, room, now),
            Command::Redact { id, reason } => self.redact(conn, id, reason, now),
            _ => Outcome::default(),
        }
    }

    fn register_room(&mut self, conn: ConnId, room: RoomName, now: u64) -> Outcome {
        let Some(session) = self.sessions.get(&conn) else {
            return Outcome::default();
        };
        let Some(account) = session.account.clone() else {
            return refuse(
                conn,
                ErrorKind::NotSignedIn,
                format!(
                    "rooms are registered by accounts: /login first, then /room register {room}"
                ),
            );
        };
        if !session.rooms.contains(&room) {
            return refuse(
                conn,
                ErrorKind::NotInRoom,
                format!("you are not in {room}: /join {room} first"),
            );
        }
        let rules = self.rules.entry(room.clone()).or_default();
        if let Some(owner) = &rules.owner {
            return refuse(
                conn,
                ErrorKind::NotPermitted,
                format!("{room} is registered already, by {owner}"),
            );
        }
        rules.owner = Some(account.to_string());
        let event = ServerEvent::Moderated {
            room: room.clone(),
            action: ModAction::Registered,
            target: account.clone(),
            by: account.clone(),
            reason: None,
            until: None,
            ts: now,
        };
        let mut outcome = self.announce(&room, event);
        self.persist(&room, &mut outcome);
        outcome
            .state
            .push(audit(now, &account, "room_register", room.as_str(), None));
        outcome
    }

    /// Kick, ban, unban, mute, unmute, op, deop, voice, devoice.
    #[allow(
        clippy::too_many_arguments,
        reason = "one command's fields, passed on as they came"
    )]
    fn sanction(
        &mut self,
        conn: ConnId,
        room: RoomName,
        nick: &Nick,
        action: ModAction,
        duration: Option<u64>,
        reason: Option<String>,
        now: u64,
    ) -> Outcome {
        let Some(by) = self.sessions.get(&conn).map(|s| s.nick.clone()) else {
            return Outcome::default();
        };
        let rank = self.rank(conn, &room);
        let needed = match action {
            ModAction::Opped | ModAction::Deopped => Rank::Owner,
            _ => Rank::Operator,
        };
        if rank < needed {
            let who = if needed == Rank::Owner {
                "its owner or server staff"
            } else {
                "its operators"
            };
            return refuse(
                conn,
                ErrorKind::NotPermitted,
                format!("only {who} may do that in {room}"),
            );
        }
        let target = self.resolve(nick);
        if target.conn == Some(conn) {
            return refuse(
                conn,
                ErrorKind::NotPermitted,
                "you cannot do that to yourself".to_owned(),
            );
        }
        let target_rank = self.target_rank(&target, &room);
        if target_rank >= rank && target_rank > Rank::Member {
            return refuse(
                conn,
                ErrorKind::NotPermitted,
                format!(
                    "{} outranks or equals you in {room}: you cannot do that to them",
                    target.nick
                ),
            );
        }
        let in_room = target.conn.is_some_and(|c| {
            self.sessions
                .get(&c)
                .is_some_and(|s| s.rooms.contains(&room))
        });
        if action == ModAction::Kicked && !in_room {
            return refuse(
                conn,
                ErrorKind::NoSuchNick,
                format!("{} is not in {room}", target.nick),
            );
        }
        if action == ModAction::Opped && target.account.is_none() {
            return refuse(
                conn,
                ErrorKind::NotSignedIn,
                format!(
                    "{} is not signed in: operators must have accounts (they sign in with /login)",
                    target.nick
                ),
            );
        }
        let until = duration.map(|d| now.saturating_add(d));
        let sanction = Sanction {
            until,
            by: by.to_string(),
            reason: reason.clone(),
        };
        let rules = self.rules.entry(room.clone()).or_default();
        rules.expire(now);
        let changed = match action {
            ModAction::Kicked => true,
            ModAction::Banned => {
                rules.bans.insert(target.key.clone(), sanction);
                true
            }
            ModAction::Unbanned => rules.bans.remove(&target.key).is_some(),
            ModAction::Muted => {
                rules.mutes.insert(target.key.clone(), sanction);
                true
            }
            ModAction::Unmuted => rules.mutes.remove(&target.key).is_some(),
            ModAction::Opped => rules.operators.insert(target.key.clone()),
            ModAction::Deopped => rules.operators.remove(&target.key),
            ModAction::Voiced => rules.voiced.insert(target.key.clone()),
            ModAction::Devoiced => rules.voiced.remove(&target.key),
            ModAction::Registered | ModAction::Other => false,
        };
        if !changed {
            let state = match action {
                ModAction::Unbanned => "is not banned",
                ModAction::Unmuted => "is not muted",
                ModAction::Opped => "is an operator already",
                ModAction::Deopped => "is not an operator",
                ModAction::Voiced => "has voice already",
                _ => "has no voice",
            };
            return inform(conn, format!("{} {state} in {room}", target.nick));
        }
        let event = ServerEvent::Moderated {
            room: room.clone(),
            action,
            target: target.nick.clone(),
            by: by.clone(),
            reason: reason.clone(),
            until,
            ts: now,
        };
        let mut outcome = self.announce(&room, event.clone());
        // The target hears it even from outside the room (a ban, an unban).
        if let Some(target_conn) = target.conn.filter(|_| !in_room) {
            outcome.push(target_conn, &Encoded::new(event));
        }
        if matches!(action, ModAction::Kicked | ModAction::Banned)
            && in_room
            && let Some(target_conn) = target.conn
        {
            let why = format!(
                "{} by {by}{}",
                action.verb(),
                reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            );
            self.leave_room(target_conn, &room, Some(why), now, &mut outcome);
        }
        if action != ModAction::Kicked {
            self.persist(&room, &mut outcome);
        }
        let detail = match (duration, &reason) {
            (Some(d), Some(r)) => Some(format!("{} ({r})", duration_text(d))),
            (Some(d), None) => Some(duration_text(d)),
            (None, Some(r)) => Some(r.clone()),
            (None, None) => None,
        };
        let target_text = format!("{} in {room}", target.nick);
        outcome
            .state
            .push(audit(now, &by, action_name(action), &target_text, detail));
        outcome
    }

    fn topic(
        &mut self,
        conn: ConnId,
        room: RoomName,
        text: Option<Option<String>>,
        now: u64,
    ) -> Outcome {
        let Some(text) = text else {
            let event = self.topic_event(&room).unwrap_or(ServerEvent::Topic {
                room,
                text: None,
                by: None,
                ts: now,
            });
            return Outcome::reply(conn, event);
        };
        let by = match self.operator(conn, &room, "set its topic") {
            Ok(by) => by,
            Err(refusal) => return *refusal,
        };
        let rules = self.rules.entry(room.clone()).or_default();
        rules.topic = text.clone().map(|text| TopicSet {
            text,
            by: by.to_string(),
            ts: now,
        });
        let event = ServerEvent::Topic {
            room: room.clone(),
            text: text.clone(),
            by: Some(by.clone()),
            ts: now,
        };
        let mut outcome = self.announce(&room, event);
        self.persist(&room, &mut outcome);
        outcome
            .state
            .push(audit(now, &by, "topic", room.as_str(), text));
        outcome
    }

    fn modes(
        &mut self,
        conn: ConnId,
        room: RoomName,
        changes: Vec<ModeChange>,
        now: u64,
    ) -> Outcome {
        let current = |hub: &Self| {
            hub.rules
                .get(&room)
                .map(RoomRules::modes)
                .unwrap_or_default()
        };
        if changes.is_empty() {
            let event = ServerEvent::Modes {
                modes: current(self),
                room,
                by: None,
                ts: now,
            };
            return Outcome::reply(conn, event);
        }
        let by = match self.operator(conn, &room, "change its modes") {
            Ok(by) => by,
            Err(refusal) => return *refusal,
        };
        let rules = self.rules.entry(room.clone()).or_default();
        for change in &changes {
            match change.mode {
                Mode::InviteOnly => rules.invite_only = change.on,
                Mode::Moderated => rules.moderated = change.on,
                Mode::RegisteredOnly => rules.registered_only = change.on,
                Mode::Key => rules.key = change.key.clone().filter(|_| change.on),
            }
        }
        let event = ServerEvent::Modes {
            modes: current(self),
            room: room.clone(),
            by: Some(by.clone()),
            ts: now,
        };
        let mut outcome = self.announce(&room, event);
        self.persist(&room, &mut outcome);
        // The key itself stays out of the audit log.
        let shown: Vec<String> = changes
            .iter()
            .map(|c| format!("{}{}", if c.on { '+' } else { '-' }, c.mode.letter()))
            .collect();
        outcome.state.push(audit(
            now,
            &by,
            "mode",
            room.as_str(),
            Some(shown.join(" ")),
        ));
        outcome
    }

    fn invite(&mut self, conn: ConnId, nick: &Nick, room: Option<RoomName>, now: u64) -> Outcome {
        let Some(room) = self.target_room(conn, room) else {
            return super::no_room(conn, "/invite bob #lobby");
        };
        let by = match self.operator(conn, &room, "invite people into it") {
            Ok(by) => by,
            Err(refusal) => return *refusal,
        };
        let target = self.resolve(nick);
        let Some(target_conn) = target.conn else {
            return refuse(
                conn,
                ErrorKind::NoSuchNick,
                format!("no such nick: nobody called {nick} is connected"),
            );
        };
        self.invites
            .entry(room.clone())
            .or_default()
            .insert(target.key.clone());
        let mut outcome = Outcome::reply(
            conn,
            ServerEvent::info(format!("{} is invited to {room}", target.nick)),
        );
        outcome.push(
            target_conn,
            &Encoded::new(ServerEvent::Invited {
                room: room.clone(),
                by: by.clone(),
            }),
        );
        let target_text = format!("{} to {room}", target.nick);
        outcome
            .state
            .push(audit(now, &by, "invite", &target_text, None));
        outcome
    }

    /// `/redact`: the author (signed in as the name it was said under), the room's operators
    /// and server staff may remove a message still among its room's recent ones.
    fn redact(&mut self, conn: ConnId, id: u64, reason: Option<String>, now: u64) -> Outcome {
        let Some((room, message)) = self.rooms.find_message(id) else {
            return refuse(
                conn,
                ErrorKind::NoSuchMessage,
                format!(
                    "no message {id} among the rooms' recent messages: only the last {} of a \
                     room can be removed",
                    self.config.history_cap
                ),
            );
        };
        let (room, author) = (room.clone(), message.from.clone());
        let Some(session) = self.sessions.get(&conn) else {
            return Outcome::default();
        };
        let by = session.nick.clone();
        let own = session
            .account
            .as_ref()
            .is_some_and(|account| account.key() == author.key());
        if !own && self.rank(conn, &room) < Rank::Operator {
            return refuse(
                conn,
                ErrorKind::NotPermitted,
                format!(
                    "only its author (signed in) and the operators of {room} may remove message {id}"
                ),
            );
        }
        self.rooms.remove_message(&room, id);
        let event = ServerEvent::Redacted {
            room: room.clone(),
            id,
            by: by.clone(),
            reason: reason.clone(),
            ts: now,
        };
        let mut outcome = self.announce(&room, event.clone());
        if !self.rooms.live(&room).is_some_and(|r| r.contains(conn)) {
            outcome.push(conn, &Encoded::new(event));
        }
        outcome.state.push(StateChange::Redact { id });
        let target = format!("message {id} of {author} in {room}");
        outcome
            .state
            .push(audit(now, &by, "redact", &target, reason));
        outcome
    }

    /// `conn`'s nick if it may moderate `room` (an operator, its owner, or staff); else the
    /// refusal, saying that only the operators of `room` may do `what`.
    fn operator(&self, conn: ConnId, room: &RoomName, what: &str) -> Result<Nick, Box<Outcome>> {
        let Some(session) = self.sessions.get(&conn) else {
            return Err(Box::default());
        };
        if self.rank(conn, room) < Rank::Operator {
            let text = format!("only the operators of {room} {what}");
            return Err(Box::new(refuse(conn, ErrorKind::NotPermitted, text)));
        }
        Ok(session.nick.clone())
    }

    /// `event` for every member of `room`.
    fn announce(&self, room: &RoomName, event: ServerEvent) -> Outcome {
        let mut outcome = Outcome::default();
        if let Some(live) = self.rooms.live(room) {
            outcome.push_all(live.members().iter().copied(), &Encoded::new(event));
        }
        outcome
    }

    /// Hands `room`'s rules as they are now to the history.
    fn persist(&mut self, room: &RoomName, outcome: &mut Outcome) {
        let rules = self.rules.get(room).cloned().unwrap_or_default();
        if rules.is_empty() {
            self.rules.remove(room);
        }
        outcome.state.push(StateChange::Rules {
            room: room.clone(),
            rules,
        });
    }
}

fn banned_text(room: &RoomName, ban: &Sanction, now: u64) -> String {
    let until = ban
        .until
        .map(|u| format!(" for another {}", remaining(u.saturating_sub(now))))
        .unwrap_or_default();
    let reason = ban
        .reason
        .as_deref()
        .map(|r| format!(" ({r})"))
        .unwrap_or_default();
    format!("you are banned from {room}{until}, by {}{reason}", ban.by)
}

/// What is left of a ban or mute, rounded up to a unit people count in: `10m` for 9 min 59 s,
/// `3h`, `2d`, `45s`.
fn remaining(ms: u64) -> String {
    let round_up = |unit: u64| ms.div_ceil(unit);
    match ms {
        0..120_000 => format!("{}s", round_up(1_000)),
        120_000..7_200_000 => format!("{}m", round_up(60_000)),
        7_200_000..172_800_000 => format!("{}h", round_up(3_600_000)),
        _ => format!("{}d", round_up(86_400_000)),
    }
}

fn action_name(action: ModAction) -> &'static str {
    match action {
        ModAction::Registered => "room_register",
        ModAction::Kicked => "kick",
        ModAction::Banned => "ban",
        ModAction::Unbanned => "unban",
        ModAction::Muted => "mute",
        ModAction::Unmuted => "unmute",
        ModAction::Opped => "op",
        ModAction::Deopped => "deop",
        ModAction::Voiced => "voice",
        ModAction::Devoiced => "devoice",
        ModAction::Other => "other",
    }
}

fn audit(
    now: u64,
    actor: &Nick,
    action: &str,
    target: &str,
    detail: Option<String>,
) -> StateChange {
    StateChange::Audit {
        ts: now,
        actor: actor.to_string(),
        action: action.to_owned(),
        target: Some(target.to_owned()),
        address: None,
        detail,
    }
}
