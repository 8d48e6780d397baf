//! A test PKI built at test time with rcgen.
//!
//! EC and Ed25519 keys are generated on each run. rcgen cannot generate
//! RSA keys with its *ring* provider, so the RSA keys are fixed PKCS#8
//! files next to this module (made once with
//! `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:N -outform DER`);
//! the certificates over them are still made at test time.
#![allow(dead_code)]

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PublicKeyData, SignatureAlgorithm,
};

/// "Now" for every test: 2026-06-01T00:00:00Z.
pub const NOW: u64 = 1_780_272_000;
/// 2020-01-01T00:00:00Z.
pub const Y2020: u64 = 1_577_836_800;
/// 2030-01-01T00:00:00Z.
pub const Y2030: u64 = 1_893_456_000;

/// Key and signature algorithm of a certificate's subject key.
#[derive(Clone, Copy, Debug)]
pub enum Alg {
    P256,
    P384,
    Ed25519,
    Rsa2048,
    Rsa2048Sha384,
    Rsa2048Sha512,
    Rsa3072,
    Rsa4096,
}

pub fn key(alg: Alg) -> KeyPair {
    let rsa = |der: &[u8], sig: &'static SignatureAlgorithm| {
        KeyPair::from_pkcs8_der_and_sign_algo(&der.into(), sig).expect("rsa key")
    };
    match alg {
        Alg::P256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("p256"),
        Alg::P384 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).expect("p384"),
        Alg::Ed25519 => KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("ed25519"),
        Alg::Rsa2048 => rsa(RSA2048, &rcgen::PKCS_RSA_SHA256),
        Alg::Rsa2048Sha384 => rsa(RSA2048, &rcgen::PKCS_RSA_SHA384),
        Alg::Rsa2048Sha512 => rsa(RSA2048, &rcgen::PKCS_RSA_SHA512),
        Alg::Rsa3072 => rsa(RSA3072, &rcgen::PKCS_RSA_SHA256),
        Alg::Rsa4096 => rsa(RSA4096, &rcgen::PKCS_RSA_SHA256),
    }
}

pub const RSA2048: &[u8] = include_bytes!("rsa2048.pk8");
pub const RSA3072: &[u8] = include_bytes!("rsa3072.pk8");
pub const RSA4096: &[u8] = include_bytes!("rsa4096.pk8");

/// A certificate with the key that can issue under it.
pub struct Cert {
    pub der: Vec<u8>,
    /// DER SubjectPublicKeyInfo, as rcgen encodes it (an oracle for the
    /// DER walker in `dane`).
    pub spki: Vec<u8>,
    issuer: Issuer<'static, KeyPair>,
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.not_before = date_time_ymd(2020, 1, 1);
    p.not_after = date_time_ymd(2035, 1, 1);
    p
}

fn finish(params: CertificateParams, key: KeyPair, parent: Option<&Cert>) -> Cert {
    let cert = match parent {
        Some(parent) => params.signed_by(&key, &parent.issuer),
        None => params.self_signed(&key),
    }
    .expect("sign");
    Cert {
        der: cert.der().to_vec(),
        spki: key.subject_public_key_info(),
        issuer: Issuer::new(params, key),
    }
}

/// A self-signed root CA.
pub fn root(cn: &str, alg: Alg) -> Cert {
    finish(ca_params(cn), key(alg), None)
}

/// A CA certificate issued by `parent`.
pub fn ca(cn: &str, alg: Alg, parent: &Cert) -> Cert {
    finish(ca_params(cn), key(alg), Some(parent))
}

/// A CA certificate issued by `parent`, with its parameters adjusted.
pub fn ca_with(cn: &str, alg: Alg, parent: &Cert, f: impl FnOnce(&mut CertificateParams)) -> Cert {
    let mut p = ca_params(cn);
    f(&mut p);
    finish(p, key(alg), Some(parent))
}

/// Default leaf parameters: the given SANs (IP literals become IP SANs),
/// CN "mail server", serverAuth, valid 2025-01-01 to 2027-01-01.
pub fn leaf_params(sans: &[&str]) -> CertificateParams {
    let sans: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
    let mut p = CertificateParams::new(sans).expect("sans");
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(DnType::CommonName, "mail server");
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.not_before = date_time_ymd(2025, 1, 1);
    p.not_after = date_time_ymd(2027, 1, 1);
    p
}

/// A leaf issued by `parent` for `sans`.
pub fn leaf(parent: &Cert, alg: Alg, sans: &[&str]) -> Cert {
    finish(leaf_params(sans), key(alg), Some(parent))
}

/// A leaf issued by `parent` with its parameters adjusted.
pub fn leaf_with(
    parent: &Cert,
    alg: Alg,
    sans: &[&str],
    f: impl FnOnce(&mut CertificateParams),
) -> Cert {
    let mut p = leaf_params(sans);
    f(&mut p);
    finish(p, key(alg), Some(parent))
}

/// A self-signed leaf (not a CA).
pub fn self_signed_leaf(alg: Alg, sans: &[&str]) -> Cert {
    finish(leaf_params(sans), key(alg), None)
}

/// A copy of `der` with one byte of the signature (the last byte) flipped.
pub fn corrupt_signature(der: &[u8]) -> Vec<u8> {
    let mut v = der.to_vec();
    if let Some(b) = v.last_mut() {
        *b ^= 0x01;
    }
    v
}

pub fn sha256(b: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(b).to_vec()
}

pub fn sha512(b: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha512::digest(b).to_vec()
}

/// TLSA RDATA from its fields.
pub fn tlsa(usage: u8, selector: u8, matching: u8, data: &[u8]) -> Vec<u8> {
    let mut v = vec![usage, selector, matching];
    v.extend_from_slice(data);
    v
}

pub fn sha384(b: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha384::digest(b).to_vec()
}
