//! Fuzz target: MTA-STS policy files (RFC 8461 §3.2).
//!
//! Parses the input, then checks what a valid policy promises: mode `none`
//! or at least one mx, `max_age` in range, every mx a valid pattern that is
//! a slice of the input, `mx_at` agreeing with the iterator, `match_mx`
//! agreeing with `mx::pattern_match`, and the same result with CRLF turned
//! into LF.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sts_core::policy::{self, Mode, MAX_AGE_LIMIT};
use sts_core::{mx, Policy};

fuzz_target!(|data: &[u8]| {
    let detailed = policy::parse_detailed(data);
    let result = policy::parse(data);
    assert_eq!(result, detailed.map_err(|e| e.error));
    let p = match detailed {
        Ok(p) => p,
        Err(e) => {
            assert!(e.offset <= data.len());
            let _ = e.line_column(data);
            let _ = e.error.as_str();
            return;
        }
    };

    assert!(p.mode() == Mode::None || p.mx_count() > 0);
    assert!(p.max_age() <= MAX_AGE_LIMIT);
    assert_eq!(Policy::from_parts(data, p.parts()), p);
    assert_eq!(p.mx().count(), p.mx_count());
    let range = data.as_ptr_range();
    for (i, pattern) in p.mx().enumerate() {
        assert_eq!(p.mx_at(i), Some(pattern));
        assert!(mx::validate_pattern(pattern).is_ok(), "{pattern:?}");
        let r = pattern.as_ptr_range();
        assert!(range.start <= r.start && r.end <= range.end);
        // A host made from the pattern must be permitted.
        let host: Vec<u8> = match pattern {
            [b'*', b'.', rest @ ..] => [&b"x."[..], rest].concat(),
            _ => pattern.to_vec(),
        };
        if mx::prepare_host(&host).is_ok() {
            assert_eq!(p.match_mx(&host), Ok(()), "{host:?}");
            assert_eq!(
                mx::pattern_match(pattern, &host),
                Ok(()),
                "{pattern:?} {host:?}"
            );
            let mut rooted = host.to_ascii_uppercase();
            rooted.push(b'.');
            assert_eq!(p.match_mx(&rooted), Ok(()), "{rooted:?}");
        }
    }
    assert_eq!(p.mx_at(p.mx_count()), None);

    // A host taken from the input (its last line) matches iff one pattern does.
    let host = data.rsplit(|&b| b == b'\n').next().unwrap_or(data);
    let any = p.mx().any(|pat| mx::pattern_match(pat, host).is_ok());
    match p.match_mx(host) {
        Ok(()) => assert!(any),
        Err(e) => {
            assert!(!any);
            match mx::prepare_host(host) {
                Ok(_) => assert_eq!(e, mx::MxError::NoMatch),
                Err(want) => assert_eq!(e, want),
            }
        }
    }

    // CRLF and LF line ends mean the same policy.
    if data.contains(&b'\r') {
        let lf: Vec<u8> = data
            .iter()
            .enumerate()
            .filter(|&(i, &b)| !(b == b'\r' && data.get(i + 1) == Some(&b'\n')))
            .map(|(_, &b)| b)
            .collect();
        let q = policy::parse(&lf).unwrap_or_else(|e| panic!("LF form fails: {e}"));
        assert_eq!(
            (q.mode(), q.max_age(), q.mx_count()),
            (p.mode(), p.max_age(), p.mx_count())
        );
        assert!(q.mx().eq(p.mx()));
    }
});
