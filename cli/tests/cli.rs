//! The `sts` command against loopback DNS and HTTPS servers.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use sts_test_support::{policy_text, tempdir, DnsAnswer, Loopback};

fn sts(args: &[&str], envs: &[(&str, String)]) -> Output {
    // STS_TEST_WRAPPER="/usr/bin/time -v" runs the command under a wrapper
    // (for measurements) and shows its stderr.
    let wrapper = std::env::var("STS_TEST_WRAPPER").unwrap_or_default();
    let mut words = wrapper.split_whitespace();
    let mut cmd = match words.next() {
        Some(w) => {
            let mut c = Command::new(w);
            c.args(words).arg(env!("CARGO_BIN_EXE_sts"));
            c
        }
        None => Command::new(env!("CARGO_BIN_EXE_sts")),
    };
    cmd.args(args);
    sts_test_support::child::without_sts_settings(&mut cmd);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    if !wrapper.is_empty() {
        eprintln!("{args:?}\n{}", String::from_utf8_lossy(&out.stderr));
    }
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn lint_reports_rule_line_and_column() {
    let dir = tempdir("cli-lint");
    let good = dir.join("good.txt");
    std::fs::write(&good, policy_text("enforce", &["mx.example.com"], 86_400)).unwrap();
    let o = sts(&["lint", good.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert!(stdout(&o).contains("valid"));

    let bad = dir.join("bad.txt");
    std::fs::write(
        &bad,
        "version: STSv1\nmode: enforce\nmx: mx.example.com\nmode: x\nmax_age: abc\n",
    )
    .unwrap();
    let o = sts(&["lint", bad.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let out = stdout(&o);
    assert!(out.contains(":5:"), "{out}");
    assert!(out.contains("BadMaxAge"), "{out}");

    let o = sts(&["lint", dir.join("missing.txt").to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(1));
}

type Setup = Loopback;

fn setup(tag: &str) -> (Setup, std::path::PathBuf) {
    let l = Loopback::start(tag, &["cli.test"]);
    l.publish(
        "cli.test",
        "cli1",
        &policy_text("enforce", &["mx.cli.test"], 86_400),
    );
    // The policy host's address, known only to the test DNS server.
    l.dns.set(
        "mta-sts.cli.test",
        DnsAnswer::Records(vec![hickory_proto::rr::RData::A(
            hickory_proto::rr::rdata::A(std::net::Ipv4Addr::LOCALHOST),
        )]),
    );
    let dir = l.dir.clone();
    (l, dir)
}

fn flags(s: &Setup, cache: &Path) -> Vec<String> {
    vec![
        "--dns-server".into(),
        s.dns.addr.to_string(),
        "--ca-file".into(),
        s.ca.pem_path.display().to_string(),
        "--https-port".into(),
        s.https.port.to_string(),
        "--cache".into(),
        cache.display().to_string(),
        "--connect".into(),
        "127.0.0.1".into(),
        "--timeout".into(),
        "2".into(),
    ]
}

#[test]
fn check_json_network_then_cache() {
    let (s, dir) = setup("cli-check");
    let cache = dir.join("cache");
    let mut args: Vec<String> = vec![
        "check".into(),
        "cli.test".into(),
        "--mx".into(),
        "mx.cli.test".into(),
        "--json".into(),
    ];
    args.extend(flags(&s, &cache));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = sts(&args, &[]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["domain"], "cli.test");
    assert_eq!(v["txt_id"], "cli1");
    assert_eq!(v["policy"]["mode"], "enforce");
    assert_eq!(v["policy"]["max_age"], 86_400);
    assert_eq!(v["policy"]["mx"][0], "mx.cli.test");
    assert_eq!(v["mx_host"], "mx.cli.test");
    assert_eq!(v["mx_permitted"], true);
    assert_eq!(v["source"], "network");
    assert_eq!(v["error"], Value::Null);
    // Dates for people, seconds for scripts.
    let expires = v["policy"]["expires"].as_str().unwrap();
    assert!(expires.ends_with('Z') && expires.len() == 20, "{expires}");

    let o = sts(&args, &[]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["source"], "cache");
    assert_eq!(s.https.requests(), 1);

    // An MX host that is not permitted: exit 1 and validation-failure.
    let mut bad = args.clone();
    bad[3] = "evil.test";
    let o = sts(&bad, &[]);
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["mx_permitted"], false);
    assert_eq!(v["tlsrpt_failure"], "validation-failure");
}

#[test]
fn check_reads_environment_and_verbose_traces() {
    let (s, dir) = setup("cli-env");
    let envs = [
        ("STS_DNS_SERVER", s.dns.addr.to_string()),
        ("STS_CA_FILE", s.ca.pem_path.display().to_string()),
        ("STS_HTTPS_PORT", s.https.port.to_string()),
        ("STS_CACHE", dir.join("cache").display().to_string()),
        ("STS_HTTPS_CONNECT", "127.0.0.1".to_owned()),
    ];
    let o = sts(&["-v", "check", "cli.test", "--mx", "mx.cli.test"], &envs);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("dns: TXT _mta-sts.cli.test"), "{err}");
    assert!(
        err.contains("https: GET https://mta-sts.cli.test:"),
        "{err}"
    );
    assert!(err.contains("-> 200"), "{err}");
    assert!(err.contains(" ms)"), "{err}");
    assert!(stdout(&o).contains("permitted"));
    let o = sts(&["-v", "check", "cli.test"], &envs);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("cache: hit"), "{err}");

    let o = sts(&["refresh"], &envs);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert!(stdout(&o).contains("checked 1"), "{}", stdout(&o));

    // A domain without a policy.
    let o = sts(&["check", "nothing.test", "--json"], &envs);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["policy"], Value::Null);
    assert_eq!(v["source"], "none");
    // Its "no policy" answer is remembered in the shared cache for the
    // negative TTL (RFC 2308 §5): the next process asks no DNS.
    let before = s.dns.queries();
    let o = sts(&["check", "nothing.test", "--json"], &envs);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["policy"], Value::Null);
    assert_eq!(v["source"], "cache");
    assert_eq!(s.dns.queries(), before);
}

#[test]
fn check_finds_the_policy_host_through_the_configured_dns_server() {
    // As the README tells a new user: DNS server, CA file and HTTPS port,
    // nothing else; the policy host's name is known only to that server.
    let (s, dir) = setup("cli-onedns");
    let envs = [
        ("STS_DNS_SERVER", s.dns.addr.to_string()),
        ("STS_CA_FILE", s.ca.pem_path.display().to_string()),
        ("STS_HTTPS_PORT", s.https.port.to_string()),
        ("STS_CACHE", dir.join("cache").display().to_string()),
    ];
    let o = sts(
        &["check", "cli.test", "--mx", "mx.cli.test", "--json"],
        &envs,
    );
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["source"], "network", "{v:#}");
    assert_eq!(v["policy"]["mode"], "enforce");
    assert_eq!(s.https.requests(), 1);
}
