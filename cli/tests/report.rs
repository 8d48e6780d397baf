//! `sts report` runs the report store's commands (RFC 8460).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

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
