//! Parsing and matching: the TXT record, the policy file, MX patterns and
//! the TLSRPT record, over caller-owned bytes and with no allocation.

use crate::boundary::{arg, byte_ranges, bytes, cstr, guard, out_ptr, write};
use crate::check::{check_word, policy_check};
use crate::result::sts_result;
use core::ptr::addr_of;
use sts_core::policy::{self, Mode, MxList, Span, INLINE_MX};
use sts_core::{mx, tlsrpt, txt};

/// The policy mode (RFC 8461 §5).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum sts_mode {
    /// `none`: no active policy; deliver as without MTA-STS.
    STS_MODE_NONE = 0,
    /// `testing`: deliver even when validation fails, and report it.
    STS_MODE_TESTING = 1,
    /// `enforce`: deliver only to permitted MX hosts with valid certificates.
    STS_MODE_ENFORCE = 2,
}

impl From<Mode> for sts_mode {
    fn from(m: Mode) -> Self {
        match m {
            Mode::None => sts_mode::STS_MODE_NONE,
            Mode::Testing => sts_mode::STS_MODE_TESTING,
            Mode::Enforce => sts_mode::STS_MODE_ENFORCE,
        }
    }
}

/// Number of `uint32_t` in `sts_policy.private_mx`.
pub const STS_POLICY_MX_WORDS: usize = 16;
const MX_WORDS: usize = STS_POLICY_MX_WORDS;
const _: () = assert!(MX_WORDS == 2 * INLINE_MX);

/// A parsed policy, filled by `sts_policy_parse`. It borrows the policy
/// text, which must stay alive and unchanged while the struct is used.
/// Read `mode`, `max_age` and `mx_count`; the `private_` fields belong to
/// libsts.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct sts_policy {
    /// The mode.
    pub mode: sts_mode,
    /// `max_age` in seconds (at most 31557600).
    pub max_age: u32,
    /// Number of `mx` patterns; read them with `sts_policy_mx`.
    pub mx_count: usize,
    /// Private.
    pub private_text: *const u8,
    /// Private.
    pub private_len: usize,
    /// Private.
    pub private_mx: [u32; STS_POLICY_MX_WORDS],
    /// Private.
    pub private_rest_from: u32,
    /// Private.
    pub private_check: u32,
}

/// A valid `_mta-sts` TXT record, filled by `sts_txt_parse` or
/// `sts_txt_select`. `id` points into the record bytes given (not
/// NUL-terminated).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct sts_txt_record {
    /// The policy id: 1 to 32 letters and digits.
    pub id: *const u8,
    /// Length of `id` in bytes.
    pub id_len: usize,
}

/// A valid `_smtp._tls` TLSRPT record, filled by `sts_tlsrpt_parse`. It
/// borrows the record bytes. Read `rua_count`; get each URI with
/// `sts_tlsrpt_rua`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct sts_tlsrpt_record {
    /// Number of reporting URIs in `rua`.
    pub rua_count: usize,
    /// Private.
    pub private_rua: *const u8,
    /// Private.
    pub private_rua_len: usize,
    /// Private.
    pub private_check: u32,
}

/// What matching and `sts_policy_mx` read of a caller's struct, borrowed
/// from it rather than copied into a core `Policy`: matching is the call
/// an MTA makes per MX host, and the copy was a tenth of its cost.
///
/// # Safety
/// `p` must be NULL or point to a readable `sts_policy` whose text is
/// alive, unchanged for `'a`.
#[inline(always)]
unsafe fn load_mx_list<'a>(p: *const sts_policy) -> Result<MxList<'a, 'a>, sts_result> {
    if p.is_null() {
        return Err(sts_result::STS_ERR_NULL);
    }
    // SAFETY: non-null and readable by contract.
    if unsafe { addr_of!((*p).private_check).read() != policy_check(p) } {
        return Err(sts_result::STS_ERR_CORRUPT_STRUCT);
    }
    // SAFETY: the check word shows libsts filled this struct from a live
    // (text, len) the caller promised to keep; the spans are `u32` pairs,
    // the layout of `Span` (`repr(C)`, checked below), and stay unchanged
    // for `'a` by contract.
    unsafe {
        let text = bytes(
            addr_of!((*p).private_text).read(),
            addr_of!((*p).private_len).read(),
        )?;
        Ok(MxList {
            text,
            inline: &*addr_of!((*p).private_mx).cast::<[Span; INLINE_MX]>(),
            mx_count: addr_of!((*p).mx_count).read(),
            rest_from: addr_of!((*p).private_rest_from).read(),
        })
    }
}

