//! The policy cache: one file per domain in a directory, plus an
//! in-process map in front of it.
//!
//! Every write goes to a temporary file in the same directory, is flushed
//! to disk (`fsync`) and then renamed over the entry, so a reader in
//! another process sees either the old entry or the new one, never a mix,
//! and a writer killed mid-write leaves the old entry in place. No lock is
//! taken, so none is ever held across network I/O; when two processes
//! fetch the same policy at once, the last rename wins and both entries
//! are valid.
//!
//! The number of entries is capped; storing a new domain beyond the cap
//! evicts the entries written longest ago.
//!
//! Entries and the directory get explicit modes (see [`crate::file_access`]):
//! a cache others could write would let them downgrade a domain's policy,
//! so such a directory is refused when the cache is opened, and such an
//! entry is never read (it is fetched again and replaced).

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::file_access::{self, Access};
use crate::refresh::{EntryMeta, PolicyMeta};

/// A cached policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedPolicy {
    /// The TXT `id` seen when the policy was fetched.
    pub txt_id: String,
    /// The policy file as fetched (it parsed when it was stored).
    pub text: Arc<[u8]>,
    /// When it was fetched, in seconds since the Unix epoch.
    pub fetched_at: u64,
    /// `fetched_at + max_age`.
    pub expires_at: u64,
}

/// Everything cached about one domain.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CacheEntry {
    /// The last policy fetched successfully, if any.
    pub policy: Option<CachedPolicy>,
    /// When the TXT record was last seen to carry `policy.txt_id`.
    pub txt_checked_at: u64,
    /// When the last fetch failed, if it failed.
    pub last_failure: Option<u64>,
    /// Until when DNS is known to announce no policy (a remembered
    /// NXDOMAIN/NODATA for `_mta-sts`; 0: nothing known).
    pub no_policy_until: u64,
}

impl CacheEntry {
    /// The view of this entry that the rules in [`crate::refresh`] take.
    pub fn meta(&self) -> EntryMeta<'_> {
        EntryMeta {
            policy: self.policy.as_ref().map(|p| PolicyMeta {
                txt_id: &p.txt_id,
                fetched_at: p.fetched_at,
                expires_at: p.expires_at,
            }),
            txt_checked_at: self.txt_checked_at,
            last_failure: self.last_failure,
            no_policy_until: self.no_policy_until,
        }
    }

    /// The on-disk form.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(96 + self.policy.as_ref().map_or(0, |p| p.text.len()));
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(format!("checked {}\n", self.txt_checked_at).as_bytes());
        if let Some(t) = self.last_failure {
            out.extend_from_slice(format!("failure {t}\n").as_bytes());
        }
        if self.no_policy_until > 0 {
            out.extend_from_slice(format!("nopolicy {}\n", self.no_policy_until).as_bytes());
        }
        if let Some(p) = &self.policy {
            out.extend_from_slice(
                format!(
                    "policy {} {} {} {}\n",
                    p.txt_id,
                    p.fetched_at,
                    p.expires_at,
                    p.text.len()
                )
                .as_bytes(),
            );
        }
        out.push(b'\n');
        if let Some(p) = &self.policy {
            out.extend_from_slice(&p.text);
        }
        out
    }

    /// Reads the on-disk form; `None` if it is not a complete entry.
    pub fn decode(bytes: &[u8]) -> Option<CacheEntry> {
        let rest = bytes.strip_prefix(MAGIC)?;
        let header_end = rest.windows(2).position(|w| w == b"\n\n")?;
        let header = std::str::from_utf8(&rest[..header_end]).ok()?;
        let body = &rest[header_end + 2..];
        let mut entry = CacheEntry::default();
        let mut body_len = 0usize;
        for line in header.split('\n') {
            let mut w = line.split(' ');
            match w.next()? {
                "checked" => entry.txt_checked_at = w.next()?.parse().ok()?,
                "failure" => entry.last_failure = Some(w.next()?.parse().ok()?),
                "nopolicy" => entry.no_policy_until = w.next()?.parse().ok()?,
                "policy" => {
                    let txt_id = w.next()?.to_owned();
                    if txt_id.is_empty() || !txt_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
                        return None;
                    }
                    let fetched_at = w.next()?.parse().ok()?;
                    let expires_at = w.next()?.parse().ok()?;
                    body_len = w.next()?.parse().ok()?;
                    entry.policy = Some(CachedPolicy {
                        txt_id,
                        text: Arc::from(&[][..]),
                        fetched_at,
                        expires_at,
                    });
                }
                _ => {} // later versions may add lines
            }
        }
        if body.len() != body_len {
            return None;
        }
        if let Some(p) = entry.policy.as_mut() {
            if sts_core::policy::parse(body).is_err() {
                return None;
            }
            p.text = Arc::from(body);
        }
        Some(entry)
    }
}

