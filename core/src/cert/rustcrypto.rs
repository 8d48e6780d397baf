//! Signature verification over the RustCrypto crates, for targets where
//! *ring* does not build or link (Cortex-M and other bare-metal targets).
//!
//! Each static here implements [`SignatureVerificationAlgorithm`] for one
//! pair of public-key algorithm and signature algorithm, as webpki asks:
//! webpki matches the two `AlgorithmIdentifier`s of a certificate against
//! [`public_key_alg_id`](SignatureVerificationAlgorithm::public_key_alg_id)
//! and [`signature_alg_id`](SignatureVerificationAlgorithm::signature_alg_id)
//! and then hands over the raw `subjectPublicKey` bits, the signed bytes
//! (not hashed) and the signature.
//!
//! | static | key | signature | feature |
//! |---|---|---|---|
//! | [`ECDSA_P256_SHA256`], [`ECDSA_P256_SHA384`] | P-256 | ECDSA, ASN.1 DER | `rustcrypto` |
//! | `ECDSA_P384_SHA256`, `ECDSA_P384_SHA384` | P-384 | ECDSA, ASN.1 DER | `rustcrypto-p384` |
//! | `ED25519` | Ed25519 | RFC 8032, strict verification | `rustcrypto-ed25519` |
//! | [`RSA_PKCS1_SHA256`], [`RSA_PKCS1_SHA384`], [`RSA_PKCS1_SHA512`] | RSA 2048–4096 bits | PKCS#1 v1.5 (NULL parameters) | `rustcrypto` |
//! | `RSA_PKCS1_SHA*_ABSENT_PARAMS` | RSA 2048–4096 bits | PKCS#1 v1.5, parameters omitted (RFC 4055 says to accept both) | `rustcrypto` |
//! | [`RSA_PSS_SHA256`], [`RSA_PSS_SHA384`], [`RSA_PSS_SHA512`] | RSA 2048–4096 bits (`rsaEncryption` key) | RSASSA-PSS, MGF1 with the same hash, salt = hash length | `rustcrypto` |
//!
//! With all three features, the set is the one `super::RING_ALGORITHMS`
//! lists (where *ring* is built), so that both backends give the same
//! verdicts; the only difference is the RSA upper bound (4096 bits here,
//! 8192 for *ring*).
//!
//! **Code size on Cortex-M** (thumbv7em, `opt-level = "z"`, LTO, with the
//! `compact-sha2` feature): webpki path validation alone is about 21 KB of
//! `.text`; P-256 adds about 17 KB, RSA (PKCS#1 v1.5 and PSS) about 20 KB,
//! Ed25519 about 15 KB and P-384 about 106 KB. Only the statics a build
//! references are linked: pass a short list to
//! [`verify_with_algorithms`](super::verify_with_algorithms) to keep an
//! image small.

use core::fmt;

use pki_types::{alg_id, AlgorithmIdentifier, InvalidSignature, SignatureVerificationAlgorithm};
use rsa::signature::Verifier as _;
use rsa::traits::PublicKeyParts as _;
use sha2::digest::{const_oid::AssociatedOid, FixedOutputReset};
use sha2::{Digest, Sha256, Sha384, Sha512};

/// Smallest RSA modulus accepted, in bits (as webpki's *ring* algorithms).
pub const RSA_MIN_BITS: usize = 2048;
/// Largest RSA modulus accepted, in bits (the `rsa` crate's limit).
pub const RSA_MAX_BITS: usize = 4096;

/// One RustCrypto-backed algorithm: two identifiers and a check.
///
/// Each static points at its own monomorphic function, so that a firmware
/// build that lists only some statics links only their code.
struct Alg {
    name: &'static str,
    key: AlgorithmIdentifier,
    sig: AlgorithmIdentifier,
    verify: fn(&[u8], &[u8], &[u8]) -> bool,
}

impl fmt::Debug for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RustCrypto {}", self.name)
    }
}

impl SignatureVerificationAlgorithm for Alg {
    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        self.key
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        self.sig
    }

    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        if (self.verify)(public_key, message, signature) {
            Ok(())
        } else {
            Err(InvalidSignature)
        }
    }
}

