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
//! | static | key | signature |
//! |---|---|---|
//! | [`ECDSA_P256_SHA256`], [`ECDSA_P256_SHA384`] | P-256 | ECDSA, ASN.1 DER |
//! | [`ECDSA_P384_SHA256`], [`ECDSA_P384_SHA384`] | P-384 | ECDSA, ASN.1 DER |
//! | [`ED25519`] | Ed25519 | RFC 8032, strict verification |
//! | [`RSA_PKCS1_SHA256`], [`RSA_PKCS1_SHA384`], [`RSA_PKCS1_SHA512`] | RSA 2048–4096 bits | PKCS#1 v1.5 (NULL parameters) |
//! | `RSA_PKCS1_SHA*_ABSENT_PARAMS` | RSA 2048–4096 bits | PKCS#1 v1.5, parameters omitted (RFC 4055 says to accept both) |
//! | [`RSA_PSS_SHA256`], [`RSA_PSS_SHA384`], [`RSA_PSS_SHA512`] | RSA 2048–4096 bits (`rsaEncryption` key) | RSASSA-PSS, MGF1 with the same hash, salt = hash length |
//!
//! The set is the one [`super::RING_ALGORITHMS`] lists, so that both
//! backends give the same verdicts; the only difference is the RSA upper
//! bound (4096 bits here, 8192 for *ring*).

use core::fmt;

use pki_types::{alg_id, AlgorithmIdentifier, InvalidSignature, SignatureVerificationAlgorithm};
use rsa::pkcs1::RsaPublicKey as Pkcs1Key;
use rsa::signature::Verifier as _;
use rsa::traits::PublicKeyParts as _;
use sha2::{Digest, Sha256, Sha384, Sha512};

/// Smallest RSA modulus accepted, in bits (as webpki's *ring* algorithms).
pub const RSA_MIN_BITS: usize = 2048;
/// Largest RSA modulus accepted, in bits (the `rsa` crate's limit).
pub const RSA_MAX_BITS: usize = 4096;

#[derive(Clone, Copy, Debug)]
enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

#[derive(Clone, Copy, Debug)]
enum Scheme {
    EcdsaP256(Hash),
    EcdsaP384(Hash),
    Ed25519,
    RsaPkcs1(Hash),
    RsaPss(Hash),
}

/// One RustCrypto-backed algorithm: two identifiers and a scheme.
struct Alg {
    key: AlgorithmIdentifier,
    sig: AlgorithmIdentifier,
    scheme: Scheme,
}

impl fmt::Debug for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RustCrypto {:?}", self.scheme)
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
        let ok = match self.scheme {
            Scheme::EcdsaP256(h) => ecdsa_p256(public_key, &digest(h, message), signature),
            Scheme::EcdsaP384(h) => ecdsa_p384(public_key, &digest(h, message), signature),
            Scheme::Ed25519 => ed25519(public_key, message, signature),
            Scheme::RsaPkcs1(h) => rsa_pkcs1(public_key, h, message, signature),
            Scheme::RsaPss(h) => rsa_pss(public_key, h, message, signature),
        };
        if ok {
            Ok(())
        } else {
            Err(InvalidSignature)
        }
    }
}

/// A digest of up to 64 bytes, kept on the stack.
struct Prehash {
    buf: [u8; 64],
    len: usize,
}

impl core::ops::Deref for Prehash {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }
}

fn digest(h: Hash, message: &[u8]) -> Prehash {
    fn put<D: Digest>(message: &[u8]) -> Prehash {
        let out = D::digest(message);
        let mut buf = [0u8; 64];
        let len = out.len().min(64);
        buf[..len].copy_from_slice(&out[..len]);
        Prehash { buf, len }
    }
    match h {
        Hash::Sha256 => put::<Sha256>(message),
        Hash::Sha384 => put::<Sha384>(message),
        Hash::Sha512 => put::<Sha512>(message),
    }
}

fn ecdsa_p256(key: &[u8], prehash: &[u8], sig: &[u8]) -> bool {
    use p256::ecdsa::{signature::hazmat::PrehashVerifier, Signature, VerifyingKey};
    match (VerifyingKey::from_sec1_bytes(key), Signature::from_der(sig)) {
        (Ok(k), Ok(s)) => k.verify_prehash(prehash, &s).is_ok(),
        _ => false,
    }
}

fn ecdsa_p384(key: &[u8], prehash: &[u8], sig: &[u8]) -> bool {
    use p384::ecdsa::{signature::hazmat::PrehashVerifier, Signature, VerifyingKey};
    match (VerifyingKey::from_sec1_bytes(key), Signature::from_der(sig)) {
        (Ok(k), Ok(s)) => k.verify_prehash(prehash, &s).is_ok(),
        _ => false,
    }
}

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

/// Parses a PKCS#1 `RSAPublicKey` and enforces the size window.
fn rsa_key(der: &[u8]) -> Option<rsa::RsaPublicKey> {
    let parsed = Pkcs1Key::try_from(der).ok()?;
    let n = rsa::BigUint::from_bytes_be(parsed.modulus.as_bytes());
    let e = rsa::BigUint::from_bytes_be(parsed.public_exponent.as_bytes());
    let key = rsa::RsaPublicKey::new_with_max_size(n, e, RSA_MAX_BITS).ok()?;
    (key.n().bits() >= RSA_MIN_BITS).then_some(key)
}

