//! Plain HTTP on the chat port: the browser page, health, metrics, and the WebSocket upgrade.
//!
//! Every answer closes the connection (`Connection: close`): the page is one small request, and
//! keeping HTTP connections open would only give slow clients something to hold.

use bytes::Bytes;
use rustchat_ws::handshake::{HandshakeError, Request, Upgrade, http_response};
use rustchat_ws::{DeflateConfig, DeflateParams};

use crate::delivery::Wire;
use rustchat_proto::AccessToken;

/// The chat page, embedded in the binary (no build step, no CDN).
pub const PAGE: &str = include_str!("../../assets/index.html");

/// The subprotocol for JSON events.
pub(crate) const PROTOCOL_JSON: &str = "rustchat.json";
/// The subprotocol for line events.
pub(crate) const PROTOCOL_LINE: &str = "rustchat.line";

/// What to do with a request.
#[derive(Debug)]
pub(crate) enum Route {
    /// Send these bytes and close.
    Respond(Bytes),
    /// Upgrade to a WebSocket chat session: send `response`, then speak `wire`.
    Upgrade {
        /// The 101 answer.
        response: Bytes,
        /// The wire format fixed by the subprotocol, if one was chosen.
        wire: Option<Wire>,
        /// permessage-deflate, if the client offered it and we took it.
        deflate: Option<DeflateParams>,
        /// An access token the client gave (`Authorization: Bearer …` or `?token=…`): it
        /// joins signed in once the token is checked.
        token: Option<AccessToken>,
    },
}

/// What a request may be answered with besides the static page.
pub(crate) struct HttpContext<'a> {
    /// `/metrics` body.
    pub metrics: &'a (dyn Fn() -> String + Sync),
    /// Origins allowed besides the server's own host.
    pub allowed_origins: &'a [String],
    /// permessage-deflate as this server takes it.
    pub deflate: &'a DeflateConfig,
}

impl std::fmt::Debug for HttpContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpContext")
            .field("allowed_origins", &self.allowed_origins)
            .finish()
    }
}

/// Routes one request.
pub(crate) fn route(request: &Request, ctx: &HttpContext<'_>) -> Route {
    let path = request.path().split('?').next().unwrap_or("/");
    if request.method() != "GET" && request.method() != "HEAD" {
        let body = format!(
            "method {} not allowed: this server answers GET\n",
            request.method()
        );
        return Route::Respond(http_response(
            405,
            "Method Not Allowed",
            &[("Allow", "GET, HEAD")],
            body.as_bytes(),
        ));
    }
    let wants_websocket = request.is_websocket_upgrade();
    match path {
        // `ws://host:8080` (no path) means the chat too: a client that forgot `/ws` gets the
        // WebSocket it asked for, not the page.
        "/ws" => upgrade(request, ctx),
        "/" if wants_websocket => upgrade(request, ctx),
        _ if wants_websocket => not_found(format!(
            "no WebSocket at {path}: the chat's WebSocket is at /ws (ws://HOST:PORT/ws)\n"
        )),
        "/" | "/index.html" => {
            Route::Respond(ok(request, "text/html; charset=utf-8", PAGE.as_bytes()))
        }
        "/healthz" => Route::Respond(ok(request, "text/plain; charset=utf-8", b"ok\n")),
        "/metrics" => {
            let body = (ctx.metrics)();
            Route::Respond(ok(
                request,
                "text/plain; version=0.0.4; charset=utf-8",
                body.as_bytes(),
            ))
        }
        _ => not_found(format!(
            "no page at {path}: try / (chat page), /ws (WebSocket), /healthz or /metrics\n"
        )),
    }
}

