//! Fuzz target: MX pattern matching (RFC 8461 §4.1).
//!
//! The input is split at the first 0x00 (or the middle) into a pattern and
//! a host. `mx::pattern_match` must agree with a label-by-label reference
//! model, ignore case, and give the same verdict as a one-mx policy.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sts_core::mx::{self, MxError};
use sts_core::{name, policy};

/// Reference model: validate, then compare label lists.
fn model(pattern: &[u8], host: &[u8]) -> Result<(), MxError> {
    let (wild, domain) = match pattern {
        [b'*', b'.', rest @ ..] => (true, rest),
        _ => (false, pattern),
    };
    if name::validate(domain).is_err() {
        return Err(MxError::BadPattern);
    }
    let host = host.strip_suffix(b".").unwrap_or(host);
    if name::validate(host).is_err() {
        return Err(MxError::BadHost);
    }
    let last = host.rsplit(|&b| b == b'.').next().unwrap_or(host);
    if last.iter().all(u8::is_ascii_digit) {
        return Err(MxError::IpLiteral);
    }
    let p: Vec<&[u8]> = domain.split(|&b| b == b'.').collect();
    let h: Vec<&[u8]> = host.split(|&b| b == b'.').collect();
    let h = if wild {
        if h.len() != p.len() + 1 {
            return Err(MxError::NoMatch);
        }
        &h[1..]
    } else {
        &h[..]
    };
    if h.len() == p.len() && h.iter().zip(&p).all(|(a, b)| a.eq_ignore_ascii_case(b)) {
        Ok(())
    } else {
        Err(MxError::NoMatch)
    }
}

fuzz_target!(|data: &[u8]| {
    let (pattern, host) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => data.split_at(data.len() / 2),
    };
    let got = mx::pattern_match(pattern, host);
    assert_eq!(got, model(pattern, host), "{pattern:?} {host:?}");
    assert_eq!(
        mx::pattern_match(&pattern.to_ascii_uppercase(), &host.to_ascii_lowercase()),
        got
    );
    if got.is_ok() {
        let prepared = mx::prepare_host(host).unwrap_or_else(|e| panic!("{e}"));
        assert!(mx::matches_prepared(pattern, prepared));
    }

    // The same pattern inside a policy gives the same verdict.
    if mx::validate_pattern(pattern).is_ok() {
        let text = [
            &b"version: STSv1\nmode: enforce\nmx: "[..],
            pattern,
            b"\nmax_age: 1\n",
        ]
        .concat();
        let p = policy::parse(&text).unwrap_or_else(|e| panic!("{e}: {text:?}"));
        assert_eq!(p.mx_at(0), Some(pattern));
        assert_eq!(p.match_mx(host), got);
    } else {
        assert_eq!(got, Err(MxError::BadPattern));
    }
});
