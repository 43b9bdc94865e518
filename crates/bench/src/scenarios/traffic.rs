//! The hot loop of a chat client under load: read whatever arrived, find the stamps of this
//! run, count each delivery and its latency; a sender also sends stamped messages, at a fixed
//! rate or whenever its window of unconfirmed messages has room.
//!
//! Per message there is no allocation: the inbox is reused, the stamp is parsed in place, the
//! outgoing frame is patched in place; the clock is read once per socket read.

use std::rc::Rc;

use tokio::time::Interval;

use crate::measure::{Clock, Tally};
use crate::scenarios::setup::Conn;
use crate::wire::{Item, OutFrame, Stamp, find_stamp, opcode};

/// What makes a client a sender.
#[derive(Debug)]
pub struct Sender {
    /// Its id in stamps.
    pub id: u16,
    /// Its message, stamped before each send.
    pub frame: OutFrame,
    /// Fixed rate: the ticks; `None`: flat out within `window`.
    pub interval: Option<Interval>,
    /// Flat out: most own messages sent and not yet received back.
    pub window: u64,
}

/// Runs one client until the connection ends or the task is dropped.
pub async fn client_loop(
    mut conn: Conn,
    mut sender: Option<Sender>,
    tally: Rc<Tally>,
    clock: Clock,
    run: u32,
) {
    let (mut sent, mut confirmed) = (0u64, 0u64);
    let my_id = sender.as_ref().map(|s| s.id);
    loop {
        let window_open = sender
            .as_ref()
            .is_some_and(|s| s.interval.is_none() && sent - confirmed < s.window);
        let interval = sender.as_mut().and_then(|s| s.interval.as_mut());
        tokio::select! {
            biased;
            read = conn.inbox.fill(&mut conn.tcp) => {
                if !matches!(read, Ok(n) if n > 0) {
                    lost(&tally, "the server closed a client's connection");
                    return;
                }
                let now = clock.now_ns();
                let mut owed: Option<OutFrame> = None;
                while let Some(item) = conn.inbox.next_item() {
                    match item {
                        Item::Data { payload, .. } => {
                            if let Some(stamp) = find_stamp(payload, run) {
                                tally.op(now.saturating_sub(stamp.sent_ns));
                                confirmed += u64::from(Some(stamp.sender) == my_id);
                            } else if let Some(refused) = refusal(payload) {
                                // A message the server dropped (flood control, a limit):
                                // what it measures is then the limit, and the report says so.
                                tally.error(format!("the server refused a message: {refused}"));
                            }
                        }
                        Item::Ping(payload) => {
                            owed = Some(OutFrame::ws(opcode::PONG, payload, conn.key));
                        }
                        Item::Close => {
                            lost(&tally, "the server closed a client's WebSocket");
                            return;
                        }
                        Item::Other => {}
                    }
                }
                conn.inbox.compact();
                if let Some(pong) = owed
                    && conn.tcp.send(pong.as_bytes()).await.is_err() {
                        return lost(&tally, "cannot answer a ping");
                    }
            }
            () = tick(interval) => {
                if !send(&mut conn, &mut sender, &tally, clock, run).await {
                    return;
                }
                sent += 1;
            }
            () = open(window_open) => {
                if !send(&mut conn, &mut sender, &tally, clock, run).await {
                    return;
                }
                sent += 1;
            }
        }
    }
}

/// Stamps and sends the sender's message; false if the connection failed.
async fn send(
    conn: &mut Conn,
    sender: &mut Option<Sender>,
    tally: &Tally,
    clock: Clock,
    run: u32,
) -> bool {
    let Some(s) = sender.as_mut() else {
        return true;
    };
    let stamp = Stamp {
        sender: s.id,
        sent_ns: clock.now_ns(),
    };
    s.frame.stamp(run, stamp);
    if conn.tcp.send(s.frame.as_bytes()).await.is_err() {
        lost(tally, "cannot send");
        return false;
    }
    if tally.measuring.get() {
        tally.sent.set(tally.sent.get() + 1);
    }
    true
}

/// Counts a lost connection, unless the run is over anyway.
fn lost(tally: &Tally, why: &str) {
    if !tally.stopping.get() {
        tally.error(why);
    }
}

async fn tick(interval: Option<&mut Interval>) {
    match interval {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}

async fn open(window_open: bool) {
    if !window_open {
        std::future::pending::<()>().await;
    }
}

/// The server's refusal, if `payload` is one: an `ERROR` line, or a JSON `error` event.
pub fn refusal(payload: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(payload).ok()?.trim_end();
    let refused =
        text.starts_with("ERROR ") || (text.starts_with('{') && text.contains(r#""type":"error""#));
    refused.then(|| text.chars().take(160).collect())
}

#[cfg(test)]
mod tests {
    use super::refusal;

    #[test]
    fn refusals_are_told_from_chat() {
        let line = b"ERROR flood control: you are sending faster than 10 commands a second\n";
        assert!(refusal(line).is_some_and(|r| r.starts_with("ERROR flood control")));
        let json = br#"{"type":"error","kind":"flood","message":"slow down"}"#;
        assert!(refusal(json).is_some());
        assert!(refusal(b"[12:00:00] #lobby <bob> ERROR in my code").is_none());
        assert!(refusal(br#"{"type":"message","text":"\"type\":\"error\""}"#).is_none());
    }
}
