//! Every MX host over SMTP: addresses, STARTTLS, the certificate under
//! WebPKI for the host name (RFC 8461 §4.2), its expiry, and DANE
//! (RFC 7672).

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use sts_client::dns::{Answer, DnsError};
use sts_client::smtp::{self, Probe, ProbeOptions, SmtpError, StartTls};
use sts_core::policy::Mode;
use sts_core::{cert, dane};

use super::findings::{Check, Finding, Verdict};
use super::{Env, EXPIRY_WARNING_DAYS, MAX_ADDRESSES, PROBE_WORKERS};

/// One MX host: its addresses, its TLSA records and each address's probe.
pub(super) struct HostReport {
    host: String,
    addresses: Result<Vec<IpAddr>, DnsError>,
    tlsa: Result<Answer<Vec<u8>>, DnsError>,
    probes: Vec<(SocketAddr, Result<Probe, SmtpError>)>,
}

impl Env {
    /// Looks up every host's addresses and TLSA records (a thread per
    /// host), then probes every address with a pool of workers.
    pub(super) fn probe_hosts(&self, names: &[String]) -> Vec<HostReport> {
        let mut hosts: Vec<HostReport> = std::thread::scope(|s| {
            let handles: Vec<_> = names
                .iter()
                .map(|h| {
                    s.spawn(move || {
                        let r = HostReport {
                            host: h.clone(),
                            addresses: self.dns.addresses(h),
                            tlsa: self.dns.tlsa(&format!("_25._tcp.{h}")),
                            probes: Vec::new(),
                        };
                        self.trace(&format!("dns: A/AAAA and TLSA of {h}"));
                        r
                    })
                })
                .collect();
            handles
                .into_iter()
                .zip(names)
                .map(|(j, h)| {
                    j.join().unwrap_or_else(|_| HostReport {
                        host: h.clone(),
                        addresses: Err(DnsError::Io("lookup stopped".into())),
                        tlsa: Err(DnsError::Io("lookup stopped".into())),
                        probes: Vec::new(),
                    })
                })
                .collect()
        });
        let jobs: Vec<(usize, SocketAddr)> = hosts
            .iter()
            .enumerate()
            .flat_map(|(i, h)| {
                h.addresses
                    .iter()
                    .flatten()
                    .take(MAX_ADDRESSES)
                    .map(move |ip| (i, SocketAddr::new(*ip, self.smtp_port)))
            })
            .collect();
        let next = AtomicUsize::new(0);
        // Each result keeps its job's index, to be reported in the order
        // of the MX records and addresses whatever order they finish in.
        let results: Mutex<Vec<(usize, Result<Probe, SmtpError>)>> = Mutex::new(Vec::new());
        let opts = ProbeOptions {
            ehlo_name: "sts-doctor.localhost".into(),
            timeout: self.timeout,
        };
        std::thread::scope(|s| {
            for _ in 0..PROBE_WORKERS.min(jobs.len()) {
                s.spawn(|| loop {
                    let k = next.fetch_add(1, Ordering::SeqCst);
                    let Some(&(i, addr)) = jobs.get(k) else { break };
                    let r = smtp::probe(addr, &hosts[i].host, &opts);
                    self.trace(&format!(
                        "smtp {} [{addr}]: {}",
                        hosts[i].host,
                        r.as_ref().map_or_else(|e| e.as_str(), |_| "probed")
                    ));
                    if let Ok(mut v) = results.lock() {
                        v.push((k, r));
                    }
                });
            }
        });
        let mut results = results.into_inner().unwrap_or_default();
        results.sort_by_key(|(k, _)| *k);
        for (k, r) in results {
            if let Some(&(i, addr)) = jobs.get(k) {
                hosts[i].probes.push((addr, r));
            }
        }
        hosts
    }

