//! Differential test: libsts against mailrs-mta-sts, mail-auth and
//! postfix-mta-sts-resolver over the public corpus.
//!
//! Fails when a disagreement appears that `expected-disagreements.tsv` does
//! not list, or when a listed one is gone, so that the table in
//! `docs/differential.md` stays true. After checking a change by hand,
//! `UPDATE_EXPECTED=1 cargo test` rewrites the file (new rows get the
//! cause `TODO`, which the test rejects until a cause from `causes.tsv` is
//! filled in).

use std::collections::{BTreeMap, BTreeSet};

use sts_compare::diff::{
    self, all_comparisons, disagreements, expected_line, read_expected, EXPECTED_HEADER,
};
use sts_compare::{policy_cases, read_tsv, record_cases};

fn causes() -> BTreeSet<String> {
    let path = sts_compare::crate_dir().join("causes.tsv");
    read_tsv(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .into_iter()
        .map(|row| String::from_utf8_lossy(&row[0]).into_owned())
        .collect()
}

#[test]
fn disagreements_are_the_expected_ones() {
    let found = disagreements().expect("corpus readable");
    let expected = if diff::expected_path().exists() {
        read_expected().expect("expected-disagreements.tsv readable")
    } else {
        Vec::new()
    };
    let expected_by_key: BTreeMap<_, _> =
        expected.iter().map(|e| (e.key.clone(), e)).collect();
    let found_keys: BTreeSet<_> = found.iter().map(|c| c.key()).collect();

    if std::env::var_os("UPDATE_EXPECTED").is_some() {
        let mut text = String::from(EXPECTED_HEADER);
        text.push('\n');
        for c in &found {
            let cause = expected_by_key
                .get(&c.key())
                .map_or("TODO", |e| e.cause.as_str());
            text.push_str(&expected_line(c, cause));
            text.push('\n');
        }
        std::fs::write(diff::expected_path(), text).expect("write expected-disagreements.tsv");
        eprintln!("rewrote {} ({} rows)", diff::expected_path().display(), found.len());
        return;
    }

    let mut problems = Vec::new();
    for c in &found {
        if !expected_by_key.contains_key(&c.key()) {
            problems.push(format!(
                "NEW disagreement (not in expected-disagreements.tsv): {}",
                expected_line(c, "TODO")
            ));
        }
    }
    for e in &expected {
        if !found_keys.contains(&e.key) {
            problems.push(format!(
                "GONE (listed but no longer a disagreement): {} {} {} libsts={} theirs={}",
                e.key.kind, e.key.item, e.key.other, e.key.libsts, e.key.theirs
            ));
        }
    }
    let known = causes();
    for e in &expected {
        if !known.contains(&e.cause) {
            problems.push(format!(
                "cause '{}' of {} {} {} is not explained in causes.tsv",
                e.cause, e.key.kind, e.key.item, e.key.other
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}\n(check them against RFC 8461/8460; if they are right, \
         UPDATE_EXPECTED=1 cargo test, fill in the causes, regenerate docs/differential.md \
         with scripts/compare.sh)",
        problems.len(),
        problems.join("\n")
    );
}

/// The stored postfix-mta-sts-resolver verdicts cover exactly the corpus.
#[test]
fn postfix_verdicts_cover_the_corpus() {
    let postfix = diff::postfix_verdicts().expect("postfix verdicts readable");
    let mut want = BTreeSet::new();
    for c in policy_cases().expect("corpus") {
        want.insert(("policy".to_owned(), c.file));
    }
    for c in record_cases("sts").expect("sts.tsv") {
        want.insert(("sts".to_owned(), c.id));
    }
    let have: BTreeSet<_> = postfix.keys().cloned().collect();
    let missing: Vec<_> = want.difference(&have).collect();
    let extra: Vec<_> = have.difference(&want).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "data/postfix_resolver_verdicts.tsv is out of date (rerun scripts/compare.sh): \
         missing {missing:?}, extra {extra:?}"
    );
}

/// With `POSTFIX_RESOLVER_PYTHON` set to a Python that has
/// postfix-mta-sts-resolver installed, the stored verdicts must be what
/// the script prints now.
#[test]
fn postfix_verdicts_are_current() {
    let Some(python) = std::env::var_os("POSTFIX_RESOLVER_PYTHON") else {
        eprintln!("POSTFIX_RESOLVER_PYTHON not set: using the stored verdicts");
        return;
    };
    let script = sts_compare::crate_dir().join("py/postfix_resolver_verdicts.py");
    let out = std::process::Command::new(python)
        .arg(&script)
        .arg("--shared")
        .arg(sts_compare::shared_dir())
        .output()
        .expect("run postfix_resolver_verdicts.py");
    assert!(
        out.status.success(),
        "postfix_resolver_verdicts.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stored = std::fs::read(diff::postfix_verdicts_path()).expect("stored verdicts");
    assert!(
        out.stdout == stored,
        "data/postfix_resolver_verdicts.tsv differs from the script's output; rerun scripts/compare.sh"
    );
}

/// Sanity: every implementation was asked about every item.
#[test]
fn comparisons_cover_everything() {
    let all = all_comparisons().expect("corpus");
    let policies = policy_cases().expect("corpus").len();
    let sts = record_cases("sts").expect("sts").len();
    let tlsrpt = record_cases("tlsrpt").expect("tlsrpt").len();
    assert!(policies > 200 && sts > 40 && tlsrpt > 60);
    assert_eq!(all.len(), policies * 2 + sts * 3 + tlsrpt);
}
