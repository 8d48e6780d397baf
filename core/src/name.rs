//! DNS host names as MTA-STS uses them.
//!
//! MX patterns in a policy are `["*."] Domain` where `Domain` is the
//! RFC 5321 §4.1.2 production: labels of letters, digits and hyphens that
//! start and end with a letter or digit. Internationalised names must be
//! given as A-labels (RFC 8461 §3.2), so any non-ASCII byte is an error.
//! Lengths follow RFC 1035 §2.3.4: 63 octets per label, 253 for the name
//! in text form without the root dot.
//!
//! **Trailing dots.** A policy pattern may not end in a dot (the ABNF has
//! no root label). An MX host name handed to us by a resolver often does
//! (`mx1.example.com.`), and that dot only says the name is absolute, which
//! MX targets always are; so [`strip_root`] removes one trailing dot from
//! a *host* before it is validated or compared. Patterns are never
//! stripped.

use crate::lex::error_enum;

error_enum! {
    /// Why a byte string is not a valid host name.
    pub enum NameError {
        /// The name is empty.
        Empty => "host name is empty",
        /// More than 253 octets (RFC 1035 §2.3.4).
        TooLong => "host name is longer than 253 octets",
        /// Two dots in a row, or a leading or trailing dot.
        EmptyLabel => "host name has an empty label",
        /// A label longer than 63 octets (RFC 1035 §2.3.4).
        LabelTooLong => "host name has a label longer than 63 octets",
        /// A byte other than a letter, digit, hyphen or dot; this includes
        /// `_` and every non-ASCII byte (U-labels must be A-labels).
        BadCharacter => "host name has a character other than letters, digits, '-' and '.'",
        /// A label starts or ends with `-` (RFC 5321 `sub-domain`).
        HyphenAtLabelEdge => "host name has a label that starts or ends with '-'",
    }
}

/// Longest host name in text form, without the root dot.
pub const MAX_NAME_LEN: usize = 253;
/// Longest label.
pub const MAX_LABEL_LEN: usize = 63;

/// Byte classes for the validation loop: 0 = invalid, 1 = letter or digit,
/// 2 = hyphen, 3 = dot. A static, not a const: a const table is copied
/// into every crate that inlines a reader (firmware images had two).
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = if b.is_ascii_alphanumeric() {
            1
        } else if b == b'-' {
            2
        } else if b == b'.' {
            3
        } else {
            0
        };
        i += 1;
    }
    t
};

/// Checks that `name` is an RFC 5321 `Domain` (LDH labels, A-labels only,
/// no trailing dot) within the RFC 1035 length limits.
#[inline]
pub fn validate(name: &[u8]) -> Result<(), NameError> {
    // Fast path for the common, valid case: the block scan of mx values
    // must read the whole name. Anything else goes to the slow path, which
    // names the broken rule.
    if scan_domain_at(name, 0) == Some(name.len()) {
        Ok(())
    } else {
        validate_slow(name)
    }
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// For a word of ASCII bytes, the high bit of each byte that lies in
/// `lo..=hi`. The additions cannot carry from one byte into the next.
#[inline(always)]
const fn bytes_in(x: u64, lo: u8, hi: u8) -> u64 {
    let ge_lo = x.wrapping_add(LO * (0x80 - lo) as u64);
    let gt_hi = x.wrapping_add(LO * (0x7f - hi) as u64);
    ge_lo & !gt_hi & HI
}

/// [`scan_domain_at`] from the start of `s`, giving the length of the name.
#[cfg(test)]
fn scan_domain(s: &[u8]) -> Option<usize> {
    scan_domain_with::<block::Native>(s, 0)
}

/// Where the longest run of letters, digits, `-` and `.` that starts at
/// `s[from]` ends (an index into `s`), if that run is a valid `Domain`
/// (see [`validate`]); `None` if it is not, including when it is empty.
/// The policy fast path uses it to find and check an mx value in one pass.
///
/// A block of bytes at a time (16 with SSE2 on x86_64, else 8 in a
/// `u64`): each block gives a bit mask of its name bytes, which finds the
/// end, and one of the `..`, `.-` and `-.` pairs, which are the only ways
/// to break the label rules inside a name once its first and last bytes
/// are letters or digits.
#[inline]
pub(crate) fn scan_domain_at(s: &[u8], from: usize) -> Option<usize> {
    scan_domain_with::<block::Native>(s, from)
}

/// The end (an index into the text) of the name that starts after
/// `w[off]`, which is at `base` in the text, if it is a valid `Domain` of
/// at most [`MAX_LABEL_LEN`] bytes (a longer one needs [`validate_slow`]'s
/// label count: `None`, for the caller's slow path). The blocks come from
/// the window `w` while they fit in it, then from `read(i)`, the 17 bytes
/// at `i` in the text, zeros past its end. For the policy fast path, which
/// reads each line through a window already in registers and whose loop a
/// call to `validate_slow` would cost its registers on every line.
#[inline(always)]
pub(crate) fn scan_short_name<'w, const N: usize>(
    w: &'w [u8; N],
    off: usize,
    base: usize,
    read: impl Fn(usize) -> Option<&'w [u8; 17]>,
) -> Option<usize> {
    use block::Classify;
    type B = block::Native;
    let block = |j: usize| match w
        .get(off + j * B::LEN..)
        .and_then(|t| t.first_chunk::<17>())
    {
        Some(b) => Some(b),
        None => read(base + j * B::LEN),
    };
    let inside = |stop: u32| !stop & stop.wrapping_sub(1);
    let first = block(0)?;
    let (ldh, pair) = B::classify_window(first, Lead::AsDot);
    let stop = !ldh & B::ALL;
    if stop != 0 {
        // Byte k of the window is the name's last: a letter or a digit.
        let k = stop.trailing_zeros() as usize;
        if k == 0 || pair & inside(stop) != 0 || *first.get(k)? < b'0' {
            return None;
        }
        return Some(base + 1 + k);
    }
    let mut bad = pair;
    // Enough blocks for MAX_LABEL_LEN name bytes and the stop after them.
    for j in 1..=MAX_LABEL_LEN / B::LEN {
        let w = block(j)?;
        let (ldh, pair) = B::classify_window(w, Lead::AsIs);
        let stop = !ldh & B::ALL;
        bad |= pair & inside(stop);
        if stop != 0 {
            let k = stop.trailing_zeros() as usize;
            let end = base + j * B::LEN + 1 + k;
            if bad != 0 || *w.get(k)? < b'0' || end - base > MAX_LABEL_LEN + 1 {
                return None;
            }
            return Some(end);
        }
    }
    None
}

