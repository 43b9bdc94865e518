//! Questions: `/who`, `/list`, `/history`. They change nothing.

use rustchat_proto::{ErrorKind, Nick, RoomName, RoomSummary, ServerEvent};

use super::{Hub, no_room, refuse};
use crate::delivery::{ConnId, Outcome};

impl Hub {
    /// `/who [#room]`: see [`Hub::handle`]. Rooms are public: members or not may ask.
    pub(super) fn who(&self, conn: ConnId, room: Option<RoomName>) -> Outcome {
        let Some(room) = self.target_room(conn, room) else {
            return no_room(conn, "/who #lobby");
        };
        if self.rooms.live(&room).is_none() {
            let message = format!("no such room: nobody is in {room} — /list shows the rooms");
            return refuse(conn, ErrorKind::NoSuchRoom, message);
        }
        let nicks = self.sorted_nicks(&room);
        let roles = self.member_roles(&room, &nicks);
        Outcome::reply(conn, ServerEvent::Members { room, nicks, roles })
    }

    /// `/list`: see [`Hub::handle`].
    pub(super) fn list(&self, conn: ConnId) -> Outcome {
        let mut rooms: Vec<RoomSummary> = self
            .rooms
            .iter_live()
            .map(|(name, room)| RoomSummary {
                room: name.clone(),
                members: room.members().len(),
            })
            .collect();
        rooms.sort_unstable_by(|a, b| a.room.cmp(&b.room));
        Outcome::reply(conn, ServerEvent::Rooms { rooms })
    }

    /// `/history [#room] [N]`: see [`Hub::handle`]. A room with members but nothing said yet
    /// answers an empty `History` ("no history in #room").
    pub(super) fn history(
        &self,
        conn: ConnId,
        room: Option<RoomName>,
        limit: Option<u32>,
        now: u64,
    ) -> Outcome {
        let Some(room) = self.target_room(conn, room) else {
            return no_room(conn, "/history #lobby");
        };
        let Some(found) = self.rooms.any(&room) else {
            let message = format!(
                "no such room: {room} has no members and no history — /list shows the rooms"
            );
            return refuse(conn, ErrorKind::NoSuchRoom, message);
        };
        let wanted = limit.map_or(self.config.replay_on_join, |limit| limit as usize);
        let since = self
            .config
            .max_age_ms
            .map_or(0, |age| now.saturating_sub(age));
        let messages = found.recent(wanted.min(self.config.history_cap), since);
        Outcome::reply(conn, ServerEvent::History { room, messages })
    }

    /// The nicks of a room's members, sorted (case-insensitively); empty for an unknown room.
    pub(super) fn sorted_nicks(&self, room: &RoomName) -> Vec<Nick> {
        let Some(room) = self.rooms.live(room) else {
            return Vec::new();
        };
        let mut nicks: Vec<Nick> = room
            .members()
            .iter()
            .filter_map(|conn| self.sessions.get(conn))
            .map(|session| session.nick.clone())
            .collect();
        nicks.sort_unstable();
        nicks
    }
}
