//! Several processes sharing one cache directory.
//!
//! The test binary re-runs itself as the child processes: with
//! `STS_TEST_CHILD` set, only the `child_*` test named on the command line
//! does anything.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use std::process::Child;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use sts_client::cache::{CacheEntry, CachedPolicy, DiskCache};
use sts_client::refresh::Rules;
use sts_client::{Client, ClientOptions, DaneStatus, DecisionMode};

const PROCS: usize = 8;
const LOOKUPS: usize = 500;

fn old_policy() -> String {
    policy_text("enforce", &["mx-old.conc.test"], 86_400)
}

fn new_policy() -> String {
    policy_text("testing", &["mx-new.conc.test", "*.conc.test"], 3_600)
}

fn child(test: &str, role: &str, envs: &[(&str, String)]) -> Child {
    sts_test_support::child::mta(test, role)
        .envs(envs.iter().map(|(k, v)| (k, v)))
        .spawn()
        .unwrap()
}

#[test]
fn processes_share_cache_while_policy_changes() {
    if std::env::var_os("STS_TEST_CHILD").is_some() {
        return;
    }
    let dir = tempdir("conc");
    let ca = TestCa::new(&dir);
    let dns = DnsServer::start();
    let https = HttpsServer::start(ca.leaf(&["mta-sts.conc.test"], Validity::Current));
    let publish = |n: usize| {
        let text = if n.is_multiple_of(2) {
            old_policy()
        } else {
            new_policy()
        };
        // The file first, then the id that announces it.
        https.set("mta-sts.conc.test", policy_reply(&text));
        dns.set("_mta-sts.conc.test", txt1(&format!("v=STSv1; id=gen{n};")));
    };
    publish(0);
    let cache = dir.join("cache");
    let envs = [
        ("STS_DNS_SERVER", dns.addr.to_string()),
        ("STS_CA_FILE", ca.pem_path.display().to_string()),
        ("STS_HTTPS_PORT", https.port.to_string()),
        ("STS_CACHE", cache.display().to_string()),
        ("STS_HTTPS_CONNECT", "127.0.0.1".to_owned()),
    ];
    let t0 = Instant::now();
    let children: Vec<Child> = (0..PROCS)
        .map(|_| child("child_lookups", "lookups", &envs))
        .collect();
    // Change the policy while the children run.
    let mut generation = 0;
    let mut children = children;
    let mut outputs = Vec::new();
    while !children.is_empty() {
        std::thread::sleep(Duration::from_millis(100));
        generation += 1;
        publish(generation);
        let mut still = Vec::new();
        for mut c in children {
            if c.try_wait().unwrap().is_some() {
                outputs.push(c.wait_with_output().unwrap());
            } else {
                still.push(c);
            }
        }
        children = still;
        assert!(t0.elapsed() < Duration::from_secs(60), "children too slow");
    }
    let mut total = 0;
    for out in &outputs {
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "child failed: {stdout}");
        let line = stdout
            .lines()
            .find(|l| l.starts_with("CHILD "))
            .unwrap_or_else(|| panic!("{stdout}"));
        eprintln!("{line}");
        total += line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("answers="))
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap();
    }
    assert_eq!(total, PROCS * LOOKUPS);
    eprintln!(
        "{PROCS} processes x {LOOKUPS} lookups in {:?}, {generation} policy changes, {} fetches",
        t0.elapsed(),
        https.requests()
    );
    // The cache is readable afterwards and holds one of the two policies.
    let d = DiskCache::open(&cache, 100).unwrap();
    let e = d.load("conc.test").unwrap();
    let text = e.policy.unwrap().text;
    assert!(&*text == old_policy().as_bytes() || &*text == new_policy().as_bytes());
    assert_eq!(d.domains().unwrap(), ["conc.test"]);
}

