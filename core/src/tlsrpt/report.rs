//! The aggregate TLS report (RFC 8460 §4), written as JSON into a caller
//! buffer with no allocation.
//!
//! A report is written in one pass by [`ReportWriter`], a small state
//! machine: [`ReportWriter::new`] writes the header, then for each policy
//! [`ReportWriter::policy`] and any number of [`ReportWriter::failure`]
//! calls, then [`ReportWriter::finish`] closes the document and returns its
//! length. Calls out of order and a buffer that is too small are errors,
//! never a truncated document passed off as complete.
//!
//! Every string is escaped for JSON (RFC 8259 §7); bytes that are not valid
//! UTF-8 become U+FFFD, so the output is always valid UTF-8 JSON.

use crate::lex::error_enum;

error_enum! {
    /// Why a report could not be written.
    pub enum ReportError {
        /// The buffer is too small for the report.
        BufferTooSmall => "report buffer is too small",
        /// A failure detail came before any policy, or a call came after
        /// `finish`.
        OutOfOrder => "report calls out of order (failure before policy, or after finish)",
        /// The date range is not representable (year outside 1970..=9999).
        BadDate => "report date is outside the years 1970 to 9999",
    }
}

error_enum! {
    /// Why a result-type or policy-type name was not recognised.
    pub enum ResultTypeError {
        /// Not one of the names of RFC 8460 §4.3.
        Unknown => "not a TLSRPT result type of RFC 8460 section 4.3",
    }
}

/// The result types of RFC 8460 §4.3, in the order the RFC lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum ResultType {
    /// §4.3.1 `starttls-not-supported`.
    StarttlsNotSupported = 0,
    /// §4.3.1 `certificate-host-mismatch`.
    CertificateHostMismatch = 1,
    /// §4.3.1 `certificate-expired`.
    CertificateExpired = 2,
    /// §4.3.1 `certificate-not-trusted`.
    CertificateNotTrusted = 3,
    /// §4.3.1 `validation-failure`.
    ValidationFailure = 4,
    /// §4.3.2 `tlsa-invalid`.
    TlsaInvalid = 5,
    /// §4.3.2 `dnssec-invalid`.
    DnssecInvalid = 6,
    /// §4.3.2 `dane-required`.
    DaneRequired = 7,
    /// §4.3.3 `sts-policy-fetch-error`.
    StsPolicyFetchError = 8,
    /// §4.3.3 `sts-policy-invalid`.
    StsPolicyInvalid = 9,
    /// §4.3.3 `sts-webpki-invalid`.
    StsWebpkiInvalid = 10,
}

impl ResultType {
    /// Every result type.
    pub const ALL: [ResultType; 11] = [
        ResultType::StarttlsNotSupported,
        ResultType::CertificateHostMismatch,
        ResultType::CertificateExpired,
        ResultType::CertificateNotTrusted,
        ResultType::ValidationFailure,
        ResultType::TlsaInvalid,
        ResultType::DnssecInvalid,
        ResultType::DaneRequired,
        ResultType::StsPolicyFetchError,
        ResultType::StsPolicyInvalid,
        ResultType::StsWebpkiInvalid,
    ];

    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        let s = self.as_nul_terminated();
        &s[..s.len() - 1]
    }

    /// [`Self::as_str`] followed by a NUL byte, for C callers.
    pub const fn as_nul_terminated(self) -> &'static str {
        match self {
            ResultType::StarttlsNotSupported => "starttls-not-supported\0",
            ResultType::CertificateHostMismatch => "certificate-host-mismatch\0",
            ResultType::CertificateExpired => "certificate-expired\0",
            ResultType::CertificateNotTrusted => "certificate-not-trusted\0",
            ResultType::ValidationFailure => "validation-failure\0",
            ResultType::TlsaInvalid => "tlsa-invalid\0",
            ResultType::DnssecInvalid => "dnssec-invalid\0",
            ResultType::DaneRequired => "dane-required\0",
            ResultType::StsPolicyFetchError => "sts-policy-fetch-error\0",
            ResultType::StsPolicyInvalid => "sts-policy-invalid\0",
            ResultType::StsWebpkiInvalid => "sts-webpki-invalid\0",
        }
    }

    /// Parses a result-type name (exact, lower case).
    pub fn from_name(name: &[u8]) -> Result<Self, ResultTypeError> {
        Self::ALL
            .iter()
            .copied()
            .find(|t| t.as_str().as_bytes() == name)
            .ok_or(ResultTypeError::Unknown)
    }
}