const MAGIC: &[u8] = b"libsts-cache 1\n";

/// Largest entry read: the largest policy fetched plus room for the
/// header. Anything longer is not an entry and is not read whole.
const MAX_ENTRY: u64 = crate::fetch::MAX_POLICY_SIZE + 4096;

/// Where temporary files start; entry names never do (domain names do
/// not start with a dot).
const TMP_PREFIX: &str = ".tmp.";

/// Temporary files older than this are left over from a killed writer.
const STALE_TMP: Duration = Duration::from_secs(600);

static TMP_SEQ: AtomicU64 = AtomicU64::new(0);

/// The on-disk cache directory.
#[derive(Clone, Debug)]
pub struct DiskCache {
    dir: PathBuf,
    max_entries: usize,
    access: Access,
}

impl DiskCache {
    /// Opens (and creates if needed, owner-only) the cache directory
    /// `dir`, keeping at most `max_entries` domains. A directory that
    /// others can write is an error naming it.
    pub fn open(dir: &Path, max_entries: usize) -> io::Result<DiskCache> {
        let access = file_access::create_dir_all(dir, Access::Owner)?;
        Ok(DiskCache {
            dir: dir.to_path_buf(),
            max_entries: max_entries.max(1),
            access,
        })
    }

    /// Who may use what is created in the directory (set-group-ID asks
    /// for group access).
    pub fn access(&self) -> Access {
        self.access
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, domain: &str) -> Option<PathBuf> {
        // Domains reach here as validated A-labels, but the file name must
        // never leave the directory whatever the caller passes.
        let ok = !domain.is_empty()
            && !domain.starts_with('.')
            && domain
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
        ok.then(|| self.dir.join(domain))
    }

    /// The entry for `domain`; `None` if there is none, it is unreadable
    /// or it is not trusted (see [`DiskCache::load_checked`]).
    pub fn load(&self, domain: &str) -> Option<CacheEntry> {
        self.load_checked(domain).ok().flatten()
    }

    /// The entry for `domain`, `None` if there is none or it is not a
    /// complete entry; an error naming the path when the entry or the
    /// directory could have been written by others, or cannot be read.
    pub fn load_checked(&self, domain: &str) -> io::Result<Option<CacheEntry>> {
        let Some(path) = self.path(domain) else {
            return Ok(None);
        };
        let f = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        // The descriptor's metadata, not the path's: the file checked is
        // the file read.
        let md = f.metadata()?;
        let dir_md = fs::metadata(&self.dir)?;
        file_access::check_file(&md, &dir_md).map_err(|e| e.at(&path))?;
        let mut bytes = Vec::with_capacity(md.len().min(MAX_ENTRY) as usize);
        (&f).take(MAX_ENTRY + 1).read_to_end(&mut bytes)?;
        Ok(CacheEntry::decode(&bytes))
    }