    pub(super) fn host_findings(&self, h: &HostReport, mode: Option<Mode>) -> Vec<Finding> {
        let mut out = Vec::new();
        let tls_fault = tls_fault_verdict(mode);
        match &h.addresses {
            Err(e) => {
                out.push(
                    Finding::new(
                        Check::MxAddress,
                        &h.host,
                        Verdict::Error,
                        format!("no address: {e}"),
                    )
                    .hint(format!("publish A (and AAAA) records for {}", h.host)),
                );
                return out;
            }
            Ok(ips) => {
                if !ips.iter().any(IpAddr::is_ipv6) {
                    out.push(Finding::new(
                        Check::MxAddress,
                        &h.host,
                        Verdict::Info,
                        "no IPv6 address (AAAA)".into(),
                    ));
                }
                if ips.len() > MAX_ADDRESSES {
                    out.push(Finding::new(
                        Check::MxAddress,
                        &h.host,
                        Verdict::Info,
                        format!("{} addresses; the first {MAX_ADDRESSES} checked", ips.len()),
                    ));
                }
            }
        }
        let tlsa = tlsa_records(&h.host, &h.tlsa, &mut out);
        for (addr, result) in &h.probes {
            let subject = format!("{} [{}]:{}", h.host, addr.ip(), addr.port());
            let probe = match result {
                Ok(p) => p,
                Err(e) => {
                    let hint = match e {
                        SmtpError::Timeout => format!(
                            "make the server at {addr} answer (nothing within {:.1} s): senders defer mail to it",
                            self.timeout.as_secs_f64()
                        ),
                        SmtpError::Connect => format!(
                            "start the SMTP server on {addr} or remove the address from DNS"
                        ),
                        SmtpError::Handshake => {
                            "fix the server's TLS setup (certificate and key, protocol versions)".into()
                        }
                        _ => "fix the SMTP server's replies".into(),
                    };
                    // A failed handshake is the TLS step's fault, not the
                    // connection's: report it where the reader looks for it.
                    let check = match e {
                        SmtpError::Handshake | SmtpError::StartTlsRefused => Check::StartTls,
                        _ => Check::SmtpConnect,
                    };
                    out.push(
                        Finding::new(check, &subject, Verdict::Error, e.as_str().into()).hint(hint),
                    );
                    continue;
                }
            };
            out.push(Finding::new(
                Check::SmtpConnect,
                &subject,
                Verdict::Ok,
                format!("220 {}", probe.greeting),
            ));
            let Some(tls) = (match probe.starttls {
                StartTls::Offered => probe.tls.as_ref(),
                StartTls::NotOffered => None,
            }) else {
                out.push(
                    Finding::new(
                        Check::StartTls,
                        &subject,
                        tls_fault,
                        "STARTTLS is not offered: mail goes in clear text".into(),
                    )
                    .hint(
                        "enable STARTTLS with a certificate for the MX host name (RFC 8461 §4.2)",
                    ),
                );
                continue;
            };
            out.push(Finding::new(
                Check::StartTls,
                &subject,
                Verdict::Ok,
                "offered; handshake done".into(),
            ));
            out.push(Finding::new(
                Check::TlsVersion,
                &subject,
                Verdict::Ok,
                tls.version.as_str().into(),
            ));
            let chain: Vec<&[u8]> = tls.chain.iter().map(Vec::as_slice).collect();
            out.push(self.certificate(&subject, &h.host, &chain, tls_fault));
            if let Some(leaf) = chain.first() {
                out.push(self.expiry(&subject, leaf, tls_fault));
            }
            if let Some(records) = &tlsa {
                let refs: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
                out.push(
                    match dane::verify(&chain, &refs, h.host.as_bytes(), self.now) {
                        Ok(()) => Finding::new(
                            Check::Dane,
                            &subject,
                            Verdict::Ok,
                            "the chain matches the TLSA records (DANE takes precedence over MTA-STS for senders that do DANE)".into(),
                        ),
                        Err(e) => Finding::new(
                            Check::Dane,
                            &subject,
                            Verdict::Error,
                            format!("{} ({})", e.as_str(), e.tlsrpt_result_type()),
                        )
                        .hint(format!(
                            "publish TLSA records at _25._tcp.{} for the certificate in use before rolling it over; DANE senders defer mail until they match (DANE takes precedence over MTA-STS)",
                            h.host
                        )),
                    },
                );
            }
        }
        out
    }

