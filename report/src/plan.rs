//! The dry run of `send`: what a run would send, and to whom, with
//! nothing delivered and nothing changed on disk.

use sts_client::dns::TxtResolver;

use crate::day::Day;
use crate::send::{lookup, read_day, EventKind, Lookup, SendEvent, SendSummary};
use crate::spool::{load_entries, DestState, SPOOL};
use crate::{ReportError, ReportOptions};

/// The events a run over `days` would give: a `WouldSend` per destination
/// of each report still to close, and per pending destination of each
/// spooled report (of `day`, if given).
pub(crate) fn plan(
    opts: &ReportOptions,
    resolver: &dyn TxtResolver,
    days: &[Day],
    day: Option<Day>,
) -> Result<SendSummary, ReportError> {
    let spool = opts.dir.join(SPOOL);
    let mut summary = SendSummary::default();
    for &d in days {
        let agg = read_day(&opts.dir, d)?;
        for domain in agg.domains.keys() {
            let mut ev = SendEvent {
                day: d,
                policy_domain: domain.clone(),
                report_id: String::new(),
                destination: None,
                kind: EventKind::WouldSend,
                detail: String::new(),
            };
            match lookup(resolver, domain) {
                Lookup::Found(uris) => {
                    for u in uris {
                        ev.destination = Some(u);
                        summary.events.push(ev.clone());
                    }
                }
                Lookup::NoRecord(why) => {
                    ev.kind = EventKind::NoRecord;
                    ev.detail = why;
                    summary.events.push(ev);
                }
                Lookup::Temporary(why) => {
                    ev.kind = EventKind::DeliveryFailed;
                    ev.detail = why;
                    summary.events.push(ev);
                }
            }
        }
    }
    for e in load_entries(&spool)? {
        if day.is_none_or(|d| d == e.day) {
            for dest in e.dests.iter().filter(|d| d.state == DestState::Pending) {
                summary
                    .events
                    .push(e.event(EventKind::WouldSend, Some(&dest.uri), "retry".into()));
            }
            summary.pending += 1;
        }
    }
    Ok(summary)
}
