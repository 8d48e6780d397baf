//! Property tests for the `sts-core` parsers and matchers.
//!
//! * RFC 8461 §3.2: a policy printed from random fields (any field order,
//!   LF or CRLF, optional whitespace, extensions, ignored duplicates) parses
//!   back to the same fields and mx list.
//! * RFC 8461 §4.1: `mx::pattern_match` agrees with a small reference
//!   model written here, on names from a small alphabet so that matches
//!   really happen; a policy of up to 12 patterns permits a host iff one
//!   of them matches it.
//! * RFC 8461 §3.1, §3.2, RFC 8460 §3: no parser panics on arbitrary
//!   bytes, and whatever a successful parse hands out lies inside its input.

use proptest::prelude::*;
use proptest::test_runner::Config;
use sts_core::mx::{self, MxError};
use sts_core::policy::{self, Mode, MAX_AGE_LIMIT};
use sts_core::{tlsrpt, txt};

// ---------------------------------------------------------------------------
// RFC 8461 §3.2 round trip

/// One LDH label (1 to 12 octets, mixed case, no hyphen at either end).
fn label() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9]([a-zA-Z0-9-]{0,10}[a-zA-Z0-9])?"
}

/// `["*."] Domain` with 1 to 4 labels.
fn mx_pattern() -> impl Strategy<Value = String> {
    (any::<bool>(), prop::collection::vec(label(), 1..=4)).prop_map(|(wild, labels)| {
        let domain = labels.join(".");
        if wild {
            format!("*.{domain}")
        } else {
            domain
        }
    })
}

fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![Just(Mode::None), Just(Mode::Testing), Just(Mode::Enforce)]
}

/// An extension field: a name that is none of the known fields, and a
/// non-empty value of visible ASCII, spaces and some UTF-8.
fn extension() -> impl Strategy<Value = (String, String)> {
    (
        "[a-zA-Z0-9][a-zA-Z0-9_.-]{0,31}".prop_filter("not a known field", |n| {
            !matches!(n.as_str(), "version" | "mode" | "max_age" | "mx")
        }),
        "[!-~]([ -~é€]{0,20}[!-~])?",
    )
}

/// `*WSP` after the colon or at the end of a line.
fn wsp() -> impl Strategy<Value = &'static str> {
    prop_oneof![4 => Just(""), 2 => Just(" "), 1 => Just("\t"), 1 => Just(" \t ")]
}

#[derive(Debug, Clone)]
struct PolicyCase {
    text: String,
    mode: Mode,
    max_age: u32,
    mx: Vec<String>,
}

fn policy_case() -> impl Strategy<Value = PolicyCase> {
    (
        mode(),
        0..=MAX_AGE_LIMIT,
        0usize..=3,
        prop::collection::vec(mx_pattern(), 1..20),
        prop::collection::vec(extension(), 0..4),
        // Later duplicates of the non-repeated fields: ignored (§3.2).
        prop::collection::vec(
            prop_oneof![
                Just(("version", "STSv2")),
                Just(("mode", "enforce")),
                Just(("mode", "bogus")),
                Just(("max_age", "99999999999")),
                Just(("max_age", "1")),
            ],
            0..3,
        ),
    )
        .prop_flat_map(|(mode, max_age, zeros, mx, ext, dups)| {
            let digits = max_age.to_string();
            let zeros = zeros.min(10 - digits.len());
            let mut fields: Vec<(String, String)> = vec![
                ("version".into(), "STSv1".into()),
                ("mode".into(), mode.as_str().into()),
                ("max_age".into(), format!("{}{digits}", "0".repeat(zeros))),
            ];
            fields.extend(mx.into_iter().map(|m| ("mx".to_string(), m)));
            fields.extend(ext);
            let n = fields.len();
            let dups: Vec<(String, String)> = dups
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            (
                Just(fields).prop_shuffle(),
                Just(dups),
                prop::collection::vec((wsp(), wsp(), any::<bool>()), n + 3),
                any::<bool>(),
                Just((mode, max_age)),
            )
        })
        .prop_map(|(fields, dups, layout, final_term, (mode, max_age))| {
            let mx: Vec<String> = fields
                .iter()
                .filter(|(k, _)| k == "mx")
                .map(|(_, v)| v.clone())
                .collect();
            let lines: Vec<String> = fields
                .into_iter()
                .chain(dups)
                .zip(layout)
                .map(|((k, v), (before, after, crlf))| {
                    let term = if crlf { "\r\n" } else { "\n" };
                    format!("{k}:{before}{v}{after}{term}")
                })
                .collect();
            let mut text = lines.concat();
            if !final_term {
                while text.ends_with(['\r', '\n']) {
                    text.pop();
                }
            }
            PolicyCase {
                text,
                mode,
                max_age,
                mx,
            }
        })
}

