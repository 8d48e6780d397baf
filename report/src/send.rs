//! Closing days and submitting reports (RFC 8460 §5), with retries across
//! runs.
//!
//! A run closes every finished day into the spool (see [`crate::spool`]);
//! then it works on every entry that is due: it looks up
//! `_smtp._tls.<policy-domain>` once (no record: the report is discarded,
//! as RFC 8460 §3 says), sends to each destination that has not accepted
//! the report yet, writes the state after each success (so a destination
//! that accepted the report never gets it again), and either deletes the
//! entry (all destinations done) or schedules the next try with
//! exponential backoff; after `max_attempts` runs the entry is deleted and
//! the destinations that never accepted it are logged.
//!
//! One sender runs at a time (`<dir>/spool/.lock`, taken without waiting:
//! a second sender gets [`crate::ReportError::Busy`]); recorders never
//! touch that lock. A sender that dies between writing the spool entries
//! and unlinking the day file makes the next run report that day again
//! (under new report-ids); half-written entries are removed.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;

use std::hash::{BuildHasher, Hasher};
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use sts_client::file_access::{self, Access};

use sts_client::dns::TxtResolver;

use crate::aggregate::{aggregate, render, DayAggregate, ReportMeta};
use crate::day::{now_unix, Day};
use crate::deliver::{process, Senders};
use crate::plan::plan;
use crate::spool::{close_day, load_entries, remove_stale_tmp, SPOOL};
use crate::store::{day_file, decode_all, recorded_days};
use crate::{ReportError, ReportOptions};

/// What happened to a report or one of its destinations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// A destination accepted the report.
    Delivered,
    /// A destination did not accept the report this time.
    DeliveryFailed,
    /// A destination URI that cannot be used (neither `mailto:` nor
    /// `https:`); it is not tried again.
    Unusable,
    /// Every destination has the report; the data is deleted.
    Completed,
    /// The policy domain publishes no (single, valid) TLSRPT record; the
    /// report is discarded.
    NoRecord,
    /// Not done yet; the next run after this Unix time tries again.
    RetryScheduled(u64),
    /// Retries ran out; the report is deleted. `destination` lists the
    /// destinations that never accepted it.
    GaveUp,
    /// Dry run: the report would be sent to `destination`.
    WouldSend,
    /// Lines of a day file could not be decoded and were skipped.
    BadLines(usize),
}

/// One line of the send log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendEvent {
    /// Report day.
    pub day: Day,
    /// Policy domain (empty for day-level events).
    pub policy_domain: String,
    /// The report-id (empty in dry runs and for day-level events).
    pub report_id: String,
    /// The destination URI, when the event concerns one.
    pub destination: Option<String>,
    /// What happened.
    pub kind: EventKind,
    /// Details (error text).
    pub detail: String,
}

impl fmt::Display for SendEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tlsrpt {} {}", self.day, self.policy_domain)?;
        if !self.report_id.is_empty() {
            write!(f, " report {}", self.report_id)?;
        }
        let what = match &self.kind {
            EventKind::Delivered => "delivered".to_owned(),
            EventKind::DeliveryFailed => "delivery failed".to_owned(),
            EventKind::Unusable => "unusable destination".to_owned(),
            EventKind::Completed => "all destinations done, data deleted".to_owned(),
            EventKind::NoRecord => "no TLSRPT record, report discarded".to_owned(),
            EventKind::RetryScheduled(t) => format!("will retry after {t}"),
            EventKind::GaveUp => "retries exhausted, report deleted".to_owned(),
            EventKind::WouldSend => "would send (dry run)".to_owned(),
            EventKind::BadLines(n) => format!("{n} undecodable lines skipped"),
        };
        write!(f, ": {what}")?;
        if let Some(d) = &self.destination {
            write!(f, " [{d}]")?;
        }
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

/// What a [`crate::send()`] run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SendSummary {
    /// Everything that happened, in order.
    pub events: Vec<SendEvent>,
    /// Reports still waiting for a retry after this run.
    pub pending: usize,
}

impl SendSummary {
    /// Number of events of a kind (compared without the payload of
    /// [`EventKind::RetryScheduled`] and [`EventKind::BadLines`]).
    pub fn count(&self, kind: &EventKind) -> usize {
        self.events
            .iter()
            .filter(|e| std::mem::discriminant(&e.kind) == std::mem::discriminant(kind))
            .count()
    }

    /// The destinations that accepted a report in this run.
    pub fn delivered(&self) -> Vec<&str> {
        self.events
            .iter()
            .filter(|e| e.kind == EventKind::Delivered)
            .filter_map(|e| e.destination.as_deref())
            .collect()
    }
}

/// A 32-hex-digit id, different for every call (per-process random keys,
/// the time, the process id and a counter).
pub(crate) fn unique_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut out = String::with_capacity(32);
    for half in 0u8..2 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(nanos);
        h.write_u32(std::process::id());
        h.write_u64(n);
        h.write_u8(half);
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out
}

/// Gzips bytes.
pub fn gzip(data: &[u8]) -> Result<Vec<u8>, ReportError> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data)
        .and_then(|()| enc.finish())
        .map_err(|e| ReportError::Render(format!("gzip: {e}")))
}

