//! Arrivals and departures: connect, `/join`, `/part`, `/quit`, disconnect.

use rustchat_proto::{ErrorKind, Nick, RoomName, ServerEvent};

use super::{Hub, Session, Signed, inform, no_room, refuse};
use crate::delivery::{ConnId, Encoded, Outcome};
use crate::session::action::Ending;

impl Hub {
    /// A new client arrives: it gets a unique guest nick (`guest-<n>`) and joins `#lobby`
    /// (which is always allowed, whatever `max_rooms`). Events: `Welcome` (nick, room, motd)
    /// to it, then `Joined` to everyone in `#lobby` including it, then to it `History` (the
    /// last `replay_on_join` messages of `#lobby`, if any) and `Members` (if `#lobby` has at
    /// most `members_on_join` members). A `conn` already connected gets an empty outcome.
    pub fn connect(&mut self, conn: ConnId, now: u64) -> Outcome {
        self.connect_as(conn, None, now)
    }

    /// [`Hub::connect`] for a client that proved it owns `account` before joining (an access
    /// token on the WebSocket upgrade): it arrives with the account's nick (taken from whoever
    /// held it, as [`Hub::sign_in`] does) and its `Welcome` names the account.
    pub fn connect_as(&mut self, conn: ConnId, signed: Option<Signed>, now: u64) -> Outcome {
        let (account, role) = match signed {
            Some(Signed { account, role }) => (Some(account), role),
            None => (None, None),
        };
        if self.sessions.contains_key(&conn) {
            return Outcome::default();
        }
        let mut outcome = Outcome::default();
        let nick = match &account {
            Some(account) => {
                self.registered.insert(account.key().to_owned());
                self.evict(conn, account, now, &mut outcome);
                account.clone()
            }
            None => self.fresh_guest(),
        };
        self.nicks.insert(nick.key().to_owned(), conn);
        let welcome = ServerEvent::Welcome {
            nick: nick.clone(),
            room: RoomName::lobby(),
            motd: self.config.motd.clone(),
            account: account.clone(),
        };
        let session = Session {
            nick,
            account,
            role,
            rooms: Vec::new(),
            current: None,
        };
        self.sessions.insert(conn, session);
        outcome.push(conn, &Encoded::new(welcome));
        self.enter(conn, RoomName::lobby(), now, &mut outcome);
        outcome
    }

    /// A client is gone (socket closed, slow consumer, shutdown…): `Left` with `reason` to the
    /// remaining members of each room it was in; its nick is free again; rooms left empty are
    /// removed (their recent history is kept, bounded, for a later rejoin or `/history`).
    /// Not connected (never was, or already quit): an empty outcome.
    pub fn disconnect(&mut self, conn: ConnId, reason: Option<String>, now: u64) -> Outcome {
        let mut outcome = Outcome::default();
        let Some(session) = self.sessions.remove(&conn) else {
            return outcome;
        };
        if self.nicks.get(session.nick.key()) == Some(&conn) {
            self.nicks.remove(session.nick.key());
        }
        for room in session.rooms {
            self.rooms.leave(&room, conn);
            let Some(members) = self.rooms.live(&room).map(|r| r.members()) else {
                continue;
            };
            let left = Encoded::new(ServerEvent::Left {
                room,
                nick: session.nick.clone(),
                ts: now,
                reason: reason.clone(),
            });
            outcome.push_all(members.iter().copied(), &left);
        }
        outcome
    }

    /// `/quit [reason]`: as [`Hub::disconnect`] for the others; the quitter gets only `Bye`
    /// (`goodbye`, with its reason in parentheses), and `close` asks the server to close it.
    pub(super) fn quit(&mut self, conn: ConnId, reason: Option<String>, now: u64) -> Outcome {
        let bye = match &reason {
            Some(reason) => format!("goodbye ({reason})"),
            None => "goodbye".to_owned(),
        };
        let mut outcome = self.disconnect(conn, reason, now);
        outcome.push(conn, &Encoded::new(ServerEvent::Bye { reason: bye }));
        outcome.close = Some((conn, Ending::Quit));
        outcome
    }

    /// `/join #room`: see [`Hub::handle`]. Checks, in order: already a member (make it current,
    /// `Info`), `max_rooms_per_conn` (`Usage`: part one first), `max_rooms` for a new room
    /// (`NoSuchRoom`: it cannot be created; join an existing one).
    pub(super) fn join(
        &mut self,
        conn: ConnId,
        room: RoomName,
        key: Option<&str>,
        now: u64,
    ) -> Outcome {
        let Some(session) = self.sessions.get_mut(&conn) else {
            return Outcome::default();
        };
        if session.rooms.contains(&room) {
            if session.current.as_ref() == Some(&room) {
                return inform(
                    conn,
                    format!("you are already in {room}, your current room"),
                );
            }
            let text = format!("{room} is now your current room (you were already in it)");
            session.current = Some(room);
            return inform(conn, text);
        }
        let max = self.config.max_rooms_per_conn;
        if session.rooms.len() >= max {
            let message = format!(
                "too many rooms: you are in {}, at most {max} — /part one before joining {room}",
                session.rooms.len()
            );
            return refuse(conn, ErrorKind::Usage, message);
        }
        if let Err(refusal) = self.may_join(conn, &room, key, now) {
            return *refusal;
        }
        let max = self.config.max_rooms;
        if self.rooms.live(&room).is_none() && self.rooms.live_count() >= max {
            let message = format!(
                "cannot create {room}: the server already has {max} rooms, its maximum — \
                 join an existing room (/list shows them)"
            );
            return refuse(conn, ErrorKind::NoSuchRoom, message);
        }
        let mut outcome = Outcome::default();
        self.enter(conn, room, now, &mut outcome);
        outcome
    }

