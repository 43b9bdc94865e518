//! Who may connect: the server-wide connection limit, and two limits per address — how many
//! connections one address may hold open, and how fast it may open new ones — so that one
//! host cannot take every slot, or churn connections faster than the server accepts them, at
//! everyone else's expense. Loopback counts like any other address.
//!
//! An IPv6 client is counted by its /64 prefix: a single host is routinely given a whole /64,
//! so counting single IPv6 addresses would limit nothing. Decided at accept, before a byte is
//! read; a refused client is told why in its own protocol (`opening`).
//!
//! Sans-IO: the caller passes the time. The table holds only addresses with a connection open
//! or a rate bucket still refilling, so it is bounded by the open connections plus what the
//! rate lets in during one refill.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Connections one address may open: `burst` at once, then `rate` a second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConnectRate {
    /// New connections per second, sustained.
    pub rate: f64,
    /// New connections in a burst.
    pub burst: f64,
}

impl Default for ConnectRate {
    /// 10 a second, bursts of 20: a browser opens a handful, a reconnecting client one a
    /// second at most; a script hammering the port is held to a trickle.
    fn default() -> Self {
        Self {
            rate: 10.0,
            burst: 20.0,
        }
    }
}

/// Why a connection was refused at accept.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Refusal {
    /// The server holds `--max-connections` already.
    Full { limit: usize },
    /// This address holds `--max-connections-per-ip` already.
    AddressFull { limit: usize },
    /// This address opens connections faster than `--connect-rate`.
    AddressRate { per_second: f64 },
    /// This address is banned (`/kline`), for `remaining_ms` more or until lifted.
    Banned { remaining_ms: Option<u64> },
}

impl Refusal {
    /// What the client is told (without `ERROR `), and the HTTP status and `Retry-After`.
    pub(crate) fn text(self) -> String {
        match self {
            Self::Full { limit } => {
                format!("server full: {limit} connections already open — try again later")
            }
            Self::AddressFull { limit } => format!(
                "too many connections from your address: {limit} open, at most {limit} — \
                 close one before opening another"
            ),
            Self::AddressRate { per_second } => format!(
                "connecting too fast from your address: at most {per_second} new connections \
                 a second — wait a moment and try again"
            ),
            Self::Banned {
                remaining_ms: Some(ms),
            } => format!(
                "your address is banned from this server for another {} min",
                ms.div_ceil(60_000)
            ),
            Self::Banned { remaining_ms: None } => {
                "your address is banned from this server".to_owned()
            }
        }
    }

    /// The HTTP status, its reason phrase, and when to come back (seconds).
    pub(crate) fn http(self) -> (u16, &'static str, &'static str) {
        match self {
            Self::Full { .. } => (503, "Service Unavailable", "5"),
            Self::AddressFull { .. } => (429, "Too Many Requests", "5"),
            Self::AddressRate { .. } => (429, "Too Many Requests", "1"),
            Self::Banned { .. } => (403, "Forbidden", "3600"),
        }
    }
}

/// The log of refusals at accept: each one at `info`, up to [`RefusalLog::PER_SECOND`] a
/// second; past that, one line a second says how many more there were, so a connection flood
/// cannot flood the operator's log too.
#[derive(Debug, Default)]
pub(crate) struct RefusalLog {
    window: Mutex<Option<(Instant, u32)>>,
}

impl RefusalLog {
    /// Refusals logged one by one each second.
    pub(crate) const PER_SECOND: u32 = 10;

    /// Logs the refusal of `peer` (said `why`) at `now`, unless the second's budget is spent.
    pub(crate) fn log(&self, peer: std::net::SocketAddr, why: &str, now: Instant) {
        let mut window = self.window.lock().unwrap_or_else(PoisonError::into_inner);
        let (start, count) = window.get_or_insert((now, 0));
        if now.saturating_duration_since(*start) >= Duration::from_secs(1) {
            let unlogged = count.saturating_sub(Self::PER_SECOND);
            if unlogged > 0 {
                tracing::info!(target: "rustchat::conn", unlogged, "{unlogged} more connections refused in a second (not logged one by one)");
            }
            (*start, *count) = (now, 0);
        }
        *count += 1;
        if *count <= Self::PER_SECOND {
            tracing::info!(target: "rustchat::conn", %peer, "connection refused: {why}");
        }
    }
}

/// The addresses' books.
#[derive(Debug)]
pub(crate) struct Admission {
    per_ip: usize,
    rate: Option<ConnectRate>,
    table: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    addresses: HashMap<IpAddr, Address>,
    /// The size at which forgotten addresses are next swept out: twice what was left after
    /// the last sweep (at least 1,024), so sweeping costs O(1) per admission, amortised.
    sweep_at: usize,
}

#[derive(Debug)]
struct Address {
    open: usize,
    tokens: f64,
    last: Instant,
}

impl Admission {
    /// At most `per_ip` open connections per address (0: no limit), opened at most at `rate`.
    pub(crate) fn new(per_ip: usize, rate: Option<ConnectRate>) -> Self {
        Self {
            per_ip,
            rate,
            table: Mutex::default(),
        }
    }