#[inline(always)]
fn scan_domain_with<B: block::Classify>(s: &[u8], from: usize) -> Option<usize> {
    // Each block classifies the bytes after its base. Inside `s`, the first
    // block's base is the byte before the name, which it reads as a dot:
    // the pairs `..` and `.-` there catch a name that starts with a dot or
    // a hyphen. At the start of `s`, the first byte is checked alone.
    let (mut base, lead) = match from.checked_sub(1) {
        Some(before) => (before, Lead::AsDot),
        None if s.first()?.is_ascii_alphanumeric() => (0, Lead::AsIs),
        None => return None,
    };
    let (ldh, pair) = B::classify(s, base, lead);
    // Bytes of the name among base + 1 ..: those before the first non-LDH
    // byte, the stop. Pair k is bytes base + k and base + k + 1; `..`,
    // `.-` and `-.` inside the name (an empty label, a hyphen at the edge
    // of a label) are errors, so only the pairs before the stop count.
    let stop = !ldh & B::ALL;
    let inside = |stop: u32| !stop & stop.wrapping_sub(1);
    if stop != 0 {
        // The whole name is in one block: short enough for every limit.
        let end = base + 1 + stop.trailing_zeros() as usize;
        // The last byte must end a label: a letter or a digit (it is a
        // name byte, and those below '0' are '-' and '.').
        if end == from || pair & inside(stop) != 0 || *s.get(end - 1)? < b'0' {
            return None;
        }
        return Some(end);
    }
    let mut bad = pair;
    loop {
        base += B::LEN;
        let (ldh, pair) = B::classify(s, base, Lead::AsIs);
        let stop = !ldh & B::ALL;
        bad |= pair & inside(stop);
        if stop != 0 {
            let end = base + 1 + stop.trailing_zeros() as usize;
            if bad != 0 || *s.get(end - 1)? < b'0' {
                return None;
            }
            // Labels are short unless the name is long; `validate_slow`
            // also checks the length of the name.
            if end - from > MAX_LABEL_LEN && validate_slow(s.get(from..end)?).is_err() {
                return None;
            }
            return Some(end);
        }
    }
}