    /// Writes the entry for `domain` atomically (temporary file, fsync,
    /// rename).
    pub fn store(&self, domain: &str, entry: &CacheEntry) -> io::Result<()> {
        let path = self
            .path(domain)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "bad cache key"))?;
        let is_new = !path.exists();
        let tmp = self.dir.join(format!(
            "{TMP_PREFIX}{domain}.{}.{}",
            std::process::id(),
            TMP_SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let result = (|| {
            // O_EXCL: never write through a file that is already there.
            // One that is was left by a killed writer whose process id
            // this process now has: remove it and try once more.
            let create = || {
                OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(self.access.file_mode())
                    .open(&tmp)
            };
            let mut f = match create() {
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    fs::remove_file(&tmp)?;
                    create()?
                }
                other => other?,
            };
            file_access::finish_file(&f, &self.dir, self.access)?;
            f.write_all(&entry.encode())?;
            f.sync_all()?;
            fs::rename(&tmp, &path)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result?;
        // Make the rename itself durable; not every file system allows it.
        if let Ok(d) = File::open(&self.dir) {
            let _ = d.sync_all();
        }
        if is_new {
            self.evict()?;
        }
        Ok(())
    }

    /// Deletes the entry for `domain`.
    pub fn remove(&self, domain: &str) -> io::Result<()> {
        match self.path(domain) {
            Some(p) => match fs::remove_file(p) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            },
            None => Ok(()),
        }
    }

    /// The domains with an entry, and removes stale temporary files.
    pub fn domains(&self) -> io::Result<Vec<String>> {
        Ok(self.scan()?.into_iter().map(|(d, _)| d).collect())
    }

    fn scan(&self) -> io::Result<Vec<(String, SystemTime)>> {
        let mut out = Vec::new();
        for de in fs::read_dir(&self.dir)? {
            let de = de?;
            let Ok(name) = de.file_name().into_string() else {
                continue;
            };
            let Ok(md) = de.metadata() else { continue };
            let mtime = md.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            if name.starts_with(TMP_PREFIX) {
                if mtime.elapsed().is_ok_and(|age| age > STALE_TMP) {
                    let _ = fs::remove_file(de.path());
                }
                continue;
            }
            if md.is_file() && !name.starts_with('.') {
                out.push((name, mtime));
            }
        }
        Ok(out)
    }

    fn evict(&self) -> io::Result<()> {
        let mut all = self.scan()?;
        if all.len() <= self.max_entries {
            return Ok(());
        }
        all.sort_by_key(|(_, t)| *t);
        let excess = all.len() - self.max_entries;
        for (domain, _) in all.into_iter().take(excess) {
            self.remove(&domain)?;
        }
        Ok(())
    }
}

/// The in-process layer: a bounded map in front of the optional disk
/// cache.
#[derive(Debug)]
pub struct Cache {
    mem: Mutex<HashMap<String, CacheEntry>>,
    disk: Option<DiskCache>,
    max_entries: usize,
}

impl Cache {
    /// A cache with an optional disk layer, holding at most `max_entries`
    /// domains in memory.
    pub fn new(disk: Option<DiskCache>, max_entries: usize) -> Cache {
        Cache {
            mem: Mutex::new(HashMap::new()),
            disk,
            max_entries: max_entries.max(1),
        }
    }

    /// The disk layer, if there is one.
    pub fn disk(&self) -> Option<&DiskCache> {
        self.disk.as_ref()
    }

    /// The in-memory entry, without touching the disk.
    pub fn get_mem(&self, domain: &str) -> Option<CacheEntry> {
        self.lock().get(domain).cloned()
    }

    /// The freshest entry: from disk when the disk has one newer than the
    /// memory copy (another process may have refreshed it).
    pub fn get(&self, domain: &str) -> Option<CacheEntry> {
        let mem = self.get_mem(domain);
        let disk = self.disk.as_ref().and_then(|d| d.load(domain));
        match (mem, disk) {
            (Some(m), Some(d)) => {
                if newer(&d, &m) {
                    self.put_mem(domain, d.clone());
                    Some(d)
                } else {
                    Some(m)
                }
            }
            (None, Some(d)) => {
                self.put_mem(domain, d.clone());
                Some(d)
            }
            (m, None) => m,
        }
    }

    /// Stores an entry in memory and on disk.
    pub fn put(&self, domain: &str, entry: CacheEntry) -> io::Result<()> {
        let r = match &self.disk {
            Some(d) => d.store(domain, &entry),
            None => Ok(()),
        };
        self.put_mem(domain, entry);
        r
    }

    /// Forgets an entry in memory and on disk.
    pub fn remove(&self, domain: &str) -> io::Result<()> {
        self.lock().remove(domain);
        match &self.disk {
            Some(d) => d.remove(domain),
            None => Ok(()),
        }
    }

    /// Every cached domain (disk and memory).
    pub fn domains(&self) -> io::Result<Vec<String>> {
        let mut all: Vec<String> = self.lock().keys().cloned().collect();
        if let Some(d) = &self.disk {
            all.extend(d.domains()?);
        }
        all.sort();
        all.dedup();
        Ok(all)
    }

