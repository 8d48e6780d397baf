//! RFC 7672 DANE-TLSA on arbitrary input: `[n][n bytes of TLSA RDATA]
//! [certificate DER]...`; also the SPKI walker on the certificate bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sts_core::dane;

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let n = usize::from(n).min(rest.len());
    let (tlsa, der) = rest.split_at(n);
    if let Ok(t) = dane::parse_tlsa(tlsa) {
        assert_eq!(t.data.len() + 3, tlsa.len());
    }
    if let Some(spki) = dane::subject_public_key_info(der) {
        // The SPKI is a slice of the certificate.
        let start = spki.as_ptr() as usize - der.as_ptr() as usize;
        assert!(start + spki.len() <= der.len());
    }
    let chains: [&[&[u8]]; 2] = [&[der], &[der, der]];
    for chain in chains {
        let _ = dane::verify(chain, &[tlsa], b"mx.example.test", 1_790_000_000);
        let _ = dane::verify(chain, &[tlsa, tlsa], b"mx.example.test.", 0);
    }
});