/// The policy types of RFC 8460 §4.3 (`policy-type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum PolicyType {
    /// `sts`: an MTA-STS policy.
    Sts = 0,
    /// `tlsa`: a DANE TLSA RRset.
    Tlsa = 1,
    /// `no-policy-found`: neither.
    NoPolicyFound = 2,
}

impl PolicyType {
    /// The name used in reports.
    pub const fn as_str(self) -> &'static str {
        match self {
            PolicyType::Sts => "sts",
            PolicyType::Tlsa => "tlsa",
            PolicyType::NoPolicyFound => "no-policy-found",
        }
    }
}

/// Report metadata (RFC 8460 §4.4 top level).
#[derive(Clone, Copy, Debug)]
pub struct ReportHeader<'a> {
    /// `organization-name`.
    pub organization_name: &'a [u8],
    /// The UTC day the report covers, as days since 1970-01-01;
    /// `date-range` runs from 00:00:00Z to 23:59:59Z of that day.
    pub day: u32,
    /// `contact-info`.
    pub contact_info: &'a [u8],
    /// `report-id`.
    pub report_id: &'a [u8],
}

/// How the policy is given for `policy-string`.
#[derive(Clone, Copy, Debug)]
pub enum PolicyStrings<'a> {
    /// A policy file: each line (without its LF or CRLF) is one string.
    Text(&'a [u8]),
    /// Explicit strings (for example TLSA records in presentation form).
    List(&'a [&'a [u8]]),
    /// No policy (`no-policy-found`): the field is omitted.
    None,
}

/// One `policies` entry: the policy and its summary counts.
#[derive(Clone, Copy, Debug)]
pub struct PolicyEntry<'a> {
    /// `policy-type`.
    pub policy_type: PolicyType,
    /// `policy-string`.
    pub policy_strings: PolicyStrings<'a>,
    /// `policy-domain`.
    pub policy_domain: &'a [u8],
    /// `mx-host`: the MX patterns the policy names (may be empty; then
    /// the field is omitted).
    pub mx_hosts: &'a [&'a [u8]],
    /// `total-successful-session-count`.
    pub successful: u64,
    /// `total-failure-session-count`.
    pub failed: u64,
}

/// One `failure-details` entry. Empty optional fields are omitted.
#[derive(Clone, Copy, Debug)]
pub struct FailureDetail<'a> {
    /// `result-type`.
    pub result_type: ResultType,
    /// `sending-mta-ip`.
    pub sending_mta_ip: &'a [u8],
    /// `receiving-mx-hostname`.
    pub receiving_mx_hostname: &'a [u8],
    /// `receiving-mx-helo`.
    pub receiving_mx_helo: &'a [u8],
    /// `receiving-ip`.
    pub receiving_ip: &'a [u8],
    /// `failed-session-count`.
    pub failed_session_count: u64,
    /// `additional-information` (a URI, per the RFC).
    pub additional_information: &'a [u8],
    /// `failure-reason-code`.
    pub failure_reason_code: &'a [u8],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    NoPolicy,
    InPolicy { has_failures: bool },
    Finished,
}

/// Writes one report; see the module documentation.
#[derive(Debug)]
pub struct ReportWriter<'b> {
    buf: &'b mut [u8],
    len: usize,
    overflow: bool,
    state: State,
}

