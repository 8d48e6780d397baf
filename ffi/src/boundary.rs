//! The checks every export makes before it trusts its arguments.

use crate::result::sts_result;
use core::ffi::{c_char, CStr};

/// Runs `f` so that a panic becomes `STS_ERR_PANIC` instead of unwinding
/// into C, which would be undefined behaviour.
#[cfg(feature = "std")]
pub(crate) fn guard(f: impl FnOnce() -> Result<(), sts_result>) -> sts_result {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(Ok(())) => sts_result::STS_OK,
        Ok(Err(e)) => e,
        Err(_) => sts_result::STS_ERR_PANIC,
    }
}

/// Without std there is no unwinding: firmware builds use `panic = "abort"`
/// and the panic handler in lib.rs. The core is written never to panic.
#[cfg(not(feature = "std"))]
pub(crate) fn guard(f: impl FnOnce() -> Result<(), sts_result>) -> sts_result {
    match f() {
        Ok(()) => sts_result::STS_OK,
        Err(e) => e,
    }
}

/// A byte range from C. NULL is an error even with length 0, so that a
/// forgotten pointer is never mistaken for empty input.
///
/// # Safety
/// `ptr` must be NULL or valid for reads of `len` bytes for `'a`.
pub(crate) unsafe fn bytes<'a>(ptr: *const u8, len: usize) -> Result<&'a [u8], sts_result> {
    if ptr.is_null() {
        return Err(sts_result::STS_ERR_NULL);
    }
    if len > isize::MAX as usize {
        return Err(sts_result::STS_ERR_INVALID_ARGUMENT);
    }
    // SAFETY: non-null, length bounded, validity is the caller's contract.
    Ok(unsafe { core::slice::from_raw_parts(ptr, len) })
}

/// A NUL-terminated C string as bytes (without the NUL).
///
/// # Safety
/// `ptr` must be NULL or point to a NUL-terminated string valid for `'a`.
pub(crate) unsafe fn cstr<'a>(ptr: *const c_char) -> Result<&'a [u8], sts_result> {
    if ptr.is_null() {
        return Err(sts_result::STS_ERR_NULL);
    }
    // SAFETY: non-null and NUL-terminated by the caller's contract.
    Ok(unsafe { CStr::from_ptr(ptr) }.to_bytes())
}

/// A reference to a caller's struct, or `STS_ERR_NULL`.
///
/// # Safety
/// `ptr` must be NULL or point to a valid, aligned `T` for `'a`.
pub(crate) unsafe fn arg<'a, T>(ptr: *const T) -> Result<&'a T, sts_result> {
    // SAFETY: as documented.
    unsafe { ptr.as_ref() }.ok_or(sts_result::STS_ERR_NULL)
}

/// Checks that an output pointer is usable before any work is done.
pub(crate) fn out_ptr<T>(ptr: *mut T) -> Result<*mut T, sts_result> {
    if ptr.is_null() {
        Err(sts_result::STS_ERR_NULL)
    } else {
        Ok(ptr)
    }
}

/// Writes an output.
///
/// # Safety
/// `ptr` must come from [`out_ptr`] and be valid for a write of `T`.
pub(crate) unsafe fn write<T>(ptr: *mut T, value: T) {
    // SAFETY: non-null (checked by `out_ptr`), validity is the caller's contract.
    unsafe { ptr.write(value) }
}

/// An optional NUL-terminated UTF-8 string: NULL is `None`.
#[cfg(feature = "client")]
///
/// # Safety
/// `ptr` must be NULL or point to a NUL-terminated string valid for `'a`.
pub(crate) unsafe fn opt_utf8<'a>(ptr: *const c_char) -> Result<Option<&'a str>, sts_result> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: non-null and NUL-terminated by the caller's contract.
    let b = unsafe { cstr(ptr) }?;
    core::str::from_utf8(b)
        .map(Some)
        .map_err(|_| sts_result::STS_ERR_NOT_UTF8)
}

/// A required NUL-terminated UTF-8 string.
///
/// # Safety
/// As for [`opt_utf8`].
#[cfg(feature = "client")]
pub(crate) unsafe fn utf8<'a>(ptr: *const c_char) -> Result<&'a str, sts_result> {
    // SAFETY: forwarded to the caller.
    unsafe { opt_utf8(ptr) }?.ok_or(sts_result::STS_ERR_NULL)
}

/// The `n` (pointer, length) pairs of a C array of byte ranges, each
/// entry checked as by [`bytes`]. NULL arrays are allowed only when `n` is
/// 0. Absurd counts are refused before memory is touched: no real chain,
/// root store, TLSA RRset or TXT answer comes near 65536 entries.
///
/// # Safety
/// `ptrs` and `lens` must hold `n` entries, each valid for its length.
pub(crate) unsafe fn byte_ranges<'a>(
    ptrs: *const *const u8,
    lens: *const usize,
    n: usize,
) -> Result<impl Iterator<Item = &'a [u8]> + Clone, sts_result> {
    let (ptrs, lens): (&[*const u8], &[usize]) = if n == 0 {
        (&[], &[])
    } else if ptrs.is_null() || lens.is_null() {
        return Err(sts_result::STS_ERR_NULL);
    } else if n > 1 << 16 {
        return Err(sts_result::STS_ERR_INVALID_ARGUMENT);
    } else {
        // SAFETY: non-null with `n` entries by contract.
        unsafe {
            (
                core::slice::from_raw_parts(ptrs, n),
                core::slice::from_raw_parts(lens, n),
            )
        }
    };
    // Every entry is checked first, so that the caller's work cannot fail
    // half-way on a NULL in the middle.
    for (p, l) in ptrs.iter().zip(lens) {
        // SAFETY: forwarded to the caller.
        unsafe { bytes(*p, *l) }?;
    }
    Ok(ptrs.iter().zip(lens).map(|(p, l)| {
        // SAFETY: checked just above (non-null, length bounded); validity
        // is the caller's contract.
        unsafe { core::slice::from_raw_parts(*p, *l) }
    }))
}
