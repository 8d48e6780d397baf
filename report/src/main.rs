//! `sts-report`: record TLS delivery outcomes, print and send the daily
//! TLS reports (RFC 8460). The same commands are `sts report ...`; see
//! [`sts_report::cli`].

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match sts_report::cli::run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sts-report: {e}");
            ExitCode::from(2)
        }
    }
}
