//! `Room`: one room's members and its recent messages.
//!
//! Members are a `Vec<ConnId>` (what the fan-out iterates: contiguous, no hashing, exact size
//! for `Outcome::push_all` to reserve once) plus a `HashMap` from member to its position, so
//! that joining, leaving and "is this connection a member?" stay O(1) in a room of thousands
//! (leaving swaps the last member into the hole). Member order carries no meaning: `/who`
//! sorts.

use std::collections::{HashMap, VecDeque};

use rustchat_proto::ChatMessage;

use crate::delivery::ConnId;

/// One room: who is in it, and what was said in it lately (oldest first).
#[derive(Debug, Default)]
pub(super) struct Room {
    /// The members, in no particular order: the fan-out list.
    members: Vec<ConnId>,
    /// Where each member sits in `members`, for O(1) removal and membership tests.
    index: HashMap<ConnId, usize>,
    /// The most recent messages, oldest first, at most `history_cap` of them.
    history: VecDeque<ChatMessage>,
    /// `Some(stamp)` while the room has no members but is kept for its history; the stamp
    /// tells the current entry of the eviction queue from stale ones (see `Rooms`).
    pub(super) dormant_since: Option<u64>,
}

impl Room {
    /// The members, in no particular order.
    pub(super) fn members(&self) -> &[ConnId] {
        &self.members
    }

    /// Whether `conn` is a member.
    pub(super) fn contains(&self, conn: ConnId) -> bool {
        self.index.contains_key(&conn)
    }

    /// Whether nobody is in the room.
    pub(super) fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Adds a member; `false` if it already was one.
    pub(super) fn insert(&mut self, conn: ConnId) -> bool {
        if self.contains(conn) {
            return false;
        }
        self.index.insert(conn, self.members.len());
        self.members.push(conn);
        true
    }

    /// Removes a member; `false` if it was not one.
    pub(super) fn remove(&mut self, conn: ConnId) -> bool {
        let Some(position) = self.index.remove(&conn) else {
            return false;
        };
        self.members.swap_remove(position);
        if let Some(&moved) = self.members.get(position) {
            self.index.insert(moved, position);
        }
        true
    }

    /// Appends a message, dropping the oldest ones past `cap`.
    pub(super) fn push(&mut self, message: ChatMessage, cap: usize) {
        self.history.push_back(message);
        while self.history.len() > cap {
            self.history.pop_front();
        }
    }

    /// The kept message with id `id` (ids grow: a binary search).
    pub(super) fn message(&self, id: u64) -> Option<&ChatMessage> {
        let at = self.history.binary_search_by_key(&id, |m| m.id).ok()?;
        self.history.get(at)
    }

    /// Forgets the kept message with id `id`; whether there was one.
    pub(super) fn remove_message(&mut self, id: u64) -> bool {
        match self.history.binary_search_by_key(&id, |m| m.id) {
            Ok(at) => self.history.remove(at).is_some(),
            Err(_) => false,
        }
    }

    /// Whether the room keeps any message.
    pub(super) fn has_history(&self) -> bool {
        !self.history.is_empty()
    }

    /// The id of the newest kept message, if any.
    pub(super) fn last_id(&self) -> Option<u64> {
        self.history.back().map(|message| message.id)
    }

    /// The last `n` messages said at or after `since` (unix ms; fewer if the room has fewer),
    /// oldest first.
    pub(super) fn recent(&self, n: usize, since: u64) -> Vec<ChatMessage> {
        let skip = self.history.len().saturating_sub(n);
        self.history
            .range(skip..)
            .filter(|message| message.ts >= since)
            .cloned()
            .collect()
    }

    /// Checks that `members` and `index` agree (tests only).
    #[cfg(test)]
    pub(super) fn is_consistent(&self) -> bool {
        self.members.len() == self.index.len()
            && self
                .members
                .iter()
                .enumerate()
                .all(|(position, conn)| self.index.get(conn) == Some(&position))
    }
}