proptest! {
    #![proptest_config(Config::with_cases(256))]

    #[test]
    fn rfc8461_3_2_roundtrip(case in policy_case()) {
        let p = match policy::parse(case.text.as_bytes()) {
            Ok(p) => p,
            Err(e) => return Err(TestCaseError::fail(format!("{e}: {:?}", case.text))),
        };
        // The fast path either declines or gives exactly the full parse.
        if let Some(fast) = policy::parse_fast_path(case.text.as_bytes()) {
            prop_assert_eq!(Ok(fast), policy::parse_detailed(case.text.as_bytes()));
        }
        prop_assert_eq!(p.mode(), case.mode);
        prop_assert_eq!(p.max_age(), case.max_age);
        prop_assert_eq!(p.mx_count(), case.mx.len());
        let got: Vec<&[u8]> = p.mx().collect();
        let want: Vec<&[u8]> = case.mx.iter().map(|m| m.as_bytes()).collect();
        prop_assert_eq!(&got, &want);
        for (i, m) in want.iter().enumerate() {
            prop_assert_eq!(p.mx_at(i), Some(*m));
        }
        prop_assert_eq!(p.mx_at(want.len()), None);
        // Every pattern permits a host built from it.
        for m in &case.mx {
            let host = m.replacen('*', "x", 1);
            if mx::prepare_host(host.as_bytes()).is_ok() {
                prop_assert_eq!(p.match_mx(host.as_bytes()), Ok(()), "{}", host);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// RFC 8461 §4.1 against a reference model

/// A label is 1 to 63 letters, digits and hyphens, not starting or ending
/// with a hyphen; a name is at most 253 octets.
fn model_valid_name(name: &str) -> bool {
    name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// Reference model of §4.1: `*` as the whole first label stands for exactly
/// one label; everything else compares label by label, ignoring ASCII case.
fn model_match(pattern: &str, host: &str) -> Result<(), MxError> {
    let (wild, domain) = match pattern.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, pattern),
    };
    if !model_valid_name(domain) {
        return Err(MxError::BadPattern);
    }
    let host = host.strip_suffix('.').unwrap_or(host);
    if !model_valid_name(host) {
        return Err(MxError::BadHost);
    }
    let host_labels: Vec<&str> = host.split('.').collect();
    if host_labels
        .last()
        .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(MxError::IpLiteral);
    }
    let pattern_labels: Vec<&str> = domain.split('.').collect();
    let compared = if wild {
        match host_labels.split_first() {
            Some((_, rest)) => rest,
            None => return Err(MxError::NoMatch),
        }
    } else {
        &host_labels[..]
    };
    let same = compared.len() == pattern_labels.len()
        && compared
            .iter()
            .zip(&pattern_labels)
            .all(|(a, b)| a.eq_ignore_ascii_case(b));
    if same {
        Ok(())
    } else {
        Err(MxError::NoMatch)
    }
}

/// Labels from a tiny alphabet, so random names collide often; includes
/// invalid ones (empty, hyphen at an edge, `*` inside, `_`).
fn small_label() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => prop::sample::select(vec!["a", "b", "A", "B", "ab", "Ab", "a-b", "x1", "1", "23"])
            .prop_map(str::to_string),
        1 => prop::sample::select(vec!["", "-a", "b-", "*", "a*", "_", "a_b", "\u{e9}"])
            .prop_map(str::to_string),
    ]
}

