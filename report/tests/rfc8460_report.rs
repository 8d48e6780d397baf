//! RFC 8460 §4: the aggregate report, checked against the JSON Schema in
//! `tests/tlsrpt.schema.json` (validated by Python's `jsonschema`) and by
//! reading the counts back.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{validate_reports, TempDir};
use serde_json::Value;
use sts_report::aggregate::{render, DomainReport, ReportMeta};
use sts_report::{
    print_reports, record, Day, Failure, Outcome, PolicyType, Recorded, ReportOptions, ResultType,
    SessionResult,
};

fn day() -> Day {
    "2026-11-04".parse().unwrap()
}

fn sts_outcome(domain: &str, at: u64) -> Outcome {
    let mut o = Outcome::new(PolicyType::Sts, domain, at);
    o.policy_strings = vec![
        "version: STSv1".into(),
        "mode: enforce".into(),
        "mx: *.mail.example.com".into(),
        "max_age: 86400".into(),
    ];
    o.mx_hosts = vec!["*.mail.example.com".into()];
    o.receiving_mx_hostname = "mx1.mail.example.com".into();
    o
}

fn failure(result_type: ResultType) -> Failure {
    let mut f = Failure::new(result_type);
    f.sending_mta_ip = "192.0.2.10".into();
    f.receiving_ip = "2001:db8::25".into();
    f.receiving_mx_helo = "mx1.mail.example.com".into();
    f.additional_information = "https://mail.example.com/tlsrpt/help".into();
    f.failure_reason_code = "X509_V_ERR_CERT_HAS_EXPIRED".into();
    f
}

fn opts(dir: &std::path::Path) -> ReportOptions {
    let mut o = ReportOptions::new(dir, "mta.sender.example");
    o.organization_name = "Sender Example Inc.".into();
    o.contact_info = "tlsrpt@sender.example".into();
    o
}

fn parse(json: &str) -> Value {
    serde_json::from_str(json).unwrap()
}

#[test]
fn rfc8460_4_schema_every_result_type() {
    let dir = TempDir::new("schema");
    let at = day().start() + 3600;
    for (i, t) in ResultType::ALL.iter().enumerate() {
        let policy_type = match t {
            ResultType::TlsaInvalid | ResultType::DnssecInvalid | ResultType::DaneRequired => {
                PolicyType::Tlsa
            }
            _ => PolicyType::Sts,
        };
        let mut o = sts_outcome(&format!("d{i}.example"), at + i as u64);
        o.policy_type = policy_type;
        if policy_type == PolicyType::Tlsa {
            o.policy_strings = vec!["3 1 1 0123456789abcdef".into()];
            o.mx_hosts.clear();
        }
        o.result = SessionResult::Failure(failure(*t));
        o.count = 2;
        assert_eq!(record(dir.path(), &o).unwrap(), Recorded::Stored);
        let mut ok = o.clone();
        ok.result = SessionResult::Success;
        ok.count = 5;
        record(dir.path(), &ok).unwrap();
    }
    // A no-policy-found domain with only the required failure fields.
    let mut none = Outcome::new(PolicyType::NoPolicyFound, "plain.example", at);
    none.result = SessionResult::Failure(Failure::new(ResultType::StarttlsNotSupported));
    record(dir.path(), &none).unwrap();

    let reports = print_reports(&opts(dir.path()), day()).unwrap();
    assert_eq!(reports.len(), ResultType::ALL.len() + 1);
    validate_reports(dir.path(), &reports);

    let mut seen = Vec::new();
    let mut ids = std::collections::HashSet::new();
    for r in &reports {
        let v = parse(r);
        assert_eq!(v["organization-name"], "Sender Example Inc.");
        assert_eq!(v["contact-info"], "tlsrpt@sender.example");
        assert_eq!(v["date-range"]["start-datetime"], "2026-11-04T00:00:00Z");
        assert_eq!(v["date-range"]["end-datetime"], "2026-11-04T23:59:59Z");
        assert!(ids.insert(v["report-id"].as_str().unwrap().to_owned()));
        let p = &v["policies"][0];
        if p["policy"]["policy-type"] == "no-policy-found" {
            assert!(p["policy"].get("policy-string").is_none());
            assert_eq!(p["summary"]["total-failure-session-count"], 1);
            assert_eq!(
                p["failure-details"][0],
                serde_json::json!({"result-type": "starttls-not-supported", "failed-session-count": 1})
            );
            continue;
        }
        assert_eq!(p["summary"]["total-successful-session-count"], 5);
        assert_eq!(p["summary"]["total-failure-session-count"], 2);
        let f = &p["failure-details"][0];
        assert_eq!(f["failed-session-count"], 2);
        assert_eq!(f["receiving-mx-hostname"], "mx1.mail.example.com");
        assert_eq!(f["sending-mta-ip"], "192.0.2.10");
        assert_eq!(f["receiving-ip"], "2001:db8::25");
        seen.push(f["result-type"].as_str().unwrap().to_owned());
    }
    seen.sort();
    let mut all: Vec<String> = ResultType::ALL
        .iter()
        .map(|t| t.as_str().to_owned())
        .collect();
    all.sort();
    assert_eq!(seen, all);
}