const _: () = assert!(
    core::mem::size_of::<[Span; INLINE_MX]>() == core::mem::size_of::<[u32; MX_WORDS]>()
        && core::mem::align_of::<Span>() == core::mem::align_of::<u32>()
        && core::mem::offset_of!(Span, start) == 0
        && core::mem::offset_of!(Span, len) == 4
);

/// Parses an MTA-STS policy file (RFC 8461 §3.2) of `len` bytes at `text`
/// (no NUL needed). Returns `STS_OK` and fills `*out` iff the policy is
/// valid; otherwise an `STS_ERR_POLICY_*` code naming the first broken rule.
/// `*out` borrows `text`.
///
/// # Safety
/// `text` must be valid for `len` bytes and `out` writable.
#[no_mangle]
pub unsafe extern "C" fn sts_policy_parse(
    text: *const u8,
    len: usize,
    out: *mut sts_policy,
) -> sts_result {
    guard(|| {
        // SAFETY: this function's contract.
        let text = unsafe { bytes(text, len) }?;
        let dst = out_ptr(out)?;
        let p = policy::parse(text)?;
        let parts = p.parts();
        let mut private_mx = [0u32; MX_WORDS];
        for (i, s) in parts.inline.iter().enumerate() {
            private_mx[2 * i] = s.start;
            private_mx[2 * i + 1] = s.len;
        }
        let mut value = sts_policy {
            mode: parts.mode.into(),
            max_age: parts.max_age,
            mx_count: parts.mx_count,
            private_text: text.as_ptr(),
            private_len: text.len(),
            private_mx,
            private_rest_from: parts.rest_from,
            private_check: 0,
        };
        // SAFETY: a whole local struct.
        value.private_check = unsafe { policy_check(&value) };
        // SAFETY: `dst` checked non-null; writable by contract.
        unsafe { write(dst, value) };
        Ok(())
    })
}

/// The mx pattern number `index` (0-based, below `mx_count`) of a parsed
/// policy, as a pointer into the policy text and a length (not
/// NUL-terminated). `STS_ERR_INDEX_OUT_OF_RANGE` past the end.
///
/// # Safety
/// `policy` must have been filled by `sts_policy_parse` and its text must be
/// alive; `name` and `name_len` writable.
#[no_mangle]
pub unsafe extern "C" fn sts_policy_mx(
    policy: *const sts_policy,
    index: usize,
    name: *mut *const u8,
    name_len: *mut usize,
) -> sts_result {
    guard(|| {
        // SAFETY: this function's contract.
        let list = unsafe { load_mx_list(policy) }?;
        let (name, name_len) = (out_ptr(name)?, out_ptr(name_len)?);
        let mx = list
            .mx_at(index)
            .ok_or(sts_result::STS_ERR_INDEX_OUT_OF_RANGE)?;
        // SAFETY: checked non-null; writable by contract.
        unsafe {
            write(name, mx.as_ptr());
            write(name_len, mx.len());
        }
        Ok(())
    })
}

/// RFC 8461 §4.1: `STS_OK` iff the NUL-terminated host name `mx_host` (one
/// trailing dot allowed) matches one of the policy's mx patterns;
/// `STS_ERR_MX_NO_MATCH` if it matches none; `STS_ERR_MX_BAD_HOST` or
/// `STS_ERR_MX_IP_LITERAL` if it is not a host name.
///
/// # Safety
/// `policy` must have been filled by `sts_policy_parse` and its text must be
/// alive; `mx_host` must be a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn sts_policy_match_mx(
    policy: *const sts_policy,
    mx_host: *const core::ffi::c_char,
) -> sts_result {
    guard(|| {
        // SAFETY: this function's contract.
        let list = unsafe { load_mx_list(policy) }?;
        // SAFETY: this function's contract.
        let host = unsafe { cstr(mx_host) }?;
        list.match_mx(host)?;
        Ok(())
    })
}

/// RFC 8461 §4.1 for one pattern: `STS_OK` iff `mx_host` matches `pattern`
/// (`host.example` or `*.example`, exactly one label for `*`).
/// `STS_ERR_MX_NO_MATCH` when it does not; `STS_ERR_MX_BAD_PATTERN`,
/// `STS_ERR_MX_BAD_HOST` or `STS_ERR_MX_IP_LITERAL` for bad input.
///
/// # Safety
/// Both arguments must be NUL-terminated strings.
#[no_mangle]
pub unsafe extern "C" fn sts_mx_pattern_match(
    pattern: *const core::ffi::c_char,
    mx_host: *const core::ffi::c_char,
) -> sts_result {
    guard(|| {
        // SAFETY: this function's contract.
        let (pattern, host) = unsafe { (cstr(pattern)?, cstr(mx_host)?) };
        mx::pattern_match(pattern, host)?;
        Ok(())
    })
}

