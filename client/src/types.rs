//! The values a lookup returns: decisions, policies in force, where they
//! came from and why a lookup found none.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use sts_core::policy::{self, Mode, PolicyError};
use sts_core::txt::TxtError;

use crate::cache::CachedPolicy;
use crate::dns::DnsError;
use crate::fetch::FetchError;

/// What the caller knows about DANE for the MX host (RFC 8461 §2: a
/// domain whose MX host has a usable DNSSEC-signed TLSA RRset is governed
/// by DANE, RFC 7672, and MTA-STS is not applied).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DaneStatus {
    /// No DNSSEC-signed TLSA records, or not looked up.
    NotUsable,
    /// The MX host has a usable DNSSEC-signed TLSA RRset.
    Usable,
}

/// The policy in force for a delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DecisionMode {
    /// `enforce`: deliver only to a permitted MX over validated TLS.
    Enforce,
    /// `testing`: deliver anyway, report failures.
    Testing,
    /// `none`: the domain withdrew its policy.
    None,
    /// The domain has no usable policy.
    NoPolicy,
    /// DANE applies instead of MTA-STS.
    Dane,
}

impl DecisionMode {
    /// A short lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionMode::Enforce => "enforce",
            DecisionMode::Testing => "testing",
            DecisionMode::None => "none",
            DecisionMode::NoPolicy => "no-policy",
            DecisionMode::Dane => "dane",
        }
    }
}

impl From<Mode> for DecisionMode {
    fn from(m: Mode) -> Self {
        match m {
            Mode::Enforce => DecisionMode::Enforce,
            Mode::Testing => DecisionMode::Testing,
            Mode::None => DecisionMode::None,
        }
    }
}

/// RFC 8460 §4.3 result types this layer can determine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TlsrptFailure {
    /// `sts-policy-fetch-error`: the policy could not be fetched.
    StsPolicyFetchError,
    /// `sts-policy-invalid`: the fetched policy is not valid.
    StsPolicyInvalid,
    /// `validation-failure`: the MX host is not permitted by the policy.
    ValidationFailure,
}

impl TlsrptFailure {
    /// The result type as written in a TLSRPT report.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsrptFailure::StsPolicyFetchError => "sts-policy-fetch-error",
            TlsrptFailure::StsPolicyInvalid => "sts-policy-invalid",
            TlsrptFailure::ValidationFailure => "validation-failure",
        }
    }
}

/// Where the policy of a decision came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// Fetched during this call.
    Network,
    /// From the cache.
    Cache,
    /// No policy.
    None,
}

impl Source {
    /// `"network"`, `"cache"` or `"none"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Network => "network",
            Source::Cache => "cache",
            Source::None => "none",
        }
    }
}

/// Why a lookup found no policy, or found one only in the cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LookupError {
    /// The domain is not a valid domain name.
    BadDomain(String),
    /// The TXT lookup failed (temporarily, see [`DnsError::is_temporary`]).
    Dns(DnsError),
    /// The TXT records give no policy (none or several STSv1 records, a
    /// malformed record).
    Txt(TxtError),
    /// The policy could not be fetched.
    Fetch(FetchError),
    /// The fetched policy is invalid.
    Invalid(PolicyError),
    /// A fetch failed recently; not retried until the back-off ends.
    BackedOff,
}

impl LookupError {
    /// Whether retrying later may give another answer (DNS trouble,
    /// network trouble), as opposed to a definite "no policy".
    pub fn is_temporary(&self) -> bool {
        match self {
            LookupError::Dns(e) => e.is_temporary(),
            LookupError::Fetch(_) | LookupError::BackedOff => true,
            _ => false,
        }
    }
}

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LookupError::BadDomain(d) => write!(f, "not a valid domain: {d}"),
            LookupError::Dns(e) => write!(f, "TXT lookup: {e}"),
            LookupError::Txt(e) => write!(f, "TXT record: {}", e.as_str()),
            LookupError::Fetch(e) => write!(f, "policy fetch: {e}"),
            LookupError::Invalid(e) => write!(f, "policy invalid: {}", e.as_str()),
            LookupError::BackedOff => f.write_str("policy fetch failed recently; backing off"),
        }
    }
}

impl std::error::Error for LookupError {}

/// A policy in force, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyInfo {
    /// The TXT `id` the policy was fetched under.
    pub txt_id: String,
    /// The mode.
    pub mode: Mode,
    /// `max_age` in seconds.
    pub max_age: u32,
    /// The mx patterns, in file order.
    pub mx: Vec<String>,
    /// The policy file.
    pub text: Arc<[u8]>,
    /// When it was fetched (Unix seconds).
    pub fetched_at: u64,
    /// When it expires (Unix seconds).
    pub expires_at: u64,
}

impl PolicyInfo {
    pub(crate) fn from_cached(c: &CachedPolicy) -> Option<PolicyInfo> {
        let p = policy::parse(&c.text).ok()?;
        Some(PolicyInfo {
            txt_id: c.txt_id.clone(),
            mode: p.mode(),
            max_age: p.max_age(),
            mx: p
                .mx()
                .map(|m| String::from_utf8_lossy(m).into_owned())
                .collect(),
            text: c.text.clone(),
            fetched_at: c.fetched_at,
            expires_at: c.expires_at,
        })
    }

