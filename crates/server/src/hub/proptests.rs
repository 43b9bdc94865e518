//! Random command sequences from several connections: the hub never panics and its
//! bookkeeping stays consistent.

use std::collections::HashSet;

use proptest::prelude::*;
use rustchat_proto::{Command, Nick, RoomName, ServerEvent};

use super::{Hub, HubConfig};
use crate::delivery::ConnId;

/// One step of a session's life.
#[derive(Debug, Clone)]
enum Op {
    Connect(u64),
    Disconnect(u64),
    Handle(u64, Command),
}

fn conn() -> impl Strategy<Value = u64> {
    0..5u64
}

fn nick() -> impl Strategy<Value = Nick> {
    prop::sample::select(vec!["alice", "Alice", "bob", "BOB", "carol", "guest-1"])
        .prop_map(|name| Nick::parse_known(name).unwrap_or_else(|err| panic!("{err}")))
}

fn room() -> impl Strategy<Value = RoomName> {
    prop::sample::select(vec!["#lobby", "#a", "#b", "#c", "#d"])
        .prop_map(|name| RoomName::parse(name).unwrap_or_else(|err| panic!("{err}")))
}

fn text() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["hi", "hello", "/shrug"]).prop_map(str::to_owned)
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        3 => text().prop_map(Command::Say),
        1 => text().prop_map(Command::Me),
        2 => nick().prop_map(Command::Nick),
        3 => room().prop_map(Command::Join),
        2 => prop::option::of(room()).prop_map(Command::Part),
        1 => (nick(), text()).prop_map(|(to, text)| Command::Msg { to, text }),
        1 => prop::option::of(room()).prop_map(Command::Who),
        1 => Just(Command::List),
        1 => (prop::option::of(room()), prop::option::of(1..10u32))
            .prop_map(|(room, limit)| Command::History { room, limit }),
        1 => Just(Command::Help),
        1 => prop::option::of(text()).prop_map(Command::Quit),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => conn().prop_map(Op::Connect),
        1 => conn().prop_map(Op::Disconnect),
        8 => (conn(), command()).prop_map(|(conn, command)| Op::Handle(conn, command)),
    ]
}

fn small_config() -> HubConfig {
    HubConfig::default()
        .history_cap(3)
        .replay_on_join(2)
        .max_rooms(3)
        .max_rooms_per_conn(2)
        .members_on_join(2)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_sessions_keep_the_hub_consistent(ops in prop::collection::vec(op(), 1..80)) {
        let mut hub = Hub::new(small_config());
        let mut last_id = 0;
        for (step, op) in ops.into_iter().enumerate() {
            let now = step as u64;
            let before: HashSet<ConnId> = (0..5).map(ConnId).filter(|c| hub.nick(*c).is_some()).collect();
            let (sender, outcome) = match op {
                Op::Connect(n) => (ConnId(n), hub.connect(ConnId(n), now)),
                Op::Disconnect(n) => (ConnId(n), hub.disconnect(ConnId(n), None, now)),
                Op::Handle(n, command) => (ConnId(n), hub.handle(ConnId(n), command, now)),
            };
            prop_assert!(hub.is_consistent(), "inconsistent after step {}: {:#?}", step, hub);
            let after: HashSet<ConnId> = (0..5).map(ConnId).filter(|c| hub.nick(*c).is_some()).collect();
            prop_assert_eq!(hub.stats().connections, after.len());
            for delivery in &outcome.deliveries {
                prop_assert!(
                    before.contains(&delivery.to) || after.contains(&delivery.to),
                    "delivery to a stranger {} at step {}", delivery.to, step
                );
                if let ServerEvent::Message(message) = delivery.event.event() {
                    let room = hub.rooms.live(&message.room);
                    prop_assert!(room.is_some_and(|room| room.contains(delivery.to)), "to a member");
                    prop_assert_eq!(Some(message), outcome.record.as_ref());
                }
            }
            if let Some(record) = &outcome.record {
                let members = hub.rooms.live(&record.room).map_or(0, |room| room.members().len());
                prop_assert_eq!(outcome.deliveries.len(), members, "every member once");
                prop_assert!(record.id > last_id, "ids increase");
                last_id = record.id;
                prop_assert_eq!(Some(&record.from), hub.nick(sender), "the sender's own nick");
            }
        }
    }
}