/// Runs the mx scan's block classifier over all of `s` and folds the
/// masks together: the work any pass that checks every byte this way does
/// before it looks at a single line. `scripts/callgrind.sh` measures it
/// as a floor (`classify:FILE`); not an API.
#[doc(hidden)]
pub fn classify_floor(s: &[u8]) -> u32 {
    use block::Classify;
    let mut acc = 0u32;
    let mut i = 0;
    while i < s.len() {
        let (ldh, pair) = block::Native::classify(s, i, Lead::AsIs);
        acc = acc.rotate_left(1) ^ ldh ^ pair;
        i += block::Native::LEN;
    }
    acc
}

/// How [`block::Classify`] reads the first byte of a block (its base),
/// which only takes part in the first pair.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lead {
    /// As it is.
    AsIs,
    /// As a dot, whatever it is.
    AsDot,
}

/// [`scan_domain_at`]'s classifiers: 16 bytes at a time with SSE2, which
/// every x86_64 CPU has (through `safe_arch`'s compile-time-checked
/// wrappers), else 8 bytes in a `u64`. Both are built and tested on
/// x86_64; the second is what other targets use.
mod block {
    use super::{bytes_in, Lead, HI, LO};

    /// Bit masks, bit k for byte `i + 1 + k` (zeros past the end of `s`,
    /// which are not name bytes), of the name bytes after `i`, and, bit k
    /// for bytes `i + k` and `i + k + 1`, of the pairs `..`, `.-` and `-.`
    /// (valid whenever both bytes are name bytes); with [`Lead::AsDot`],
    /// byte `i` counts as a dot in pair 0.
    pub(super) trait Classify {
        const LEN: usize;
        const ALL: u32;
        fn classify(s: &[u8], i: usize, lead: Lead) -> (u32, u32);
        /// [`Self::classify`] of the block that starts `w` (`i` is
        /// `w[0]`), which holds it and the byte after it.
        fn classify_window(w: &[u8; 17], lead: Lead) -> (u32, u32);
    }

    #[cfg(all(target_arch = "x86_64", target_feature = "sse2", not(feature = "swar")))]
    pub(super) type Native = Sse2;
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2", not(feature = "swar"))))]
    pub(super) type Native = Swar;

    #[cfg(all(target_arch = "x86_64", target_feature = "sse2", not(feature = "swar")))]
    pub(super) struct Sse2;

    #[cfg(all(target_arch = "x86_64", target_feature = "sse2", not(feature = "swar")))]
    impl Classify for Sse2 {
        const LEN: usize = 16;
        const ALL: u32 = 0xffff;

        #[inline(always)]
        fn classify(s: &[u8], i: usize, lead: Lead) -> (u32, u32) {
            // This block and the next byte (for the pairs).
            match s
                .get(i..i.wrapping_add(17))
                .and_then(|w| w.first_chunk::<17>())
            {
                Some(w) => Self::classify_window(w, lead),
                None => Self::classify_window(&padded(s, i), lead),
            }
        }

        #[inline(always)]
        fn classify_window(w: &[u8; 17], lead: Lead) -> (u32, u32) {
            use safe_arch::{
                add_i8_m128i, bitand_m128i, bitandnot_m128i, bitor_m128i, cmp_eq_mask_i8_m128i,
                cmp_gt_mask_i8_m128i, load_unaligned_m128i, m128i, move_mask_i8_m128i,
                set_splat_i8_m128i, sub_saturating_u8_m128i, zeroed_m128i,
            };
            let (x, next) = match (w.first_chunk::<16>(), w.last_chunk::<16>()) {
                (Some(a), Some(b)) => (load_unaligned_m128i(a), load_unaligned_m128i(b)),
                _ => (zeroed_m128i(), zeroed_m128i()),
            };
            let x = match lead {
                Lead::AsIs => x,
                Lead::AsDot => {
                    let mut keep = [0xffu8; 16];
                    keep[0] = 0;
                    let mut dot = [0u8; 16];
                    dot[0] = b'.';
                    bitor_m128i(bitand_m128i(x, m128i::from(keep)), m128i::from(dot))
                }
            };
            let splat = |b: u8| set_splat_i8_m128i(b as i8);
            // Signed compares after a shift of range: 'a'..='z' (upper
            // case folded by bit 5) lands on -128..=-103 and '-'..='9' on
            // -128..=-116; every other byte, non-ASCII included, lands
            // above.
            let folded = bitor_m128i(next, splat(0x20));
            let letter = cmp_gt_mask_i8_m128i(splat(0x9a), add_i8_m128i(folded, splat(0x1f)));
            let dash_to_nine = cmp_gt_mask_i8_m128i(splat(0x8d), add_i8_m128i(next, splat(0x53)));
            let slash = cmp_eq_mask_i8_m128i(next, splat(b'/'));
            let ldh = bitandnot_m128i(slash, bitor_m128i(letter, dash_to_nine));
            // Of two name bytes, only `-.`, `.-` (sum 0x5b) and `..` (0x5c)
            // add up to 0x5b or 0x5c: subtract 0x5b, saturate at 1.
            let sum = add_i8_m128i(add_i8_m128i(x, next), splat(0xa5));
            let pair = cmp_eq_mask_i8_m128i(sub_saturating_u8_m128i(sum, splat(1)), zeroed_m128i());
            (
                move_mask_i8_m128i(ldh) as u32,
                move_mask_i8_m128i(pair) as u32,
            )
        }
    }