/// ECDSA over P-256: SEC1 point, DER signature, `D` hashes the message.
fn ecdsa_p256<D: Digest>(key: &[u8], message: &[u8], sig: &[u8]) -> bool {
    use p256::ecdsa::{signature::hazmat::PrehashVerifier, Signature, VerifyingKey};
    match (VerifyingKey::from_sec1_bytes(key), Signature::from_der(sig)) {
        (Ok(k), Ok(s)) => k.verify_prehash(&D::digest(message), &s).is_ok(),
        _ => false,
    }
}

#[cfg(feature = "rustcrypto-p384")]
/// ECDSA over P-384: SEC1 point, DER signature, `D` hashes the message.
fn ecdsa_p384<D: Digest>(key: &[u8], message: &[u8], sig: &[u8]) -> bool {
    use p384::ecdsa::{signature::hazmat::PrehashVerifier, Signature, VerifyingKey};
    match (VerifyingKey::from_sec1_bytes(key), Signature::from_der(sig)) {
        (Ok(k), Ok(s)) => k.verify_prehash(&D::digest(message), &s).is_ok(),
        _ => false,
    }
}

#[cfg(feature = "rustcrypto-ed25519")]
/// Ed25519: 32-byte key, 64-byte signature, strict verification.
fn ed25519(key: &[u8], message: &[u8], sig: &[u8]) -> bool {
    use ed25519_dalek::{Signature, VerifyingKey};
    let Ok(key) = <&[u8; 32]>::try_from(key) else {
        return false;
    };
    match (VerifyingKey::from_bytes(key), Signature::from_slice(sig)) {
        (Ok(k), Ok(s)) => k.verify_strict(message, &s).is_ok(),
        _ => false,
    }
}

/// Parses a PKCS#1 `RSAPublicKey ::= SEQUENCE { modulus INTEGER,
/// publicExponent INTEGER }` (DER, both positive and minimally encoded)
/// and enforces the size window.
fn rsa_key(der: &[u8]) -> Option<rsa::RsaPublicKey> {
    let (seq, rest) = tlv(der, 0x30)?;
    let (n, fields) = tlv(seq, 0x02)?;
    let (e, fields) = tlv(fields, 0x02)?;
    if !rest.is_empty() || !fields.is_empty() {
        return None;
    }
    let (n, e) = (positive(n)?, positive(e)?);
    let n = rsa::BigUint::from_bytes_be(n);
    let e = rsa::BigUint::from_bytes_be(e);
    let key = rsa::RsaPublicKey::new_with_max_size(n, e, RSA_MAX_BITS).ok()?;
    (key.n().bits() >= RSA_MIN_BITS).then_some(key)
}

/// One DER element with the given tag: its contents and what follows.
/// Lengths up to 65535 bytes (a 4096-bit modulus needs 513).
fn tlv(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (len, body) = match input {
        [t, l, body @ ..] if *t == tag && *l < 0x80 => (usize::from(*l), body),
        [t, 0x81, l, body @ ..] if *t == tag && *l >= 0x80 => (usize::from(*l), body),
        [t, 0x82, h, l, body @ ..] if *t == tag && *h != 0 => {
            (usize::from(*h) << 8 | usize::from(*l), body)
        }
        _ => return None,
    };
    Some((body.get(..len)?, body.get(len..)?))
}

/// The magnitude of a DER INTEGER that must be positive and minimal.
fn positive(int: &[u8]) -> Option<&[u8]> {
    match int {
        [] => None,
        [b, ..] if b & 0x80 != 0 => None,
        [0, rest @ ..] => match rest.first() {
            Some(b) if b & 0x80 != 0 => Some(rest),
            _ => None,
        },
        _ => Some(int),
    }
}

/// RSASSA-PKCS1-v1_5 with digest `D`.
fn rsa_pkcs1<D: Digest + AssociatedOid>(key: &[u8], message: &[u8], sig: &[u8]) -> bool {
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    match (rsa_key(key), Signature::try_from(sig)) {
        (Some(k), Ok(s)) => VerifyingKey::<D>::new(k).verify(message, &s).is_ok(),
        _ => false,
    }
}

/// RSASSA-PSS with digest `D`, MGF1 over `D`, salt as long as the digest.
fn rsa_pss<D: Digest + FixedOutputReset>(key: &[u8], message: &[u8], sig: &[u8]) -> bool {
    use rsa::pss::{Signature, VerifyingKey};
    match (rsa_key(key), Signature::try_from(sig)) {
        (Some(k), Ok(s)) => VerifyingKey::<D>::new(k).verify(message, &s).is_ok(),
        _ => false,
    }
}

