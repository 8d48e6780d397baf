//! Aggregation of a day's outcomes into reports (RFC 8460 §4): one report
//! per policy domain, one `policies` entry per distinct policy, failure
//! details grouped by every field of §4.4 that the report carries.

use std::collections::BTreeMap;

use sts_core::tlsrpt::report::{
    FailureDetail, PolicyEntry, PolicyStrings, ReportError as WriterError, ReportHeader,
    ReportWriter,
};
use sts_core::tlsrpt::{PolicyType, ResultType};

use crate::day::Day;
use crate::store::{policy_type_from, Outcome, SessionResult};
use crate::ReportError;

/// Largest report rendered (the buffer doubles up to this size).
const MAX_REPORT: usize = 256 << 20;

/// The policy a session was evaluated against (a `policies` entry key).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PolicyKey {
    /// `policy-type` name.
    pub policy_type: &'static str,
    /// `policy-string` lines.
    pub policy_strings: Vec<String>,
    /// `mx-host` patterns.
    pub mx_hosts: Vec<String>,
}

/// The fields a failure-details entry is grouped by (RFC 8460 §4.4).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct FailureKey {
    /// `result-type` name.
    pub result_type: &'static str,
    /// `sending-mta-ip`.
    pub sending_mta_ip: String,
    /// `receiving-mx-hostname`.
    pub receiving_mx_hostname: String,
    /// `receiving-mx-helo`.
    pub receiving_mx_helo: String,
    /// `receiving-ip`.
    pub receiving_ip: String,
    /// `additional-information`.
    pub additional_information: String,
    /// `failure-reason-code`.
    pub failure_reason_code: String,
}

/// Counts for one policy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyCounts {
    /// `total-successful-session-count`.
    pub successful: u64,
    /// `total-failure-session-count`.
    pub failed: u64,
    /// `failed-session-count` per failure group.
    pub failures: BTreeMap<FailureKey, u64>,
}

/// Everything one report of one policy domain says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DomainReport {
    /// Counts per policy.
    pub policies: BTreeMap<PolicyKey, PolicyCounts>,
}

impl DomainReport {
    /// Total sessions (successful and failed) over all policies.
    pub fn total_sessions(&self) -> u64 {
        self.policies
            .values()
            .map(|c| c.successful.saturating_add(c.failed))
            .fold(0, u64::saturating_add)
    }
}

/// A day's outcomes, aggregated per policy domain.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DayAggregate {
    /// The day.
    pub day: Day,
    /// Reports per policy domain (lower case, no final dot).
    pub domains: BTreeMap<String, DomainReport>,
    /// Lines of the day file that could not be decoded and were skipped.
    pub bad_lines: usize,
}

/// Aggregates outcomes of one day (outcomes of other days are counted too;
/// the caller passes one day file).
pub fn aggregate(day: Day, outcomes: &[Outcome], bad_lines: usize) -> DayAggregate {
    let mut agg = DayAggregate {
        day,
        domains: BTreeMap::new(),
        bad_lines,
    };
    for o in outcomes {
        let key = PolicyKey {
            policy_type: o.policy_type.as_str(),
            policy_strings: o.policy_strings.clone(),
            mx_hosts: o.mx_hosts.clone(),
        };
        let counts = agg
            .domains
            .entry(o.policy_domain.clone())
            .or_default()
            .policies
            .entry(key)
            .or_default();
        match &o.result {
            SessionResult::Success => counts.successful = counts.successful.saturating_add(o.count),
            SessionResult::Failure(f) => {
                counts.failed = counts.failed.saturating_add(o.count);
                let fk = FailureKey {
                    result_type: f.result_type.as_str(),
                    sending_mta_ip: f.sending_mta_ip.clone(),
                    receiving_mx_hostname: o.receiving_mx_hostname.clone(),
                    receiving_mx_helo: f.receiving_mx_helo.clone(),
                    receiving_ip: f.receiving_ip.clone(),
                    additional_information: f.additional_information.clone(),
                    failure_reason_code: f.failure_reason_code.clone(),
                };
                let n = counts.failures.entry(fk).or_insert(0);
                *n = n.saturating_add(o.count);
            }
        }
    }
    agg
}

/// The header fields of a report.
#[derive(Clone, Debug)]
pub struct ReportMeta<'a> {
    /// `organization-name`.
    pub organization_name: &'a str,
    /// `contact-info`.
    pub contact_info: &'a str,
    /// `report-id`.
    pub report_id: &'a str,
    /// The day (`date-range` is the whole UTC day).
    pub day: Day,
}

/// Writes the JSON report (RFC 8460 §4) of one policy domain with the core
/// [`ReportWriter`]; an empty `report` gives a report with no policies.
pub fn render(
    meta: &ReportMeta<'_>,
    policy_domain: &str,
    report: &DomainReport,
) -> Result<String, ReportError> {
    let mut size = 4096usize;
    loop {
        let mut buf = vec![0u8; size];
        match write_into(&mut buf, meta, policy_domain, report) {
            Ok(len) => {
                buf.truncate(len);
                return String::from_utf8(buf)
                    .map_err(|_| ReportError::Render("report is not UTF-8".into()));
            }
            Err(WriterError::BufferTooSmall) if size < MAX_REPORT => size *= 2,
            Err(e) => return Err(ReportError::Render(e.to_string())),
        }
    }
}

fn write_into(
    buf: &mut [u8],
    meta: &ReportMeta<'_>,
    policy_domain: &str,
    report: &DomainReport,
) -> Result<usize, WriterError> {
    let header = ReportHeader {
        organization_name: meta.organization_name.as_bytes(),
        day: meta.day.0,
        contact_info: meta.contact_info.as_bytes(),
        report_id: meta.report_id.as_bytes(),
    };
    let mut w = ReportWriter::new(buf, &header)?;
    for (key, counts) in &report.policies {
        let strings: Vec<&[u8]> = key.policy_strings.iter().map(|s| s.as_bytes()).collect();
        let mx: Vec<&[u8]> = key.mx_hosts.iter().map(|s| s.as_bytes()).collect();
        let policy_type = policy_type_from(key.policy_type).unwrap_or(PolicyType::NoPolicyFound);
        let policy_strings = if policy_type == PolicyType::NoPolicyFound && strings.is_empty() {
            PolicyStrings::None
        } else {
            PolicyStrings::List(&strings)
        };
        w.policy(&PolicyEntry {
            policy_type,
            policy_strings,
            policy_domain: policy_domain.as_bytes(),
            mx_hosts: &mx,
            successful: counts.successful,
            failed: counts.failed,
        })?;
        for (fk, n) in &counts.failures {
            let result_type = ResultType::from_name(fk.result_type.as_bytes())
                .unwrap_or(ResultType::ValidationFailure);
            w.failure(&FailureDetail {
                result_type,
                sending_mta_ip: fk.sending_mta_ip.as_bytes(),
                receiving_mx_hostname: fk.receiving_mx_hostname.as_bytes(),
                receiving_mx_helo: fk.receiving_mx_helo.as_bytes(),
                receiving_ip: fk.receiving_ip.as_bytes(),
                failed_session_count: *n,
                additional_information: fk.additional_information.as_bytes(),
                failure_reason_code: fk.failure_reason_code.as_bytes(),
            })?;
        }
    }
    w.finish()
}
