//! `RoomRules`: what a room keeps besides its members and messages — its owner, who has a
//! role, who is banned or muted, its topic and its modes. Pure data: the hub changes it
//! (hub/moderation.rs), the history stores it (one JSON row per room, written before anyone
//! hears of a change) and gives it back at startup.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// A ban or a mute: until when (unix ms; `None`: until lifted), by whom, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sanction {
    pub until: Option<u64>,
    pub by: String,
    pub reason: Option<String>,
}

impl Sanction {
    /// Whether it still holds at `now`.
    pub fn holds(&self, now: u64) -> bool {
        self.until.is_none_or(|until| now < until)
    }
}

/// A room's topic and who set it when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicSet {
    pub text: String,
    pub by: String,
    pub ts: u64,
}

/// One room's rules. Names are kept by their key (lowercase): an account's for owners and
/// operators; for bans, mutes and voice, an account's or — for a guest — its nick's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomRules {
    /// The account that registered the room (`/room register`), as spelled.
    pub owner: Option<String>,
    pub operators: BTreeSet<String>,
    pub voiced: BTreeSet<String>,
    pub bans: BTreeMap<String, Sanction>,
    pub mutes: BTreeMap<String, Sanction>,
    pub topic: Option<TopicSet>,
    pub invite_only: bool,
    pub key: Option<String>,
    pub moderated: bool,
    pub registered_only: bool,
}

impl RoomRules {
    /// The modes as `/mode` shows them: `+ikmR` (the key itself never), `""` for none.
    pub fn modes(&self) -> String {
        let mut modes = String::new();
        for (on, letter) in [
            (self.invite_only, 'i'),
            (self.key.is_some(), 'k'),
            (self.moderated, 'm'),
            (self.registered_only, 'R'),
        ] {
            if on {
                modes.push(letter);
            }
        }
        if modes.is_empty() {
            modes
        } else {
            format!("+{modes}")
        }
    }

    /// Whether nothing is set: such a room needs no row.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Drops the bans and mutes that ended before `now`.
    pub fn expire(&mut self, now: u64) {
        self.bans.retain(|_, s| s.holds(now));
        self.mutes.retain(|_, s| s.holds(now));
    }
}

/// A change the history must make durable before the outcome's events go out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateChange {
    /// A room's rules as they are now (empty rules: the row goes).
    Rules {
        room: rustchat_proto::RoomName,
        rules: RoomRules,
    },
    /// A message removed by `/redact`: it goes from the history too.
    Redact { id: u64 },
    /// An address ban (`/kline`), as it is now.
    Kline(Kline),
    /// An address ban lifted.
    Unkline(ipnet::IpNet),
    /// A moderation action for the audit log. The hub knows no addresses: the server fills
    /// in the actor's before the outcome is submitted.
    Audit {
        ts: u64,
        actor: String,
        action: String,
        target: Option<String>,
        address: Option<String>,
        detail: Option<String>,
    },
}

/// A server-wide ban of an address or range: its connections are refused at accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kline {
    pub net: ipnet::IpNet,
    /// Until when (unix ms); `None`: until lifted.
    pub until: Option<u64>,
    pub by: String,
    pub reason: Option<String>,
}

impl Kline {
    /// Whether it still holds at `now`.
    pub fn holds(&self, now: u64) -> bool {
        self.until.is_none_or(|until| now < until)
    }
}
