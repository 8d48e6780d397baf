//! SMTP TLS Reporting (RFC 8460).
//!
//! [`record`] parses the `_smtp._tls` TXT record that tells a sender where
//! to deliver reports.

pub mod record;

pub use record::{parse, TlsrptError, TlsrptRecord};
