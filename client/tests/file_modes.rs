//! The modes of what the client writes under `umask 000`, and the refusal
//! of cache entries and directories that others can write.
//!
//! The umask is per process, so the test runs itself again in a child
//! started by `sh -c 'umask 000; exec ...'` and the child does the work.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use sts_client::cache::{CacheEntry, CachedPolicy, DiskCache};
use sts_client::{Client, ClientError, ClientOptions, DaneStatus, DecisionMode, Source};

const CHILD: &str = "STS_FILE_MODES_CHILD";
const TEST: &str = "cache_modes_and_trust_under_umask_000";

#[test]
fn cache_modes_and_trust_under_umask_000() {
    if std::env::var_os(CHILD).is_none() {
        sts_test_support::child::run_under_umask_000(TEST, CHILD);
        return;
    }
    in_child();
}

fn mode(p: &Path) -> u32 {
    fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

/// Every file and directory under `dir` that its group or others can write.
fn writable_by_others(dir: &Path) -> Vec<String> {
    let mut bad = Vec::new();
    for de in fs::read_dir(dir).unwrap() {
        let p = de.unwrap().path();
        if mode(&p) & 0o022 != 0 {
            bad.push(format!("{} {:o}", p.display(), mode(&p)));
        }
        if p.is_dir() {
            bad.extend(writable_by_others(&p));
        }
    }
    bad
}

fn opts(dns: &DnsServer, https: &HttpsServer, ca: &TestCa, cache: &Path) -> ClientOptions {
    ClientOptions {
        dns_server: Some(dns.addr),
        ca_file: Some(ca.pem_path.clone()),
        https_port: Some(https.port),
        cache_path: Some(cache.to_path_buf()),
        https_connect_override: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        dns_timeout: Duration::from_millis(200),
        dns_attempts: 2,
        https_connect_timeout: Duration::from_secs(1),
        https_total_timeout: Duration::from_secs(2),
        use_env: false,
        ..ClientOptions::default()
    }
}

fn in_child() {
    let dir = tempdir("modes");
    // The umask really is 0 here: a file asked for as 0666 gets 0666.
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
    // tempdir() made `dir` under umask 000 too; the test's own directory
    // is not what is checked.
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();

    let ca = TestCa::new(&dir);
    let https =
        HttpsServer::start(ca.leaf(&["mta-sts.a.test", "mta-sts.b.test"], Validity::Current));
    let dns = DnsServer::start();
    for d in ["a.test", "b.test"] {
        https.set(
            &format!("mta-sts.{d}"),
            policy_reply(&policy_text("enforce", &[&format!("mx.{d}")], 86_400)),
        );
        dns.set(&format!("_mta-sts.{d}"), txt1("v=STSv1; id=one;"));
    }

    // What the client creates: the cache directory (and a missing parent)
    // owner-only, entries owner-only, no temporary file left.
    let cache = dir.join("spool").join("cache");
    let c = Client::new(opts(&dns, &https, &ca, &cache)).unwrap();
    let d = c.decide("a.test", "mx.a.test", DaneStatus::NotUsable);
    assert_eq!(d.mode, DecisionMode::Enforce, "{d:?}");
    assert_eq!(mode(&dir.join("spool")), 0o700);
    assert_eq!(mode(&cache), 0o700);
    assert_eq!(mode(&cache.join("a.test")), 0o600);
    assert_eq!(fs::read_dir(&cache).unwrap().count(), 1);
    assert_eq!(writable_by_others(&dir.join("spool")), Vec::<String>::new());

    // A planted entry that others can write says "mode: none" for b.test
    // under the id DNS publishes: it is not used, the policy is fetched
    // and the entry replaced by an owner-only one.
    let planted = CacheEntry {
        policy: Some(CachedPolicy {
            txt_id: "one".into(),
            text: Arc::from(policy_text("none", &["mx.b.test"], 86_400).as_bytes()),
            fetched_at: now(),
            expires_at: now() + 86_400,
        }),
        txt_checked_at: now(),
        last_failure: None,
        no_policy_until: 0,
    };
    let entry = cache.join("b.test");
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o666)
        .open(&entry)
        .unwrap();
    f.write_all(&planted.encode()).unwrap();
    drop(f);
    assert_eq!(mode(&entry), 0o666);
    let disk = DiskCache::open(&cache, 100).unwrap();
    assert_eq!(disk.load("b.test"), None);
    let err = disk.load_checked("b.test").unwrap_err().to_string();
    assert!(
        err.contains(&entry.display().to_string()) && err.contains("writable by other users"),
        "{err}"
    );
    let requests = https.requests();
    let c2 = Client::new(opts(&dns, &https, &ca, &cache)).unwrap();
    let d = c2.decide("b.test", "mx.b.test", DaneStatus::NotUsable);
    assert_eq!(d.mode, DecisionMode::Enforce, "{d:?}");
    assert_eq!(d.source, Source::Network);
    assert!(d.tls_required());
    assert_eq!(https.requests(), requests + 1);
    assert_eq!(mode(&entry), 0o600);

    // The same entry made group-writable is refused in an owner-only
    // directory too.
    fs::set_permissions(&entry, fs::Permissions::from_mode(0o660)).unwrap();
    let err = disk.load_checked("b.test").unwrap_err().to_string();
    assert!(err.contains("writable by its group"), "{err}");

    // A cache directory others can write: the client is not made, and the
    // error names the directory.
    let open = dir.join("open");
    fs::create_dir(&open).unwrap();
    fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
    let msg = match Client::new(opts(&dns, &https, &ca, &open)) {
        Err(ClientError::Cache(msg)) => msg,
        other => format!("not a cache error: {:?}", other.err()),
    };
    assert!(msg.contains(&open.display().to_string()), "{msg}");
    assert!(msg.contains("writable by other users"), "{msg}");

    // Group access is asked for by a set-group-ID directory: entries are
    // then group-writable and group-writable entries are trusted.
    let shared = dir.join("shared");
    fs::create_dir(&shared).unwrap();
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o2770)).unwrap();
    let c3 = Client::new(opts(&dns, &https, &ca, &shared)).unwrap();
    let d = c3.decide("a.test", "mx.a.test", DaneStatus::NotUsable);
    assert_eq!(d.mode, DecisionMode::Enforce, "{d:?}");
    assert_eq!(mode(&shared.join("a.test")), 0o660);
    let disk = DiskCache::open(&shared, 100).unwrap();
    assert!(disk.load_checked("a.test").unwrap().is_some());
    // ... but never an entry others can write.
    fs::set_permissions(shared.join("a.test"), fs::Permissions::from_mode(0o662)).unwrap();
    assert!(disk.load_checked("a.test").is_err());

    let _ = fs::remove_dir_all(&dir);
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
