//! MX host matching against policy patterns (RFC 8461 §4.1).
//!
//! A pattern is `["*."] Domain`. A plain pattern matches the host name
//! exactly (ignoring ASCII case); `*.example.com` matches a host with
//! exactly one more label on the left, such as `mx1.example.com`, and
//! neither `example.com` nor `a.b.example.com`.
//!
//! Hosts are normalised with [`name::strip_root`] (one trailing dot is
//! dropped) and must be valid host names. A host that is an IPv4 address
//! in dotted form never matches: §4.1 compares names, and an MX record
//! pointing at an address literal is not something a policy can vouch for.

use crate::lex::{self, error_enum};
use crate::name;

error_enum! {
    /// Why an MX host is not permitted by a pattern or a policy.
    pub enum MxError {
        /// The host is valid but no pattern matches it.
        NoMatch => "MX host does not match any pattern of the policy",
        /// The pattern is not `["*."] Domain`.
        BadPattern => "MX pattern is not a host name or '*.' followed by a host name",
        /// The host is not a valid host name.
        BadHost => "MX host is not a valid host name",
        /// The host is an IPv4 address, which never matches a pattern.
        IpLiteral => "MX host is an IP address, not a name; MTA-STS matches names only",
    }
}

/// Validates an MX pattern from a policy: `["*."] Domain`.
pub fn validate_pattern(pattern: &[u8]) -> Result<(), name::NameError> {
    let domain = match pattern {
        [b'*', b'.', rest @ ..] => rest,
        _ => pattern,
    };
    name::validate(domain)
}

/// Validates and normalises an MX host for matching: strips one root dot,
/// checks the syntax, and refuses address literals.
pub fn prepare_host(host: &[u8]) -> Result<&[u8], MxError> {
    let host = name::strip_root(host);
    check_host(host)?;
    Ok(host)
}

/// [`prepare_host`] for a host whose root dot was already stripped: a
/// valid host name that is not an address.
#[inline]
pub fn check_host(host: &[u8]) -> Result<(), MxError> {
    if name::validate(host).is_err() {
        return Err(MxError::BadHost);
    }
    if name::looks_like_ipv4(host) {
        return Err(MxError::IpLiteral);
    }
    Ok(())
}

/// Matches one pattern against one host, validating both.
///
/// Returns `Ok(())` on a match and [`MxError::NoMatch`] otherwise.
pub fn pattern_match(pattern: &[u8], host: &[u8]) -> Result<(), MxError> {
    if validate_pattern(pattern).is_err() {
        return Err(MxError::BadPattern);
    }
    let host = prepare_host(host)?;
    if matches_prepared(pattern, host) {
        Ok(())
    } else {
        Err(MxError::NoMatch)
    }
}

/// Matches a validated pattern against a host already passed through
/// [`prepare_host`]. This is the hot path; it does no validation.
#[inline]
pub fn matches_prepared(pattern: &[u8], host: &[u8]) -> bool {
    match line_up(pattern, host) {
        None => false,
        Some(Lined::Exact) => true,
        Some(Lined::Wildcard(label)) => !label.is_empty() && !lex::has_byte(label, b'.'),
    }
}

/// How a host lines up with a validated pattern whose bytes it matches.
enum Lined<'h> {
    /// A plain pattern, equal to the host.
    Exact,
    /// A wildcard pattern whose `.suffix` ends the host; the part of the
    /// host before it (the label `*` has to stand for, not yet checked).
    Wildcard(&'h [u8]),
}

/// The comparison shared by [`matches_prepared`] and [`match_validated`]:
/// lengths first, then the bytes eight (or 16) at a time, without
/// lowercasing ([`name::eq_valid_ignore_case`]). `None` if they differ.
#[inline(always)]
fn line_up<'h>(pattern: &[u8], host: &'h [u8]) -> Option<Lined<'h>> {
    match pattern {
        // `dot_suffix` is `.example.com`: the host must end with it.
        [b'*', dot_suffix @ ..] => {
            let split = host.len().checked_sub(dot_suffix.len())?;
            let (label, tail) = host.split_at_checked(split)?;
            name::eq_valid_ignore_case(dot_suffix, tail).then_some(Lined::Wildcard(label))
        }
        _ => name::eq_valid_ignore_case(pattern, host).then_some(Lined::Exact),
    }
}

