//! Limits and options of a connection.

use crate::deflate::DeflateConfig;

/// Connection settings. Every limit is checked *before* memory is reserved for the data it
/// guards, and a violation fails the connection with close code 1009.
///
/// | setting | default | why |
/// | --- | --- | --- |
/// | `max_frame_size` | 1 MiB | a frame header can announce 2^63 bytes; we refuse before buffering |
/// | `max_message_size` | 1 MiB | the sum of a fragmented message's frames |
/// | `max_fragments` | 4096 | many tiny frames cost a little work each: bound it |
/// | `deflate` | off | permessage-deflate (RFC 7692): see [`DeflateConfig`] |
///
/// With deflate on, `max_message_size` bounds the *inflated* message.
///
/// ```
/// let config = rustchat_ws::Config::default()
///     .max_message_size(64 * 1024)
///     .max_frame_size(64 * 1024);
/// assert_eq!(config.max_message_size, 65536);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Largest payload of one frame, in bytes.
    pub max_frame_size: usize,
    /// Largest payload of a whole (reassembled) message, in bytes.
    pub max_message_size: usize,
    /// Most frames one message may be split into.
    pub max_fragments: usize,
    /// permessage-deflate: offered by clients and accepted by servers when enabled.
    pub deflate: DeflateConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_frame_size: 1 << 20,
            max_message_size: 1 << 20,
            max_fragments: 4096,
            deflate: DeflateConfig::default(),
        }
    }
}

impl Config {
    /// Sets [`Config::max_frame_size`].
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.max_frame_size = bytes;
        self
    }

    /// Sets [`Config::max_message_size`].
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Sets [`Config::max_fragments`].
    pub fn max_fragments(mut self, frames: usize) -> Self {
        self.max_fragments = frames;
        self
    }

    /// Sets [`Config::deflate`].
    pub fn deflate(mut self, deflate: DeflateConfig) -> Self {
        self.deflate = deflate;
        self
    }
}