fn small_name(labels: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = String> {
    prop::collection::vec(small_label(), labels).prop_map(|l| l.join("."))
}

fn small_pattern() -> impl Strategy<Value = String> {
    (prop::bool::weighted(0.4), small_name(1..=3)).prop_map(|(wild, name)| {
        if wild {
            format!("*.{name}")
        } else {
            name
        }
    })
}

/// A host: random, or derived from the pattern (so that it often matches),
/// with random case and an optional root dot.
fn pattern_and_host() -> impl Strategy<Value = (String, String)> {
    small_pattern().prop_flat_map(|pattern| {
        let derived = (small_label(), any::<u64>()).prop_map({
            let pattern = pattern.clone();
            move |(first, case_bits)| {
                let host = match pattern.strip_prefix("*.") {
                    Some(rest) => format!("{first}.{rest}"),
                    None => pattern.clone(),
                };
                host.chars()
                    .enumerate()
                    .map(|(i, c)| {
                        if case_bits >> (i % 64) & 1 == 1 {
                            c.to_ascii_uppercase()
                        } else {
                            c.to_ascii_lowercase()
                        }
                    })
                    .collect::<String>()
            }
        });
        let host = prop_oneof![small_name(1..=4), derived];
        (Just(pattern), host, any::<bool>()).prop_map(|(p, h, root)| {
            let h = if root { format!("{h}.") } else { h };
            (p, h)
        })
    })
}

proptest! {
    #![proptest_config(Config::with_cases(2048))]

    #[test]
    fn rfc8461_4_1_matches_reference_model((pattern, host) in pattern_and_host()) {
        prop_assert_eq!(
            mx::pattern_match(pattern.as_bytes(), host.as_bytes()),
            model_match(&pattern, &host),
            "pattern {:?} host {:?}", pattern, host
        );
    }
}

/// Patterns of [`pattern_and_host`] pairs that are valid, as one policy,
/// and the host of one pair (so that it often matches some pattern).
fn patterns_and_host() -> impl Strategy<Value = (Vec<String>, String)> {
    prop::collection::vec(pattern_and_host(), 1..=12).prop_flat_map(|pairs| {
        let n = pairs.len();
        (Just(pairs), 0..n).prop_map(|(pairs, pick)| {
            let host = pairs[pick].1.clone();
            let patterns = pairs
                .into_iter()
                .map(|(p, _)| p)
                .filter(|p| mx::validate_pattern(p.as_bytes()).is_ok())
                .collect();
            (patterns, host)
        })
    })
}

proptest! {
    #![proptest_config(Config::with_cases(2048))]

    /// `Policy::match_mx` (which skips patterns by their keys, past the
    /// eight kept inline too) permits a host iff one pattern matches it,
    /// and otherwise gives the host's own error or `NoMatch`.
    #[test]
    fn rfc8461_4_1_policy_matches_iff_a_pattern_does((patterns, host) in patterns_and_host()) {
        prop_assume!(!patterns.is_empty());
        let mut text = String::from("version: STSv1\nmode: enforce\nmax_age: 86400\n");
        for p in &patterns {
            text.push_str(&format!("mx: {p}\n"));
        }
        let policy = policy::parse(text.as_bytes());
        prop_assert!(policy.is_ok(), "{:?}", text);
        let verdicts: Vec<_> = patterns.iter().map(|p| model_match(p, &host)).collect();
        let want = if verdicts.contains(&Ok(())) {
            Ok(())
        } else {
            verdicts.iter().copied().find(|v| *v != Err(MxError::NoMatch)).unwrap_or(Err(MxError::NoMatch))
        };
        if let Ok(policy) = policy {
            prop_assert_eq!(policy.match_mx(host.as_bytes()), want, "{:?} {:?}", patterns, host);
        }
    }
}

/// The generator above must produce every verdict, or the model test
/// proves little.
#[test]
fn rfc8461_4_1_reference_model_sees_every_verdict() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let mut runner = TestRunner::deterministic();
    let strategy = pattern_and_host();
    let mut seen = [0usize; 5];
    for _ in 0..2000 {
        let (p, h) = match strategy.new_tree(&mut runner) {
            Ok(tree) => tree.current(),
            Err(e) => panic!("{e}"),
        };
        let slot = match model_match(&p, &h) {
            Ok(()) => 0,
            Err(MxError::NoMatch) => 1,
            Err(MxError::BadPattern) => 2,
            Err(MxError::BadHost) => 3,
            Err(_) => 4,
        };
        seen[slot] += 1;
    }
    assert!(seen.iter().all(|&n| n >= 20), "verdict counts {seen:?}");
    assert!(seen[0] >= 400, "too few matches: {seen:?}");
}

