//! The Rust-API half of the C boundary figures in scripts/callgrind.sh:
//! the operation tests/c/bench_abi.c runs through libsts.so, on sts-core
//! directly, with its whole result kept (`black_box`) as the C caller keeps
//! it. (core/examples/bench_one.rs keeps only `is_ok()`, which lets the
//! compiler drop the work on the parts nobody reads.)
//!
//!   bench_rust OP N BENCH-DIR      OP: parse:FILE, match:FILE
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::process::ExitCode;
use sts_core::policy;

fn host_for(dir: &str, file: &str) -> Option<Vec<u8>> {
    let hosts = std::fs::read_to_string(format!("{dir}/hosts.tsv")).ok()?;
    hosts
        .lines()
        .find_map(|l| l.strip_prefix(file)?.strip_prefix('\t'))
        .map(|h| h.as_bytes().to_vec())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(op), Some(n), Some(dir)) = (
        args.get(1),
        args.get(2).and_then(|n| n.parse::<u64>().ok()),
        args.get(3),
    ) else {
        eprintln!("usage: bench_rust OP N BENCH-DIR");
        return ExitCode::from(2);
    };
    let Some((kind, file)) = op.split_once(':') else {
        return ExitCode::from(2);
    };
    let Ok(text) = std::fs::read(format!("{dir}/{file}.txt")) else {
        eprintln!("{dir}/{file}.txt: cannot read");
        return ExitCode::from(2);
    };
    let mut ok = 0u64;
    match kind {
        "parse" => {
            for _ in 0..n {
                let p = policy::parse(black_box(&text));
                ok += u64::from(p.is_ok());
                black_box(p.ok());
            }
        }
        "match" => {
            let (Ok(p), Some(host)) = (policy::parse(&text), host_for(dir, file)) else {
                return ExitCode::from(2);
            };
            for _ in 0..n {
                ok += u64::from(black_box(&p).match_mx(black_box(&host)).is_ok());
            }
        }
        _ => return ExitCode::from(2),
    }
    println!("{ok}");
    if ok == n {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
