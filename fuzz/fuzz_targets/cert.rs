//! RFC 8461 §4.2 certificate validation on arbitrary DER: the input is a
//! list of certificates, each preceded by a two-byte big-endian length;
//! the last one is also used as the trust anchor.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sts_core::cert;

fuzz_target!(|data: &[u8]| {
    let mut certs: Vec<&[u8]> = Vec::new();
    let mut rest = data;
    while let [hi, lo, tail @ ..] = rest {
        let n = usize::from(*hi) << 8 | usize::from(*lo);
        let n = n.min(tail.len());
        certs.push(&tail[..n]);
        rest = &tail[n..];
        if certs.len() > 20 {
            break;
        }
    }
    let roots: Vec<&[u8]> = certs.last().copied().into_iter().collect();
    for host in [&b"mx.example.test"[..], b"*.example.test", b"192.0.2.1", b""] {
        let r = cert::verify(&certs, &roots, host, 1_790_000_000);
        if let Err(e) = r {
            assert!(!e.tlsrpt_result_type().is_empty());
        }
    }
});
