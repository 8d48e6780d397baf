//! TLS reporting for a fleet of MTAs through the Redis of the shared
//! policy cache (cargo feature `redis`, setting `STS_REDIS_URL`).
//!
//! **Recording.** Each outcome is counted in Redis by one script call:
//! `HINCRBY` on the hash of its UTC day and policy domain, whose fields are
//! outcome lines of the store format with `count` 1 (the policy, the
//! result type and the failure details), so that any host can rebuild the
//! day with [`crate::aggregate::aggregate`]. Distinct failure-detail
//! groups are capped per domain and day ([`DETAIL_CAP`]); beyond it a
//! failure is counted under its result type alone, so totals stay exact.
//!
//! **Redis down.** When Redis does not answer (or the breaker of
//! [`SharedBackend`] is open) the outcome goes to
//! `<dir>/fleet-pending/<day>.log` instead, one line per outcome with a
//! unique id: the recorder's writer key and a sequence number. The first
//! successful call after that merges the pending files: a file is claimed
//! by renaming it, then replayed; the script applies each id once
//! (`SETBIT` of the sequence number in the writer's bitmap, which lives
//! for [`ID_TTL_SECS`]: about one bit per outcome, not one key), so a
//! command that timed out after Redis applied it, or a merge interrupted
//! halfway, is never counted twice.
//!
//! **Sending.** [`FleetCounters::close_days`] runs under a fleet-wide
//! sender lock: for each finished day not yet marked sent, it merges this
//! host's pending outcomes, sets the day's sent marker (`SET NX`) and only
//! then writes the fleet's totals into this host's local day file, which
//! the ordinary sender turns into one report per domain with its retries.
//! A host that dies between the marker and the write loses that day's
//! report: never sending twice is preferred over never losing one.
//!
//! Every key expires: the day keys [`KEEP_AFTER_DAY_SECS`] after the end
//! of the day (the retry window of `send`), id keys after a day.

use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sts_client::shared::backend::{lock_token, SharedBackend, SharedError, KEY_PREFIX};
use sts_client::shared::redis;
use sts_client::shared::RedisUrl;

use crate::aggregate::{aggregate, DayAggregate};
use crate::day::{now_unix, Day};
use crate::send::unique_id;
use crate::store::{
    append_line, decode, encode, same_file, Failure, Outcome, Recorded, Recorder, SessionResult,
};
use crate::ReportError;

/// Most distinct failure-detail groups per policy domain and day.
pub const DETAIL_CAP: u64 = 200;

/// Day keys live this long after the end of their day: the retry window
/// of a report (6 attempts up to 12 hours apart) with a margin.
pub const KEEP_AFTER_DAY_SECS: u64 = 4 * 86_400;

/// How long a writer's bitmap of applied outcomes is kept after its last
/// outcome (for the merge of outcomes recorded while Redis was away).
pub const ID_TTL_SECS: u64 = 86_400;

/// Directory of the outcomes recorded while Redis was away.
pub const PENDING: &str = "fleet-pending";

/// Outcomes per script call when merging.
const MERGE_BATCH: usize = 200;

/// Most bytes of one pending file read for a merge.
const MAX_PENDING_FILE: u64 = 256 << 20;

/// The sender lock's expiry: longer than closing a day takes.
const SEND_LOCK: Duration = Duration::from_secs(120);

