//! Recording delivery outcomes on disk.
//!
//! Each outcome is one text line appended to `<dir>/outcomes/<YYYY-MM-DD>.log`
//! (the UTC day of the outcome). The file is opened with `O_APPEND`, locked
//! with `flock(LOCK_EX)` for the single `write()` of the whole line and
//! closed again: no lock is ever held across network I/O, and many
//! processes (an MTA forking per delivery) can record at the same time.
//! A process killed in the middle of a write leaves at most a torn last
//! line; the next writer starts on a fresh line and the reader skips lines
//! it cannot decode (counted as `bad_lines`).
//!
//! The sender closes a day by taking the same lock, reading the file and
//! unlinking it; a recorder that opened the old file checks, once it holds
//! the lock, that the path still names the file it opened, and opens the
//! new one if not, so no outcome is appended to a file already read.
//!
//! Line format (version 1), tab-separated, fields percent-escaped
//! (`%`, tab, CR, LF, `|` and other control bytes as `%XX`), lists joined
//! with `|`:
//!
//! ```text
//! v1 at count policy-type policy-domain policy-strings mx-hosts receiving-mx-hostname
//!    result sending-mta-ip receiving-ip receiving-mx-helo additional-information failure-reason-code
//! ```
//!
//! where `result` is `success` or a result type of RFC 8460 §4.3.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use sts_client::file_access::{self, Access};
use sts_core::tlsrpt::{PolicyType, ResultType};

use crate::day::Day;
use crate::ReportError;

/// Longest line accepted (the whole encoded outcome).
pub const MAX_LINE: usize = 64 * 1024;

/// How a session ended (RFC 8460 §4.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionResult {
    /// TLS was negotiated and the policy was satisfied.
    Success,
    /// The session failed; the fields go to `failure-details`.
    Failure(Failure),
}

/// The `failure-details` fields of one failed session (RFC 8460 §4.4).
/// Empty strings are left out of the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// `result-type`.
    pub result_type: ResultType,
    /// `sending-mta-ip`: the IP address of the sending MTA.
    pub sending_mta_ip: String,
    /// `receiving-ip`: the IP address of the receiving MX.
    pub receiving_ip: String,
    /// `receiving-mx-helo`: the name the receiving MX gave in its greeting.
    pub receiving_mx_helo: String,
    /// `additional-information`: a URI with more details.
    pub additional_information: String,
    /// `failure-reason-code`: free text, e.g. the TLS alert or SMTP reply.
    pub failure_reason_code: String,
}

impl Failure {
    /// A failure of `result_type` with every optional field empty.
    pub fn new(result_type: ResultType) -> Failure {
        Failure {
            result_type,
            sending_mta_ip: String::new(),
            receiving_ip: String::new(),
            receiving_mx_helo: String::new(),
            additional_information: String::new(),
            failure_reason_code: String::new(),
        }
    }
}

/// The outcome of one or more delivery sessions to one MX host, as the MTA
/// saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// `policy-type`: which policy applied.
    pub policy_type: PolicyType,
    /// `policy-domain`: the recipient domain the policy belongs to.
    pub policy_domain: String,
    /// `policy-string`: the policy (MTA-STS policy lines, or TLSA records
    /// in presentation form); empty for `no-policy-found`.
    pub policy_strings: Vec<String>,
    /// `mx-host`: the MX patterns of the policy.
    pub mx_hosts: Vec<String>,
    /// `receiving-mx-hostname`: the MX host the session went to.
    pub receiving_mx_hostname: String,
    /// Success or failure.
    pub result: SessionResult,
    /// Number of sessions this outcome stands for (at least 1).
    pub count: u64,
    /// When it happened (Unix seconds); picks the report day.
    pub at: u64,
    /// The delivery carried a TLS report (a message with a
    /// `TLS-Report-Domain` header, or a POST to a reporting URI). Such
    /// outcomes are never recorded (RFC 8460 §5.3: report deliveries are
    /// not to be included in reports, which would otherwise loop).
    pub report_delivery: bool,
}

impl Outcome {
    /// A successful session for `policy_domain` at `at`, count 1.
    pub fn new(policy_type: PolicyType, policy_domain: &str, at: u64) -> Outcome {
        Outcome {
            policy_type,
            policy_domain: policy_domain.to_owned(),
            policy_strings: Vec::new(),
            mx_hosts: Vec::new(),
            receiving_mx_hostname: String::new(),
            result: SessionResult::Success,
            count: 1,
            at,
            report_delivery: false,
        }
    }
}