#[test]
fn rfc8460_4_empty_day() {
    let dir = TempDir::new("empty");
    // Nothing recorded: no report at all for the day.
    assert!(print_reports(&opts(dir.path()), day()).unwrap().is_empty());
    // A report with no sessions is still a valid document.
    let json = render(
        &ReportMeta {
            organization_name: "Sender Example Inc.",
            contact_info: "tlsrpt@sender.example",
            report_id: "0123abcd@mta.sender.example",
            day: day(),
        },
        "example.com",
        &DomainReport::default(),
    )
    .unwrap();
    assert_eq!(parse(&json)["policies"], serde_json::json!([]));
    validate_reports(dir.path(), &[json]);
}

#[test]
fn rfc8460_4_4_failure_details_grouped() {
    let dir = TempDir::new("group");
    let at = day().start() + 7200;
    let mut a = sts_outcome("example.com", at);
    a.result = SessionResult::Failure(failure(ResultType::CertificateExpired));
    a.count = 3;
    record(dir.path(), &a).unwrap();
    // Same group: counts add up.
    a.count = 4;
    record(dir.path(), &a).unwrap();
    // Another HELO name: another group.
    let mut b = a.clone();
    if let SessionResult::Failure(f) = &mut b.result {
        f.receiving_mx_helo = "other.mail.example.com".into();
    }
    b.count = 1;
    record(dir.path(), &b).unwrap();
    // Another MX host name: another group.
    let mut c = a.clone();
    c.receiving_mx_hostname = "mx2.mail.example.com".into();
    c.count = 10;
    record(dir.path(), &c).unwrap();
    // Successes of the same policy, and of a changed policy (new entry).
    let mut s = sts_outcome("EXAMPLE.com.", at);
    s.count = 100;
    record(dir.path(), &s).unwrap();
    let mut s2 = sts_outcome("example.com", at);
    s2.policy_strings[1] = "mode: testing".into();
    record(dir.path(), &s2).unwrap();
    // Another day: not in this report.
    let mut late = s.clone();
    late.at = day().end() + 1;
    record(dir.path(), &late).unwrap();

    let reports = print_reports(&opts(dir.path()), day()).unwrap();
    assert_eq!(reports.len(), 1);
    validate_reports(dir.path(), &reports);
    let v = parse(&reports[0]);
    let policies = v["policies"].as_array().unwrap();
    assert_eq!(policies.len(), 2);
    let enforce = policies
        .iter()
        .find(|p| p["policy"]["policy-string"][1] == "mode: enforce")
        .unwrap();
    assert_eq!(enforce["policy"]["policy-domain"], "example.com");
    assert_eq!(enforce["policy"]["mx-host"][0], "*.mail.example.com");
    assert_eq!(enforce["summary"]["total-successful-session-count"], 100);
    assert_eq!(enforce["summary"]["total-failure-session-count"], 18);
    let mut groups: Vec<(String, String, u64)> = enforce["failure-details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["receiving-mx-hostname"].as_str().unwrap().to_owned(),
                f["receiving-mx-helo"].as_str().unwrap().to_owned(),
                f["failed-session-count"].as_u64().unwrap(),
            )
        })
        .collect();
    groups.sort();
    assert_eq!(
        groups,
        vec![
            (
                "mx1.mail.example.com".into(),
                "mx1.mail.example.com".into(),
                7
            ),
            (
                "mx1.mail.example.com".into(),
                "other.mail.example.com".into(),
                1
            ),
            (
                "mx2.mail.example.com".into(),
                "mx1.mail.example.com".into(),
                10
            ),
        ]
    );
    let sum: u64 = groups.iter().map(|g| g.2).sum();
    assert_eq!(sum, 18);
}