#[test]
fn child_lookups() {
    if std::env::var("STS_TEST_CHILD").as_deref() != Ok("lookups") {
        return;
    }
    let (old, new) = (old_policy(), new_policy());
    let (mut n_old, mut n_new, mut network) = (0, 0, 0);
    for _ in 0..LOOKUPS {
        // A new client per lookup, as in a process forked per delivery.
        let c = Client::new(ClientOptions {
            dns_timeout: Duration::from_millis(1000),
            dns_attempts: 3,
            https_total_timeout: Duration::from_secs(10),
            rules: Rules {
                txt_recheck: 0,
                ..Rules::default()
            },
            ..ClientOptions::default()
        })
        .unwrap();
        let d = c.decide("conc.test", "mx-old.conc.test", DaneStatus::NotUsable);
        let text = d.policy.as_ref().map(|p| p.text.clone());
        match text.as_deref() {
            Some(t) if t == old.as_bytes() => {
                assert_eq!(d.mode, DecisionMode::Enforce);
                n_old += 1;
            }
            Some(t) if t == new.as_bytes() => {
                assert_eq!(d.mode, DecisionMode::Testing);
                n_new += 1;
            }
            _ => panic!("unexpected decision: {d:?}"),
        }
        if d.source == sts_client::Source::Network {
            network += 1;
        }
    }
    println!(
        "CHILD pid={} answers={} old={n_old} new={n_new} fetched={network}",
        std::process::id(),
        n_old + n_new
    );
}

fn big_entry(variant: u8) -> CacheEntry {
    let mut text = policy_text("enforce", &["mx.kill.test"], 86_400);
    text.push_str(&format!(
        "x: {}\n",
        char::from(b'a' + variant).to_string().repeat(60_000)
    ));
    CacheEntry {
        policy: Some(CachedPolicy {
            txt_id: format!("v{variant}"),
            text: Arc::from(text.as_bytes()),
            fetched_at: 1,
            expires_at: u64::MAX / 2,
        }),
        txt_checked_at: 1,
        last_failure: None,
        no_policy_until: 0,
    }
}

#[test]
fn killed_writer_leaves_cache_readable() {
    if std::env::var_os("STS_TEST_CHILD").is_some() {
        return;
    }
    let dir = tempdir("kill");
    let cache = dir.join("cache");
    let disk = DiskCache::open(&cache, 10).unwrap();
    disk.store("kill.test", &big_entry(0)).unwrap();
    let envs = [("STS_CACHE", cache.display().to_string())];
    for round in 0..3 {
        let mut writer = child("child_writer", "writer", &envs);
        // Read while the writer rewrites the entry as fast as it can.
        let t0 = Instant::now();
        let mut reads = 0;
        while t0.elapsed() < Duration::from_millis(200 + 70 * round) {
            let e = disk
                .load("kill.test")
                .expect("entry torn or missing during writes");
            assert!(e == big_entry(0) || e == big_entry(1));
            reads += 1;
        }
        writer.kill().unwrap(); // SIGKILL
        writer.wait().unwrap();
        let e = disk
            .load("kill.test")
            .expect("entry unreadable after kill -9");
        assert!(e == big_entry(0) || e == big_entry(1));
        let leftovers = std::fs::read_dir(&cache).unwrap().count() - 1;
        eprintln!("round {round}: {reads} reads during writes, {leftovers} temporary files left");
        assert_eq!(disk.domains().unwrap(), ["kill.test"]);
    }
    // A client still works with the directory.
    let c = Client::new(ClientOptions {
        cache_path: Some(cache),
        dns_server: Some("127.0.0.1:9".parse().unwrap()),
        use_env: false,
        ..ClientOptions::default()
    })
    .unwrap();
    let look = c.lookup("kill.test");
    assert_eq!(look.policy.unwrap().mode, sts_core::Mode::Enforce);
}

#[test]
fn child_writer() {
    if std::env::var("STS_TEST_CHILD").as_deref() != Ok("writer") {
        return;
    }
    let dir = std::env::var("STS_CACHE").unwrap();
    let disk = DiskCache::open(std::path::Path::new(&dir), 10).unwrap();
    let entries = [big_entry(0), big_entry(1)];
    for i in 0usize.. {
        disk.store("kill.test", &entries[i % 2]).unwrap();
    }
}

/// Policy id of the lock test's domain, in a file the children read.
fn lock_id_file(dir: &std::path::Path) -> std::path::PathBuf {
    dir.join("generation")
}

