//! `sts-client`: the std layer of libsts.
//!
//! It answers the question an MTA asks for every delivery attempt: for
//! this recipient domain and this MX host, may I deliver, must TLS be
//! required, and what do I record for TLSRPT ([`Client::decide`]). On the
//! way it discovers the policy in DNS (RFC 8461 §3.1), fetches it over
//! HTTPS (§3.3), keeps it in a cache on disk and in memory, and applies the
//! refresh rules of §3.3, §3.4 and §5.1 (see [`refresh`]).
//!
//! There are no background threads and no async runtime: every call does
//! its I/O on the calling thread with timeouts, so a process that forks per
//! delivery (Exim) can use it.
//!
//! The crate is split the way a lookup flows: [`config`] (settings and
//! their environment fallbacks), [`types`] (the values a lookup returns),
//! [`lookup`] (the [`Client`] and its per-delivery state machine),
//! [`refresh`] (the proactive refresh run from cron, over the core's pure
//! rules), with [`dns`], [`fetch`] and [`cache`] doing the I/O.
//!
//! ```no_run
//! use sts_client::{Client, ClientOptions, DaneStatus};
//! let client = Client::new(ClientOptions::default())?;
//! let d = client.decide("example.com", "mx1.example.com", DaneStatus::NotUsable);
//! if d.refuse() {
//!     // defer the message: the MX host is not permitted under "enforce"
//! }
//! # Ok::<(), sts_client::ClientError>(())
//! ```

pub mod cache;
pub mod config;
pub mod dns;
pub mod fetch;
pub mod file_access;
pub mod lock;
pub mod lookup;
pub mod refresh;
pub mod serving;
pub mod shared;
pub mod smtp;
pub mod types;

pub use crate::config::{ClientError, ClientOptions};
pub use crate::dns::{DnsError, TxtResolver};
pub use crate::lookup::{Client, ClockFn, TraceFn};
pub use crate::types::{
    normalize_domain, DaneStatus, Decision, DecisionMode, DecisionRequest, LookupError, PolicyInfo,
    PolicyLookup, RefreshReport, Source, TlsrptFailure,
};