impl<'b> ReportWriter<'b> {
    /// Starts a report in `buf` with its header.
    pub fn new(buf: &'b mut [u8], header: &ReportHeader<'_>) -> Result<Self, ReportError> {
        let (y, m, d) = civil_from_days(header.day).ok_or(ReportError::BadDate)?;
        let mut w = ReportWriter {
            buf,
            len: 0,
            overflow: false,
            state: State::NoPolicy,
        };
        w.raw(b"{\"organization-name\":");
        w.string(header.organization_name);
        w.raw(b",\"date-range\":{\"start-datetime\":\"");
        w.date(y, m, d);
        w.raw(b"T00:00:00Z\",\"end-datetime\":\"");
        w.date(y, m, d);
        w.raw(b"T23:59:59Z\"},\"contact-info\":");
        w.string(header.contact_info);
        w.raw(b",\"report-id\":");
        w.string(header.report_id);
        w.raw(b",\"policies\":[");
        w.check()?;
        Ok(w)
    }

    /// Starts the next `policies` entry.
    pub fn policy(&mut self, entry: &PolicyEntry<'_>) -> Result<(), ReportError> {
        match self.state {
            State::Finished => return Err(ReportError::OutOfOrder),
            State::NoPolicy => {}
            State::InPolicy { .. } => {
                self.close_policy();
                self.raw(b",");
            }
        }
        self.raw(b"{\"policy\":{\"policy-type\":\"");
        self.raw(entry.policy_type.as_str().as_bytes());
        self.raw(b"\"");
        match entry.policy_strings {
            PolicyStrings::Text(text) => {
                self.raw(b",\"policy-string\":[");
                let mut first = true;
                for line in text.split(|&b| b == b'\n') {
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    if line.is_empty() {
                        continue;
                    }
                    if !first {
                        self.raw(b",");
                    }
                    first = false;
                    self.string(line);
                }
                self.raw(b"]");
            }
            PolicyStrings::List(list) => {
                self.raw(b",\"policy-string\":[");
                for (i, s) in list.iter().enumerate() {
                    if i > 0 {
                        self.raw(b",");
                    }
                    self.string(s);
                }
                self.raw(b"]");
            }
            PolicyStrings::None => {}
        }
        self.raw(b",\"policy-domain\":");
        self.string(entry.policy_domain);
        if !entry.mx_hosts.is_empty() {
            self.raw(b",\"mx-host\":[");
            for (i, h) in entry.mx_hosts.iter().enumerate() {
                if i > 0 {
                    self.raw(b",");
                }
                self.string(h);
            }
            self.raw(b"]");
        }
        self.raw(b"},\"summary\":{\"total-successful-session-count\":");
        self.number(entry.successful);
        self.raw(b",\"total-failure-session-count\":");
        self.number(entry.failed);
        self.raw(b"}");
        self.state = State::InPolicy {
            has_failures: false,
        };
        self.check()
    }

    /// Adds a `failure-details` entry to the current policy.
    pub fn failure(&mut self, f: &FailureDetail<'_>) -> Result<(), ReportError> {
        match self.state {
            State::InPolicy {
                has_failures: false,
            } => self.raw(b",\"failure-details\":["),
            State::InPolicy { has_failures: true } => self.raw(b","),
            State::NoPolicy | State::Finished => return Err(ReportError::OutOfOrder),
        }
        self.raw(b"{\"result-type\":\"");
        self.raw(f.result_type.as_str().as_bytes());
        self.raw(b"\"");
        for (key, value) in [
            (&b"sending-mta-ip"[..], f.sending_mta_ip),
            (b"receiving-mx-hostname", f.receiving_mx_hostname),
            (b"receiving-mx-helo", f.receiving_mx_helo),
            (b"receiving-ip", f.receiving_ip),
        ] {
            self.optional(key, value);
        }
        self.raw(b",\"failed-session-count\":");
        self.number(f.failed_session_count);
        self.optional(b"additional-information", f.additional_information);
        self.optional(b"failure-reason-code", f.failure_reason_code);
        self.raw(b"}");
        self.state = State::InPolicy { has_failures: true };
        self.check()
    }

