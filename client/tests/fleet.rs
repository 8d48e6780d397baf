//! A fleet of MTAs sharing one Redis: a real `redis-server` on a loopback
//! port, started and stopped by each test, and MTAs simulated by processes
//! (the test binary re-runs itself; with `STS_TEST_CHILD` set, only the
//! `child_*` test named on the command line does anything), each with its
//! own cache directory.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use sts_client::refresh::Rules;
use sts_client::{Client, ClientOptions, DaneStatus, DecisionMode};
use sts_test_support::redis::RedisServer;

const DOMAINS: usize = 20;

/// The fleets of the tests run one at a time: each runs up to 50
/// processes, and timeouts are part of what is tested.
static ONE_FLEET: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_fleet() -> std::sync::MutexGuard<'static, ()> {
    ONE_FLEET.lock().unwrap_or_else(|p| p.into_inner())
}

fn domain(i: usize) -> String {
    format!("d{i:02}.fleet.test")
}

fn policy(generation: u32) -> String {
    let mx: Vec<String> = (0..=generation)
        .map(|g| format!("mx{g}.fleet.test"))
        .collect();
    let mx: Vec<&str> = mx.iter().map(String::as_str).collect();
    policy_text("enforce", &mx, 86_400)
}

/// The loopback DNS and HTTPS servers of the fleet's 20 domains.
struct Fleet {
    dir: PathBuf,
    ca: TestCa,
    dns: DnsServer,
    https: HttpsServer,
}

impl Fleet {
    fn new(tag: &str) -> Fleet {
        let domains: Vec<String> = (0..DOMAINS).map(domain).collect();
        let domains: Vec<&str> = domains.iter().map(String::as_str).collect();
        let Loopback {
            dns,
            https,
            ca,
            dir,
        } = Loopback::start(tag, &domains);
        let f = Fleet {
            dir,
            ca,
            dns,
            https,
        };
        for i in 0..DOMAINS {
            f.publish(i, 0);
        }
        f
    }

    fn publish(&self, i: usize, generation: u32) {
        let d = domain(i);
        // The file first, then the id that announces it.
        self.https
            .set(&format!("mta-sts.{d}"), policy_reply(&policy(generation)));
        self.dns.set(
            &format!("_mta-sts.{d}"),
            txt1(&format!("v=STSv1; id=g{generation};")),
        );
    }

    fn envs(&self, mta: usize, redis: Option<&str>) -> Vec<(&'static str, String)> {
        let mut v = vec![
            ("STS_DNS_SERVER", self.dns.addr.to_string()),
            ("STS_CA_FILE", self.ca.pem_path.display().to_string()),
            ("STS_HTTPS_PORT", self.https.port.to_string()),
            (
                "STS_CACHE",
                self.dir.join(format!("mta{mta}")).display().to_string(),
            ),
            ("STS_HTTPS_CONNECT", "127.0.0.1".to_owned()),
        ];
        if let Some(u) = redis {
            v.push(("STS_REDIS_URL", u.to_owned()));
        }
        v
    }

    /// Runs `mtas` child processes of `role` and returns their reports.
    fn run(
        &self,
        mtas: usize,
        role: &str,
        redis: Option<&str>,
        extra: &[(&str, String)],
    ) -> Vec<ChildReport> {
        let children: Vec<Child> = (0..mtas)
            .map(|m| {
                let mut envs = self.envs(m, redis);
                envs.extend(extra.iter().map(|(k, v)| (*k, v.clone())));
                spawn_child(role, &envs)
            })
            .collect();
        children
            .into_iter()
            .map(|c| ChildReport::parse(&c.wait_with_output().unwrap()))
            .collect()
    }
}

fn spawn_child(role: &str, envs: &[(&str, String)]) -> Child {
    sts_test_support::child::mta(&format!("child_{role}"), role)
        .envs(envs.iter().map(|(k, v)| (k, v)))
        .spawn()
        .unwrap()
}

/// What a child MTA printed: `CHILD key=value ...`.
struct ChildReport {
    answers: u64,
    failed: u64,
    max_us: u64,
    round_trips: u64,
    fetched: u64,
}

