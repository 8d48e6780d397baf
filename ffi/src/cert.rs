//! Certificate checks for an MX host: WebPKI (RFC 8461 §4.2) and
//! DANE-TLSA (RFC 7672), over DER byte arrays from the caller.

use crate::boundary::{bytes, cstr, guard};
use crate::result::sts_result;
use core::ffi::c_char;
use sts_core::{cert, dane};

/// Collects `n` (pointer, length) pairs; NULL arrays are allowed only when
/// `n` is 0.
///
/// # Safety
/// `ptrs` and `lens` must hold `n` entries and each entry be valid for its
/// length.
unsafe fn byte_arrays<'a>(
    ptrs: *const *const u8,
    lens: *const usize,
    n: usize,
) -> Result<Vec<&'a [u8]>, sts_result> {
    if n == 0 {
        return Ok(Vec::new());
    }
    if ptrs.is_null() || lens.is_null() {
        return Err(sts_result::STS_ERR_NULL);
    }
    // Refuse absurd counts before touching memory: no real chain or root
    // store comes near this.
    if n > 1 << 16 {
        return Err(sts_result::STS_ERR_INVALID_ARGUMENT);
    }
    // SAFETY: non-null with `n` entries by contract.
    let (ptrs, lens) = unsafe {
        (
            core::slice::from_raw_parts(ptrs, n),
            core::slice::from_raw_parts(lens, n),
        )
    };
    ptrs.iter()
        .zip(lens)
        // SAFETY: forwarded caller contract.
        .map(|(p, l)| unsafe { bytes(*p, *l) })
        .collect()
}

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
        // SAFETY: forwarded caller contract.
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
        // SAFETY: forwarded caller contract.
        let (chain, tlsa, host) = unsafe {
            (
                byte_arrays(chain_der, chain_lens, chain_n)?,
                byte_arrays(tlsa_rdata, tlsa_lens, tlsa_n)?,
                cstr(mx_host)?,
            )
        };
        dane::verify(&chain, &tlsa, host, now_unix)?;
        Ok(())
    })
}
