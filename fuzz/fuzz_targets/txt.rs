//! Fuzz target: `_mta-sts` TXT records and their selection (RFC 8461 §3.1).
//!
//! The input is split at 0x00 into several records, as if one TXT lookup
//! had returned them all. Each is parsed; selection must keep exactly the
//! candidates and agree with parsing the only one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sts_core::txt::{self, TxtError, MAX_ID_LEN};

fuzz_target!(|data: &[u8]| {
    let records: Vec<&[u8]> = data.split(|&b| b == 0).take(16).collect();
    for &r in &records {
        match txt::parse(r) {
            Ok(rec) => {
                assert!(txt::is_candidate(r), "{r:?}");
                assert!(!rec.id.is_empty() && rec.id.len() <= MAX_ID_LEN);
                assert!(rec.id.iter().all(u8::is_ascii_alphanumeric));
                let range = r.as_ptr_range();
                let id = rec.id.as_ptr_range();
                assert!(range.start <= id.start && id.end <= range.end);
            }
            Err(e) => {
                assert!(!matches!(e, TxtError::NoRecord | TxtError::MultipleRecords));
                let _ = e.as_str();
            }
        }
    }
    let candidates: Vec<&[u8]> = records
        .iter()
        .copied()
        .filter(|r| txt::is_candidate(r))
        .collect();
    let selected = txt::select(records.iter().copied());
    match candidates.as_slice() {
        [] => assert_eq!(selected, Err(TxtError::NoRecord)),
        [one] => assert_eq!(selected, txt::parse(one)),
        _ => assert_eq!(selected, Err(TxtError::MultipleRecords)),
    }
});
