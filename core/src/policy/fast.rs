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
/// The mode lines as two overlapping words: bytes 0..8 and 5..13.
const MODE_EN: u64 = u64::from_le_bytes(*b"mode: en");
const MODE_TE: u64 = u64::from_le_bytes(*b"mode: te");
const MODE_NO: u64 = u64::from_le_bytes(*b"mode: no");
const ENFORCE: u64 = u64::from_le_bytes(*b" enforce");
const TESTING: u64 = u64::from_le_bytes(*b" testing");
/// `*.` before a wildcard pattern, and a CRLF line end, little-endian.
const WILDCARD: u16 = u16::from_le_bytes(*b"*.");
const CRLF: u16 = u16::from_le_bytes(*b"\r\n");

/// The shortest valid policy: `version: STSv1`, `mode: none` and
/// `max_age: 0`, each but the last ended by an LF. Shorter texts go to the
/// full parser, so the text always has a whole [`Lines`] window.
const MIN_LEN: usize = 36;

/// How many bytes of a line [`parse`] reads at once: every field's name,
/// value and terminator, but for the end of an mx value past its 24th byte.
const WINDOW: usize = 32;

/// Which single-use fields [`parse`] has seen, as bits of one word, so
/// that the line loop keeps one register for them rather than three.
const SEEN_VERSION: u32 = 1;
const SEEN_MODE: u32 = 2;
const SEEN_MAX_AGE: u32 = 4;

/// The text, read in fixed-size windows: a line's bytes are then checked
/// with loads at constant offsets and one bounds check per line, rather
/// than one per field, and the end of the text needs no call to copy it.
struct Lines<'a> {
    text: &'a [u8],
    /// The text's last [`WINDOW`] bytes, then zeros: where windows that
    /// reach past the end are read from (a zero is in no field).
    tail: [u8; 2 * WINDOW],
}

impl<'a> Lines<'a> {
    #[inline(always)]
    fn new(text: &'a [u8]) -> Option<Self> {
        let tail_from = text.len().checked_sub(WINDOW)?;
        let last = text.get(tail_from..)?.first_chunk::<WINDOW>()?;
        let mut tail = [0u8; 2 * WINDOW];
        tail[..WINDOW].copy_from_slice(last);
        Some(Self { text, tail })
    }

    /// The `N` bytes at `pos`, zeros past the end of the text; `None` past
    /// the end.
    #[inline(always)]
    fn at<const N: usize>(&self, pos: u32) -> Option<&[u8; N]> {
        // From a `u32`, `pos + N` cannot overflow: one compare.
        let pos = pos as usize;
        if pos + N <= self.text.len() {
            self.text.get(pos..pos + N)?.first_chunk::<N>()
        } else {
            // `tail` starts WINDOW bytes before the end of the text.
            let from = self.text.len().checked_sub(WINDOW)?;
            self.tail.get(pos.checked_sub(from)?..)?.first_chunk::<N>()
        }
    }
}

/// A little-endian `u16` of the two bytes of `w` at `i`, 0 past its end
/// (which callers' offsets rule out).
#[inline(always)]
fn u16_at<const N: usize>(w: &[u8; N], i: usize) -> u16 {
    match w.get(i..).and_then(|t| t.first_chunk::<2>()) {
        Some(b) => u16::from_le_bytes(*b),
        None => 0,
    }
}

