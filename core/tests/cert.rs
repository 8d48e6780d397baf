//! RFC 8461 §4.2 certificate validation against a PKI made at test time.
//!
//! Every case runs through every signature backend compiled in (*ring*
//! and RustCrypto) and asserts that they agree.
#![cfg(all(feature = "webpki", any(feature = "ring", feature = "rustcrypto")))]
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use common::*;
use sts_core::cert::{self, CertError, SignatureVerificationAlgorithm};

type Algs = &'static [&'static dyn SignatureVerificationAlgorithm];

static BACKENDS: &[(&str, Algs)] = &[
    #[cfg(feature = "ring")]
    ("ring", cert::RING_ALGORITHMS),
    #[cfg(feature = "rustcrypto")]
    ("rustcrypto", cert::rustcrypto::ALL),
];

/// Whether the RustCrypto backend has every algorithm *ring* has.
const RUSTCRYPTO_FULL: bool = cfg!(all(
    feature = "rustcrypto-p384",
    feature = "rustcrypto-ed25519"
));

/// Runs one case through every backend; they must agree. For chains
/// with P-256 and RSA only, which every backend supports.
fn check(chain: &[&[u8]], roots: &[&[u8]], host: &str, now: u64) -> Result<(), CertError> {
    check_with(false, chain, roots, host, now)
}

/// [`check`] for chains with P-384 or Ed25519: only the backends that
/// have them.
#[cfg(any(
    feature = "ring",
    all(feature = "rustcrypto-p384", feature = "rustcrypto-ed25519")
))]
fn check_full(chain: &[&[u8]], roots: &[&[u8]], host: &str, now: u64) -> Result<(), CertError> {
    check_with(true, chain, roots, host, now)
}

fn check_with(
    full: bool,
    chain: &[&[u8]],
    roots: &[&[u8]],
    host: &str,
    now: u64,
) -> Result<(), CertError> {
    let mut verdict = None;
    for &(name, algs) in BACKENDS {
        if full && name == "rustcrypto" && !RUSTCRYPTO_FULL {
            continue;
        }
        let got = cert::verify_with_algorithms(algs, chain, roots, host.as_bytes(), now);
        match verdict {
            None => verdict = Some(got),
            Some(first) => assert_eq!(got, first, "backend {name} disagrees for {host}"),
        }
    }
    let got = verdict.expect("at least one backend");
    if !full || cfg!(feature = "ring") || RUSTCRYPTO_FULL {
        assert_eq!(
            cert::verify(chain, roots, host.as_bytes(), now),
            got,
            "default"
        );
    }
    got
}

/// Root → leaf, one algorithm throughout.
fn simple(alg: Alg, sans: &[&str]) -> (Cert, Cert) {
    let root = root("Test Root", alg);
    let leaf = leaf(&root, alg, sans);
    (root, leaf)
}

#[test]
fn rfc8461_4_2_valid_leaf_under_root() {
    let (root, leaf) = simple(Alg::P256, &["mx1.example.test"]);
    assert_eq!(
        check(&[&leaf.der], &[&root.der], "mx1.example.test", NOW),
        Ok(())
    );
}

#[test]
fn rfc8461_4_2_leaf_with_intermediate() {
    let root = root("Test Root", Alg::P256);
    let int = ca("Test Intermediate", Alg::P256, &root);
    let leaf = leaf(&int, Alg::P256, &["mx1.example.test"]);
    assert_eq!(
        check(
            &[&leaf.der, &int.der],
            &[&root.der],
            "mx1.example.test",
            NOW
        ),
        Ok(())
    );
    // The intermediate must be sent: without it there is no path.
    assert_eq!(
        check(&[&leaf.der], &[&root.der], "mx1.example.test", NOW),
        Err(CertError::NotTrusted)
    );
    // A root sent along, and extra certificates in any order, are harmless.
    let other = root_other();
    assert_eq!(
        check(
            &[&leaf.der, &other.der, &root.der, &int.der],
            &[&root.der],
            "mx1.example.test",
            NOW
        ),
        Ok(())
    );
}

