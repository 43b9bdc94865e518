//! The line protocol's session: `nc`/`telnet` clients, and the HELLO handshake.

use std::collections::VecDeque;

use bytes::BytesMut;
use rustchat_proto::{
    Command, ErrorKind, ErrorReply, HelloServer, HelloStep, LineCodec, LineError, ServerEvent,
    is_hello,
};
use rustchat_ws::outbound::Outbound;

use crate::delivery::Encoded;
use crate::session::action::{Action, Ending, Heard};

/// Where the session is in its life.
#[derive(Debug)]
enum Phase {
    /// Nothing said yet: the first line decides whether a HELLO handshake runs.
    Fresh,
    /// Silent for a while, so greeted with a hint; the first line joins the chat (or runs the
    /// HELLO handshake). Not in the hub yet, so idle sockets (a browser's preconnections) do
    /// not show up as guests.
    Greeted,
    /// `HELLO X` received and `HELLO X+1` sent; `HELLO X+2` expected.
    Hello(HelloServer),
    /// In the chat.
    Chat,
    /// Over.
    Ended(Ending),
}

/// A line-protocol session.
#[derive(Debug)]
pub struct LineSession {
    codec: LineCodec,
    buf: BytesMut,
    out: Outbound,
    phase: Phase,
    /// What was decided but not yet handed out (a first line yields two: register, then it).
    pending: VecDeque<Heard>,
}

impl LineSession {
    /// A session whose lines are at most `max_line` bytes.
    pub fn new(max_line: usize) -> Self {
        Self {
            codec: LineCodec::with_max_length(max_line),
            buf: BytesMut::new(),
            out: Outbound::default(),
            phase: Phase::Fresh,
            pending: VecDeque::new(),
        }
    }

    /// Greets a client that has said nothing yet (a person at `nc`), without joining it to the
    /// chat: that happens on its first line.
    pub fn greet(&mut self) {
        if matches!(self.phase, Phase::Fresh) {
            self.out.push_encoded(&line_bytes(GREETING));
            self.phase = Phase::Greeted;
        }
    }

    /// Feeds socket bytes.
    pub fn receive(&mut self, data: &[u8]) {
        if !matches!(self.phase, Phase::Ended(_)) {
            self.buf.extend_from_slice(data);
        }
    }

    /// The next thing heard from the lines received: every line is one [`Heard::Input`].
    pub(crate) fn next_action(&mut self) -> Option<Heard> {
        if let Some(heard) = self.pending.pop_front() {
            return Some(heard);
        }
        if matches!(self.phase, Phase::Ended(_)) {
            return None;
        }
        match self.codec.decode(&mut self.buf) {
            Ok(Some(line)) => Some(self.on_line(&line)),
            Ok(None) => {
                self.release_idle_buffer();
                None
            }
            Err(e) => Some(Heard::Input(Some(Action::Reply(line_error(&e))))),
        }
    }

    fn on_line(&mut self, line: &str) -> Heard {
        let action = match &mut self.phase {
            Phase::Fresh | Phase::Greeted if is_hello(line) => {
                self.hello_step(HelloServer::new(), line);
                None
            }
            Phase::Greeted if is_http_request_line(line) => {
                // A browser whose request came after our greeting: the greeting has already
                // spoiled its response, so close quietly rather than chat as `GET / HTTP/1.1`.
                self.end(Ending::Protocol(
                    "an HTTP request after the line-protocol greeting".into(),
                ));
                None
            }
            Phase::Fresh | Phase::Greeted => {
                // The first line joins the chat; pressing Enter to join costs no flood token.
                self.phase = Phase::Chat;
                if !line.trim().is_empty() {
                    let first = self.on_line(line);
                    self.pending.push_back(first);
                }
                return Heard::Own(Action::Register);
            }
            Phase::Hello(hello) => {
                let hello = std::mem::take(hello);
                self.hello_step(hello, line);
                None
            }
            Phase::Chat => match Command::parse(line) {
                Ok(Some(command)) => Some(Action::Command(command)),
                Ok(None) => None,
                Err(e) => Some(Action::Reply(e.to_event())),
            },
            Phase::Ended(_) => None,
        };
        Heard::Input(action)
    }

