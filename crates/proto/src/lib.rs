//! The rustchat chat language (being written).
