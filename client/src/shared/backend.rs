//! The Redis connection of one process, its circuit breaker, and the
//! policy and lock keys.
//!
//! The connection is made on first use and remembered with the process
//! id: a child forked after that makes its own instead of writing into
//! its parent's socket. Every command runs with the configured timeout;
//! any failure drops the connection and opens the breaker, and while it is
//! open no command is sent at all (so a dead Redis costs one timeout per
//! process per `retry_after`, not one per call).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::cache::CacheEntry;
use crate::shared::RedisUrl;

/// Keys of this layout start with this; bump it when the value format
/// changes, so that old and new MTAs of a fleet do not misread each other.
pub const KEY_PREFIX: &str = "sts:v1:";

/// How long a shared policy outlives its expiry: long enough for the §3.3
/// "keep on failure" rule to find it after a failed refresh, bounded so
/// that nothing lives forever.
pub const GRACE_SECS: u64 = 86_400;

/// Shortest TTL given to an entry (one with nothing valid left in it).
const MIN_TTL_SECS: u64 = 300;

/// Most bytes read back for one shared entry (a policy is at most 64 KiB).
const MAX_ENTRY_BYTES: usize = 128 * 1024;

/// Why the shared level did not answer.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SharedError {
    /// The breaker is open after a recent failure: nothing was sent.
    BreakerOpen,
    /// The URL was refused by the Redis client.
    BadUrl,
    /// No connection within the timeout (refused, unreachable, TLS or
    /// AUTH failure).
    Connect,
    /// A command failed or timed out.
    Command,
    /// A stored value is not in the expected form.
    BadValue,
}

impl SharedError {
    /// A short description (never the URL: it may hold the password).
    pub fn as_str(self) -> &'static str {
        match self {
            SharedError::BreakerOpen => {
                "redis recently failed; not asking until the breaker closes"
            }
            SharedError::BadUrl => "redis URL refused",
            SharedError::Connect => "cannot connect to redis",
            SharedError::Command => "redis command failed",
            SharedError::BadValue => "unexpected value in redis",
        }
    }
}

impl fmt::Display for SharedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for SharedError {}

/// Whether a fleet lock was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockState {
    /// Taken by this caller.
    Held,
    /// Held by someone else.
    Busy,
}

enum Breaker {
    Closed,
    OpenUntil(Instant),
}

struct State {
    /// The connection and the process that made it.
    conn: Option<(u32, redis::Connection)>,
    breaker: Breaker,
}

/// One process's access to the shared Redis.
pub struct SharedBackend {
    url: RedisUrl,
    client: redis::Client,
    timeout: Duration,
    retry_after: Duration,
    state: Mutex<State>,
    round_trips: AtomicU64,
}

