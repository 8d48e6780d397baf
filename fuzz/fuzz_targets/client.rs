//! What the std client reads from the network and the disk: DNS answers
//! (decoding and TXT collection), the HTTP Content-Type check and the
//! policy body, and cache entries. The first byte picks which.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 3 {
        0 => {
            let _ = sts_client::dns::fuzz_answer(rest);
        }
        1 => {
            if let Some(nl) = rest.iter().position(|&b| b == b'\n') {
                let content_type = String::from_utf8_lossy(&rest[..nl]);
                if sts_client::fetch::is_text_plain(&content_type) {
                    let _ = sts_core::policy::parse(&rest[nl + 1..]);
                }
            }
        }
        _ => {
            let _ = sts_client::cache::CacheEntry::decode(rest);
        }
    }
});