/// Applies outcomes: ARGV[1] the detail cap, then groups of 11 (writer
/// key, sequence number, day hash, day domains set, days set, day,
/// domain, full field, capped field, count, expiry; see `Group`), then
/// the writer keys' TTL. An id already seen is skipped.
const APPLY_SCRIPT: &str = r"
local cap = tonumber(ARGV[1])
local applied = 0
for i = 2, #ARGV - 1, 11 do
  local w, seq, h, s, days, day, dom, full, capped, n, exp =
    ARGV[i], ARGV[i+1], ARGV[i+2], ARGV[i+3], ARGV[i+4], ARGV[i+5], ARGV[i+6], ARGV[i+7], ARGV[i+8], ARGV[i+9], ARGV[i+10]
  local seen = redis.call('SETBIT', w, seq, 1)
  redis.call('EXPIRE', w, ARGV[#ARGV])
  if seen == 0 then
    local f = full
    if full ~= capped and redis.call('HEXISTS', h, full) == 0 then
      if tonumber(redis.call('HGET', h, '#details') or '0') >= cap then
        f = capped
      else
        redis.call('HINCRBY', h, '#details', 1)
      end
    end
    redis.call('HINCRBY', h, f, n)
    redis.call('EXPIREAT', h, exp)
    redis.call('SADD', s, dom)
    redis.call('EXPIREAT', s, exp)
    redis.call('SADD', days, day)
    if redis.call('TTL', days) < 0 then
      redis.call('EXPIREAT', days, exp)
    else
      redis.call('EXPIREAT', days, exp, 'GT')
    end
    applied = applied + 1
  end
end
return applied
";

/// The fleet's report counters, as one process sees them.
pub struct FleetCounters {
    backend: SharedBackend,
    /// This recorder's bitmap of applied outcomes, and its next number.
    writer: String,
    seq: std::sync::atomic::AtomicU32,
    /// Whether this process has looked for pending outcomes since Redis
    /// last answered.
    pending_checked: AtomicBool,
}

impl std::fmt::Debug for FleetCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FleetCounters")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

/// The counters of `STS_REDIS_URL`, if set.
pub(crate) fn from_env() -> Result<Option<Arc<FleetCounters>>, ReportError> {
    let Some(v) = std::env::var("STS_REDIS_URL")
        .ok()
        .filter(|v| !v.is_empty())
    else {
        return Ok(None);
    };
    // The value may hold the password: only the parse error is shown.
    let url = RedisUrl::parse(&v)
        .map_err(|e| ReportError::BadOption(format!("STS_REDIS_URL is not valid: {e}")))?;
    FleetCounters::new(&url, Duration::from_millis(250), Duration::from_secs(10))
        .map(|f| Some(Arc::new(f)))
        .map_err(|e| ReportError::BadOption(format!("{url}: {e}")))
}

/// The counters of the options' `redis_url`, if set.
pub(crate) fn from_options(
    opts: &crate::ReportOptions,
) -> Result<Option<FleetCounters>, ReportError> {
    let Some(url) = &opts.redis_url else {
        return Ok(None);
    };
    let timeout = opts.timeout.min(Duration::from_secs(5));
    FleetCounters::new(url, timeout, Duration::from_secs(10))
        .map(Some)
        .map_err(|e| ReportError::BadOption(format!("{url}: {e}")))
}

fn redis_error(e: SharedError) -> ReportError {
    ReportError::Io {
        path: PathBuf::from("redis"),
        error: io::Error::other(e.as_str()),
    }
}

impl FleetCounters {
    /// Counters in the Redis at `url`; nothing is connected yet.
    pub fn new(
        url: &RedisUrl,
        timeout: Duration,
        retry_after: Duration,
    ) -> Result<FleetCounters, SharedError> {
        Ok(FleetCounters {
            backend: SharedBackend::new(url, timeout, retry_after)?,
            writer: format!("{KEY_PREFIX}rpt:w:{}", unique_id()),
            seq: std::sync::atomic::AtomicU32::new(0),
            pending_checked: AtomicBool::new(false),
        })
    }

    /// The connection (for its round-trip count).
    pub fn backend(&self) -> &SharedBackend {
        &self.backend
    }

    /// Counts one outcome in Redis, or in the pending store under `dir`
    /// when Redis does not answer.
    pub fn record(&self, dir: &Path, o: &Outcome) -> Result<Recorded, ReportError> {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let id = format!("{} {seq}", self.writer);
        let g = group(&id, o)?;
        match self.apply(std::slice::from_ref(&g)) {
            Ok(_) => {
                if !self.pending_checked.swap(true, Ordering::Relaxed) {
                    // Best effort: what is left is merged by the next
                    // process or by the sender.
                    let _ = self.merge_pending(dir);
                }
                Ok(Recorded::Stored)
            }
            Err(_) => {
                self.pending_checked.store(false, Ordering::Relaxed);
                append_pending(dir, Day::from_unix(o.at), &id, o)?;
                Ok(Recorded::Stored)
            }
        }
    }

    fn apply(&self, groups: &[Group]) -> Result<i64, SharedError> {
        self.backend.with_conn(|c| {
            let script = redis::Script::new(APPLY_SCRIPT);
            let mut inv = script.prepare_invoke();
            inv.arg(DETAIL_CAP);
            for g in groups {
                inv.arg(&g.writer)
                    .arg(g.seq)
                    .arg(&g.hash)
                    .arg(&g.domains)
                    .arg(days_key())
                    .arg(g.day.to_string())
                    .arg(&g.domain)
                    .arg(&g.full)
                    .arg(&g.capped)
                    .arg(g.count)
                    .arg(g.expire);
            }
            inv.arg(ID_TTL_SECS);
            inv.invoke::<i64>(c)
        })
    }

    /// Merges every pending file under `dir` into Redis (each outcome
    /// once); returns how many outcomes were applied now.
    pub fn merge_pending(&self, dir: &Path) -> Result<u64, ReportError> {
        let pending = dir.join(PENDING);
        let rd = match fs::read_dir(&pending) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(ReportError::io(&pending, e)),
        };
        let mut applied = 0u64;
        for ent in rd.filter_map(Result::ok) {
            let name = ent.file_name().to_string_lossy().into_owned();
            let path = ent.path();
            // Claim an open day file by renaming it; claimed files left
            // by a merger that died are taken as they are.
            let claimed = if name.starts_with("claimed-") {
                path
            } else if name.ends_with(".log") {
                let to = pending.join(format!("claimed-{}-{name}", unique_id()));
                match fs::rename(&path, &to) {
                    Ok(()) => to,
                    Err(_) => continue,
                }
            } else {
                continue;
            };
            applied += self.merge_file(&claimed)?;
        }
        Ok(applied)
    }

    fn merge_file(&self, path: &Path) -> Result<u64, ReportError> {
        let file = match OpenOptions::new().read(true).open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(ReportError::io(path, e)),
        };
        // A recorder that opened the file before the rename finishes its
        // line first (it holds this lock while writing).
        file.lock().map_err(|e| ReportError::io(path, e))?;
        let len = file.metadata().map_err(|e| ReportError::io(path, e))?.len();
        if len > MAX_PENDING_FILE {
            return Err(ReportError::io(
                path,
                io::Error::other("pending file too large"),
            ));
        }
        let bytes = fs::read(path).map_err(|e| ReportError::io(path, e))?;
        let mut groups = Vec::new();
        for line in bytes.split(|&b| b == b'\n') {
            let Some(tab) = line.iter().position(|&b| b == b'\t') else {
                continue;
            };
            let (id, rest) = line.split_at(tab);
            let (Ok(id), Some(o)) = (std::str::from_utf8(id), decode(&rest[1..])) else {
                continue;
            };
            // A malformed line is skipped, not allowed to block the rest.
            if let Ok(g) = group(id, &o) {
                groups.push(g);
            }
        }
        let mut applied = 0u64;
        for batch in groups.chunks(MERGE_BATCH) {
            let n = self.apply(batch).map_err(redis_error)?;
            applied += u64::try_from(n).unwrap_or(0);
        }
        fs::remove_file(path).map_err(|e| ReportError::io(path, e))?;
        Ok(applied)
    }

    /// The fleet's outcomes of `day`, aggregated per policy domain.
    pub fn day_aggregate(&self, day: Day) -> Result<DayAggregate, ReportError> {
        let domains: Vec<String> = self
            .backend
            .with_conn(|c| redis::cmd("SMEMBERS").arg(domains_key(day)).query(c))
            .map_err(redis_error)?;
        let mut outcomes = Vec::new();
        let mut bad = 0usize;
        for d in domains {
            let fields: Vec<(Vec<u8>, u64)> = self
                .backend
                .with_conn(|c| redis::cmd("HGETALL").arg(hash_key(day, &d)).query(c))
                .map_err(redis_error)?;
            for (field, n) in fields {
                if field.first() == Some(&b'#') {
                    continue;
                }
                match decode(&field) {
                    Some(mut o) if n > 0 => {
                        o.count = n;
                        outcomes.push(o);
                    }
                    _ => bad += 1,
                }
            }
        }
        Ok(aggregate(day, &outcomes, bad))
    }

    /// The fleet's reports of `day` as JSON, one per policy domain (what
    /// `send` would send; fresh report-ids). This host's pending outcomes
    /// are merged first.
    pub fn print(&self, opts: &crate::ReportOptions, day: Day) -> Result<Vec<String>, ReportError> {
        self.merge_pending(&opts.dir)?;
        let agg = self.day_aggregate(day)?;
        let mut out = Vec::with_capacity(agg.domains.len());
        for (domain, report) in &agg.domains {
            let report_id = format!("{}@{}", unique_id(), opts.submitter);
            let meta = crate::aggregate::ReportMeta {
                organization_name: &opts.organization_name,
                contact_info: &opts.contact_info,
                report_id: &report_id,
                day,
            };
            out.push(crate::aggregate::render(&meta, domain, report)?);
        }
        Ok(out)
    }

    /// The days the fleet has outcomes for, in order.
    pub fn days(&self) -> Result<Vec<Day>, ReportError> {
        let days: Vec<String> = self
            .backend
            .with_conn(|c| redis::cmd("SMEMBERS").arg(days_key()).query(c))
            .map_err(redis_error)?;
        let mut out: Vec<Day> = days.iter().filter_map(|d| d.parse().ok()).collect();
        out.sort();
        Ok(out)
    }

    /// Moves the fleet's finished days (or only `only`) into the local
    /// store at `dir`, once for the whole fleet; returns the days this
    /// host took. Another sender holding the fleet lock: `Busy`.
    pub fn close_days(
        &self,
        dir: &Path,
        only: Option<Day>,
        today: Day,
    ) -> Result<Vec<Day>, ReportError> {
        self.merge_pending(dir)?;
        let token = lock_token();
        let lock = format!("{KEY_PREFIX}rpt:send-lock");
        let ms = u64::try_from(SEND_LOCK.as_millis()).unwrap_or(u64::MAX);
        let got: Option<String> = self
            .backend
            .with_conn(|c| {
                redis::cmd("SET")
                    .arg(&lock)
                    .arg(&token)
                    .arg("NX")
                    .arg("PX")
                    .arg(ms)
                    .query(c)
            })
            .map_err(redis_error)?;
        if got.is_none() {
            return Err(ReportError::Busy);
        }
        let result = self.close_days_locked(dir, only, today);
        let _ = self.backend.with_conn(|c| {
            redis::Script::new(
                "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
            )
            .key(&lock)
            .arg(&token)
            .invoke::<i64>(c)
        });
        result
    }

    fn close_days_locked(
        &self,
        dir: &Path,
        only: Option<Day>,
        today: Day,
    ) -> Result<Vec<Day>, ReportError> {
        let mut taken = Vec::new();
        for day in self.days()? {
            if day >= today || only.is_some_and(|d| d != day) {
                continue;
            }
            let agg = self.day_aggregate(day)?;
            let marker = format!("{KEY_PREFIX}rpt:{day}:sent");
            let set: Option<String> = self
                .backend
                .with_conn(|c| {
                    redis::cmd("SET")
                        .arg(&marker)
                        .arg(lock_token())
                        .arg("NX")
                        .arg("EXAT")
                        .arg(day_expiry(day))
                        .query(c)
                })
                .map_err(redis_error)?;
            if set.is_none() {
                continue;
            }
            let rec = Recorder::open_local(dir)?.with_fsync(false);
            for report in agg.domains.keys() {
                for o in outcomes_of(&agg, report, day) {
                    rec.record(&o)?;
                }
            }
            taken.push(day);
        }
        Ok(taken)
    }
}

