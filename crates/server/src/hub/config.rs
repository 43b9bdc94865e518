//! `HubConfig`: the hub's limits and greetings, with explained defaults.

use rustchat_proto::MAX_HISTORY;

/// How the hub greets, replays and bounds. Every field has a default chosen for a small
/// public server; change them with the setters:
///
/// ```
/// use rustchat_server::hub::HubConfig;
///
/// let config = HubConfig::default().motd("Be kind.").replay_on_join(20);
/// assert_eq!(config.history_cap, 500);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubConfig {
    /// Sent in every `Welcome`. Default: none.
    pub motd: Option<String>,
    /// How many recent messages a joiner is replayed, and the default `/history` length.
    /// Default: 50 — a screenful of context without flooding a phone. 0 turns replay off.
    pub replay_on_join: usize,
    /// How many recent messages each room keeps in memory (older ones live only in the
    /// database). Also caps replays and `/history`. Default: 500 (`MAX_HISTORY`, the most a
    /// client may ask for).
    pub history_cap: usize,
    /// Most rooms with members at once; creating one more is refused (`#lobby` is always
    /// allowed). The same number bounds the empty rooms kept for their history. Default:
    /// 10,000.
    pub max_rooms: usize,
    /// Most rooms one connection may be in at once; joining one more is refused. Default: 32.
    pub max_rooms_per_conn: usize,
    /// A joiner is sent the member list (`Members`) when the room has at most this many
    /// members; bigger rooms are listed only on `/who`, so that joining a crowded room (or
    /// connecting to a crowded `#lobby`) costs neither the server a sort nor the client a
    /// huge line. 0 never sends it. Default: 100.
    pub members_on_join: usize,
    /// Messages older than this many milliseconds are not replayed nor shown by `/history`
    /// (the server's `--history-max-age`, which also deletes them from the database).
    /// Default: none.
    pub max_age_ms: Option<u64>,
}

impl Default for HubConfig {
    fn default() -> Self {
        Self {
            motd: None,
            replay_on_join: 50,
            history_cap: MAX_HISTORY as usize,
            max_rooms: 10_000,
            max_rooms_per_conn: 32,
            members_on_join: 100,
            max_age_ms: None,
        }
    }
}

impl HubConfig {
    /// Sets [`HubConfig::motd`].
    pub fn motd(mut self, motd: impl Into<String>) -> Self {
        self.motd = Some(motd.into());
        self
    }

    /// Sets [`HubConfig::replay_on_join`].
    pub fn replay_on_join(mut self, messages: usize) -> Self {
        self.replay_on_join = messages;
        self
    }

    /// Sets [`HubConfig::history_cap`].
    pub fn history_cap(mut self, messages: usize) -> Self {
        self.history_cap = messages;
        self
    }

    /// Sets [`HubConfig::max_rooms`].
    pub fn max_rooms(mut self, rooms: usize) -> Self {
        self.max_rooms = rooms;
        self
    }

    /// Sets [`HubConfig::max_rooms_per_conn`].
    pub fn max_rooms_per_conn(mut self, rooms: usize) -> Self {
        self.max_rooms_per_conn = rooms;
        self
    }

    /// Sets [`HubConfig::members_on_join`].
    pub fn members_on_join(mut self, members: usize) -> Self {
        self.members_on_join = members;
        self
    }
}
