//! The Redis URL setting, which may carry a password.

use std::fmt;

/// A `redis://` or `rediss://` URL. Display and Debug replace the
/// password (and any user name) with `***`, so that it never reaches a
/// log line or an error message; [`RedisUrl::secret`] gives the real one
/// to the connection code only.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl(String);

/// Why a Redis URL was refused.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedisUrlError {
    /// Neither `redis://` nor `rediss://`.
    Scheme,
    /// No host after the scheme.
    NoHost,
    /// Longer than any sane URL.
    TooLong,
}

impl RedisUrlError {
    /// A short description.
    pub fn as_str(self) -> &'static str {
        match self {
            RedisUrlError::Scheme => "the URL must start with redis:// or rediss://",
            RedisUrlError::NoHost => "the URL has no host",
            RedisUrlError::TooLong => "the URL is longer than 2048 bytes",
        }
    }
}

impl fmt::Display for RedisUrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for RedisUrlError {}

impl RedisUrl {
    /// Checks the scheme and that a host follows; the rest is left to
    /// the Redis client when it connects.
    pub fn parse(s: &str) -> Result<RedisUrl, RedisUrlError> {
        if s.len() > 2048 {
            return Err(RedisUrlError::TooLong);
        }
        let rest = s
            .strip_prefix("redis://")
            .or_else(|| s.strip_prefix("rediss://"))
            .ok_or(RedisUrlError::Scheme)?;
        let authority = rest.split(['/', '?']).next().unwrap_or("");
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        if host.is_empty() || host.starts_with(':') {
            return Err(RedisUrlError::NoHost);
        }
        Ok(RedisUrl(s.to_owned()))
    }

    /// The URL with its password, for the connection only.
    pub fn secret(&self) -> &str {
        &self.0
    }

    /// Whether the connection uses TLS (`rediss://`).
    pub fn is_tls(&self) -> bool {
        self.0.starts_with("rediss://")
    }
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (scheme, rest) = self.0.split_once("://").unwrap_or(("", &self.0));
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        match authority.rsplit_once('@') {
            Some((_, host)) => write!(f, "{scheme}://***@{host}{tail}"),
            None => write!(f, "{scheme}://{authority}{tail}"),
        }
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedisUrl({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_never_shown() {
        let u = RedisUrl::parse("rediss://fleet:s3cret@redis.example:6380/2").unwrap();
        assert_eq!(u.to_string(), "rediss://***@redis.example:6380/2");
        assert!(!format!("{u:?}").contains("s3cret"));
        assert_eq!(u.secret(), "rediss://fleet:s3cret@redis.example:6380/2");
        assert!(u.is_tls());
        let plain = RedisUrl::parse("redis://127.0.0.1:6379").unwrap();
        assert_eq!(plain.to_string(), "redis://127.0.0.1:6379");
    }

    #[test]
    fn bad_urls_refused() {
        assert_eq!(
            RedisUrl::parse("http://x").unwrap_err(),
            RedisUrlError::Scheme
        );
        assert_eq!(
            RedisUrl::parse("redis://:pw@").unwrap_err(),
            RedisUrlError::NoHost
        );
        assert_eq!(
            RedisUrl::parse("redis:///0").unwrap_err(),
            RedisUrlError::NoHost
        );
        assert_eq!(
            RedisUrl::parse(&format!("redis://{}", "a".repeat(3000))).unwrap_err(),
            RedisUrlError::TooLong
        );
    }
}
