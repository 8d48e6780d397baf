//! RFC 7672 DANE-TLSA authentication against a PKI made at test time.
#![cfg(feature = "dane")]
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use common::*;
use sts_core::dane::{self, DaneError, Tlsa};

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Counts this thread's allocations, to show that DANE matching is heap-free.
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = ALLOCATIONS.with(Cell::get);
    let out = f();
    (out, ALLOCATIONS.with(Cell::get) - before)
}

const HOST: &str = "mx1.example.test";

fn verify(chain: &[&[u8]], records: &[Vec<u8>], host: &str, now: u64) -> Result<(), DaneError> {
    let rdata: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
    let got = dane::verify(chain, &rdata, host.as_bytes(), now);
    // Every signature backend compiled in must agree with the default.
    #[cfg(feature = "ring")]
    assert_eq!(
        dane::verify_with_algorithms(
            sts_core::cert::RING_ALGORITHMS,
            chain,
            &rdata,
            host.as_bytes(),
            now
        ),
        got,
        "ring"
    );
    #[cfg(feature = "rustcrypto")]
    assert_eq!(
        dane::verify_with_algorithms(
            sts_core::cert::rustcrypto::ALL,
            chain,
            &rdata,
            host.as_bytes(),
            now
        ),
        got,
        "rustcrypto"
    );
    got
}

/// What a DANE-TA success looks like in this build.
fn ta_ok() -> Result<(), DaneError> {
    if cfg!(all(
        feature = "webpki",
        any(feature = "ring", feature = "rustcrypto")
    )) {
        Ok(())
    } else if cfg!(feature = "webpki") {
        Err(DaneError::ChainInvalid) // no signature algorithms at all
    } else {
        Err(DaneError::TaNeedsWebpki)
    }
}

/// A DANE-TA failure `e` as this build reports it.
fn ta_err(e: DaneError) -> Result<(), DaneError> {
    if cfg!(all(
        feature = "webpki",
        any(feature = "ring", feature = "rustcrypto")
    )) {
        Err(e)
    } else if cfg!(feature = "webpki") {
        // No signature algorithms: dates are checked before signatures,
        // the name after them.
        match e {
            DaneError::Expired => Err(e),
            _ => Err(DaneError::ChainInvalid),
        }
    } else {
        Err(DaneError::TaNeedsWebpki)
    }
}

/// Root → intermediate → leaf for HOST, P-256 throughout.
struct Pki {
    root: Cert,
    int: Cert,
    leaf: Cert,
}

fn pki() -> Pki {
    let root = root("DANE Root", Alg::P256);
    let int = ca("DANE Intermediate", Alg::P256, &root);
    let leaf = leaf(&int, Alg::P256, &[HOST]);
    Pki { root, int, leaf }
}

#[test]
fn rfc7672_3_1_1_dane_ee_3_1_1_matches() {
    let p = pki();
    let rec = tlsa(3, 1, 1, &sha256(&p.leaf.spki));
    assert_eq!(
        verify(&[&p.leaf.der], std::slice::from_ref(&rec), HOST, NOW),
        Ok(())
    );
    assert_eq!(
        verify(&[&p.leaf.der, &p.int.der], &[rec], HOST, NOW),
        Ok(())
    );
}

#[test]
fn rfc7672_3_1_1_dane_ee_3_1_1_does_not_match() {
    let p = pki();
    let other = leaf(&p.int, Alg::P256, &[HOST]);
    let rec = tlsa(3, 1, 1, &sha256(&other.spki));
    assert_eq!(
        verify(&[&p.leaf.der], &[rec], HOST, NOW),
        Err(DaneError::NoMatch)
    );
    assert_eq!(
        DaneError::NoMatch.tlsrpt_result_type(),
        "validation-failure"
    );
}

#[test]
fn rfc7672_3_1_1_dane_ee_3_0_1_matches_and_not() {
    let p = pki();
    let good = tlsa(3, 0, 1, &sha256(&p.leaf.der));
    assert_eq!(verify(&[&p.leaf.der], &[good], HOST, NOW), Ok(()));
    // A re-issued certificate with the same key no longer matches 3 0 1…
    let reissued = leaf(&p.int, Alg::P256, &[HOST]);
    let old = tlsa(3, 0, 1, &sha256(&reissued.der));
    assert_eq!(
        verify(&[&p.leaf.der], &[old], HOST, NOW),
        Err(DaneError::NoMatch)
    );
}

