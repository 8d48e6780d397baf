//! DANE-TLSA authentication of MX hosts ([RFC 7672] §3).
//!
//! The caller looks up the TLSA RRset at `_25._tcp.<mx_host>`, validates
//! it with DNSSEC (this module trusts what it is given), connects, and
//! hands over the certificate chain the server sent with the RDATA of
//! every TLSA record. [`verify`] then applies the SMTP rules:
//!
//! * Only DANE-EE(3) and DANE-TA(2) records are *usable*; PKIX-TA(0) and
//!   PKIX-EE(1) are not (§3.1.3), nor are records with a selector other
//!   than Cert(0)/SPKI(1), a matching type other than Full(0),
//!   SHA2-256(1)/SHA2-512(2), a digest of the wrong length or truncated
//!   RDATA. Unusable records are ignored; when *no* usable record is left
//!   the result is [`DaneError::TlsaInvalid`].
//! * **DANE-EE(3)** (§3.1.1) matches the server's own certificate (the
//!   leaf, `chain_der[0]`) or its SubjectPublicKeyInfo. Nothing else is
//!   checked: not the name, not the validity dates, not the issuer.
//! * **DANE-TA(2)** (§3.1.2) matches a certificate the server sent *after*
//!   its own (`chain_der[1..]`; §3.1.2 requires servers to send the TA
//!   certificate, even a self-signed root), or that certificate's public
//!   key. That certificate then acts as the trust anchor: the path from
//!   the leaf up to it must verify (signatures, validity dates of the
//!   certificates below the TA, serverAuth usage), and the leaf must carry
//!   a DNS-ID matching `mx_host` (§3.2.2, RFC 6125 wildcard rules). This
//!   needs rustls-webpki: with the `webpki` feature it is done with
//!   `crate::cert::DEFAULT_ALGORITHMS` (or the set given to
//!   `verify_with_algorithms`); without it, a matching DANE-TA record
//!   gives [`DaneError::TaNeedsWebpki`].
//!
//! Without `webpki` this module allocates nothing (SHA-2 from the RustCrypto
//! `sha2` crate, a small bounds-checked DER walker for the SPKI).
//!
//! **Names.** §3.2.2 also accepts the TLSA base domain reached through
//! CNAMEs as a reference identifier; this function checks `mx_host` only
//! (the caller can call again with the other name).
//!
//! [RFC 7672]: https://www.rfc-editor.org/rfc/rfc7672

mod der;

use sha2::{Digest, Sha256, Sha512};

use crate::lex::error_enum;
use crate::name;

/// Most certificates accepted in `chain_der` (leaf included), as in
/// `cert::MAX_CHAIN_LEN`.
pub const MAX_CHAIN_LEN: usize = 16;

/// Certificate usage PKIX-TA(0): unusable for SMTP (RFC 7672 §3.1.3).
pub const USAGE_PKIX_TA: u8 = 0;
/// Certificate usage PKIX-EE(1): unusable for SMTP (RFC 7672 §3.1.3).
pub const USAGE_PKIX_EE: u8 = 1;
/// Certificate usage DANE-TA(2): a trust anchor in the chain (§3.1.2).
pub const USAGE_DANE_TA: u8 = 2;
/// Certificate usage DANE-EE(3): the server's own certificate (§3.1.1).
pub const USAGE_DANE_EE: u8 = 3;
/// Selector Cert(0): the whole DER certificate.
pub const SELECTOR_CERT: u8 = 0;
/// Selector SPKI(1): the DER SubjectPublicKeyInfo.
pub const SELECTOR_SPKI: u8 = 1;
/// Matching type Full(0): the selected bytes themselves.
pub const MATCHING_FULL: u8 = 0;
/// Matching type SHA2-256(1): 32-byte SHA-256 digest.
pub const MATCHING_SHA2_256: u8 = 1;
/// Matching type SHA2-512(2): 64-byte SHA-512 digest.
pub const MATCHING_SHA2_512: u8 = 2;

