//! Every policy file and TXT record in ../shared/corpus against its
//! expected verdict (and, for valid policies, the fields the corpus lists).
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod support;

use sts_core::{policy, tlsrpt, txt};
use support::{corpus_dir, policy_verdict, read_tsv, record_verdict, unescape, Verdict};

#[test]
fn rfc8461_3_2_corpus_policies() {
    let rows = read_tsv("INDEX.tsv");
    assert!(rows.len() >= 200, "corpus has {} rows", rows.len());
    let mut failures = Vec::new();
    let mut fast = 0usize;
    for row in &rows {
        let file = row.get("file");
        let text = std::fs::read(corpus_dir().join(file.as_ref())).expect("policy file");
        let want = policy_verdict(row);
        // The fast path of `parse` declines or agrees with the full parser.
        if let Some(p) = policy::parse_fast_path(&text) {
            assert_eq!(Ok(p), policy::parse_detailed(&text), "{file}");
            fast += 1;
        }
        match (policy::parse(&text), want) {
            (Ok(p), Verdict::Valid) => {
                let mx: Vec<String> = p
                    .mx()
                    .map(|m| String::from_utf8_lossy(m).into_owned())
                    .collect();
                let got = (
                    p.mode().as_str().to_string(),
                    p.max_age().to_string(),
                    mx.join(","),
                );
                let max_age_col = row.get("max_age");
                let max_age_digits = max_age_col.trim_start_matches('0');
                let expected_max_age = if max_age_digits.is_empty() {
                    "0"
                } else {
                    max_age_digits
                };
                let expected = (
                    row.get("mode").to_string(),
                    expected_max_age.to_string(),
                    row.get("mx").to_string(),
                );
                if got != expected {
                    failures.push(format!("{file}: fields {got:?}, corpus says {expected:?}"));
                }
                // mx_at and the iterator agree.
                for (i, m) in p.mx().enumerate() {
                    assert_eq!(p.mx_at(i), Some(m), "{file}");
                }
            }
            (Err(_), Verdict::Invalid) => {}
            (got, _) => failures.push(format!(
                "{file}: got {:?}, want {want:?} ({})",
                got.map(|_| ()),
                row.get("reason")
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} corpus mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Published policies mostly have the plain shape the fast path reads;
    // if it stopped taking them this test would no longer exercise it.
    let valid = rows
        .iter()
        .filter(|r| matches!(policy_verdict(r), Verdict::Valid))
        .count();
    eprintln!(
        "fast path took {fast} of {} policies ({valid} valid)",
        rows.len()
    );
    assert!(
        fast * 2 > valid,
        "fast path took only {fast} of {valid} valid policies"
    );
}

/// Runs every record of a corpus file through `accepts` and compares with
/// the expected verdict.
fn check_records(file: &str, min_rows: usize, accepts: impl Fn(&[u8]) -> Result<(), String>) {
    let rows = read_tsv(file);
    assert!(rows.len() >= min_rows, "{file} has {} rows", rows.len());
    let mut failures = Vec::new();
    for row in &rows {
        let got = accepts(&unescape(row.bytes("record")));
        let ok = match record_verdict(row) {
            Verdict::Valid => got.is_ok(),
            Verdict::Invalid => got.is_err(),
        };
        if !ok {
            failures.push(format!(
                "{} {:?}: got {got:?}, want {}",
                row.get("id"),
                row.get("record"),
                row.get("expected")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn rfc8461_3_1_corpus_sts_records() {
    check_records("records/sts.tsv", 40, |r| {
        txt::parse(r).map(drop).map_err(|e| e.to_string())
    });
}

#[test]
fn rfc8460_3_corpus_tlsrpt_records() {
    check_records("records/tlsrpt.tsv", 60, |r| match tlsrpt::parse(r) {
        Ok(t) if t.rua().count() == t.rua_count() && t.rua_count() >= 1 => Ok(()),
        Ok(_) => Err("rua count disagrees with the iterator".into()),
        Err(e) => Err(e.to_string()),
    });
}

#[test]
fn disputed_rows_follow_documented_choices() {
    // Policies: the strict reading of the ABNF (blank lines, a trailing dot
    // on an mx, U-labels, max_age over the cap are all invalid).
    let rows = read_tsv("INDEX.tsv");
    let disputed: Vec<_> = rows
        .iter()
        .filter(|r| r.get("expected") == "disputed")
        .collect();
    assert!(!disputed.is_empty());
    for row in disputed {
        let text = std::fs::read(corpus_dir().join(row.get("file").as_ref())).unwrap();
        assert_eq!(
            policy::parse(&text).is_ok(),
            policy_verdict(row) == Verdict::Valid,
            "{}",
            row.get("file")
        );
    }
    // TXT: a repeated id or rua is an extension; the first one wins.
    let r = txt::parse(b"v=STSv1; id=20260101; id=20260202").unwrap();
    assert_eq!(r.id, b"20260101");
    let r =
        tlsrpt::parse(b"v=TLSRPTv1; rua=mailto:a@example.com; rua=mailto:b@example.com").unwrap();
    assert_eq!(
        r.rua().collect::<Vec<_>>(),
        vec![&b"mailto:a@example.com"[..]]
    );
}