/// Reads and aggregates a day file without changing it.
pub(crate) fn read_day(dir: &Path, day: Day) -> Result<DayAggregate, ReportError> {
    let path = day_file(dir, day);
    match fs::read(&path) {
        Ok(bytes) => {
            let (outcomes, bad) = decode_all(&bytes);
            Ok(aggregate(day, &outcomes, bad))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(aggregate(day, &[], 0)),
        Err(e) => Err(ReportError::io(&path, e)),
    }
}

/// The JSON reports of a day, one per policy domain (fresh report-ids;
/// nothing is changed on disk).
pub(crate) fn day_reports(
    opts: &ReportOptions,
    day: Day,
) -> Result<Vec<(String, String, String)>, ReportError> {
    render_all(opts, day, &read_day(&opts.dir, day)?)
}

/// Renders the report of every policy domain of an aggregated day under a
/// fresh unique id: (policy domain, unique id, JSON).
pub(crate) fn render_all(
    opts: &ReportOptions,
    day: Day,
    agg: &DayAggregate,
) -> Result<Vec<(String, String, String)>, ReportError> {
    let mut out = Vec::new();
    for (domain, report) in &agg.domains {
        let unique = unique_id();
        let report_id = format!("{unique}@{}", opts.submitter);
        let json = render(
            &ReportMeta {
                organization_name: &opts.organization_name,
                contact_info: &opts.contact_info,
                report_id: &report_id,
                day,
            },
            domain,
            report,
        )?;
        out.push((domain.to_string(), unique, json));
    }
    Ok(out)
}

/// The outcome of the `_smtp._tls` lookup.
pub(crate) enum Lookup {
    Found(Vec<String>),
    NoRecord(String),
    Temporary(String),
}

/// Whether a TXT record at `_smtp._tls` is a TLSRPT record (RFC 8460 §3):
/// it begins with `v=TLSRPTv1` followed by `;` or white space (or ends
/// there); `v=TLSRPTv1x` is some other record and is ignored.
pub(crate) fn is_tlsrpt_record(r: &[u8]) -> bool {
    r.strip_prefix(b"v=TLSRPTv1")
        .is_some_and(|rest| matches!(rest.first(), None | Some(b';' | b' ' | b'\t')))
}

pub(crate) fn lookup(resolver: &dyn TxtResolver, domain: &str) -> Lookup {
    let name = format!("_smtp._tls.{domain}");
    match resolver.lookup_txt(&name) {
        Ok(records) => {
            let candidates: Vec<&Vec<u8>> =
                records.iter().filter(|r| is_tlsrpt_record(r)).collect();
            if candidates.len() != 1 {
                return Lookup::NoRecord(format!(
                    "{name}: {} TLSRPT records, not exactly one",
                    candidates.len()
                ));
            }
            match sts_core::tlsrpt::parse(candidates[0]) {
                Ok(rec) => Lookup::Found(
                    rec.rua()
                        .map(|u| String::from_utf8_lossy(u).into_owned())
                        .collect(),
                ),
                Err(e) => Lookup::NoRecord(format!("{name}: invalid record: {e}")),
            }
        }
        Err(e) if !e.is_temporary() => Lookup::NoRecord(format!("{name}: {e}")),
        Err(e) => Lookup::Temporary(format!("{name}: {e}")),
    }
}

/// See [`crate::send_with_resolver`].
pub(crate) fn run(
    opts: &ReportOptions,
    resolver: &dyn TxtResolver,
    day: Option<Day>,
    dry_run: bool,
) -> Result<SendSummary, ReportError> {
    let now = opts.now.unwrap_or_else(now_unix);
    let today = Day::from_unix(now);
    if let Some(d) = day {
        if d >= today {
            return Err(ReportError::DayNotOver(d));
        }
    }
    let spool = opts.dir.join(SPOOL);
    // Owner-only (or the group of a set-group-ID store) whatever the
    // umask; a spool others can write is refused.
    let access = file_access::create_dir_all(&opts.dir, Access::Owner)
        .and_then(|a| file_access::create_dir_all(&spool, a))
        .map_err(|e| ReportError::io(&spool, e))?;
    let lock_path = spool.join(".lock");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(access.file_mode())
        .open(&lock_path)
        .map_err(|e| ReportError::io(&lock_path, e))?;
    file_access::finish_file(&lock, &spool, access).map_err(|e| ReportError::io(&lock_path, e))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => return Err(ReportError::Busy),
        Err(fs::TryLockError::Error(e)) => return Err(ReportError::io(&lock_path, e)),
    }

    // Half-written entries of a sender that died (only senders write
    // them, and we hold the sender lock).
    if !dry_run {
        remove_stale_tmp(&spool);
    }

    let days: Vec<Day> = match day {
        Some(d) => vec![d],
        None => recorded_days(&opts.dir)?
            .into_iter()
            .filter(|d| *d < today)
            .collect(),
    };
    let mut summary = SendSummary::default();
    if dry_run {
        return plan(opts, resolver, &days, day);
    }

    for d in days {
        close_day(opts, d, &mut summary)?;
    }
    let mut senders = Senders::new(opts);
    for e in load_entries(&spool)? {
        if day.is_some_and(|d| d != e.day) {
            continue;
        }
        if e.next_try > now {
            summary.pending += 1;
            continue;
        }
        process(&mut senders, resolver, e, now, &mut summary)?;
    }
    drop(lock);
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8460_3_record_selection_needs_separator_after_version() {
        assert!(is_tlsrpt_record(b"v=TLSRPTv1; rua=mailto:a@b"));
        assert!(is_tlsrpt_record(b"v=TLSRPTv1 ;rua=mailto:a@b"));
        assert!(is_tlsrpt_record(b"v=TLSRPTv1\t;rua=mailto:a@b"));
        assert!(!is_tlsrpt_record(b"v=TLSRPTv1x; rua=mailto:a@b"));
        assert!(!is_tlsrpt_record(b"v=TLSRPTv10;rua=mailto:a@b"));
        assert!(!is_tlsrpt_record(b"v=STSv1; id=1"));
    }
}
