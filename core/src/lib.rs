//! `sts-core`: the sans-I/O heart of libsts.
//!
//! Everything here is a pure function of bytes: it parses MTA-STS TXT
//! records ([RFC 8461 §3.1]), policy files ([§3.2]), matches MX hosts
//! against policy patterns ([§4.1]) and parses TLSRPT records ([RFC 8460
//! §3]), and decides when a cached policy must be refreshed ([`refresh`]).
//! It never allocates, never does I/O and never panics on any input;
//! parsers borrow their input and report what is wrong with a specific
//! error value per broken rule.
//!
//! [RFC 8461 §3.1]: https://www.rfc-editor.org/rfc/rfc8461#section-3.1
//! [§3.2]: https://www.rfc-editor.org/rfc/rfc8461#section-3.2
//! [§4.1]: https://www.rfc-editor.org/rfc/rfc8461#section-4.1
//! [RFC 8460 §3]: https://www.rfc-editor.org/rfc/rfc8460#section-3
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "webpki")]
extern crate alloc;

#[cfg(feature = "webpki")]
pub mod cert;
#[cfg(feature = "dane")]
pub mod dane;
pub mod mx;
pub mod name;
pub mod policy;
pub mod refresh;
pub mod tlsrpt;
pub mod txt;

mod lex;

pub use policy::{Mode, Policy};
pub use tlsrpt::TlsrptRecord;
pub use txt::TxtRecord;