/// A host whose tail matched a wildcard pattern but whose first label is
/// not one valid label: two labels where the wildcard stands for one is no
/// match; anything else makes the host invalid. Out of line: rare.
#[cold]
#[inline(never)]
fn wildcard_label_fails(label: &[u8]) -> Option<Result<(), MxError>> {
    match lex::has_byte(label, b'.') {
        true => None,
        false => Some(Err(MxError::BadHost)),
    }
}

/// One step of [`Policy::match_mx`](crate::Policy::match_mx) for a
/// validated `pattern` and a host whose root dot is gone: `None` when the
/// pattern does not match, else the verdict on the host.
#[inline(always)]
pub(crate) fn match_validated(pattern: &[u8], host: &[u8]) -> Option<Result<(), MxError>> {
    // A wildcard must stand for one valid label.
    if let Lined::Wildcard(label) = line_up(pattern, host)? {
        if !name::label_is_valid(label) || host.len() > name::MAX_NAME_LEN {
            return wildcard_label_fails(label);
        }
    }
    // The host ends like the pattern, so only a final digit can make it
    // an address; testing that byte first skips the scan for real names.
    if host.last().is_some_and(u8::is_ascii_digit) && name::looks_like_ipv4(host) {
        return Some(Err(MxError::IpLiteral));
    }
    Some(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8461_4_1_pattern_matching() {
        // (pattern, host, expected), after webpki's subject_name tables.
        let cases: &[(&[u8], &[u8], Result<(), MxError>)] = &[
            (b"mx1.example.com", b"mx1.example.com", Ok(())),
            (b"mx1.example.com", b"MX1.EXAMPLE.COM", Ok(())),
            (b"MX1.example.com", b"mx1.example.com", Ok(())),
            (b"mx1.example.com", b"mx1.example.com.", Ok(())),
            (
                b"mx1.example.com",
                b"mx2.example.com",
                Err(MxError::NoMatch),
            ),
            (
                b"mx1.example.com",
                b"a.mx1.example.com",
                Err(MxError::NoMatch),
            ),
            (b"*.example.com", b"mx1.example.com", Ok(())),
            (b"*.example.com", b"Mx1.Example.Com.", Ok(())),
            (b"*.example.com", b"example.com", Err(MxError::NoMatch)),
            (b"*.example.com", b"a.b.example.com", Err(MxError::NoMatch)),
            (b"*.example.com", b"mx1.example.org", Err(MxError::NoMatch)),
            (b"*.example.com", b"mx1xexample.com", Err(MxError::NoMatch)),
            (b"*.mail.example.net", b"eu.mail.example.net", Ok(())),
            (
                b"**.example.com",
                b"a.example.com",
                Err(MxError::BadPattern),
            ),
            (b"*example.com", b"aexample.com", Err(MxError::BadPattern)),
            (
                b"a.*.example.com",
                b"a.b.example.com",
                Err(MxError::BadPattern),
            ),
            (b"example.com.", b"example.com", Err(MxError::BadPattern)),
            (b"", b"example.com", Err(MxError::BadPattern)),
            (b"*.", b"a", Err(MxError::BadPattern)),
            (b"mx1.example.com", b"", Err(MxError::BadHost)),
            (b"mx1.example.com", b".", Err(MxError::BadHost)),
            (
                b"mx1.example.com",
                b"mx1.example.com..",
                Err(MxError::BadHost),
            ),
            (
                b"mx1.example.com",
                b"mx_1.example.com",
                Err(MxError::BadHost),
            ),
            (b"*.example.com", b"*.example.com", Err(MxError::BadHost)),
            (
                b"m\xc3\xbcnchen.example",
                b"m\xc3\xbcnchen.example",
                Err(MxError::BadPattern),
            ),
            (b"xn--mnchen-3ya.example", b"XN--MNCHEN-3YA.example", Ok(())),
        ];
        for (p, h, want) in cases {
            assert_eq!(
                pattern_match(p, h),
                *want,
                "{:?} vs {:?}",
                core::str::from_utf8(p),
                core::str::from_utf8(h)
            );
        }
    }

    #[test]
    fn rfc8461_4_1_ip_literals_never_match() {
        assert_eq!(
            pattern_match(b"192.0.2.1", b"192.0.2.1"),
            Err(MxError::IpLiteral)
        );
        assert_eq!(
            pattern_match(b"*.2.0.192", b"1.2.0.192"),
            Err(MxError::IpLiteral)
        );
        assert_eq!(
            pattern_match(b"mx.example", b"[192.0.2.1]"),
            Err(MxError::BadHost)
        );
    }
}
