//! `sts --config FILE`: the Exim module's settings file drives `check`
//! and `report` against loopback DNS and HTTPS servers.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use sts_test_support::{
    policy_reply, policy_text, tempdir, txt1, DnsServer, HttpsServer, TestCa, Validity,
};

fn sts(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sts"));
    cmd.args(args);
    sts_test_support::child::without_sts_settings(&mut cmd);
    cmd.output().unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn check_and_report_use_the_exim_settings_file() {
    let dir = tempdir("cli-config");
    let ca = TestCa::new(&dir);
    let https = HttpsServer::start(ca.leaf(&["mta-sts.cfg.test"], Validity::Current));
    let dns = DnsServer::start();
    dns.set("_mta-sts.cfg.test", txt1("v=STSv1; id=cfg1;"));
    https.set(
        "mta-sts.cfg.test",
        policy_reply(&policy_text("enforce", &["mx.cfg.test"], 86_400)),
    );
    let cache = dir.join("cache");
    let reports = dir.join("tlsrpt");
    let conf = dir.join("sts-exim.conf");
    std::fs::write(
        &conf,
        format!(
            "# as the Exim module reads it\ncache_dir = {}\nreport_dir = {}\ndns_server = {}\n\
             ca_file = {}\nhttps_port = {}\nhttps_connect = 127.0.0.1\ndns_timeout_ms = 1000\n\
             https_timeout_ms = 2000\ntxt_recheck_s = 0\nreport_sync = no\n",
            s(&cache),
            s(&reports),
            dns.addr,
            s(&ca.pem_path),
            https.port
        ),
    )
    .unwrap();

    // Every setting comes from the file: resolver, roots, port, address,
    // cache directory.
    let o = sts(&[
        "--config",
        s(&conf),
        "check",
        "cfg.test",
        "--mx",
        "mx.cfg.test",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["policy"]["mode"], "enforce", "{v}");
    assert_eq!(v["source"], "network");
    assert!(cache.join("cfg.test").is_file(), "no entry in cache_dir");

    // txt_recheck_s = 0: the next check asks DNS again but uses the cache.
    let q = dns.queries();
    let o = sts(&["--config", s(&conf), "check", "cfg.test", "--json"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["source"], "cache", "{v}");
    assert!(dns.queries() > q, "txt_recheck_s = 0 was not applied");
    assert_eq!(https.requests(), 1);

    // A flag on the command line wins over the file.
    let other = dir.join("other-cache");
    let o = sts(&[
        "--config",
        s(&conf),
        "--cache",
        s(&other),
        "check",
        "cfg.test",
    ]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert!(other.join("cfg.test").is_file());

    // `sts report` gets the store from report_dir.
    let o = sts(&[
        "--config",
        s(&conf),
        "report",
        "record",
        "--domain",
        "cfg.test",
        "--mx",
        "mx.cfg.test",
        "--result",
        "success",
    ]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert!(reports.join("outcomes").is_dir(), "nothing in report_dir");

    // A bad line is an error naming the file and the line.
    let bad = dir.join("bad.conf");
    std::fs::write(&bad, "cache_dir = /x\nhttps_port = 99999\n").unwrap();
    let o = sts(&["--config", s(&bad), "check", "cfg.test"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.conf line 2"), "{err}");
}
