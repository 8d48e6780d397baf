//! Certificate validation for MX hosts under MTA-STS ([RFC 8461 §4.2]).
//!
//! An MTA-STS sender must check that the MX host's certificate
//!
//! 1. chains to a trusted root (here: one of the DER certificates the caller
//!    passes as `roots_der`),
//! 2. is valid at the current time (expired and not-yet-valid alike fail),
//! 3. carries a subjectAltName DNS-ID that matches the MX host name under
//!    the rules of RFC 6125 §6.4: exact match ignoring ASCII case, or a
//!    wildcard `*` that is the whole leftmost label and stands for exactly
//!    one label (`*.example.test` matches `mx1.example.test`, neither
//!    `a.b.example.test` nor `example.test`). The subject common name is
//!    never consulted, and IP-address SANs never match a name.
//!
//! The leaf must also allow TLS server authentication: an extendedKeyUsage
//! extension, when present, must contain `id-kp-serverAuth`.
//!
//! Path building, time checks and DNS-ID matching are done by
//! rustls-webpki; this module only prepares the inputs and maps the
//! outcome onto the result types of TLSRPT ([RFC 8460 §4.3]) with
//! [`CertError::tlsrpt_result_type`].
//!
//! **Inputs.** `chain_der[0]` is the server's certificate and the rest are
//! the certificates it sent after it, in any order (they are candidate
//! intermediates; a root among them is harmless). At most
//! [`MAX_CHAIN_LEN`] certificates are accepted. `roots_der` are trusted
//! root certificates; any that webpki cannot parse as a trust anchor is
//! skipped. `mx_host` is the MX host name as looked up, with at most one
//! trailing root dot (which is removed, see [`crate::name`]). `now_unix`
//! is the current time in seconds since the Unix epoch; the function
//! reads no clock.
//!
//! **Signature backends.** The caller picks the set of signature
//! algorithms with [`verify_with_algorithms`]; [`verify`] uses
//! [`DEFAULT_ALGORITHMS`], which is *ring*'s set with the `ring` feature,
//! else the RustCrypto set of `rustcrypto` with the `rustcrypto`
//! feature, else empty (every chain then fails with
//! [`CertError::ValidationFailure`]).
//!
//! This module needs `alloc` (the trust-anchor list, and RSA in both
//! backends), which the `webpki` feature turns on.
//!
//! [RFC 8461 §4.2]: https://www.rfc-editor.org/rfc/rfc8461#section-4.2
//! [RFC 8460 §4.3]: https://www.rfc-editor.org/rfc/rfc8460#section-4.3

use alloc::vec::Vec;
use core::time::Duration;

use pki_types::{CertificateDer, DnsName, ServerName, TrustAnchor, UnixTime};
use webpki::{EndEntityCert, KeyUsage};

use crate::lex::error_enum;
use crate::name;

pub use pki_types::SignatureVerificationAlgorithm;

#[cfg(feature = "rustcrypto")]
pub mod rustcrypto;

/// Most certificates accepted in `chain_der` (leaf included). Real MX
/// chains have two to four; a longer list is refused before any parsing
/// with [`CertError::TooManyCertificates`], which bounds the work an
/// attacker-supplied chain can cause. (webpki itself accepts at most six
/// intermediate CAs on the path it builds.)
pub const MAX_CHAIN_LEN: usize = 16;

error_enum! {
    /// Why an MX host's certificate chain was rejected.
    ///
    /// The first four variants are the TLSRPT certificate failures of
    /// RFC 8460 §4.3.2 (see [`CertError::tlsrpt_result_type`]); the others
    /// are caller errors, reported as `validation-failure`.
    pub enum CertError {
        /// No subjectAltName DNS-ID of the leaf matches the MX host
        /// (TLSRPT `certificate-host-mismatch`).
        HostMismatch => "certificate does not match the MX host name",
        /// The leaf or an intermediate is expired or not yet valid at the
        /// given time (TLSRPT `certificate-expired`).
        Expired => "certificate is expired or not yet valid",
        /// The chain does not lead to any of the given roots (TLSRPT
        /// `certificate-not-trusted`).
        NotTrusted => "certificate chain does not lead to a trusted root",
        /// Anything else: malformed DER, a bad or unsupported signature,
        /// a CA certificate used as leaf, no serverAuth usage, path too
        /// deep (TLSRPT `validation-failure`).
        ValidationFailure => "certificate chain failed validation",
        /// `chain_der` is empty.
        EmptyChain => "certificate chain is empty",
        /// `mx_host` is not a valid host name (after removing one trailing
        /// dot), or is an IPv4 address.
        BadHost => "MX host is not a valid host name",
        /// `chain_der` has more than [`MAX_CHAIN_LEN`] certificates.
        TooManyCertificates => "certificate chain has more than 16 certificates",
    }
}