#[inline(always)]
pub(super) fn parse(text: &[u8]) -> Option<Policy<'_>> {
    let len = text.len();
    // Positions fit in a `u32` span.
    if u32::try_from(len).is_err() || len < MIN_LEN {
        return None;
    }
    let lines = Lines::new(text)?;
    let mut seen = 0u32;
    let mut mode = Mode::None;
    let mut max_age = 0u32;
    let mut mx_count = 0usize;
    let mut inline = [Span::default(); INLINE_MX];
    let mut rest_from = len as u32;

    // Positions are `u32` (the length is below 2^32): the window reads
    // then need no overflow checks.
    let mut pos = 0u32;
    loop {
        let w = lines.at::<WINDOW>(pos)?;
        let at = pos as usize;
        // `end`: where in `w` the line's terminator must start.
        let end = match u32::from_le_bytes(*w.first_chunk::<4>()?) {
            MX => {
                let from = if u16_at(w, 4) == WILDCARD { 6 } else { 4 };
                let name_end = name::scan_short_name(w, from - 1, at + from - 1, |i| {
                    lines.at::<17>(u32::try_from(i).ok()?)
                })?;
                let start = pos + 4;
                let end = name_end - at;
                if let Some(slot) = inline.get_mut(mx_count) {
                    *slot = Span {
                        start,
                        len: end as u32 - 4,
                    };
                } else if mx_count == INLINE_MX {
                    rest_from = pos;
                }
                mx_count += 1;
                end
            }
            VERSION if seen & SEEN_VERSION == 0 => {
                if name::word_padded(w, 0) != u64::from_le_bytes(*b"version:")
                    || name::word_padded(w, 6) != u64::from_le_bytes(*b"n: STSv1")
                {
                    return None;
                }
                seen |= SEEN_VERSION;
                14
            }
            MODE if seen & SEEN_MODE == 0 => {
                let n;
                (mode, n) = match (name::word_padded(w, 0), name::word_padded(w, 5)) {
                    (MODE_EN, ENFORCE) => (Mode::Enforce, 13),
                    (MODE_TE, TESTING) => (Mode::Testing, 13),
                    (MODE_NO, _) if u16_at(w, 8) == u16::from_le_bytes(*b"ne") => (Mode::None, 10),
                    _ => return None,
                };
                seen |= SEEN_MODE;
                n
            }
            MAX_AGE if seen & SEEN_MAX_AGE == 0 => {
                if name::word_padded(w, 1) != u64::from_le_bytes(*b"ax_age: ") {
                    return None;
                }
                let n;
                (max_age, n) = read_max_age(w.get(9..)?.first_chunk::<11>()?)?;
                seen |= SEEN_MAX_AGE;
                9 + n
            }
            _ => return None,
        };
        // The terminator: from the line's window unless a long mx value
        // took it past the window.
        let t = if end <= WINDOW - 2 {
            u16_at(w, end)
        } else {
            u16_at(lines.at::<2>(u32::try_from(at + end).ok()?)?, 0)
        };
        let end = at + end;
        let next = if t == CRLF {
            end + 2
        } else if t as u8 == b'\n' {
            end + 1
        } else if end == len {
            break;
        } else {
            // A CR alone, whitespace, a stray byte: the full parser's.
            return None;
        };
        if next == len {
            break;
        }
        pos = next as u32;
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

/// The `max_age` that `s` starts with and the number of its digits:
/// `1*10(DIGIT)`, at most [`super::MAX_AGE_LIMIT`] (see `parse_max_age`);
/// `None` otherwise. `s` is zeros past the end of the text (a zero is not
/// a digit).
#[inline(always)]
fn read_max_age(s: &[u8; 11]) -> Option<(u32, usize)> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    // Eight bytes at once: digits become 0..=9, anything else has its
    // high bit set after adding 0x76 (or had it already).
    let x = name::word_padded(s, 0) ^ (LO * 0x30);
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
    // Eight digits, then up to two more (`1*10DIGIT`) and the byte after.
    let mut v = v;
    let mut n = n;
    for &d in s.get(8..).unwrap_or_default() {
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

    /// `s` as the parser passes it: eleven bytes, zeros past the text.
    fn padded(s: &[u8]) -> [u8; 11] {
        let mut w = [0u8; 11];
        for (d, b) in w.iter_mut().zip(s) {
            *d = *b;
        }
        w
    }

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
            assert_eq!(read_max_age(&padded(s)), *want, "{:?}", s);
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
                    assert_eq!(read_max_age(&padded(&buf)), Some((want, len)));
                }
            }
        }
    }
}
