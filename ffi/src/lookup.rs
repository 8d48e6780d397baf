//! `sts_client_lookup`: the policy in force for a domain (mode, id, mx
//! patterns) without judging an MX host, for callers that match hosts
//! themselves or show the policy.

use crate::boundary::{arg, guard, utf8};
use crate::client::{lookup_code, sts_client, sts_decision_mode, sts_source};
use crate::extensible::{self, extensible};
use crate::result::sts_result;
use ::sts_client::{LookupError, Source};
use core::ffi::{c_char, c_void};
use std::ffi::CString;
use sts_core::policy::Mode;

/// The policy of a domain, filled by `sts_client_lookup` and released by
/// `sts_lookup_free`. Set `struct_size` to `sizeof(sts_lookup)` before the
/// call (`STS_INIT(sts_lookup)`). `id` and `mx` point into one heap block
/// owned by the struct: valid until `sts_lookup_free`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct sts_lookup {
    /// `sizeof(sts_lookup)` as the caller's header declares it; kept.
    pub struct_size: u32,
    /// Private.
    pub private_check: u32,
    /// Private: the block `id` and `mx` point into.
    pub private_owner: *mut c_void,
    /// The mode in force: `STS_DECISION_NO_POLICY`, `_NONE`, `_TESTING` or
    /// `_ENFORCE`.
    pub mode: sts_decision_mode,
    /// Where the policy came from.
    pub source: sts_source,
    /// `max_age` of the policy, or 0.
    pub max_age: u32,
    /// `STS_OK`, or why the lookup had trouble (with a cached policy still
    /// in force, a failed refresh is reported here too).
    pub lookup_error: sts_result,
    /// The policy id of the `_mta-sts` TXT record it was fetched under,
    /// NUL-terminated; NULL without a policy.
    pub id: *const c_char,
    /// `mx_count` NUL-terminated mx patterns in file order; NULL without a
    /// policy.
    pub mx: *const *const c_char,
    /// Number of entries in `mx`.
    pub mx_count: usize,
    /// The TLSRPT result type of a failed fetch (static string), or NULL.
    pub tlsrpt_failure: *const c_char,
    /// Whether `lookup_error` is temporary (DNS or network trouble).
    pub lookup_error_temporary: bool,
}

// The private fields come first so that every header version has them.
extensible!(sts_lookup {
    mode,
    source,
    max_age,
    lookup_error,
    id,
    mx,
    mx_count,
    tlsrpt_failure,
    lookup_error_temporary,
});

/// What `private_owner` points to: the storage behind `id` and `mx`,
/// held only to be dropped by `sts_lookup_free`.
struct Owned {
    _id: CString,
    _mx: Vec<CString>,
    _ptrs: Vec<*const c_char>,
}

/// Ties the owner pointer to the struct, so that `sts_lookup_free` refuses
/// a struct libsts did not fill.
fn owner_check(owner: *mut c_void) -> u32 {
    let h = (owner as usize as u64 ^ 0x5354_534c_4f4f_4b55).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (h >> 32) as u32 | 1
}