fn root_other() -> Cert {
    root("Unrelated Root", Alg::P256)
}

#[cfg(any(
    feature = "ring",
    all(feature = "rustcrypto-p384", feature = "rustcrypto-ed25519")
))]
#[test]
fn rfc8461_4_2_two_intermediates_and_several_roots() {
    let root = root("Test Root", Alg::P384);
    let i1 = ca("Int 1", Alg::P384, &root);
    let i2 = ca("Int 2", Alg::P256, &i1);
    let leaf = leaf(&i2, Alg::P256, &["mx1.example.test"]);
    let other = root_other();
    assert_eq!(
        check_full(
            &[&leaf.der, &i2.der, &i1.der],
            &[&other.der, &root.der],
            "mx1.example.test",
            NOW
        ),
        Ok(())
    );
}

#[test]
fn rfc8461_4_2_host_name_case_and_trailing_dot() {
    let (root, leaf) = simple(Alg::P256, &["mx1.example.test"]);
    for host in ["MX1.Example.TEST", "mx1.example.test.", "Mx1.example.test."] {
        assert_eq!(
            check(&[&leaf.der], &[&root.der], host, NOW),
            Ok(()),
            "{host}"
        );
    }
    assert_eq!(
        check(&[&leaf.der], &[&root.der], "mx1.example.test..", NOW),
        Err(CertError::BadHost)
    );
}

#[test]
fn rfc8461_4_2_wrong_host() {
    let (root, leaf) = simple(Alg::P256, &["mx1.example.test"]);
    for host in [
        "mx2.example.test",
        "example.test",
        "a.mx1.example.test",
        "mx1.example.org",
    ] {
        assert_eq!(
            check(&[&leaf.der], &[&root.der], host, NOW),
            Err(CertError::HostMismatch),
            "{host}"
        );
    }
    assert_eq!(
        CertError::HostMismatch.tlsrpt_result_type(),
        "certificate-host-mismatch"
    );
}

#[test]
fn rfc8461_4_2_any_of_several_dns_ids() {
    let (root, leaf) = simple(Alg::P256, &["mx1.example.test", "mx2.example.test"]);
    for host in ["mx1.example.test", "mx2.example.test"] {
        assert_eq!(check(&[&leaf.der], &[&root.der], host, NOW), Ok(()));
    }
}

#[test]
fn rfc8461_4_2_expired() {
    let root = root("Test Root", Alg::P256);
    let leaf = leaf_with(&root, Alg::P256, &["mx1.example.test"], |p| {
        p.not_before = rcgen::date_time_ymd(2024, 1, 1);
        p.not_after = rcgen::date_time_ymd(2025, 1, 1);
    });
    assert_eq!(
        check(&[&leaf.der], &[&root.der], "mx1.example.test", NOW),
        Err(CertError::Expired)
    );
    assert_eq!(
        CertError::Expired.tlsrpt_result_type(),
        "certificate-expired"
    );
    // The same certificate was fine while it was valid.
    assert_eq!(
        check(
            &[&leaf.der],
            &[&root.der],
            "mx1.example.test",
            1_720_000_000
        ),
        Ok(())
    );
}

#[test]
fn rfc8461_4_2_not_yet_valid() {
    let (root, leaf) = simple(Alg::P256, &["mx1.example.test"]);
    assert_eq!(
        check(&[&leaf.der], &[&root.der], "mx1.example.test", Y2020),
        Err(CertError::Expired)
    );
    assert_eq!(
        check(&[&leaf.der], &[&root.der], "mx1.example.test", Y2030),
        Err(CertError::Expired)
    );
    assert_eq!(
        check(&[&leaf.der], &[&root.der], "mx1.example.test", 0),
        Err(CertError::Expired)
    );
    assert_eq!(
        check(&[&leaf.der], &[&root.der], "mx1.example.test", u64::MAX),
        Err(CertError::Expired)
    );
}

