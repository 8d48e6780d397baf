//! The policy file (RFC 8461 §3.2, §3.3) and the MX records against it
//! (§4.1).

use sts_client::dns::{DnsError, MailHosts};
use sts_client::fetch::FetchError;
use sts_core::mx;
use sts_core::policy::{self, Mode};

use super::findings::{Check, Finding, Verdict};
use super::{Env, MAX_MX, MIN_MAX_AGE};

impl Env {
    /// Checks the fetched policy text; the parsed policy's mode and mx
    /// patterns when it is valid.
    pub(super) fn policy(
        &self,
        host: &str,
        text: &[u8],
        out: &mut Vec<Finding>,
    ) -> Option<PolicySummary> {
        out.push(Finding::new(
            Check::PolicyHttps,
            host,
            Verdict::Ok,
            format!(
                "certificate valid for {host}, HTTP 200 without redirect, text/plain, {} bytes",
                text.len()
            ),
        ));
        let p = match policy::parse_detailed(text) {
            Ok(p) => p,
            Err(e) => {
                let (line, col) = e.line_column(text);
                out.push(
                    Finding::new(
                        Check::PolicySyntax,
                        host,
                        Verdict::Error,
                        format!("line {line}, column {col}: {}", e.error.as_str()),
                    )
                    .hint("correct the policy file (`sts lint FILE` checks it before you publish); senders ignore an invalid policy"),
                );
                return None;
            }
        };
        out.push(Finding::new(
            Check::PolicySyntax,
            host,
            Verdict::Ok,
            format!(
                "valid: mode {}, max_age {}, {} mx",
                p.mode().as_str(),
                p.max_age(),
                p.mx_count()
            ),
        ));
        let (verdict, detail) = match p.mode() {
            Mode::Enforce => (
                Verdict::Ok,
                "enforce: senders refuse MX hosts that fail".to_owned(),
            ),
            Mode::Testing => (
                Verdict::Info,
                "testing: senders deliver anyway and report failures".to_owned(),
            ),
            Mode::None => (Verdict::Info, "none: the policy is withdrawn".to_owned()),
        };
        out.push(Finding::new(Check::PolicyMode, host, verdict, detail));
        if p.max_age() < MIN_MAX_AGE {
            out.push(
                Finding::new(
                    Check::PolicyMaxAge,
                    host,
                    Verdict::Warning,
                    format!("max_age {} is under one day", p.max_age()),
                )
                .hint("raise max_age to weeks (e.g. 1209600 or more), as RFC 8461 §3.2 suggests, so that a cached policy outlives an attack on DNS"),
            );
        } else {
            out.push(Finding::new(
                Check::PolicyMaxAge,
                host,
                Verdict::Ok,
                format!("max_age {} ({} days)", p.max_age(), p.max_age() / 86_400),
            ));
        }
        Some(PolicySummary {
            mode: p.mode(),
            patterns: p
                .mx()
                .map(|m| String::from_utf8_lossy(m).into_owned())
                .collect(),
        })
    }
}

/// The policy facts the MX checks need.
pub(super) struct PolicySummary {
    pub(super) mode: Mode,
    patterns: Vec<String>,
}

pub(super) fn fetch_failure(host: &str, e: &FetchError) -> Finding {
    let hint = match e {
        FetchError::HostNotFound => format!("publish A/AAAA records for {host}"),
        FetchError::Connect(_) => format!("start an HTTPS server on {host}"),
        FetchError::Tls(_) => {
            format!("serve a certificate valid for {host} from a public CA (RFC 8461 §3.3)")
        }
        FetchError::Timeout => format!("make {host} answer within the timeout"),
        FetchError::Redirect(_) => {
            "serve the policy directly: senders do not follow redirects (RFC 8461 §3.3)".into()
        }
        FetchError::Status(_) => {
            format!("serve the policy at https://{host}/.well-known/mta-sts.txt with status 200")
        }
        FetchError::ContentType(_) => "serve the policy with Content-Type: text/plain".into(),
        FetchError::TooLarge => "shorten the policy (senders stop reading at 64 KiB)".into(),
        FetchError::Http(_) => "fix the HTTPS server".into(),
    };
    Finding::new(Check::PolicyHttps, host, Verdict::Error, e.to_string()).hint(hint)
}

/// The domain's MX records against the policy (RFC 8461 §4.1).
pub(super) fn mx_findings(
    domain: &str,
    mail_hosts: &Result<MailHosts, DnsError>,
    policy: Option<&PolicySummary>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let hosts: Vec<String> = match mail_hosts {
        Ok(MailHosts::Mx(list)) => {
            out.push(Finding::new(
                Check::MxRecords,
                domain,
                Verdict::Ok,
                list.iter()
                    .map(|m| format!("{} {}", m.preference, m.exchange))
                    .collect::<Vec<_>>()
                    .join(", "),
            ));
            if list.len() > MAX_MX {
                out.push(Finding::new(
                    Check::MxRecords,
                    domain,
                    Verdict::Info,
                    format!("{} MX records; the first {MAX_MX} checked", list.len()),
                ));
            }
            list.iter().map(|m| m.exchange.clone()).collect()
        }
        Ok(MailHosts::Implicit(d)) => {
            out.push(Finding::new(
                Check::MxRecords,
                domain,
                Verdict::Info,
                "no MX records: the domain itself is the mail host (RFC 5321 §5.1)".into(),
            ));
            vec![d.clone()]
        }
        Ok(MailHosts::NullMx) => {
            out.push(Finding::new(
                Check::MxRecords,
                domain,
                Verdict::Info,
                "null MX (RFC 7505): the domain accepts no mail".into(),
            ));
            return out;
        }
        Err(e) => {
            out.push(
                Finding::new(
                    Check::MxRecords,
                    domain,
                    Verdict::Error,
                    format!("MX lookup failed: {e}"),
                )
                .hint("publish MX records for the domain"),
            );
            return out;
        }
    };
    let Some(p) = policy else { return out };
    let refused = match p.mode {
        Mode::Enforce => Verdict::Error,
        Mode::Testing => Verdict::Warning,
        Mode::None => Verdict::Info,
    };
    for h in &hosts {
        let matching = p
            .patterns
            .iter()
            .find(|pat| mx::pattern_match(pat.as_bytes(), h.as_bytes()).is_ok());
        out.push(match matching {
            Some(pat) => Finding::new(
                Check::MxPermitted,
                h,
                Verdict::Ok,
                format!("permitted by mx: {pat}"),
            ),
            None => Finding::new(
                Check::MxPermitted,
                h,
                refused,
                format!("not permitted by the policy (mode {})", p.mode.as_str()),
            )
            .hint(format!(
                "add \"mx: {h}\" to the policy and change the TXT id, or remove the MX record"
            )),
        });
    }
    for pat in &p.patterns {
        if !hosts
            .iter()
            .any(|h| mx::pattern_match(pat.as_bytes(), h.as_bytes()).is_ok())
        {
            out.push(
                Finding::new(
                    Check::MxPattern,
                    pat,
                    Verdict::Warning,
                    "matches no MX host of the domain (stale entry?)".into(),
                )
                .hint(format!(
                    "remove \"mx: {pat}\" from the policy if that host is gone"
                )),
            );
        }
    }
    out
}