#[test]
fn rfc7672_3_1_1_dane_ee_3_1_2_sha512() {
    let p = pki();
    let good = tlsa(3, 1, 2, &sha512(&p.leaf.spki));
    assert_eq!(verify(&[&p.leaf.der], &[good], HOST, NOW), Ok(()));
    let mut wrong = sha512(&p.leaf.spki);
    wrong[63] ^= 1;
    assert_eq!(
        verify(&[&p.leaf.der], &[tlsa(3, 1, 2, &wrong)], HOST, NOW),
        Err(DaneError::NoMatch)
    );
    // The SHA-256 digest in a SHA2-512 record is malformed (wrong length).
    assert_eq!(
        verify(
            &[&p.leaf.der],
            &[tlsa(3, 1, 2, &sha256(&p.leaf.spki))],
            HOST,
            NOW
        ),
        Err(DaneError::TlsaInvalid)
    );
}

#[test]
fn rfc7672_3_1_1_dane_ee_full_matching() {
    let p = pki();
    assert_eq!(
        verify(&[&p.leaf.der], &[tlsa(3, 0, 0, &p.leaf.der)], HOST, NOW),
        Ok(())
    );
    assert_eq!(
        verify(&[&p.leaf.der], &[tlsa(3, 1, 0, &p.leaf.spki)], HOST, NOW),
        Ok(())
    );
    assert_eq!(
        verify(&[&p.leaf.der], &[tlsa(3, 1, 0, &p.int.spki)], HOST, NOW),
        Err(DaneError::NoMatch)
    );
}

#[test]
fn rfc7672_3_1_1_dane_ee_ignores_expiry() {
    let p = pki();
    let expired = leaf_with(&p.int, Alg::P256, &[HOST], |c| {
        c.not_before = rcgen::date_time_ymd(2010, 1, 1);
        c.not_after = rcgen::date_time_ymd(2011, 1, 1);
    });
    let rec = tlsa(3, 1, 1, &sha256(&expired.spki));
    assert_eq!(
        verify(&[&expired.der], std::slice::from_ref(&rec), HOST, NOW),
        Ok(())
    );
    assert_eq!(verify(&[&expired.der], &[rec], HOST, 0), Ok(()));
}

#[test]
fn rfc7672_3_1_1_dane_ee_ignores_names_and_issuer() {
    let selfsigned = self_signed_leaf(Alg::P256, &["something.else.test"]);
    let rec = tlsa(3, 1, 1, &sha256(&selfsigned.spki));
    assert_eq!(verify(&[&selfsigned.der], &[rec], HOST, NOW), Ok(()));
    let cn_only = self_signed_leaf(Alg::Ed25519, &[]);
    let rec = tlsa(3, 0, 1, &sha256(&cn_only.der));
    assert_eq!(verify(&[&cn_only.der], &[rec], HOST, NOW), Ok(()));
}

#[test]
fn rfc7672_3_1_1_dane_ee_matches_the_leaf_only() {
    // A 3 x x record for the intermediate does not authenticate the leaf.
    let p = pki();
    let rec = tlsa(3, 1, 1, &sha256(&p.int.spki));
    assert_eq!(
        verify(&[&p.leaf.der, &p.int.der], &[rec], HOST, NOW),
        Err(DaneError::NoMatch)
    );
}

#[test]
fn rfc7672_3_1_2_dane_ta_2_0_1_good_name() {
    let p = pki();
    // TA = the root, sent by the server as §3.1.2 requires.
    let rec = tlsa(2, 0, 1, &sha256(&p.root.der));
    let chain: &[&[u8]] = &[&p.leaf.der, &p.int.der, &p.root.der];
    assert_eq!(
        verify(chain, std::slice::from_ref(&rec), HOST, NOW),
        ta_ok()
    );
    assert_eq!(
        verify(chain, std::slice::from_ref(&rec), "MX1.EXAMPLE.TEST.", NOW),
        ta_ok()
    );
    // TA = the intermediate.
    let rec = tlsa(2, 0, 1, &sha256(&p.int.der));
    assert_eq!(
        verify(&[&p.leaf.der, &p.int.der], &[rec], HOST, NOW),
        ta_ok()
    );
}

#[test]
fn rfc7672_3_1_2_dane_ta_2_0_1_wrong_name() {
    let p = pki();
    let rec = tlsa(2, 0, 1, &sha256(&p.root.der));
    let chain: &[&[u8]] = &[&p.leaf.der, &p.int.der, &p.root.der];
    assert_eq!(
        verify(chain, &[rec], "mx2.example.test", NOW),
        ta_err(DaneError::HostMismatch)
    );
    assert_eq!(
        DaneError::HostMismatch.tlsrpt_result_type(),
        "certificate-host-mismatch"
    );
}