// `sha*WithRSAEncryption` with the parameters left out: the contents of the
// AlgorithmIdentifier SEQUENCE are just the OID 1.2.840.113549.1.1.{11,12,13}.
const RSA_PKCS1_SHA256_NO_PARAMS: AlgorithmIdentifier = AlgorithmIdentifier::from_slice(&[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b,
]);
const RSA_PKCS1_SHA384_NO_PARAMS: AlgorithmIdentifier = AlgorithmIdentifier::from_slice(&[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c,
]);
const RSA_PKCS1_SHA512_NO_PARAMS: AlgorithmIdentifier = AlgorithmIdentifier::from_slice(&[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d,
]);

macro_rules! algorithms {
    ($(
        $(#[doc = $doc:literal])*
        $(#[cfg($cfg:meta)])?
        $name:ident = $key:expr, $sig:expr, $verify:expr;
    )+) => {
        $(
            $(#[doc = $doc])*
            $(#[cfg($cfg)])?
            pub static $name: &dyn SignatureVerificationAlgorithm = &Alg {
                name: stringify!($name),
                key: $key,
                sig: $sig,
                verify: $verify,
            };
        )+
        /// Every algorithm of this module compiled in, for
        /// [`verify_with_algorithms`](super::verify_with_algorithms).
        pub static ALL: &[&dyn SignatureVerificationAlgorithm] = &[$( $(#[cfg($cfg)])? $name ),+];
    };
}

algorithms! {
    /// ECDSA over P-256 with SHA-256.
    ECDSA_P256_SHA256 = alg_id::ECDSA_P256, alg_id::ECDSA_SHA256, ecdsa_p256::<Sha256>;
    /// ECDSA over P-256 with SHA-384.
    ECDSA_P256_SHA384 = alg_id::ECDSA_P256, alg_id::ECDSA_SHA384, ecdsa_p256::<Sha384>;
    /// ECDSA over P-384 with SHA-256.
    #[cfg(feature = "rustcrypto-p384")]
    ECDSA_P384_SHA256 = alg_id::ECDSA_P384, alg_id::ECDSA_SHA256, ecdsa_p384::<Sha256>;
    /// ECDSA over P-384 with SHA-384.
    #[cfg(feature = "rustcrypto-p384")]
    ECDSA_P384_SHA384 = alg_id::ECDSA_P384, alg_id::ECDSA_SHA384, ecdsa_p384::<Sha384>;
    /// Ed25519 (RFC 8032), with strict checks on the key and signature.
    #[cfg(feature = "rustcrypto-ed25519")]
    ED25519 = alg_id::ED25519, alg_id::ED25519, ed25519;
    /// RSA PKCS#1 v1.5 with SHA-256, 2048–4096-bit keys.
    RSA_PKCS1_SHA256 = alg_id::RSA_ENCRYPTION, alg_id::RSA_PKCS1_SHA256, rsa_pkcs1::<Sha256>;
    /// RSA PKCS#1 v1.5 with SHA-384, 2048–4096-bit keys.
    RSA_PKCS1_SHA384 = alg_id::RSA_ENCRYPTION, alg_id::RSA_PKCS1_SHA384, rsa_pkcs1::<Sha384>;
    /// RSA PKCS#1 v1.5 with SHA-512, 2048–4096-bit keys.
    RSA_PKCS1_SHA512 = alg_id::RSA_ENCRYPTION, alg_id::RSA_PKCS1_SHA512, rsa_pkcs1::<Sha512>;
    /// [`RSA_PKCS1_SHA256`] for certificates that omit the NULL parameters.
    RSA_PKCS1_SHA256_ABSENT_PARAMS = alg_id::RSA_ENCRYPTION, RSA_PKCS1_SHA256_NO_PARAMS, rsa_pkcs1::<Sha256>;
    /// [`RSA_PKCS1_SHA384`] for certificates that omit the NULL parameters.
    RSA_PKCS1_SHA384_ABSENT_PARAMS = alg_id::RSA_ENCRYPTION, RSA_PKCS1_SHA384_NO_PARAMS, rsa_pkcs1::<Sha384>;
    /// [`RSA_PKCS1_SHA512`] for certificates that omit the NULL parameters.
    RSA_PKCS1_SHA512_ABSENT_PARAMS = alg_id::RSA_ENCRYPTION, RSA_PKCS1_SHA512_NO_PARAMS, rsa_pkcs1::<Sha512>;
    /// RSASSA-PSS with SHA-256 (MGF1-SHA-256, 32-byte salt), 2048–4096-bit keys.
    RSA_PSS_SHA256 = alg_id::RSA_ENCRYPTION, alg_id::RSA_PSS_SHA256, rsa_pss::<Sha256>;
    /// RSASSA-PSS with SHA-384 (MGF1-SHA-384, 48-byte salt), 2048–4096-bit keys.
    RSA_PSS_SHA384 = alg_id::RSA_ENCRYPTION, alg_id::RSA_PSS_SHA384, rsa_pss::<Sha384>;
    /// RSASSA-PSS with SHA-512 (MGF1-SHA-512, 64-byte salt), 2048–4096-bit keys.
    RSA_PSS_SHA512 = alg_id::RSA_ENCRYPTION, alg_id::RSA_PSS_SHA512, rsa_pss::<Sha512>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_integers_must_be_positive_and_minimal() {
        assert_eq!(positive(&[0x01]), Some(&[0x01][..]));
        assert_eq!(positive(&[0x00, 0x80]), Some(&[0x80][..]));
        assert_eq!(positive(&[0x7f, 0xff]), Some(&[0x7f, 0xff][..]));
        assert_eq!(positive(&[0x00, 0x01]), None); // not minimal
        assert_eq!(positive(&[0x80]), None); // negative
        assert_eq!(positive(&[0x00]), None); // zero
        assert_eq!(positive(&[]), None);
    }

    #[test]
    fn der_lengths() {
        let five: &[u8] = &[5];
        let none: &[u8] = &[];
        assert_eq!(tlv(&[0x02, 0x01, 0x05], 0x02), Some((five, none)));
        assert_eq!(
            tlv(&[0x02, 0x01, 0x05, 0xaa], 0x02),
            Some((five, &[0xaa][..]))
        );
        assert_eq!(tlv(&[0x30, 0x01, 0x05], 0x02), None); // other tag
        assert_eq!(tlv(&[0x02, 0x02, 0x05], 0x02), None); // past the end
        assert_eq!(tlv(&[0x02, 0x81, 0x05, 0x05], 0x02), None); // long form for 5
        assert_eq!(tlv(&[0x02, 0x82, 0x00, 0x90], 0x02), None); // leading zero
        assert_eq!(tlv(&[0x02, 0x83, 0, 0, 1, 0], 0x02), None); // 3-byte length
        assert_eq!(tlv(&[0x02, 0x80], 0x02), None); // indefinite
        let mut long = [0u8; 0x103];
        long[..3].copy_from_slice(&[0x04, 0x81, 0x80]);
        assert_eq!(
            tlv(&long, 0x04).map(|(c, r)| (c.len(), r.len())),
            Some((0x80, 0x80))
        );
    }

    #[test]
    fn rsa_keys_outside_the_window_or_malformed_are_refused() {
        assert!(rsa_key(&[]).is_none());
        assert!(rsa_key(&[0x30, 0x00]).is_none());
        // n = 0xff..ff (1024 bits), e = 65537: well formed, too small.
        let mut small = [0u8; 3 + 4 + 128 + 5];
        small[..7].copy_from_slice(&[0x30, 0x81, 4 + 128 + 5, 0x02, 0x81, 0x81, 0x00]);
        small[7..7 + 128].fill(0xff);
        small[7 + 128..].copy_from_slice(&[0x02, 0x03, 0x01, 0x00, 0x01]);
        assert_eq!(small[2] as usize, small.len() - 3);
        assert!(rsa_key(&small[..small.len() - 1]).is_none());
        assert!(rsa_key(&small).is_none());
        // The same shape with a 2048-bit modulus is accepted.
        let mut ok = [0u8; 4 + 5 + 256 + 5];
        ok[..9].copy_from_slice(&[0x30, 0x82, 0x01, 0x0a, 0x02, 0x82, 0x01, 0x01, 0x00]);
        ok[9..9 + 256].fill(0xff);
        ok[9 + 256..].copy_from_slice(&[0x02, 0x03, 0x01, 0x00, 0x01]);
        assert!(rsa_key(&ok).is_some());
        // A negative exponent is not.
        let mut neg = ok;
        neg[9 + 256 + 2] = 0x81;
        assert!(rsa_key(&neg).is_none());
    }
}
