//! The policy part of an outcome (RFC 8460 §4.3), from what the client
//! knows about the recipient domain: shared by `sts report record` and the
//! C ABI's `sts_client_report_record`, so both record the same thing.

use sts_client::{LookupError, PolicyLookup};

use crate::store::Outcome;
use sts_core::tlsrpt::PolicyType;

/// Why a lookup cannot say which policy applied.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnknownPolicy {
    /// DNS failed temporarily: recording "no policy" would be a guess.
    TemporaryDnsFailure,
}

impl UnknownPolicy {
    /// A short description.
    pub fn as_str(self) -> &'static str {
        match self {
            UnknownPolicy::TemporaryDnsFailure => {
                "DNS failed temporarily, so the policy in force is unknown"
            }
        }
    }
}

impl std::fmt::Display for UnknownPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for UnknownPolicy {}

/// The lines of a policy file as TLSRPT's `policy-string` wants them.
pub fn policy_lines(text: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(text)
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// An outcome for `domain` at `at` whose policy part comes from `look`:
/// the policy in force (`sts`, its lines and MX patterns); `no-policy-found`
/// for a domain that publishes none (RFC 8460 §4.3); `sts` without text
/// when a TXT record announced a policy that could not be had (fetch
/// failure, invalid policy, back-off); an error when DNS cannot tell now.
pub fn outcome_for(look: &PolicyLookup, domain: &str, at: u64) -> Result<Outcome, UnknownPolicy> {
    if let Some(p) = &look.policy {
        let mut o = Outcome::new(PolicyType::Sts, domain, at);
        o.policy_strings = policy_lines(&p.text);
        o.mx_hosts = p.mx.clone();
        return Ok(o);
    }
    match &look.error {
        None | Some(LookupError::Txt(_)) => Ok(Outcome::new(PolicyType::NoPolicyFound, domain, at)),
        Some(LookupError::Dns(e)) if !e.is_temporary() => {
            Ok(Outcome::new(PolicyType::NoPolicyFound, domain, at))
        }
        // A TXT record announces a policy that could not be had: the
        // session was under MTA-STS, with no policy text to report.
        Some(LookupError::Fetch(_) | LookupError::Invalid(_) | LookupError::BackedOff) => {
            Ok(Outcome::new(PolicyType::Sts, domain, at))
        }
        Some(_) => Err(UnknownPolicy::TemporaryDnsFailure),
    }
}