#[test]
fn rfc8461_4_2_expired_intermediate() {
    let root = root("Test Root", Alg::P256);
    let int = ca_with("Old Intermediate", Alg::P256, &root, |p| {
        p.not_after = rcgen::date_time_ymd(2026, 1, 1);
    });
    let leaf = leaf(&int, Alg::P256, &["mx1.example.test"]);
    assert_eq!(
        check(
            &[&leaf.der, &int.der],
            &[&root.der],
            "mx1.example.test",
            NOW
        ),
        Err(CertError::Expired)
    );
}

#[test]
fn rfc8461_4_2_untrusted_root() {
    let (_root, leaf) = simple(Alg::P256, &["mx1.example.test"]);
    let other = root_other();
    assert_eq!(
        check(&[&leaf.der], &[&other.der], "mx1.example.test", NOW),
        Err(CertError::NotTrusted)
    );
    assert_eq!(
        check(&[&leaf.der], &[], "mx1.example.test", NOW),
        Err(CertError::NotTrusted)
    );
    assert_eq!(
        CertError::NotTrusted.tlsrpt_result_type(),
        "certificate-not-trusted"
    );
}

#[test]
fn rfc8461_4_2_self_signed_leaf_is_not_trusted() {
    let leaf = self_signed_leaf(Alg::P256, &["mx1.example.test"]);
    let other = root_other();
    assert_eq!(
        check(&[&leaf.der], &[&other.der], "mx1.example.test", NOW),
        Err(CertError::NotTrusted)
    );
}

#[test]
fn rfc8461_4_2_unparsable_roots_are_skipped() {
    let (root, leaf) = simple(Alg::P256, &["mx1.example.test"]);
    let garbage: &[u8] = b"not a certificate";
    assert_eq!(
        check(
            &[&leaf.der],
            &[garbage, &[], &root.der],
            "mx1.example.test",
            NOW
        ),
        Ok(())
    );
    assert_eq!(
        check(&[&leaf.der], &[garbage], "mx1.example.test", NOW),
        Err(CertError::NotTrusted)
    );
}

#[test]
fn rfc8461_4_2_wildcard_one_label() {
    let (root, leaf) = simple(Alg::P256, &["*.example.test"]);
    let chain: &[&[u8]] = &[&leaf.der];
    let roots: &[&[u8]] = &[&root.der];
    assert_eq!(check(chain, roots, "mx1.example.test", NOW), Ok(()));
    assert_eq!(check(chain, roots, "MX2.EXAMPLE.TEST.", NOW), Ok(()));
    for host in [
        "a.b.example.test",
        "example.test",
        "mx1.example.org",
        "mx1.xexample.test",
    ] {
        assert_eq!(
            check(chain, roots, host, NOW),
            Err(CertError::HostMismatch),
            "{host}"
        );
    }
    // The agreement with the MX pattern rules of §4.1 (core::name).
    for host in ["mx1.example.test", "a.b.example.test", "example.test"] {
        assert_eq!(
            check(chain, roots, host, NOW).is_ok(),
            sts_core::name::wildcard_match(b"*.example.test", host.as_bytes()),
            "{host}"
        );
    }
}

#[test]
fn rfc6125_6_4_3_partial_wildcards_never_match() {
    for san in [
        "mx*.example.test",
        "m*1.example.test",
        "*mx1.example.test",
        "mx1.*.test",
    ] {
        let (root, leaf) = simple(Alg::P256, &[san]);
        assert_eq!(
            check(&[&leaf.der], &[&root.der], "mx1.example.test", NOW),
            Err(CertError::HostMismatch),
            "{san}"
        );
    }
}

#[test]
fn rfc6125_6_4_4_cn_only_certificate_has_no_dns_id() {
    let root = root("Test Root", Alg::P256);
    let leaf = leaf_with(&root, Alg::P256, &[], |p| {
        p.distinguished_name = rcgen::DistinguishedName::new();
        p.distinguished_name
            .push(rcgen::DnType::CommonName, "mx1.example.test");
    });
    assert_eq!(
        check(&[&leaf.der], &[&root.der], "mx1.example.test", NOW),
        Err(CertError::HostMismatch)
    );
}