/// What [`Recorder::record`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// The outcome was appended.
    Stored,
    /// The outcome was a report delivery and was not recorded.
    SkippedReportDelivery,
}

/// Appends outcomes to the store in a directory. Cheap to create; holds no
/// open file between calls, so it survives `fork()`.
#[derive(Clone, Debug)]
pub struct Recorder {
    dir: PathBuf,
    fsync: bool,
    access: Access,
    /// The fleet's counters in Redis (`STS_REDIS_URL`), which then take
    /// the outcomes instead of the day files.
    #[cfg(feature = "redis")]
    fleet: Option<std::sync::Arc<crate::fleet::FleetCounters>>,
}

impl Recorder {
    /// Opens (creating if needed) the store at `dir`. What it creates is
    /// owner-only whatever the umask, unless `dir` is set-group-ID (see
    /// [`sts_client::file_access`]); a store others can write is an error
    /// naming the path, since they could forge or delete outcomes. With
    /// `STS_REDIS_URL` set (and the `redis` feature), outcomes are counted
    /// for the fleet in Redis instead (see [`crate::fleet`]).
    pub fn open(dir: impl AsRef<Path>) -> Result<Recorder, ReportError> {
        #[allow(unused_mut)]
        let mut r = Self::open_local(dir)?;
        #[cfg(feature = "redis")]
        {
            r.fleet = crate::fleet::from_env()?;
        }
        Ok(r)
    }

    /// Counts outcomes in `fleet` instead of the day files, whatever
    /// `STS_REDIS_URL` says: a caller that was given its Redis explicitly
    /// (the C ABI's `redis_url`) must not depend on the environment.
    #[cfg(feature = "redis")]
    pub fn with_fleet(mut self, fleet: std::sync::Arc<crate::fleet::FleetCounters>) -> Recorder {
        self.fleet = Some(fleet);
        self
    }

    /// Opens the store at `dir` for this host's day files only.
    pub fn open_local(dir: impl AsRef<Path>) -> Result<Recorder, ReportError> {
        let dir = dir.as_ref().to_path_buf();
        let access = file_access::create_dir_all(&dir, Access::Owner)
            .map_err(|e| ReportError::io(&dir, e))?;
        let outcomes = dir.join(OUTCOMES);
        file_access::create_dir_all(&outcomes, access)
            .map_err(|e| ReportError::io(&outcomes, e))?;
        Ok(Recorder {
            dir,
            fsync: true,
            access,
            #[cfg(feature = "redis")]
            fleet: None,
        })
    }

    /// Whether each record is flushed to stable storage with `fdatasync`
    /// before [`Recorder::record`] returns (default on).
    pub fn with_fsync(mut self, fsync: bool) -> Recorder {
        self.fsync = fsync;
        self
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Records one outcome (see the module documentation).
    pub fn record(&self, outcome: &Outcome) -> Result<Recorded, ReportError> {
        if outcome.report_delivery {
            return Ok(Recorded::SkippedReportDelivery);
        }
        #[cfg(feature = "redis")]
        if let Some(f) = &self.fleet {
            return f.record(&self.dir, outcome);
        }
        let line = encode(outcome)?;
        let path = day_file(&self.dir, Day::from_unix(outcome.at));
        // The sender may unlink the file between our open and our lock;
        // then we open again (a few times at most).
        for _ in 0..8 {
            // Whether this process created the file decides whether it
            // sets the file's mode and owner or checks them.
            let (file, created) = match OpenOptions::new()
                .read(true)
                .append(true)
                .create_new(true)
                .mode(self.access.file_mode())
                .open(&path)
            {
                Ok(f) => (f, Created::Here),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    match OpenOptions::new().read(true).append(true).open(&path) {
                        Ok(f) => (f, Created::Elsewhere),
                        // Unlinked by the sender in between: start again.
                        Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                        Err(e) => return Err(ReportError::io(&path, e)),
                    }
                }
                Err(e) => return Err(ReportError::io(&path, e)),
            };
            file.lock().map_err(|e| ReportError::io(&path, e))?;
            if !same_file(&file, &path) {
                continue;
            }
            self.trust(&file, &path, created)?;
            append_line(&file, &line, self.fsync).map_err(|e| ReportError::io(&path, e))?;
            return Ok(Recorded::Stored);
        }
        Err(ReportError::io(
            &path,
            io::Error::other("the day file keeps being replaced"),
        ))
    }
}

