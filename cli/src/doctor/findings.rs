//! What `sts doctor` found, and how it is shown: one line per finding for
//! a person, the same findings as JSON for a program, and the exit status.

use std::process::ExitCode;

use serde_json::{json, Value};

/// How bad a finding is. Ordered: a report's worst verdict sets the exit
/// status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verdict {
    /// Right as it is.
    Ok,
    /// Worth knowing, not a fault (no DANE, no IPv6, testing mode).
    Info,
    /// Mail still flows, but something is weak or about to break.
    Warning,
    /// Senders that enforce MTA-STS (or DANE) refuse or defer mail, or the
    /// published MTA-STS setup cannot be used.
    Error,
}

impl Verdict {
    /// `ok`, `info`, `warning` or `error`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Info => "info",
            Verdict::Warning => "warning",
            Verdict::Error => "error",
        }
    }
}

/// Which check a finding comes from, in the order they are reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Check {
    /// The `_mta-sts` TXT record (RFC 8461 §3.1).
    Txt,
    /// Fetching the policy over HTTPS (§3.3).
    PolicyHttps,
    /// The policy's syntax (§3.2).
    PolicySyntax,
    /// The policy's mode (§5).
    PolicyMode,
    /// The policy's max_age (§3.2).
    PolicyMaxAge,
    /// The domain's MX records.
    MxRecords,
    /// Whether the policy permits an MX host (§4.1).
    MxPermitted,
    /// Whether a policy pattern matches some MX host.
    MxPattern,
    /// An MX host's addresses.
    MxAddress,
    /// Connecting and talking SMTP to an MX address.
    SmtpConnect,
    /// STARTTLS offered and the handshake done (RFC 3207).
    StartTls,
    /// The TLS version negotiated.
    TlsVersion,
    /// The certificate under WebPKI for the MX host name (RFC 8461 §4.2).
    Certificate,
    /// Days until the certificate expires.
    CertificateExpiry,
    /// TLSA records and whether the chain matches them (RFC 7672).
    Dane,
    /// The `_smtp._tls` TLSRPT record (RFC 8460 §3).
    Tlsrpt,
}

impl Check {
    /// The name used in both outputs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Check::Txt => "txt",
            Check::PolicyHttps => "policy-https",
            Check::PolicySyntax => "policy-syntax",
            Check::PolicyMode => "policy-mode",
            Check::PolicyMaxAge => "policy-max-age",
            Check::MxRecords => "mx-records",
            Check::MxPermitted => "mx-permitted",
            Check::MxPattern => "mx-pattern",
            Check::MxAddress => "mx-address",
            Check::SmtpConnect => "smtp-connect",
            Check::StartTls => "starttls",
            Check::TlsVersion => "tls-version",
            Check::Certificate => "certificate",
            Check::CertificateExpiry => "certificate-expiry",
            Check::Dane => "dane",
            Check::Tlsrpt => "tlsrpt",
        }
    }
}

/// One finding: the check, what it was about (a record, a host, an
/// address), the verdict, what was seen and, for a problem, what to fix.
#[derive(Clone, Debug)]
pub struct Finding {
    /// The check.
    pub check: Check,
    /// What it looked at: a DNS name, an MX host, `host [ip]:port`.
    pub subject: String,
    /// How bad.
    pub verdict: Verdict,
    /// What was seen.
    pub detail: String,
    /// What to do about it (problems only).
    pub hint: Option<String>,
}

impl Finding {
    /// A finding without a hint.
    pub fn new(check: Check, subject: &str, verdict: Verdict, detail: String) -> Finding {
        Finding {
            check,
            subject: subject.to_owned(),
            verdict,
            detail,
            hint: None,
        }
    }

    /// The same finding with what to fix.
    pub fn hint(mut self, hint: impl Into<String>) -> Finding {
        self.hint = Some(hint.into());
        self
    }
}

/// The worst verdict of `findings`, as the exit status: 0 nothing wrong,
/// 1 an error, 2 warnings only.
pub fn exit_code(findings: &[Finding]) -> ExitCode {
    match findings.iter().map(|f| f.verdict).max() {
        Some(Verdict::Error) => ExitCode::from(1),
        Some(Verdict::Warning) => ExitCode::from(2),
        _ => ExitCode::SUCCESS,
    }
}

/// The human report: a line per finding, the hint indented below it, and
/// a summary line.
pub fn render_text(domain: &str, findings: &[Finding]) -> String {
    let mut out = format!("sts doctor {domain}\n");
    for f in findings {
        out.push_str(&format!(
            "{:<8} {:<18} {}: {}\n",
            f.verdict.as_str(),
            f.check.as_str(),
            f.subject,
            f.detail
        ));
        if let Some(h) = &f.hint {
            out.push_str(&format!("         fix: {h}\n"));
        }
    }
    let count = |v| findings.iter().filter(|f| f.verdict == v).count();
    out.push_str(&format!(
        "{} error(s), {} warning(s)\n",
        count(Verdict::Error),
        count(Verdict::Warning)
    ));
    out
}

/// The JSON report: the domain, the overall verdict (the worst one; `ok`
/// when there is only information) and every finding.
pub fn render_json(domain: &str, findings: &[Finding]) -> Value {
    let worst = match findings.iter().map(|f| f.verdict).max() {
        Some(v @ (Verdict::Warning | Verdict::Error)) => v,
        _ => Verdict::Ok,
    };
    json!({
        "domain": domain,
        "verdict": worst.as_str(),
        "findings": findings.iter().map(|f| json!({
            "check": f.check.as_str(),
            "subject": f.subject,
            "verdict": f.verdict.as_str(),
            "detail": f.detail,
            "hint": f.hint,
        })).collect::<Vec<_>>(),
    })
}