#[test]
fn rfc8461_4_2_ip_san_never_matches_a_name() {
    let (root, leaf) = simple(Alg::P256, &["192.0.2.25", "2001:db8::25"]);
    assert_eq!(
        check(&[&leaf.der], &[&root.der], "mx1.example.test", NOW),
        Err(CertError::HostMismatch)
    );
    // An address is never an MX host name.
    assert_eq!(
        check(&[&leaf.der], &[&root.der], "192.0.2.25", NOW),
        Err(CertError::BadHost)
    );
}

#[test]
fn rfc8461_4_2_bad_hosts() {
    let (root, leaf) = simple(Alg::P256, &["mx1.example.test"]);
    for host in [
        "",
        ".",
        "*.example.test",
        "mx_1.example.test",
        "mx1..example.test",
        "-mx.test",
    ] {
        assert_eq!(
            check(&[&leaf.der], &[&root.der], host, NOW),
            Err(CertError::BadHost),
            "{host:?}"
        );
    }
    assert_eq!(
        cert::verify(&[&leaf.der], &[&root.der], b"m\xc3\xbc.example", NOW),
        Err(CertError::BadHost)
    );
}

#[test]
fn rfc5280_4_2_1_12_eku_must_allow_server_auth() {
    let root = root("Test Root", Alg::P256);
    let client = leaf_with(&root, Alg::P256, &["mx1.example.test"], |p| {
        p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    });
    assert_eq!(
        check(&[&client.der], &[&root.der], "mx1.example.test", NOW),
        Err(CertError::ValidationFailure)
    );
    // No EKU extension at all means no restriction.
    let any = leaf_with(&root, Alg::P256, &["mx1.example.test"], |p| {
        p.extended_key_usages = vec![];
    });
    assert_eq!(
        check(&[&any.der], &[&root.der], "mx1.example.test", NOW),
        Ok(())
    );
}

#[test]
fn rfc5280_4_2_1_9_ca_certificate_as_leaf() {
    let root = root("Test Root", Alg::P256);
    let leaf = ca_with("CA as server", Alg::P256, &root, |p| {
        p.subject_alt_names = vec![rcgen::SanType::DnsName(
            "mx1.example.test".try_into().unwrap(),
        )];
    });
    assert_eq!(
        check(&[&leaf.der], &[&root.der], "mx1.example.test", NOW),
        Err(CertError::ValidationFailure)
    );
}

#[test]
fn rfc8461_4_2_bad_signature() {
    let (root, leaf) = simple(Alg::P256, &["mx1.example.test"]);
    let bad = corrupt_signature(&leaf.der);
    assert_eq!(
        check(&[&bad], &[&root.der], "mx1.example.test", NOW),
        Err(CertError::ValidationFailure)
    );
    let (root, leaf) = simple(Alg::Rsa2048, &["mx1.example.test"]);
    let bad = corrupt_signature(&leaf.der);
    assert_eq!(
        check(&[&bad], &[&root.der], "mx1.example.test", NOW),
        Err(CertError::ValidationFailure)
    );
}

#[test]
fn rfc8461_4_2_garbage_der() {
    let (root, leaf) = simple(Alg::P256, &["mx1.example.test"]);
    let roots: &[&[u8]] = &[&root.der];
    for garbage in [&b""[..], b"\x30", b"\x30\x00", b"garbage", &[0xff; 64]] {
        assert_eq!(
            check(&[garbage], roots, "mx1.example.test", NOW),
            Err(CertError::ValidationFailure)
        );
    }
    // Every truncation of a real certificate fails cleanly.
    for n in 0..leaf.der.len() {
        assert!(check(&[&leaf.der[..n]], roots, "mx1.example.test", NOW).is_err());
    }
    // Trailing bytes after the certificate.
    let mut long = leaf.der.clone();
    long.push(0);
    assert_eq!(
        check(&[&long], roots, "mx1.example.test", NOW),
        Err(CertError::ValidationFailure)
    );
    // A garbage intermediate next to a good chain is just not used.
    assert_eq!(
        check(&[&leaf.der, b"garbage"], roots, "mx1.example.test", NOW),
        Ok(())
    );
}