/// Who created a day file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Created {
    /// This call did.
    Here,
    /// Another process or an earlier call.
    Elsewhere,
}

impl Recorder {
    /// Gives a day file this process just created its exact mode and
    /// owner (root records from Exim's delivery process, the Exim user
    /// from its transports); refuses one others could have written
    /// (forged outcomes).
    fn trust(&self, file: &File, path: &Path, created: Created) -> Result<(), ReportError> {
        let outcomes = self.dir.join(OUTCOMES);
        if created == Created::Here {
            return file_access::finish_file(file, &outcomes, self.access)
                .map_err(|e| ReportError::io(path, e));
        }
        let md = file.metadata().map_err(|e| ReportError::io(path, e))?;
        let dir_md = fs::metadata(&outcomes).map_err(|e| ReportError::io(&outcomes, e))?;
        file_access::check_file(&md, &dir_md).map_err(|e| {
            ReportError::io(
                path,
                io::Error::new(io::ErrorKind::PermissionDenied, e.as_str()),
            )
        })
    }
}

/// Directory of the day files, under the store.
pub(crate) const OUTCOMES: &str = "outcomes";

/// The file of one day.
pub(crate) fn day_file(dir: &Path, day: Day) -> PathBuf {
    dir.join(OUTCOMES).join(format!("{day}.log"))
}

