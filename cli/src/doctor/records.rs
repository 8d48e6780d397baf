//! The DNS records of the domain itself: `_mta-sts` (RFC 8461 §3.1) and
//! `_smtp._tls` (RFC 8460 §3).

use sts_client::dns::DnsError;
use sts_core::{tlsrpt, txt};

use super::findings::{Check, Finding, Verdict};
use super::{Env, TxtState};

impl Env {
    pub(super) fn txt(&self, name: &str) -> (TxtState, Finding) {
        let f = |v, d: String| Finding::new(Check::Txt, name, v, d);
        let records = match self.dns.txt(name) {
            Ok(r) => r,
            Err(DnsError::NxDomain | DnsError::NoData) => {
                return (
                    TxtState::Absent,
                    f(Verdict::Warning, "no TXT record".into()),
                )
            }
            Err(e) => return (
                TxtState::Broken,
                f(Verdict::Error, format!("lookup failed: {e}")).hint(
                    "make the name resolve (senders treat a failed lookup as a temporary error)",
                ),
            ),
        };
        let candidates = records.iter().filter(|r| txt::is_candidate(r)).count();
        match txt::select(records.iter().map(Vec::as_slice)) {
            Ok(r) => (
                TxtState::Valid,
                f(
                    Verdict::Ok,
                    format!("v=STSv1, id={}", String::from_utf8_lossy(r.id)),
                ),
            ),
            Err(txt::TxtError::NoRecord) => (
                TxtState::Absent,
                f(Verdict::Warning, "no TXT record begins with v=STSv1".into()),
            ),
            Err(e) => {
                let hint = if candidates > 1 {
                    format!(
                        "keep exactly one v=STSv1 record at {name} (there are {candidates}); RFC 8461 §3.1 makes senders ignore all of them"
                    )
                } else {
                    "write the record as \"v=STSv1; id=<1 to 32 letters and digits>;\"".into()
                };
                (
                    TxtState::Broken,
                    f(Verdict::Error, e.as_str().into()).hint(hint),
                )
            }
        }
    }

    pub(super) fn tlsrpt(&self, domain: &str) -> Vec<Finding> {
        let name = format!("_smtp._tls.{domain}");
        let hint_publish = format!(
            "publish \"v=TLSRPTv1; rua=mailto:tlsrpt@{domain}\" as TXT at {name} to receive reports of failed TLS deliveries"
        );
        let records = match self.dns.txt(&name) {
            Ok(r) => r,
            Err(DnsError::NxDomain | DnsError::NoData) => {
                return vec![Finding::new(
                    Check::Tlsrpt,
                    &name,
                    Verdict::Warning,
                    "no TLSRPT record: nobody hears about failed deliveries".into(),
                )
                .hint(hint_publish)]
            }
            Err(e) => {
                return vec![Finding::new(
                    Check::Tlsrpt,
                    &name,
                    Verdict::Warning,
                    format!("lookup failed: {e}"),
                )
                .hint("make the name resolve")]
            }
        };
        // RFC 8460 §3: records not starting with "v=TLSRPTv1;" are
        // ignored; more than one that does means no policy.
        let ours: Vec<&Vec<u8>> = records.iter().filter(|r| is_tlsrpt(r)).collect();
        match ours.as_slice() {
            [] => vec![Finding::new(
                Check::Tlsrpt,
                &name,
                Verdict::Warning,
                "no TXT record begins with v=TLSRPTv1".into(),
            )
            .hint(hint_publish)],
            [one] => match tlsrpt::parse(one) {
                Ok(r) => {
                    let rua: Vec<String> = r
                        .rua()
                        .map(|u| String::from_utf8_lossy(u).into_owned())
                        .collect();
                    vec![Finding::new(
                        Check::Tlsrpt,
                        &name,
                        Verdict::Ok,
                        format!("reports go to {}", rua.join(", ")),
                    )]
                }
                Err(e) => {
                    vec![
                        Finding::new(Check::Tlsrpt, &name, Verdict::Warning, e.as_str().into())
                            .hint(
                            "write it as \"v=TLSRPTv1; rua=mailto:ADDRESS\" (or an https:// URI)",
                        ),
                    ]
                }
            },
            more => vec![Finding::new(
                Check::Tlsrpt,
                &name,
                Verdict::Warning,
                format!(
                    "{} records begin with v=TLSRPTv1: senders use none",
                    more.len()
                ),
            )
            .hint("keep exactly one TLSRPT record")],
        }
    }
}

/// Whether a TXT record is one RFC 8460 §3 keeps: `v=TLSRPTv1` and then
/// `;` (after optional whitespace, which the record's ABNF allows).
fn is_tlsrpt(record: &[u8]) -> bool {
    record
        .strip_prefix(b"v=TLSRPTv1")
        .and_then(|rest| rest.iter().find(|b| !matches!(b, b' ' | b'\t')))
        == Some(&b';')
}

#[cfg(test)]
mod tests {
    use super::is_tlsrpt;

    #[test]
    fn rfc8460_3_record_selection() {
        assert!(is_tlsrpt(b"v=TLSRPTv1; rua=mailto:a@b.test"));
        assert!(is_tlsrpt(b"v=TLSRPTv1 ;rua=mailto:a@b.test"));
        assert!(!is_tlsrpt(b"v=TLSRPTv10; rua=mailto:a@b.test"));
        assert!(!is_tlsrpt(b"v=TLSRPTv1"));
        assert!(!is_tlsrpt(b"v=spf1 -all"));
    }
}
