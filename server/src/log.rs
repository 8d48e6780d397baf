//! One line per event on stderr (journald picks it up under systemd):
//! info for state changes (policy fetched, id changed, fetch failed,
//! listeners up and down), debug for everything else.

use std::fmt;
use std::io::Write as _;

/// How much is logged.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// State changes only.
    Info,
    /// Every request.
    Debug,
}

impl Level {
    /// `info` or `debug`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Debug => "debug",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The log: lines at or below its level go to stderr.
#[derive(Clone, Copy, Debug)]
pub struct Log {
    level: Level,
}

impl Log {
    /// A log that writes lines up to `level`.
    pub fn new(level: Level) -> Log {
        Log { level }
    }

    /// Writes the line `line()` makes, if `level` is logged (the line is
    /// only built then).
    pub fn at(&self, level: Level, line: impl FnOnce() -> String) {
        if level <= self.level {
            let _ = writeln!(std::io::stderr().lock(), "sts serve: {level}: {}", line());
        }
    }
}