/// The outcomes that aggregate back to `domain`'s report of `agg`.
fn outcomes_of(agg: &DayAggregate, domain: &str, day: Day) -> Vec<Outcome> {
    let mut out = Vec::new();
    let Some(report) = agg.domains.get(domain) else {
        return out;
    };
    for (key, counts) in &report.policies {
        let base = |result: SessionResult, count: u64, mx: &str| Outcome {
            policy_type: crate::store::policy_type_from(key.policy_type)
                .unwrap_or(crate::PolicyType::NoPolicyFound),
            policy_domain: domain.to_owned(),
            policy_strings: key.policy_strings.clone(),
            mx_hosts: key.mx_hosts.clone(),
            receiving_mx_hostname: mx.to_owned(),
            result,
            count,
            at: day.start(),
            report_delivery: false,
        };
        if counts.successful > 0 {
            out.push(base(SessionResult::Success, counts.successful, ""));
        }
        for (fk, n) in &counts.failures {
            let Ok(rt) = sts_core::tlsrpt::ResultType::from_name(fk.result_type.as_bytes()) else {
                continue;
            };
            let f = Failure {
                result_type: rt,
                sending_mta_ip: fk.sending_mta_ip.clone(),
                receiving_ip: fk.receiving_ip.clone(),
                receiving_mx_helo: fk.receiving_mx_helo.clone(),
                additional_information: fk.additional_information.clone(),
                failure_reason_code: fk.failure_reason_code.clone(),
            };
            out.push(base(
                SessionResult::Failure(f),
                *n,
                &fk.receiving_mx_hostname,
            ));
        }
    }
    out
}