#[test]
fn rfc7672_3_2_3_dane_ta_wildcard_one_label() {
    let p = pki();
    let wild = leaf(&p.int, Alg::P256, &["*.example.test"]);
    let rec = tlsa(2, 1, 1, &sha256(&p.int.spki));
    let chain: &[&[u8]] = &[&wild.der, &p.int.der];
    assert_eq!(
        verify(chain, std::slice::from_ref(&rec), HOST, NOW),
        ta_ok()
    );
    assert_eq!(
        verify(chain, std::slice::from_ref(&rec), "a.b.example.test", NOW),
        ta_err(DaneError::HostMismatch)
    );
    assert_eq!(
        verify(chain, &[rec], "example.test", NOW),
        ta_err(DaneError::HostMismatch)
    );
}

#[test]
fn rfc7672_3_1_2_dane_ta_2_1_1_spki_and_2_1_2() {
    let p = pki();
    let chain: &[&[u8]] = &[&p.leaf.der, &p.int.der];
    assert_eq!(
        verify(chain, &[tlsa(2, 1, 1, &sha256(&p.int.spki))], HOST, NOW),
        ta_ok()
    );
    assert_eq!(
        verify(chain, &[tlsa(2, 1, 2, &sha512(&p.int.spki))], HOST, NOW),
        ta_ok()
    );
    assert_eq!(
        verify(chain, &[tlsa(2, 1, 0, &p.int.spki)], HOST, NOW),
        ta_ok()
    );
}

#[test]
fn rfc7672_3_1_2_dane_ta_must_be_sent_by_the_server() {
    let p = pki();
    // The root is the TA but the server did not send it.
    let rec = tlsa(2, 0, 1, &sha256(&p.root.der));
    assert_eq!(
        verify(&[&p.leaf.der, &p.int.der], &[rec], HOST, NOW),
        Err(DaneError::NoMatch)
    );
}

#[test]
fn rfc7672_3_1_2_dane_ta_matching_only_the_leaf_is_no_match() {
    let p = pki();
    let rec = tlsa(2, 1, 1, &sha256(&p.leaf.spki));
    assert_eq!(
        verify(&[&p.leaf.der, &p.int.der], &[rec], HOST, NOW),
        Err(DaneError::NoMatch)
    );
}

#[test]
fn rfc7672_3_1_2_dane_ta_checks_dates_below_the_ta() {
    let p = pki();
    let expired = leaf_with(&p.int, Alg::P256, &[HOST], |c| {
        c.not_before = rcgen::date_time_ymd(2010, 1, 1);
        c.not_after = rcgen::date_time_ymd(2011, 1, 1);
    });
    let rec = tlsa(2, 0, 1, &sha256(&p.int.der));
    assert_eq!(
        verify(
            &[&expired.der, &p.int.der],
            std::slice::from_ref(&rec),
            HOST,
            NOW
        ),
        ta_err(DaneError::Expired)
    );
    // ...but a DANE-EE record for the same certificate still works.
    let ee = tlsa(3, 1, 1, &sha256(&expired.spki));
    assert_eq!(
        verify(&[&expired.der, &p.int.der], &[rec, ee], HOST, NOW),
        Ok(())
    );
}

#[test]
fn rfc7672_3_1_2_dane_ta_chain_must_verify() {
    let p = pki();
    // The server sends an unrelated CA that the record names: it matches,
    // but the leaf was not issued under it.
    let other = root("Other Root", Alg::P256);
    let rec = tlsa(2, 0, 1, &sha256(&other.der));
    assert_eq!(
        verify(
            &[&p.leaf.der, &other.der],
            std::slice::from_ref(&rec),
            HOST,
            NOW
        ),
        ta_err(DaneError::ChainInvalid)
    );
    // A leaf whose signature was tampered with.
    let bad = corrupt_signature(&p.leaf.der);
    let rec = tlsa(2, 0, 1, &sha256(&p.int.der));
    assert_eq!(
        verify(&[&bad, &p.int.der], &[rec], HOST, NOW),
        ta_err(DaneError::ChainInvalid)
    );
}

#[test]
fn rfc7672_3_1_2_dane_ta_rsa_chain() {
    let root = root("RSA Root", Alg::Rsa2048);
    let leaf = leaf(&root, Alg::Rsa2048, &[HOST]);
    let rec = tlsa(2, 1, 1, &sha256(&root.spki));
    assert_eq!(verify(&[&leaf.der, &root.der], &[rec], HOST, NOW), ta_ok());
}