impl ChildReport {
    fn parse(out: &Output) -> ChildReport {
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "child failed: {stdout}");
        let line = stdout
            .lines()
            .find(|l| l.starts_with("CHILD "))
            .unwrap_or_else(|| panic!("no report: {stdout}"));
        let get = |k: &str| -> u64 {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(k).and_then(|w| w.strip_prefix('=')))
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("{k} missing in {line}"))
        };
        ChildReport {
            answers: get("answers"),
            failed: get("failed"),
            max_us: get("max_us"),
            round_trips: get("round_trips"),
            fetched: get("fetched"),
        }
    }
}

fn sum(r: &[ChildReport], f: impl Fn(&ChildReport) -> u64) -> u64 {
    r.iter().map(f).sum()
}

const MTAS: usize = 50;
const DECISIONS: usize = 200;

/// RFC 8461 §3.3 (a policy is fetched when the TXT id is new) across a
/// fleet: 50 MTAs with their own caches fetch each of the 20 policies
/// once, and each of 5 changed policies once more.
#[test]
fn rfc8461_3_3_fleet_fetches_each_policy_once() {
    if std::env::var_os("STS_TEST_CHILD").is_some() {
        return;
    }
    let _one = one_fleet();
    let fleet = Fleet::new("fleet-once");
    let redis = RedisServer::start(&fleet.dir);
    let url = redis.url();
    let t0 = Instant::now();
    let r = fleet.run(MTAS, "decide", Some(&url), &[]);
    let took = t0.elapsed();
    assert_eq!(sum(&r, |c| c.answers), (MTAS * DECISIONS) as u64);
    assert_eq!(sum(&r, |c| c.failed), 0);
    assert_eq!(
        fleet.https.requests(),
        DOMAINS,
        "one fetch per domain for the whole fleet"
    );
    assert_eq!(sum(&r, |c| c.fetched), DOMAINS as u64);
    eprintln!(
        "fleet: {MTAS} MTAs x {DECISIONS} decisions (TXT checked every time) in {took:?}: {} fetches, {:.2} redis round trips per decision",
        fleet.https.requests(),
        sum(&r, |c| c.round_trips) as f64 / (MTAS * DECISIONS) as f64
    );

    // A policy fetched in the same second as the old one would rank
    // equal in the shared cache; real refreshes are far apart.
    std::thread::sleep(Duration::from_millis(1100));
    for i in 0..5 {
        fleet.publish(i, 1);
    }
    let r = fleet.run(MTAS, "decide", Some(&url), &[]);
    assert_eq!(sum(&r, |c| c.failed), 0);
    assert_eq!(
        fleet.https.requests(),
        DOMAINS + 5,
        "one more fetch per changed domain"
    );

    // Every key the fleet wrote expires.
    let keys = redis.keys_with_ttl();
    assert!(keys.len() >= DOMAINS, "{keys:?}");
    for (k, ttl) in &keys {
        assert!(*ttl > 0, "{k} has no TTL ({ttl})");
    }
    let policies = keys
        .iter()
        .filter(|(k, _)| k.starts_with("sts:v1:policy:"))
        .count();
    assert_eq!(policies, DOMAINS);
}

/// The same fleet without the shared backend: every MTA fetches every
/// policy (the figure the shared backend is measured against).
#[test]
fn fleet_without_redis_fetches_per_mta() {
    if std::env::var_os("STS_TEST_CHILD").is_some() {
        return;
    }
    let _one = one_fleet();
    let fleet = Fleet::new("fleet-alone");
    let r = fleet.run(
        MTAS,
        "decide",
        None,
        &[("STS_TEST_DECISIONS", "40".to_owned())],
    );
    assert_eq!(sum(&r, |c| c.failed), 0);
    assert_eq!(fleet.https.requests(), MTAS * DOMAINS);
    eprintln!(
        "fleet without redis: {MTAS} MTAs, {} fetches",
        fleet.https.requests()
    );
}