/// Looks the policy of `domain` up (cache first, RFC 8461 §3.3/§5.1 rules)
/// and describes it in `*out`, without judging an MX host. `STS_OK` and a
/// filled `*out` also when there is no policy (`mode` is then
/// `STS_DECISION_NO_POLICY`, the reason in `lookup_error`).
///
/// Allocates one block for `id` and the `mx` patterns when a policy is in
/// force (nothing otherwise); release it with `sts_lookup_free`, also
/// harmless when nothing was allocated.
///
/// # Safety
/// `client` from `sts_client_new`; `domain` NUL-terminated; `out` writable
/// for its `struct_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn sts_client_lookup(
    client: *const sts_client,
    domain: *const c_char,
    out: *mut sts_lookup,
) -> sts_result {
    guard(|| {
        // SAFETY: this function's contract covers every pointer read here.
        let (c, domain, size) =
            unsafe { (arg(client)?, utf8(domain)?, extensible::out_size(out)?) };
        let look = c.client().lookup(domain);
        let mut value = sts_lookup {
            struct_size: size,
            private_check: 0,
            private_owner: core::ptr::null_mut(),
            mode: sts_decision_mode::STS_DECISION_NO_POLICY,
            source: match look.source {
                Source::Network => sts_source::STS_SOURCE_NETWORK,
                Source::Cache => sts_source::STS_SOURCE_CACHE,
                _ => sts_source::STS_SOURCE_NONE,
            },
            max_age: 0,
            lookup_error: look.error.as_ref().map_or(sts_result::STS_OK, lookup_code),
            id: core::ptr::null(),
            mx: core::ptr::null(),
            mx_count: 0,
            tlsrpt_failure: look.fetch_failure.map_or(core::ptr::null(), |f| {
                sts_core::tlsrpt::ResultType::from_name(f.as_str().as_bytes())
                    .map_or(core::ptr::null(), |t| t.as_nul_terminated().as_ptr().cast())
            }),
            lookup_error_temporary: look.error.as_ref().is_some_and(LookupError::is_temporary),
        };
        if let Some(p) = look.policy {
            let bad = |_| sts_result::STS_ERR_INVALID_ARGUMENT;
            let id = CString::new(p.txt_id).map_err(bad)?;
            let mx =
                p.mx.into_iter()
                    .map(CString::new)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(bad)?;
            let ptrs: Vec<*const c_char> = mx.iter().map(|m| m.as_ptr()).collect();
            value.mode = match p.mode {
                Mode::Enforce => sts_decision_mode::STS_DECISION_ENFORCE,
                Mode::Testing => sts_decision_mode::STS_DECISION_TESTING,
                Mode::None => sts_decision_mode::STS_DECISION_NONE,
            };
            value.max_age = p.max_age;
            value.id = id.as_ptr();
            value.mx = ptrs.as_ptr();
            value.mx_count = ptrs.len();
            let owner = Box::into_raw(Box::new(Owned {
                _id: id,
                _mx: mx,
                _ptrs: ptrs,
            }))
            .cast::<c_void>();
            value.private_owner = owner;
            value.private_check = owner_check(owner);
        }
        // SAFETY: checked by `out_size`; writable by contract.
        unsafe { extensible::write(out, size, &value) };
        Ok(())
    })
}

/// Releases what `sts_client_lookup` allocated and clears `id`, `mx` and
/// `mx_count`. NULL, a struct without a policy, or one already freed do
/// nothing. `STS_ERR_CORRUPT_STRUCT` if the private fields were not filled
/// by libsts (nothing is freed); a copy of a struct freed twice is not
/// caught.
///
/// # Safety
/// `lookup` NULL or filled by `sts_client_lookup` (or already freed).
#[no_mangle]
pub unsafe extern "C" fn sts_lookup_free(lookup: *mut sts_lookup) -> sts_result {
    guard(|| {
        if lookup.is_null() {
            return Ok(());
        }
        // SAFETY: non-null; the private fields come first, so every header
        // version has them.
        let (owner, check) = unsafe { ((*lookup).private_owner, (*lookup).private_check) };
        if owner.is_null() && check == 0 {
            return Ok(());
        }
        if check != owner_check(owner) || owner.is_null() {
            return Err(sts_result::STS_ERR_CORRUPT_STRUCT);
        }
        // SAFETY: the check word shows the pointer came from Box::into_raw
        // in sts_client_lookup and has not been freed through this struct.
        drop(unsafe { Box::from_raw(owner.cast::<Owned>()) });
        // SAFETY: writable by contract; only fields of the first layout.
        unsafe {
            (*lookup).private_owner = core::ptr::null_mut();
            (*lookup).private_check = 0;
            let size = (*lookup).struct_size as usize;
            if size >= core::mem::offset_of!(sts_lookup, tlsrpt_failure) {
                (*lookup).id = core::ptr::null();
                (*lookup).mx = core::ptr::null();
                (*lookup).mx_count = 0;
            }
        }
        Ok(())
    })
}
