//! Plain HTTP/1.1 responses: what the server side of a handshake (and a server that shares
//! its port with WebSocket, as the chat server does) answers when it does not upgrade.

use bytes::Bytes;

/// A complete HTTP/1.1 response: status line, `headers`, `Content-Length` and
/// `Content-Type: text/plain; charset=utf-8` (unless given), `Connection: close` (unless a
/// `Connection` header is given), then `body`. For the chat server's plain HTTP answers.
///
/// It cannot fail: a header whose name is not an HTTP token is left out, a caller's
/// `Content-Length` is replaced by the real one, and CR, LF and NUL in the reason or a value
/// become spaces, so no input can split the response.
pub fn http_response(status: u16, reason: &str, headers: &[(&str, &str)], body: &[u8]) -> Bytes {
    let given = |name: &str| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    let mut out = Vec::with_capacity(128 + body.len());
    out.extend_from_slice(format!("HTTP/1.1 {status:03} ").as_bytes());
    out.extend_from_slice(&no_breaks(reason));
    out.extend_from_slice(b"\r\n");
    let headers = headers
        .iter()
        .filter(|(n, _)| super::is_token(n) && !n.eq_ignore_ascii_case("Content-Length"));
    for (name, value) in headers {
        super::push_header(&mut out, name, &no_breaks(value));
    }
    if !given("Content-Type") {
        super::push_header(&mut out, "Content-Type", b"text/plain; charset=utf-8");
    }
    if !given("Connection") {
        super::push_header(&mut out, "Connection", b"close");
    }
    super::push_header(
        &mut out,
        "Content-Length",
        body.len().to_string().as_bytes(),
    );
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out.into()
}

/// `s` with CR, LF and NUL turned into spaces.
fn no_breaks(s: &str) -> Vec<u8> {
    let fix = |b: u8| {
        if matches!(b, b'\r' | b'\n' | b'\0') {
            b' '
        } else {
            b
        }
    };
    s.bytes().map(fix).collect()
}

/// The standard reason phrase for `status` (RFC 9110 §15), `""` for codes it does not know.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        304 => "Not Modified",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "",
    }
}
