//! Closing days and submitting reports (RFC 8460 §5), with retries across
//! runs.
//!
//! Closing a day turns its day file into one spool entry per policy domain,
//! `<dir>/spool/<unique-id>/` holding `report.json.gz` (the report exactly
//! as it will be sent, so a retry sends the same report-id) and `state`
//! (destinations, per-destination success, attempts, next try). The day
//! file is unlinked only after every entry is written.
//!
//! Each run then works on every entry that is due: it looks up
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
use std::fs::{self, File, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sts_client::dns::TxtResolver;

use crate::aggregate::{aggregate, render, DayAggregate, ReportMeta};
use crate::day::{now_unix, Day};
use crate::https::Poster;
use crate::mail::{build_message, smtp_send, MailReport};
use crate::store::{day_file, decode_all, recorded_days, same_file};
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

const SPOOL: &str = "spool";
const STATE: &str = "state";
const REPORT: &str = "report.json.gz";

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

#[derive(Clone, Debug, PartialEq, Eq)]
struct Dest {
    uri: String,
    /// `pending`, `done` or `unusable`.
    status: &'static str,
}

#[derive(Clone, Debug)]
struct Entry {
    dir: PathBuf,
    day: Day,
    domain: String,
    report_id: String,
    unique_id: String,
    attempts: u32,
    next_try: u64,
    resolved: bool,
    dests: Vec<Dest>,
}

impl Entry {
    fn encode(&self) -> String {
        let mut s = format!(
            "day {}\ndomain {}\nreport-id {}\nunique-id {}\nattempts {}\nnext-try {}\nresolved {}\n",
            self.day.0,
            self.domain,
            self.report_id,
            self.unique_id,
            self.attempts,
            self.next_try,
            u8::from(self.resolved)
        );
        for d in &self.dests {
            s.push_str(&format!("dest {} {}\n", d.status, d.uri));
        }
        s
    }

    fn decode(dir: PathBuf, text: &str) -> Option<Entry> {
        let mut e = Entry {
            dir,
            day: Day(0),
            domain: String::new(),
            report_id: String::new(),
            unique_id: String::new(),
            attempts: 0,
            next_try: 0,
            resolved: false,
            dests: Vec::new(),
        };
        for line in text.lines() {
            let (key, value) = line.split_once(' ')?;
            match key {
                "day" => e.day = Day(value.parse().ok()?),
                "domain" => e.domain = value.to_owned(),
                "report-id" => e.report_id = value.to_owned(),
                "unique-id" => e.unique_id = value.to_owned(),
                "attempts" => e.attempts = value.parse().ok()?,
                "next-try" => e.next_try = value.parse().ok()?,
                "resolved" => e.resolved = value == "1",
                "dest" => {
                    let (status, uri) = value.split_once(' ')?;
                    let status = match status {
                        "pending" => "pending",
                        "done" => "done",
                        "unusable" => "unusable",
                        _ => return None,
                    };
                    e.dests.push(Dest {
                        uri: uri.to_owned(),
                        status,
                    });
                }
                _ => {}
            }
        }
        (!e.domain.is_empty() && !e.unique_id.is_empty()).then_some(e)
    }

    /// Writes the state atomically (temporary file, fsync, rename).
    fn save(&self) -> Result<(), ReportError> {
        let tmp = self.dir.join("state.tmp");
        let path = self.dir.join(STATE);
        write_synced(&tmp, self.encode().as_bytes()).map_err(|e| ReportError::io(&tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| ReportError::io(&path, e))
    }

    fn event(&self, kind: EventKind, destination: Option<&str>, detail: String) -> SendEvent {
        SendEvent {
            day: self.day,
            policy_domain: self.domain.clone(),
            report_id: self.report_id.clone(),
            destination: destination.map(str::to_owned),
            kind,
            detail,
        }
    }
}

fn write_synced(path: &Path, data: &[u8]) -> io::Result<()> {
    let mut f = File::create(path)?;
    f.write_all(data)?;
    f.sync_all()
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
fn render_all(
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

/// Turns a day file into spool entries and unlinks it.
fn close_day(opts: &ReportOptions, day: Day, summary: &mut SendSummary) -> Result<(), ReportError> {
    let path = day_file(&opts.dir, day);
    let spool = opts.dir.join(SPOOL);
    let file = match OpenOptions::new().read(true).open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(ReportError::io(&path, e)),
    };
    file.lock().map_err(|e| ReportError::io(&path, e))?;
    if !same_file(&file, &path) {
        return Ok(());
    }
    let mut bytes = Vec::new();
    (&file)
        .read_to_end(&mut bytes)
        .map_err(|e| ReportError::io(&path, e))?;
    let (outcomes, bad) = decode_all(&bytes);
    if bad > 0 {
        summary.events.push(SendEvent {
            day,
            policy_domain: String::new(),
            report_id: String::new(),
            destination: None,
            kind: EventKind::BadLines(bad),
            detail: path.display().to_string(),
        });
    }
    let agg = aggregate(day, &outcomes, bad);
    for (domain, unique, json) in render_all(opts, day, &agg)? {
        let report_id = format!("{unique}@{}", opts.submitter);
        let gz = gzip(json.as_bytes())?;
        let tmp = spool.join(format!(".{unique}.tmp"));
        let final_dir = spool.join(&unique);
        fs::create_dir_all(&tmp).map_err(|e| ReportError::io(&tmp, e))?;
        let report_path = tmp.join(REPORT);
        write_synced(&report_path, &gz).map_err(|e| ReportError::io(&report_path, e))?;
        let entry = Entry {
            dir: tmp.clone(),
            day,
            domain,
            report_id,
            unique_id: unique,
            attempts: 0,
            next_try: 0,
            resolved: false,
            dests: Vec::new(),
        };
        entry.save()?;
        fs::rename(&tmp, &final_dir).map_err(|e| ReportError::io(&final_dir, e))?;
    }
    fs::remove_file(&path).map_err(|e| ReportError::io(&path, e))?;
    Ok(())
}

fn load_entries(spool: &Path) -> Result<Vec<Entry>, ReportError> {
    let rd = match fs::read_dir(spool) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ReportError::io(spool, e)),
    };
    let mut out = Vec::new();
    for ent in rd.filter_map(|e| e.ok()) {
        let name = ent.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let dir = ent.path();
        let Ok(text) = fs::read_to_string(dir.join(STATE)) else {
            continue;
        };
        if let Some(e) = Entry::decode(dir, &text) {
            out.push(e);
        }
    }
    out.sort_by(|a, b| (a.day, &a.domain, &a.unique_id).cmp(&(b.day, &b.domain, &b.unique_id)));
    Ok(out)
}

/// The outcome of the `_smtp._tls` lookup.
enum Lookup {
    Found(Vec<String>),
    NoRecord(String),
    Temporary(String),
}

fn lookup(resolver: &dyn TxtResolver, domain: &str) -> Lookup {
    let name = format!("_smtp._tls.{domain}");
    match resolver.lookup_txt(&name) {
        Ok(records) => {
            let candidates: Vec<&Vec<u8>> = records
                .iter()
                .filter(|r| r.starts_with(b"v=TLSRPTv1"))
                .collect();
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

/// Decodes `%XX` escapes (RFC 3986) of a `mailto:` address.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

enum Delivery {
    Accepted,
    Failed(String),
    Unusable(String),
}

struct Senders<'a> {
    opts: &'a ReportOptions,
    poster: Option<Result<Poster, String>>,
}

impl Senders<'_> {
    fn deliver(&mut self, entry: &Entry, uri: &str, gz: &[u8], now: u64) -> Delivery {
        if let Some(rest) = uri.strip_prefix("mailto:") {
            let addr = rest.split('?').next().unwrap_or("");
            let Some(to) = percent_decode(addr).filter(|a| a.contains('@')) else {
                return Delivery::Unusable(format!("bad mailto address {addr:?}"));
            };
            let report = MailReport {
                from: &self.opts.mail_from,
                to: &to,
                submitter: &self.opts.submitter,
                policy_domain: &entry.domain,
                report_id: &entry.report_id,
                unique_id: &entry.unique_id,
                day: entry.day,
                date: now,
                gzip: gz,
            };
            let Some(message) = build_message(&report) else {
                return Delivery::Unusable(format!(
                    "cannot write a message to {to:?} from {:?}",
                    self.opts.mail_from
                ));
            };
            let helo = self
                .opts
                .helo_name
                .as_deref()
                .unwrap_or(&self.opts.submitter);
            match smtp_send(
                self.opts.smtp_relay,
                self.opts.timeout,
                helo,
                &self.opts.mail_from,
                &to,
                &message,
            ) {
                Ok(()) => Delivery::Accepted,
                Err(e) => Delivery::Failed(e),
            }
        } else if uri.starts_with("https://") {
            let opts = self.opts;
            let poster = self
                .poster
                .get_or_insert_with(|| Poster::new(opts.ca_file.as_deref(), opts.timeout));
            match poster {
                Ok(p) => match p.post(uri, gz) {
                    Ok(()) => Delivery::Accepted,
                    Err(e) => Delivery::Failed(e),
                },
                Err(e) => Delivery::Failed(format!("HTTPS client: {e}")),
            }
        } else {
            Delivery::Unusable("neither mailto: nor https:".into())
        }
    }
}

fn backoff(opts: &ReportOptions, attempts: u32) -> u64 {
    let base = opts.retry_base.as_secs().max(1);
    let factor = 1u64 << attempts.saturating_sub(1).min(32);
    base.saturating_mul(factor)
        .min(opts.retry_max.as_secs().max(1))
}

/// Works on one due spool entry.
fn process(
    senders: &mut Senders<'_>,
    resolver: &dyn TxtResolver,
    mut entry: Entry,
    now: u64,
    summary: &mut SendSummary,
) -> Result<(), ReportError> {
    let opts = senders.opts;
    let mut failure = String::new();
    if !entry.resolved {
        match lookup(resolver, &entry.domain) {
            Lookup::Found(uris) => {
                entry.resolved = true;
                entry.dests = uris
                    .into_iter()
                    .map(|uri| Dest {
                        uri,
                        status: "pending",
                    })
                    .collect();
                entry.save()?;
            }
            Lookup::NoRecord(why) => {
                summary
                    .events
                    .push(entry.event(EventKind::NoRecord, None, why));
                return remove_entry(&entry);
            }
            Lookup::Temporary(why) => failure = why,
        }
    }
    if entry.resolved {
        let gz_path = entry.dir.join(REPORT);
        let gz = fs::read(&gz_path).map_err(|e| ReportError::io(&gz_path, e))?;
        for i in 0..entry.dests.len() {
            if entry.dests[i].status != "pending" {
                continue;
            }
            let uri = entry.dests[i].uri.clone();
            match senders.deliver(&entry, &uri, &gz, now) {
                Delivery::Accepted => {
                    entry.dests[i].status = "done";
                    entry.save()?;
                    summary.events.push(entry.event(
                        EventKind::Delivered,
                        Some(&uri),
                        String::new(),
                    ));
                }
                Delivery::Unusable(why) => {
                    entry.dests[i].status = "unusable";
                    entry.save()?;
                    summary
                        .events
                        .push(entry.event(EventKind::Unusable, Some(&uri), why));
                }
                Delivery::Failed(why) => {
                    summary.events.push(entry.event(
                        EventKind::DeliveryFailed,
                        Some(&uri),
                        why.clone(),
                    ));
                    failure = why;
                }
            }
        }
        if entry.dests.iter().all(|d| d.status != "pending") {
            summary
                .events
                .push(entry.event(EventKind::Completed, None, String::new()));
            return remove_entry(&entry);
        }
    }
    entry.attempts = entry.attempts.saturating_add(1);
    if entry.attempts >= opts.max_attempts.max(1) {
        let left: Vec<&str> = entry
            .dests
            .iter()
            .filter(|d| d.status == "pending")
            .map(|d| d.uri.as_str())
            .collect();
        let dests = if left.is_empty() {
            None
        } else {
            Some(left.join(","))
        };
        let detail = format!("after {} attempts; last error: {failure}", entry.attempts);
        summary
            .events
            .push(entry.event(EventKind::GaveUp, dests.as_deref(), detail));
        return remove_entry(&entry);
    }
    entry.next_try = now.saturating_add(backoff(opts, entry.attempts));
    entry.save()?;
    summary.pending += 1;
    summary
        .events
        .push(entry.event(EventKind::RetryScheduled(entry.next_try), None, failure));
    Ok(())
}

fn remove_stale_tmp(spool: &Path) {
    let Ok(rd) = fs::read_dir(spool) else {
        return;
    };
    for ent in rd.filter_map(|e| e.ok()) {
        let name = ent.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && name.ends_with(".tmp") {
            let _ = fs::remove_dir_all(ent.path());
        }
    }
}

fn remove_entry(entry: &Entry) -> Result<(), ReportError> {
    fs::remove_dir_all(&entry.dir).map_err(|e| ReportError::io(&entry.dir, e))
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
    fs::create_dir_all(&spool).map_err(|e| ReportError::io(&spool, e))?;
    let lock_path = spool.join(".lock");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| ReportError::io(&lock_path, e))?;
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
        for d in days {
            let agg = read_day(&opts.dir, d)?;
            for domain in agg.domains.keys() {
                let mut ev = SendEvent {
                    day: d,
                    policy_domain: domain.clone(),
                    report_id: String::new(),
                    destination: None,
                    kind: EventKind::WouldSend,
                    detail: String::new(),
                };
                match lookup(resolver, domain) {
                    Lookup::Found(uris) => {
                        for u in uris {
                            ev.destination = Some(u);
                            summary.events.push(ev.clone());
                        }
                    }
                    Lookup::NoRecord(why) => {
                        ev.kind = EventKind::NoRecord;
                        ev.detail = why;
                        summary.events.push(ev);
                    }
                    Lookup::Temporary(why) => {
                        ev.kind = EventKind::DeliveryFailed;
                        ev.detail = why;
                        summary.events.push(ev);
                    }
                }
            }
        }
        for e in load_entries(&spool)? {
            if day.is_none_or(|d| d == e.day) {
                for dest in e.dests.iter().filter(|d| d.status == "pending") {
                    summary.events.push(e.event(
                        EventKind::WouldSend,
                        Some(&dest.uri),
                        "retry".into(),
                    ));
                }
                summary.pending += 1;
            }
        }
        return Ok(summary);
    }

    for d in days {
        close_day(opts, d, &mut summary)?;
    }
    let mut senders = Senders { opts, poster: None };
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