    pub(super) fn certificate(
        &self,
        subject: &str,
        host: &str,
        chain: &[&[u8]],
        fault: Verdict,
    ) -> Finding {
        let roots = match &self.roots {
            Ok(r) => r,
            Err(e) => {
                return Finding::new(
                    Check::Certificate,
                    subject,
                    Verdict::Warning,
                    format!("not checked: no trusted roots ({e})"),
                )
                .hint("give a PEM bundle of roots with --ca-file")
            }
        };
        let roots: Vec<&[u8]> = roots.iter().map(Vec::as_slice).collect();
        match cert::verify(chain, &roots, host.as_bytes(), self.now) {
            Ok(()) => Finding::new(
                Check::Certificate,
                subject,
                Verdict::Ok,
                format!("valid under WebPKI for {host}"),
            ),
            Err(e) => {
                let hint = match e {
                    cert::CertError::HostMismatch => format!(
                        "use a certificate whose subjectAltName covers {host} (the MX host name, not the domain)"
                    ),
                    cert::CertError::Expired => "renew the certificate".into(),
                    cert::CertError::NotTrusted => {
                        "use a certificate from a public CA and send the intermediates".into()
                    }
                    _ => "replace the certificate chain with one that validates".into(),
                };
                Finding::new(
                    Check::Certificate,
                    subject,
                    fault,
                    format!("{} ({})", e.as_str(), e.tlsrpt_result_type()),
                )
                .hint(hint)
            }
        }
    }

    /// Days until the leaf expires; an expired one is as bad as the
    /// certificate check says (`fault`), one close to it a warning.
    pub(super) fn expiry(&self, subject: &str, leaf: &[u8], fault: Verdict) -> Finding {
        let now = i64::try_from(self.now).unwrap_or(i64::MAX);
        let f = |v, d: String| Finding::new(Check::CertificateExpiry, subject, v, d);
        match smtp::not_after(leaf) {
            None => f(
                Verdict::Warning,
                "cannot read the certificate's notAfter".into(),
            )
            .hint("check that the server sends a well-formed X.509 certificate"),
            Some(t) if t < now => f(
                fault,
                format!("expired {} day(s) ago", (now - t).div_euclid(86_400)),
            )
            .hint("renew the certificate and reload the SMTP server"),
            Some(t) => {
                let days = (t - now).div_euclid(86_400);
                if days < EXPIRY_WARNING_DAYS {
                    f(Verdict::Warning, format!("expires in {days} day(s)"))
                        .hint("renew the certificate now (and check that renewal is automated)")
                } else {
                    f(Verdict::Ok, format!("expires in {days} days"))
                }
            }
        }
    }
}

/// How bad a TLS fault at an MX host is: enforcing senders refuse the host
/// (error); under testing, or with no usable policy, they deliver anyway.
pub(super) fn tls_fault_verdict(mode: Option<Mode>) -> Verdict {
    match mode {
        Some(Mode::Enforce) => Verdict::Error,
        _ => Verdict::Warning,
    }
}

/// The host's TLSA records when DANE applies (present and validated);
/// adds a finding either way.
pub(super) fn tlsa_records(
    host: &str,
    tlsa: &Result<Answer<Vec<u8>>, DnsError>,
    out: &mut Vec<Finding>,
) -> Option<Vec<Vec<u8>>> {
    let name = format!("_25._tcp.{host}");
    match tlsa {
        Err(DnsError::NxDomain | DnsError::NoData) => {
            out.push(Finding::new(
                Check::Dane,
                &name,
                Verdict::Info,
                "no TLSA records: DANE is not in use".into(),
            ));
            None
        }
        Err(e) => {
            out.push(
                Finding::new(
                    Check::Dane,
                    &name,
                    Verdict::Warning,
                    format!("TLSA lookup failed: {e}"),
                )
                .hint("DANE senders defer mail while the TLSA lookup fails: fix the zone's DNSSEC or its servers"),
            );
            None
        }
        Ok(a) if !a.authenticated => {
            out.push(
                Finding::new(
                    Check::Dane,
                    &name,
                    Verdict::Warning,
                    format!(
                        "{} TLSA record(s), not DNSSEC-validated (no AD bit): senders ignore them",
                        a.records.len()
                    ),
                )
                .hint("sign the zone with DNSSEC (and ask a validating resolver), or remove the TLSA records"),
            );
            None
        }
        Ok(a) => {
            out.push(Finding::new(
                Check::Dane,
                &name,
                Verdict::Info,
                format!(
                    "{} DNSSEC-validated TLSA record(s): DANE senders use them instead of MTA-STS",
                    a.records.len()
                ),
            ));
            Some(a.records.clone())
        }
    }
}
