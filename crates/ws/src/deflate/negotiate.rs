//! The permessage-deflate negotiation (RFC 7692 §5, §7.1): the client's offer, the server's
//! choice among the offers, and the client's check of that choice.
//!
//! A server *declines* an offer it cannot take (an unknown parameter, one given twice, a bad
//! value: §5.1, §7.1) and tries the next; a client *fails* the connection on a response it
//! did not ask for or cannot honour (§5.1, §7.1).

use super::{DeflateConfig, DeflateParams, MAX_WINDOW_BITS, MIN_WINDOW_BITS};

/// The extension's name in `Sec-WebSocket-Extensions`.
const NAME: &str = "permessage-deflate";

/// An offer the server accepted: the parameters, and the `Sec-WebSocket-Extensions` value to
/// answer with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agreement {
    /// What both sides will do.
    pub params: DeflateParams,
    /// The response's `Sec-WebSocket-Extensions` value.
    pub response: String,
}

/// The four parameters of RFC 7692 §7.1, as one offer or response wrote them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Written {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    /// `server_max_window_bits=N`.
    server_max_window_bits: Option<u8>,
    /// `client_max_window_bits`, with its value if it had one.
    client_max_window_bits: Option<Option<u8>>,
}

/// Reads one element of `Sec-WebSocket-Extensions` (`permessage-deflate; a; b=1`): `None` if
/// it names another extension, `Some(Err(why))` if it is ours but not valid.
fn parse_element(element: &str) -> Option<Result<Written, String>> {
    let mut parts = element.split(';');
    let name = parts.next()?.trim();
    if !name.eq_ignore_ascii_case(NAME) {
        return None;
    }
    let mut written = Written::default();
    for part in parts {
        let (key, value) = match part.split_once('=') {
            Some((key, value)) => (key.trim(), Some(unquote(value.trim()))),
            None => (part.trim(), None),
        };
        let twice = || Err(format!("parameter `{key}` given twice"));
        let bits = |value: Option<String>| -> Result<u8, String> {
            let value = value.ok_or_else(|| format!("`{key}` needs a value from 8 to 15"))?;
            window_bits(&value)
                .ok_or_else(|| format!("`{key}={value}`: expected a number of bits from 8 to 15"))
        };
        let flag = |value: &Option<String>| match value {
            Some(v) => Err(format!("`{key}` takes no value, got `{v}`")),
            None => Ok(true),
        };
        let outcome = match key.to_ascii_lowercase().as_str() {
            "server_no_context_takeover" if written.server_no_context_takeover => twice(),
            "server_no_context_takeover" => {
                flag(&value).map(|on| written.server_no_context_takeover = on)
            }
            "client_no_context_takeover" if written.client_no_context_takeover => twice(),
            "client_no_context_takeover" => {
                flag(&value).map(|on| written.client_no_context_takeover = on)
            }
            "server_max_window_bits" if written.server_max_window_bits.is_some() => twice(),
            "server_max_window_bits" => {
                bits(value).map(|b| written.server_max_window_bits = Some(b))
            }
            "client_max_window_bits" if written.client_max_window_bits.is_some() => twice(),
            "client_max_window_bits" => match value {
                None => {
                    written.client_max_window_bits = Some(None);
                    Ok(())
                }
                Some(v) => bits(Some(v)).map(|b| written.client_max_window_bits = Some(Some(b))),
            },
            "" => Err("an empty parameter".to_owned()),
            other => Err(format!("unknown parameter `{other}`")),
        };
        if let Err(why) = outcome {
            return Some(Err(why));
        }
    }
    Some(Ok(written))
}

/// RFC 7692 §7.1.2: a window size is `1*DIGIT` from 8 to 15 (no sign, no leading zero).
fn window_bits(value: &str) -> Option<u8> {
    if value.is_empty() || value.len() > 2 || value.starts_with('0') {
        return None;
    }
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value
        .parse()
        .ok()
        .filter(|b| (MIN_WINDOW_BITS..=MAX_WINDOW_BITS).contains(b))
}

/// RFC 6455 §9.1: a parameter value may be a quoted string; its content is what counts.
fn unquote(value: &str) -> String {
    let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) else {
        return value.to_owned();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

/// The server's choice: the first of the client's `offers` (raw `Sec-WebSocket-Extensions`
/// elements, in order) that is valid and can be honoured, with our own wishes from `config`
/// added; `None` when there is none (the connection goes on without compression).
///
/// ```
/// use rustchat_ws::DeflateConfig;
/// use rustchat_ws::deflate::negotiate;
/// let config = DeflateConfig::enabled().no_context_takeover(true).peer_no_context_takeover(true);
/// let offers = ["x-webkit-deflate-frame", "permessage-deflate; client_max_window_bits"];
/// let agreement = negotiate(&config, offers.into_iter()).expect("the second offer");
/// assert_eq!(
///     agreement.response,
///     "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
/// );
/// ```
pub fn negotiate<'a>(
    config: &DeflateConfig,
    offers: impl Iterator<Item = &'a str>,
) -> Option<Agreement> {
    if !config.enabled {
        return None;
    }
    offers
        .filter_map(parse_element)
        .filter_map(Result::ok)
        .find_map(|offer| accept(config, offer))
}