error_enum! {
    /// Why DANE authentication of an MX host failed.
    ///
    /// [`DaneError::tlsrpt_result_type`] gives the TLSRPT result type to
    /// report.
    pub enum DaneError {
        /// A TLSA RDATA is malformed ([`parse_tlsa`]), or (from [`verify`])
        /// no record of the RRset is usable (TLSRPT `tlsa-invalid`).
        TlsaInvalid => "no usable TLSA record (malformed, or only unusable usages, selectors or matching types)",
        /// There are usable TLSA records but none matches the chain
        /// (TLSRPT `validation-failure`).
        NoMatch => "no TLSA record matches the certificate chain",
        /// A DANE-TA record matched, but the leaf has no DNS-ID for the MX
        /// host (TLSRPT `certificate-host-mismatch`).
        HostMismatch => "certificate does not match the MX host name",
        /// A DANE-TA record matched, but a certificate below the trust
        /// anchor is expired or not yet valid (TLSRPT
        /// `certificate-expired`).
        Expired => "certificate is expired or not yet valid",
        /// A DANE-TA record matched, but the chain from the leaf to it
        /// does not verify (TLSRPT `validation-failure`).
        ChainInvalid => "certificate chain does not verify up to the DANE-TA trust anchor",
        /// A DANE-TA record matched, but this build has no `webpki` feature
        /// to verify the chain (TLSRPT `validation-failure`).
        TaNeedsWebpki => "DANE-TA record matched, but chain validation needs the `webpki` feature",
        /// `chain_der` is empty (TLSRPT `validation-failure`).
        EmptyChain => "certificate chain is empty",
        /// `chain_der` has more than [`MAX_CHAIN_LEN`] certificates (TLSRPT
        /// `validation-failure`).
        TooManyCertificates => "certificate chain has more than 16 certificates",
        /// The leaf certificate is not DER with a SubjectPublicKeyInfo
        /// (TLSRPT `validation-failure`).
        BadCertificate => "server certificate is not a well-formed X.509 certificate",
        /// `mx_host` is not a valid host name (after removing one trailing
        /// dot), or is an IPv4 address (TLSRPT `validation-failure`).
        BadHost => "MX host is not a valid host name",
    }
}

impl DaneError {
    /// The TLSRPT result type (RFC 8460 §4.3) to report for this failure.
    ///
    /// `NoMatch` is `validation-failure`: `dane-required` is for a host
    /// that has *no* DNSSEC-validated TLSA records, which this function
    /// never sees.
    pub const fn tlsrpt_result_type(self) -> &'static str {
        match self {
            DaneError::TlsaInvalid => "tlsa-invalid",
            DaneError::HostMismatch => "certificate-host-mismatch",
            DaneError::Expired => "certificate-expired",
            DaneError::NoMatch
            | DaneError::ChainInvalid
            | DaneError::TaNeedsWebpki
            | DaneError::EmptyChain
            | DaneError::TooManyCertificates
            | DaneError::BadCertificate
            | DaneError::BadHost => "validation-failure",
        }
    }
}

/// One TLSA record's RDATA (RFC 6698 §2.1), borrowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tlsa<'a> {
    /// Certificate usage (0–3 defined; see `USAGE_*`).
    pub usage: u8,
    /// Selector (0–1 defined; see `SELECTOR_*`).
    pub selector: u8,
    /// Matching type (0–2 defined; see `MATCHING_*`).
    pub matching_type: u8,
    /// Certificate association data: the selected bytes or their digest.
    pub data: &'a [u8],
}

impl Tlsa<'_> {
    /// Whether SMTP may use this record (RFC 7672 §3.1): usage DANE-TA or
    /// DANE-EE, selector Cert or SPKI, matching type Full, SHA2-256 or
    /// SHA2-512.
    pub const fn is_usable(&self) -> bool {
        matches!(self.usage, USAGE_DANE_TA | USAGE_DANE_EE)
            && matches!(self.selector, SELECTOR_CERT | SELECTOR_SPKI)
            && matches!(
                self.matching_type,
                MATCHING_FULL | MATCHING_SHA2_256 | MATCHING_SHA2_512
            )
    }
}

