//! One port, three protocols (and each of them over TLS): the first bytes a client sends
//! decide what it speaks.

/// What a connection turned out to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// An HTTP request (the page, health, metrics, or a WebSocket upgrade).
    Http,
    /// The line protocol (anything that is not HTTP).
    Line,
    /// A TLS handshake (its first record's type, `0x16`): inside it, HTTP or lines again.
    Tls,
}

/// The first byte of a TLS handshake record (RFC 8446 §5.1: `handshake(22)`). No HTTP method
/// and no chat line starts with it (it is a control character, which the line protocol
/// would not show anyway).
pub(crate) const TLS_HANDSHAKE: u8 = 0x16;

/// The request methods we recognise, with their trailing space.
const METHODS: [&[u8]; 7] = [
    b"GET ",
    b"HEAD ",
    b"POST ",
    b"PUT ",
    b"DELETE ",
    b"OPTIONS ",
    b"PATCH ",
];

/// Classifies the first bytes: `None` while they could still become an HTTP request line
/// (`"GE"`), so the caller should read more before deciding.
pub(crate) fn classify(first: &[u8]) -> Option<Kind> {
    if first.first() == Some(&TLS_HANDSHAKE) {
        return Some(Kind::Tls);
    }
    if METHODS.iter().any(|m| first.starts_with(m)) {
        return Some(Kind::Http);
    }
    if METHODS.iter().any(|m| m.starts_with(first)) && !first.is_empty() {
        return None;
    }
    Some(Kind::Line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_requests_and_lines() {
        assert_eq!(classify(b"GET / HTTP/1.1\r\n"), Some(Kind::Http));
        assert_eq!(classify(b"HEAD /healthz HTTP/1.1\r\n"), Some(Kind::Http));
        assert_eq!(classify(b"hello everyone\n"), Some(Kind::Line));
        assert_eq!(classify(b"HELLO 7\n"), Some(Kind::Line));
        assert_eq!(
            classify(b"GETTING there\n"),
            Some(Kind::Line),
            "a word, not a method"
        );
    }

    #[test]
    fn a_tls_handshake_is_told_by_its_first_byte() {
        assert_eq!(classify(&[0x16, 0x03, 0x01]), Some(Kind::Tls));
        assert_eq!(classify(&[0x16]), Some(Kind::Tls));
        assert_eq!(classify(b"\x17 not a handshake"), Some(Kind::Line));
    }

    #[test]
    fn a_prefix_waits_for_more() {
        assert_eq!(classify(b"G"), None);
        assert_eq!(classify(b"GET"), None);
        assert_eq!(classify(b"DELE"), None);
        assert_eq!(
            classify(b""),
            Some(Kind::Line),
            "nothing said: a quiet line client"
        );
    }
}
