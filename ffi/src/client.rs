//! The std client through the C ABI: an opaque `sts_client` that looks up,
//! fetches and caches policies and answers "may I deliver to this MX host?".

use crate::boundary::{arg, guard, opt_utf8, out_ptr, utf8, write};
use crate::extensible::{self, extensible};
use crate::result::sts_result;
use ::sts_client::shared::RedisUrl;
use ::sts_client::{
    Client, ClientOptions, DaneStatus, DecisionMode, DecisionRequest, DnsError, LookupError,
    Source, TxtResolver,
};
use core::ffi::{c_char, c_void};
use std::ffi::CString;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Results of a TXT lookup callback (`sts_txt_lookup_fn`).
pub type sts_txt_lookup_status = u32;
/// The records were added with `sts_txt_answer_add` (possibly none).
pub const STS_TXT_LOOKUP_FOUND: sts_txt_lookup_status = 0;
/// The name does not exist (NXDOMAIN): the domain has no policy.
pub const STS_TXT_LOOKUP_NXDOMAIN: sts_txt_lookup_status = 1;
/// A temporary failure (SERVFAIL, timeout): try again later.
pub const STS_TXT_LOOKUP_TEMPFAIL: sts_txt_lookup_status = 2;

/// The answer being built by a TXT lookup callback.
pub struct sts_txt_answer {
    records: Vec<Vec<u8>>,
}

/// A TXT lookup supplied by the host MTA: look up the TXT records at the
/// NUL-terminated `name`, add each record (its character-strings joined)
/// with `sts_txt_answer_add`, and return an `STS_TXT_LOOKUP_*` status. It
/// may be called from any thread that uses the client.
pub type sts_txt_lookup_fn = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        name: *const c_char,
        answer: *mut sts_txt_answer,
    ) -> u32,
>;

/// Settings for `sts_client_new`. Set `struct_size` to
/// `sizeof(sts_client_options)` and every other field to zero or NULL
/// (`STS_INIT(sts_client_options)` does both), then change what you need.
/// Zero or NULL fields take their default, after the environment:
/// `STS_DNS_SERVER`, `STS_CA_FILE`, `STS_HTTPS_PORT`, `STS_CACHE`,
/// `STS_HTTPS_CONNECT`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct sts_client_options {
    /// `sizeof(sts_client_options)` as the caller's header declares it.
    pub struct_size: u32,
    /// HTTPS port of policy hosts; 0 means 443.
    pub https_port: u16,
    /// DNS server, `"ip"` or `"ip:port"`; default the first nameserver of
    /// /etc/resolv.conf.
    pub dns_server: *const c_char,
    /// PEM file of trusted roots for policy hosts; default the Mozilla roots.
    pub ca_file: *const c_char,
    /// Directory of the on-disk policy cache shared by processes; default
    /// memory only (lost when the process exits).
    pub cache_path: *const c_char,
    /// Connect to this IP address instead of resolving `mta-sts.<domain>`
    /// (tests, loopback setups); the certificate is still checked.
    pub https_connect: *const c_char,
    /// Time to wait for each DNS answer, milliseconds; 0 means 2000.
    pub dns_timeout_ms: u32,
    /// Time limit of a whole policy fetch, milliseconds; 0 means 30000.
    pub https_timeout_ms: u32,
    /// Seconds a TXT answer is trusted before DNS is asked again (RFC 8461
    /// §3.3 lets senders choose); 0 means the default of 300;
    /// `STS_SECONDS_NONE` means ask for every decision.
    pub txt_recheck_s: u32,
    /// Seconds without a new fetch after a failed one; 0 means the default
    /// of 300; `STS_SECONDS_NONE` means no back-off.
    pub failure_backoff_s: u32,
    /// Optional TXT lookup of the host MTA; NULL uses the built-in resolver.
    pub txt_lookup: sts_txt_lookup_fn,
    /// Passed to `txt_lookup` unchanged.
    pub txt_lookup_userdata: *mut c_void,
    /// Redis shared by a fleet of MTAs, `redis://` or `rediss://` URL:
    /// policy cache, fetch lock and (through `sts_client_report_record`)
    /// TLSRPT counters. NULL means `STS_REDIS_URL`, or none. A malformed
    /// URL, or a library built without the `redis` feature, gives
    /// `STS_ERR_CLIENT_CONFIG`.
    pub redis_url: *const c_char,
}

extensible!(sts_client_options {
    https_port,
    dns_server,
    ca_file,
    cache_path,
    https_connect,
    dns_timeout_ms,
    https_timeout_ms,
    txt_recheck_s,
    failure_backoff_s,
    txt_lookup,
    txt_lookup_userdata,
    redis_url,
});

