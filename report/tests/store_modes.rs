//! The modes of the outcome store under `umask 000`, and the refusal of a
//! store or day file that others can write (they could forge outcomes).
//!
//! The umask is per process, so the test runs itself again in a child
//! started by `sh -c 'umask 000; exec ...'` and the child does the work.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sts_client::dns::{DnsError, TxtResolver};
use sts_report::{Outcome, PolicyType, Recorder, ReportOptions};

/// A domain with no `_smtp._tls` record: the report stays in the spool.
struct NoRecords;

impl TxtResolver for NoRecords {
    fn lookup_txt(&self, _name: &str) -> Result<Vec<Vec<u8>>, DnsError> {
        Err(DnsError::NxDomain)
    }
}

const CHILD: &str = "STS_STORE_MODES_CHILD";
const TEST: &str = "store_modes_and_trust_under_umask_000";

#[test]
fn store_modes_and_trust_under_umask_000() {
    if std::env::var_os(CHILD).is_none() {
        sts_test_support::child::run_under_umask_000(TEST, CHILD);
        return;
    }
    in_child();
}

fn mode(p: &Path) -> u32 {
    fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

fn tempdir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("sts-store-modes-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir(&d).unwrap();
    fs::set_permissions(&d, fs::Permissions::from_mode(0o755)).unwrap();
    d
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    for de in fs::read_dir(dir).unwrap() {
        let p = de.unwrap().path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn in_child() {
    let dir = tempdir();
    let probe = dir.join("probe");
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o666)
        .open(&probe)
        .unwrap();
    assert_eq!(
        mode(&probe),
        0o666,
        "the child does not run under umask 000"
    );
    fs::remove_file(&probe).unwrap();

    // Owner-only whatever the umask: the store, its outcomes directory
    // and the day file.
    let store = dir.join("tlsrpt");
    let r = Recorder::open(&store).unwrap();
    r.record(&Outcome::new(PolicyType::Sts, "a.test", 1_800_000_000))
        .unwrap();
    let all = files(&store);
    assert_eq!(all.len(), 3, "{all:?}");
    for p in &all {
        let want = if p.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(p), want, "{}", p.display());
    }

    // Sending closes the day into a spool (reports, state, the sender's
    // lock): owner-only too.
    let sent = dir.join("sent");
    let r2 = Recorder::open(&sent).unwrap();
    r2.record(&Outcome::new(PolicyType::Sts, "a.test", 1_800_000_000))
        .unwrap();
    let mut opts = ReportOptions::new(&sent, "mta.example");
    opts.now = Some(1_800_200_000);
    sts_report::send_with_resolver(&opts, &NoRecords, None, false).unwrap();
    let spooled = files(&sent);
    assert!(spooled.len() >= 4, "nothing spooled: {spooled:?}");
    for p in &spooled {
        let want = if p.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(p), want, "{}", p.display());
    }

    // A day file others can write is refused, naming it.
    let day = all.iter().find(|p| p.is_file()).unwrap();
    fs::set_permissions(day, fs::Permissions::from_mode(0o666)).unwrap();
    let err = r
        .record(&Outcome::new(PolicyType::Sts, "a.test", 1_800_000_000))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&day.display().to_string()) && err.contains("writable by other users"),
        "{err}"
    );

    // So is a store directory others can write.
    fs::set_permissions(&store, fs::Permissions::from_mode(0o777)).unwrap();
    let err = Recorder::open(&store).unwrap_err().to_string();
    assert!(
        err.contains(&store.display().to_string()) && err.contains("writable by other users"),
        "{err}"
    );

    // Group access when the store directory is set-group-ID.
    let shared = dir.join("shared");
    fs::create_dir(&shared).unwrap();
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o2770)).unwrap();
    let r = Recorder::open(&shared).unwrap();
    r.record(&Outcome::new(PolicyType::Sts, "a.test", 1_800_000_000))
        .unwrap();
    for p in files(&shared).iter().skip(1) {
        let want = if p.is_dir() { 0o2770 } else { 0o660 };
        assert_eq!(mode(p), want, "{}", p.display());
    }

    let _ = fs::remove_dir_all(&dir);
}