/// Parses TLSA RDATA: three octets (usage, selector, matching type) and
/// non-empty association data. A SHA2-256 (SHA2-512) record must carry
/// exactly 32 (64) octets. Unknown usages, selectors and matching types
/// parse (see [`Tlsa::is_usable`]).
pub fn parse_tlsa(rdata: &[u8]) -> Result<Tlsa<'_>, DaneError> {
    let [usage, selector, matching_type, data @ ..] = rdata else {
        return Err(DaneError::TlsaInvalid);
    };
    let want = match *matching_type {
        MATCHING_SHA2_256 => Some(32),
        MATCHING_SHA2_512 => Some(64),
        _ => None,
    };
    if data.is_empty() || want.is_some_and(|n| data.len() != n) {
        return Err(DaneError::TlsaInvalid);
    }
    Ok(Tlsa {
        usage: *usage,
        selector: *selector,
        matching_type: *matching_type,
        data,
    })
}

/// The DER SubjectPublicKeyInfo of an X.509 certificate (what selector
/// SPKI(1) selects), or `None` if `cert_der` is not a well-formed
/// certificate up to that field.
pub fn subject_public_key_info(cert_der: &[u8]) -> Option<&[u8]> {
    der::subject_public_key_info(cert_der)
}

/// Authenticates an MX host with its TLSA RRset, per RFC 7672 (see the
/// module docs). `chain_der[0]` is the server's certificate; `tlsa_rdata`
/// are the RDATA of the DNSSEC-validated TLSA RRset at
/// `_25._tcp.<mx_host>`; `now_unix` (seconds since the Unix epoch) is used
/// only for DANE-TA chains.
///
/// Returns `Ok(())` when a usable record matches (and, for DANE-TA, the
/// chain and name check out).
pub fn verify(
    chain_der: &[&[u8]],
    tlsa_rdata: &[&[u8]],
    mx_host: &[u8],
    now_unix: u64,
) -> Result<(), DaneError> {
    verify_iter(chain_der, tlsa_rdata.iter().copied(), mx_host, now_unix)
}

/// [`verify`] with the TLSA RDATA given by a cloneable iterator (it is
/// walked a few times), so that a caller holding the records elsewhere
/// (a C array of pointers and lengths, a DNS message) need not collect
/// them into a slice first.
pub fn verify_iter<'r, I>(
    chain_der: &[&[u8]],
    tlsa_rdata: I,
    mx_host: &[u8],
    now_unix: u64,
) -> Result<(), DaneError>
where
    I: IntoIterator<Item = &'r [u8]>,
    I::IntoIter: Clone,
{
    #[cfg(feature = "webpki")]
    let algs = crate::cert::DEFAULT_ALGORITHMS;
    #[cfg(not(feature = "webpki"))]
    let algs = NoAlgorithms;
    run(algs, chain_der, tlsa_rdata.into_iter(), mx_host, now_unix)
}

/// [`verify`] with an explicit set of signature algorithms for DANE-TA
/// chains (such as `cert::RING_ALGORITHMS` or `cert::rustcrypto::ALL`).
#[cfg(feature = "webpki")]
pub fn verify_with_algorithms(
    algorithms: &[&dyn crate::cert::SignatureVerificationAlgorithm],
    chain_der: &[&[u8]],
    tlsa_rdata: &[&[u8]],
    mx_host: &[u8],
    now_unix: u64,
) -> Result<(), DaneError> {
    run(
        algorithms,
        chain_der,
        tlsa_rdata.iter().copied(),
        mx_host,
        now_unix,
    )
}