#[test]
fn rfc7672_3_1_3_pkix_usages_are_ignored() {
    let p = pki();
    let chain: &[&[u8]] = &[&p.leaf.der, &p.int.der, &p.root.der];
    // Records that would match, but with PKIX usages only: nothing usable.
    let pkix = vec![
        tlsa(0, 0, 1, &sha256(&p.root.der)),
        tlsa(1, 1, 1, &sha256(&p.leaf.spki)),
    ];
    assert_eq!(verify(chain, &pkix, HOST, NOW), Err(DaneError::TlsaInvalid));
    assert_eq!(DaneError::TlsaInvalid.tlsrpt_result_type(), "tlsa-invalid");
    // With a usable record beside them, only that one counts.
    let mut mixed = pkix.clone();
    mixed.push(tlsa(3, 1, 1, &[0u8; 32]));
    assert_eq!(verify(chain, &mixed, HOST, NOW), Err(DaneError::NoMatch));
    mixed.push(tlsa(3, 1, 1, &sha256(&p.leaf.spki)));
    assert_eq!(verify(chain, &mixed, HOST, NOW), Ok(()));
}

#[test]
fn rfc7672_2_2_truncated_rdata() {
    let p = pki();
    let good = tlsa(3, 1, 1, &sha256(&p.leaf.spki));
    for n in 0..good.len() {
        assert_eq!(
            dane::parse_tlsa(&good[..n]),
            Err(DaneError::TlsaInvalid),
            "{n}"
        );
        assert_eq!(
            verify(&[&p.leaf.der], &[good[..n].to_vec()], HOST, NOW),
            Err(DaneError::TlsaInvalid),
            "{n}"
        );
    }
    // Malformed records are skipped when a good one is present.
    assert_eq!(
        verify(
            &[&p.leaf.der],
            &[good[..10].to_vec(), vec![], good.clone()],
            HOST,
            NOW
        ),
        Ok(())
    );
}

#[test]
fn rfc7672_2_2_unknown_matching_type_selector_and_usage() {
    let p = pki();
    let digest = sha256(&p.leaf.spki);
    for rec in [
        tlsa(3, 1, 3, &digest),
        tlsa(3, 1, 255, &digest),
        tlsa(3, 2, 1, &digest),
        tlsa(4, 1, 1, &digest),
    ] {
        let parsed = dane::parse_tlsa(&rec).unwrap();
        assert!(!parsed.is_usable(), "{parsed:?}");
        assert_eq!(
            verify(&[&p.leaf.der], std::slice::from_ref(&rec), HOST, NOW),
            Err(DaneError::TlsaInvalid)
        );
        assert_eq!(
            verify(&[&p.leaf.der], &[rec, tlsa(3, 1, 1, &digest)], HOST, NOW),
            Ok(())
        );
    }
}

#[test]
fn rfc6698_2_1_parse() {
    let digest = [0x5a; 32];
    let rec = tlsa(3, 1, 1, &digest);
    assert_eq!(
        dane::parse_tlsa(&rec),
        Ok(Tlsa {
            usage: dane::USAGE_DANE_EE,
            selector: dane::SELECTOR_SPKI,
            matching_type: dane::MATCHING_SHA2_256,
            data: &digest,
        })
    );
    assert_eq!(
        dane::parse_tlsa(&tlsa(3, 1, 1, &[0; 31])),
        Err(DaneError::TlsaInvalid)
    );
    assert_eq!(
        dane::parse_tlsa(&tlsa(3, 1, 1, &[0; 33])),
        Err(DaneError::TlsaInvalid)
    );
    assert_eq!(
        dane::parse_tlsa(&tlsa(2, 0, 2, &[0; 63])),
        Err(DaneError::TlsaInvalid)
    );
}

#[test]
fn spki_walker_agrees_with_rcgen() {
    for alg in [
        Alg::P256,
        Alg::P384,
        Alg::Ed25519,
        Alg::Rsa2048,
        Alg::Rsa4096,
    ] {
        let c = self_signed_leaf(alg, &[HOST]);
        assert_eq!(
            dane::subject_public_key_info(&c.der),
            Some(c.spki.as_slice()),
            "{alg:?}"
        );
        for n in 0..c.der.len() {
            assert_eq!(dane::subject_public_key_info(&c.der[..n]), None);
        }
    }
    let p = pki();
    assert_eq!(
        dane::subject_public_key_info(&p.int.der),
        Some(p.int.spki.as_slice())
    );
}

