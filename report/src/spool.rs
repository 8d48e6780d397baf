//! The send spool: one directory per report waiting for delivery.
//!
//! Closing a day turns its day file into one entry per policy domain,
//! `<dir>/spool/<unique-id>/` holding `report.json.gz` (the report exactly
//! as it will be sent, so a retry sends the same report-id) and `state`
//! (destinations and their [`DestState`], attempts, next try). An entry is
//! written under a dot name and renamed into place, and the day file is
//! unlinked only after every entry is written; state files are replaced
//! atomically (temporary file, fsync, rename).

use std::fs::{self, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use sts_client::file_access;

use crate::aggregate::aggregate;
use crate::day::Day;
use crate::send::{gzip, render_all, EventKind, SendEvent, SendSummary};
use crate::store::{day_file, decode_all, same_file};
use crate::{ReportError, ReportOptions};

pub(crate) const SPOOL: &str = "spool";
pub(crate) const STATE: &str = "state";
pub(crate) const REPORT: &str = "report.json.gz";

/// Where a report stands with one destination. The state file keeps the
/// names of [`DestState::as_str`] (`pending`, `done`, `unusable`), as it
/// did when the states were strings, so entries spooled by an older
/// version are read as they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DestState {
    /// Not accepted yet: tried on the next run that is due.
    Pending,
    /// Accepted: never sent again.
    Done,
    /// A URI that cannot be used; not tried again.
    Unusable,
}

impl DestState {
    /// The name in the state file.
    pub fn as_str(self) -> &'static str {
        match self {
            DestState::Pending => "pending",
            DestState::Done => "done",
            DestState::Unusable => "unusable",
        }
    }

    fn from_name(s: &str) -> Option<DestState> {
        [DestState::Pending, DestState::Done, DestState::Unusable]
            .into_iter()
            .find(|d| d.as_str() == s)
    }
}

/// One destination of a spooled report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Dest {
    pub(crate) uri: String,
    pub(crate) state: DestState,
}

/// One spooled report: `<dir>/spool/<unique-id>/`.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub(crate) dir: PathBuf,
    pub(crate) day: Day,
    pub(crate) domain: String,
    pub(crate) report_id: String,
    pub(crate) unique_id: String,
    pub(crate) attempts: u32,
    pub(crate) next_try: u64,
    pub(crate) resolved: bool,
    pub(crate) dests: Vec<Dest>,
}

impl Entry {
    pub(crate) fn encode(&self) -> String {
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
            s.push_str(&format!("dest {} {}\n", d.state.as_str(), d.uri));
        }
        s
    }

    pub(crate) fn decode(dir: PathBuf, text: &str) -> Option<Entry> {
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
                    let (state, uri) = value.split_once(' ')?;
                    e.dests.push(Dest {
                        uri: uri.to_owned(),
                        state: DestState::from_name(state)?,
                    });
                }
                _ => {}
            }
        }
        (!e.domain.is_empty() && !e.unique_id.is_empty()).then_some(e)
    }

    /// Writes the state atomically (temporary file, fsync, rename).
    pub(crate) fn save(&self) -> Result<(), ReportError> {
        let tmp = self.dir.join("state.tmp");
        let path = self.dir.join(STATE);
        write_synced(&tmp, self.encode().as_bytes()).map_err(|e| ReportError::io(&tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| ReportError::io(&path, e))
    }

    pub(crate) fn event(
        &self,
        kind: EventKind,
        destination: Option<&str>,
        detail: String,
    ) -> SendEvent {
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

/// Writes a spool file with the modes of its directory (owner-only, or
/// the group of a set-group-ID store) whatever the umask, and syncs it.
pub(crate) fn write_synced(path: &Path, data: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let access = file_access::Access::of_dir(&fs::metadata(dir)?);
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(access.file_mode())
        .open(path)?;
    file_access::finish_file(&f, dir, access)?;
    f.write_all(data)?;
    f.sync_all()
}

/// Turns a day file into spool entries and unlinks it.
pub(crate) fn close_day(
    opts: &ReportOptions,
    day: Day,
    summary: &mut SendSummary,
) -> Result<(), ReportError> {
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
        let access = file_access::Access::of_dir(
            &fs::metadata(&spool).map_err(|e| ReportError::io(&spool, e))?,
        );
        file_access::create_dir_all(&tmp, access).map_err(|e| ReportError::io(&tmp, e))?;
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

pub(crate) fn load_entries(spool: &Path) -> Result<Vec<Entry>, ReportError> {
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

pub(crate) fn remove_stale_tmp(spool: &Path) {
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

pub(crate) fn remove_entry(entry: &Entry) -> Result<(), ReportError> {
    fs::remove_dir_all(&entry.dir).map_err(|e| ReportError::io(&entry.dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_file_keeps_the_state_names() {
        let text = "day 3\ndomain example.net\nreport-id a@b\nunique-id a\nattempts 1\n\
                    next-try 9\nresolved 1\ndest pending mailto:x@y\ndest done https://z/\n\
                    dest unusable ftp://w\n";
        let e = Entry::decode(PathBuf::from("x"), text).unwrap();
        let states: Vec<DestState> = e.dests.iter().map(|d| d.state).collect();
        assert_eq!(
            states,
            [DestState::Pending, DestState::Done, DestState::Unusable]
        );
        assert_eq!(e.encode(), text);
        assert!(
            Entry::decode(PathBuf::from("x"), "domain d\nunique-id u\ndest sent x\n").is_none()
        );
    }
}