/// One outcome as the apply script takes it.
struct Group {
    writer: String,
    seq: u32,
    hash: String,
    domains: String,
    day: Day,
    domain: String,
    full: Vec<u8>,
    capped: Vec<u8>,
    count: u64,
    expire: u64,
}

/// `id` is "<writer key> <sequence number>".
fn group(id: &str, o: &Outcome) -> Result<Group, ReportError> {
    let (writer, seq) = id
        .split_once(' ')
        .and_then(|(w, n)| Some((w, n.parse::<u32>().ok()?)))
        .filter(|(w, _)| w.starts_with(KEY_PREFIX))
        .ok_or_else(|| ReportError::BadOutcome("bad outcome id".into()))?;
    let day = Day::from_unix(o.at);
    let mut unit = o.clone();
    unit.at = day.start();
    unit.count = 1;
    let full = line(&unit)?;
    let capped = match &o.result {
        SessionResult::Success => full.clone(),
        SessionResult::Failure(f) => {
            let mut c = unit.clone();
            c.receiving_mx_hostname.clear();
            c.result = SessionResult::Failure(Failure::new(f.result_type));
            line(&c)?
        }
    };
    // `encode` checked and normalized the domain; take it from there.
    let domain = decode(&full)
        .map(|d| d.policy_domain)
        .ok_or_else(|| ReportError::BadOutcome("undecodable outcome".into()))?;
    Ok(Group {
        writer: writer.to_owned(),
        seq,
        hash: hash_key(day, &domain),
        domains: domains_key(day),
        day,
        domain,
        full,
        capped,
        count: o.count,
        expire: day_expiry(day),
    })
}