/// An MTA-STS client: made by `sts_client_new`, freed by `sts_client_free`.
/// One per process is enough; it may be used from several threads. It
/// starts no threads, so it survives `fork()` (make it after forking, or
/// keep using it in the child).
pub struct sts_client {
    inner: Client,
    /// The fleet's TLSRPT counters in the client's Redis, made once so
    /// that every recorded outcome reuses one connection.
    #[cfg(feature = "redis")]
    fleet: Option<Arc<sts_report::fleet::FleetCounters>>,
}

impl sts_client {
    /// The Rust client inside the handle.
    pub(crate) fn client(&self) -> &Client {
        &self.inner
    }

    /// The fleet counters `sts_client_report_record` counts into, when the
    /// client has a Redis.
    #[cfg(feature = "redis")]
    pub(crate) fn fleet(&self) -> Option<&Arc<sts_report::fleet::FleetCounters>> {
        self.fleet.as_ref()
    }
}

/// For the `_s` fields of `sts_client_options`: zero seconds (0 itself
/// means "the default").
pub const STS_SECONDS_NONE: u32 = u32::MAX;

/// A seconds option: 0 keeps the default, `STS_SECONDS_NONE` means zero.
fn seconds(value: u32, default: u64) -> u64 {
    match value {
        0 => default,
        STS_SECONDS_NONE => 0,
        s => u64::from(s),
    }
}

/// What the caller knows about DANE for the MX host (RFC 8461 §2).
pub type sts_dane_status = u32;
/// No usable DNSSEC-signed TLSA records (or not looked up).
pub const STS_DANE_NOT_USABLE: sts_dane_status = 0;
/// The MX host has a usable DNSSEC-signed TLSA RRset: DANE applies, not MTA-STS.
pub const STS_DANE_USABLE: sts_dane_status = 1;

/// Whether the message carries `TLS-Required: No` (RFC 8689).
pub type sts_tls_required = u32;
/// No `TLS-Required` header: policies apply.
pub const STS_TLS_REQUIRED_DEFAULT: sts_tls_required = 0;
/// `TLS-Required: No`: look up and report, but never refuse.
pub const STS_TLS_REQUIRED_NO: sts_tls_required = 1;

/// The policy mode in force for a delivery.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum sts_decision_mode {
    /// The domain has no usable policy: deliver as without MTA-STS.
    STS_DECISION_NO_POLICY = 0,
    /// Policy mode `none`.
    STS_DECISION_NONE = 1,
    /// Policy mode `testing`: deliver, report failures.
    STS_DECISION_TESTING = 2,
    /// Policy mode `enforce`.
    STS_DECISION_ENFORCE = 3,
    /// DANE governs the MX host; MTA-STS is not applied.
    STS_DECISION_DANE = 4,
}

/// Where the policy of a decision came from.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum sts_source {
    /// No policy.
    STS_SOURCE_NONE = 0,
    /// Fetched during the call.
    STS_SOURCE_NETWORK = 1,
    /// From the cache.
    STS_SOURCE_CACHE = 2,
}

/// The answer of `sts_client_decide`. Set `struct_size` to
/// `sizeof(sts_decision)` before the call (`STS_INIT(sts_decision)`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct sts_decision {
    /// `sizeof(sts_decision)` as the caller's header declares it; kept.
    pub struct_size: u32,
    /// The mode in force.
    pub mode: sts_decision_mode,
    /// Where the policy came from.
    pub source: sts_source,
    /// `max_age` of the policy in force, or 0.
    pub max_age: u32,
    /// The TLSRPT result type to record for this delivery (static string,
    /// for example `"validation-failure"`), or NULL for none.
    pub tlsrpt_failure: *const c_char,
    /// `STS_OK`, or why the lookup had trouble (with a cached policy still
    /// in force, a failed refresh is reported here too).
    pub lookup_error: sts_result,
    /// Whether the MX host is permitted by the policy (true without one).
    pub mx_permitted: bool,
    /// Do not deliver to this MX host now: `enforce` and not permitted
    /// (after re-checking the TXT record, RFC 8461 §5.1). Defer, do not bounce.
    pub refuse: bool,
    /// Require TLS with a certificate valid for the MX host (`enforce`).
    pub tls_required: bool,
    /// Whether `lookup_error` is temporary (DNS or network trouble).
    pub lookup_error_temporary: bool,
}

extensible!(sts_decision {
    mode,
    source,
    max_age,
    tlsrpt_failure,
    lookup_error,
    mx_permitted,
    refuse,
    tls_required,
    lookup_error_temporary,
});

