//! What a process costs, read from Linux's /proc: CPU time (`stat`), resident memory
//! (`status`), and which process listens on a port (`net/tcp` and the `fd` links).
//!
//! The parsers take text and are tested on samples; the readers only open the files.

use std::io;
use std::path::Path;

/// Clock ticks per second in /proc (`USER_HZ`): fixed at 100 by the Linux ABI on every
/// architecture we run on, whatever the kernel's internal `HZ`.
pub const TICKS_PER_SECOND: f64 = 100.0;

/// CPU time a process (all its threads, live and exited) or one thread has used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTimes {
    /// Time in user mode, in clock ticks.
    pub user_ticks: u64,
    /// Time in the kernel on its behalf, in clock ticks.
    pub system_ticks: u64,
}

impl CpuTimes {
    /// User plus system time, in seconds.
    pub fn seconds(&self) -> f64 {
        (self.user_ticks + self.system_ticks) as f64 / TICKS_PER_SECOND
    }

    /// Seconds used since an earlier reading.
    pub fn since(&self, earlier: &CpuTimes) -> f64 {
        (self.seconds() - earlier.seconds()).max(0.0)
    }
}

/// Parses `/proc/PID/stat`: utime and stime are fields 14 and 15. The second field (the
/// command name, in parentheses) may itself hold spaces and parentheses, so the fields are
/// counted from the last `)`.
pub fn parse_stat(text: &str) -> Option<CpuTimes> {
    let after_name = &text[text.rfind(')')? + 1..];
    let mut fields = after_name.split_ascii_whitespace();
    // After the name come field 3 (state) onwards: utime is the 12th of them.
    let user_ticks = fields.nth(11)?.parse().ok()?;
    let system_ticks = fields.next()?.parse().ok()?;
    Some(CpuTimes {
        user_ticks,
        system_ticks,
    })
}

/// Parses `VmRSS:` of `/proc/PID/status` into bytes.
pub fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let mut words = line["VmRSS:".len()..].split_ascii_whitespace();
    let value: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") | None => Some(value * 1024),
        Some(_) => None,
    }
}

/// The socket inodes listening on `port` in a `/proc/net/tcp` or `tcp6` table.
pub fn parse_listening_inodes(table: &str, port: u16) -> Vec<u64> {
    const LISTEN: &str = "0A";
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_ascii_whitespace().collect();
            let local_port = f.get(1)?.rsplit(':').next()?;
            let listening = *f.get(3)? == LISTEN;
            let matches = u16::from_str_radix(local_port, 16).ok()? == port;
            (listening && matches).then(|| f.get(9)?.parse().ok())?
        })
        .collect()
}

/// CPU time of process `pid`.
pub fn cpu_times(pid: u32) -> io::Result<CpuTimes> {
    read_stat(format!("/proc/{pid}/stat"))
}

/// CPU time of the calling thread (the load generator's runtime thread).
pub fn thread_cpu_times() -> io::Result<CpuTimes> {
    read_stat("/proc/thread-self/stat".into())
}

fn read_stat(path: String) -> io::Result<CpuTimes> {
    let text = std::fs::read_to_string(&path)?;
    parse_stat(&text).ok_or_else(|| io::Error::other(format!("cannot parse {path}")))
}

/// Resident memory of process `pid`, in bytes.
pub fn rss_bytes(pid: u32) -> io::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path)?;
    parse_vm_rss(&text).ok_or_else(|| io::Error::other(format!("no VmRSS in {path}")))
}

/// The process that listens on a local TCP `port`, if it can be seen (same user, or root).
pub fn listening_pid(port: u16) -> Option<u32> {
    let inodes: Vec<u64> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .flat_map(|table| parse_listening_inodes(&table, port))
        .collect();
    if inodes.is_empty() {
        return None;
    }
    let wanted: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .find(|pid| holds_any(&format!("/proc/{pid}/fd"), &wanted))
}

fn holds_any(fd_dir: &str, wanted: &[String]) -> bool {
    let Ok(fds) = std::fs::read_dir(Path::new(fd_dir)) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path())
            .ok()
            .and_then(|target| target.to_str().map(|t| wanted.iter().any(|w| w == t)))
            .unwrap_or(false)
    })
}
