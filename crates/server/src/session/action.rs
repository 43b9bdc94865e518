//! What a session asks of the server, and why a session ends: the words the sessions, the
//! driver and the fan-out share (a leaf module, so none of them imports another for them).

use rustchat_proto::{Command, ServerEvent};

use crate::delivery::Wire;

/// What the driver must do for the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Join the chat (the hub's `connect`): the client is ready for its welcome.
    Register,
    /// Hand a command to the hub.
    Command(Command),
    /// Send this event to the client itself, in order with its other events.
    Reply(ServerEvent),
    /// The client changed how it wants events (a WebSocket client that spoke JSON).
    Wire(Wire),
    /// Close the connection once everything already owed to the client is sent (through the
    /// committer, so it comes after every earlier reply and event), ending it as given.
    Close(Ending),
}

/// Why a session ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The client quit, closed, or hung up.
    Peer,
    /// The client broke the protocol (details in the text).
    Protocol(String),
    /// The client read too slowly: its queue overflowed.
    SlowConsumer,
    /// The client sent too fast for too long.
    Flood,
    /// A handshake or keepalive deadline passed.
    Timeout(String),
    /// The server is shutting down.
    Shutdown,
    /// The server asked it to close after its last events (`/quit`).
    Quit,
}

impl Ending {
    /// The text shown to the client (and to its rooms as the quit reason).
    pub fn reason(&self) -> String {
        match self {
            Self::Peer | Self::Quit => "quit".into(),
            Self::Protocol(why) => format!("protocol error: {why}"),
            Self::SlowConsumer => "slow consumer: you read too slowly and fell more than the \
                                   outbound limit behind"
                .into(),
            Self::Flood => "flooding: too many commands too fast".into(),
            Self::Timeout(why) => format!("timeout: {why}"),
            Self::Shutdown => "server shutting down".into(),
        }
    }
}

/// One thing a transport (`LineSession`, `WsSession`) made of its input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Heard {
    /// A line or frame from the client — it costs a flood-control token — and what it asks
    /// for, if anything (a blank line or a ping asks nothing; a bad line asks for an error).
    Input(Option<Action>),
    /// A step the session takes on its own (joining the hub, switching the wire format).
    Own(Action),
}
