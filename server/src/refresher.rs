//! Proactive refresh in the background (RFC 8461 §3.3): requests never
//! wait for the refresh of a still-valid policy. A few worker threads
//! (bounded concurrency) refresh the domains that requests found due, and
//! a sweep enqueues every cached domain periodically, as `sts refresh`
//! from cron would.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sts_client::serving::DomainRefresh;
use sts_client::Client;

use crate::answer::Memo;
use crate::log::{Level, Log};
use crate::metrics::Metrics;

/// Most domains waiting for a refresh; more are dropped (a later request
/// asks again).
const MAX_PENDING: usize = 100_000;

/// Hands domains to the refresh workers.
#[derive(Debug)]
pub struct Refresher {
    tx: Sender<String>,
    pending: Arc<Mutex<HashSet<String>>>,
}

impl Refresher {
    /// Starts `workers` refresh threads (at least one) and the sweep
    /// (every `sweep` unless zero); they stop when `stop` is set.
    pub fn spawn(
        client: Arc<Client>,
        memo: Arc<Memo>,
        metrics: Arc<Metrics>,
        log: Log,
        workers: usize,
        sweep: Duration,
        stop: Arc<AtomicBool>,
    ) -> Refresher {
        let (tx, rx) = mpsc::channel::<String>();
        let rx = Arc::new(Mutex::new(rx));
        let pending: Arc<Mutex<HashSet<String>>> = Arc::default();
        for _ in 0..workers.max(1) {
            let w = Worker {
                client: client.clone(),
                memo: memo.clone(),
                metrics: metrics.clone(),
                log,
                rx: rx.clone(),
                pending: pending.clone(),
                stop: stop.clone(),
            };
            std::thread::spawn(move || w.run());
        }
        let r = Refresher { tx, pending };
        if !sweep.is_zero() {
            let sweeper = Refresher {
                tx: r.tx.clone(),
                pending: r.pending.clone(),
            };
            std::thread::spawn(move || {
                let mut next = Instant::now() + sweep;
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(500));
                    if Instant::now() < next {
                        continue;
                    }
                    next = Instant::now() + sweep;
                    if let Ok(domains) = client.cache().domains() {
                        for d in domains {
                            sweeper.request(&d);
                        }
                    }
                }
            });
        }
        r
    }

    /// Queues `domain` for a refresh unless it is queued already.
    pub fn request(&self, domain: &str) {
        let Ok(mut p) = self.pending.lock() else {
            return;
        };
        if p.len() >= MAX_PENDING || p.contains(domain) {
            return;
        }
        p.insert(domain.to_owned());
        drop(p);
        let _ = self.tx.send(domain.to_owned());
    }
}

struct Worker {
    client: Arc<Client>,
    memo: Arc<Memo>,
    metrics: Arc<Metrics>,
    log: Log,
    rx: Arc<Mutex<Receiver<String>>>,
    pending: Arc<Mutex<HashSet<String>>>,
    stop: Arc<AtomicBool>,
}

impl Worker {
    fn run(self) {
        while !self.stop.load(Ordering::Relaxed) {
            let next = match self.rx.lock() {
                Ok(rx) => rx.recv_timeout(Duration::from_millis(500)),
                Err(_) => return,
            };
            let domain = match next {
                Ok(d) => d,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return,
            };
            let before = self.client.cache().get(&domain);
            let outcome = self.client.refresh_domain(&domain);
            self.metrics.refreshes.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut p) = self.pending.lock() {
                p.remove(&domain);
            }
            let old_id = before
                .as_ref()
                .and_then(|e| e.policy.as_ref())
                .map(|p| p.txt_id.clone());
            let level = match outcome {
                DomainRefresh::Refreshed | DomainRefresh::Failed | DomainRefresh::Removed => {
                    Level::Info
                }
                _ => Level::Debug,
            };
            match outcome {
                DomainRefresh::Refreshed => {
                    self.metrics.fetches.fetch_add(1, Ordering::Relaxed);
                    self.memo.forget(&domain);
                }
                DomainRefresh::Removed => self.memo.forget(&domain),
                DomainRefresh::Failed => {
                    self.metrics.fetch_failures.fetch_add(1, Ordering::Relaxed);
                }
                _ => {}
            }
            self.log.at(level, || {
                let new_id = self
                    .client
                    .cache()
                    .get(&domain)
                    .and_then(|e| e.policy.map(|p| p.txt_id));
                format!(
                    "{domain}: background refresh: {} (policy id {} -> {})",
                    outcome.as_str(),
                    old_id.as_deref().unwrap_or("-"),
                    new_id.as_deref().unwrap_or("-")
                )
            });
        }
    }
}