fn line(o: &Outcome) -> Result<Vec<u8>, ReportError> {
    let mut l = encode(o)?;
    if l.last() == Some(&b'\n') {
        l.pop();
    }
    Ok(l)
}

fn days_key() -> String {
    format!("{KEY_PREFIX}rpt:days")
}

fn domains_key(day: Day) -> String {
    format!("{KEY_PREFIX}rpt:{day}:domains")
}

fn hash_key(day: Day, domain: &str) -> String {
    format!("{KEY_PREFIX}rpt:{day}:d:{domain}")
}

/// When the keys of `day` expire (never already in the past: a late
/// outcome of an old day still gets a day's life).
fn day_expiry(day: Day) -> u64 {
    day.end()
        .saturating_add(KEEP_AFTER_DAY_SECS)
        .max(now_unix().saturating_add(86_400))
}

/// Appends `o` with its id to the pending file of `day` (locked like the
/// day files of the store, so a merger never reads a half line).
fn append_pending(dir: &Path, day: Day, id: &str, o: &Outcome) -> Result<(), ReportError> {
    let pending = dir.join(PENDING);
    // The store's modes whatever the umask (see sts_client::file_access).
    let access = sts_client::file_access::Access::of_dir(
        &fs::metadata(dir).map_err(|e| ReportError::io(dir, e))?,
    );
    sts_client::file_access::create_dir_all(&pending, access)
        .map_err(|e| ReportError::io(&pending, e))?;
    let path = pending.join(format!("{day}.log"));
    let mut text = Vec::with_capacity(256);
    text.extend_from_slice(id.as_bytes());
    text.push(b'\t');
    text.extend_from_slice(&encode(o)?);
    for _ in 0..8 {
        let file = OpenOptions::new()
            .read(true)
            .create(true)
            .append(true)
            .mode(access.file_mode())
            .open(&path)
            .map_err(|e| ReportError::io(&path, e))?;
        sts_client::file_access::finish_file(&file, &pending, access)
            .map_err(|e| ReportError::io(&path, e))?;
        file.lock().map_err(|e| ReportError::io(&path, e))?;
        // Claimed by a merger meanwhile: write to a fresh file.
        if !same_file(&file, &path) {
            continue;
        }
        append_line(&file, &text, true).map_err(|e| ReportError::io(&path, e))?;
        return Ok(());
    }
    Err(ReportError::io(
        &path,
        io::Error::other("the pending file keeps being claimed"),
    ))
}
