//! Certificate checks for an MX host: WebPKI (RFC 8461 §4.2) and
//! DANE-TLSA (RFC 7672), over DER byte arrays from the caller.

use crate::boundary::{byte_ranges, cstr, guard};
use crate::result::sts_result;
use core::ffi::c_char;
#[cfg(feature = "cert")]
use sts_core::cert;
use sts_core::dane;

/// The byte ranges of a C array in a heap vector.
///
/// # Safety
/// As for [`byte_ranges`].
#[cfg(feature = "cert")]
unsafe fn byte_arrays<'a>(
    ptrs: *const *const u8,
    lens: *const usize,
    n: usize,
) -> Result<Vec<&'a [u8]>, sts_result> {
    // SAFETY: forwarded to the caller.
    Ok(unsafe { byte_ranges(ptrs, lens, n) }?.collect())
}

/// The byte ranges of a C array in a fixed array, for builds without a
/// heap; more than `N` entries is `STS_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// As for [`byte_ranges`].
#[cfg(not(feature = "cert"))]
unsafe fn byte_arrays<'a, const N: usize>(
    ptrs: *const *const u8,
    lens: *const usize,
    n: usize,
) -> Result<heapless::Vec<&'a [u8], N>, sts_result> {
    let mut out = heapless::Vec::new();
    // SAFETY: forwarded to the caller.
    for b in unsafe { byte_ranges(ptrs, lens, n) }? {
        out.push(b)
            .map_err(|_| sts_result::STS_ERR_INVALID_ARGUMENT)?;
    }
    Ok(out)
}

/// Longest chain a heap-free build accepts (the core's own limit).
#[cfg(not(feature = "cert"))]
const FIXED_CHAIN: usize = 16;
/// Largest TLSA RRset a heap-free build accepts.
#[cfg(not(feature = "cert"))]
const FIXED_TLSA: usize = 32;

/// RFC 8461 §4.2: `STS_OK` iff the chain (`chain_der[0]` the MX host's
/// certificate, then intermediates, each DER) leads to one of the trust
/// anchors in `roots_der` (DER certificates), is valid at `now_unix`
/// (seconds since 1970), and the leaf has a DNS subjectAltName matching
/// `mx_host` (one trailing dot allowed; `*` only as a whole leftmost label
/// matching one label; no Common Name fallback).
///
/// Failures, each mapped to one TLSRPT result type by
/// `sts_result_tlsrpt_type`: `STS_ERR_CERT_HOST_MISMATCH`
/// (certificate-host-mismatch), `STS_ERR_CERT_EXPIRED` (certificate-expired,
/// also not yet valid), `STS_ERR_CERT_NOT_TRUSTED` (certificate-not-trusted),
/// `STS_ERR_CERT_VALIDATION_FAILURE` (validation-failure: bad DER, bad
/// signature, …), `STS_ERR_CERT_EMPTY_CHAIN`, `STS_ERR_CERT_TOO_MANY_CERTIFICATES`
/// (more than 16), `STS_ERR_CERT_BAD_HOST`.
///
/// # Safety
/// The arrays must hold the given counts of valid (pointer, length) pairs;
/// `mx_host` must be a NUL-terminated string.
#[cfg(feature = "cert")]
#[no_mangle]
pub unsafe extern "C" fn sts_cert_verify(
    chain_der: *const *const u8,
    chain_lens: *const usize,
    chain_n: usize,
    roots_der: *const *const u8,
    roots_lens: *const usize,
    roots_n: usize,
    mx_host: *const c_char,
    now_unix: u64,
) -> sts_result {
    guard(|| {
        // SAFETY: this function's contract covers every pointer read here.
        let (chain, roots, host) = unsafe {
            (
                byte_arrays(chain_der, chain_lens, chain_n)?,
                byte_arrays(roots_der, roots_lens, roots_n)?,
                cstr(mx_host)?,
            )
        };
        cert::verify(&chain, &roots, host, now_unix)?;
        Ok(())
    })
}

/// RFC 7672: `STS_OK` iff a usable record of the TLSA RRset (`tlsa_rdata`,
/// the RDATA of the DNSSEC-validated RRset at `_25._tcp.<mx_host>`)
/// matches the chain (`chain_der[0]` the MX host's certificate). DANE-EE(3)
/// ignores names and dates; DANE-TA(2) also checks the chain up to the
/// matched trust anchor, its dates at `now_unix`, and the name; PKIX usages
/// (0, 1) are unusable for SMTP and ignored.
///
/// Failures: `STS_ERR_DANE_TLSA_INVALID` (tlsa-invalid: no usable record),
/// `STS_ERR_DANE_NO_MATCH` (usable records, none matches: the delivery must
/// not proceed; TLSRPT validation-failure), `STS_ERR_DANE_HOST_MISMATCH`,
/// `STS_ERR_DANE_EXPIRED`, `STS_ERR_DANE_CHAIN_INVALID` and the
/// chain-shape errors.
///
/// # Safety
/// The arrays must hold the given counts of valid (pointer, length) pairs;
/// `mx_host` must be a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn sts_dane_verify(
    chain_der: *const *const u8,
    chain_lens: *const usize,
    chain_n: usize,
    tlsa_rdata: *const *const u8,
    tlsa_lens: *const usize,
    tlsa_n: usize,
    mx_host: *const c_char,
    now_unix: u64,
) -> sts_result {
    guard(|| {
        // SAFETY: this function's contract covers every pointer read here.
        #[cfg(feature = "cert")]
        let (chain, tlsa, host) = unsafe {
            (
                byte_arrays(chain_der, chain_lens, chain_n)?,
                byte_arrays(tlsa_rdata, tlsa_lens, tlsa_n)?,
                cstr(mx_host)?,
            )
        };
        // SAFETY: as above.
        #[cfg(not(feature = "cert"))]
        let (chain, tlsa, host) = unsafe {
            (
                byte_arrays::<FIXED_CHAIN>(chain_der, chain_lens, chain_n)?,
                byte_arrays::<FIXED_TLSA>(tlsa_rdata, tlsa_lens, tlsa_n)?,
                cstr(mx_host)?,
            )
        };
        dane::verify(&chain, &tlsa, host, now_unix)?;
        Ok(())
    })
}
