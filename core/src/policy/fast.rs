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

use super::{Mode, Policy, PolicyParts, Span, INLINE_MX};
use crate::name;

/// The first four bytes of each kind of line, little-endian.
const MX: u32 = u32::from_le_bytes(*b"mx: ");
const VERSION: u32 = u32::from_le_bytes(*b"vers");
const MODE: u32 = u32::from_le_bytes(*b"mode");
const MAX_AGE: u32 = u32::from_le_bytes(*b"max_");
/// `*.` before a wildcard pattern, and a CRLF line end, little-endian.
const WILDCARD: u16 = u16::from_le_bytes(*b"*.");
const CRLF: u16 = u16::from_le_bytes(*b"\r\n");

/// The shortest valid policy: `version: STSv1`, `mode: none` and
/// `max_age: 0`, each but the last ended by an LF.
const MIN_LEN: usize = 36;

/// Which single-use fields [`parse`] has seen, as bits of one word, so
/// that the line loop keeps one register for them rather than three.
const SEEN_VERSION: u32 = 1;
const SEEN_MODE: u32 = 2;
const SEEN_MAX_AGE: u32 = 4;

#[inline(always)]
pub(super) fn parse(text: &[u8]) -> Option<Policy<'_>> {
    // Positions fit in a `u32` span. And no valid policy is shorter than
    // `MIN_LEN`: knowing that, the compiler drops the short-text copies
    // (calls) of the padded reads from the loop.
    let len = text.len();
    if u32::try_from(len).is_err() || len < MIN_LEN {
        return None;
    }
    let mut seen = 0u32;
    let mut mode = Mode::None;
    let mut max_age = 0u32;
    let mut mx_count = 0usize;
    let mut inline = [Span::default(); INLINE_MX];
    let mut rest_from = len as u32;

    let mut pos = 0usize;
    let mut head = head_at(text, 0)?;
    loop {
        // `end` is where the line's terminator must start.
        let end = match head {
            MX => {
                let start = pos + 4;
                let from = match text.get(start..start + 2) {
                    Some(&[a, b]) if u16::from_le_bytes([a, b]) == WILDCARD => start + 2,
                    _ => start,
                };
                let end = name::scan_short_domain_at(text, from)?;
                if let Some(slot) = inline.get_mut(mx_count) {
                    *slot = Span {
                        start: start as u32,
                        len: (end - start) as u32,
                    };
                } else if mx_count == INLINE_MX {
                    rest_from = pos as u32;
                }
                mx_count += 1;
                end
            }
            VERSION if seen & SEEN_VERSION == 0 => {
                if text.get(pos..pos + 14)? != b"version: STSv1" {
                    return None;
                }
                seen |= SEEN_VERSION;
                pos + 14
            }
            MODE if seen & SEEN_MODE == 0 => {
                let line = text.get(pos..)?;
                let n;
                (mode, n) = if line.starts_with(b"mode: enforce") {
                    (Mode::Enforce, 13)
                } else if line.starts_with(b"mode: testing") {
                    (Mode::Testing, 13)
                } else if line.starts_with(b"mode: none") {
                    (Mode::None, 10)
                } else {
                    return None;
                };
                seen |= SEEN_MODE;
                pos + n
            }
            MAX_AGE if seen & SEEN_MAX_AGE == 0 => {
                if text.get(pos + 4..pos + 9)? != b"age: " {
                    return None;
                }
                let n;
                (max_age, n) = read_max_age(text, pos + 9)?;
                seen |= SEEN_MAX_AGE;
                pos + 9 + n
            }
            _ => return None,
        };
        // The terminator and the next line's first four bytes, read as one
        // word where the text has eight bytes left: one load and one bounds
        // check per line instead of three of each.
        // `end` is at most `len`, below 2^32: through `u32` the compiler
        // knows `end + 8` cannot overflow, and checks one bound, not two.
        let end = end as u32 as usize;
        (pos, head) = match text.get(end..end + 8).and_then(|t| t.first_chunk::<8>()) {
            Some(w) => {
                let w = u64::from_le_bytes(*w);
                if w as u16 == CRLF {
                    (end + 2, (w >> 16) as u32)
                } else if w as u8 == b'\n' {
                    (end + 1, (w >> 8) as u32)
                } else {
                    // A CR alone, whitespace, a stray byte: the full parser's.
                    return None;
                }
            }
            _ => {
                let next = match text.get(end) {
                    Some(b'\n') => end + 1,
                    Some(b'\r') if text.get(end + 1) == Some(&b'\n') => end + 2,
                    None if end == len => break,
                    _ => return None,
                };
                if next == len {
                    break;
                }
                (next, head_at(text, next)?)
            }
        };
    }

    if seen != SEEN_VERSION | SEEN_MODE | SEEN_MAX_AGE || (mx_count == 0 && mode != Mode::None) {
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

/// The first four bytes of the line at `pos`, little-endian; `None` if the
/// text ends sooner (no field fits in fewer).
#[inline(always)]
fn head_at(text: &[u8], pos: usize) -> Option<u32> {
    match text.get(pos..pos + 4) {
        Some(&[a, b, c, d]) => Some(u32::from_le_bytes([a, b, c, d])),
        _ => None,
    }
}

/// The `max_age` that `s` starts with and the number of its digits:
/// `1*10(DIGIT)`, at most [`super::MAX_AGE_LIMIT`] (see `parse_max_age`);
/// `None` otherwise.
#[inline(always)]
fn read_max_age(text: &[u8], at: usize) -> Option<(u32, usize)> {
    let s = text.get(at..)?;
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    // Eight bytes at once, zeros past the end of a short text (a zero is
    // not a digit): digits become 0..=9, anything else has its high bit
    // set after adding 0x76 (or had it already).
    let x = name::word_padded(text, at) ^ (LO * 0x30);
    let not_digit = (((x & !HI) + LO * 0x76) | x) & HI;
    let n = (not_digit.trailing_zeros() / 8) as usize;
    if n == 0 {
        return None;
    }
    // The n digits moved to the high bytes read as a number with leading
    // zeros; three multiply-and-shift steps combine digits in pairs, fours
    // and eights. (A shift by 64 would overflow: eight digits stay put.)
    let v = x << ((8 * (8 - n)) & 63);
    let v = (v & (LO * 0x0f)).wrapping_mul(2561) >> 8;
    let v = (v & 0x00ff_00ff_00ff_00ff).wrapping_mul(6_553_601) >> 16;
    let v = (v & 0x0000_ffff_0000_ffff).wrapping_mul(42_949_672_960_001) >> 32;
    if n < 8 {
        // Seven digits are below the limit.
        return Some((v as u32, n));
    }
    // Eight digits, then up to two more (`1*10DIGIT`), each a step of the
    // loop rather than a call out of the fast path's.
    let mut v = v;
    let mut n = n;
    for &d in s.get(8..).unwrap_or_default().iter().take(3) {
        if !d.is_ascii_digit() {
            break;
        }
        v = v * 10 + u64::from(d - b'0');
        n += 1;
    }
    if n > 10 || v > u64::from(super::MAX_AGE_LIMIT) {
        return None;
    }
    Some((v as u32, n))
}

#[cfg(test)]
mod tests {
    use super::read_max_age;

    #[test]
    fn rfc8461_3_2_max_age_digits() {
        let cases: &[(&[u8], Option<(u32, usize)>)] = &[
            (b"604800\r\n", Some((604_800, 6))),
            (b"604800", Some((604_800, 6))),
            (b"0\n      ", Some((0, 1))),
            (b"1234567\n", Some((1_234_567, 7))),
            (b"31557600\n", Some((31_557_600, 8))),
            (b"0031557600\n", Some((31_557_600, 10))),
            (b"99999999999\n", None),
            (b"x1234567", None),
            (b"", None),
            (b"12\xb3\x00\x00\x00\x00\x00", Some((12, 2))),
            (b"9/:99999", Some((9, 1))),
        ];
        for (s, want) in cases {
            assert_eq!(read_max_age(s, 0), *want, "{:?}", s);
        }
        // Every length and digit at every place, against the slow loop.
        for len in 1..=7usize {
            for d in 0..=9u8 {
                for at in 0..len {
                    let mut buf = *b"12345678\n\n";
                    buf[at] = b'0' + d;
                    buf[len] = b'\n';
                    let want: u32 = core::str::from_utf8(&buf[..len])
                        .ok()
                        .and_then(|t| t.parse().ok())
                        .unwrap_or(u32::MAX);
                    assert_eq!(read_max_age(&buf, 0), Some((want, len)));
                }
            }
        }
    }
}
