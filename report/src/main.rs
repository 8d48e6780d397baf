//! `sts-report`: record TLS delivery outcomes, print and send the daily
//! TLS reports (RFC 8460). The same commands are `sts report ...`; see
//! [`sts_report::cli`].

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    match sts_report::cli::StandaloneCli::parse().run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sts-report: {e}");
            ExitCode::from(2)
        }
    }
}