fn txt_out(record: txt::TxtRecord<'_>) -> sts_txt_record {
    sts_txt_record {
        id: record.id.as_ptr(),
        id_len: record.id.len(),
    }
}

/// Parses one `_mta-sts` TXT record (RFC 8461 §3.1; its strings already
/// joined). Fills `*out` and returns `STS_OK` iff it is valid.
///
/// # Safety
/// `txt` must be valid for `len` bytes and `out` writable.
#[no_mangle]
pub unsafe extern "C" fn sts_txt_parse(
    txt: *const u8,
    len: usize,
    out: *mut sts_txt_record,
) -> sts_result {
    guard(|| {
        // SAFETY: this function's contract.
        let record = unsafe { bytes(txt, len) }?;
        let dst = out_ptr(out)?;
        let parsed = txt::parse(record)?;
        // SAFETY: checked non-null; writable by contract.
        unsafe { write(dst, txt_out(parsed)) };
        Ok(())
    })
}

/// RFC 8461 §3.1 selection over all `n` TXT records found at
/// `_mta-sts.<domain>`: records not beginning with `v=STSv1;` are
/// discarded; exactly one must remain and be valid. Otherwise the domain
/// has no policy: `STS_ERR_TXT_NO_RECORD`, `STS_ERR_TXT_MULTIPLE_RECORDS`
/// or the parse error of the one record. With `n == 0` the arrays may be
/// NULL.
///
/// # Safety
/// `records` and `lens` must hold `n` entries; each record valid for its
/// length; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn sts_txt_select(
    records: *const *const u8,
    lens: *const usize,
    n: usize,
    out: *mut sts_txt_record,
) -> sts_result {
    guard(|| {
        let dst = out_ptr(out)?;
        // SAFETY: this function's contract covers the arrays and records.
        let all = unsafe { byte_ranges(records, lens, n) }?;
        let parsed = txt::select(all)?;
        // SAFETY: checked non-null; writable by contract.
        unsafe { write(dst, txt_out(parsed)) };
        Ok(())
    })
}

fn tlsrpt_check(rua: *const u8, rua_len: usize, count: usize) -> u32 {
    check_word(rua, rua_len as u64, count as u64)
}

/// Parses a `_smtp._tls` TLSRPT record (RFC 8460 §3; strings joined).
/// Fills `*out` and returns `STS_OK` iff it is valid; `*out` borrows `txt`.
///
/// # Safety
/// `txt` must be valid for `len` bytes and `out` writable.
#[no_mangle]
pub unsafe extern "C" fn sts_tlsrpt_parse(
    txt: *const u8,
    len: usize,
    out: *mut sts_tlsrpt_record,
) -> sts_result {
    guard(|| {
        // SAFETY: this function's contract.
        let record = unsafe { bytes(txt, len) }?;
        let dst = out_ptr(out)?;
        let parsed = tlsrpt::parse(record)?;
        let rua = parsed.rua_raw();
        let value = sts_tlsrpt_record {
            rua_count: parsed.rua_count(),
            private_rua: rua.as_ptr(),
            private_rua_len: rua.len(),
            private_check: tlsrpt_check(rua.as_ptr(), rua.len(), parsed.rua_count()),
        };
        // SAFETY: checked non-null; writable by contract.
        unsafe { write(dst, value) };
        Ok(())
    })
}

/// The reporting URI number `index` (below `rua_count`) of a parsed TLSRPT
/// record, as a pointer into the record and a length (not NUL-terminated).
///
/// # Safety
/// `record` must have been filled by `sts_tlsrpt_parse` and its bytes must
/// be alive; `uri` and `uri_len` writable.
#[no_mangle]
pub unsafe extern "C" fn sts_tlsrpt_rua(
    record: *const sts_tlsrpt_record,
    index: usize,
    uri: *mut *const u8,
    uri_len: *mut usize,
) -> sts_result {
    guard(|| {
        // SAFETY: this function's contract.
        let r = unsafe { arg(record) }?;
        let (uri, uri_len) = (out_ptr(uri)?, out_ptr(uri_len)?);
        if r.private_check != tlsrpt_check(r.private_rua, r.private_rua_len, r.rua_count) {
            return Err(sts_result::STS_ERR_CORRUPT_STRUCT);
        }
        // SAFETY: the check word shows libsts filled this from live bytes.
        let rua = unsafe { bytes(r.private_rua, r.private_rua_len) }?;
        let parsed = tlsrpt::TlsrptRecord::from_parts(rua, r.rua_count);
        let u = parsed
            .rua()
            .nth(index)
            .ok_or(sts_result::STS_ERR_INDEX_OUT_OF_RANGE)?;
        // SAFETY: checked non-null; writable by contract.
        unsafe {
            write(uri, u.as_ptr());
            write(uri_len, u.len());
        }
        Ok(())
    })
}
