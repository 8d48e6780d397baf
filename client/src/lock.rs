//! One policy fetch at a time across the processes that share a cache
//! directory.
//!
//! When a TXT id changes or a policy expires, every process delivering to
//! that domain would otherwise fetch the policy at once. The first one
//! takes a lock file beside the cache entry and fetches; the others use the
//! still-valid cached policy or wait, at most until the lock's deadline,
//! for the entry the holder writes.
//!
//! The lock is a file created with `O_EXCL` (atomic on local file systems
//! and NFSv3+) holding a wall-clock deadline: the holder never keeps it
//! longer than one fetch (whose own timeouts end before the deadline), and
//! a lock whose deadline has passed is stale (its holder died or hung) and
//! is broken by the next process. Nothing is ever held across a fork in a
//! way that could block: a child that inherits a held lock simply does not
//! remove it (the token names the process that took it).

use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::file_access::{self, Access};

/// Where lock files start; cache entries never do (domain names do not
/// start with a dot), so listing the cache skips them.
pub const LOCK_PREFIX: &str = ".lock.";

static SEQ: AtomicU64 = AtomicU64::new(0);

/// A held fetch lock; dropping it releases it.
#[derive(Debug)]
pub struct FetchLock {
    path: PathBuf,
    token: String,
}

/// The outcome of [`try_lock`].
#[derive(Debug)]
pub enum Acquire {
    /// This process holds the lock and should fetch.
    Held(FetchLock),
    /// Another process holds it until this wall-clock second at the latest.
    Busy {
        /// The holder's deadline (seconds since the Unix epoch).
        until: u64,
    },
}

/// The lock file of `domain` in the cache directory `dir`.
pub fn lock_path(dir: &Path, domain: &str) -> PathBuf {
    dir.join(format!("{LOCK_PREFIX}{domain}"))
}