#[test]
fn rfc8460_4_bad_input_is_an_error_not_a_panic() {
    let dir = TempDir::new("bad");
    let at = day().start();
    for d in ["", "a/b.example", "..", "exa mple.com"] {
        assert!(
            record(dir.path(), &Outcome::new(PolicyType::Sts, d, at)).is_err(),
            "{d:?}"
        );
    }
    let mut zero = Outcome::new(PolicyType::Sts, "example.com", at);
    zero.count = 0;
    assert!(record(dir.path(), &zero).is_err());
    // Garbage and torn lines in the day file are skipped.
    let ok = Outcome::new(PolicyType::Sts, "example.com", at);
    record(dir.path(), &ok).unwrap();
    let file = dir.path().join("outcomes").join("2026-11-04.log");
    let mut bytes = std::fs::read(&file).unwrap();
    bytes.extend_from_slice(b"v1\tgarbage\xff\nv1\t1\t1\tsts\texample.com\t\t");
    std::fs::write(&file, bytes).unwrap();
    record(dir.path(), &ok).unwrap();
    let reports = print_reports(&opts(dir.path()), day()).unwrap();
    let v = parse(&reports[0]);
    assert_eq!(
        v["policies"][0]["summary"]["total-successful-session-count"],
        2
    );
}

#[test]
fn rfc8460_4_bin_record_print_send() {
    let dir = TempDir::new("bin");
    let bin = env!("CARGO_BIN_EXE_sts-report");
    let d = dir.path().to_str().unwrap();
    let at = (day().start() + 60).to_string();
    let run = |args: &[&str]| {
        std::process::Command::new(bin)
            .args(["--dir", d, "--submitter", "mta.sender.example"])
            .args(args)
            .env_remove("STS_SMTP_RELAY")
            .output()
            .unwrap()
    };
    for (result, count) in [("success", "5"), ("certificate-expired", "2")] {
        let out = run(&[
            "record",
            "--domain",
            "example.com",
            "--mx",
            "mx.example.com",
            "--policy-type",
            "sts",
            "--result",
            result,
            "--count",
            count,
            "--at",
            &at,
        ]);
        assert!(out.status.success(), "{out:?}");
    }
    let bad = run(&[
        "record",
        "--domain",
        "example.com",
        "--mx",
        "m",
        "--policy-type",
        "sts",
        "--result",
        "nope",
    ]);
    assert!(!bad.status.success());
    let out = run(&["print", "--day", "2026-11-04"]);
    assert!(out.status.success(), "{out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let reports: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.to_string())
        .collect();
    assert_eq!(reports.len(), 1);
    validate_reports(dir.path(), &reports);
    let s = &v[0]["policies"][0]["summary"];
    assert_eq!(s["total-successful-session-count"], 5);
    assert_eq!(s["total-failure-session-count"], 2);
    // A day that is not over cannot be sent.
    let out = run(&["send", "--day", "9999-12-31", "--dry-run"]);
    assert!(!out.status.success());
}
