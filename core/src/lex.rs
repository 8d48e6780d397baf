//! Character classes and small scanners shared by the record grammars.

/// `WSP` from RFC 5234: space or horizontal tab.
#[inline]
pub(crate) const fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Index of the first byte at or after `i` that is not `WSP`.
#[inline]
pub(crate) fn skip_wsp(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && is_wsp(s[i]) {
        i += 1;
    }
    i
}

/// Index of the first LF in `s`. Reads eight bytes at a time: lines are
/// short, but this is the loop every byte of a policy goes through.
#[inline]
pub(crate) fn find_lf(s: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const LF: u64 = LO * b'\n' as u64;
    // split_first_chunk rather than chunks_exact + copy_from_slice: the
    // latter keeps a panic location (and with it every string of the
    // crate's merged string section) in size-optimised firmware builds.
    let mut rest = s;
    let mut base = 0usize;
    while let Some((word, tail)) = rest.split_first_chunk::<8>() {
        let x = u64::from_le_bytes(*word) ^ LF;
        // The lowest byte of x that is zero is the first LF; bytes above a
        // zero byte may be flagged falsely, which trailing_zeros ignores.
        let zero = x.wrapping_sub(LO) & !x & HI;
        if zero != 0 {
            return Some(base + (zero.trailing_zeros() / 8) as usize);
        }
        base += 8;
        rest = tail;
    }
    rest.iter().position(|&b| b == b'\n').map(|p| base + p)
}

/// `s` without trailing `WSP`.
#[inline]
pub(crate) fn trim_wsp_end(mut s: &[u8]) -> &[u8] {
    while let [rest @ .., last] = s {
        if !is_wsp(*last) {
            break;
        }
        s = rest;
    }
    s
}

/// Whether `s` holds `b`. Not `contains`: on bytes that is memchr, whose
/// word-at-a-time code costs 200 to 500 bytes of firmware flash, for
/// scans of a label or an erroneous line.
#[inline]
pub(crate) fn has_byte(s: &[u8], b: u8) -> bool {
    for &x in s {
        if x == b {
            return true;
        }
    }
    false
}

/// `s` from `i` on, empty past the end. Parsers slice with this rather
/// than `&s[i..]`: an index that cannot fail still costs a panic path
/// (core's formatting, 8 KB of flash) where the optimiser cannot see that.
#[inline(always)]
pub(crate) fn tail(s: &[u8], i: usize) -> &[u8] {
    match s.split_at_checked(i) {
        Some((_, tail)) => tail,
        None => &[],
    }
}

/// `&s[i..]` for an `i` known to be in range, for the policy line loop:
/// 64-bit builds index, which x86_64 parses 8 instructions faster with
/// (callgrind); 32-bit builds (firmware) use [`tail`], as one panic path
/// keeps core's formatting, 8 KB, in a stable firmware build.
#[inline(always)]
pub(crate) fn tail_in_range(s: &[u8], i: usize) -> &[u8] {
    if cfg!(target_pointer_width = "64") {
        &s[i..]
    } else {
        tail(s, i)
    }
}

/// `&s[..n]` for an `n` known to be in range; see [`tail_in_range`].
#[inline(always)]
pub(crate) fn head_in_range(s: &[u8], n: usize) -> &[u8] {
    if cfg!(target_pointer_width = "64") {
        &s[..n]
    } else {
        head(s, n)
    }
}

/// The first `n` bytes of `s` (all of it if shorter); see [`tail`].
#[inline(always)]
pub(crate) fn head(s: &[u8], n: usize) -> &[u8] {
    match s.split_at_checked(n) {
        Some((head, _)) => head,
        None => s,
    }
}

/// The extension-name grammar shared by RFC 8461 §3.1/§3.2 and RFC 8460 §3:
/// `(ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")`.
pub(crate) fn is_ext_name(name: &[u8]) -> bool {
    match name.split_first() {
        Some((first, rest)) => {
            first.is_ascii_alphanumeric()
                && rest.len() <= 31
                && rest
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        }
        None => false,
    }
}

/// The TXT extension-value grammar of RFC 8461 §3.1 and RFC 8460 §3:
/// `1*(%x21-3A / %x3C / %x3E-7E)`, i.e. visible ASCII except `;` and `=`.
pub(crate) fn is_txt_ext_value(value: &[u8]) -> bool {
    !value.is_empty()
        && value
            .iter()
            .all(|&b| matches!(b, 0x21..=0x3a | 0x3c | 0x3e..=0x7e))
}

/// Defines `as_str()` and `Display` for a fieldless error enum from one
/// table, so that the message and the variant never drift apart.
macro_rules! error_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[non_exhaustive]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every variant, in declaration order (for tables and tests).
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// A short English description of the broken rule.
            pub fn as_str(self) -> &'static str {
                let s = self.as_nul_terminated();
                &s[..s.len() - 1]
            }

            /// [`Self::as_str`] followed by a NUL byte, for C callers.
            pub const fn as_nul_terminated(self) -> &'static str {
                match self {
                    $( $name::$variant => concat!($text, "\0"), )+
                }
            }
        }

        impl core::fmt::Display for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use error_enum;

#[cfg(test)]
mod tests {
    use super::*;

    // The slicing helpers stand in for indexes in the parsers, and 32-bit
    // builds take the other branch of the _in_range pair: both must give
    // what the index gives, and never panic out of range.
    #[test]
    fn slicing_helpers_agree_with_indexing() {
        let s = b"mx: a.example\r";
        for i in 0..=s.len() {
            assert_eq!(tail(s, i), &s[i..]);
            assert_eq!(tail_in_range(s, i), &s[i..]);
            assert_eq!(head(s, i), &s[..i]);
            assert_eq!(head_in_range(s, i), &s[..i]);
        }
        assert_eq!(tail(s, s.len() + 1), b"");
        assert_eq!(tail(s, usize::MAX), b"");
        assert_eq!(head(s, s.len() + 1), s);
    }

    #[test]
    fn has_byte_and_trim_wsp_end() {
        assert!(has_byte(b"a.b", b'.'));
        assert!(!has_byte(b"ab", b'.'));
        assert!(!has_byte(b"", b'.'));
        assert_eq!(trim_wsp_end(b"abc \t "), b"abc");
        assert_eq!(trim_wsp_end(b" \t"), b"");
        assert_eq!(trim_wsp_end(b" a"), b" a");
    }
}
