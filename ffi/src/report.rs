//! TLSRPT (RFC 8460) outcome recording through the C ABI: one call per
//! delivery attempt, safe from many processes at once.

use crate::boundary::{arg, cstr, guard, opt_utf8};
use crate::client::sts_client;
use crate::extensible::{self, extensible};
use crate::result::sts_result;
use core::ffi::c_char;
use sts_core::tlsrpt::{PolicyType, ResultType};
use sts_report::{Failure, Outcome, SessionResult};

/// Which policy applied to a delivery (RFC 8460 §4.3 `policy-type`).
pub type sts_policy_type = u32;
/// An MTA-STS policy.
pub const STS_POLICY_TYPE_STS: sts_policy_type = 0;
/// A DANE TLSA RRset.
pub const STS_POLICY_TYPE_TLSA: sts_policy_type = 1;
/// Neither.
pub const STS_POLICY_TYPE_NO_POLICY_FOUND: sts_policy_type = 2;

/// What kind of message the delivery carried.
pub type sts_delivery_kind = u32;
/// An ordinary message: its outcome is recorded.
pub const STS_DELIVERY_NORMAL: sts_delivery_kind = 0;
/// A TLS report itself: never recorded (RFC 8460 §5.3, no report loops).
pub const STS_DELIVERY_REPORT: sts_delivery_kind = 1;

/// How durably an outcome is written.
pub type sts_report_sync = u32;
/// fsync after each outcome: nothing recorded is lost in a crash (default).
pub const STS_REPORT_SYNC: sts_report_sync = 0;
/// Leave flushing to the kernel: much faster (no disk wait per delivery);
/// outcomes of the last seconds may be lost if the machine crashes.
pub const STS_REPORT_NO_SYNC: sts_report_sync = 1;

/// One delivery outcome for `sts_report_record`. Set `struct_size` to
/// `sizeof(sts_report_outcome)` and the rest to zero or NULL
/// (`STS_INIT(sts_report_outcome)`), then fill it in. Optional strings may
/// be NULL; all strings are NUL-terminated UTF-8.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct sts_report_outcome {
    /// `sizeof(sts_report_outcome)` as the caller's header declares it.
    pub struct_size: u32,
    /// An `STS_POLICY_TYPE_*` value.
    pub policy_type: sts_policy_type,
    /// The recipient domain the policy belongs to (required).
    pub policy_domain: *const c_char,
    /// The policy text (MTA-STS policy file or TLSA records, one per line);
    /// optional.
    pub policy_text: *const c_char,
    /// The MX patterns of the policy, separated by `\n`; optional.
    pub mx_patterns: *const c_char,
    /// The MX host the session went to.
    pub receiving_mx_hostname: *const c_char,
    /// NULL for a successful session; else an RFC 8460 §4.3 result type
    /// such as `"certificate-expired"` (see `sts_result_tlsrpt_type`).
    pub result_type: *const c_char,
    /// `sending-mta-ip`; optional.
    pub sending_mta_ip: *const c_char,
    /// `receiving-ip`; optional.
    pub receiving_ip: *const c_char,
    /// `receiving-mx-helo`; optional.
    pub receiving_mx_helo: *const c_char,
    /// `additional-information` (a URI); optional.
    pub additional_information: *const c_char,
    /// `failure-reason-code`; optional.
    pub failure_reason_code: *const c_char,
    /// An `STS_DELIVERY_*` value.
    pub delivery_kind: sts_delivery_kind,
    /// An `STS_REPORT_*SYNC` value.
    pub sync: sts_report_sync,
    /// Sessions this outcome stands for; 0 means 1.
    pub count: u64,
    /// When it happened, seconds since 1970; 0 means now.
    pub at_unix: u64,
}

extensible!(sts_report_outcome {
    policy_type,
    policy_domain,
    policy_text,
    mx_patterns,
    receiving_mx_hostname,
    result_type,
    sending_mta_ip,
    receiving_ip,
    receiving_mx_helo,
    additional_information,
    failure_reason_code,
    delivery_kind,
    sync,
    count,
    at_unix,
});

/// An optional string field as an owned string, empty for NULL.
///
/// # Safety
/// `p` must be NULL or NUL-terminated.
unsafe fn text(p: *const c_char) -> Result<String, sts_result> {
    // SAFETY: forwarded to the caller.
    Ok(unsafe { opt_utf8(p) }?.unwrap_or_default().to_owned())
}

