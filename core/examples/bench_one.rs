//! Runs one `sts-core` operation N times, for instruction counting under
//! `valgrind --tool=callgrind` (see `scripts/callgrind.sh`).
//!
//! ```text
//! bench_one OP N
//! ```
//!
//! OP is one of `parse:FILE` (FILE in `../shared/bench/`, without `.txt`),
//! `match:FILE` (the host from `hosts.tsv`), `pattern`, `txt`, `tlsrpt`,
//! `newlines:FILE`, `newlines_chunked:FILE`, `classify:FILE` (the mx
//! scan's classifier over every byte: a floor) and `noop`. Inputs are read
//! before the loop, so running with two values of N and dividing the
//! difference gives the cost of one operation.

use std::hint::black_box;
use std::path::PathBuf;
use std::process::ExitCode;

use sts_core::{mx, name, policy, tlsrpt, txt};

fn bench_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/bench"))
}

fn read(name: &str) -> Result<Vec<u8>, String> {
    let path = bench_dir().join(name);
    std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn host_for(file: &str) -> Result<Vec<u8>, String> {
    let hosts = String::from_utf8(read("hosts.tsv")?).map_err(|e| e.to_string())?;
    hosts
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('\t'))
        .find(|(name, _)| *name == file)
        .map(|(_, host)| host.trim().as_bytes().to_vec())
        .ok_or_else(|| format!("no host for {file} in hosts.tsv"))
}

/// Newline count written so that LLVM vectorises it (byte counters per
/// 128-byte chunk): the floor for a parser that scans with SIMD or SWAR.
fn count_newlines_chunked(text: &[u8]) -> usize {
    text.chunks(128)
        .map(|chunk| {
            let mut k = 0u8;
            for &c in chunk {
                k += u8::from(c == b'\n');
            }
            usize::from(k)
        })
        .sum()
}

fn run(op: &str, n: u64) -> Result<u64, String> {
    let mut ok = 0u64;
    match op.split_once(':') {
        Some(("parse", file)) => {
            let text = read(&format!("{file}.txt"))?;
            policy::parse(&text).map_err(|e| format!("{file}: {e}"))?;
            for _ in 0..n {
                ok += u64::from(policy::parse(black_box(&text)).is_ok());
            }
        }
        Some(("match", file)) => {
            let text = read(&format!("{file}.txt"))?;
            let host = host_for(file)?;
            let p = policy::parse(&text).map_err(|e| format!("{file}: {e}"))?;
            p.match_mx(&host).map_err(|e| format!("{file}: {e}"))?;
            for _ in 0..n {
                ok += u64::from(black_box(&p).match_mx(black_box(&host)).is_ok());
            }
        }
        Some(("classify", file)) => {
            let text = read(&format!("{file}.txt"))?;
            for _ in 0..n {
                ok += u64::from(name::classify_floor(black_box(&text)));
            }
        }
        Some(("newlines", file)) => {
            let text = read(&format!("{file}.txt"))?;
            for _ in 0..n {
                ok += black_box(&text).iter().filter(|&&c| c == b'\n').count() as u64;
            }
        }
        Some(("newlines_chunked", file)) => {
            let text = read(&format!("{file}.txt"))?;
            for _ in 0..n {
                ok += count_newlines_chunked(black_box(&text)) as u64;
            }
        }
        _ => match op {
            "pattern" => {
                for _ in 0..n {
                    let r = mx::pattern_match(
                        black_box(b"*.mail.example.net"),
                        black_box(b"eu.mail.example.net"),
                    );
                    ok += u64::from(r.is_ok());
                }
            }
            "txt" => {
                for _ in 0..n {
                    ok += u64::from(txt::parse(black_box(b"v=STSv1; id=20160831085700Z;")).is_ok());
                }
            }
            "tlsrpt" => {
                let record: &[u8] =
                    b"v=TLSRPTv1; rua=mailto:tlsrpt@example.com,https://tlsrpt.example.com/v1";
                for _ in 0..n {
                    ok += u64::from(tlsrpt::parse(black_box(record)).is_ok());
                }
            }
            "noop" => {
                for _ in 0..n {
                    ok += u64::from(black_box(true));
                }
            }
            _ => return Err(format!("unknown operation {op:?}")),
        },
    }
    Ok(ok)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(op), Some(n)) = (args.get(1), args.get(2).and_then(|n| n.parse::<u64>().ok())) else {
        eprintln!("usage: bench_one OP N");
        return ExitCode::from(2);
    };
    match run(op, n) {
        Ok(ok) => {
            println!("{op} x{n}: {ok}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench_one: {e}");
            ExitCode::FAILURE
        }
    }
}
