//! Check words: a value derived from the fields of a struct libsts filled,
//! stored beside them, so that a struct libsts did not fill (uninitialised,
//! zeroed) or whose fields were changed is refused rather than trusted.
//!
//! They run on every call that takes a parsed struct, and the boundary is
//! meant to cost next to nothing (docs/benchmarks.md), so each is one
//! multiply over folded words. A policy's 104 bytes are folded as 64-bit
//! words: with SSE2 on x86_64 (six 16-byte loads), else field by field.

use crate::records::sts_policy;
use core::ptr::addr_of;

/// The seed and the odd multiplier of every check word. A policy word's
/// key, mixed into it so that swapped words (two spans, say) change the
/// fold, is a step of [`KEY_STEP`] per position from [`KEY_BASE`], which
/// the portable fold computes as it goes rather than keeping a table in a
/// firmware image's flash.
const KEY_BASE: u64 = 0x5354_5331_cbf2_9ce4;
const KEY_STEP: u64 = 0x9e37_79b9_7f4a_7c15;

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
const fn key(i: usize) -> u64 {
    KEY_BASE.wrapping_add((i as u64 + 1).wrapping_mul(KEY_STEP))
}

/// Mixes a pointer and two words into 32 bits.
#[inline(always)]
pub(crate) fn check_word(ptr: *const u8, a: u64, b: u64) -> u32 {
    let h = ((ptr as usize as u64) ^ KEY_BASE ^ a.rotate_left(21) ^ b.rotate_left(43))
        .wrapping_mul(KEY_STEP);
    (h >> 32) as u32
}

/// The last step of a 64-bit policy check: the high half of one multiply,
/// so that every bit of the fold reaches the 32 bits kept.
#[cfg(target_pointer_width = "64")]
#[inline(always)]
fn finish(fold: u64) -> u32 {
    (fold.wrapping_mul(KEY_STEP) >> 32) as u32
}

/// The check word of a policy: every field but the check itself, as
/// words (on 64-bit targets thirteen: mode and max_age, mx_count, text,
/// len, the eight inline spans as start and length, rest_from; see
/// [`policy_check_portable`]), each xor its position's key, summed, then
/// multiplied.
///
/// # Safety
/// `p` must be non-null and readable for `size_of::<sts_policy>()` bytes.
/// The fields are read as plain integers, so any bit pattern a C caller
/// left there is fine.
#[inline(always)]
pub(crate) unsafe fn policy_check(p: *const sts_policy) -> u32 {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    // SAFETY: forwarded to the caller.
    return unsafe { policy_check_sse2(p) };
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    // SAFETY: forwarded to the caller.
    return unsafe { policy_check_portable(p) };
}

/// [`policy_check`] field by field: the definition the SSE2 version must
/// match, and what targets without it run.
///
/// # Safety
/// As for [`policy_check`].
#[cfg_attr(all(target_arch = "x86_64", target_feature = "sse2"), allow(dead_code))]
#[inline(always)]
unsafe fn policy_check_portable(p: *const sts_policy) -> u32 {
    // SAFETY: readable by contract; every field is read as an integer (the
    // mode through its `u32` representation).
    let (mode, max_age, mx_count, text, len, spans, rest_from) = unsafe {
        (
            addr_of!((*p).mode).cast::<u32>().read(),
            addr_of!((*p).max_age).read(),
            addr_of!((*p).mx_count).read(),
            addr_of!((*p).private_text).read(),
            addr_of!((*p).private_len).read(),
            addr_of!((*p).private_mx).read(),
            addr_of!((*p).private_rest_from).read(),
        )
    };
    // The struct's words at the target's width: on 64-bit targets the
    // same thirteen as the SSE2 fold; on 32-bit ones (firmware) each field
    // is a word of its own, which keeps 64-bit arithmetic out of flash.
    // Chained rather than gathered into an array, and `as_chunks` rather
    // than `chunks_exact`: flash holds the fold, not an array's set-up or a
    // panic path for a chunk size of zero.
    #[cfg(target_pointer_width = "64")]
    let words = {
        let (pairs, _) = spans.as_chunks::<2>();
        [
            mode as usize | (max_age as usize) << 32,
            mx_count,
            text as usize,
            len,
        ]
        .into_iter()
        .chain(
            pairs
                .iter()
                .map(|&[lo, hi]| lo as usize | (hi as usize) << 32),
        )
    };
    #[cfg(not(target_pointer_width = "64"))]
    let words = [
        mode as usize,
        max_age as usize,
        mx_count,
        text as usize,
        len,
    ]
    .into_iter()
    .chain(spans.iter().map(|&w| w as usize));
    let mut sum = 0usize;
    let mut k = KEY_BASE as usize;
    for w in words.chain([rest_from as usize]) {
        k = k.wrapping_add(KEY_STEP as usize);
        sum = sum.wrapping_add(w ^ k);
    }
    #[cfg(target_pointer_width = "64")]
    return finish(sum as u64);
    // An odd multiplier is a bijection on 32 bits: any change of the sum
    // changes the check.
    #[cfg(not(target_pointer_width = "64"))]
    return sum.wrapping_mul(KEY_STEP as usize) as u32;
}

