//! SMTP TLS Reporting (RFC 8460).
//!
//! [`record`] parses the `_smtp._tls` TXT record that tells a sender where
//! to deliver reports; [`report`] writes the JSON report (§4).

pub mod record;
pub mod report;

pub use record::{parse, TlsrptError, TlsrptRecord};
pub use report::{PolicyType, ResultType};
