//! Counters for operators, served as Prometheus text (exposition format
//! 0.0.4) by [`crate::Server`] on the `--metrics` address.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::answer::AnswerKind;

/// Upper bounds of the answer latency histogram, in seconds: cached
/// answers land in the first buckets, DNS and HTTPS in the last.
const BUCKETS: [f64; 10] = [
    0.000_05, 0.000_1, 0.000_5, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 2.0,
];

/// The server's counters; every field only goes up.
#[derive(Debug, Default)]
pub struct Metrics {
    answers: [AtomicU64; AnswerKind::COUNT],
    /// Policy lookups answered from the cache alone.
    pub lookups_cached: AtomicU64,
    /// Policy lookups that had to ask DNS (and maybe fetch).
    pub lookups_full: AtomicU64,
    /// Policies fetched over HTTPS (in requests or in the background).
    pub fetches: AtomicU64,
    /// Fetches that failed.
    pub fetch_failures: AtomicU64,
    /// Background refreshes run.
    pub refreshes: AtomicU64,
    /// Outcomes written to the TLSRPT store.
    pub tlsrpt_recorded: AtomicU64,
    /// Connections accepted.
    pub connections: AtomicU64,
    /// Connections open now (goes down too).
    pub connections_open: AtomicU64,
    /// Connections closed for a malformed or oversized request.
    pub bad_requests: AtomicU64,
    /// Connections closed because a request came too slowly.
    pub slow_requests: AtomicU64,
    latency: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_ns: AtomicU64,
}

impl Metrics {
    /// Counts one answer and how long it took.
    pub fn answered(&self, kind: AnswerKind, took: Duration) {
        self.answers[kind as usize].fetch_add(1, Ordering::Relaxed);
        let secs = took.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|&b| secs <= b) {
            self.latency[i].fetch_add(1, Ordering::Relaxed);
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        let ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.latency_sum_ns.fetch_add(ns, Ordering::Relaxed);
    }

    /// Answers of one kind so far.
    pub fn answers(&self, kind: AnswerKind) -> u64 {
        self.answers[kind as usize].load(Ordering::Relaxed)
    }

    /// The Prometheus text; `cache_entries` is counted by the caller.
    pub fn render(&self, cache_entries: usize) -> String {
        let mut s = String::with_capacity(4096);
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        s.push_str("# HELP sts_serve_requests_total Socketmap requests by answer.\n");
        s.push_str("# TYPE sts_serve_requests_total counter\n");
        for kind in AnswerKind::ALL {
            let _ = writeln!(
                s,
                "sts_serve_requests_total{{answer=\"{}\"}} {}",
                kind.as_str(),
                self.answers(kind)
            );
        }
        let plain: [(&str, &str, &str, u64); 10] = [
            (
                "sts_serve_lookups_total{source=\"cache\"}",
                "counter",
                "Policy lookups by where the answer came from.",
                get(&self.lookups_cached),
            ),
            (
                "sts_serve_lookups_total{source=\"dns\"}",
                "",
                "",
                get(&self.lookups_full),
            ),
            (
                "sts_serve_fetches_total",
                "counter",
                "Policy fetches over HTTPS.",
                get(&self.fetches),
            ),
            (
                "sts_serve_fetch_failures_total",
                "counter",
                "Policy fetches that failed.",
                get(&self.fetch_failures),
            ),
            (
                "sts_serve_refreshes_total",
                "counter",
                "Background refreshes run.",
                get(&self.refreshes),
            ),
            (
                "sts_serve_tlsrpt_recorded_total",
                "counter",
                "Outcomes written to the TLSRPT store.",
                get(&self.tlsrpt_recorded),
            ),
            (
                "sts_serve_connections_total",
                "counter",
                "Connections accepted.",
                get(&self.connections),
            ),
            (
                "sts_serve_connections_open",
                "gauge",
                "Connections open now.",
                get(&self.connections_open),
            ),
            (
                "sts_serve_bad_requests_total",
                "counter",
                "Connections closed for a malformed or too long request.",
                get(&self.bad_requests),
            ),
            (
                "sts_serve_slow_requests_total",
                "counter",
                "Connections closed because a request arrived too slowly.",
                get(&self.slow_requests),
            ),
        ];
        for (name, kind, help, v) in plain {
            let base = name.split('{').next().unwrap_or(name);
            if !kind.is_empty() {
                let _ = writeln!(s, "# HELP {base} {help}\n# TYPE {base} {kind}");
            }
            let _ = writeln!(s, "{name} {v}");
        }
        let _ = writeln!(
            s,
            "# HELP sts_serve_cache_entries Domains in the policy cache.\n\
             # TYPE sts_serve_cache_entries gauge\nsts_serve_cache_entries {cache_entries}"
        );
        s.push_str("# HELP sts_serve_answer_seconds Time to answer a request.\n");
        s.push_str("# TYPE sts_serve_answer_seconds histogram\n");
        let mut cumulative = 0;
        for (b, n) in BUCKETS.iter().zip(&self.latency) {
            cumulative += get(n);
            let _ = writeln!(
                s,
                "sts_serve_answer_seconds_bucket{{le=\"{b}\"}} {cumulative}"
            );
        }
        let count = get(&self.latency_count);
        let _ = writeln!(
            s,
            "sts_serve_answer_seconds_bucket{{le=\"+Inf\"}} {count}\n\
             sts_serve_answer_seconds_sum {}\nsts_serve_answer_seconds_count {count}",
            get(&self.latency_sum_ns) as f64 / 1e9
        );
        s
    }
}