/// Tries to take the fetch lock of `domain` for at most `hold` from `now`
/// (seconds since the Unix epoch). A stale lock (deadline passed) is
/// broken and taken over.
pub fn try_lock(
    dir: &Path,
    access: Access,
    domain: &str,
    now: u64,
    hold: Duration,
) -> io::Result<Acquire> {
    let path = lock_path(dir, domain);
    // Whole seconds, rounded up, plus one so that a holder whose fetch
    // times out exactly at `hold` still releases before anyone breaks in.
    let deadline = now
        .saturating_add(hold.as_secs())
        .saturating_add(u64::from(hold.subsec_nanos() > 0))
        .saturating_add(1);
    let token = format!(
        "{deadline} {} {}\n",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    // Two rounds: the second after breaking a stale lock.
    for _ in 0..2 {
        match create_exclusive(dir, access, &path, &token) {
            Ok(()) => return Ok(Acquire::Held(FetchLock { path, token })),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        let Some(held) = read_lock(&path)? else {
            continue; // released meanwhile: try again
        };
        let until = parse_deadline(&held);
        if until > now {
            return Ok(Acquire::Busy { until });
        }
        break_stale(&path, &held)?;
    }
    // Someone else broke the stale lock and took it first.
    let until = read_lock(&path)?.map(|h| parse_deadline(&h)).unwrap_or(now);
    Ok(Acquire::Busy { until })
}

/// Whether a live (not stale) lock is held on `domain` at `now`.
pub fn is_locked(dir: &Path, domain: &str, now: u64) -> bool {
    matches!(read_lock(&lock_path(dir, domain)), Ok(Some(h)) if parse_deadline(&h) > now)
}

impl Drop for FetchLock {
    fn drop(&mut self) {
        // Only the holder removes its lock: after a fork the child has a
        // copy of this value with the parent's pid in the token, and a
        // lock broken as stale and retaken by someone else has theirs.
        let ours = self
            .token
            .split(' ')
            .nth(1)
            .is_some_and(|pid| pid == std::process::id().to_string());
        if ours && matches!(read_lock(&self.path), Ok(Some(ref h)) if *h == self.token) {
            let _ = fs::remove_file(&self.path);
        }
    }
}

fn create_exclusive(dir: &Path, access: Access, path: &Path, token: &str) -> io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(access.file_mode())
        .open(path)?;
    // The same modes and owner as the cache entries, whatever the umask,
    // so that every process sharing the directory can read the lock.
    file_access::finish_file(&f, dir, access)?;
    f.write_all(token.as_bytes())
}

/// The lock's content, `None` if there is no lock. Reads at most 128
/// bytes: a planted huge file is not read whole.
fn read_lock(path: &Path) -> io::Result<Option<String>> {
    match fs::File::open(path) {
        Ok(f) => {
            let mut s = String::new();
            // Bytes that are not UTF-8 make a lock nobody can parse: stale.
            let _ = f.take(128).read_to_string(&mut s);
            Ok(Some(s))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The deadline in a lock's content; 0 (stale) when it cannot be read, so
/// that a garbled lock never blocks fetches.
fn parse_deadline(content: &str) -> u64 {
    content
        .split(' ')
        .next()
        .and_then(|d| d.parse().ok())
        .unwrap_or(0)
}

/// Removes a stale lock whose content is `seen`. The lock is first renamed
/// to a name only this call uses, so that of several processes breaking it
/// at once only one succeeds; if what was renamed is not the stale lock
/// (someone broke and retook it in between), it is put back.
fn break_stale(path: &Path, seen: &str) -> io::Result<()> {
    let aside = path.with_extension(format!(
        "stale.{}.{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    match fs::rename(path, &aside) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    }
    if read_lock(&aside)?.as_deref() != Some(seen) {
        // A fresh lock: restore it unless a newer one already exists.
        let _ = fs::hard_link(&aside, path);
    }
    let _ = fs::remove_file(&aside);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tempdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sts-lock-unit-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn one_holder_then_released() {
        let d = tempdir("one");
        let hold = Duration::from_secs(30);
        let Acquire::Held(l) = try_lock(&d, Access::Owner, "a.test", 1000, hold).unwrap() else {
            panic!("first lock not taken");
        };
        assert!(is_locked(&d, "a.test", 1000));
        // Owner-only whatever the umask (files others could write are
        // never trusted in a cache directory).
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(lock_path(&d, "a.test"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        match try_lock(&d, Access::Owner, "a.test", 1001, hold).unwrap() {
            Acquire::Busy { until } => assert_eq!(until, 1031),
            Acquire::Held(_) => panic!("lock taken twice"),
        }
        // Other domains are independent.
        assert!(matches!(
            try_lock(&d, Access::Owner, "b.test", 1001, hold).unwrap(),
            Acquire::Held(_)
        ));
        drop(l);
        assert!(!is_locked(&d, "a.test", 1001));
        assert!(matches!(
            try_lock(&d, Access::Owner, "a.test", 1002, hold).unwrap(),
            Acquire::Held(_)
        ));
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn stale_or_garbled_lock_is_broken() {
        let d = tempdir("stale");
        let hold = Duration::from_secs(10);
        // A holder that died: its deadline has passed.
        fs::write(lock_path(&d, "a.test"), "1005 999999 0\n").unwrap();
        assert!(matches!(
            try_lock(&d, Access::Owner, "a.test", 1004, hold).unwrap(),
            Acquire::Busy { until: 1005 }
        ));
        let Acquire::Held(l) = try_lock(&d, Access::Owner, "a.test", 1005, hold).unwrap() else {
            panic!("stale lock not broken");
        };
        drop(l);
        fs::write(lock_path(&d, "a.test"), "garbage").unwrap();
        assert!(!is_locked(&d, "a.test", 1));
        assert!(matches!(
            try_lock(&d, Access::Owner, "a.test", 1, hold).unwrap(),
            Acquire::Held(_)
        ));
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn a_broken_and_retaken_lock_is_not_removed_by_the_old_holder() {
        let d = tempdir("retaken");
        let hold = Duration::from_secs(1);
        let Acquire::Held(old) = try_lock(&d, Access::Owner, "a.test", 1000, hold).unwrap() else {
            panic!("not taken");
        };
        // The old holder overran its deadline; another process breaks in.
        let Acquire::Held(new) = try_lock(&d, Access::Owner, "a.test", 1010, hold).unwrap() else {
            panic!("stale lock not broken");
        };
        drop(old);
        assert!(
            is_locked(&d, "a.test", 1010),
            "old holder removed the new lock"
        );
        drop(new);
        assert!(!is_locked(&d, "a.test", 1010));
        let _ = fs::remove_dir_all(&d);
    }
}
