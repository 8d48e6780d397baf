//! Criterion benchmarks for certificate validation (`cert`) and DANE
//! matching (`dane`).
//!
//! The chains are made at start-up with rcgen (the test PKI of
//! `tests/common`): root → intermediate → leaf, and the 2-certificate chain
//! sent by the server is `[leaf, intermediate]`. Run with
//!
//! ```text
//! cargo bench -p sts-core --features webpki,ring,rustcrypto,dane --bench cert -- \
//!     --warm-up-time 1 --measurement-time 3
//! ```
//!
//! * `cert_verify/<alg>/sts` — [`cert::verify_with_algorithms`] with the
//!   *ring* set: the DER roots are turned into trust anchors on every call.
//! * `cert_verify/<alg>/webpki_direct` — the same checks as a direct
//!   rustls-webpki call with the trust anchors parsed once, outside the loop.
//! * `cert_verify/<alg>/rustcrypto` — `cert::verify_with_algorithms` with the
//!   RustCrypto set (only with `--features rustcrypto`).
//! * `dane/3_1_1_match` — [`dane::verify`] with one matching DANE-EE
//!   SPKI/SHA-256 record among two.
#![allow(clippy::panic, clippy::expect_used, clippy::unwrap_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::Duration;

use common::{ca, leaf, root, sha256, tlsa, Alg, NOW};
use criterion::{criterion_group, criterion_main, Criterion};
use pki_types::{CertificateDer, DnsName, ServerName, UnixTime};
use sts_core::{cert, dane};

const HOST: &str = "mx1.example.test";

fn bench_cert(c: &mut Criterion) {
    let mut g = c.benchmark_group("cert_verify");
    for (label, root_alg, alg) in [
        ("p256", Alg::P256, Alg::P256),
        ("rsa2048", Alg::Rsa4096, Alg::Rsa2048),
    ] {
        let root = root("Bench Root", root_alg);
        let int = ca("Bench Intermediate", alg, &root);
        let leaf = leaf(&int, alg, &[HOST]);
        let chain: [&[u8]; 2] = [&leaf.der, &int.der];
        let roots: [&[u8]; 1] = [&root.der];
        assert_eq!(cert::verify(&chain, &roots, HOST.as_bytes(), NOW), Ok(()));

        g.bench_function(format!("{label}/sts"), |b| {
            b.iter(|| {
                cert::verify_with_algorithms(
                    cert::RING_ALGORITHMS,
                    black_box(&chain),
                    black_box(&roots),
                    black_box(HOST.as_bytes()),
                    NOW,
                )
            })
        });

        #[cfg(feature = "rustcrypto")]
        g.bench_function(format!("{label}/rustcrypto"), |b| {
            b.iter(|| {
                cert::verify_with_algorithms(
                    cert::rustcrypto::ALL,
                    black_box(&chain),
                    black_box(&roots),
                    black_box(HOST.as_bytes()),
                    NOW,
                )
            })
        });

        let root_der = CertificateDer::from(root.der.as_slice());
        let anchors = [webpki::anchor_from_trusted_cert(&root_der).unwrap()];
        let inter = [CertificateDer::from(int.der.as_slice())];
        let name = ServerName::DnsName(DnsName::try_from(HOST).unwrap());
        let time = UnixTime::since_unix_epoch(Duration::from_secs(NOW));
        g.bench_function(format!("{label}/webpki_direct"), |b| {
            b.iter(|| {
                let leaf_der = CertificateDer::from(black_box(leaf.der.as_slice()));
                let ee = webpki::EndEntityCert::try_from(&leaf_der).unwrap();
                ee.verify_for_usage(
                    cert::RING_ALGORITHMS,
                    &anchors,
                    &inter,
                    time,
                    webpki::KeyUsage::server_auth(),
                    None,
                    None,
                )
                .unwrap();
                ee.verify_is_valid_for_subject_name(&name).unwrap();
            })
        });
    }
    g.finish();
}

fn bench_dane(c: &mut Criterion) {
    let root = root("Bench Root", Alg::P256);
    let int = ca("Bench Intermediate", Alg::P256, &root);
    let leaf = leaf(&int, Alg::P256, &[HOST]);
    let chain: [&[u8]; 2] = [&leaf.der, &int.der];
    let miss = tlsa(3, 1, 1, &[0; 32]);
    let hit = tlsa(3, 1, 1, &sha256(&leaf.spki));
    let records: [&[u8]; 2] = [&miss, &hit];
    assert_eq!(dane::verify(&chain, &records, HOST.as_bytes(), NOW), Ok(()));

    let mut g = c.benchmark_group("dane");
    g.bench_function("3_1_1_match", |b| {
        b.iter(|| {
            dane::verify(
                black_box(&chain),
                black_box(&records),
                black_box(HOST.as_bytes()),
                NOW,
            )
        })
    });
    g.bench_function("spki_sha256_floor", |b| {
        b.iter(|| sha256(dane::subject_public_key_info(black_box(&leaf.der)).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, bench_cert, bench_dane);
criterion_main!(benches);
