//! Tests of the handshake: RFC byte vectors and every rule on each side, then both peers in
//! memory, then random input that must never make a parser panic.

// A test that unwraps says "this must succeed" most plainly.
#![allow(clippy::unwrap_used)]

mod client;
mod peers;
mod server;

use super::HeadLimits;

/// An HTTP response head parsed by httparse: (status, headers, body).
fn parse_http(bytes: &[u8]) -> (u16, Vec<(String, String)>, String) {
    let mut table = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut table);
    let Ok(httparse::Status::Complete(used)) = response.parse(bytes) else {
        panic!(
            "not a complete response: {:?}",
            String::from_utf8_lossy(bytes)
        );
    };
    let headers = response
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_owned(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    let body = String::from_utf8_lossy(&bytes[used..]).into_owned();
    (response.code.unwrap_or_default(), headers, body)
}

/// The value of `name` in headers from [`parse_http`].
fn value<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn limits() -> HeadLimits {
    HeadLimits::default()
}