struct CallbackResolver {
    f: unsafe extern "C" fn(*mut c_void, *const c_char, *mut sts_txt_answer) -> u32,
    userdata: *mut c_void,
}

// SAFETY: the C caller promises (see sts_client_options.txt_lookup) that the
// callback and its userdata may be used from any thread using the client.
unsafe impl Send for CallbackResolver {}
// SAFETY: as above.
unsafe impl Sync for CallbackResolver {}

impl TxtResolver for CallbackResolver {
    fn lookup_txt(&self, name: &str) -> Result<Vec<Vec<u8>>, DnsError> {
        let cname = CString::new(name).map_err(|_| DnsError::BadName(name.to_owned()))?;
        let mut answer = sts_txt_answer {
            records: Vec::new(),
        };
        // SAFETY: the callback contract of sts_client_options.txt_lookup.
        let status = unsafe { (self.f)(self.userdata, cname.as_ptr(), &mut answer) };
        match status {
            STS_TXT_LOOKUP_FOUND if answer.records.is_empty() => Err(DnsError::NoData),
            STS_TXT_LOOKUP_FOUND => Ok(answer.records),
            STS_TXT_LOOKUP_NXDOMAIN => Err(DnsError::NxDomain),
            _ => Err(DnsError::ServFail),
        }
    }
}

/// Adds one TXT record (its character-strings joined) to the answer of a
/// lookup callback. At most 64 records of 64 KiB each are kept.
///
/// # Safety
/// `answer` must be the pointer the callback received; `record` valid for
/// `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn sts_txt_answer_add(
    answer: *mut sts_txt_answer,
    record: *const u8,
    len: usize,
) -> sts_result {
    guard(|| {
        // SAFETY: this function's contract covers both pointers.
        let (a, bytes) = unsafe {
            (
                answer.as_mut().ok_or(sts_result::STS_ERR_NULL)?,
                crate::boundary::bytes(record, len)?,
            )
        };
        if a.records.len() >= 64 || bytes.len() > 64 << 10 {
            return Err(sts_result::STS_ERR_INVALID_ARGUMENT);
        }
        a.records.push(bytes.to_vec());
        Ok(())
    })
}

/// Makes a client. `options` may be NULL (all defaults). On success
/// `*client` receives a handle to free with `sts_client_free`.
/// `STS_ERR_CLIENT_CONFIG` for a malformed setting (also from the
/// environment), `STS_ERR_CLIENT_CACHE` if the cache directory cannot be
/// created or opened, `STS_ERR_STRUCT_SIZE` if `options->struct_size` is
/// not set (or sets fields this library does not know).
///
/// Allocates the client (and, as it works, its in-memory cache and
/// buffers), all released by `sts_client_free`.
///
/// # Safety
/// `options` must be NULL or valid; its strings NUL-terminated; `client`
/// writable.
#[no_mangle]
pub unsafe extern "C" fn sts_client_new(
    options: *const sts_client_options,
    client: *mut *mut sts_client,
) -> sts_result {
    guard(|| {
        let dst = out_ptr(client)?;
        let mut opts = ClientOptions::default();
        let mut resolver: Option<Arc<dyn TxtResolver>> = None;
        let options = if options.is_null() {
            None
        } else {
            // SAFETY: non-null; its `struct_size` bytes are readable by contract.
            Some(unsafe { extensible::read(options) }?)
        };
        if let Some(o) = options {
            let config = |_| sts_result::STS_ERR_CLIENT_CONFIG;
            // SAFETY: this function's contract: the strings of `options`.
            let (dns, ca, cache, connect, redis) = unsafe {
                (
                    opt_utf8(o.dns_server)?,
                    opt_utf8(o.ca_file)?,
                    opt_utf8(o.cache_path)?,
                    opt_utf8(o.https_connect)?,
                    opt_utf8(o.redis_url)?,
                )
            };
            if let Some(r) = redis {
                // The parse error is dropped, not logged: the URL may
                // carry the password.
                opts.redis_url =
                    Some(RedisUrl::parse(r).map_err(|_| sts_result::STS_ERR_CLIENT_CONFIG)?);
            }
            if let Some(d) = dns {
                opts.dns_server = Some(
                    ::sts_client::dns::parse_server(d).ok_or(sts_result::STS_ERR_CLIENT_CONFIG)?,
                );
            }
            opts.ca_file = ca.map(PathBuf::from);
            opts.cache_path = cache.map(PathBuf::from);
            if let Some(c) = connect {
                opts.https_connect_override = Some(c.parse::<IpAddr>().map_err(config)?);
            }
            if o.https_port != 0 {
                opts.https_port = Some(o.https_port);
            }
            if o.dns_timeout_ms != 0 {
                opts.dns_timeout = Duration::from_millis(u64::from(o.dns_timeout_ms));
            }
            if o.https_timeout_ms != 0 {
                opts.https_total_timeout = Duration::from_millis(u64::from(o.https_timeout_ms));
                opts.https_connect_timeout =
                    opts.https_connect_timeout.min(opts.https_total_timeout);
            }
            opts.rules.txt_recheck = seconds(o.txt_recheck_s, opts.rules.txt_recheck);
            opts.rules.failure_backoff = seconds(o.failure_backoff_s, opts.rules.failure_backoff);
            if let Some(f) = o.txt_lookup {
                resolver = Some(Arc::new(CallbackResolver {
                    f,
                    userdata: o.txt_lookup_userdata,
                }));
            }
        }
        let made = match resolver {
            Some(r) => Client::with_resolver(opts, r),
            None => Client::new(opts),
        };
        let inner = made.map_err(|e| match e {
            ::sts_client::ClientError::Cache(_) => sts_result::STS_ERR_CLIENT_CACHE,
            _ => sts_result::STS_ERR_CLIENT_CONFIG,
        })?;
        #[cfg(feature = "redis")]
        let fleet = match &inner.options().redis_url {
            Some(url) => Some(Arc::new(
                sts_report::fleet::FleetCounters::new(
                    url,
                    inner.options().redis_timeout,
                    inner.options().redis_retry_after,
                )
                .map_err(|_| sts_result::STS_ERR_CLIENT_CONFIG)?,
            )),
            None => None,
        };
        let handle = Box::into_raw(Box::new(sts_client {
            inner,
            #[cfg(feature = "redis")]
            fleet,
        }));
        // SAFETY: checked non-null; writable by contract.
        unsafe { write(dst, handle) };
        Ok(())
    })
}