#[test]
fn rfc8461_4_2_empty_chain() {
    let root = root("Test Root", Alg::P256);
    assert_eq!(
        check(&[], &[&root.der], "mx1.example.test", NOW),
        Err(CertError::EmptyChain)
    );
}

#[test]
fn chain_of_20_certificates_is_refused() {
    // A real 20-deep chain: root → 19 CAs → leaf; cut to 20 entries.
    let root = root("Test Root", Alg::P256);
    let mut cas = vec![ca("CA 0", Alg::P256, &root)];
    for i in 1..19 {
        let next = ca(&format!("CA {i}"), Alg::P256, cas.last().unwrap());
        cas.push(next);
    }
    let leaf = leaf(cas.last().unwrap(), Alg::P256, &["mx1.example.test"]);
    let mut chain: Vec<&[u8]> = vec![&leaf.der];
    chain.extend(cas.iter().rev().map(|c| c.der.as_slice()));
    assert_eq!(chain.len(), 20);
    assert_eq!(
        check(&chain, &[&root.der], "mx1.example.test", NOW),
        Err(CertError::TooManyCertificates)
    );
    // 16 entries pass the cap, but the path is longer than webpki allows.
    assert_eq!(
        check(&chain[..16], &[&cas[3].der], "mx1.example.test", NOW),
        Err(CertError::ValidationFailure)
    );
    // A short enough tail of the same chain verifies.
    assert_eq!(
        check(&chain[..4], &[&cas[15].der], "mx1.example.test", NOW),
        Ok(())
    );
    assert_eq!(cert::MAX_CHAIN_LEN, 16);
}

#[test]
fn rfc8461_4_2_rsa_2048_chain() {
    let root = root("RSA Root", Alg::Rsa4096);
    let int = ca("RSA Intermediate", Alg::Rsa2048, &root);
    let leaf = leaf(&int, Alg::Rsa2048, &["mx1.example.test"]);
    assert_eq!(
        check(
            &[&leaf.der, &int.der],
            &[&root.der],
            "mx1.example.test",
            NOW
        ),
        Ok(())
    );
    assert_eq!(
        check(
            &[&leaf.der, &int.der],
            &[&root.der],
            "mx2.example.test",
            NOW
        ),
        Err(CertError::HostMismatch)
    );
}

#[test]
fn rfc8461_4_2_rsa_pkcs1_sha384_sha512_and_3072() {
    for (ca_alg, leaf_alg) in [
        (Alg::Rsa2048Sha384, Alg::P256),
        (Alg::Rsa2048Sha512, Alg::P256),
        (Alg::Rsa3072, Alg::Rsa2048),
    ] {
        let root = root("RSA Root", ca_alg);
        let leaf = leaf(&root, leaf_alg, &["mx1.example.test"]);
        assert_eq!(
            check(&[&leaf.der], &[&root.der], "mx1.example.test", NOW),
            Ok(()),
            "{ca_alg:?}"
        );
    }
}

#[test]
fn rfc8461_4_2_p256_chain() {
    let root = root("EC Root", Alg::P256);
    let int = ca("EC Intermediate", Alg::P256, &root);
    let leaf = leaf(&int, Alg::P256, &["mx1.example.test"]);
    assert_eq!(
        check(
            &[&leaf.der, &int.der],
            &[&root.der],
            "mx1.example.test",
            NOW
        ),
        Ok(())
    );
}