    /// The bytes from `i` to the end of `s`, padded with zeros (only for
    /// the last block of a text, so kept out of the loop).
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2", not(feature = "swar")))]
    #[cold]
    #[inline(never)]
    fn padded(s: &[u8], i: usize) -> [u8; 17] {
        let mut bytes = [0u8; 17];
        for (dst, src) in bytes.iter_mut().zip(s.get(i..).unwrap_or_default()) {
            *dst = *src;
        }
        bytes
    }

    #[cfg_attr(all(target_arch = "x86_64", not(test)), allow(dead_code))]
    pub(super) struct Swar;

    impl Classify for Swar {
        const LEN: usize = 8;
        const ALL: u32 = 0xff;

        // Firmware (32-bit) keeps one copy: the scan calls it twice.
        #[cfg_attr(target_pointer_width = "64", inline(always))]
        #[cfg_attr(not(target_pointer_width = "64"), inline(never))]
        fn classify(s: &[u8], i: usize, lead: Lead) -> (u32, u32) {
            classify_words(super::word_padded(s, i), super::word_padded(s, i + 1), lead)
        }

        #[inline(always)]
        fn classify_window(w: &[u8; 17], lead: Lead) -> (u32, u32) {
            let word = |k: usize| match w.get(k..).and_then(|t| t.first_chunk::<8>()) {
                Some(b) => u64::from_le_bytes(*b),
                None => 0,
            };
            classify_words(word(0), word(1), lead)
        }
    }

    /// [`Swar`]'s masks from the block's word and the word one byte on.
    #[cfg_attr(all(target_arch = "x86_64", not(test)), allow(dead_code))]
    #[inline(always)]
    fn classify_words(w: u64, next: u64, lead: Lead) -> (u32, u32) {
        let (_, mut dot, mut hyphen) = classify_word(w);
        if lead == Lead::AsDot {
            dot |= 1;
            hyphen &= !1;
        }
        let (ldh_next, dot_next, hyphen_next) = classify_word(next);
        let pair = (dot & (dot_next | hyphen_next)) | (hyphen & dot_next);
        (ldh_next, pair)
    }

    /// Bit masks of the name bytes, dots and hyphens of a word.
    #[cfg_attr(all(target_arch = "x86_64", not(test)), allow(dead_code))]
    #[inline(always)]
    fn classify_word(w: u64) -> (u32, u32, u32) {
        // Classify the low seven bits, which cannot carry between bytes,
        // and drop the bytes whose high bit was set.
        let ascii = !w & HI;
        let x = w & !HI;
        // Setting bit 5 folds upper-case letters onto lower case; no other
        // byte lands on a-z.
        let letter = bytes_in(x | (LO * 0x20), b'a', b'z');
        let digit = bytes_in(x, b'0', b'9');
        let dot_or_hyphen = bytes_in(x, b'-', b'.') & ascii;
        // '-' is 0x2d and '.' is 0x2e: bit 0 tells them apart.
        let hyphen = dot_or_hyphen & (x << 7);
        let dot = dot_or_hyphen & !hyphen;
        let ldh = ((letter | digit) & ascii) | dot_or_hyphen;
        (bits(ldh), bits(dot), bits(hyphen))
    }