/// Frees a client. `sts_client_free(NULL)` does nothing.
///
/// # Safety
/// `client` must be NULL or a handle from `sts_client_new`, not used after.
#[no_mangle]
pub unsafe extern "C" fn sts_client_free(client: *mut sts_client) {
    if !client.is_null() {
        // SAFETY: the pointer came from Box::into_raw in sts_client_new.
        let owned = unsafe { Box::from_raw(client) };
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(owned)));
    }
}

pub(crate) fn lookup_code(e: &LookupError) -> sts_result {
    match e {
        LookupError::BadDomain(_) => sts_result::STS_ERR_CLIENT_BAD_DOMAIN,
        LookupError::Dns(d) if d.is_temporary() => sts_result::STS_ERR_CLIENT_DNS_TEMPORARY,
        LookupError::Dns(_) => sts_result::STS_ERR_TXT_NO_RECORD,
        LookupError::Txt(t) => (*t).into(),
        LookupError::Fetch(_) => sts_result::STS_ERR_CLIENT_FETCH,
        LookupError::Invalid(p) => (*p).into(),
        LookupError::BackedOff => sts_result::STS_ERR_CLIENT_BACKED_OFF,
    }
}

/// Looks the policy of `domain` up (cache first, RFC 8461 §3.3/§5.1
/// rules) and decides about one delivery to `mx_host`. Always fills
/// `*decision` on `STS_OK`; lookup trouble is in `decision->lookup_error`,
/// not in the return value, because "no policy" is a normal answer.
/// `dane` is an `STS_DANE_*` value, `tls_required` an `STS_TLS_REQUIRED_*`
/// value; other values give `STS_ERR_INVALID_ARGUMENT`.
/// `decision->struct_size` must be set (`STS_ERR_STRUCT_SIZE`).
///
/// Allocates nothing that outlives the call: `tlsrpt_failure` is a static
/// string. During the call the client allocates (DNS and HTTPS buffers, a
/// fetched policy, the cache entry it keeps).
///
/// # Safety
/// `client` must come from `sts_client_new`; the strings NUL-terminated;
/// `decision` writable for its `struct_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn sts_client_decide(
    client: *const sts_client,
    domain: *const c_char,
    mx_host: *const c_char,
    dane: sts_dane_status,
    tls_required: sts_tls_required,
    decision: *mut sts_decision,
) -> sts_result {
    guard(|| {
        // SAFETY: this function's contract covers every pointer read here.
        let (c, domain, mx_host, size) = unsafe {
            (
                arg(client)?,
                utf8(domain)?,
                utf8(mx_host)?,
                extensible::out_size(decision)?,
            )
        };
        let dane = match dane {
            STS_DANE_NOT_USABLE => DaneStatus::NotUsable,
            STS_DANE_USABLE => DaneStatus::Usable,
            _ => return Err(sts_result::STS_ERR_INVALID_ARGUMENT),
        };
        let tls_required_no = match tls_required {
            STS_TLS_REQUIRED_DEFAULT => false,
            STS_TLS_REQUIRED_NO => true,
            _ => return Err(sts_result::STS_ERR_INVALID_ARGUMENT),
        };
        let d = c.inner.decide_with(&DecisionRequest {
            domain,
            mx_host,
            dane,
            tls_required_no,
        });
        let failure = d
            .failure
            .and_then(|f| sts_core::tlsrpt::ResultType::from_name(f.as_str().as_bytes()).ok());
        let value = sts_decision {
            struct_size: size,
            mode: match d.mode {
                DecisionMode::Enforce => sts_decision_mode::STS_DECISION_ENFORCE,
                DecisionMode::Testing => sts_decision_mode::STS_DECISION_TESTING,
                DecisionMode::None => sts_decision_mode::STS_DECISION_NONE,
                DecisionMode::Dane => sts_decision_mode::STS_DECISION_DANE,
                _ => sts_decision_mode::STS_DECISION_NO_POLICY,
            },
            mx_permitted: d.mx_permitted,
            refuse: d.refuse(),
            tls_required: d.tls_required(),
            source: match d.source {
                Source::Network => sts_source::STS_SOURCE_NETWORK,
                Source::Cache => sts_source::STS_SOURCE_CACHE,
                _ => sts_source::STS_SOURCE_NONE,
            },
            max_age: d.policy.as_ref().map_or(0, |p| p.max_age),
            tlsrpt_failure: failure
                .map_or(core::ptr::null(), |t| t.as_nul_terminated().as_ptr().cast()),
            lookup_error: d.error.as_ref().map_or(sts_result::STS_OK, lookup_code),
            lookup_error_temporary: d.error.as_ref().is_some_and(LookupError::is_temporary),
        };
        // SAFETY: checked by `out_size`; writable by contract.
        unsafe { extensible::write(decision, size, &value) };
        Ok(())
    })
}