    /// `/part [#room]`: see [`Hub::handle`].
    pub(super) fn part(&mut self, conn: ConnId, room: Option<RoomName>, now: u64) -> Outcome {
        let Some(room) = self.target_room(conn, room) else {
            return no_room(conn, "/part #lobby");
        };
        let Some(session) = self.sessions.get_mut(&conn) else {
            return Outcome::default();
        };
        let Some(position) = session.rooms.iter().position(|r| *r == room) else {
            let message = format!(
                "you are not in {room}, so you cannot leave it — your rooms: {}",
                room_list(&session.rooms)
            );
            return refuse(conn, ErrorKind::NotInRoom, message);
        };
        let _ = position;
        let mut outcome = Outcome::default();
        self.leave_room(conn, &room, None, now, &mut outcome);
        outcome
    }

    /// Takes `conn` out of `room` (it is a member): `Left` (with `reason`, for a kick or a ban)
    /// to the members, the leaver included; if it was current, the leaver is told which room
    /// is current now.
    pub(super) fn leave_room(
        &mut self,
        conn: ConnId,
        room: &RoomName,
        reason: Option<String>,
        now: u64,
        outcome: &mut Outcome,
    ) {
        let Some(session) = self.sessions.get_mut(&conn) else {
            return;
        };
        let Some(position) = session.rooms.iter().position(|r| r == room) else {
            return;
        };
        session.rooms.remove(position);
        let was_current = session.current.as_ref() == Some(room);
        if was_current {
            session.current = session.rooms.last().cloned();
        }
        let now_current = session.current.clone();
        let left = Encoded::new(ServerEvent::Left {
            room: room.clone(),
            nick: session.nick.clone(),
            ts: now,
            reason,
        });
        if let Some(members) = self.rooms.live(room).map(|r| r.members()) {
            outcome.push_all(members.iter().copied(), &left);
        }
        self.rooms.leave(room, conn);
        if was_current {
            let text = match now_current {
                Some(current) => format!("your current room is now {current}"),
                None => "you are in no room now: /join #room to talk again".to_owned(),
            };
            outcome.push(conn, &Encoded::new(ServerEvent::info(text)));
        }
    }

    /// Adds a connected `conn` to `room` (no limit checks) and makes it current: `Joined` to
    /// all members, then `History` and `Members` to the joiner (see [`Hub::handle`]).
    fn enter(&mut self, conn: ConnId, room: RoomName, now: u64, outcome: &mut Outcome) {
        let Some(session) = self.sessions.get_mut(&conn) else {
            return;
        };
        session.rooms.push(room.clone());
        session.current = Some(room.clone());
        let nick = session.nick.clone();
        self.rooms.join(&room, conn);
        let Some(joined_room) = self.rooms.live(&room) else {
            return;
        };
        let joined = Encoded::new(ServerEvent::Joined {
            room: room.clone(),
            nick,
            ts: now,
        });
        outcome.push_all(joined_room.members().iter().copied(), &joined);
        let replay = self.config.replay_on_join.min(self.config.history_cap);
        let since = self
            .config
            .max_age_ms
            .map_or(0, |age| now.saturating_sub(age));
        let messages = joined_room.recent(replay, since);
        let members = joined_room.members().len();
        if !messages.is_empty() {
            let history = ServerEvent::History {
                room: room.clone(),
                messages,
            };
            outcome.push(conn, &Encoded::new(history));
        }
        if let Some(topic) = self.topic_event(&room) {
            outcome.push(conn, &Encoded::new(topic));
        }
        if let Some(modes) = self.modes_event(&room, now) {
            outcome.push(conn, &Encoded::new(modes));
        }
        if members <= self.config.members_on_join {
            let nicks = self.sorted_nicks(&room);
            let roles = self.member_roles(&room, &nicks);
            let event = ServerEvent::Members { room, nicks, roles };
            outcome.push(conn, &Encoded::new(event));
        }
    }

    /// A guest nick nobody holds: `guest-<n>` for the next free `n`.
    pub(super) fn fresh_guest(&mut self) -> Nick {
        loop {
            let nick = Nick::guest(self.next_guest);
            self.next_guest = self.next_guest.wrapping_add(1);
            if !self.nicks.contains_key(nick.key()) {
                return nick;
            }
        }
    }
}

/// `#a, #b`, or `none` (for error messages).
fn room_list(rooms: &[RoomName]) -> String {
    if rooms.is_empty() {
        return "none".to_owned();
    }
    let names: Vec<&str> = rooms.iter().map(RoomName::as_str).collect();
    names.join(", ")
}
