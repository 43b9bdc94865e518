//! `Rooms`: every room by name — the live ones (with members) and the dormant ones (empty,
//! kept for their recent history so that a rejoin or `/history` still finds it).
//!
//! A room becomes dormant when its last member leaves; it is dropped at once if it has no
//! history. Dormant rooms are bounded: past `max_dormant`, the one that went quiet first is
//! forgotten (an LRU by "became empty"). The queue may hold stale entries for rooms revived
//! since; each entry carries a stamp and only the entry matching the room's current stamp
//! counts, and the queue is compacted when stale entries pile up, so it stays O(max_dormant).

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};

use rustchat_proto::{ChatMessage, RoomName};

use super::room::Room;
use crate::delivery::ConnId;

/// All rooms, live and dormant.
#[derive(Debug)]
pub(super) struct Rooms {
    /// Every room the hub knows, live or dormant.
    map: HashMap<RoomName, Room>,
    /// How many rooms in `map` have members (`/list`, `max_rooms`, metrics).
    live: usize,
    /// Dormant rooms in the order they became empty, oldest first: `(stamp, name)`.
    dormant: VecDeque<(u64, RoomName)>,
    /// How many rooms in `map` are dormant (entries of `dormant` that are not stale).
    dormant_count: usize,
    /// The next stamp to hand out; stamps only grow.
    next_stamp: u64,
    /// Most dormant rooms kept.
    max_dormant: usize,
    /// Most messages kept per room.
    history_cap: usize,
}

impl Rooms {
    /// No rooms yet.
    pub(super) fn new(history_cap: usize, max_dormant: usize) -> Self {
        Self {
            map: HashMap::new(),
            live: 0,
            dormant: VecDeque::new(),
            dormant_count: 0,
            next_stamp: 0,
            max_dormant,
            history_cap,
        }
    }

    /// A room with members.
    pub(super) fn live(&self, name: &RoomName) -> Option<&Room> {
        self.map.get(name).filter(|room| !room.is_empty())
    }

    /// A room with members, or a dormant one (empty, with history).
    pub(super) fn any(&self, name: &RoomName) -> Option<&Room> {
        self.map.get(name)
    }

    /// The room keeping message `id` in its recent history, and the message.
    pub(super) fn find_message(&self, id: u64) -> Option<(&RoomName, &ChatMessage)> {
        self.map
            .iter()
            .find_map(|(name, room)| room.message(id).map(|m| (name, m)))
    }

    /// Forgets message `id` of room `name`; whether it was kept.
    pub(super) fn remove_message(&mut self, name: &RoomName, id: u64) -> bool {
        self.map
            .get_mut(name)
            .is_some_and(|room| room.remove_message(id))
    }

    /// How many rooms have members.
    pub(super) fn live_count(&self) -> usize {
        self.live
    }

    /// The rooms with members, in no particular order.
    pub(super) fn iter_live(&self) -> impl Iterator<Item = (&RoomName, &Room)> {
        self.map.iter().filter(|(_, room)| !room.is_empty())
    }

    /// Adds `conn` to `name`, creating or reviving the room; `false` if it already was in.
    pub(super) fn join(&mut self, name: &RoomName, conn: ConnId) -> bool {
        let room = self.map.entry(name.clone()).or_default();
        let was_empty = room.is_empty();
        if !room.insert(conn) {
            return false;
        }
        if was_empty {
            self.live += 1;
            if room.dormant_since.take().is_some() {
                self.dormant_count -= 1;
            }
        }
        true
    }

    /// Removes `conn` from `name`; an emptied room goes dormant (or away if it has no history).
    pub(super) fn leave(&mut self, name: &RoomName, conn: ConnId) -> bool {
        let Some(room) = self.map.get_mut(name) else {
            return false;
        };
        if !room.remove(conn) {
            return false;
        }
        if room.is_empty() {
            self.live -= 1;
            self.put_to_sleep(name);
        }
        true
    }

    /// Appends a message to its live room's history; the room's members, to fan it out to.
    /// `None` if the room has no members (the caller's bookkeeping is off).
    pub(super) fn record(&mut self, message: ChatMessage) -> Option<&[ConnId]> {
        let room = self
            .map
            .get_mut(&message.room)
            .filter(|room| !room.is_empty())?;
        room.push(message, self.history_cap);
        Some(room.members())
    }

    /// Loads messages from the database (oldest first) into the rooms' histories. Rooms that
    /// were unknown become dormant, the least recently active first in the eviction order.
    pub(super) fn restore(&mut self, messages: Vec<ChatMessage>) {
        let mut created = Vec::new();
        for message in messages {
            let room = match self.map.entry(message.room.clone()) {
                Entry::Occupied(entry) => entry.into_mut(),
                Entry::Vacant(entry) => {
                    created.push(entry.key().clone());
                    entry.insert(Room::default())
                }
            };
            room.push(message, self.history_cap);
        }
        created.sort_by_key(|name| self.map.get(name).and_then(Room::last_id));
        for name in created {
            if self.map.get(&name).is_some_and(Room::is_empty) {
                self.put_to_sleep(&name);
            }
        }
    }

    /// Marks an empty room dormant, or drops it if there is nothing to keep; then enforces
    /// the bound on dormant rooms.
    fn put_to_sleep(&mut self, name: &RoomName) {
        let Some(room) = self.map.get_mut(name) else {
            return;
        };
        if !room.has_history() || self.max_dormant == 0 {
            self.map.remove(name);
            return;
        }
        let stamp = self.next_stamp;
        self.next_stamp += 1;
        room.dormant_since = Some(stamp);
        self.dormant.push_back((stamp, name.clone()));
        self.dormant_count += 1;
        self.evict_oldest_dormant();
        if self.dormant.len() > 2 * self.max_dormant.max(16) {
            let map = &self.map;
            self.dormant.retain(|(stamp, name)| {
                map.get(name).and_then(|room| room.dormant_since) == Some(*stamp)
            });
        }
    }

    /// Forgets dormant rooms, oldest first, until at most `max_dormant` are left.
    fn evict_oldest_dormant(&mut self) {
        while self.dormant_count > self.max_dormant {
            let Some((stamp, name)) = self.dormant.pop_front() else {
                return;
            };
            if self.is_current_entry(stamp, &name) {
                self.map.remove(&name);
                self.dormant_count -= 1;
            }
        }
    }

    /// Whether `(stamp, name)` is the room's current dormancy entry (not a stale one).
    fn is_current_entry(&self, stamp: u64, name: &RoomName) -> bool {
        self.map.get(name).and_then(|room| room.dormant_since) == Some(stamp)
    }

    /// Checks the bookkeeping (tests only): the live and dormant counts, that every room is
    /// live or dormant with history, and that each room's members agree with its index.
    #[cfg(test)]
    pub(super) fn is_consistent(&self) -> bool {
        let live = self.map.values().filter(|room| !room.is_empty()).count();
        let dormant = self.map.values().filter(|room| room.is_empty()).count();
        let stamps_ok = self.map.values().all(|room| {
            room.is_empty() == room.dormant_since.is_some()
                && (!room.is_empty() || room.has_history())
        });
        live == self.live
            && dormant == self.dormant_count
            && dormant <= self.max_dormant
            && stamps_ok
            && self.map.values().all(Room::is_consistent)
    }
}