#[test]
fn caller_errors() {
    let p = pki();
    let rec = vec![tlsa(3, 1, 1, &sha256(&p.leaf.spki))];
    assert_eq!(verify(&[], &rec, HOST, NOW), Err(DaneError::EmptyChain));
    let chain: Vec<&[u8]> = vec![&p.leaf.der; 17];
    assert_eq!(
        verify(&chain, &rec, HOST, NOW),
        Err(DaneError::TooManyCertificates)
    );
    assert_eq!(verify(&chain[..16], &rec, HOST, NOW), Ok(()));
    assert_eq!(
        verify(&[b"garbage"], &rec, HOST, NOW),
        Err(DaneError::BadCertificate)
    );
    for host in ["", "192.0.2.1", "*.example.test", "mx1.example.test.."] {
        assert_eq!(
            verify(&[&p.leaf.der], &rec, host, NOW),
            Err(DaneError::BadHost),
            "{host:?}"
        );
    }
    assert_eq!(
        verify(&[&p.leaf.der], &[], HOST, NOW),
        Err(DaneError::TlsaInvalid)
    );
    // Every truncation of the leaf fails cleanly.
    for n in 0..p.leaf.der.len() {
        assert!(verify(&[&p.leaf.der[..n]], &rec, HOST, NOW).is_err());
    }
}

#[test]
fn tlsrpt_result_types() {
    for e in DaneError::ALL {
        assert_eq!(e.to_string(), e.as_str());
        assert!(matches!(
            e.tlsrpt_result_type(),
            "tlsa-invalid"
                | "certificate-host-mismatch"
                | "certificate-expired"
                | "validation-failure"
        ));
    }
}

#[test]
fn rfc7672_3_1_1_dane_ee_matching_does_not_allocate() {
    let p = pki();
    let chain: &[&[u8]] = &[&p.leaf.der, &p.int.der, &p.root.der];
    let recs = [
        tlsa(1, 1, 1, &sha256(&p.leaf.spki)),
        tlsa(3, 1, 2, &[0; 64]),
        tlsa(3, 0, 1, &sha256(&p.leaf.der)),
    ];
    let rdata: Vec<&[u8]> = recs.iter().map(Vec::as_slice).collect();
    let miss: Vec<&[u8]> = rdata[..2].to_vec();
    let (got, n) = allocations_during(|| dane::verify(chain, &rdata, HOST.as_bytes(), NOW));
    assert_eq!((got, n), (Ok(()), 0));
    let (got, n) = allocations_during(|| dane::verify(chain, &miss, HOST.as_bytes(), NOW));
    assert_eq!((got, n), (Err(DaneError::NoMatch), 0));
    if cfg!(not(feature = "webpki")) {
        // Without webpki the DANE-TA path is heap-free as well.
        let ta = [tlsa(2, 0, 1, &sha256(&p.root.der))];
        let rdata: Vec<&[u8]> = ta.iter().map(Vec::as_slice).collect();
        let (got, n) = allocations_during(|| dane::verify(chain, &rdata, HOST.as_bytes(), NOW));
        assert_eq!((got, n), (Err(DaneError::TaNeedsWebpki), 0));
    }
}

#[test]
fn verify_iter_takes_records_from_an_iterator() {
    let p = pki();
    let recs = [
        tlsa(1, 1, 1, &sha256(&p.leaf.spki)),
        tlsa(3, 1, 1, &sha256(&p.leaf.spki)),
    ];
    let chain: &[&[u8]] = &[&p.leaf.der];
    let host = HOST.as_bytes();
    // As a C caller would: records from parallel pointer and length arrays.
    let ptrs: Vec<&[u8]> = recs.iter().map(Vec::as_slice).collect();
    let lens: Vec<usize> = recs.iter().map(Vec::len).collect();
    let records = (0..2).map(|i| &ptrs[i][..lens[i]]);
    let (got, n) = allocations_during(|| dane::verify_iter(chain, records.clone(), host, NOW));
    assert_eq!((got, n), (Ok(()), 0));
    assert_eq!(
        dane::verify_iter(chain, records.take(1), host, NOW),
        Err(DaneError::TlsaInvalid)
    );
    assert_eq!(
        dane::verify_iter(chain, std::iter::empty(), host, NOW),
        Err(DaneError::TlsaInvalid)
    );
}