impl CertError {
    /// The TLSRPT result type (RFC 8460 §4.3) to report for this failure:
    /// `certificate-host-mismatch`, `certificate-expired`,
    /// `certificate-not-trusted` or `validation-failure`.
    pub const fn tlsrpt_result_type(self) -> &'static str {
        match self {
            CertError::HostMismatch => "certificate-host-mismatch",
            CertError::Expired => "certificate-expired",
            CertError::NotTrusted => "certificate-not-trusted",
            CertError::ValidationFailure
            | CertError::EmptyChain
            | CertError::BadHost
            | CertError::TooManyCertificates => "validation-failure",
        }
    }
}

/// The signature algorithms of the *ring* backend: ECDSA P-256/P-384 with
/// SHA-256/SHA-384, Ed25519, RSA PKCS#1 v1.5 with SHA-256/384/512 (NULL or
/// absent parameters) and RSA-PSS with SHA-256/384/512, RSA keys of
/// 2048–8192 bits.
#[cfg(feature = "ring")]
pub static RING_ALGORITHMS: &[&dyn SignatureVerificationAlgorithm] = &[
    webpki::ring::ECDSA_P256_SHA256,
    webpki::ring::ECDSA_P256_SHA384,
    webpki::ring::ECDSA_P384_SHA256,
    webpki::ring::ECDSA_P384_SHA384,
    webpki::ring::ED25519,
    webpki::ring::RSA_PKCS1_2048_8192_SHA256,
    webpki::ring::RSA_PKCS1_2048_8192_SHA384,
    webpki::ring::RSA_PKCS1_2048_8192_SHA512,
    webpki::ring::RSA_PKCS1_2048_8192_SHA256_ABSENT_PARAMS,
    webpki::ring::RSA_PKCS1_2048_8192_SHA384_ABSENT_PARAMS,
    webpki::ring::RSA_PKCS1_2048_8192_SHA512_ABSENT_PARAMS,
    webpki::ring::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
    webpki::ring::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
    webpki::ring::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
];

/// The algorithms [`verify`] uses: `RING_ALGORITHMS` with the `ring`
/// feature, else `rustcrypto::ALL` with `rustcrypto`, else none.
#[cfg(feature = "ring")]
pub static DEFAULT_ALGORITHMS: &[&dyn SignatureVerificationAlgorithm] = RING_ALGORITHMS;
/// The algorithms [`verify`] uses: `RING_ALGORITHMS` with the `ring`
/// feature, else `rustcrypto::ALL` with `rustcrypto`, else none.
#[cfg(all(not(feature = "ring"), feature = "rustcrypto"))]
pub static DEFAULT_ALGORITHMS: &[&dyn SignatureVerificationAlgorithm] = rustcrypto::ALL;
/// The algorithms [`verify`] uses: `RING_ALGORITHMS` with the `ring`
/// feature, else `rustcrypto::ALL` with `rustcrypto`, else none (as now:
/// enable a backend feature).
#[cfg(not(any(feature = "ring", feature = "rustcrypto")))]
pub static DEFAULT_ALGORITHMS: &[&dyn SignatureVerificationAlgorithm] = &[];

/// Validates an MX host's certificate chain per RFC 8461 §4.2 with
/// [`DEFAULT_ALGORITHMS`]. See the module docs for the inputs.
///
/// Returns `Ok(())` when the chain is trusted, valid at `now_unix` and
/// issued for `mx_host`.
pub fn verify(
    chain_der: &[&[u8]],
    roots_der: &[&[u8]],
    mx_host: &[u8],
    now_unix: u64,
) -> Result<(), CertError> {
    verify_with_algorithms(DEFAULT_ALGORITHMS, chain_der, roots_der, mx_host, now_unix)
}

/// [`verify`] with an explicit set of signature algorithms, such as
/// `RING_ALGORITHMS` or `rustcrypto::ALL`, or a subset of one.
pub fn verify_with_algorithms(
    algorithms: &[&dyn SignatureVerificationAlgorithm],
    chain_der: &[&[u8]],
    roots_der: &[&[u8]],
    mx_host: &[u8],
    now_unix: u64,
) -> Result<(), CertError> {
    let host = dns_name(mx_host).ok_or(CertError::BadHost)?;
    let (leaf, rest) = split_chain(chain_der)?;

    let root_ders: Vec<CertificateDer<'_>> =
        roots_der.iter().map(|&r| CertificateDer::from(r)).collect();
    let anchors: Vec<TrustAnchor<'_>> = root_ders
        .iter()
        .filter_map(|r| webpki::anchor_from_trusted_cert(r).ok())
        .collect();

    verify_path(algorithms, leaf, rest, &anchors, &host, now_unix).map_err(map_error)
}

/// Validates the MX host name for matching: one trailing dot removed, an
/// RFC 5321 `Domain`, not an IPv4 address. `None` if it is not one.
pub(crate) fn dns_name(mx_host: &[u8]) -> Option<DnsName<'_>> {
    let host = name::strip_root(mx_host);
    if name::validate(host).is_err() || name::looks_like_ipv4(host) {
        return None;
    }
    let host = core::str::from_utf8(host).ok()?;
    DnsName::try_from(host).ok()
}

