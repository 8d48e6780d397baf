//! Structs that can grow: `sts_client_options`, `sts_report_outcome`,
//! `sts_decision` and `sts_lookup` begin with `struct_size`, which the
//! caller sets to `sizeof` the struct as its header declares it. A program
//! built against an older header (fewer fields) keeps working with a newer
//! library: fields past its `struct_size` read as zero on input and are not
//! written on output.
//!
//! Layout rule for whoever adds a field: append only, and start every new
//! field at a multiple of 8 bytes (add a `reserved` word if needed). An
//! older `sizeof` then ends exactly where a newer field begins, so the
//! trailing padding of an older struct is never read as a field.

use crate::result::sts_result;
use core::mem::{size_of, MaybeUninit};

/// The largest `struct_size` accepted: a bound on what is read or written
/// for a caller whose header is newer than this library.
pub(crate) const MAX_STRUCT_SIZE: usize = 4096;

/// A `#[repr(C)]` struct whose first field is `struct_size: u32`.
///
/// # Safety
/// `FIELD_STARTS` must be the offsets of the fields after `struct_size`, in
/// order, and the all-zero bit pattern must be a valid `Self`.
pub(crate) unsafe trait Extensible: Copy {
    /// Offsets at which a field begins (after `struct_size`): the sizes an
    /// older header can have given the struct.
    const FIELD_STARTS: &'static [usize];
}

/// The number of bytes of the caller's struct that this library reads or
/// writes as fields, from the `struct_size` it carries.
fn known_len<T: Extensible>(size: u32) -> Result<usize, sts_result> {
    let size = size as usize;
    if size >= size_of::<T>() && size <= MAX_STRUCT_SIZE {
        return Ok(size_of::<T>());
    }
    if T::FIELD_STARTS.contains(&size) {
        return Ok(size);
    }
    // Zero is the usual case here: a struct that was never initialised
    // with its size.
    Err(sts_result::STS_ERR_STRUCT_SIZE)
}

/// Reads an input struct from a caller. Fields past its `struct_size` are
/// zero. Bytes past this library's own `sizeof` must be zero: they are
/// fields of a newer header that this library cannot honour.
///
/// # Safety
/// `ptr` must be NULL or valid for reads of its `struct_size` bytes.
pub(crate) unsafe fn read<T: Extensible>(ptr: *const T) -> Result<T, sts_result> {
    if ptr.is_null() {
        return Err(sts_result::STS_ERR_NULL);
    }
    // SAFETY: non-null; every extensible struct starts with a u32.
    let size = unsafe { ptr.cast::<u32>().read() };
    let n = known_len::<T>(size)?;
    if size as usize > n {
        // SAFETY: the caller's struct is `size` bytes long by contract.
        let tail =
            unsafe { core::slice::from_raw_parts(ptr.cast::<u8>().add(n), size as usize - n) };
        if tail.iter().any(|b| *b != 0) {
            return Err(sts_result::STS_ERR_STRUCT_SIZE);
        }
    }
    let mut value = MaybeUninit::<T>::zeroed();
    // SAFETY: `n` <= size_of::<T>() and <= the caller's size; all-zero is a
    // valid T (trait contract) and the copied prefix holds whole fields
    // (n is a field start or the full size).
    unsafe {
        core::ptr::copy_nonoverlapping(ptr.cast::<u8>(), value.as_mut_ptr().cast::<u8>(), n);
        Ok(value.assume_init())
    }
}

/// The `struct_size` of an output struct, checked before any work is done.
///
/// # Safety
/// `ptr` must be NULL or valid for reads of a `u32`.
pub(crate) unsafe fn out_size<T: Extensible>(ptr: *mut T) -> Result<u32, sts_result> {
    if ptr.is_null() {
        return Err(sts_result::STS_ERR_NULL);
    }
    // SAFETY: non-null; every extensible struct starts with a u32.
    let size = unsafe { ptr.cast::<u32>().read() };
    known_len::<T>(size)?;
    Ok(size)
}

/// Writes an output struct: the fields the caller's `struct_size` covers;
/// bytes past this library's `sizeof` (fields of a newer header) are
/// zeroed, so they read as "not set" rather than stale.
///
/// # Safety
/// `ptr` must be valid for writes of `size` bytes, `size` from [`out_size`].
pub(crate) unsafe fn write<T: Extensible>(ptr: *mut T, size: u32, value: &T) {
    let Ok(n) = known_len::<T>(size) else {
        return;
    };
    let dst = ptr.cast::<u8>();
    // SAFETY: `n` <= size_of::<T>() and <= `size`; the destination holds
    // `size` bytes by contract. `struct_size` is written back unchanged.
    unsafe {
        core::ptr::copy_nonoverlapping((value as *const T).cast::<u8>(), dst, n);
        dst.cast::<u32>().write(size);
        if size as usize > n {
            core::ptr::write_bytes(dst.add(n), 0, size as usize - n);
        }
    }
}

/// Implements [`Extensible`] for a struct from the names of its fields
/// that an older header may end before.
macro_rules! extensible {
    ($t:ty { $($field:ident),+ $(,)? }) => {
        const _: () = assert!(core::mem::offset_of!($t, struct_size) == 0);
        // SAFETY: the offsets come from the compiler; the structs using
        // this hold only integers, raw pointers and optional function
        // pointers, for which all-zero is valid.
        unsafe impl crate::extensible::Extensible for $t {
            const FIELD_STARTS: &'static [usize] = &[$(core::mem::offset_of!($t, $field)),+];
        }
    };
}
pub(crate) use extensible;