// ---------------------------------------------------------------------------
// No panics, no reads outside the input

fn inside(outer: &[u8], inner: &[u8]) -> bool {
    let o = outer.as_ptr_range();
    let i = inner.as_ptr_range();
    o.start <= i.start && i.end <= o.end
}

/// Bytes that look like policy lines often enough to get past the first
/// checks: fragments of the grammar glued with random bytes.
fn policy_like() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"version: STSv1".to_vec()),
        Just(b"mode: enforce".to_vec()),
        Just(b"mode: none".to_vec()),
        Just(b"max_age: 86400".to_vec()),
        Just(b"mx: ".to_vec()),
        Just(b"mx: *.example.com".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b":".to_vec()),
        prop::collection::vec(any::<u8>(), 0..8),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(Config::with_cases(1024))]

    #[test]
    fn rfc8461_3_2_parse_never_panics(
        data in prop_oneof![prop::collection::vec(any::<u8>(), 0..512), policy_like()],
        host in prop::collection::vec(any::<u8>(), 0..40),
    ) {
        if let Some(fast) = policy::parse_fast_path(&data) {
            prop_assert_eq!(Ok(fast), policy::parse_detailed(&data));
        }
        prop_assert_eq!(policy::parse(&data), policy::parse_detailed(&data).map_err(|e| e.error));
        match policy::parse_detailed(&data) {
            Ok(p) => {
                prop_assert!(p.mode() == Mode::None || p.mx_count() > 0);
                prop_assert!(p.max_age() <= MAX_AGE_LIMIT);
                prop_assert_eq!(p.mx().count(), p.mx_count());
                for m in p.mx() {
                    prop_assert!(inside(&data, m));
                    prop_assert!(mx::validate_pattern(m).is_ok());
                }
                let _ = p.match_mx(&host);
            }
            Err(e) => {
                prop_assert!(e.offset <= data.len());
                let _ = e.line_column(&data);
            }
        }
    }

    #[test]
    fn rfc8461_3_1_txt_never_panics(data in prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        "v=STSv1[; \t]{0,3}(id=[a-zA-Z0-9]{0,34}|[a-z]{1,3}=[!-~]{0,5}|[; \t=]{0,3}){0,4}"
            .prop_map(String::into_bytes),
    ]) {
        if let Ok(r) = txt::parse(&data) {
            prop_assert!(inside(&data, r.id));
            prop_assert!(txt::is_candidate(&data));
        }
        let _ = txt::select(data.split(|&b| b == b'|'));
    }

    #[test]
    fn rfc8460_3_tlsrpt_never_panics(data in prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        "v=TLSRPTv1[; \t]{0,3}(rua=((mailto:[a@.]{0,4}|https://[a/]{0,3}|[!-~]{0,3})[ \t,]{0,3}){0,3}|[a-z]{1,3}=[!-~]{0,5}|[; \t]{0,2}){0,3}"
            .prop_map(String::into_bytes),
    ]) {
        if let Ok(r) = tlsrpt::parse(&data) {
            prop_assert_eq!(r.rua().count(), r.rua_count());
            for (i, uri) in r.rua().enumerate() {
                prop_assert!(inside(&data, uri));
                prop_assert!(r.rua_at(i).is_some());
            }
        }
    }

    #[test]
    fn rfc8461_4_1_pattern_match_never_panics(
        pattern in prop::collection::vec(any::<u8>(), 0..300),
        host in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let _ = mx::pattern_match(&pattern, &host);
        let _ = mx::validate_pattern(&pattern);
        let _ = mx::prepare_host(&host);
    }
}