    /// RFC 8461 §4.1: whether `mx_host` (an A-label host name) is
    /// permitted. IP literals never are.
    pub fn permits(&self, mx_host: &str) -> bool {
        policy::parse(&self.text).is_ok_and(|p| p.match_mx(mx_host.as_bytes()).is_ok())
    }
}

/// The result of [`Client::lookup`]: the policy in force for a domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyLookup {
    /// The domain as A-labels, lower case.
    pub domain: String,
    /// The policy in force, if any.
    pub policy: Option<PolicyInfo>,
    /// Where it came from.
    pub source: Source,
    /// What went wrong on the way, if anything (with a policy present,
    /// a refresh failed and the cached policy was used).
    pub error: Option<LookupError>,
    /// The TLSRPT result type of a failed fetch, if a fetch failed.
    pub fetch_failure: Option<TlsrptFailure>,
}

/// The answer to "may I deliver to this MX host?".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The recipient domain as A-labels.
    pub domain: String,
    /// The MX host as given, converted to A-labels when possible.
    pub mx_host: String,
    /// The policy mode in force.
    pub mode: DecisionMode,
    /// Whether the MX host is permitted (always true without a policy in
    /// `enforce` or `testing` mode).
    pub mx_permitted: bool,
    /// What to report to TLSRPT for this delivery, if anything:
    /// `validation-failure` when the MX is not permitted, else a fetch or
    /// invalid-policy failure met while looking the policy up.
    pub failure: Option<TlsrptFailure>,
    /// The policy in force.
    pub policy: Option<PolicyInfo>,
    /// Where the policy came from.
    pub source: Source,
    /// What went wrong while looking the policy up, if anything.
    pub error: Option<LookupError>,
    /// The message carries `TLS-Required: No` (RFC 8689 §5): the sender
    /// asked that MTA-STS and DANE not stop the delivery. The policy is
    /// still looked up and judged (for reporting), but [`Decision::refuse`]
    /// and [`Decision::tls_required`] are false.
    pub tls_required_no: bool,
}

impl Decision {
    /// Whether the delivery must not go ahead: `enforce` and the MX host
    /// is not permitted (after the §5.1 re-check). The MTA should defer
    /// rather than bounce.
    pub fn refuse(&self) -> bool {
        self.mode == DecisionMode::Enforce && !self.mx_permitted && !self.tls_required_no
    }

    /// Whether TLS with a certificate valid for [`Decision::mx_host`] must
    /// be required (`enforce` mode).
    pub fn tls_required(&self) -> bool {
        self.mode == DecisionMode::Enforce && !self.tls_required_no
    }
}

/// The inputs of [`Client::decide_with`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecisionRequest<'a> {
    /// The recipient domain (U-labels or A-labels).
    pub domain: &'a str,
    /// The MX host about to be used.
    pub mx_host: &'a str,
    /// Whether DANE governs the MX host.
    pub dane: DaneStatus,
    /// The message has `TLS-Required: No` (RFC 8689).
    pub tls_required_no: bool,
}

/// What [`Client::refresh_all`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RefreshReport {
    /// Entries looked at.
    pub checked: usize,
    /// Policies fetched anew.
    pub refreshed: usize,
    /// Fetches that failed.
    pub failed: usize,
    /// Expired entries removed.
    pub removed: usize,
}

/// Converts a domain to lower-case A-labels without a final dot and
/// checks it is a host name. U-labels are converted with IDNA (UTS 46).
pub fn normalize_domain(domain: &str) -> Result<String, LookupError> {
    let bad = || LookupError::BadDomain(domain.to_owned());
    let d = domain.strip_suffix('.').unwrap_or(domain);
    if d.is_empty() || d.parse::<IpAddr>().is_ok() || d.starts_with('[') {
        return Err(bad());
    }
    let ascii = if d.is_ascii() {
        d.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii(d).map_err(|_| bad())?
    };
    if sts_core::name::validate(ascii.as_bytes()).is_err()
        || sts_core::name::looks_like_ipv4(ascii.as_bytes())
    {
        return Err(bad());
    }
    Ok(ascii)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_become_a_labels() {
        assert_eq!(
            normalize_domain("Example.COM.").as_deref(),
            Ok("example.com")
        );
        assert_eq!(
            normalize_domain("bücher.example").as_deref(),
            Ok("xn--bcher-kva.example")
        );
        assert!(normalize_domain("192.0.2.1").is_err());
        assert!(normalize_domain("[::1]").is_err());
        assert!(normalize_domain("").is_err());
        assert!(normalize_domain("a..b").is_err());
        assert!(normalize_domain("../etc").is_err());
    }

    #[test]
    fn tlsrpt_result_type_names() {
        assert_eq!(
            TlsrptFailure::StsPolicyFetchError.as_str(),
            "sts-policy-fetch-error"
        );
        assert_eq!(
            TlsrptFailure::StsPolicyInvalid.as_str(),
            "sts-policy-invalid"
        );
        assert_eq!(
            TlsrptFailure::ValidationFailure.as_str(),
            "validation-failure"
        );
    }
}