    /// A connection from `ip` at `now`: counted, or refused (and not counted).
    pub(crate) fn admit(&self, ip: IpAddr, now: Instant) -> Result<(), Refusal> {
        let key = key(ip);
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        if table.addresses.len() >= table.sweep_at.max(1024) {
            // Forget the addresses with nothing open whose bucket has refilled: they are as
            // if never seen.
            table
                .addresses
                .retain(|_, a| a.open > 0 || !self.refilled(a, now));
            table.sweep_at = table.addresses.len() * 2;
        }
        let burst = self.rate.map_or(0.0, |r| r.burst);
        let address = table.addresses.entry(key).or_insert(Address {
            open: 0,
            tokens: burst,
            last: now,
        });
        if self.per_ip > 0 && address.open >= self.per_ip {
            return Err(Refusal::AddressFull { limit: self.per_ip });
        }
        if let Some(rate) = self.rate {
            let elapsed = now.saturating_duration_since(address.last).as_secs_f64();
            address.tokens = (address.tokens + elapsed * rate.rate).min(rate.burst);
            address.last = now.max(address.last);
            if address.tokens < 1.0 {
                return Err(Refusal::AddressRate {
                    per_second: rate.rate,
                });
            }
            address.tokens -= 1.0;
        }
        address.open += 1;
        Ok(())
    }

    /// A connection from `ip` that [`admit`](Self::admit) let in has ended.
    pub(crate) fn release(&self, ip: IpAddr) {
        let mut table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(address) = table.addresses.get_mut(&key(ip)) {
            address.open = address.open.saturating_sub(1);
        }
    }

    /// Connections open from `ip`.
    #[cfg(test)]
    fn open_from(&self, ip: IpAddr) -> usize {
        let table = self.table.lock().unwrap_or_else(PoisonError::into_inner);
        table.addresses.get(&key(ip)).map_or(0, |a| a.open)
    }

    fn refilled(&self, address: &Address, now: Instant) -> bool {
        match self.rate {
            None => true,
            Some(rate) => {
                let missing = (rate.burst - address.tokens).max(0.0);
                now.saturating_duration_since(address.last)
                    >= Duration::from_secs_f64(missing / rate.rate.max(f64::MIN_POSITIVE))
            }
        }
    }
}

/// What an address is counted as: an IPv4 address (or an IPv4-mapped IPv6 one) itself, an
/// IPv6 address by its /64.
fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(prefix.into())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("a test address")
    }

    #[test]
    fn an_address_holds_at_most_per_ip_connections_and_gets_a_place_back_when_one_ends() {
        let admission = Admission::new(3, None);
        let now = Instant::now();
        let home = ip("127.0.0.1");
        for _ in 0..3 {
            assert_eq!(admission.admit(home, now), Ok(()));
        }
        assert_eq!(
            admission.admit(home, now),
            Err(Refusal::AddressFull { limit: 3 })
        );
        // Others are not affected.
        assert_eq!(admission.admit(ip("192.0.2.7"), now), Ok(()));
        admission.release(home);
        assert_eq!(admission.open_from(home), 2);
        assert_eq!(admission.admit(home, now), Ok(()));
    }

    #[test]
    fn an_address_opens_a_burst_then_at_the_rate() {
        let admission = Admission::new(
            0,
            Some(ConnectRate {
                rate: 10.0,
                burst: 20.0,
            }),
        );
        let start = Instant::now();
        let churner = ip("198.51.100.1");
        for _ in 0..20 {
            admission.admit(churner, start).expect("inside the burst");
            admission.release(churner);
        }
        assert_eq!(
            admission.admit(churner, start),
            Err(Refusal::AddressRate { per_second: 10.0 })
        );
        assert_eq!(admission.admit(ip("198.51.100.2"), start), Ok(()));
        // 100 ms make one token: one more, not two.
        assert!(admission.admit(churner, start + 99 * MS).is_err());
        assert_eq!(admission.admit(churner, start + 100 * MS), Ok(()));
        assert!(admission.admit(churner, start + 100 * MS).is_err());
        // A refused connection is not counted as open.
        assert_eq!(admission.open_from(churner), 1);
    }

    #[test]
    fn ipv6_is_counted_by_its_64_prefix_and_mapped_ipv4_as_ipv4() {
        let admission = Admission::new(2, None);
        let now = Instant::now();
        assert_eq!(admission.admit(ip("2001:db8:1:2::1"), now), Ok(()));
        assert_eq!(admission.admit(ip("2001:db8:1:2:ffff::9"), now), Ok(()));
        assert!(
            admission.admit(ip("2001:db8:1:2::abcd"), now).is_err(),
            "the same /64"
        );
        assert_eq!(admission.admit(ip("2001:db8:1:3::1"), now), Ok(()));
        assert_eq!(admission.admit(ip("::ffff:192.0.2.1"), now), Ok(()));
        assert_eq!(admission.open_from(ip("192.0.2.1")), 1);
    }

    #[test]
    fn the_table_forgets_addresses_with_nothing_open_once_their_bucket_refills() {
        let admission = Admission::new(0, Some(ConnectRate::default()));
        let start = Instant::now();
        for i in 0..5000u32 {
            let address = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            admission.admit(address, start).expect("first from each");
            admission.release(address);
        }
        let later = start + Duration::from_secs(3);
        for i in 0..5000u32 {
            let address = IpAddr::from(std::net::Ipv4Addr::from(0x0b00_0000 + i));
            admission.admit(address, later).expect("first from each");
        }
        let size = admission
            .table
            .lock()
            .map(|t| t.addresses.len())
            .unwrap_or_default();
        assert!(size < 8000, "the table kept {size} addresses");
    }

    #[test]
    fn refusals_say_what_was_wrong_and_what_to_do() {
        assert_eq!(
            Refusal::AddressFull { limit: 64 }.text(),
            "too many connections from your address: 64 open, at most 64 — close one before \
             opening another"
        );
        assert_eq!(Refusal::AddressRate { per_second: 10.0 }.http().0, 429);
        assert_eq!(
            Refusal::Full { limit: 2 }.http(),
            (503, "Service Unavailable", "5")
        );
    }
}