    /// One line of the HELLO handshake; once it is done, the session joins the chat.
    fn hello_step(&mut self, mut hello: HelloServer, line: &str) {
        match hello.receive(line) {
            Ok(HelloStep::Reply(reply)) => {
                self.out.push_encoded(&line_bytes(&reply));
                self.phase = Phase::Hello(hello);
            }
            Ok(HelloStep::Done) => {
                self.phase = Phase::Chat;
                self.pending.push_back(Heard::Own(Action::Register));
            }
            Err(e) => {
                self.out
                    .push_encoded(&bytes::Bytes::from(e.to_event().to_line()));
                self.phase = Phase::Ended(Ending::Protocol(e.to_string()));
            }
        }
    }

    /// Whether a HELLO handshake is under way (it has a deadline).
    pub fn in_handshake(&self) -> bool {
        matches!(self.phase, Phase::Hello(_))
    }

    /// Queues an event line.
    pub fn push_event(&mut self, event: &Encoded) {
        self.out.push_encoded(event.line());
    }

    /// Ends the session with a last line saying why.
    pub fn end(&mut self, ending: Ending) {
        if matches!(self.phase, Phase::Ended(_)) {
            return;
        }
        let last = match &ending {
            Ending::SlowConsumer => {
                Some(ServerEvent::error(ErrorKind::SlowConsumer, ending.reason()))
            }
            Ending::Flood => Some(ServerEvent::error(ErrorKind::Flood, ending.reason())),
            Ending::Timeout(_) | Ending::Shutdown => Some(ServerEvent::Bye {
                reason: ending.reason(),
            }),
            Ending::Peer | Ending::Quit | Ending::Protocol(_) => None,
        };
        if let Some(event) = last {
            self.out.push_encoded(&bytes::Bytes::from(event.to_line()));
        }
        self.phase = Phase::Ended(ending);
        self.buf = BytesMut::new();
    }

    /// The socket hit end of file: lines still buffered are handed out (a final line without
    /// its newline counts too), then the session ends.
    pub fn eof(&mut self) {
        let mut ready = Vec::new();
        while let Some(action) = self.next_action() {
            ready.push(action);
        }
        self.pending.extend(ready);
        if let Ok(Some(line)) = self.codec.decode_eof(&mut self.buf) {
            let heard = self.on_line(&line);
            self.pending.push_back(heard);
        }
        if !matches!(self.phase, Phase::Ended(_)) {
            self.phase = Phase::Ended(Ending::Peer);
        }
    }

    /// Bytes for the socket.
    pub fn outbound(&mut self) -> &mut Outbound {
        &mut self.out
    }

    /// Why it ended, if it has.
    pub fn ending(&self) -> Option<&Ending> {
        match &self.phase {
            Phase::Ended(ending) => Some(ending),
            _ => None,
        }
    }

    fn release_idle_buffer(&mut self) {
        if self.buf.is_empty() && self.buf.capacity() > 0 {
            self.buf = BytesMut::new();
        }
    }
}

/// What a silent client is told.
pub const GREETING: &str =
    "*** rustchat: press Enter to join #lobby, type a message, or /help for the commands";

/// `METHOD /target HTTP/1.x`: an HTTP request line.
fn is_http_request_line(line: &str) -> bool {
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    method.bytes().all(|b| b.is_ascii_uppercase())
        && target.starts_with('/')
        && version.starts_with("HTTP/1.")
}

fn line_error(e: &LineError) -> ServerEvent {
    e.to_event()
}

/// A raw line, `\n`-terminated, as bytes.
fn line_bytes(text: &str) -> bytes::Bytes {
    let mut line = String::with_capacity(text.len() + 1);
    line.push_str(text);
    line.push('\n');
    bytes::Bytes::from(line)
}