#[cfg(any(
    feature = "ring",
    all(feature = "rustcrypto-p384", feature = "rustcrypto-ed25519")
))]
#[test]
fn rfc8461_4_2_p384_chain() {
    let root = root("EC Root", Alg::P384);
    let int = ca("EC Intermediate", Alg::P384, &root);
    let leaf = leaf(&int, Alg::P384, &["mx1.example.test"]);
    assert_eq!(
        check_full(
            &[&leaf.der, &int.der],
            &[&root.der],
            "mx1.example.test",
            NOW
        ),
        Ok(())
    );
}

#[cfg(any(
    feature = "ring",
    all(feature = "rustcrypto-p384", feature = "rustcrypto-ed25519")
))]
#[test]
fn rfc8461_4_2_mixed_algorithms() {
    // RSA root over a P-384 intermediate over a P-256 leaf, and the reverse.
    let root = root("RSA Root", Alg::Rsa2048);
    let int = ca("EC Intermediate", Alg::P384, &root);
    let leaf = leaf(&int, Alg::P256, &["mx1.example.test"]);
    assert_eq!(
        check_full(
            &[&leaf.der, &int.der],
            &[&root.der],
            "mx1.example.test",
            NOW
        ),
        Ok(())
    );
    let root2 = common::root("EC Root", Alg::P384);
    let int2 = ca("RSA Intermediate", Alg::Rsa2048, &root2);
    let leaf2 = common::leaf(&int2, Alg::Ed25519, &["mx1.example.test"]);
    assert_eq!(
        check_full(
            &[&leaf2.der, &int2.der],
            &[&root2.der],
            "mx1.example.test",
            NOW
        ),
        Ok(())
    );
}

#[cfg(any(
    feature = "ring",
    all(feature = "rustcrypto-p384", feature = "rustcrypto-ed25519")
))]
#[test]
fn rfc8461_4_2_ed25519_chain() {
    let (root, leaf) = simple(Alg::Ed25519, &["mx1.example.test"]);
    assert_eq!(
        check_full(&[&leaf.der], &[&root.der], "mx1.example.test", NOW),
        Ok(())
    );
    let bad = corrupt_signature(&leaf.der);
    assert_eq!(
        check_full(&[&bad], &[&root.der], "mx1.example.test", NOW),
        Err(CertError::ValidationFailure)
    );
}

#[cfg(all(feature = "rustcrypto", not(feature = "rustcrypto-p384")))]
#[test]
fn rustcrypto_without_p384_refuses_p384_chains() {
    let root = root("EC Root", Alg::P384);
    let leaf = leaf(&root, Alg::P256, &["mx1.example.test"]);
    assert_eq!(
        cert::verify_with_algorithms(
            cert::rustcrypto::ALL,
            &[&leaf.der],
            &[&root.der],
            b"mx1.example.test",
            NOW
        ),
        Err(CertError::ValidationFailure)
    );
}

#[test]
fn error_strings_and_result_types() {
    for e in CertError::ALL {
        assert!(!e.as_str().is_empty());
        assert_eq!(e.to_string(), e.as_str());
        assert!(matches!(
            e.tlsrpt_result_type(),
            "certificate-host-mismatch"
                | "certificate-expired"
                | "certificate-not-trusted"
                | "validation-failure"
        ));
    }
}

/// Algorithm-level agreement: signatures made with *ring* (and, for
/// sizes *ring* cannot sign, the `rsa` crate) verify the same way under
/// both backends, including RSA-PSS, which rcgen cannot put in a
/// certificate.
#[cfg(all(feature = "ring", feature = "rustcrypto"))]
mod algorithms {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{self as rs, KeyPair as _};

    type Alg = &'static dyn SignatureVerificationAlgorithm;

    fn agree(ring: Alg, rc: Alg, key: &[u8], msg: &[u8], sig: &[u8], want: bool) {
        assert_eq!(ring.public_key_alg_id(), rc.public_key_alg_id());
        assert_eq!(ring.signature_alg_id(), rc.signature_alg_id());
        let r = ring.verify_signature(key, msg, sig).is_ok();
        let c = rc.verify_signature(key, msg, sig).is_ok();
        assert_eq!((r, c), (want, want), "{rc:?}");
    }