impl fmt::Debug for SharedBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedBackend")
            .field("url", &self.url)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Stores an entry unless the stored one holds a newer policy (a slow
/// writer confirming an old id must not undo a refresh), then sets the TTL.
const PUT_SCRIPT: &str = r"
local cur = redis.call('HGET', KEYS[1], 'rank')
if cur and tonumber(cur) > tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'rank', ARGV[2], 'entry', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
";

/// Deletes a lock only if it still holds the caller's token.
const UNLOCK_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

impl SharedBackend {
    /// A backend for `url`; nothing is connected yet.
    pub fn new(
        url: &RedisUrl,
        timeout: Duration,
        retry_after: Duration,
    ) -> Result<SharedBackend, SharedError> {
        use redis::IntoConnectionInfo;
        let info = url
            .secret()
            .into_connection_info()
            .map_err(|_| SharedError::BadUrl)?;
        // Small requests answered at once: without TCP_NODELAY a request
        // written in two pieces waits for the delayed ACK. The library
        // name announcement would cost a round trip on every connect.
        let redis_settings = info.redis_settings().clone().set_skip_set_lib_name();
        let info = info
            .set_tcp_settings(redis::io::tcp::TcpSettings::default().set_nodelay(true))
            .set_redis_settings(redis_settings);
        let client = redis::Client::open(info).map_err(|_| SharedError::BadUrl)?;
        Ok(SharedBackend {
            url: url.clone(),
            client,
            timeout: timeout.clamp(Duration::from_millis(1), Duration::from_secs(60)),
            retry_after,
            state: Mutex::new(State {
                conn: None,
                breaker: Breaker::Closed,
            }),
            round_trips: AtomicU64::new(0),
        })
    }

    /// The URL, printable (password hidden).
    pub fn url(&self) -> &RedisUrl {
        &self.url
    }

    /// Commands (or pipelines) sent so far by this backend.
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    /// Runs `f` on the connection (made now if needed); one call of `f`
    /// should be one round trip. On failure the breaker opens.
    pub fn with_conn<T>(
        &self,
        f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, SharedError> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Breaker::OpenUntil(t) = st.breaker {
            if Instant::now() < t {
                return Err(SharedError::BreakerOpen);
            }
            st.breaker = Breaker::Closed;
        }
        let pid = std::process::id();
        if st.conn.as_ref().is_some_and(|(p, _)| *p != pid) {
            // Inherited across fork: dropping it could send a TLS
            // close_notify on the parent's session, so it is leaked.
            if let Some(c) = st.conn.take() {
                std::mem::forget(c);
            }
        }
        if st.conn.is_none() {
            self.round_trips.fetch_add(1, Ordering::Relaxed);
            match self.connect() {
                Ok(c) => st.conn = Some((pid, c)),
                Err(e) => {
                    st.breaker = Breaker::OpenUntil(Instant::now() + self.retry_after);
                    return Err(e);
                }
            }
        }
        let Some((_, conn)) = st.conn.as_mut() else {
            return Err(SharedError::Connect);
        };
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        match f(conn) {
            Ok(v) => Ok(v),
            Err(e) if e.kind() == redis::ErrorKind::UnexpectedReturnType => {
                Err(SharedError::BadValue)
            }
            Err(_) => {
                st.conn = None;
                st.breaker = Breaker::OpenUntil(Instant::now() + self.retry_after);
                Err(SharedError::Command)
            }
        }
    }

    fn connect(&self) -> Result<redis::Connection, SharedError> {
        let c = self
            .client
            .get_connection_with_timeout(self.timeout)
            .map_err(|_| SharedError::Connect)?;
        c.set_read_timeout(Some(self.timeout))
            .and_then(|()| c.set_write_timeout(Some(self.timeout)))
            .map_err(|_| SharedError::Connect)?;
        Ok(c)
    }

    /// The shared entry of `domain`, if any.
    pub fn get_entry(&self, domain: &str) -> Result<Option<CacheEntry>, SharedError> {
        let key = policy_key(domain);
        let raw: Option<Vec<u8>> = self.with_conn(|c| {
            redis::cmd("HGET")
                .arg(&key)
                .arg("entry")
                .query::<Option<Vec<u8>>>(c)
        })?;
        match raw {
            None => Ok(None),
            Some(b) if b.len() > MAX_ENTRY_BYTES => Err(SharedError::BadValue),
            Some(b) => CacheEntry::decode(&b)
                .map(Some)
                .ok_or(SharedError::BadValue),
        }
    }

    /// Stores the entry of `domain` with its TTL, unless a newer policy
    /// is stored already.
    pub fn put_entry(&self, domain: &str, e: &CacheEntry, now: u64) -> Result<(), SharedError> {
        let key = policy_key(domain);
        let rank = e.policy.as_ref().map_or(0, |p| p.fetched_at);
        let ttl = entry_ttl(e, now);
        let value = e.encode();
        self.with_conn(|c| {
            redis::Script::new(PUT_SCRIPT)
                .key(&key)
                .arg(value)
                .arg(rank)
                .arg(ttl)
                .invoke::<i64>(c)
        })
        .map(|_| ())
    }

    /// Takes the fleet's fetch lock of `domain` for at most `hold`.
    pub fn try_lock(
        &self,
        domain: &str,
        token: &str,
        hold: Duration,
    ) -> Result<LockState, SharedError> {
        let key = lock_key(domain);
        let ms = u64::try_from(hold.as_millis()).unwrap_or(u64::MAX).max(1);
        let set: Option<String> = self.with_conn(|c| {
            redis::cmd("SET")
                .arg(&key)
                .arg(token)
                .arg("NX")
                .arg("PX")
                .arg(ms)
                .query(c)
        })?;
        Ok(if set.is_some() {
            LockState::Held
        } else {
            LockState::Busy
        })
    }

    /// Whether someone holds the fetch lock of `domain`.
    pub fn is_locked(&self, domain: &str) -> Result<bool, SharedError> {
        let key = lock_key(domain);
        self.with_conn(|c| redis::cmd("EXISTS").arg(&key).query::<bool>(c))
    }

    /// Releases the lock if this caller (`token`) still holds it.
    pub fn unlock(&self, domain: &str, token: &str) -> Result<(), SharedError> {
        let key = lock_key(domain);
        self.with_conn(|c| {
            redis::Script::new(UNLOCK_SCRIPT)
                .key(&key)
                .arg(token)
                .invoke::<i64>(c)
        })
        .map(|_| ())
    }
}

/// A token naming this caller in a lock: process, thread and time.
pub fn lock_token() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{}-{:?}-{nanos}",
        std::process::id(),
        std::thread::current().id()
    )
}

