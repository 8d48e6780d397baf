//! SMTP TLS Reporting (RFC 8460) for mail servers, end to end.
//!
//! 1. **Record**: the MTA calls [`record`] (or [`Recorder::record`]) once
//!    per delivery attempt with an [`Outcome`]; outcomes are appended to a
//!    per-UTC-day file, safely from many processes at once (see
//!    [`store`]).
//! 2. **Aggregate**: [`print_reports`] gives a day's reports as JSON (RFC
//!    8460 §4, written by the `sts-core` [`ReportWriter`]), one per policy
//!    domain.
//! 3. **Submit**: [`send()`] closes finished days, looks up
//!    `_smtp._tls.<policy-domain>`, and delivers each report by mail
//!    (§5.3, the way [`ReportOptions::smtp`] says: SMTP, STARTTLS, SMTPS
//!    or sendmail) or HTTPS POST (§5.4), with retries across runs (see
//!    [`send`](mod@crate::send)).
//!
//! **Loop prevention** (RFC 8460 §5.3, RFC 8689): deliveries of report
//! messages must not be reported. Set [`Outcome::report_delivery`] when the
//! message being delivered is a report — every report this crate sends
//! carries a `TLS-Report-Domain` header and `TLS-Required: No`, so an MTA
//! can test the header with [`is_report_message`] — and [`record`] drops
//! the outcome.
//!
//! [`ReportWriter`]: sts_core::tlsrpt::report::ReportWriter

pub mod address;
pub mod aggregate;
pub mod cli;
pub mod day;
pub mod deliver;
#[cfg(feature = "redis")]
pub mod fleet;
pub mod https;
pub mod mail;
pub mod mailto;
pub mod plan;
pub mod policy;
pub mod send;
pub mod spool;
pub mod store;
pub mod submit;
pub mod transport;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sts_client::dns::{DnsResolver, TxtResolver};

pub use crate::day::Day;
pub use crate::send::{EventKind, SendEvent, SendSummary};
pub use crate::store::{Failure, Outcome, Recorded, Recorder, SessionResult};
pub use crate::transport::{MailTransport, Password, Security};
pub use sts_core::tlsrpt::{PolicyType, ResultType};

/// Why a reporting operation failed.
#[derive(Debug)]
pub enum ReportError {
    /// A file operation failed.
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        error: std::io::Error,
    },
    /// The outcome cannot be recorded (bad domain, zero count, too long).
    BadOutcome(String),
    /// The report could not be written.
    Render(String),
    /// `send` was asked for a day that is not over yet (UTC).
    DayNotOver(Day),
    /// Another `send` is running on the same store.
    Busy,
    /// An option is invalid.
    BadOption(String),
}

impl ReportError {
    pub(crate) fn io(path: &Path, error: std::io::Error) -> ReportError {
        ReportError::Io {
            path: path.to_path_buf(),
            error,
        }
    }
}

impl fmt::Display for ReportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReportError::Io { path, error } => write!(f, "{}: {error}", path.display()),
            ReportError::BadOutcome(e) => write!(f, "bad outcome: {e}"),
            ReportError::Render(e) => write!(f, "cannot write the report: {e}"),
            ReportError::DayNotOver(d) => write!(f, "day {d} is not over yet (UTC)"),
            ReportError::Busy => f.write_str("another report sender is running"),
            ReportError::BadOption(e) => write!(f, "bad option: {e}"),
        }
    }
}

