//! The fast path of [`parse`](super::parse): one pass over the common shape
//! of a policy file, and `None` for anything else.
//!
//! It accepts only lines that are exactly `version: STSv1`, `mode: <mode>`,
//! `max_age: <digits>` and `mx: <pattern>` (one space after the colon, no
//! trailing whitespace, each field but `mx` at most once), ended by LF,
//! CRLF or the end of the text. Every other input, valid or not, goes to
//! the full parser, which also names the broken rule. So this path only
//! has to be right when it says yes, and it must then give exactly what
//! the full parser gives; `parse` and `parse_detailed` are compared on
//! every test input, in the property tests and in the `policy` fuzz
//! target.

use super::{Mode, Policy, PolicyParts, Span, INLINE_MX, MAX_AGE_LIMIT};
use crate::name;

/// The first four bytes of each kind of line, little-endian.
const MX: u32 = u32::from_le_bytes(*b"mx: ");
const VERSION: u32 = u32::from_le_bytes(*b"vers");
const MODE: u32 = u32::from_le_bytes(*b"mode");
const MAX_AGE: u32 = u32::from_le_bytes(*b"max_");

#[inline]
pub(super) fn parse(text: &[u8]) -> Option<Policy<'_>> {
    let len = text.len();
    if u32::try_from(len).is_err() {
        return None;
    }
    let mut mode = None;
    let mut max_age = None;
    let mut have_version = false;
    let mut mx_count = 0usize;
    let mut inline = [Span::default(); INLINE_MX];
    let mut rest_from = len as u32;

    let mut pos = 0usize;
    while pos < len {
        let head = match text.get(pos..pos + 4) {
            Some(&[a, b, c, d]) => u32::from_le_bytes([a, b, c, d]),
            _ => return None,
        };
        // `end` is where the line's terminator must start.
        let end = match head {
            MX => {
                let start = pos + 4;
                let rest = text.get(start..)?;
                let domain = match rest {
                    [b'*', b'.', domain @ ..] => domain,
                    _ => rest,
                };
                let n = name::scan_domain(domain)?;
                let value_len = n + (rest.len() - domain.len());
                if let Some(slot) = inline.get_mut(mx_count) {
                    *slot = Span {
                        start: start as u32,
                        len: value_len as u32,
                    };
                } else if mx_count == INLINE_MX {
                    rest_from = pos as u32;
                }
                mx_count += 1;
                start + value_len
            }
            VERSION if !have_version => {
                if text.get(pos..pos + 14)? != b"version: STSv1" {
                    return None;
                }
                have_version = true;
                pos + 14
            }
            MODE if mode.is_none() => {
                let (m, n) = match text.get(pos + 6..)? {
                    [b'e', b'n', b'f', b'o', b'r', b'c', b'e', ..] => (Mode::Enforce, 7),
                    [b't', b'e', b's', b't', b'i', b'n', b'g', ..] => (Mode::Testing, 7),
                    [b'n', b'o', b'n', b'e', ..] => (Mode::None, 4),
                    _ => return None,
                };
                if text.get(pos + 4..pos + 6)? != b": " {
                    return None;
                }
                mode = Some(m);
                pos + 6 + n
            }
            MAX_AGE if max_age.is_none() => {
                if text.get(pos + 4..pos + 9)? != b"age: " {
                    return None;
                }
                let digits = text.get(pos + 9..)?;
                let mut value = 0u64;
                let mut n = 0usize;
                for &d in digits.iter().take(11) {
                    if !d.is_ascii_digit() {
                        break;
                    }
                    value = value * 10 + u64::from(d - b'0');
                    n += 1;
                }
                if n == 0 || n > 10 || value > u64::from(MAX_AGE_LIMIT) {
                    return None;
                }
                max_age = Some(value as u32);
                pos + 9 + n
            }
            _ => return None,
        };
        pos = match text.get(end..end + 2) {
            None if end == len => len,
            Some([b'\n', ..]) => end + 1,
            Some([b'\r', b'\n']) => end + 2,
            // A lone LF at the very end is covered above; anything else
            // (a CR alone, whitespace, a stray byte) is the full parser's.
            _ if text.get(end) == Some(&b'\n') => end + 1,
            _ => return None,
        };
    }

    let mode = mode?;
    let max_age = max_age?;
    if !have_version || (mx_count == 0 && mode != Mode::None) {
        return None;
    }
    Some(Policy {
        text,
        parts: PolicyParts {
            mode,
            max_age,
            mx_count,
            inline,
            rest_from,
        },
    })
}