#[cfg(feature = "webpki")]
type Algorithms<'a> = &'a [&'a dyn crate::cert::SignatureVerificationAlgorithm];
#[cfg(not(feature = "webpki"))]
type Algorithms<'a> = NoAlgorithms;
#[cfg(not(feature = "webpki"))]
#[derive(Clone, Copy)]
struct NoAlgorithms;

fn run<'r>(
    algs: Algorithms<'_>,
    chain_der: &[&[u8]],
    tlsa_rdata: impl Iterator<Item = &'r [u8]> + Clone,
    mx_host: &[u8],
    now_unix: u64,
) -> Result<(), DaneError> {
    let host = name::strip_root(mx_host);
    if name::validate(host).is_err() || name::looks_like_ipv4(host) {
        return Err(DaneError::BadHost);
    }
    if chain_der.len() > MAX_CHAIN_LEN {
        return Err(DaneError::TooManyCertificates);
    }
    let Some((&leaf, rest)) = chain_der.split_first() else {
        return Err(DaneError::EmptyChain);
    };
    let leaf_spki = der::subject_public_key_info(leaf).ok_or(DaneError::BadCertificate)?;

    let usable = || {
        tlsa_rdata
            .clone()
            .filter_map(|r| parse_tlsa(r).ok())
            .filter(Tlsa::is_usable)
    };
    if usable().next().is_none() {
        return Err(DaneError::TlsaInvalid);
    }

    // §3.1.1: DANE-EE matches the leaf and nothing else is checked.
    let mut m = Matcher::new(leaf, Some(leaf_spki));
    if usable().any(|r| r.usage == USAGE_DANE_EE && m.matches(&r)) {
        return Ok(());
    }

    // §3.1.2: DANE-TA names an issuer the server sent; verify up to it.
    let mut failure = None;
    for &ta in rest {
        let mut m = Matcher::new(ta, der::subject_public_key_info(ta));
        if usable().any(|r| r.usage == USAGE_DANE_TA && m.matches(&r)) {
            match check_ta(algs, leaf, rest, ta, host, now_unix) {
                Ok(()) => return Ok(()),
                Err(e) => failure = failure.or(Some(e)),
            }
        }
    }
    Err(failure.unwrap_or(DaneError::NoMatch))
}

/// Verifies the chain from `leaf` up to `ta` (used as the only trust
/// anchor, with `rest` as candidate intermediates) and the leaf's name.
#[cfg(feature = "webpki")]
fn check_ta(
    algs: Algorithms<'_>,
    leaf: &[u8],
    rest: &[&[u8]],
    ta: &[u8],
    host: &[u8],
    now_unix: u64,
) -> Result<(), DaneError> {
    use crate::cert::{self, CertError};
    let ta = pki_types::CertificateDer::from(ta);
    let anchor = webpki::anchor_from_trusted_cert(&ta).map_err(|_| DaneError::ChainInvalid)?;
    let host = cert::dns_name(host).ok_or(DaneError::BadHost)?;
    cert::verify_path(algs, leaf, rest, &[anchor], &host, now_unix).map_err(|e| {
        match cert::map_error(e) {
            CertError::HostMismatch => DaneError::HostMismatch,
            CertError::Expired => DaneError::Expired,
            _ => DaneError::ChainInvalid,
        }
    })
}

#[cfg(not(feature = "webpki"))]
fn check_ta(
    _: Algorithms<'_>,
    _: &[u8],
    _: &[&[u8]],
    _: &[u8],
    _: &[u8],
    _: u64,
) -> Result<(), DaneError> {
    Err(DaneError::TaNeedsWebpki)
}

/// Matches TLSA records against one certificate, hashing each selection
/// at most once per digest.
struct Matcher<'a> {
    cert: &'a [u8],
    spki: Option<&'a [u8]>,
    sha256: [Option<[u8; 32]>; 2],
    sha512: [Option<[u8; 64]>; 2],
}

impl<'a> Matcher<'a> {
    fn new(cert: &'a [u8], spki: Option<&'a [u8]>) -> Self {
        Matcher {
            cert,
            spki,
            sha256: [None; 2],
            sha512: [None; 2],
        }
    }

