//! Fuzz target: the `_smtp._tls` TXT record (RFC 8460 §3).
//!
//! Parses the input and walks `rua`: the count must match the iterator,
//! every URI must be a non-empty `mailto:` or `https://` URI without
//! separators, and a record rebuilt from its parts must be the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sts_core::tlsrpt::record::{strip_scheme, UriKind};
use sts_core::tlsrpt::{self, TlsrptRecord};

fuzz_target!(|data: &[u8]| {
    let rec = match tlsrpt::parse(data) {
        Ok(rec) => rec,
        Err(e) => {
            let _ = e.as_str();
            return;
        }
    };
    assert!(rec.rua_count() >= 1);
    assert_eq!(rec.rua().count(), rec.rua_count());
    assert_eq!(
        TlsrptRecord::from_parts(rec.rua_raw(), rec.rua_count()),
        rec
    );
    let range = data.as_ptr_range();
    for (i, uri) in rec.rua().enumerate() {
        assert!(!uri.is_empty());
        assert!(
            !uri.iter()
                .any(|&b| matches!(b, b',' | b';' | b' ' | b'\t' | b'!')),
            "{uri:?}"
        );
        let r = uri.as_ptr_range();
        assert!(range.start <= r.start && r.end <= range.end);
        let (at, kind) = rec
            .rua_at(i)
            .unwrap_or_else(|| panic!("rua_at({i}) is None"));
        assert_eq!(at, uri);
        // Schemes in any case (RFC 3986 §3.1).
        match kind {
            UriKind::Mailto => assert!(strip_scheme(uri, b"mailto:").is_some()),
            UriKind::Https => assert!(strip_scheme(uri, b"https://").is_some()),
        }
    }
    assert_eq!(rec.rua_at(rec.rua_count()), None);
});