fn lines(s: &str) -> Vec<String> {
    s.lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Builds the Rust outcome from the C struct.
///
/// # Safety
/// `o` must be valid and its strings NUL-terminated or NULL.
unsafe fn outcome(o: &sts_report_outcome) -> Result<Outcome, sts_result> {
    let policy_type = match o.policy_type {
        STS_POLICY_TYPE_STS => PolicyType::Sts,
        STS_POLICY_TYPE_TLSA => PolicyType::Tlsa,
        STS_POLICY_TYPE_NO_POLICY_FOUND => PolicyType::NoPolicyFound,
        _ => return Err(sts_result::STS_ERR_INVALID_ARGUMENT),
    };
    let report_delivery = match o.delivery_kind {
        STS_DELIVERY_NORMAL => false,
        STS_DELIVERY_REPORT => true,
        _ => return Err(sts_result::STS_ERR_INVALID_ARGUMENT),
    };
    if o.policy_domain.is_null() {
        return Err(sts_result::STS_ERR_NULL);
    }
    // SAFETY: the caller's contract, for every string below.
    let domain = unsafe { text(o.policy_domain) }?;
    let at = if o.at_unix == 0 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    } else {
        o.at_unix
    };
    let mut out = Outcome::new(policy_type, &domain, at);
    // SAFETY: as above.
    unsafe {
        out.policy_strings = lines(&text(o.policy_text)?);
        out.mx_hosts = lines(&text(o.mx_patterns)?);
        out.receiving_mx_hostname = text(o.receiving_mx_hostname)?;
        if !o.result_type.is_null() {
            let name = cstr(o.result_type)?;
            let rt = ResultType::from_name(name)
                .map_err(|_| sts_result::STS_ERR_REPORT_BAD_RESULT_TYPE)?;
            out.result = SessionResult::Failure(Failure {
                result_type: rt,
                sending_mta_ip: text(o.sending_mta_ip)?,
                receiving_ip: text(o.receiving_ip)?,
                receiving_mx_helo: text(o.receiving_mx_helo)?,
                additional_information: text(o.additional_information)?,
                failure_reason_code: text(o.failure_reason_code)?,
            });
        }
    }
    out.count = o.count.max(1);
    out.report_delivery = report_delivery;
    Ok(out)
}

/// The fleet counters of `client`, if it has a Redis: they take the
/// outcome instead of what `STS_REDIS_URL` names.
#[cfg(feature = "redis")]
fn client_fleet(r: sts_report::Recorder, client: Option<&sts_client>) -> sts_report::Recorder {
    match client.and_then(sts_client::fleet) {
        Some(f) => r.with_fleet(f.clone()),
        None => r,
    }
}

#[cfg(not(feature = "redis"))]
fn client_fleet(r: sts_report::Recorder, _client: Option<&sts_client>) -> sts_report::Recorder {
    r
}

fn store(
    dir: &[u8],
    o: &Outcome,
    sync: sts_report_sync,
    client: Option<&sts_client>,
) -> Result<(), sts_result> {
    let dir = std::str::from_utf8(dir).map_err(|_| sts_result::STS_ERR_NOT_UTF8)?;
    let fsync = match sync {
        STS_REPORT_SYNC => true,
        STS_REPORT_NO_SYNC => false,
        _ => return Err(sts_result::STS_ERR_INVALID_ARGUMENT),
    };
    let recorded = sts_report::Recorder::open(dir)
        .and_then(|r| client_fleet(r.with_fsync(fsync), client).record(o));
    match recorded {
        Ok(_) => Ok(()),
        Err(sts_report::ReportError::BadOutcome(_)) => Err(sts_result::STS_ERR_REPORT_BAD_OUTCOME),
        Err(_) => Err(sts_result::STS_ERR_REPORT_STORAGE),
    }
}

/// Records one delivery outcome in the report store at directory `dir`
/// (created if missing), durably and safely from many processes at once.
/// Daily reports are built and sent from the store later (`sts report
/// send`). Outcomes of `STS_DELIVERY_REPORT` deliveries are accepted and
/// dropped. `STS_ERR_REPORT_BAD_RESULT_TYPE` for an unknown result type,
/// `STS_ERR_REPORT_BAD_OUTCOME` for a bad domain or over-long field,
/// `STS_ERR_REPORT_STORAGE` if the store cannot be written.
///
/// # Safety
/// `dir` NUL-terminated; `outcome` valid with NUL-terminated or NULL strings.
#[no_mangle]
pub unsafe extern "C" fn sts_report_record(
    dir: *const c_char,
    outcome: *const sts_report_outcome,
) -> sts_result {
    guard(|| {
        // SAFETY: this function's contract covers every pointer read here.
        let (dir, o) = unsafe { (cstr(dir)?, extensible::read(outcome)?) };
        // SAFETY: as above, for the strings of the outcome.
        let (sync, o) = (o.sync, unsafe { self::outcome(&o) }?);
        store(dir, &o, sync, None)
    })
}

/// Like `sts_report_record`, but for an MTA-STS outcome whose
/// `policy_text` and `mx_patterns` are NULL, fills them from the policy the
/// client has in force for the domain (normally a cache hit, since the
/// delivery was just decided with the same client).
///
/// # Safety
/// As for `sts_report_record`; `client` from `sts_client_new`.
#[no_mangle]
pub unsafe extern "C" fn sts_client_report_record(
    client: *const sts_client,
    dir: *const c_char,
    outcome: *const sts_report_outcome,
) -> sts_result {
    guard(|| {
        // SAFETY: this function's contract covers every pointer read here.
        let (c, dir, raw) = unsafe { (arg(client)?, cstr(dir)?, extensible::read(outcome)?) };
        // SAFETY: as above, for the strings of the outcome.
        let mut o = unsafe { self::outcome(&raw) }?;
        if o.policy_type == PolicyType::Sts
            && raw.policy_text.is_null()
            && raw.mx_patterns.is_null()
        {
            // The same policy part `sts report record` records: the
            // policy in force, or no-policy-found (RFC 8460 §4.3) for a
            // domain without one. When DNS cannot tell, the caller's
            // policy type stands.
            let look = c.client().lookup(&o.policy_domain);
            if let Ok(p) = sts_report::policy::outcome_for(&look, &o.policy_domain, o.at) {
                o.policy_type = p.policy_type;
                o.policy_strings = p.policy_strings;
                o.mx_hosts = p.mx_hosts;
            }
        }
        store(dir, &o, raw.sync, Some(c))
    })
}