/// Whether `path` still names the open `file`.
pub(crate) fn same_file(file: &File, path: &Path) -> bool {
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

pub(crate) fn append_line(file: &File, line: &[u8], fsync: bool) -> io::Result<()> {
    let len = file.metadata()?.len();
    let mut torn = false;
    if len > 0 {
        let mut last = [0u8; 1];
        file.read_exact_at(&mut last, len - 1)?;
        torn = last[0] != b'\n';
    }
    let mut buf = Vec::with_capacity(line.len() + 1);
    if torn {
        buf.push(b'\n');
    }
    buf.extend_from_slice(line);
    let mut f = file;
    f.write_all(&buf)?;
    if fsync {
        file.sync_data()?;
    }
    Ok(())
}

/// Lower case, without the final dot; `None` unless it is an LDH or
/// A-label domain name (letters, digits, `-`, `_`, dots between labels).
pub(crate) fn normalize_domain(d: &str) -> Option<String> {
    let d = d.strip_suffix('.').unwrap_or(d).to_ascii_lowercase();
    let ok = !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    ok.then_some(d)
}

fn escape(out: &mut Vec<u8>, s: &str) {
    for &b in s.as_bytes() {
        if b == b'%' || b == b'|' || b < 0x20 || b == 0x7f {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        } else {
            out.push(b);
        }
    }
}

fn unescape(s: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn policy_type_name(p: PolicyType) -> &'static str {
    p.as_str()
}

pub(crate) fn policy_type_from(name: &str) -> Option<PolicyType> {
    match name {
        "sts" => Some(PolicyType::Sts),
        "tlsa" => Some(PolicyType::Tlsa),
        "no-policy-found" => Some(PolicyType::NoPolicyFound),
        _ => None,
    }
}

/// Encodes one outcome as a line (with its LF).
pub(crate) fn encode(o: &Outcome) -> Result<Vec<u8>, ReportError> {
    let domain = normalize_domain(&o.policy_domain).ok_or_else(|| {
        ReportError::BadOutcome(format!("bad policy domain {:?}", o.policy_domain))
    })?;
    if o.count == 0 {
        return Err(ReportError::BadOutcome("count is 0".into()));
    }
    let mut line = Vec::with_capacity(256);
    line.extend_from_slice(format!("v1\t{}\t{}\t", o.at, o.count).as_bytes());
    line.extend_from_slice(policy_type_name(o.policy_type).as_bytes());
    line.push(b'\t');
    escape(&mut line, &domain);
    for list in [&o.policy_strings, &o.mx_hosts] {
        line.push(b'\t');
        let mut first = true;
        for s in list.iter().filter(|s| !s.is_empty()) {
            if !first {
                line.push(b'|');
            }
            first = false;
            escape(&mut line, s);
        }
    }
    line.push(b'\t');
    escape(&mut line, &o.receiving_mx_hostname);
    line.push(b'\t');
    match &o.result {
        SessionResult::Success => line.extend_from_slice(b"success\t\t\t\t\t"),
        SessionResult::Failure(f) => {
            line.extend_from_slice(f.result_type.as_str().as_bytes());
            for s in [
                &f.sending_mta_ip,
                &f.receiving_ip,
                &f.receiving_mx_helo,
                &f.additional_information,
                &f.failure_reason_code,
            ] {
                line.push(b'\t');
                escape(&mut line, s);
            }
        }
    }
    line.push(b'\n');
    if line.len() > MAX_LINE {
        return Err(ReportError::BadOutcome(format!(
            "outcome is {} bytes encoded, more than {MAX_LINE}",
            line.len()
        )));
    }
    Ok(line)
}

/// Decodes one line (without its LF); `None` if it is not a valid line.
pub(crate) fn decode(line: &[u8]) -> Option<Outcome> {
    let f: Vec<&[u8]> = line.split(|&b| b == b'\t').collect();
    if f.len() != 14 || f[0] != b"v1" {
        return None;
    }
    let num = |b: &[u8]| -> Option<u64> { std::str::from_utf8(b).ok()?.parse().ok() };
    let list = |b: &[u8]| -> Option<Vec<String>> {
        if b.is_empty() {
            return Some(Vec::new());
        }
        b.split(|&c| c == b'|').map(unescape).collect()
    };
    let at = num(f[1])?;
    let count = num(f[2])?;
    if count == 0 {
        return None;
    }
    let policy_type = policy_type_from(std::str::from_utf8(f[3]).ok()?)?;
    let policy_domain = normalize_domain(&unescape(f[4])?)?;
    let result = if f[8] == b"success" {
        SessionResult::Success
    } else {
        SessionResult::Failure(Failure {
            result_type: ResultType::from_name(f[8]).ok()?,
            sending_mta_ip: unescape(f[9])?,
            receiving_ip: unescape(f[10])?,
            receiving_mx_helo: unescape(f[11])?,
            additional_information: unescape(f[12])?,
            failure_reason_code: unescape(f[13])?,
        })
    };
    Some(Outcome {
        policy_type,
        policy_domain,
        policy_strings: list(f[5])?,
        mx_hosts: list(f[6])?,
        receiving_mx_hostname: unescape(f[7])?,
        result,
        count,
        at,
        report_delivery: false,
    })
}

/// Decodes a whole day file: the outcomes and the number of lines skipped.
pub(crate) fn decode_all(bytes: &[u8]) -> (Vec<Outcome>, usize) {
    let mut out = Vec::new();
    let mut bad = 0;
    for line in bytes.split(|&b| b == b'\n') {
        if line.is_empty() {
            continue;
        }
        match decode(line) {
            Some(o) => out.push(o),
            None => bad += 1,
        }
    }
    (out, bad)
}

/// The days that have a day file, in order.
pub(crate) fn recorded_days(dir: &Path) -> Result<Vec<Day>, ReportError> {
    let path = dir.join(OUTCOMES);
    let rd = match fs::read_dir(&path) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ReportError::io(&path, e)),
    };
    let mut days: Vec<Day> = rd
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name();
            let name = name.to_str()?;
            name.strip_suffix(".log")?.parse().ok()
        })
        .collect();
    days.sort();
    Ok(days)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_round_trip() {
        let mut o = Outcome::new(PolicyType::Sts, "Example.COM.", 1_700_000_000);
        o.policy_strings = vec![
            "version: STSv1".into(),
            "mode: enforce".into(),
            "a|b%c\td".into(),
        ];
        o.mx_hosts = vec!["*.example.com".into()];
        o.receiving_mx_hostname = "mx1.example.com".into();
        let mut f = Failure::new(ResultType::CertificateExpired);
        f.failure_reason_code = "line\nbreak".into();
        o.result = SessionResult::Failure(f);
        o.count = 3;
        let line = encode(&o).expect("encodes");
        assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
        let back = decode(&line[..line.len() - 1]).expect("decodes");
        let mut want = o.clone();
        want.policy_domain = "example.com".into();
        assert_eq!(back, want);
    }

    #[test]
    fn bad_lines_are_skipped() {
        let (o, bad) = decode_all(b"garbage\nv1\t1\t0\tsts\tx\t\t\t\tsuccess\t\t\t\t\t\n\n");
        assert!(o.is_empty());
        assert_eq!(bad, 2);
        assert!(normalize_domain("a/b").is_none());
        assert!(normalize_domain("..").is_none());
        assert!(encode(&Outcome::new(PolicyType::Sts, "", 0)).is_err());
    }
}