/// The answer to a plaintext request where TLS is required (`--plaintext`): a page or a
/// health check is redirected to the same host and path over `https://` (308 keeps the
/// method); a WebSocket upgrade, which no browser lets a redirect steer, or a request without
/// a `Host` is told `426` and where to go.
pub(crate) fn requires_tls(request: &Request) -> Bytes {
    let host = request.header("host").filter(|h| !h.is_empty());
    if let Some(host) = host
        && !request.is_websocket_upgrade()
    {
        let location = format!("https://{host}{}", request.path());
        let body = format!("this server requires TLS from your address: {location}\n");
        return http_response(
            308,
            "Permanent Redirect",
            &[("Location", &location)],
            body.as_bytes(),
        );
    }
    let body = match host {
        Some(host) => format!(
            "this server requires TLS from your address: use wss://{host}{} (or https://{host}/)\n",
            request.path()
        ),
        None => "this server requires TLS from your address: use https:// or wss://\n".into(),
    };
    http_response(426, "Upgrade Required", &[], body.as_bytes())
}

fn not_found(body: String) -> Route {
    Route::Respond(http_response(
        404,
        "Not Found",
        &[("Content-Type", "text/plain; charset=utf-8")],
        body.as_bytes(),
    ))
}

fn ok(request: &Request, content_type: &str, body: &[u8]) -> Bytes {
    let headers = [
        ("Content-Type", content_type),
        ("Cache-Control", "no-store"),
    ];
    let body = if request.method() == "HEAD" {
        &b""[..]
    } else {
        body
    };
    http_response(200, "OK", &headers, body)
}

/// The access token of an upgrade request: `Authorization: Bearer <token>` (for programs),
/// else a `token` query parameter (browsers cannot set headers on a WebSocket). A token of the
/// wrong form is refused with the reason; an unknown one is the account service's to refuse.
fn upgrade_token(request: &Request) -> Result<Option<AccessToken>, String> {
    let from_header = request.header("authorization").map(|value| {
        let (scheme, token) = value.trim().split_once(' ').unwrap_or((value, ""));
        if scheme.eq_ignore_ascii_case("bearer") {
            Ok(token.trim())
        } else {
            Err(format!(
                "Authorization scheme {scheme:?} is not supported: expected Bearer <access token>"
            ))
        }
    });
    let from_query = request.path().split_once('?').and_then(|(_, query)| {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix("token="))
    });
    let text = match (from_header, from_query) {
        (Some(header), _) => header?,
        (None, Some(query)) => query,
        (None, None) => return Ok(None),
    };
    AccessToken::parse(text)
        .map(Some)
        .map_err(|e| e.to_string())
}

fn upgrade(request: &Request, ctx: &HttpContext<'_>) -> Route {
    let token = match upgrade_token(request) {
        Ok(token) => token,
        Err(why) => {
            let body = format!("{why}\n");
            return Route::Respond(http_response(400, "Bad Request", &[], body.as_bytes()));
        }
    };
    let answer = request.upgrade().and_then(|up| {
        check_origin(&up, ctx.allowed_origins)?;
        let chosen = up
            .protocols()
            .find(|p| *p == PROTOCOL_JSON || *p == PROTOCOL_LINE);
        let wire = chosen.map(|p| {
            if p == PROTOCOL_JSON {
                Wire::WsJson
            } else {
                Wire::WsLine
            }
        });
        let (response, deflate) = up.accept_negotiated(chosen, ctx.deflate)?;
        Ok((response, wire, deflate))
    });
    match answer {
        Ok((response, wire, deflate)) => Route::Upgrade {
            response,
            wire,
            deflate,
            token,
        },
        Err(e) => Route::Respond(e.response()),
    }
}

/// Cross-site WebSocket hijacking guard: a browser always sends `Origin`; it must name this
/// server's own host (or an allowed origin). Programs that send no `Origin` are let in.
fn check_origin(up: &Upgrade, allowed: &[String]) -> Result<(), HandshakeError> {
    let Some(origin) = up.origin() else {
        return Ok(());
    };
    let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    if origin_host.eq_ignore_ascii_case(up.host())
        || allowed.iter().any(|a| a.eq_ignore_ascii_case(origin))
    {
        return Ok(());
    }
    Err(HandshakeError::Forbidden {
        reason: format!(
            "origin {origin} is not allowed: expected this server's own origin (host {}) or one \
             given with --allow-origin",
            up.host()
        ),
    })
}
