//! The disagreements between libsts and the other implementations over
//! the whole public corpus, and the committed list of expected ones.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::{
    crate_dir, libsts_policy, libsts_sts_record, libsts_tlsrpt_record, mail_auth_sts_record,
    mail_auth_tlsrpt_record, mailrs_policy, mailrs_sts_record, policy_cases, read_tsv,
    record_cases, unescape, Verdict,
};

/// Name of the postfix-mta-sts-resolver column.
pub const POSTFIX: &str = "postfix-mta-sts-resolver";
/// Name of the mailrs-mta-sts column.
pub const MAILRS: &str = "mailrs-mta-sts";
/// Name of the mail-auth column.
pub const MAIL_AUTH: &str = "mail-auth";

/// One disagreement (or one comparison, before filtering).
#[derive(Clone, Debug)]
pub struct Comparison {
    /// `policy`, `sts` or `tlsrpt`.
    pub kind: &'static str,
    /// `policies/NNNN.txt` or a record id.
    pub item: String,
    /// What the corpus expects (`valid`, `invalid`, `disputed`).
    pub expected: String,
    /// The other implementation.
    pub other: &'static str,
    /// libsts's verdict.
    pub libsts: Verdict,
    /// The other implementation's verdict.
    pub theirs: Verdict,
}

impl Comparison {
    /// The key a disagreement is listed under: kind, item, other
    /// implementation and both verdict classes (content too when both
    /// accept, since then the content is what differs).
    pub fn key(&self) -> Key {
        Key {
            kind: self.kind.to_owned(),
            item: self.item.clone(),
            other: self.other.to_owned(),
            libsts: class(&self.libsts),
            theirs: class(&self.theirs),
        }
    }
}

fn class(v: &Verdict) -> String {
    match v {
        Verdict::Accept { .. } => "accept".into(),
        Verdict::Reject { .. } => "reject".into(),
    }
}

/// See [`Comparison::key`].
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    /// Kind.
    pub kind: String,
    /// Item.
    pub item: String,
    /// Other implementation.
    pub other: String,
    /// libsts verdict class.
    pub libsts: String,
    /// Other verdict class.
    pub theirs: String,
}

/// Where the postfix-mta-sts-resolver verdicts are kept.
pub fn postfix_verdicts_path() -> PathBuf {
    crate_dir().join("data/postfix_resolver_verdicts.tsv")
}

/// Where the expected disagreements are kept.
pub fn expected_path() -> PathBuf {
    crate_dir().join("expected-disagreements.tsv")
}

/// `(kind, item) -> verdict` from the postfix-mta-sts-resolver file.
pub fn postfix_verdicts() -> std::io::Result<BTreeMap<(String, String), Verdict>> {
    let mut out = BTreeMap::new();
    for row in read_tsv(&postfix_verdicts_path())? {
        let s = |i: usize| String::from_utf8_lossy(&unescape(&row[i])).into_owned();
        if row.len() < 4 {
            continue;
        }
        if let Some(v) = Verdict::from_columns(&s(2), &s(3)) {
            out.insert((s(0), s(1)), v);
        }
    }
    Ok(out)
}

/// Every comparison over the corpus (agreements included).
pub fn all_comparisons() -> std::io::Result<Vec<Comparison>> {
    let postfix = postfix_verdicts()?;
    let missing = |kind: &str, item: &str| Verdict::Reject {
        reason: format!("MISSING from {} ({kind} {item})", postfix_verdicts_path().display()),
    };
    let mut out = Vec::new();
    for case in policy_cases()? {
        let libsts = libsts_policy(&case.bytes);
        let pf = postfix
            .get(&("policy".to_owned(), case.file.clone()))
            .cloned()
            .unwrap_or_else(|| missing("policy", &case.file));
        for (other, theirs) in [(MAILRS, mailrs_policy(&case.bytes)), (POSTFIX, pf)] {
            out.push(Comparison {
                kind: "policy",
                item: case.file.clone(),
                expected: case.expected.clone(),
                other,
                libsts: libsts.clone(),
                theirs,
            });
        }
    }
    for case in record_cases("sts")? {
        let libsts = libsts_sts_record(&case.record);
        let pf = postfix
            .get(&("sts".to_owned(), case.id.clone()))
            .cloned()
            .unwrap_or_else(|| missing("sts", &case.id));
        for (other, theirs) in [
            (MAIL_AUTH, mail_auth_sts_record(&case.record)),
            (MAILRS, mailrs_sts_record(&case.record)),
            (POSTFIX, pf),
        ] {
            out.push(Comparison {
                kind: "sts",
                item: case.id.clone(),
                expected: case.expected.clone(),
                other,
                libsts: libsts.clone(),
                theirs,
            });
        }
    }
    for case in record_cases("tlsrpt")? {
        out.push(Comparison {
            kind: "tlsrpt",
            item: case.id.clone(),
            expected: case.expected.clone(),
            other: MAIL_AUTH,
            libsts: libsts_tlsrpt_record(&case.record),
            theirs: mail_auth_tlsrpt_record(&case.record),
        });
    }
    Ok(out)
}

/// The comparisons that disagree.
pub fn disagreements() -> std::io::Result<Vec<Comparison>> {
    Ok(all_comparisons()?
        .into_iter()
        .filter(|c| c.libsts.disagrees(&c.theirs))
        .collect())
}

/// One row of `expected-disagreements.tsv`.
#[derive(Clone, Debug)]
pub struct Expected {
    /// The key.
    pub key: Key,
    /// Cause id, explained in `causes.tsv`.
    pub cause: String,
    /// The remaining columns as written (verdict details), for display.
    pub libsts_detail: String,
    /// The other side's detail.
    pub theirs_detail: String,
}

/// Header of `expected-disagreements.tsv`.
pub const EXPECTED_HEADER: &str =
    "kind\titem\tother\tlibsts\tlibsts_detail\ttheirs\ttheirs_detail\tcause";

/// Reads `expected-disagreements.tsv`.
pub fn read_expected() -> std::io::Result<Vec<Expected>> {
    let mut out = Vec::new();
    for row in read_tsv(&expected_path())? {
        let s = |i: usize| {
            row.get(i)
                .map(|f| String::from_utf8_lossy(&unescape(f)).into_owned())
                .unwrap_or_default()
        };
        out.push(Expected {
            key: Key {
                kind: s(0),
                item: s(1),
                other: s(2),
                libsts: s(3),
                theirs: s(5),
            },
            libsts_detail: s(4),
            theirs_detail: s(6),
            cause: s(7),
        });
    }
    Ok(out)
}

/// Corpus-style escaping.
pub fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('\t', "\\t")
        .replace('\r', "\\r")
        .replace('\n', "\\n")
}

fn detail(v: &Verdict) -> &str {
    match v {
        Verdict::Accept { fields } => fields,
        Verdict::Reject { reason } => reason,
    }
}

/// One line of `expected-disagreements.tsv` for `c`.
pub fn expected_line(c: &Comparison, cause: &str) -> String {
    let k = c.key();
    [
        k.kind.as_str(),
        &k.item,
        &k.other,
        &k.libsts,
        &escape(detail(&c.libsts)),
        &k.theirs,
        &escape(detail(&c.theirs)),
        cause,
    ]
    .join("\t")
}