    pub(crate) fn put_mem(&self, domain: &str, entry: CacheEntry) {
        let mut map = self.lock();
        if map.len() >= self.max_entries && !map.contains_key(domain) {
            // Evict the entry checked longest ago.
            if let Some(oldest) = map
                .iter()
                .min_by_key(|(_, e)| {
                    e.txt_checked_at
                        .max(e.policy.as_ref().map_or(0, |p| p.fetched_at))
                        .max(e.no_policy_until)
                })
                .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        map.insert(domain.to_owned(), entry);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, CacheEntry>> {
        // A panic while holding the lock cannot leave the map inconsistent
        // (every update is a single insert or remove), so poisoning is
        // ignored.
        self.mem.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Whether `a` carries newer information than `b`.
fn newer(a: &CacheEntry, b: &CacheEntry) -> bool {
    let key = |e: &CacheEntry| {
        (
            e.policy.as_ref().map_or(0, |p| p.fetched_at),
            e.txt_checked_at,
            e.last_failure.unwrap_or(0),
            e.no_policy_until,
        )
    };
    a != b && key(a) >= key(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &[u8] = b"version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 86400\n";

    fn sample() -> CacheEntry {
        CacheEntry {
            policy: Some(CachedPolicy {
                txt_id: "abc123".into(),
                text: Arc::from(POLICY),
                fetched_at: 1000,
                expires_at: 87_400,
            }),
            txt_checked_at: 1000,
            last_failure: Some(900),
            no_policy_until: 0,
        }
    }

    fn tempdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("sts-cache-unit-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn encode_decode_round_trip() {
        let e = sample();
        assert_eq!(CacheEntry::decode(&e.encode()), Some(e.clone()));
        let none = CacheEntry::default();
        assert_eq!(CacheEntry::decode(&none.encode()), Some(none));
    }

    #[test]
    fn negative_entry_round_trip() {
        let e = CacheEntry {
            no_policy_until: 4242,
            txt_checked_at: 4000,
            ..CacheEntry::default()
        };
        assert_eq!(CacheEntry::decode(&e.encode()), Some(e));
    }

    #[test]
    fn truncated_or_garbled_entries_are_rejected() {
        let bytes = sample().encode();
        for cut in 0..bytes.len() {
            assert_eq!(CacheEntry::decode(&bytes[..cut]), None, "cut at {cut}");
        }
        let mut bad = bytes.clone();
        bad.push(b'x');
        assert_eq!(CacheEntry::decode(&bad), None);
        assert_eq!(
            CacheEntry::decode(b"libsts-cache 1\npolicy a/b 1 2 0\n\n"),
            None
        );
    }

    proptest::proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = CacheEntry::decode(&bytes);
            let mut framed = MAGIC.to_vec();
            framed.extend_from_slice(&bytes);
            let _ = CacheEntry::decode(&framed);
        }
    }

    #[test]
    fn disk_store_load_evict() {
        let dir = tempdir("evict");
        let d = DiskCache::open(&dir, 3).unwrap();
        for (i, dom) in ["a.example", "b.example", "c.example", "d.example"]
            .iter()
            .enumerate()
        {
            let mut e = sample();
            e.txt_checked_at = i as u64;
            d.store(dom, &e).unwrap();
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut doms = d.domains().unwrap();
        doms.sort();
        assert_eq!(doms, ["b.example", "c.example", "d.example"]);
        assert_eq!(d.load("d.example").map(|e| e.txt_checked_at), Some(3));
        assert!(d.load("../etc/passwd").is_none());
        assert!(d.store("../x", &sample()).is_err());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_temporary_file_left_by_a_killed_writer_is_replaced() {
        let dir = tempdir("leftover");
        let d = DiskCache::open(&dir, 10).unwrap();
        // Files as a killed process with this process id would have left
        // them, for the next sequence numbers this process will use.
        let next = TMP_SEQ.load(Ordering::Relaxed);
        for seq in next..next + 64 {
            let name = format!("{TMP_PREFIX}left.example.{}.{seq}", std::process::id());
            fs::write(dir.join(name), b"half an entry").unwrap();
        }
        d.store("left.example", &sample()).unwrap();
        assert_eq!(d.load("left.example"), Some(sample()));
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn memory_layer_prefers_newer_disk_entry() {
        let dir = tempdir("layer");
        let c1 = Cache::new(Some(DiskCache::open(&dir, 10).unwrap()), 10);
        let c2 = Cache::new(Some(DiskCache::open(&dir, 10).unwrap()), 10);
        c1.put("x.example", sample()).unwrap();
        assert_eq!(c2.get("x.example"), Some(sample()));
        let mut newer_entry = sample();
        newer_entry.txt_checked_at = 5000;
        c2.put("x.example", newer_entry.clone()).unwrap();
        assert_eq!(c1.get_mem("x.example"), Some(sample()));
        assert_eq!(c1.get("x.example"), Some(newer_entry));
        let _ = fs::remove_dir_all(&dir);
    }
}
