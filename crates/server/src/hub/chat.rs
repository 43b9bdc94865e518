//! Talking: room messages (`Say`, `/me`), private messages (`/msg`), nick changes (`/nick`).

use rustchat_proto::{ChatMessage, ErrorKind, Nick, ServerEvent};

use super::{Hub, inform, refuse};
use crate::delivery::{ConnId, Encoded, Outcome};

impl Hub {
    /// `Say` / `/me` (`action`): see [`Hub::handle`]. The hot path: one message, one `Encoded`,
    /// then a pointer per member.
    pub(super) fn say(&mut self, conn: ConnId, text: String, action: bool, now: u64) -> Outcome {
        let Some(session) = self.sessions.get(&conn) else {
            return Outcome::default();
        };
        let Some(room) = session.current.clone() else {
            let message = "you are in no room, so nobody would hear that: \
                           /join #room first (for example /join #lobby)";
            return refuse(conn, ErrorKind::NotInRoom, message);
        };
        if let Err(refusal) = self.may_speak(conn, &room, now) {
            return *refusal;
        }
        let Some(from) = self.sessions.get(&conn).map(|s| s.nick.clone()) else {
            return Outcome::default();
        };
        let id = self.issue_id();
        let message = ChatMessage {
            id,
            ts: now,
            room,
            from,
            text,
            action,
        };
        let event = Encoded::new(ServerEvent::Message(message.clone()));
        let mut outcome = Outcome::default();
        match self.rooms.record(message.clone()) {
            Some(members) => outcome.push_all(members.iter().copied(), &event),
            None => {
                return refuse(
                    conn,
                    ErrorKind::Internal,
                    "internal error: your current room is gone — /join #room again",
                );
            }
        }
        outcome.record = Some(message);
        outcome
    }

    /// `/nick <new>`: see [`Hub::handle`]. Guest names (`guest-…`) belong to the server and
    /// are refused here too, whoever built the command.
    pub(super) fn change_nick(&mut self, conn: ConnId, new: Nick, now: u64) -> Outcome {
        let Some(session) = self.sessions.get(&conn) else {
            return Outcome::default();
        };
        let old = session.nick.clone();
        if new.as_str() == old.as_str() {
            return inform(conn, format!("you are already called {old}"));
        }
        if new != old {
            if new.is_guest() {
                let message = format!(
                    "nick {new} looks like a guest name: nicks starting with 'guest-' are \
                     given out by the server, pick another"
                );
                return refuse(conn, ErrorKind::InvalidNick, message);
            }
            if self.registered.contains(new.key())
                && session.account.as_ref().map(Nick::key) != Some(new.key())
            {
                let message =
                    format!("nick {new} is registered — /login {new} <password> if it is yours");
                return refuse(conn, ErrorKind::NickRegistered, message);
            }
            if self.nicks.contains_key(new.key()) {
                let message =
                    format!("nick taken: {new} is in use — pick another with /nick <name>");
                return refuse(conn, ErrorKind::NickTaken, message);
            }
        }
        let mut outcome = Outcome::default();
        self.rename(conn, new, now, &mut outcome);
        outcome
    }

    /// `/msg <nick> <text>`: see [`Hub::handle`]. The event names both sides as they spell
    /// themselves, whatever case the sender typed.
    pub(super) fn private(&mut self, conn: ConnId, to: &Nick, text: String, now: u64) -> Outcome {
        let target = self.nicks.get(to.key()).copied();
        let (Some(sender), Some(target)) = (self.sessions.get(&conn), target) else {
            let message = format!(
                "no such nick: nobody called {to} is connected — /who #room shows who is in a room"
            );
            return refuse(conn, ErrorKind::NoSuchNick, message);
        };
        let Some(recipient) = self.sessions.get(&target) else {
            return refuse(
                conn,
                ErrorKind::Internal,
                format!("internal error: {to} is half-connected — try again"),
            );
        };
        let (from, to) = (sender.nick.clone(), recipient.nick.clone());
        let id = self.issue_id();
        let event = Encoded::new(ServerEvent::Private {
            id,
            ts: now,
            from,
            to,
            text,
        });
        let mut outcome = Outcome::default();
        outcome.push(target, &event);
        if target != conn {
            outcome.push(conn, &event);
        }
        outcome
    }

    /// `conn` and everyone sharing a room with it, each once (for `NickChanged`).
    pub(super) fn room_mates(&self, conn: ConnId) -> Vec<ConnId> {
        let Some(session) = self.sessions.get(&conn) else {
            return Vec::new();
        };
        let mut mates = vec![conn];
        for name in &session.rooms {
            if let Some(room) = self.rooms.live(name) {
                mates.extend_from_slice(room.members());
            }
        }
        mates.sort_unstable();
        mates.dedup();
        mates
    }
}