// On x86_64 the first twelve words are the first 96 bytes of the struct as
// it lies in memory (little-endian, 64-bit), and rest_from follows.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
const _: () = {
    use core::mem::offset_of;
    assert!(offset_of!(sts_policy, mode) == 0 && offset_of!(sts_policy, max_age) == 4);
    assert!(offset_of!(sts_policy, mx_count) == 8 && offset_of!(sts_policy, private_text) == 16);
    assert!(offset_of!(sts_policy, private_len) == 24 && offset_of!(sts_policy, private_mx) == 32);
    assert!(offset_of!(sts_policy, private_rest_from) == 96);
};

/// The key vectors of the first twelve words, aligned for SSE2 loads.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[repr(C, align(16))]
struct Keys([u64; 12]);

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
static SSE2_KEYS: Keys = {
    let mut k = [0u64; 12];
    let mut i = 0;
    while i < 12 {
        k[i] = key(i);
        i += 1;
    }
    Keys(k)
};

/// [`policy_check`] as six 16-byte loads of the struct: xor, 64-bit adds,
/// one fold of the two lanes. LLVM does not find this from the portable
/// loop (it extracts lane by lane, about 75 instructions for the spans
/// alone where this needs 25 for everything).
///
/// # Safety
/// As for [`policy_check`].
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
unsafe fn policy_check_sse2(p: *const sts_policy) -> u32 {
    use core::arch::x86_64::{
        __m128i, _mm_add_epi64, _mm_cvtsi128_si64, _mm_load_si128, _mm_loadu_si128,
        _mm_shuffle_epi32, _mm_xor_si128,
    };
    let base = p.cast::<__m128i>();
    let keys = SSE2_KEYS.0.as_ptr().cast::<__m128i>();
    // SAFETY: the six loads read bytes 0..96 of the caller's struct
    // (readable by contract; unaligned loads) and of the 16-aligned key
    // table; SSE2 is on (the cfg above). They are `unsafe` only for want of
    // a `#[target_feature]` on an `#[inline(always)]` function.
    let folded = unsafe {
        let word =
            |i: usize| _mm_xor_si128(_mm_loadu_si128(base.add(i)), _mm_load_si128(keys.add(i)));
        let mut sum = word(0);
        for i in 1..6 {
            sum = _mm_add_epi64(sum, word(i));
        }
        sum = _mm_add_epi64(sum, _mm_shuffle_epi32::<0b01_00_11_10>(sum));
        _mm_cvtsi128_si64(sum) as u64
    };
    // SAFETY: readable by contract.
    let rest_from = unsafe { addr_of!((*p).private_rest_from).read() };
    finish(folded.wrapping_add(u64::from(rest_from) ^ key(12)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::sts_mode;

    fn random_policy(x: &mut u64) -> sts_policy {
        let mut next = || {
            *x ^= *x << 13;
            *x ^= *x >> 7;
            *x ^= *x << 17;
            *x
        };
        let mut p = sts_policy {
            mode: sts_mode::STS_MODE_TESTING,
            max_age: next() as u32,
            mx_count: next() as usize,
            private_text: next() as usize as *const u8,
            private_len: next() as usize,
            private_mx: [0; 16],
            private_rest_from: next() as u32,
            private_check: next() as u32,
        };
        for w in &mut p.private_mx {
            *w = next() as u32;
        }
        p
    }

    #[test]
    fn the_check_is_the_same_on_every_path() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..1000 {
            let p = random_policy(&mut x);
            // SAFETY: a live, whole struct.
            unsafe { assert_eq!(policy_check(&p), policy_check_portable(&p)) };
        }
    }

    #[test]
    fn a_swapped_pair_of_spans_or_words_changes_the_check() {
        let mut x = 7u64;
        let p = random_policy(&mut x);
        // SAFETY: live, whole structs, here and below.
        let before = unsafe { policy_check(&p) };
        for i in 0..16 {
            for j in i + 1..16 {
                let mut q = p;
                q.private_mx.swap(i, j);
                if q.private_mx != p.private_mx {
                    assert_ne!(unsafe { policy_check(&q) }, before, "words {i} and {j}");
                }
            }
        }
        let mut q = p;
        q.private_check ^= 1;
        assert_eq!(
            unsafe { policy_check(&q) },
            before,
            "the check word itself is not covered"
        );
    }
}