#[test]
fn one_fetch_per_id_change_across_processes() {
    if std::env::var_os("STS_TEST_CHILD").is_some() {
        return;
    }
    let dir = tempdir("lock");
    let ca = TestCa::new(&dir);
    let dns = DnsServer::start();
    let https = HttpsServer::start(ca.leaf(&["mta-sts.lock.test"], Validity::Current));
    // A slow policy host: every child asks while the first fetch is on
    // its way.
    let slow = |text: &str| Reply::Delayed(400, text.as_bytes().to_vec());
    https.set(
        "mta-sts.lock.test",
        slow(&old_policy().replace("conc.test", "lock.test")),
    );
    dns.set("_mta-sts.lock.test", txt1("v=STSv1; id=first;"));
    dns.set(
        "mta-sts.lock.test",
        DnsAnswer::Records(vec![hickory_proto::rr::RData::A(
            hickory_proto::rr::rdata::A(std::net::Ipv4Addr::LOCALHOST),
        )]),
    );
    let cache = dir.join("cache");
    let go = dir.join("go");
    let envs = [
        ("STS_DNS_SERVER", dns.addr.to_string()),
        ("STS_CA_FILE", ca.pem_path.display().to_string()),
        ("STS_HTTPS_PORT", https.port.to_string()),
        ("STS_CACHE", cache.display().to_string()),
        ("STS_LOCK_GO", go.display().to_string()),
        ("STS_LOCK_IDS", lock_id_file(&dir).display().to_string()),
    ];
    let run = |expect_id: &str| {
        let _ = std::fs::remove_file(&go);
        std::fs::write(lock_id_file(&dir), expect_id).unwrap();
        let children: Vec<Child> = (0..PROCS)
            .map(|_| child("child_lock", "lock", &envs))
            .collect();
        // Let every child start, then release them together.
        std::thread::sleep(Duration::from_millis(300));
        std::fs::write(&go, "").unwrap();
        let mut new_seen = 0;
        for c in children {
            let out = c.wait_with_output().unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "child failed: {stdout}");
            new_seen += usize::from(stdout.contains(&format!("CHILD id={expect_id} ")));
        }
        assert!(new_seen >= 1, "no process got policy {expect_id}");
    };
    run("first");
    assert_eq!(
        https.requests(),
        1,
        "{PROCS} processes fetched the first policy"
    );
    // The id changes (RFC 8461 §3.3: a new id means a new policy to fetch).
    https.set(
        "mta-sts.lock.test",
        slow(&new_policy().replace("conc.test", "lock.test")),
    );
    dns.set("_mta-sts.lock.test", txt1("v=STSv1; id=second;"));
    run("second");
    assert_eq!(
        https.requests(),
        2,
        "{PROCS} processes fetched the changed policy"
    );
    // No lock is left behind.
    let left: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(sts_client::lock::LOCK_PREFIX))
        .collect();
    assert!(left.is_empty(), "locks left: {left:?}");
}

#[test]
fn child_lock() {
    if std::env::var("STS_TEST_CHILD").as_deref() != Ok("lock") {
        return;
    }
    let go = std::env::var("STS_LOCK_GO").unwrap();
    let want = std::fs::read_to_string(std::env::var("STS_LOCK_IDS").unwrap()).unwrap();
    let c = Client::new(ClientOptions {
        rules: Rules {
            txt_recheck: 0,
            ..Rules::default()
        },
        ..ClientOptions::default()
    })
    .unwrap();
    while !std::path::Path::new(&go).exists() {
        std::thread::sleep(Duration::from_millis(5));
    }
    let look = c.lookup("lock.test");
    let p = look
        .policy
        .clone()
        .unwrap_or_else(|| panic!("no policy: {look:?}"));
    // While another process fetches the new id, the still-valid policy of
    // the old one is used (RFC 8461 §3.3 keeps it until replaced).
    assert!(
        p.txt_id == want || (want == "second" && p.txt_id == "first"),
        "{look:?}"
    );
    println!("CHILD id={} source={:?}", p.txt_id, look.source);
}