/// Splits a chain into its leaf and the rest, enforcing the length bounds.
pub(crate) fn split_chain<'c, 'd>(
    chain_der: &'c [&'d [u8]],
) -> Result<(&'d [u8], &'c [&'d [u8]]), CertError> {
    if chain_der.len() > MAX_CHAIN_LEN {
        return Err(CertError::TooManyCertificates);
    }
    match chain_der.split_first() {
        Some((leaf, rest)) => Ok((leaf, rest)),
        None => Err(CertError::EmptyChain),
    }
}

/// Builds and checks the path from `leaf` to one of `anchors`, using
/// `intermediates` as candidates, then checks the DNS-ID.
pub(crate) fn verify_path(
    algorithms: &[&dyn SignatureVerificationAlgorithm],
    leaf: &[u8],
    intermediates: &[&[u8]],
    anchors: &[TrustAnchor<'_>],
    host: &DnsName<'_>,
    now_unix: u64,
) -> Result<(), webpki::Error> {
    let leaf = CertificateDer::from(leaf);
    let ee = EndEntityCert::try_from(&leaf)?;
    // `intermediates` is at most MAX_CHAIN_LEN - 1 long (see split_chain);
    // a fixed array keeps this part free of allocation.
    let mut buf: [CertificateDer<'_>; MAX_CHAIN_LEN] =
        core::array::from_fn(|_| CertificateDer::from(&[][..]));
    let n = intermediates.len().min(MAX_CHAIN_LEN);
    for (slot, &der) in buf.iter_mut().zip(intermediates) {
        *slot = CertificateDer::from(der);
    }
    let intermediates = buf.get(..n).unwrap_or(&[]);
    let time = UnixTime::since_unix_epoch(Duration::from_secs(now_unix));
    ee.verify_for_usage(
        algorithms,
        anchors,
        intermediates,
        time,
        KeyUsage::server_auth(),
        None,
        None,
    )?;
    ee.verify_is_valid_for_subject_name(&ServerName::DnsName(host.clone()))
}

/// Maps a webpki error onto the TLSRPT-shaped [`CertError`].
pub(crate) fn map_error(e: webpki::Error) -> CertError {
    use webpki::Error as E;
    match e {
        E::CertNotValidForName(_) => CertError::HostMismatch,
        E::CertExpired { .. } | E::CertNotValidYet { .. } => CertError::Expired,
        E::UnknownIssuer => CertError::NotTrusted,
        _ => CertError::ValidationFailure,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tlsrpt_mapping_is_one_to_one_for_certificate_failures() {
        let want = [
            (CertError::HostMismatch, "certificate-host-mismatch"),
            (CertError::Expired, "certificate-expired"),
            (CertError::NotTrusted, "certificate-not-trusted"),
            (CertError::ValidationFailure, "validation-failure"),
            (CertError::EmptyChain, "validation-failure"),
            (CertError::BadHost, "validation-failure"),
            (CertError::TooManyCertificates, "validation-failure"),
        ];
        assert_eq!(want.len(), CertError::ALL.len());
        for (e, t) in want {
            assert_eq!(e.tlsrpt_result_type(), t);
        }
    }

    #[test]
    fn error_strings_are_distinct_and_nonempty() {
        for (i, a) in CertError::ALL.iter().enumerate() {
            assert!(!a.as_str().is_empty());
            for b in &CertError::ALL[i + 1..] {
                assert_ne!(a.as_str(), b.as_str());
            }
        }
    }

    #[test]
    fn rfc8461_4_2_host_is_prepared_like_mx_hosts() {
        assert!(dns_name(b"mx1.example.test").is_some());
        assert!(dns_name(b"mx1.example.test.").is_some());
        assert!(dns_name(b"mx1.example.test..").is_none());
        assert!(dns_name(b"").is_none());
        assert!(dns_name(b".").is_none());
        assert!(dns_name(b"192.0.2.1").is_none());
        assert!(dns_name(b"*.example.test").is_none());
        assert!(dns_name(b"mx_1.example.test").is_none());
        assert!(dns_name(b"m\xc3\xbcnchen.example").is_none());
    }

    #[test]
    fn chain_bounds() {
        assert_eq!(split_chain(&[]).err(), Some(CertError::EmptyChain));
        let one: &[u8] = b"x";
        let chain = [one; MAX_CHAIN_LEN + 1];
        assert_eq!(
            split_chain(&chain).err(),
            Some(CertError::TooManyCertificates)
        );
        assert!(split_chain(&chain[..MAX_CHAIN_LEN]).is_ok());
    }

    #[test]
    fn error_mapping() {
        use webpki::Error as E;
        assert_eq!(map_error(E::UnknownIssuer), CertError::NotTrusted);
        assert_eq!(map_error(E::BadDer), CertError::ValidationFailure);
        assert_eq!(
            map_error(E::InvalidSignatureForPublicKey),
            CertError::ValidationFailure
        );
        assert_eq!(
            map_error(E::CaUsedAsEndEntity),
            CertError::ValidationFailure
        );
    }
}
