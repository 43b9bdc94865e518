//! Address bans (`/kline`): ranges whose connections are refused at accept, before a byte is
//! read. Server staff set them from the chat; they are kept in the history's database (the
//! committer writes a change before it is announced) and read back at startup.
//!
//! The list is small (operators add ranges one by one) and read on every accept, so it is a
//! plain vector behind a `RwLock`: readers never wait for each other.
//!
//! `rustchat admin unkline` lifts a ban in the database beside a running server — the way back
//! in for staff who banned their own range. The account service's watcher reloads the list
//! when the database's revision moves (a ban's commit moves it too, so a reload that read just
//! before a new ban was committed is corrected within a second).

use std::net::IpAddr;
use std::sync::RwLock;

use ipnet::IpNet;

use crate::rules::Kline;

/// The address bans' table, in the history's database (the committer writes it; the account
/// store and `rustchat admin` read it and lift bans, so either creates it).
pub(crate) const KLINES_SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS address_bans (
        net    TEXT PRIMARY KEY,             -- '203.0.113.0/24'
        until  INTEGER,                      -- unix ms; NULL: until lifted
        by     TEXT NOT NULL,
        reason TEXT
    );
";

/// Every address ban in the database; rows that do not read back are skipped with a warning.
pub(crate) fn read(conn: &rusqlite::Connection) -> Result<Vec<Kline>, rusqlite::Error> {
    let mut statement = conn.prepare("SELECT net, until, by, reason FROM address_bans")?;
    let rows = statement.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, Option<i64>>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, Option<String>>(3)?,
        ))
    })?;
    let mut all = Vec::new();
    for row in rows {
        let (net, until, by, reason) = row?;
        match net.parse() {
            Ok(net) => all.push(Kline {
                net,
                until: until.map(|u| u64::try_from(u).unwrap_or(0)),
                by,
                reason,
            }),
            Err(_) => tracing::warn!(%net, "an address ban that does not read back was skipped"),
        }
    }
    Ok(all)
}

/// Most address bans kept: past it, `/kline` is refused (lift some first).
pub(crate) const MAX_KLINES: usize = 10_000;

/// The address bans in force.
#[derive(Debug, Default)]
pub(crate) struct Klines {
    list: RwLock<Vec<Kline>>,
}

impl Klines {
    /// The bans read back at startup.
    pub(crate) fn new(list: Vec<Kline>) -> Self {
        Self {
            list: RwLock::new(list),
        }
    }

    /// `Some(remaining)` if `ip` is banned at `now` (`remaining` `None`: until lifted).
    pub(crate) fn banned(&self, ip: IpAddr, now: u64) -> Option<Option<u64>> {
        let list = self.list.read().unwrap_or_else(|p| p.into_inner());
        list.iter()
            .filter(|kline| kline.holds(now) && kline.net.contains(&ip))
            .map(|kline| kline.until.map(|until| until.saturating_sub(now)))
            .max_by_key(|remaining| remaining.unwrap_or(u64::MAX))
    }

    /// Adds (or replaces) a ban; `false` if the list is full.
    pub(crate) fn add(&self, kline: Kline, now: u64) -> bool {
        let mut list = self.list.write().unwrap_or_else(|p| p.into_inner());
        list.retain(|k| k.holds(now) && k.net != kline.net);
        if list.len() >= MAX_KLINES {
            return false;
        }
        list.push(kline);
        true
    }

    /// Replaces the whole list (the database changed beside the server: `rustchat admin`).
    pub(crate) fn replace(&self, list: Vec<Kline>) {
        *self.list.write().unwrap_or_else(|p| p.into_inner()) = list;
    }

    /// Lifts the ban of exactly `net`; whether there was one.
    pub(crate) fn remove(&self, net: &IpNet) -> bool {
        let mut list = self.list.write().unwrap_or_else(|p| p.into_inner());
        let before = list.len();
        list.retain(|k| k.net != *net);
        list.len() != before
    }

    /// The bans in force at `now`, by range.
    pub(crate) fn list(&self, now: u64) -> Vec<Kline> {
        let list = self.list.read().unwrap_or_else(|p| p.into_inner());
        let mut in_force: Vec<Kline> = list.iter().filter(|k| k.holds(now)).cloned().collect();
        in_force.sort_by_key(|k| k.net);
        in_force
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kline(net: &str, until: Option<u64>) -> Kline {
        Kline {
            net: net.parse().expect("a range"),
            until,
            by: "alice".into(),
            reason: None,
        }
    }

    #[test]
    fn ranges_match_their_addresses_until_they_end_or_are_lifted() {
        let klines = Klines::default();
        assert!(klines.add(kline("203.0.113.0/24", Some(1_000)), 0));
        assert!(klines.add(kline("2001:db8::/32", None), 0));
        let inside: IpAddr = "203.0.113.77".parse().expect("an address");
        let outside: IpAddr = "203.0.114.1".parse().expect("an address");
        assert_eq!(klines.banned(inside, 400), Some(Some(600)));
        assert_eq!(klines.banned(outside, 400), None);
        assert_eq!(klines.banned(inside, 1_000), None, "ended");
        let v6: IpAddr = "2001:db8::5".parse().expect("an address");
        assert_eq!(klines.banned(v6, 5_000), Some(None));
        assert!(klines.remove(&"2001:db8::/32".parse().expect("a range")));
        assert_eq!(klines.banned(v6, 5_000), None);
        assert_eq!(klines.list(5_000), Vec::<Kline>::new());
    }

    #[test]
    fn the_list_is_bounded() {
        let klines = Klines::default();
        for n in 0..MAX_KLINES {
            let net = IpNet::from(IpAddr::from(
                (u32::try_from(n).expect("small")).to_be_bytes(),
            ));
            let kline = Kline {
                net,
                until: None,
                by: "alice".into(),
                reason: None,
            };
            assert!(klines.add(kline, 0), "ban {n} fits");
        }
        assert!(
            !klines.add(kline("203.0.113.0/24", None), 0),
            "the list is full"
        );
        // Replacing a range that is there already still works.
        assert!(klines.add(kline("0.0.0.5/32", Some(9)), 0));
    }
}
