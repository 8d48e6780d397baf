//! Delivering one due spool entry to its destinations (RFC 8460 §5):
//! `mailto:` through [`crate::submit`], `https:` through
//! [`crate::https`], with the state saved after each destination that
//! accepted the report (so it never gets it twice) and exponential
//! back-off between runs.

use std::fs;

use sts_client::dns::TxtResolver;

use crate::https::Poster;
use crate::mail::{build_message, MailReport};
use crate::send::{lookup, EventKind, Lookup, SendSummary};
use crate::spool::{remove_entry, Dest, DestState, Entry, REPORT};
use crate::submit::submit;
use crate::transport::Password;
use crate::{mailto, ReportError, ReportOptions};

/// Whether `uri` starts with `scheme` in any case (RFC 3986 §3.1).
fn has_scheme(uri: &str, scheme: &str) -> bool {
    uri.get(..scheme.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(scheme))
}

/// What one destination did with the report.
enum Delivery {
    Accepted,
    Failed(String),
    Unusable(String),
}

/// The senders of one run (the HTTPS client and the SMTP password are
/// set up once, on first use).
pub(crate) struct Senders<'a> {
    pub(crate) opts: &'a ReportOptions,
    poster: Option<Result<Poster, String>>,
    password: Option<Result<Option<Password>, String>>,
}

impl<'a> Senders<'a> {
    pub(crate) fn new(opts: &'a ReportOptions) -> Senders<'a> {
        Senders {
            opts,
            poster: None,
            password: None,
        }
    }

    fn deliver(&mut self, entry: &Entry, uri: &str, gz: &[u8], now: u64) -> Delivery {
        if has_scheme(uri, "mailto:") {
            let to = match mailto::recipient(uri) {
                Ok(to) => to,
                Err(e) => return Delivery::Unusable(format!("bad mailto: URI: {e}")),
            };
            let report = MailReport {
                from: &self.opts.mail_from,
                to: &to,
                submitter: &self.opts.submitter,
                policy_domain: &entry.domain,
                report_id: &entry.report_id,
                unique_id: &entry.unique_id,
                day: entry.day,
                date: now,
                gzip: gz,
            };
            let Some(message) = build_message(&report) else {
                return Delivery::Unusable(format!(
                    "cannot write a message to {to:?} from {:?}",
                    self.opts.mail_from
                ));
            };
            let opts = self.opts;
            let password = self
                .password
                .get_or_insert_with(|| opts.password().map_err(|e| e.to_string()));
            let password = match password {
                Ok(p) => p.as_ref(),
                Err(e) => return Delivery::Failed(e.clone()),
            };
            match submit(opts, password, &opts.mail_from, &to, &message) {
                Ok(()) => Delivery::Accepted,
                Err(e) => Delivery::Failed(format!("{} via {}", e, opts.smtp)),
            }
        } else if has_scheme(uri, "https://") {
            let opts = self.opts;
            let poster = self.poster.get_or_insert_with(|| {
                Poster::with_dns(opts.ca_file.as_deref(), opts.timeout, crate::resolver(opts))
            });
            match poster {
                Ok(p) => match p.post(uri, gz) {
                    Ok(()) => Delivery::Accepted,
                    Err(e) => Delivery::Failed(e),
                },
                Err(e) => Delivery::Failed(format!("HTTPS client: {e}")),
            }
        } else {
            Delivery::Unusable("neither mailto: nor https:".into())
        }
    }
}

fn backoff(opts: &ReportOptions, attempts: u32) -> u64 {
    let base = opts.retry_base.as_secs().max(1);
    let factor = 1u64 << attempts.saturating_sub(1).min(32);
    base.saturating_mul(factor)
        .min(opts.retry_max.as_secs().max(1))
}

/// Works on one due spool entry.
pub(crate) fn process(
    senders: &mut Senders<'_>,
    resolver: &dyn TxtResolver,
    mut entry: Entry,
    now: u64,
    summary: &mut SendSummary,
) -> Result<(), ReportError> {
    let opts = senders.opts;
    let mut failure = String::new();
    if !entry.resolved {
        match lookup(resolver, &entry.domain) {
            Lookup::Found(uris) => {
                entry.resolved = true;
                entry.dests = uris
                    .into_iter()
                    .map(|uri| Dest {
                        uri,
                        state: DestState::Pending,
                    })
                    .collect();
                entry.save()?;
            }
            Lookup::NoRecord(why) => {
                summary
                    .events
                    .push(entry.event(EventKind::NoRecord, None, why));
                return remove_entry(&entry);
            }
            Lookup::Temporary(why) => failure = why,
        }
    }
    if entry.resolved {
        let gz_path = entry.dir.join(REPORT);
        let gz = fs::read(&gz_path).map_err(|e| ReportError::io(&gz_path, e))?;
        for i in 0..entry.dests.len() {
            if entry.dests[i].state != DestState::Pending {
                continue;
            }
            let uri = entry.dests[i].uri.clone();
            match senders.deliver(&entry, &uri, &gz, now) {
                Delivery::Accepted => {
                    entry.dests[i].state = DestState::Done;
                    entry.save()?;
                    summary.events.push(entry.event(
                        EventKind::Delivered,
                        Some(&uri),
                        String::new(),
                    ));
                }
                Delivery::Unusable(why) => {
                    entry.dests[i].state = DestState::Unusable;
                    entry.save()?;
                    summary
                        .events
                        .push(entry.event(EventKind::Unusable, Some(&uri), why));
                }
                Delivery::Failed(why) => {
                    summary.events.push(entry.event(
                        EventKind::DeliveryFailed,
                        Some(&uri),
                        why.clone(),
                    ));
                    failure = why;
                }
            }
        }
        if entry.dests.iter().all(|d| d.state != DestState::Pending) {
            summary
                .events
                .push(entry.event(EventKind::Completed, None, String::new()));
            return remove_entry(&entry);
        }
    }
    entry.attempts = entry.attempts.saturating_add(1);
    if entry.attempts >= opts.max_attempts.max(1) {
        let left: Vec<&str> = entry
            .dests
            .iter()
            .filter(|d| d.state == DestState::Pending)
            .map(|d| d.uri.as_str())
            .collect();
        let dests = if left.is_empty() {
            None
        } else {
            Some(left.join(","))
        };
        let detail = format!("after {} attempts; last error: {failure}", entry.attempts);
        summary
            .events
            .push(entry.event(EventKind::GaveUp, dests.as_deref(), detail));
        return remove_entry(&entry);
    }
    entry.next_try = now.saturating_add(backoff(opts, entry.attempts));
    entry.save()?;
    summary.pending += 1;
    summary
        .events
        .push(entry.event(EventKind::RetryScheduled(entry.next_try), None, failure));
    Ok(())
}