impl std::error::Error for ReportError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReportError::Io { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// Settings for aggregation and submission.
#[derive(Clone, Debug)]
pub struct ReportOptions {
    /// The store directory (day files and the send spool).
    pub dir: PathBuf,
    /// `organization-name` of the reports.
    pub organization_name: String,
    /// `contact-info` of the reports (an address or URI).
    pub contact_info: String,
    /// The submitter's domain: `TLS-Report-Submitter`, the first part of
    /// the file name, the right side of report-ids.
    pub submitter: String,
    /// The From address of report mail (header and envelope).
    pub mail_from: String,
    /// How report mail leaves (default `smtp://127.0.0.1:25`, the local
    /// MTA); see [`transport`].
    pub smtp: MailTransport,
    /// The password of the SMTP user (`STS_SMTP_PASSWORD`).
    pub smtp_password: Option<Password>,
    /// A file whose first line is the SMTP password, read when
    /// `smtp_password` is unset (`STS_SMTP_PASSWORD_FILE`).
    pub smtp_password_file: Option<PathBuf>,
    /// EHLO name (default: `submitter`).
    pub helo_name: Option<String>,
    /// DNS server for `_smtp._tls` lookups (default: `/etc/resolv.conf`).
    pub dns_server: Option<SocketAddr>,
    /// PEM roots for HTTPS reporting URIs and SMTP servers instead of the
    /// webpki roots.
    pub ca_file: Option<PathBuf>,
    /// Timeout of each network exchange (DNS try, SMTP command, HTTPS
    /// request).
    pub timeout: Duration,
    /// Runs (attempts) before a report that not every destination accepted
    /// is given up and deleted.
    pub max_attempts: u32,
    /// Delay before the second attempt; doubled after each failed one.
    pub retry_base: Duration,
    /// Longest delay between attempts.
    pub retry_max: Duration,
    /// The current Unix time (tests); `None` for the system clock.
    pub now: Option<u64>,
    /// The fleet's Redis (`STS_REDIS_URL`): `print` and `send` then work
    /// on the whole fleet's outcomes (needs the `redis` feature).
    pub redis_url: Option<sts_client::shared::RedisUrl>,
}

impl ReportOptions {
    /// Options for the store at `dir`, reports submitted as `submitter`
    /// (a domain name), mail from `tlsrpt-noreply@<submitter>`, 6 attempts
    /// starting 30 minutes apart and at most 12 hours apart.
    pub fn new(dir: impl Into<PathBuf>, submitter: &str) -> ReportOptions {
        ReportOptions {
            dir: dir.into(),
            organization_name: submitter.to_owned(),
            contact_info: format!("postmaster@{submitter}"),
            submitter: submitter.to_owned(),
            mail_from: format!("tlsrpt-noreply@{submitter}"),
            smtp: MailTransport::default(),
            smtp_password: None,
            smtp_password_file: None,
            helo_name: None,
            dns_server: None,
            ca_file: None,
            timeout: Duration::from_secs(30),
            max_attempts: 6,
            retry_base: Duration::from_secs(30 * 60),
            retry_max: Duration::from_secs(12 * 3600),
            now: None,
            redis_url: None,
        }
    }

    /// Fills unset settings from the environment: `STS_DNS_SERVER` and
    /// `STS_CA_FILE` (as for the client), `STS_SMTP_PASSWORD` and
    /// `STS_SMTP_PASSWORD_FILE`. `STS_REPORT_SMTP` (a [`MailTransport`]
    /// URL) replaces the default transport; the older `STS_SMTP_RELAY`
    /// (`ip:port`) means `smtp://ip:port`. Call it before setting a
    /// transport of your own.
    pub fn apply_env(&mut self) -> Result<(), ReportError> {
        let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty());
        if self.dns_server.is_none() {
            if let Some(v) = var("STS_DNS_SERVER") {
                self.dns_server = Some(
                    sts_client::dns::parse_server(&v)
                        .ok_or_else(|| ReportError::BadOption(format!("STS_DNS_SERVER={v}")))?,
                );
            }
        }
        if self.ca_file.is_none() {
            self.ca_file = var("STS_CA_FILE").map(PathBuf::from);
        }
        // Ignored without the `redis` feature, as by the client.
        if self.redis_url.is_none() && cfg!(feature = "redis") {
            if let Some(v) = var("STS_REDIS_URL") {
                // Not the value: it may hold the password.
                self.redis_url = Some(sts_client::shared::RedisUrl::parse(&v).map_err(|e| {
                    ReportError::BadOption(format!("STS_REDIS_URL is not valid: {e}"))
                })?);
            }
        }
        if let Some(v) = var("STS_SMTP_RELAY") {
            let addr: SocketAddr = v
                .parse()
                .map_err(|_| ReportError::BadOption(format!("STS_SMTP_RELAY={v}")))?;
            self.smtp = MailTransport::Smtp {
                security: Security::Plain,
                host: addr.ip().to_string(),
                port: addr.port(),
                user: None,
            };
        }
        if let Some(v) = var("STS_REPORT_SMTP") {
            self.smtp = v
                .parse()
                // The value is not repeated: it may hold a password by
                // mistake.
                .map_err(|e| ReportError::BadOption(format!("STS_REPORT_SMTP: {e}")))?;
        }
        if self.smtp_password.is_none() {
            self.smtp_password = var("STS_SMTP_PASSWORD").map(Password::new);
        }
        if self.smtp_password_file.is_none() {
            self.smtp_password_file = var("STS_SMTP_PASSWORD_FILE").map(PathBuf::from);
        }
        Ok(())
    }

