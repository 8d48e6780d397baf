//! Recording from many processes at once (an MTA forks per delivery):
//! 8 processes record 1,000 outcomes each into the same day file; the
//! aggregated counts must add up to exactly 8,000.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

use common::TempDir;
use serde_json::Value;
use sts_report::{
    print_reports, Day, Failure, Outcome, PolicyType, Recorder, ReportOptions, ResultType,
    SessionResult,
};

const CHILD_ENV: &str = "STS_REPORT_TEST_CHILD_DIR";
const PROCESSES: usize = 8;
const PER_PROCESS: u64 = 1000;

fn day() -> Day {
    "2026-11-04".parse().unwrap()
}

/// Runs only inside the child processes started by the test below.
#[test]
fn child_records() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let id: u64 = std::env::var("STS_REPORT_TEST_CHILD_ID")
        .unwrap()
        .parse()
        .unwrap();
    let rec = Recorder::open(&dir).unwrap().with_fsync(false);
    for i in 0..PER_PROCESS {
        let domain = if i % 2 == 0 { "a.example" } else { "b.example" };
        let mut o = Outcome::new(PolicyType::Sts, domain, day().start() + i);
        o.policy_strings = vec!["version: STSv1".into(), "mode: enforce".into()];
        o.receiving_mx_hostname = format!("mx{id}.{domain}");
        // Long lines make torn writes visible if appends were not atomic.
        o.mx_hosts = vec![format!("{}.{domain}", "x".repeat(60)); 40];
        if i % 10 == 0 {
            let mut f = Failure::new(ResultType::CertificateExpired);
            f.failure_reason_code = format!("child {id} outcome {i}");
            o.result = SessionResult::Failure(f);
        }
        rec.record(&o).unwrap();
    }
}

/// `PROCESSES` copies of this test binary running `child_records` into
/// `dir`, each with its own id.
fn spawn_recorders(dir: &std::path::Path) -> Vec<std::process::Child> {
    let exe = std::env::current_exe().unwrap();
    (0..PROCESSES)
        .map(|id| {
            Command::new(&exe)
                .args(["--exact", "child_records", "--test-threads=1", "--quiet"])
                .env(CHILD_ENV, dir)
                .env("STS_REPORT_TEST_CHILD_ID", id.to_string())
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect()
}

#[test]
fn rfc8460_4_concurrent_recording_8x1000() {
    let dir = TempDir::new("concurrent");
    let children = spawn_recorders(dir.path());
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let opts = ReportOptions::new(dir.path(), "mta.sender.example");
    let reports = print_reports(&opts, day()).unwrap();
    assert_eq!(reports.len(), 2);
    let (mut ok, mut failed, mut detail) = (0u64, 0u64, 0u64);
    for r in &reports {
        let v: Value = serde_json::from_str(r).unwrap();
        for p in v["policies"].as_array().unwrap() {
            ok += p["summary"]["total-successful-session-count"]
                .as_u64()
                .unwrap();
            failed += p["summary"]["total-failure-session-count"]
                .as_u64()
                .unwrap();
            for f in p["failure-details"].as_array().into_iter().flatten() {
                detail += f["failed-session-count"].as_u64().unwrap();
            }
        }
    }
    let total = PROCESSES as u64 * PER_PROCESS;
    assert_eq!(ok + failed, total);
    assert_eq!(failed, total / 10);
    assert_eq!(detail, failed);
    // Every line decoded: none torn or interleaved.
    let bytes = std::fs::read(dir.path().join("outcomes").join("2026-11-04.log")).unwrap();
    assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count() as u64, total);
}

/// The JSON report inside a report message from the SMTP sink.
fn report_of(mail: &[u8]) -> Value {
    use base64::Engine as _;
    let text = String::from_utf8(mail.to_vec()).unwrap();
    let at = text.find("Content-Type: application/tlsrpt+gzip").unwrap();
    let body_start = at + text[at..].find("\r\n\r\n").unwrap() + 4;
    let body_end = body_start + text[body_start..].find("\r\n--").unwrap();
    let b64: String = text[body_start..body_end]
        .split("\r\n")
        .collect::<Vec<_>>()
        .concat();
    let gz = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    serde_json::from_slice(&common::gunzip(&gz)).unwrap()
}

/// Recorders keep appending to a day while the sender closes it again and
/// again: no outcome is lost or counted twice across the reports sent.
#[test]
fn rfc8460_4_recording_while_the_day_is_closed() {
    let dir = TempDir::new("close-race");
    let sink = common::SmtpSink::start();
    let resolver = common::MapResolver::with(
        "_smtp._tls.a.example",
        &["v=TLSRPTv1; rua=mailto:tlsrpt@a.example"],
    );
    resolver.set(
        "_smtp._tls.b.example",
        &["v=TLSRPTv1; rua=mailto:tlsrpt@b.example"],
    );
    let mut opts = ReportOptions::new(dir.path(), "mta.sender.example");
    opts.smtp = common::relay(sink.addr);
    opts.now = Some(day().end() + 60);
    let mut children = spawn_recorders(dir.path());
    let mut runs = 0;
    loop {
        let all_done = children.iter_mut().all(|c| c.try_wait().unwrap().is_some());
        let s = sts_report::send_with_resolver(&opts, &resolver, None, false).unwrap();
        assert_eq!(s.pending, 0, "{s:?}");
        runs += 1;
        if all_done {
            break;
        }
    }
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let mut total = 0u64;
    for m in sink.mails.lock().unwrap().iter() {
        let v = report_of(&m.data);
        for p in v["policies"].as_array().unwrap() {
            total += p["summary"]["total-successful-session-count"]
                .as_u64()
                .unwrap();
            total += p["summary"]["total-failure-session-count"]
                .as_u64()
                .unwrap();
        }
    }
    assert!(runs > 1);
    assert_eq!(total, PROCESSES as u64 * PER_PROCESS, "over {runs} runs");
    assert_eq!(common::day_files(dir.path()), 0);
    assert_eq!(common::spooled(dir.path()), 0);
}
