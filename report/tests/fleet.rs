//! TLS reports of a fleet of MTAs counted in one Redis: a real
//! `redis-server` on a loopback port, started and stopped by each test, and
//! MTAs simulated by processes (the test binary re-runs itself; with
//! `STS_TEST_CHILD` set, only the `child_*` test named on the command line
//! does anything), each with its own store directory.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use common::{MapResolver, SmtpSink, TempDir};
use serde_json::Value;
use sts_report::{
    print_reports, send_with_resolver, Day, Failure, Outcome, PolicyType, Recorder, ReportError,
    ReportOptions, ResultType, SessionResult,
};
use sts_test_support::redis::RedisServer;

const DOMAINS: usize = 5;

fn domain(i: usize) -> String {
    format!("r{i}.fleet.test")
}

fn yesterday() -> Day {
    Day(Day::today().0 - 1)
}

/// Outcome `k` of MTA `mta`: a round over the domains; every tenth round
/// a failure whose details name the MTA.
fn outcome(mta: usize, k: usize) -> Outcome {
    let d = domain(k % DOMAINS);
    let mut o = Outcome::new(PolicyType::Sts, &d, yesterday().start() + 3600);
    o.policy_strings = vec!["version: STSv1".into(), "mode: enforce".into()];
    o.mx_hosts = vec![format!("mx.{d}")];
    o.receiving_mx_hostname = format!("mx.{d}");
    if (k / DOMAINS).is_multiple_of(10) {
        let mut f = Failure::new(ResultType::CertificateExpired);
        f.sending_mta_ip = format!("192.0.2.{}", mta % 250);
        f.receiving_ip = "198.51.100.25".into();
        o.result = SessionResult::Failure(f);
    }
    o
}

/// Expected (successful, failed) per domain for `mtas` MTAs of `n`
/// outcomes each.
fn expected(mtas: usize, n: usize) -> Vec<(u64, u64)> {
    let mut v = vec![(0u64, 0u64); DOMAINS];
    for m in 0..mtas {
        for k in 0..n {
            let o = outcome(m, k);
            let e = &mut v[k % DOMAINS];
            match o.result {
                SessionResult::Success => e.0 += 1,
                SessionResult::Failure(_) => e.1 += 1,
            }
        }
    }
    v
}

fn spawn_child(role: &str, dir: &Path, url: &str, n: usize, mta: usize) -> Child {
    sts_test_support::child::mta(&format!("child_{role}"), role)
        .env("STS_REDIS_URL", url)
        .env("STS_TEST_DIR", dir)
        .env("STS_TEST_N", n.to_string())
        .env("STS_TEST_MTA", mta.to_string())
        .spawn()
        .unwrap()
}