/// Our answer to one valid offer, or `None` to decline it.
fn accept(config: &DeflateConfig, offer: Written) -> Option<Agreement> {
    let server_bits = offer
        .server_max_window_bits
        .unwrap_or(MAX_WINDOW_BITS)
        .min(config.max_window_bits);
    // §7.1.2.2: without `client_max_window_bits` in the offer the client may use 2^15, and we
    // may not say otherwise; with it, we may lower the client's window.
    let client_bits = match offer.client_max_window_bits {
        None => MAX_WINDOW_BITS,
        Some(offered) => offered
            .unwrap_or(MAX_WINDOW_BITS)
            .min(config.peer_max_window_bits),
    };
    let params = DeflateParams {
        server_no_context_takeover: offer.server_no_context_takeover || config.no_context_takeover,
        client_no_context_takeover: offer.client_no_context_takeover
            || config.peer_no_context_takeover,
        server_max_window_bits: server_bits,
        client_max_window_bits: client_bits,
    };
    let mut response = String::from(NAME);
    if params.server_no_context_takeover {
        response.push_str("; server_no_context_takeover");
    }
    if params.client_no_context_takeover {
        response.push_str("; client_no_context_takeover");
    }
    // §7.1.2.1: an offered server window is answered with the same or a smaller one; we may
    // also announce a smaller one unasked.
    if offer.server_max_window_bits.is_some() || server_bits < MAX_WINDOW_BITS {
        response.push_str(&format!("; server_max_window_bits={server_bits}"));
    }
    // §7.1.2.2: the response may carry `client_max_window_bits` (with a value) only if the
    // offer had it.
    if let Some(offered) = offer.client_max_window_bits
        && (offered.is_some() || client_bits < MAX_WINDOW_BITS)
    {
        response.push_str(&format!("; client_max_window_bits={client_bits}"));
    }
    Some(Agreement { params, response })
}

/// The client's `Sec-WebSocket-Extensions` offer for `config`.
///
/// We always say `client_max_window_bits` (we can compress with any window the server picks).
pub(crate) fn offer(config: &DeflateConfig) -> String {
    let mut offer = String::from(NAME);
    if config.no_context_takeover {
        offer.push_str("; client_no_context_takeover");
    }
    if config.peer_no_context_takeover {
        offer.push_str("; server_no_context_takeover");
    }
    if config.peer_max_window_bits < MAX_WINDOW_BITS {
        offer.push_str(&format!(
            "; server_max_window_bits={}",
            config.peer_max_window_bits
        ));
    }
    if config.max_window_bits < MAX_WINDOW_BITS {
        offer.push_str(&format!(
            "; client_max_window_bits={}",
            config.max_window_bits
        ));
    } else {
        offer.push_str("; client_max_window_bits");
    }
    offer
}

/// The client's check of the server's `Sec-WebSocket-Extensions` elements against what
/// `config` offered (RFC 7692 §5.1, §7.1): the parameters to use, or why the connection must
/// fail.
pub(crate) fn check_response(
    config: &DeflateConfig,
    elements: &[&str],
) -> Result<Option<DeflateParams>, String> {
    let Some((first, rest)) = elements.split_first() else {
        return Ok(None);
    };
    if !rest.is_empty() {
        return Err("more than one extension in the response; we offered one".to_owned());
    }
    let written = match parse_element(first) {
        None => return Err("an extension we did not offer".to_owned()),
        Some(parsed) => parsed?,
    };
    // §7.1.2.1: the server's window may be at most what we offered, if we offered one.
    let offered_server =
        (config.peer_max_window_bits < MAX_WINDOW_BITS).then_some(config.peer_max_window_bits);
    let server_bits = match (written.server_max_window_bits, offered_server) {
        (Some(bits), Some(max)) if bits > max => {
            return Err(format!(
                "server_max_window_bits={bits}, larger than the {max} we offered"
            ));
        }
        (None, Some(max)) => {
            return Err(format!(
                "no server_max_window_bits in the response to our server_max_window_bits={max}"
            ));
        }
        (Some(bits), _) => bits,
        (None, None) => MAX_WINDOW_BITS,
    };
    // §7.1.2.2: the client's window, at most what we offered (we always offer the parameter).
    let client_bits = match written.client_max_window_bits {
        Some(None) => return Err("client_max_window_bits without a value".to_owned()),
        Some(Some(bits)) if bits > config.max_window_bits => {
            return Err(format!(
                "client_max_window_bits={bits}, larger than the {} we offered",
                config.max_window_bits
            ));
        }
        Some(Some(bits)) => bits,
        None => config.max_window_bits,
    };
    // §7.1.1.1: we asked the server not to keep its context; the response must say it won't.
    if config.peer_no_context_takeover && !written.server_no_context_takeover {
        return Err(
            "no server_no_context_takeover in the response to our server_no_context_takeover"
                .to_owned(),
        );
    }
    Ok(Some(DeflateParams {
        server_no_context_takeover: written.server_no_context_takeover,
        client_no_context_takeover: written.client_no_context_takeover
            || config.no_context_takeover,
        server_max_window_bits: server_bits,
        client_max_window_bits: client_bits,
    }))
}