    /// The SMTP password: `smtp_password`, else the first line of
    /// `smtp_password_file`, else none.
    pub fn password(&self) -> Result<Option<Password>, ReportError> {
        if let Some(p) = &self.smtp_password {
            return Ok(Some(p.clone()));
        }
        match &self.smtp_password_file {
            None => Ok(None),
            Some(f) => Password::from_file(f).map(Some).map_err(|e| {
                ReportError::BadOption(format!("SMTP password file {}: {e}", f.display()))
            }),
        }
    }

    fn check(&self) -> Result<(), ReportError> {
        if store::normalize_domain(&self.submitter).as_deref() != Some(self.submitter.as_str()) {
            return Err(ReportError::BadOption(format!(
                "submitter {:?} is not a lower-case domain name",
                self.submitter
            )));
        }
        if !mail::is_plain_token(&self.mail_from) || !self.mail_from.contains('@') {
            return Err(ReportError::BadOption(format!(
                "mail_from {:?} is not a plain address",
                self.mail_from
            )));
        }
        #[cfg(not(feature = "redis"))]
        if let Some(u) = &self.redis_url {
            return Err(ReportError::BadOption(format!(
                "{u}: built without the `redis` feature"
            )));
        }
        Ok(())
    }
}

/// Records one outcome in the store at `dir` (see [`Recorder::record`]).
pub fn record(dir: impl AsRef<Path>, outcome: &Outcome) -> Result<Recorded, ReportError> {
    Recorder::open(dir)?.record(outcome)
}

/// The JSON reports (RFC 8460 §4) of `day`, one per policy domain, sorted
/// by domain; each gets a fresh report-id. Empty when nothing was recorded.
/// Nothing is changed on disk.
pub fn print_reports(opts: &ReportOptions, day: Day) -> Result<Vec<String>, ReportError> {
    opts.check()?;
    #[cfg(feature = "redis")]
    if let Some(f) = fleet::from_options(opts)? {
        return f.print(opts, day);
    }
    Ok(send::day_reports(opts, day)?
        .into_iter()
        .map(|(_, _, json)| json)
        .collect())
}

/// Closes every finished day (or only `day`, which must be over) and
/// submits due reports, looking up `_smtp._tls` with the DNS server of the
/// options. With `dry_run`, only says what it would send; nothing is
/// delivered or changed on disk.
pub fn send(
    opts: &ReportOptions,
    day: Option<Day>,
    dry_run: bool,
) -> Result<SendSummary, ReportError> {
    send_with_resolver(opts, &resolver(opts), day, dry_run)
}

/// The project's DNS client with the server and timeout of the options
/// (for `_smtp._tls` and the SMTP host's addresses).
pub(crate) fn resolver(opts: &ReportOptions) -> DnsResolver {
    let t = opts.timeout.min(Duration::from_secs(5));
    match opts.dns_server {
        Some(s) => DnsResolver::new(s, t, 3),
        None => DnsResolver::from_system(t, 3),
    }
}

/// [`send()`] with the host's own TXT resolver.
pub fn send_with_resolver(
    opts: &ReportOptions,
    resolver: &dyn TxtResolver,
    day: Option<Day>,
    dry_run: bool,
) -> Result<SendSummary, ReportError> {
    opts.check()?;
    #[cfg(feature = "redis")]
    if !dry_run {
        if let Some(f) = fleet::from_options(opts)? {
            let today = Day::from_unix(opts.now.unwrap_or_else(day::now_unix));
            f.close_days(&opts.dir, day, today)?;
        }
    }
    send::run(opts, resolver, day, dry_run)
}

/// Whether a message header block marks a TLS report (a
/// `TLS-Report-Domain` header field, RFC 8460 §5.3): deliveries of such
/// messages must be recorded with [`Outcome::report_delivery`] set.
pub fn is_report_message(headers: &[u8]) -> bool {
    headers
        .split(|&b| b == b'\n')
        .take_while(|l| !l.is_empty() && *l != b"\r")
        .any(|l| l.len() > 18 && l[..18].eq_ignore_ascii_case(b"tls-report-domain:"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8460_5_3_report_message_detected() {
        assert!(is_report_message(
            b"From: a@b\r\nTLS-Report-Domain: example.com\r\n\r\nbody"
        ));
        assert!(!is_report_message(
            b"From: a@b\r\n\r\nTLS-Report-Domain: example.com\r\n"
        ));
    }
}
