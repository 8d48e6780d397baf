//! The loopback servers of `sts-test-support` under the names the client
//! tests import (ffi/tests/lookup.rs includes this file too): DNS, HTTPS
//! policy host, silent TCP server, throw-away CA and temporary directories.
#![allow(unused_imports)] // each test binary uses a part

pub use sts_test_support::{
    policy_reply, policy_text, silent_tcp, tempdir, txt1, DnsAnswer, DnsServer, HttpsServer, Leaf,
    Loopback, Reply, TestCa, Validity,
};
