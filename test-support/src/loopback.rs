//! The servers most end-to-end tests start together: DNS, and an HTTPS
//! policy host with a certificate for `mta-sts.<domain>` of each test
//! domain, its CA, and a fresh directory for the cache and the CA file.

use std::path::PathBuf;

use crate::https::{policy_reply, HttpsServer};
use crate::{tempdir, txt1, DnsServer, TestCa, Validity};

/// DNS and HTTPS policy servers on loopback, their CA and a directory.
pub struct Loopback {
    /// The DNS server (nothing published yet: every name is NXDOMAIN).
    pub dns: DnsServer,
    /// The policy host (no policy yet: every host gets a 404).
    pub https: HttpsServer,
    /// The CA of the policy host's certificate (`ca.pem` in `dir`).
    pub ca: TestCa,
    /// A fresh directory of this test's own.
    pub dir: PathBuf,
}

impl Loopback {
    /// Servers for `domains`, in a directory named after `tag`.
    pub fn start(tag: &str, domains: &[&str]) -> Loopback {
        let dir = tempdir(tag);
        let ca = TestCa::new(&dir);
        let names: Vec<String> = domains.iter().map(|d| format!("mta-sts.{d}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let https = HttpsServer::start(ca.leaf(&names, Validity::Current));
        Loopback {
            dns: DnsServer::start(),
            https,
            ca,
            dir,
        }
    }

    /// Publishes the policy file of `domain`, then the TXT record with
    /// id `id` that announces it.
    pub fn publish(&self, domain: &str, id: &str, policy: &str) {
        self.https
            .set(&format!("mta-sts.{domain}"), policy_reply(policy));
        self.dns.set(
            &format!("_mta-sts.{domain}"),
            txt1(&format!("v=STSv1; id={id};")),
        );
    }
}