fn wait_all(children: Vec<Child>) {
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "child failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

fn opts(dir: &Path, url: &str) -> ReportOptions {
    let mut o = ReportOptions::new(dir, "mta.fleet.example");
    o.redis_url = Some(sts_client::shared::RedisUrl::parse(url).unwrap());
    o.timeout = Duration::from_secs(5);
    o
}

/// (successful, failed) per domain of printed reports.
fn sums(reports: &[String]) -> Vec<(String, u64, u64)> {
    reports
        .iter()
        .map(|r| {
            let v: Value = serde_json::from_str(r).unwrap();
            let mut s = (0, 0);
            let mut name = String::new();
            for p in v["policies"].as_array().unwrap() {
                name = p["policy"]["policy-domain"].as_str().unwrap().to_owned();
                s.0 += p["summary"]["total-successful-session-count"]
                    .as_u64()
                    .unwrap();
                s.1 += p["summary"]["total-failure-session-count"]
                    .as_u64()
                    .unwrap();
            }
            (name, s.0, s.1)
        })
        .collect()
}

fn assert_sums(reports: &[String], want: &[(u64, u64)]) {
    let got = sums(reports);
    assert_eq!(got.len(), DOMAINS, "one report per domain");
    for (i, (s, f)) in want.iter().enumerate() {
        assert_eq!(got[i], (domain(i), *s, *f), "domain {i}");
    }
}

const MTAS: usize = 50;
const OUTCOMES: usize = 1000;

/// RFC 8460 §4: one report per policy domain and day; for a fleet, its
/// counts are the sums over every MTA, and two senders send it once.
#[test]
fn rfc8460_4_fleet_one_report_per_domain_exact_sums() {
    if std::env::var_os("STS_TEST_CHILD").is_some() {
        return;
    }
    let dir = TempDir::new("fleet-sum");
    let redis = RedisServer::start(dir.path());
    let url = redis.url();
    let t0 = Instant::now();
    let children = (0..MTAS)
        .map(|m| {
            spawn_child(
                "record",
                &dir.path().join(format!("mta{m}")),
                &url,
                OUTCOMES,
                m,
            )
        })
        .collect();
    wait_all(children);
    eprintln!(
        "fleet: {MTAS} MTAs x {OUTCOMES} outcomes recorded in {:?}",
        t0.elapsed()
    );
    let want = expected(MTAS, OUTCOMES);
    // Any host prints the fleet's reports, including one that recorded
    // nothing itself.
    let host = dir.path().join("sender-a");
    let reports = print_reports(&opts(&host, &url), yesterday()).unwrap();
    assert_sums(&reports, &want);
    // 50 sending IPs, each a failure-details group.
    let v: Value = serde_json::from_str(&reports[0]).unwrap();
    assert_eq!(
        v["policies"][0]["failure-details"]
            .as_array()
            .unwrap()
            .len(),
        MTAS
    );

    // Two senders at once: one report per domain in all.
    let sink = SmtpSink::start();
    let resolver = MapResolver::default();
    for i in 0..DOMAINS {
        resolver.set(
            &format!("_smtp._tls.{}", domain(i)),
            &["v=TLSRPTv1; rua=mailto:tlsrpt@fleet.example"],
        );
    }
    let results: Vec<Result<sts_report::SendSummary, ReportError>> = std::thread::scope(|s| {
        let hs: Vec<_> = ["sender-a", "sender-b"]
            .iter()
            .map(|h| {
                let mut o = opts(&dir.path().join(h), &url);
                o.smtp = plain_smtp(sink.addr);
                let resolver = &resolver;
                s.spawn(move || send_with_resolver(&o, resolver, Some(yesterday()), false))
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for r in &results {
        assert!(matches!(r, Ok(_) | Err(ReportError::Busy)), "{r:?}");
    }
    assert!(results.iter().any(Result::is_ok));
    assert_eq!(sink.count(), DOMAINS, "one report per domain for the fleet");
    // A later run on either host sends nothing more.
    for h in ["sender-a", "sender-b"] {
        let mut o = opts(&dir.path().join(h), &url);
        o.smtp = plain_smtp(sink.addr);
        send_with_resolver(&o, &resolver, Some(yesterday()), false).unwrap();
    }
    assert_eq!(sink.count(), DOMAINS, "the sent marker holds");
    // Every key expires.
    let keys = redis.keys_with_ttl();
    assert!(!keys.is_empty());
    for (k, ttl) in &keys {
        assert!(*ttl > 0, "{k} has no TTL ({ttl})");
    }
}

/// Redis stops answering while the MTAs record: the outcomes go to the
/// local pending store, are merged once when Redis answers again, and the
/// totals are exact (an outcome whose command timed out but was applied
/// later is not counted twice).
#[test]
fn fleet_redis_down_while_recording_counts_exact() {
    if std::env::var_os("STS_TEST_CHILD").is_some() {
        return;
    }
    const N: usize = 600;
    const M: usize = 8;
    let dir = TempDir::new("fleet-down");
    let redis = RedisServer::start(dir.path());
    let url = redis.url();
    let dirs: Vec<PathBuf> = (0..M).map(|m| dir.path().join(format!("mta{m}"))).collect();
    let children = (0..M)
        .map(|m| spawn_child("record_slowly", &dirs[m], &url, N, m))
        .collect();
    std::thread::sleep(Duration::from_millis(400));
    redis.signal("-STOP");
    std::thread::sleep(Duration::from_millis(1200));
    redis.signal("-CONT");
    wait_all(children);
    let pending = dirs
        .iter()
        .filter(|d| {
            std::fs::read_dir(d.join("fleet-pending")).is_ok_and(|mut rd| rd.next().is_some())
        })
        .count();
    assert!(
        pending > 0,
        "some outcomes were recorded while Redis was away"
    );
    // The next delivery process on each MTA records one more outcome and
    // merges what was left behind.
    let children = (0..M)
        .map(|m| spawn_child("record", &dirs[m], &url, 1, m))
        .collect();
    wait_all(children);
    let mut want = expected(M, N);
    for (i, (s, f)) in expected(M, 1).into_iter().enumerate() {
        want[i].0 += s;
        want[i].1 += f;
    }
    let reports = print_reports(&opts(&dir.path().join("sender"), &url), yesterday()).unwrap();
    assert_sums(&reports, &want);
}

/// Records STS_TEST_N outcomes of MTA STS_TEST_MTA with one recorder.
fn record_n(pause: Duration) {
    let dir = PathBuf::from(std::env::var("STS_TEST_DIR").unwrap());
    let n: usize = std::env::var("STS_TEST_N").unwrap().parse().unwrap();
    let mta: usize = std::env::var("STS_TEST_MTA").unwrap().parse().unwrap();
    let rec = Recorder::open(&dir).unwrap();
    for k in 0..n {
        rec.record(&outcome(mta, k)).unwrap();
        std::thread::sleep(pause);
    }
    println!("CHILD recorded={n}");
}

#[test]
fn child_record() {
    if std::env::var("STS_TEST_CHILD").as_deref() != Ok("record") {
        return;
    }
    record_n(Duration::ZERO);
}

#[test]
fn child_record_slowly() {
    if std::env::var("STS_TEST_CHILD").as_deref() != Ok("record_slowly") {
        return;
    }
    record_n(Duration::from_millis(3));
}

/// Plain SMTP to the test sink (`smtp://IP:PORT`).
fn plain_smtp(addr: std::net::SocketAddr) -> sts_report::MailTransport {
    sts_report::MailTransport::Smtp {
        security: sts_report::Security::Plain,
        host: addr.ip().to_string(),
        port: addr.port(),
        user: None,
    }
}
