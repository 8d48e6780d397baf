//! `sts_client_lookup` through the C ABI against loopback DNS and HTTPS
//! servers: the mode, id and patterns of a domain's policy, what it
//! allocates, and `sts_lookup_free`.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

#[path = "../../client/tests/common/mod.rs"]
mod common;

use common::{policy_reply, policy_text, tempdir, txt1, DnsServer, HttpsServer, TestCa, Validity};
use std::ffi::{CStr, CString};
use sts::*;

fn lookup_of(client: *const sts_client, domain: &str) -> (sts_result, sts_lookup) {
    let mut l: sts_lookup = unsafe { std::mem::zeroed() };
    l.struct_size = std::mem::size_of::<sts_lookup>() as u32;
    let d = CString::new(domain).unwrap();
    let r = unsafe { sts_client_lookup(client, d.as_ptr(), &mut l) };
    (r, l)
}

fn patterns(l: &sts_lookup) -> Vec<String> {
    (0..l.mx_count)
        .map(|i| {
            unsafe { CStr::from_ptr(*l.mx.add(i)) }
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

#[test]
fn rfc8461_3_lookup_gives_mode_id_and_patterns_without_a_host() {
    let dir = tempdir("ffi-lookup");
    let ca = TestCa::new(&dir);
    let https = HttpsServer::start(ca.leaf(&["mta-sts.example.test"], Validity::Current));
    let dns = DnsServer::start();
    https.set(
        "mta-sts.example.test",
        policy_reply(&policy_text(
            "testing",
            &["mx1.example.test", "*.mx.example.test"],
            86_400,
        )),
    );
    dns.set("_mta-sts.example.test", txt1("v=STSv1; id=20261207a;"));

    let server = CString::new(dns.addr.to_string()).unwrap();
    let ca_file = CString::new(ca.pem_path.to_str().unwrap()).unwrap();
    let connect = CString::new("127.0.0.1").unwrap();
    let mut opts: sts_client_options = unsafe { std::mem::zeroed() };
    opts.struct_size = std::mem::size_of::<sts_client_options>() as u32;
    opts.dns_server = server.as_ptr();
    opts.ca_file = ca_file.as_ptr();
    opts.https_connect = connect.as_ptr();
    opts.https_port = https.port;
    opts.https_timeout_ms = 5000;
    let mut client = std::ptr::null_mut();
    assert_eq!(
        unsafe { sts_client_new(&opts, &mut client) },
        sts_result::STS_OK
    );

    let (r, mut l) = lookup_of(client, "example.test");
    assert_eq!(r, sts_result::STS_OK);
    assert_eq!(l.mode, sts_decision_mode::STS_DECISION_TESTING);
    assert_eq!(l.source, sts_source::STS_SOURCE_NETWORK);
    assert_eq!(l.max_age, 86_400);
    assert_eq!(l.lookup_error, sts_result::STS_OK);
    assert_eq!(unsafe { CStr::from_ptr(l.id) }.to_str(), Ok("20261207a"));
    assert_eq!(patterns(&l), ["mx1.example.test", "*.mx.example.test"]);
    assert!(!l.private_owner.is_null());
    assert_eq!(unsafe { sts_lookup_free(&mut l) }, sts_result::STS_OK);
    assert!(l.private_owner.is_null() && l.mx.is_null() && l.id.is_null() && l.mx_count == 0);
    // Freeing again through the same struct does nothing.
    assert_eq!(unsafe { sts_lookup_free(&mut l) }, sts_result::STS_OK);

    // RFC 8461 §3.3: the second lookup is served from the cache.
    let requests = https.requests.load(std::sync::atomic::Ordering::SeqCst);
    let (r, mut l) = lookup_of(client, "example.test");
    assert_eq!(r, sts_result::STS_OK);
    assert_eq!(l.source, sts_source::STS_SOURCE_CACHE);
    assert_eq!(patterns(&l).len(), 2);
    assert_eq!(
        https.requests.load(std::sync::atomic::Ordering::SeqCst),
        requests
    );
    assert_eq!(unsafe { sts_lookup_free(&mut l) }, sts_result::STS_OK);

    // No record: no policy and nothing allocated.
    let (r, mut l) = lookup_of(client, "nothing.test");
    assert_eq!(r, sts_result::STS_OK);
    assert_eq!(l.mode, sts_decision_mode::STS_DECISION_NO_POLICY);
    assert!(l.private_owner.is_null() && l.id.is_null() && l.mx.is_null());
    assert_eq!(unsafe { sts_lookup_free(&mut l) }, sts_result::STS_OK);

    unsafe { sts_client_free(client) };
    let _ = std::fs::remove_dir_all(&dir);
}

/// `redis_url` of the options: a malformed URL is a configuration error,
/// a well-formed one makes a client without connecting yet (Redis is
/// only asked when a decision needs it, and its absence is not fatal).
#[test]
fn redis_url_option_is_parsed_and_a_bad_one_refused() {
    let mut opts: sts_client_options = unsafe { std::mem::zeroed() };
    opts.struct_size = std::mem::size_of::<sts_client_options>() as u32;
    let bad = CString::new("http://:hunter2@127.0.0.1:1").unwrap();
    opts.redis_url = bad.as_ptr();
    let mut client = std::ptr::null_mut();
    assert_eq!(
        unsafe { sts_client_new(&opts, &mut client) },
        sts_result::STS_ERR_CLIENT_CONFIG
    );
    assert!(client.is_null());

    let good = CString::new("redis://:hunter2@127.0.0.1:1/0").unwrap();
    opts.redis_url = good.as_ptr();
    assert_eq!(
        unsafe { sts_client_new(&opts, &mut client) },
        sts_result::STS_OK
    );
    assert!(!client.is_null());
    unsafe { sts_client_free(client) };
}