    fn matches(&mut self, r: &Tlsa<'_>) -> bool {
        let (selected, slot) = match r.selector {
            SELECTOR_CERT => (self.cert, 0),
            SELECTOR_SPKI => match self.spki {
                Some(spki) => (spki, 1),
                None => return false,
            },
            _ => return false,
        };
        match r.matching_type {
            MATCHING_FULL => selected == r.data,
            MATCHING_SHA2_256 => {
                let d = self.sha256[slot].get_or_insert_with(|| Sha256::digest(selected).into());
                d[..] == *r.data
            }
            MATCHING_SHA2_512 => {
                let d = self.sha512[slot].get_or_insert_with(|| Sha512::digest(selected).into());
                d[..] == *r.data
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6698_2_1_rdata_layout() {
        let digest = [0xab; 32];
        let mut rdata = [0u8; 35];
        rdata[..3].copy_from_slice(&[3, 1, 1]);
        rdata[3..].copy_from_slice(&digest);
        let t = parse_tlsa(&rdata);
        assert_eq!(
            t,
            Ok(Tlsa {
                usage: 3,
                selector: 1,
                matching_type: 1,
                data: &digest
            })
        );
        assert!(t.is_ok_and(|t| t.is_usable()));
        for n in 0..rdata.len() {
            assert_eq!(parse_tlsa(&rdata[..n]), Err(DaneError::TlsaInvalid), "{n}");
        }
        assert_eq!(parse_tlsa(&[3, 1, 2, 0]), Err(DaneError::TlsaInvalid));
        assert_eq!(parse_tlsa(&[3, 0, 0]), Err(DaneError::TlsaInvalid));
        assert!(parse_tlsa(&[3, 0, 0, 0x30]).is_ok());
        assert!(parse_tlsa(&[3, 0, 9, 1, 2, 3]).is_ok_and(|t| !t.is_usable()));
    }

    #[test]
    fn rfc7672_3_1_3_pkix_usages_are_unusable() {
        for (u, s, m, want) in [
            (0, 0, 0, false),
            (1, 1, 1, false),
            (2, 0, 1, true),
            (3, 1, 2, true),
            (4, 1, 1, false),
            (3, 2, 1, false),
            (3, 1, 3, false),
            (255, 255, 255, false),
        ] {
            let t = Tlsa {
                usage: u,
                selector: s,
                matching_type: m,
                data: &[0],
            };
            assert_eq!(t.is_usable(), want, "{u} {s} {m}");
        }
    }

    #[test]
    fn tlsrpt_mapping() {
        for e in DaneError::ALL {
            let t = e.tlsrpt_result_type();
            match e {
                DaneError::TlsaInvalid => assert_eq!(t, "tlsa-invalid"),
                DaneError::HostMismatch => assert_eq!(t, "certificate-host-mismatch"),
                DaneError::Expired => assert_eq!(t, "certificate-expired"),
                _ => assert_eq!(t, "validation-failure"),
            }
        }
    }

    #[test]
    fn error_strings_are_distinct_and_nonempty() {
        for (i, a) in DaneError::ALL.iter().enumerate() {
            assert!(!a.as_str().is_empty());
            for b in &DaneError::ALL[i + 1..] {
                assert_ne!(a.as_str(), b.as_str());
            }
        }
    }

    #[test]
    fn caller_errors_come_first() {
        let rec: &[u8] = &[3, 0, 0, 1];
        assert_eq!(
            verify(&[], &[rec], b"mx.example", 0),
            Err(DaneError::EmptyChain)
        );
        assert_eq!(
            verify(&[b"x"], &[rec], b"192.0.2.1", 0),
            Err(DaneError::BadHost)
        );
        assert_eq!(verify(&[b"x"], &[rec], b"", 0), Err(DaneError::BadHost));
        let c: &[u8] = b"x";
        assert_eq!(
            verify(&[c; 17], &[rec], b"mx.example", 0),
            Err(DaneError::TooManyCertificates)
        );
        assert_eq!(
            verify(&[b"garbage"], &[rec], b"mx.example", 0),
            Err(DaneError::BadCertificate)
        );
    }
}