/// Redis killed while the MTAs decide: no decision fails or waits longer
/// than the Redis timeout plus one DNS answer; restarted (empty), the
/// shared entries are written again.
#[test]
fn redis_killed_mid_run_then_resumes() {
    if std::env::var_os("STS_TEST_CHILD").is_some() {
        return;
    }
    let _one = one_fleet();
    let fleet = Fleet::new("fleet-kill");
    let mut redis = RedisServer::start(&fleet.dir);
    let url = redis.url();
    let children: Vec<Child> = (0..10)
        .map(|m| spawn_child("steady", &fleet.envs(m, Some(&url))))
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    redis.kill();
    std::thread::sleep(Duration::from_millis(1500));
    redis.restart();
    let r: Vec<ChildReport> = children
        .into_iter()
        .map(|c| ChildReport::parse(&c.wait_with_output().unwrap()))
        .collect();
    assert_eq!(sum(&r, |c| c.failed), 0, "every decision had the policy");
    let worst = r.iter().map(|c| c.max_us).max().unwrap();
    let bound = (STEADY_REDIS_TIMEOUT + STEADY_DNS_TIMEOUT).as_micros() as u64;
    assert!(
        worst < bound,
        "a decision took {worst} us (bound {bound} us)"
    );
    assert_eq!(
        fleet.https.requests(),
        DOMAINS,
        "no refetch because Redis went away"
    );
    // The restarted Redis holds every domain again, with a TTL.
    let keys = redis.keys_with_ttl();
    let policies = keys
        .iter()
        .filter(|(k, _)| k.starts_with("sts:v1:policy:"))
        .count();
    assert_eq!(policies, DOMAINS, "shared state resumed: {keys:?}");
    assert!(keys.iter().all(|(_, ttl)| *ttl > 0));
    eprintln!("redis killed and restarted: worst decision {worst} us");
}

const STEADY_REDIS_TIMEOUT: Duration = Duration::from_millis(250);
const STEADY_DNS_TIMEOUT: Duration = Duration::from_millis(1000);

fn child_client(rules: Rules) -> Client {
    let mut c = Client::new(ClientOptions {
        dns_timeout: STEADY_DNS_TIMEOUT,
        dns_attempts: 1,
        https_total_timeout: Duration::from_secs(10),
        redis_timeout: STEADY_REDIS_TIMEOUT,
        redis_retry_after: Duration::from_millis(500),
        rules,
        ..ClientOptions::default()
    })
    .unwrap();
    if std::env::var_os("STS_TEST_TRACE").is_some() {
        let pid = std::process::id();
        c.set_trace(std::sync::Arc::new(move |l: &str| eprintln!("[{pid}] {l}")));
    }
    c
}

/// Decides `n` times round the 20 domains; prints the report line.
fn decide_loop(c: &Client, n: usize, pause: Duration) {
    let (mut failed, mut fetched, mut max_us) = (0u64, 0u64, 0u64);
    for k in 0..n {
        let d = domain(k % DOMAINS);
        let t0 = Instant::now();
        let dec = c.decide(&d, "mx0.fleet.test", DaneStatus::NotUsable);
        max_us = max_us.max(t0.elapsed().as_micros() as u64);
        if dec.mode != DecisionMode::Enforce || !dec.mx_permitted {
            eprintln!("failed decision: {dec:?}");
            failed += 1;
        }
        if dec.source == sts_client::Source::Network {
            fetched += 1;
        }
        std::thread::sleep(pause);
    }
    let trips = c.shared().backend().map_or(0, |b| b.round_trips());
    println!(
        "CHILD answers={n} failed={failed} fetched={fetched} max_us={max_us} round_trips={trips}"
    );
}

