//! Reading ../shared/corpus: the public MTA-STS/TLSRPT corpus beside the
//! repository, with expected verdicts.
#![allow(dead_code, clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::path::PathBuf;

/// `../shared/corpus`, found relative to this crate.
pub fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus")
}

/// Undoes the corpus escaping: `\t \r \n \\`.
pub fn unescape(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut it = s.iter().copied();
    while let Some(b) = it.next() {
        if b == b'\\' {
            match it.next() {
                Some(b't') => out.push(b'\t'),
                Some(b'r') => out.push(b'\r'),
                Some(b'n') => out.push(b'\n'),
                Some(b'\\') => out.push(b'\\'),
                Some(other) => {
                    out.push(b'\\');
                    out.push(other);
                }
                None => out.push(b'\\'),
            }
        } else {
            out.push(b);
        }
    }
    out
}

/// The verdict we hold for a row: `valid`/`invalid` as given; for a
/// `disputed` row, our documented choice (see README "Disputed corpus rows").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Valid,
    Invalid,
}

/// One row of a TSV file as column name → value.
pub struct Row {
    pub cols: Vec<Vec<u8>>,
    pub names: Vec<String>,
}

impl Row {
    /// A column's raw bytes (records may hold non-UTF-8 bytes).
    pub fn bytes(&self, name: &str) -> &[u8] {
        let i = self
            .names
            .iter()
            .position(|n| n == name)
            .unwrap_or_else(|| panic!("no column {name}"));
        self.cols.get(i).map(Vec::as_slice).unwrap_or(b"")
    }

    /// A column as text (lossy where it is not UTF-8).
    pub fn get(&self, name: &str) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(self.bytes(name))
    }
}

pub fn read_tsv(rel: &str) -> Vec<Row> {
    let path = corpus_dir().join(rel);
    let text = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (the corpus lives in ../shared beside the repository)",
            path.display()
        )
    });
    let mut lines = text.split(|&b| b == b'\n');
    let header = String::from_utf8_lossy(lines.next().expect("header")).into_owned();
    let names: Vec<String> = header.split('\t').map(String::from).collect();
    lines
        .filter(|l| !l.is_empty())
        .map(|l| Row {
            cols: l.split(|&b| b == b'\t').map(<[u8]>::to_vec).collect(),
            names: names.clone(),
        })
        .collect()
}

/// Policy files: the strict verdict. Disputed rows record it as
/// `strict=valid` or `strict=invalid` in the reason.
pub fn policy_verdict(row: &Row) -> Verdict {
    match row.get("expected").as_ref() {
        "valid" => Verdict::Valid,
        "invalid" => Verdict::Invalid,
        "disputed" if row.get("reason").starts_with("strict=valid") => Verdict::Valid,
        "disputed" if row.get("reason").starts_with("strict=invalid") => Verdict::Invalid,
        other => panic!("unexpected verdict {other:?} for {}", row.get("file")),
    }
}

/// TXT records: disputed rows repeat a field (`id` twice, `rua` twice);
/// the first occurrence wins and the record is valid.
pub fn record_verdict(row: &Row) -> Verdict {
    match row.get("expected").as_ref() {
        "valid" | "disputed" => Verdict::Valid,
        "invalid" => Verdict::Invalid,
        other => panic!("unexpected verdict {other:?} for {}", row.get("id")),
    }
}
