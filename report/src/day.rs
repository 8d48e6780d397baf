//! UTC days: the unit of a TLS report (RFC 8460 §4.1, a report covers one
//! whole UTC day).

use std::fmt;
use std::str::FromStr;

use sts_core::tlsrpt::report::civil_from_days;

/// Seconds in a day.
pub const DAY_SECONDS: u64 = 86_400;

/// A UTC day, counted in days since 1970-01-01.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(pub u32);

/// Why a day could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadDay(pub String);

impl fmt::Display for BadDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "not a day of the form YYYY-MM-DD (1970 to 9999): {:?}",
            self.0
        )
    }
}

impl std::error::Error for BadDay {}

impl Day {
    /// The UTC day containing the Unix time `unix` (seconds); days past
    /// year 9999 are clamped to its last day.
    pub fn from_unix(unix: u64) -> Day {
        let d = (unix / DAY_SECONDS).min(u64::from(MAX_DAY));
        Day(d as u32)
    }

    /// The day of the system clock now.
    pub fn today() -> Day {
        Day::from_unix(now_unix())
    }

    /// Unix time of 00:00:00Z of this day.
    pub fn start(self) -> u64 {
        u64::from(self.0) * DAY_SECONDS
    }

    /// Unix time of 23:59:59Z of this day (the report's `end-datetime`).
    pub fn end(self) -> u64 {
        self.start() + DAY_SECONDS - 1
    }

    /// Builds a day from a calendar date; `None` for an impossible date or
    /// a year outside 1970..=9999.
    pub fn from_ymd(y: u32, m: u32, d: u32) -> Option<Day> {
        if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || d == 0 {
            return None;
        }
        let leap = (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400);
        let month_len = match m {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        };
        if d > month_len {
            return None;
        }
        // Days from 0000-03-01, years starting in March (leap day last).
        let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
        let era = y / 400;
        let yoe = y % 400;
        let doy = (153 * m + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = u64::from(era) * 146_097 + u64::from(doe);
        days.checked_sub(719_468)
            .and_then(|n| u32::try_from(n).ok())
            .map(Day)
    }
}

/// Last representable day (9999-12-31).
const MAX_DAY: u32 = 2_932_896;

/// The system clock as Unix seconds (0 if the clock is before 1970).
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match civil_from_days(self.0) {
            Some((y, m, d)) => write!(f, "{y:04}-{m:02}-{d:02}"),
            None => write!(f, "day-{}", self.0),
        }
    }
}

impl FromStr for Day {
    type Err = BadDay;

    fn from_str(s: &str) -> Result<Day, BadDay> {
        let bad = || BadDay(s.to_owned());
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(bad());
        }
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            let part = s.get(r)?;
            if part.bytes().all(|c| c.is_ascii_digit()) {
                part.parse().ok()
            } else {
                None
            }
        };
        let (y, m, d) = (num(0..4), num(5..7), num(8..10));
        match (y, m, d) {
            (Some(y), Some(m), Some(d)) => Day::from_ymd(y, m, d).ok_or_else(bad),
            _ => Err(bad()),
        }
    }
}

/// An RFC 5322 §3.3 date-time in UTC, e.g. `Thu, 05 Nov 2026 10:00:00 +0000`.
pub fn rfc5322_date(unix: u64) -> String {
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let day = Day::from_unix(unix);
    let (y, m, d) = civil_from_days(day.0).unwrap_or((1970, 1, 1));
    let secs = unix % DAY_SECONDS;
    let weekday = WEEKDAYS[(day.0 % 7) as usize];
    let month = MONTHS[(m.clamp(1, 12) - 1) as usize];
    format!(
        "{weekday}, {d:02} {month} {y:04} {:02}:{:02}:{:02} +0000",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_days() {
        for n in [0u32, 59, 60, 365, 10_957, 11_016, 20_000, MAX_DAY] {
            let d = Day(n);
            let s = d.to_string();
            assert_eq!(s.parse::<Day>(), Ok(d), "{s}");
        }
        assert_eq!("2000-02-29".parse::<Day>(), Ok(Day(11_016)));
        assert!("2001-02-29".parse::<Day>().is_err());
        assert!("1969-12-31".parse::<Day>().is_err());
        assert!("2026-13-01".parse::<Day>().is_err());
        assert!("2026-1-01x".parse::<Day>().is_err());
        assert!("+026-01-01".parse::<Day>().is_err());
    }

    #[test]
    fn rfc5322_dates() {
        assert_eq!(rfc5322_date(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(
            rfc5322_date(1_494_370_470),
            "Tue, 09 May 2017 22:54:30 +0000"
        );
    }
}