#[test]
fn child_decide() {
    if std::env::var("STS_TEST_CHILD").as_deref() != Ok("decide") {
        return;
    }
    let n = std::env::var("STS_TEST_DECISIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DECISIONS);
    // The TXT record is checked for every decision, so every decision
    // also consults the shared cache: the most Redis traffic there is.
    let c = child_client(Rules {
        txt_recheck: 0,
        ..Rules::default()
    });
    decide_loop(&c, n, Duration::ZERO);
}

#[test]
fn child_steady() {
    if std::env::var("STS_TEST_CHILD").as_deref() != Ok("steady") {
        return;
    }
    // TXT re-checked every second: the confirmations rewrite the shared
    // entries, which is how a restarted Redis fills again.
    let c = child_client(Rules {
        txt_recheck: 1,
        ..Rules::default()
    });
    decide_loop(&c, 500, Duration::from_millis(10));
}

/// `rediss://` with a password: TLS through rustls to a `redis-server`
/// with `--tls-port` and `requirepass`; the shared cache works, a wrong
/// password only costs the shared level, and the password appears in no
/// trace line, error or `Debug` output.
#[test]
fn rediss_with_password_never_shown() {
    if std::env::var_os("STS_TEST_CHILD").is_some() {
        return;
    }
    let _one = one_fleet();
    let fleet = Fleet::new("fleet-tls");
    let der_to_pem = |kind: &str, der: &[u8], name: &str| -> PathBuf {
        let der_path = fleet.dir.join(format!("{name}.der"));
        let pem_path = fleet.dir.join(format!("{name}.pem"));
        std::fs::write(&der_path, der).unwrap();
        let ok = Command::new("openssl")
            .args([kind, "-inform", "der", "-in"])
            .arg(&der_path)
            .arg("-out")
            .arg(&pem_path)
            .status()
            .expect("openssl must be installed")
            .success();
        assert!(ok);
        pem_path
    };
    let leaf = fleet.ca.leaf(&["127.0.0.1"], Validity::Current);
    let cert = der_to_pem("x509", leaf.chain[0].as_ref(), "redis-cert");
    let key = der_to_pem("pkey", leaf.key.secret_der(), "redis-key");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = Command::new("redis-server")
        .args(["--bind", "127.0.0.1", "--port", "0"])
        .args(["--tls-port", &port.to_string()])
        .arg("--tls-cert-file")
        .arg(&cert)
        .arg("--tls-key-file")
        .arg(&key)
        .arg("--tls-ca-cert-file")
        .arg(&fleet.ca.pem_path)
        .args([
            "--tls-auth-clients",
            "no",
            "--requirepass",
            "s3cret-fleet-pw",
        ])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(&fleet.dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Stopped even when an assertion below fails.
    let _server = KillOnDrop(server);
    let t0 = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "redis-server did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let run = |password: &str, expect: &str, mta: usize| -> String {
        let url = format!("rediss://:{password}@127.0.0.1:{port}");
        let mut envs = fleet.envs(mta, Some(&url));
        // The Redis client trusts the system's roots: SSL_CERT_FILE is
        // how rustls-native-certs is pointed at the test CA.
        envs.push(("SSL_CERT_FILE", fleet.ca.pem_path.display().to_string()));
        envs.push(("STS_TEST_EXPECT", expect.to_owned()));
        let out = spawn_child("tls", &envs).wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{stdout}");
        stdout
    };
    let good = run("s3cret-fleet-pw", "shared", 0);
    assert!(good.contains("SHARED d00.fleet.test present"), "{good}");
    // Its own cache directory: the policy is not in it yet.
    let bad = run("wrong-fleet-pw", "local", 1);
    assert!(bad.contains("redis: "), "the failure is traced: {bad}");
    for out in [&good, &bad] {
        assert!(
            !out.contains("s3cret-fleet-pw") && !out.contains("wrong-fleet-pw"),
            "{out}"
        );
        assert!(out.contains("***@127.0.0.1"), "{out}");
    }
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn child_tls() {
    if std::env::var("STS_TEST_CHILD").as_deref() != Ok("tls") {
        return;
    }
    let mut c = child_client(Rules::default());
    c.set_trace(std::sync::Arc::new(|l: &str| println!("TRACE {l}")));
    println!("OPTIONS {:?}", c.options());
    let d = c.decide(&domain(0), "mx0.fleet.test", DaneStatus::NotUsable);
    assert_eq!(d.mode, DecisionMode::Enforce, "{d:?}");
    let b = c.shared().backend().unwrap();
    println!("URL {}", b.url());
    match b.get_entry(&domain(0)) {
        Ok(Some(_)) => println!("SHARED {} present", domain(0)),
        Ok(None) => println!("SHARED {} absent", domain(0)),
        Err(e) => println!("SHARED error {e}"),
    }
    if std::env::var("STS_TEST_EXPECT").as_deref() == Ok("local") {
        // The shared level failed; the decision above came from the
        // network and the local cache alone.
        assert!(b.get_entry(&domain(0)).is_err());
    }
}