    /// Closes the document and returns its length in bytes.
    pub fn finish(mut self) -> Result<usize, ReportError> {
        match self.state {
            State::Finished => return Err(ReportError::OutOfOrder),
            State::InPolicy { .. } => self.close_policy(),
            State::NoPolicy => {}
        }
        self.raw(b"]}");
        self.state = State::Finished;
        self.check()?;
        Ok(self.len)
    }

    fn close_policy(&mut self) {
        if self.state == (State::InPolicy { has_failures: true }) {
            self.raw(b"]");
        }
        self.raw(b"}");
    }

    fn check(&self) -> Result<(), ReportError> {
        if self.overflow {
            Err(ReportError::BufferTooSmall)
        } else {
            Ok(())
        }
    }

    fn raw(&mut self, bytes: &[u8]) {
        match self.buf.get_mut(self.len..self.len + bytes.len()) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                self.len += bytes.len();
            }
            None => self.overflow = true,
        }
    }

    fn optional(&mut self, key: &[u8], value: &[u8]) {
        if !value.is_empty() {
            self.raw(b",\"");
            self.raw(key);
            self.raw(b"\":");
            self.string(value);
        }
    }

    fn number(&mut self, mut n: u64) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.raw(&digits[i..]);
    }

    fn date(&mut self, y: u32, m: u32, d: u32) {
        let text = [
            b'0' + (y / 1000 % 10) as u8,
            b'0' + (y / 100 % 10) as u8,
            b'0' + (y / 10 % 10) as u8,
            b'0' + (y % 10) as u8,
            b'-',
            b'0' + (m / 10) as u8,
            b'0' + (m % 10) as u8,
            b'-',
            b'0' + (d / 10) as u8,
            b'0' + (d % 10) as u8,
        ];
        self.raw(&text);
    }

    /// A JSON string (RFC 8259 §7) with invalid UTF-8 replaced by U+FFFD.
    fn string(&mut self, mut s: &[u8]) {
        self.raw(b"\"");
        while !s.is_empty() {
            let (valid, rest) = match core::str::from_utf8(s) {
                Ok(v) => (v, &s[s.len()..]),
                Err(e) => {
                    let (good, bad) = s.split_at(e.valid_up_to());
                    let skip = e.error_len().unwrap_or(bad.len());
                    (core::str::from_utf8(good).unwrap_or(""), &bad[skip..])
                }
            };
            for &b in valid.as_bytes() {
                match b {
                    b'"' => self.raw(b"\\\""),
                    b'\\' => self.raw(b"\\\\"),
                    b'\n' => self.raw(b"\\n"),
                    b'\r' => self.raw(b"\\r"),
                    b'\t' => self.raw(b"\\t"),
                    0..=0x1f | 0x7f => {
                        const HEX: &[u8; 16] = b"0123456789abcdef";
                        self.raw(&[
                            b'\\',
                            b'u',
                            b'0',
                            b'0',
                            HEX[usize::from(b >> 4)],
                            HEX[usize::from(b & 15)],
                        ]);
                    }
                    _ => self.raw(&[b]),
                }
            }
            if rest.len() < s.len() - valid.len() {
                self.raw("\u{fffd}".as_bytes());
            }
            s = rest;
        }
        self.raw(b"\"");
    }
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian
/// calendar; `None` past year 9999. The arithmetic counts 400-year eras
/// that start on March 1st, which makes leap days fall at the end of a year.
pub fn civil_from_days(days: u32) -> Option<(u32, u32, u32)> {
    let z = u64::from(days) + 719_468; // days from 0000-03-01
    let era = z / 146_097;
    let doe = z % 146_097; // day of era, 0..=146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // 0..=365
    let mp = (5 * doy + 2) / 153; // month from March, 0..=11
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    if y > 9999 {
        return None;
    }
    Some((y as u32, m as u32, d as u32))
}

#[cfg(test)]
mod tests;