/// Writes the mx patterns of the policy in force for `domain` (modes
/// enforce and testing) into `buf` as a NUL-terminated list separated by
/// `\n`, and their number into `*count`. `STS_ERR_CLIENT_NO_POLICY` when
/// there is none. If `cap` is too small, returns
/// `STS_ERR_BUFFER_TOO_SMALL` and sets `*count` to the size needed,
/// NUL included (the one output written on failure).
///
/// # Safety
/// `client` from `sts_client_new`; `domain` NUL-terminated; `buf` writable
/// for `cap` bytes; `count` writable.
#[no_mangle]
pub unsafe extern "C" fn sts_client_permitted_mx(
    client: *const sts_client,
    domain: *const c_char,
    buf: *mut c_char,
    cap: usize,
    count: *mut usize,
) -> sts_result {
    guard(|| {
        // SAFETY: this function's contract.
        let (c, domain) = unsafe { (arg(client)?, utf8(domain)?) };
        let (buf, count) = (out_ptr(buf)?, out_ptr(count)?);
        let mx = c
            .inner
            .permitted_mx(domain)
            .ok_or(sts_result::STS_ERR_CLIENT_NO_POLICY)?;
        let text = mx.join("\n");
        if text.len() + 1 > cap {
            // SAFETY: checked non-null; writable by contract.
            unsafe { write(count, text.len() + 1) };
            return Err(sts_result::STS_ERR_BUFFER_TOO_SMALL);
        }
        // SAFETY: `buf` holds `cap` > text.len() bytes by contract.
        unsafe {
            core::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), text.len());
            buf.add(text.len()).write(0);
            write(count, mx.len());
        }
        Ok(())
    })
}

/// Proactive refresh (RFC 8461 §5.1 suggests it): refetches cached
/// policies near expiry and drops expired ones; for cron or a daemon.
/// Writes how many entries were checked and refreshed.
///
/// # Safety
/// `client` from `sts_client_new`; the outputs writable or NULL.
#[no_mangle]
pub unsafe extern "C" fn sts_client_refresh(
    client: *const sts_client,
    checked: *mut usize,
    refreshed: *mut usize,
) -> sts_result {
    guard(|| {
        // SAFETY: this function's contract.
        let c = unsafe { arg(client) }?;
        let report = c.inner.refresh_all();
        // SAFETY: each output is NULL or writable by contract.
        unsafe {
            if !checked.is_null() {
                write(checked, report.checked);
            }
            if !refreshed.is_null() {
                write(refreshed, report.refreshed);
            }
        }
        Ok(())
    })
}