    /// The high bit of each byte, gathered into the low eight bits.
    #[cfg_attr(all(target_arch = "x86_64", not(test)), allow(dead_code))]
    #[inline(always)]
    fn bits(m: u64) -> u32 {
        ((m >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u32
    }
}

/// 1 to 63 octets, not starting or ending with a hyphen (the characters
/// were checked already).
#[inline(always)]
fn label_ok(label: &[u8]) -> bool {
    match label {
        [first, .., last] => label.len() <= MAX_LABEL_LEN && *first != b'-' && *last != b'-',
        [only] => *only != b'-',
        [] => false,
    }
}

/// [`validate`], one byte at a time, reporting the first broken rule.
#[cold]
fn validate_slow(name: &[u8]) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > MAX_NAME_LEN {
        return Err(NameError::TooLong);
    }
    let mut label_len = 0usize;
    let mut prev = 3u8; // as if preceded by a dot
    for &b in name {
        let class = CLASS[b as usize];
        match class {
            1 => label_len += 1,
            2 => {
                if prev == 3 {
                    return Err(NameError::HyphenAtLabelEdge);
                }
                label_len += 1;
            }
            3 => {
                if prev == 3 {
                    return Err(NameError::EmptyLabel);
                }
                if prev == 2 {
                    return Err(NameError::HyphenAtLabelEdge);
                }
                label_len = 0;
            }
            _ => return Err(NameError::BadCharacter),
        }
        if label_len > MAX_LABEL_LEN {
            return Err(NameError::LabelTooLong);
        }
        prev = class;
    }
    match prev {
        3 => Err(NameError::EmptyLabel),
        2 => Err(NameError::HyphenAtLabelEdge),
        _ => Ok(()),
    }
}

/// Removes one trailing root dot from a host name (see the module docs).
#[inline]
pub fn strip_root(host: &[u8]) -> &[u8] {
    match host.split_last() {
        Some((b'.', rest)) => rest,
        _ => host,
    }
}

/// ASCII case-insensitive equality, the comparison DNS names use
/// (RFC 4343).
#[inline]
pub fn eq_ignore_case(a: &[u8], b: &[u8]) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// ASCII case-insensitive equality of `valid`, a valid host name or part
/// of one (letters, digits, `-`, `.`), with arbitrary bytes `other`.
///
/// Eight bytes at a time: a byte may differ only in bit 5 (0x20), and only
/// where `valid` has a letter (bit 6 set; digits, `-` and `.` have it
/// clear), in which case `other` holds the same letter in the other case.
#[inline]
pub fn eq_valid_ignore_case(valid: &[u8], other: &[u8]) -> bool {
    const FOLD: u64 = 0x2020_2020_2020_2020;
    #[inline(always)]
    fn differ(v: u64, o: u64) -> u64 {
        (v ^ o) & !((v >> 1) & FOLD)
    }
    let n = valid.len();
    if n != other.len() {
        return false;
    }
    // On 32-bit targets (firmware) the byte loop is the smaller code.
    if n < 8 || cfg!(not(target_pointer_width = "64")) {
        return valid
            .iter()
            .zip(other)
            .all(|(&v, &o)| (v ^ o) & !((v >> 1) & 0x20) == 0);
    }
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2", not(feature = "swar")))]
    if (16..=32).contains(&n) {
        return sse2_eq_valid_ignore_case(valid, other);
    }
    // Words at 0, 8 and n - 8 cover up to 24 bytes (overlapping when
    // shorter), which is most host names; longer ones loop over the rest,
    // leaving at the first difference (which also keeps LLVM from
    // unrolling a loop that usually runs zero times).
    let last = n - 8;
    let mut diff = differ(word_padded(valid, 0), word_padded(other, 0))
        | differ(word_padded(valid, last), word_padded(other, last));
    if n > 16 {
        diff |= differ(word_padded(valid, 8), word_padded(other, 8));
        let mut i = 16;
        while i < last && diff == 0 {
            diff |= differ(word_padded(valid, i), word_padded(other, i));
            i += 8;
        }
    }
    diff == 0
}

/// [`eq_valid_ignore_case`] for 16 to 32 bytes: two overlapping 16-byte
/// blocks, at the start and at the end.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2", not(feature = "swar")))]
#[inline(always)]
fn sse2_eq_valid_ignore_case(valid: &[u8], other: &[u8]) -> bool {
    use safe_arch::{
        bitand_m128i, bitandnot_m128i, bitor_m128i, bitxor_m128i, cmp_eq_mask_i8_m128i,
        load_unaligned_m128i, m128i, move_mask_i8_m128i, set_splat_i8_m128i, shr_imm_u16_m128i,
        zeroed_m128i,
    };
    let load = |s: &[u8], i: usize| -> m128i {
        let mut b = [0u8; 16];
        if let Some(src) = s.get(i..i.wrapping_add(16)) {
            b.copy_from_slice(src);
        }
        load_unaligned_m128i(&b)
    };
    // Bit 6 of each byte of `valid` (set for letters only) moved to bit 5:
    // the one bit allowed to differ. Shifting 16-bit lanes moves a bit of
    // the next byte into bit 7, which the mask drops.
    let differ = |v: m128i, o: m128i| -> m128i {
        let allowed = bitand_m128i(shr_imm_u16_m128i::<1>(v), set_splat_i8_m128i(0x20));
        bitandnot_m128i(allowed, bitxor_m128i(v, o))
    };
    let last = valid.len() - 16;
    let diff = bitor_m128i(
        differ(load(valid, 0), load(other, 0)),
        differ(load(valid, last), load(other, last)),
    );
    move_mask_i8_m128i(cmp_eq_mask_i8_m128i(diff, zeroed_m128i())) == 0xffff
}

/// The eight bytes at `i` as a little-endian word, padded with zeros
/// past the end of `s` (a zero byte is not a name byte).
#[inline(always)]
pub(crate) fn word_padded(s: &[u8], i: usize) -> u64 {
    // try_from, not copy_from_slice: see lex::find_lf.
    match s
        .get(i..i.wrapping_add(8))
        .and_then(|src| <[u8; 8]>::try_from(src).ok())
    {
        Some(w) => u64::from_le_bytes(w),
        None => {
            let mut w = [0u8; 8];
            for (dst, src) in w.iter_mut().zip(s.get(i..).unwrap_or_default()) {
                *dst = *src;
            }
            u64::from_le_bytes(w)
        }
    }
}

/// Whether `label` is one valid label: 1 to 63 letters, digits and
/// hyphens, not starting or ending with a hyphen.
#[inline]
pub fn label_is_valid(label: &[u8]) -> bool {
    label_ok(label) && label.iter().all(|&b| CLASS[b as usize].wrapping_sub(1) < 2)
}

/// Whether a *valid* host name is really an IPv4 address in dotted form.
///
/// No top-level domain is all-numeric (RFC 3696 §2), so a name whose last
/// label is all digits is an address literal and never a host name; RFC
/// 8461 §4.1 matches names only.
pub fn looks_like_ipv4(name: &[u8]) -> bool {
    let last = match name.iter().rposition(|&b| b == b'.') {
        Some(dot) => name.get(dot + 1..).unwrap_or_default(),
        None => name,
    };
    !last.is_empty() && last.iter().all(u8::is_ascii_digit)
}

/// RFC 6125 §6.4.3 DNS-ID matching with the restrictions MTA-STS and
/// certificate validation agree on: `presented` may start with a wildcard
/// label `*` that stands for exactly one whole, non-empty label of
/// `reference`; no other wildcard form (`f*.example`, `*.*.example`,
/// `a.*.example`) matches anything. Comparison ignores ASCII case.
///
/// Both names must already be valid (see [`validate`]); this function only
/// compares.
#[inline]
pub fn wildcard_match(presented: &[u8], reference: &[u8]) -> bool {
    match presented {
        [b'*', b'.', suffix @ ..] if !suffix.is_empty() => {
            // `suffix` must equal the reference minus its first label, and
            // that first label must be non-empty and contain no dot.
            if reference.len() < suffix.len() + 2 {
                return false;
            }
            let split = reference.len() - suffix.len();
            let (first, rest) = reference.split_at(split);
            first[first.len() - 1] == b'.'
                && !first[..first.len() - 1].contains(&b'.')
                && rest.eq_ignore_ascii_case(suffix)
        }
        _ => presented.eq_ignore_ascii_case(reference),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc5321_4_1_2_domain_syntax() {
        let cases: &[(&[u8], Result<(), NameError>)] = &[
            (b"example.com", Ok(())),
            (b"mx1.example.com", Ok(())),
            (b"MX1.Example.COM", Ok(())),
            (b"a", Ok(())),
            (b"xn--mnchen-3ya.example", Ok(())),
            (b"a-b.c-d", Ok(())),
            (b"1.2.3.4", Ok(())),
            (b"", Err(NameError::Empty)),
            (b".", Err(NameError::EmptyLabel)),
            (b"example.com.", Err(NameError::EmptyLabel)),
            (b".example.com", Err(NameError::EmptyLabel)),
            (b"a..b", Err(NameError::EmptyLabel)),
            (b"-a.b", Err(NameError::HyphenAtLabelEdge)),
            (b"a-.b", Err(NameError::HyphenAtLabelEdge)),
            (b"a.b-", Err(NameError::HyphenAtLabelEdge)),
            (b"a.-b", Err(NameError::HyphenAtLabelEdge)),
            (b"a_b.example", Err(NameError::BadCharacter)),
            (b"*.example.com", Err(NameError::BadCharacter)),
            (b"m\xc3\xbcnchen.example", Err(NameError::BadCharacter)),
            (b"a b", Err(NameError::BadCharacter)),
            (b"a\0b", Err(NameError::BadCharacter)),
        ];
        for (name, want) in cases {
            assert_eq!(validate(name), *want, "{:?}", core::str::from_utf8(name));
        }
    }

    #[test]
    fn rfc1035_2_3_4_length_limits() {
        let label63 = [b'a'; 63];
        assert_eq!(validate(&label63), Ok(()));
        let label64 = [b'a'; 64];
        assert_eq!(validate(&label64), Err(NameError::LabelTooLong));
        // 4 labels of 63 and dots = 255 > 253.
        let mut long = [b'a'; 255];
        for i in [63, 127, 191] {
            long[i] = b'.';
        }
        assert_eq!(validate(&long), Err(NameError::TooLong));
        assert_eq!(validate(&long[..253]), Ok(()));
    }

    #[test]
    fn trailing_root_dot_is_stripped_from_hosts_once() {
        assert_eq!(strip_root(b"mx.example."), b"mx.example");
        assert_eq!(strip_root(b"mx.example"), b"mx.example");
        assert_eq!(strip_root(b"mx.example.."), b"mx.example.");
        assert_eq!(strip_root(b""), b"");
    }

    #[test]
    fn rfc3696_2_numeric_tld_is_an_address() {
        assert!(looks_like_ipv4(b"192.0.2.1"));
        assert!(looks_like_ipv4(b"10"));
        assert!(!looks_like_ipv4(b"mx1.example.com"));
        assert!(!looks_like_ipv4(b"1.2.3.com"));
        assert!(!looks_like_ipv4(b"1.2.3.4a"));
    }

    #[test]
    fn rfc6125_6_4_3_wildcard_is_whole_leftmost_label_only() {
        // (presented, reference, expected), after webpki's subject_name tables.
        let cases: &[(&[u8], &[u8], bool)] = &[
            (b"mx.example.com", b"mx.example.com", true),
            (b"MX.example.COM", b"mx.EXAMPLE.com", true),
            (b"mx.example.com", b"mx.example.org", false),
            (b"*.example.com", b"mx.example.com", true),
            (b"*.example.com", b"MX.EXAMPLE.COM", true),
            (b"*.example.com", b"example.com", false),
            (b"*.example.com", b".example.com", false),
            (b"*.example.com", b"a.b.example.com", false),
            (b"*.example.com", b"mxexample.com", false),
            (b"*.example.com", b"x.notexample.com", false),
            (b"mx.example.com", b"*.example.com", false),
            (b"f*.example.com", b"foo.example.com", false),
            (b"*", b"example", false),
            (b"*.", b"a.", false),
        ];
        for (p, r, want) in cases {
            assert_eq!(
                wildcard_match(p, r),
                *want,
                "{:?} vs {:?}",
                core::str::from_utf8(p),
                core::str::from_utf8(r)
            );
        }
    }

    /// `input` must scan to `want` with both classifiers, from its start
    /// and after a prefix (`mx: `, `mx: *.` or a letter, which the block
    /// reads as a dot), as the policy fast path calls the scan.
    fn check_scans(input: &[u8], want: Option<usize>) {
        let name = core::str::from_utf8(input);
        assert_eq!(scan_domain(input), want, "{name:?}");
        assert_eq!(
            scan_domain_with::<block::Swar>(input, 0),
            want,
            "u64 blocks: {name:?}"
        );
        for prefix in [&b"mx: "[..], b"mx: *.", b"q"] {
            let text = [prefix, input].concat();
            let want = want.map(|end| end + prefix.len());
            assert_eq!(
                scan_domain_at(&text, prefix.len()),
                want,
                "{prefix:?} {name:?}"
            );
            assert_eq!(
                scan_domain_with::<block::Swar>(&text, prefix.len()),
                want,
                "u64 blocks: {prefix:?} {name:?}"
            );
        }
    }

    #[test]
    fn rfc5321_4_1_2_scan_domain_stops_at_first_non_name_byte() {
        // (input, length of the valid name it starts with)
        let cases: &[(&[u8], Option<usize>)] = &[
            (b"mx1.example.com\r\n", Some(15)),
            (b"mx1.example.com", Some(15)),
            (b"a\n", Some(1)),
            (b"a", Some(1)),
            (b"xn--mnchen-3ya.example\n", Some(22)),
            (b"a-b.c-d e", Some(7)),
            (b"MX.Example.NET\n", Some(14)),
            (b"eu.mail.example.net:x", Some(19)),
            (b"a.b\xc3\xbc", Some(3)),
            (b"0123456789.0123456789.0123456789.0123456789\n", Some(43)),
            (b"", None),
            (b"\n", None),
            (b".a\n", None),
            (b"a.\n", None),
            (b"a.", None),
            (b"a..b\n", None),
            (b"-a\n", None),
            (b"a-\n", None),
            (b"a-.b\n", None),
            (b"a.-b\n", None),
            (b"abcdefg.-bcdefg\n", None),
            (b"abcdefgh-.bcdefg\n", None),
            (b"abcdefg-\n", None),
            (b"abcdefgh.\n", None),
            (b"*.example.com", None),
        ];
        for (input, want) in cases {
            check_scans(input, *want);
        }
        // Long labels and names: the limits of RFC 1035 §2.3.4.
        let mut long = [b'a'; 300];
        assert_eq!(scan_domain(&long[..63]), Some(63));
        assert_eq!(scan_domain(&long[..64]), None);
        for i in [63, 127, 191] {
            long[i] = b'.';
        }
        assert_eq!(scan_domain(&long[..253]), Some(253));
        assert_eq!(scan_domain(&long[..254]), None);
    }

    #[test]
    fn scan_domain_agrees_with_validate_at_every_cut() {
        // Names built from the tricky bytes after a run of letters (so
        // that they cross the 8- and 16-byte block boundaries), followed
        // by a terminator, with or without bytes after it: scan_domain
        // must say what validate_slow says of the name, with both
        // classifiers, and validate must give validate_slow's verdict.
        let alphabet: &[u8] = b"a-.Z9";
        let mut buf = [b'q'; 40];
        for pad in [0usize, 5, 13] {
            for len in 0..=7usize {
                let combos = alphabet.len().pow(len as u32);
                for mut k in 0..combos {
                    buf[..pad].fill(b'q');
                    for b in buf.iter_mut().skip(pad).take(len) {
                        *b = alphabet[k % alphabet.len()];
                        k /= alphabet.len();
                    }
                    let end = pad + len;
                    buf[end] = b'\n';
                    // The byte-at-a-time validator is the reference
                    // (`validate` itself now starts with the scan).
                    let want = validate_slow(&buf[..end]).ok().map(|()| end);
                    assert_eq!(validate(&buf[..end]), validate_slow(&buf[..end]));
                    for tail in [end + 1, buf.len()] {
                        check_scans(&buf[..tail], want);
                    }
                }
            }
        }
    }

    #[test]
    fn rfc4343_eq_valid_ignore_case() {
        let cases: &[(&[u8], &[u8], bool)] = &[
            (b"mx.example.com", b"MX.EXAMPLE.COM", true),
            (b"MX.example.com", b"mx.EXAMPLE.com", true),
            (b"a1-.b", b"A1-.B", true),
            (b"mx.example.com", b"mx.example.con", false),
            (b"mx.example.com", b"mx.example.co", false),
            // Only letters fold: 0x20 apart is not a match elsewhere.
            (b"a.b", b"a\x0eb", false),
            (b"a-b", b"a\x0db", false),
            (b"a1b", b"a\x11b", false),
            (b"abcdefgh.1", b"ABCDEFGH\x0e1", false),
            (b"abcdefgh1jklmnopq.st", b"ABCDEFGH\x11JKLMNOPQ.ST", false),
            (
                b"abcdefgh1jklmnopqrstuvwxyz.com",
                b"ABCDEFGH1JKLMNOPQRSTUVWXYZ.COM",
                true,
            ),
            (
                b"abcdefgh1jklmnopqrstuvwxyz.com",
                b"ABCDEFGH1JKLMNOPQRSTUVWXYZ.CON",
                false,
            ),
            (
                b"abcdefgh1jklmnopqrstuvwxyz.com",
                b"ABCDEFGH1JKLMNOPQRSTUVWXY\x1a.COM",
                false,
            ),
        ];
        for (valid, other, want) in cases {
            assert_eq!(
                eq_valid_ignore_case(valid, other),
                *want,
                "{:?} vs {:?}",
                core::str::from_utf8(valid),
                core::str::from_utf8(other)
            );
            assert_eq!(
                valid.eq_ignore_ascii_case(other),
                *want,
                "model disagrees on {:?}",
                core::str::from_utf8(valid)
            );
        }
    }

    #[test]
    fn error_strings_are_distinct_and_nonempty() {
        for (i, a) in NameError::ALL.iter().enumerate() {
            assert!(!a.as_str().is_empty());
            for b in &NameError::ALL[i + 1..] {
                assert_ne!(a.as_str(), b.as_str());
            }
        }
    }
}
