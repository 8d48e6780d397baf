//! `sts report` runs the report store's commands (RFC 8460), with the
//! policy client's settings, against loopback DNS and HTTPS servers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use sts_test_support::{policy_text, txt1, Loopback};

#[test]
fn rfc8460_4_sts_report_record_then_print() {
    let dir = std::env::temp_dir().join(format!("sts-cli-report-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let sts = env!("CARGO_BIN_EXE_sts");
    let yesterday = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 86_400;
    for (result, count) in [("certificate-host-mismatch", "3"), ("success", "5")] {
        let st = record(&dir, "mx1.example.com", result)
            .args(["--count", count, "--at", &yesterday.to_string()])
            .status()
            .unwrap();
        assert!(st.success());
    }
    let out = Command::new(sts)
        .args(["report", "--dir"])
        .arg(&dir)
        .arg("print")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let summary = &v[0]["policies"][0]["summary"];
    assert_eq!(summary["total-successful-session-count"], 5);
    assert_eq!(summary["total-failure-session-count"], 3);
    assert_eq!(
        v[0]["policies"][0]["failure-details"][0]["result-type"],
        "certificate-host-mismatch"
    );
    let bad = record(&dir, "mx", "nonsense").status().unwrap();
    assert!(!bad.success());
    let _ = std::fs::remove_dir_all(&dir);
}

/// `sts report --dir DIR record` of one session with `mx` for example.com.
fn record(dir: &std::path::Path, mx: &str, result: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sts"));
    c.args(["report", "--dir"]).arg(dir).args([
        "record",
        "--domain",
        "example.com",
        "--mx",
        mx,
        "--policy-type",
        "sts",
        "--result",
        result,
    ]);
    c
}

/// `sts ARGS` with no `STS_*` variable from the test's environment, and
/// `envs` set.
fn sts(args: &[&str], envs: &[(&str, String)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sts"));
    cmd.args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("STS_") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn yesterday() -> String {
    (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 86_400)
        .to_string()
}

/// rpt.test publishes an enforce policy on a policy host known only to
/// the loopback servers; every other name is NXDOMAIN.
fn loopback(tag: &str) -> Loopback {
    let l = Loopback::start(tag, &["rpt.test"]);
    l.publish(
        "rpt.test",
        "rpt1",
        &policy_text("enforce", &["mx.rpt.test", "*.rpt.test"], 86_400),
    );
    l
}

/// The client settings as environment variables (the cache is what
/// places the default report store).
fn client_env(l: &Loopback, cache: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("STS_DNS_SERVER", l.dns.addr.to_string()),
        ("STS_CA_FILE", l.ca.pem_path.display().to_string()),
        ("STS_HTTPS_PORT", l.https.port.to_string()),
        ("STS_HTTPS_CONNECT", "127.0.0.1".into()),
        ("STS_CACHE", cache.display().to_string()),
    ]
}

fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn rfc8460_4_3_record_takes_the_policy_from_the_client() {
    let l = loopback("report-record");
    let cache = l.dir.join("mta-sts");
    let env = client_env(&l, &cache);
    let at = yesterday();
    let rec = |domain: &str, mx: &str, extra: &[&str]| {
        let mut args = vec![
            "report", "record", "--domain", domain, "--mx", mx, "--result", "success", "--at", &at,
        ];
        args.extend_from_slice(extra);
        sts(&args, &env)
    };
    // A domain with a policy: type, lines and MX patterns from the
    // client (fetched once, then from the cache).
    ok(&rec("rpt.test", "mx.rpt.test", &[]));
    ok(&rec("rpt.test", "mx.rpt.test", &["--count", "2"]));
    assert_eq!(l.https.requests(), 1);
    // A domain without one: no-policy-found (RFC 8460 §4.3).
    ok(&rec("none.test", "mx.none.test", &[]));
    // Given on the command line: no lookup at all.
    let queries = l.dns.queries();
    ok(&rec(
        "given.test",
        "mx.given.test",
        &["--policy-type", "tlsa", "--policy-string", "3 1 1 abcd"],
    ));
    assert_eq!(l.dns.queries(), queries);
    // No --dir and no STS_REPORT_DIR: the store is `tlsrpt` beside the
    // cache.
    assert!(l.dir.join("tlsrpt").join("outcomes").is_dir());
    let out = sts(&["report", "print"], &env);
    ok(&out);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let by_domain = |d: &str| -> Value {
        v.as_array()
            .unwrap()
            .iter()
            .find(|r| r["policies"][0]["policy"]["policy-domain"] == d)
            .unwrap_or_else(|| panic!("no report for {d}: {v}"))["policies"][0]
            .clone()
    };
    let rpt = by_domain("rpt.test");
    assert_eq!(rpt["policy"]["policy-type"], "sts");
    assert_eq!(
        rpt["policy"]["policy-string"],
        serde_json::json!([
            "version: STSv1",
            "mode: enforce",
            "mx: mx.rpt.test",
            "mx: *.rpt.test",
            "max_age: 86400"
        ])
    );
    assert_eq!(
        rpt["policy"]["mx-host"],
        serde_json::json!(["mx.rpt.test", "*.rpt.test"])
    );
    assert_eq!(rpt["summary"]["total-successful-session-count"], 3);
    let none = by_domain("none.test");
    assert_eq!(none["policy"]["policy-type"], "no-policy-found");
    assert!(none["policy"]["policy-string"].is_null(), "{none}");
    let given = by_domain("given.test");
    assert_eq!(given["policy"]["policy-type"], "tlsa");
    assert_eq!(
        given["policy"]["policy-string"],
        serde_json::json!(["3 1 1 abcd"])
    );
    // Neither a store nor a cache: a clear error, nothing recorded.
    let o = sts(
        &[
            "report", "record", "--domain", "x.test", "--mx", "m", "--result", "success",
        ],
        &[],
    );
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("STS_REPORT_DIR"));
    let _ = std::fs::remove_dir_all(&l.dir);
}

/// A stand-in sendmail recording its arguments and input in `dir`.
fn fake_sendmail(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("sendmail");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > '{d}/args'\ncat > '{d}/message'\n",
            d = dir.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn rfc8460_5_3_send_settings_from_the_environment() {
    let l = loopback("report-env");
    let store = l.dir.join("store");
    l.dns.set(
        "_smtp._tls.rpt.test",
        txt1("v=TLSRPTv1; rua=mailto:tlsrpt@rpt.test"),
    );
    let sendmail = fake_sendmail(&l.dir);
    let mut env = client_env(&l, &l.dir.join("mta-sts"));
    env.extend([
        ("STS_REPORT_DIR", store.display().to_string()),
        ("STS_REPORT_SUBMITTER", "mta.sender.test".into()),
        ("STS_REPORT_FROM", "reports@sender.test".into()),
        ("STS_REPORT_ORG", "Sender Org".into()),
        ("STS_REPORT_CONTACT", "tls-contact@sender.test".into()),
        (
            "STS_REPORT_SMTP",
            format!("sendmail:{}", sendmail.display()),
        ),
    ]);
    ok(&sts(
        &[
            "report",
            "record",
            "--domain",
            "rpt.test",
            "--mx",
            "mx.rpt.test",
            "--result",
            "starttls-not-supported",
            "--at",
            &yesterday(),
        ],
        &env,
    ));
    let out = sts(&["report", "print"], &env);
    ok(&out);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["organization-name"], "Sender Org");
    assert_eq!(v[0]["contact-info"], "tls-contact@sender.test");
    assert!(v[0]["report-id"]
        .as_str()
        .unwrap()
        .ends_with("@mta.sender.test"));
    ok(&sts(&["report", "send"], &env));
    let args = std::fs::read_to_string(l.dir.join("args")).unwrap();
    assert_eq!(
        args.lines().collect::<Vec<_>>(),
        ["-i", "-f", "reports@sender.test", "--", "tlsrpt@rpt.test"]
    );
    let message = std::fs::read_to_string(l.dir.join("message")).unwrap();
    assert!(message.contains("\r\nTLS-Report-Submitter: mta.sender.test\r\n"));
    assert!(message.contains("\r\nTLS-Report-Domain: rpt.test\r\n"));
    // A flag wins over its variable; a password never goes on the
    // command line.
    let o = sts(&["report", "--smtp", "lmtp://x", "send"], &env);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--smtp: not smtp://"));
    let o = sts(&["report", "--smtp-password", "x", "send"], &env);
    assert!(!o.status.success());
    // A password put in the URL by mistake is refused and not repeated.
    let o = sts(
        &["report", "--smtp", "smtps://u:Pa55w0rd@h.test", "send"],
        &env,
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("no password in the URL") && !err.contains("Pa55w0rd"),
        "{err}"
    );
    let mut env2 = env.clone();
    env2.push(("STS_REPORT_SMTP", "smtps://u:Pa55w0rd@h.test".into()));
    let o = sts(&["report", "send"], &env2);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("no password in the URL") && !err.contains("Pa55w0rd"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&l.dir);
}