    fn both_ways(ring: Alg, rc: Alg, key: &[u8], sig: &[u8]) {
        let msg = b"the signed bytes of a TBSCertificate";
        agree(ring, rc, key, msg, sig, true);
        agree(ring, rc, key, b"another message", sig, false);
        let mut bad = sig.to_vec();
        if let Some(b) = bad.get_mut(sig.len() / 2) {
            *b ^= 0x40;
        }
        agree(ring, rc, key, msg, &bad, false);
        agree(ring, rc, key, msg, &sig[..sig.len() - 1], false);
        agree(ring, rc, key, msg, &[], false);
        agree(ring, rc, &key[..key.len() / 2], msg, sig, false);
        agree(ring, rc, &[], msg, sig, false);
    }

    #[test]
    fn rsa_pkcs1_and_pss_agree() {
        use cert::rustcrypto as rc;
        use webpki::ring as wr;
        let rng = SystemRandom::new();
        let msg = b"the signed bytes of a TBSCertificate";
        for der in [RSA2048, RSA3072, RSA4096] {
            let kp = rs::RsaKeyPair::from_pkcs8(der).unwrap();
            let key = kp.public_key().as_ref();
            let cases: [(&'static dyn rs::RsaEncoding, Alg, Alg); 6] = [
                (
                    &rs::RSA_PKCS1_SHA256,
                    wr::RSA_PKCS1_2048_8192_SHA256,
                    rc::RSA_PKCS1_SHA256,
                ),
                (
                    &rs::RSA_PKCS1_SHA384,
                    wr::RSA_PKCS1_2048_8192_SHA384,
                    rc::RSA_PKCS1_SHA384,
                ),
                (
                    &rs::RSA_PKCS1_SHA512,
                    wr::RSA_PKCS1_2048_8192_SHA512,
                    rc::RSA_PKCS1_SHA512,
                ),
                (
                    &rs::RSA_PSS_SHA256,
                    wr::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
                    rc::RSA_PSS_SHA256,
                ),
                (
                    &rs::RSA_PSS_SHA384,
                    wr::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
                    rc::RSA_PSS_SHA384,
                ),
                (
                    &rs::RSA_PSS_SHA512,
                    wr::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
                    rc::RSA_PSS_SHA512,
                ),
            ];
            for (enc, ring_alg, rc_alg) in cases {
                let mut sig = vec![0; kp.public().modulus_len()];
                kp.sign(enc, &rng, msg, &mut sig).unwrap();
                both_ways(ring_alg, rc_alg, key, &sig);
            }
            // PKCS#1 v1.5 with absent parameters: same scheme, other id.
            let mut sig = vec![0; kp.public().modulus_len()];
            kp.sign(&rs::RSA_PKCS1_SHA256, &rng, msg, &mut sig).unwrap();
            both_ways(
                wr::RSA_PKCS1_2048_8192_SHA256_ABSENT_PARAMS,
                rc::RSA_PKCS1_SHA256_ABSENT_PARAMS,
                key,
                &sig,
            );
            // A PSS signature is not a PKCS#1 v1.5 signature.
            let mut pss = vec![0; kp.public().modulus_len()];
            kp.sign(&rs::RSA_PSS_SHA256, &rng, msg, &mut pss).unwrap();
            agree(
                wr::RSA_PKCS1_2048_8192_SHA256,
                rc::RSA_PKCS1_SHA256,
                key,
                msg,
                &pss,
                false,
            );
        }
    }

    #[test]
    fn rsa_below_2048_bits_is_refused_by_both() {
        use rsa::pkcs1::EncodeRsaPublicKey;
        use rsa::pkcs8::DecodePrivateKey;
        use rsa::signature::{SignatureEncoding, Signer};
        // A 1024-bit key, made once with openssl like the others.
        let sk = rsa::RsaPrivateKey::from_pkcs8_der(RSA1024).unwrap();
        let key = sk.to_public_key().to_pkcs1_der().unwrap();
        let msg = b"the signed bytes of a TBSCertificate";
        let sig = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(sk)
            .sign(msg)
            .to_vec();
        agree(
            webpki::ring::RSA_PKCS1_2048_8192_SHA256,
            cert::rustcrypto::RSA_PKCS1_SHA256,
            key.as_bytes(),
            msg,
            &sig,
            false,
        );
    }

    const RSA1024: &[u8] = include_bytes!("common/rsa1024.pk8");

    #[test]
    fn ecdsa_and_ed25519_agree() {
        use cert::rustcrypto as rc;
        use webpki::ring as wr;
        let rng = SystemRandom::new();
        let msg = b"the signed bytes of a TBSCertificate";
        let cases: &[(&'static rs::EcdsaSigningAlgorithm, Alg, Alg)] = &[
            (
                &rs::ECDSA_P256_SHA256_ASN1_SIGNING,
                wr::ECDSA_P256_SHA256,
                rc::ECDSA_P256_SHA256,
            ),
            #[cfg(feature = "rustcrypto-p384")]
            (
                &rs::ECDSA_P384_SHA384_ASN1_SIGNING,
                wr::ECDSA_P384_SHA384,
                rc::ECDSA_P384_SHA384,
            ),
        ];
        for &(signing, ring_alg, rc_alg) in cases {
            let pkcs8 = rs::EcdsaKeyPair::generate_pkcs8(signing, &rng).unwrap();
            let kp = rs::EcdsaKeyPair::from_pkcs8(signing, pkcs8.as_ref(), &rng).unwrap();
            let sig = kp.sign(&rng, msg).unwrap();
            both_ways(ring_alg, rc_alg, kp.public_key().as_ref(), sig.as_ref());
        }
        // ring cannot sign the mixed curve/hash pairs; the p256/p384
        // crates sign a prehash of the other size instead.
        {
            use p256::ecdsa::{signature::hazmat::PrehashSigner, Signature, SigningKey};
            let sk = SigningKey::from_slice(&[7; 32]).unwrap();
            let key = sk.verifying_key().to_encoded_point(false);
            let sig: Signature = sk.sign_prehash(&sha384(msg)).unwrap();
            both_ways(
                wr::ECDSA_P256_SHA384,
                rc::ECDSA_P256_SHA384,
                key.as_bytes(),
                sig.to_der().as_bytes(),
            );
        }
        #[cfg(feature = "rustcrypto-p384")]
        {
            use p384::ecdsa::{signature::hazmat::PrehashSigner, Signature, SigningKey};
            let sk = SigningKey::from_slice(&[7; 48]).unwrap();
            let key = sk.verifying_key().to_encoded_point(false);
            let sig: Signature = sk.sign_prehash(&sha256(msg)).unwrap();
            both_ways(
                wr::ECDSA_P384_SHA256,
                rc::ECDSA_P384_SHA256,
                key.as_bytes(),
                sig.to_der().as_bytes(),
            );
        }
        #[cfg(feature = "rustcrypto-ed25519")]
        {
            let pkcs8 = rs::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
            let kp = rs::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
            let sig = kp.sign(msg);
            both_ways(
                wr::ED25519,
                rc::ED25519,
                kp.public_key().as_ref(),
                sig.as_ref(),
            );
        }
    }

    #[cfg(all(feature = "rustcrypto-p384", feature = "rustcrypto-ed25519"))]
    #[test]
    fn same_algorithm_pairs_in_both_backends() {
        let ids = |algs: Algs| {
            let mut v: Vec<_> = algs
                .iter()
                .map(|a| (a.public_key_alg_id(), a.signature_alg_id()))
                .collect();
            v.sort_by_key(|(k, s)| (k.as_ref().to_vec(), s.as_ref().to_vec()));
            v
        };
        assert_eq!(ids(cert::RING_ALGORITHMS), ids(cert::rustcrypto::ALL));
    }
}