/// The key of a domain's shared policy entry.
pub fn policy_key(domain: &str) -> String {
    format!("{KEY_PREFIX}policy:{domain}")
}

/// The key of a domain's fleet fetch lock.
pub fn lock_key(domain: &str) -> String {
    format!("{KEY_PREFIX}lock:{domain}")
}

/// Seconds to keep an entry: until the last of its times that still
/// matters (policy expiry, remembered "no policy"), plus the grace period.
pub fn entry_ttl(e: &CacheEntry, now: u64) -> u64 {
    let until = e
        .policy
        .as_ref()
        .map_or(0, |p| p.expires_at)
        .max(e.no_policy_until);
    until
        .saturating_sub(now)
        .saturating_add(GRACE_SECS)
        .max(MIN_TTL_SECS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::CachedPolicy;
    use std::sync::Arc;

    #[test]
    fn ttl_is_max_age_plus_grace_and_never_zero() {
        let mut e = CacheEntry {
            policy: Some(CachedPolicy {
                txt_id: "a".into(),
                text: Arc::from(&b"x"[..]),
                fetched_at: 1_000,
                expires_at: 1_000 + 604_800,
            }),
            ..CacheEntry::default()
        };
        assert_eq!(entry_ttl(&e, 1_000), 604_800 + GRACE_SECS);
        assert_eq!(entry_ttl(&e, 1_000 + 604_800 + 10), GRACE_SECS);
        e.policy = None;
        assert_eq!(entry_ttl(&e, 5), GRACE_SECS);
        e.no_policy_until = 65;
        assert_eq!(entry_ttl(&e, 5), 60 + GRACE_SECS);
    }

    #[test]
    fn breaker_stops_asking_after_a_failure() {
        // Port 9 on loopback: nothing listens, the connect is refused.
        let url = RedisUrl::parse("redis://127.0.0.1:9").unwrap();
        let b =
            SharedBackend::new(&url, Duration::from_millis(200), Duration::from_secs(60)).unwrap();
        assert_eq!(b.get_entry("a.test").unwrap_err(), SharedError::Connect);
        let sent = b.round_trips();
        assert_eq!(b.get_entry("a.test").unwrap_err(), SharedError::BreakerOpen);
        assert_eq!(
            b.round_trips(),
            sent,
            "no attempt while the breaker is open"
        );
    }
}
