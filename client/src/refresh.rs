//! The policy refresh rules of RFC 8461 §3.3, §3.4 and §5.1 live in the
//! no_std core ([`sts_core::cache`]) as pure functions; the client drives
//! them with its cache, its DNS answers and the clock.

pub use sts_core::cache::*;