fn rsa_pkcs1(key: &[u8], h: Hash, message: &[u8], sig: &[u8]) -> bool {
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    let (Some(key), Ok(sig)) = (rsa_key(key), Signature::try_from(sig)) else {
        return false;
    };
    match h {
        Hash::Sha256 => VerifyingKey::<Sha256>::new(key).verify(message, &sig),
        Hash::Sha384 => VerifyingKey::<Sha384>::new(key).verify(message, &sig),
        Hash::Sha512 => VerifyingKey::<Sha512>::new(key).verify(message, &sig),
    }
    .is_ok()
}

fn rsa_pss(key: &[u8], h: Hash, message: &[u8], sig: &[u8]) -> bool {
    use rsa::pss::{Signature, VerifyingKey};
    let (Some(key), Ok(sig)) = (rsa_key(key), Signature::try_from(sig)) else {
        return false;
    };
    match h {
        Hash::Sha256 => VerifyingKey::<Sha256>::new(key).verify(message, &sig),
        Hash::Sha384 => VerifyingKey::<Sha384>::new(key).verify(message, &sig),
        Hash::Sha512 => VerifyingKey::<Sha512>::new(key).verify(message, &sig),
    }
    .is_ok()
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
    ($( $(#[$doc:meta])* $name:ident = $key:expr, $sig:expr, $scheme:expr; )+) => {
        $(
            $(#[$doc])*
            pub static $name: &dyn SignatureVerificationAlgorithm =
                &Alg { key: $key, sig: $sig, scheme: $scheme };
        )+
        /// Every algorithm of this module, for
        /// [`verify_with_algorithms`](super::verify_with_algorithms).
        pub static ALL: &[&dyn SignatureVerificationAlgorithm] = &[$($name),+];
    };
}

algorithms! {
    /// ECDSA over P-256 with SHA-256.
    ECDSA_P256_SHA256 = alg_id::ECDSA_P256, alg_id::ECDSA_SHA256, Scheme::EcdsaP256(Hash::Sha256);
    /// ECDSA over P-256 with SHA-384.
    ECDSA_P256_SHA384 = alg_id::ECDSA_P256, alg_id::ECDSA_SHA384, Scheme::EcdsaP256(Hash::Sha384);
    /// ECDSA over P-384 with SHA-256.
    ECDSA_P384_SHA256 = alg_id::ECDSA_P384, alg_id::ECDSA_SHA256, Scheme::EcdsaP384(Hash::Sha256);
    /// ECDSA over P-384 with SHA-384.
    ECDSA_P384_SHA384 = alg_id::ECDSA_P384, alg_id::ECDSA_SHA384, Scheme::EcdsaP384(Hash::Sha384);
    /// Ed25519 (RFC 8032), with strict checks on the key and signature.
    ED25519 = alg_id::ED25519, alg_id::ED25519, Scheme::Ed25519;
    /// RSA PKCS#1 v1.5 with SHA-256, 2048–4096-bit keys.
    RSA_PKCS1_SHA256 = alg_id::RSA_ENCRYPTION, alg_id::RSA_PKCS1_SHA256, Scheme::RsaPkcs1(Hash::Sha256);
    /// RSA PKCS#1 v1.5 with SHA-384, 2048–4096-bit keys.
    RSA_PKCS1_SHA384 = alg_id::RSA_ENCRYPTION, alg_id::RSA_PKCS1_SHA384, Scheme::RsaPkcs1(Hash::Sha384);
    /// RSA PKCS#1 v1.5 with SHA-512, 2048–4096-bit keys.
    RSA_PKCS1_SHA512 = alg_id::RSA_ENCRYPTION, alg_id::RSA_PKCS1_SHA512, Scheme::RsaPkcs1(Hash::Sha512);
    /// [`RSA_PKCS1_SHA256`] for certificates that omit the NULL parameters.
    RSA_PKCS1_SHA256_ABSENT_PARAMS = alg_id::RSA_ENCRYPTION, RSA_PKCS1_SHA256_NO_PARAMS, Scheme::RsaPkcs1(Hash::Sha256);
    /// [`RSA_PKCS1_SHA384`] for certificates that omit the NULL parameters.
    RSA_PKCS1_SHA384_ABSENT_PARAMS = alg_id::RSA_ENCRYPTION, RSA_PKCS1_SHA384_NO_PARAMS, Scheme::RsaPkcs1(Hash::Sha384);
    /// [`RSA_PKCS1_SHA512`] for certificates that omit the NULL parameters.
    RSA_PKCS1_SHA512_ABSENT_PARAMS = alg_id::RSA_ENCRYPTION, RSA_PKCS1_SHA512_NO_PARAMS, Scheme::RsaPkcs1(Hash::Sha512);
    /// RSASSA-PSS with SHA-256 (MGF1-SHA-256, 32-byte salt), 2048–4096-bit keys.
    RSA_PSS_SHA256 = alg_id::RSA_ENCRYPTION, alg_id::RSA_PSS_SHA256, Scheme::RsaPss(Hash::Sha256);
    /// RSASSA-PSS with SHA-384 (MGF1-SHA-384, 48-byte salt), 2048–4096-bit keys.
    RSA_PSS_SHA384 = alg_id::RSA_ENCRYPTION, alg_id::RSA_PSS_SHA384, Scheme::RsaPss(Hash::Sha384);
    /// RSASSA-PSS with SHA-512 (MGF1-SHA-512, 64-byte salt), 2048–4096-bit keys.
    RSA_PSS_SHA512 = alg_id::RSA_ENCRYPTION, alg_id::RSA_PSS_SHA512, Scheme::RsaPss(Hash::Sha512);
}
