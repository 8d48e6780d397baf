//! Runs one operation N times, for instruction counting under callgrind,
//! and counts heap allocations per operation with a counting global
//! allocator.
//!
//! ```text
//! opcount <impl> <op> <input> <n>
//!   impl:  libsts | mailrs | floor
//!   op:    parse | match      (floor: parse only = newline scan)
//!   input: a name from ../shared/bench (small, typical_crlf, large, testing)
//! ```
//!
//! Prints `impl op input n allocs_per_op bytes_per_op` (allocations of one
//! operation, measured after a warm-up run). The instruction count of one
//! operation is the difference of callgrind's totals for two values of n
//! divided by their difference (`scripts/compare.sh` does this), which
//! cancels start-up, file reading and the one-off parse done before
//! matching.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator, only counting.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        BYTES.fetch_add(layout.size() as u64, Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        BYTES.fetch_add(new_size as u64, Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn usage() -> ! {
    eprintln!("usage: opcount <libsts|mailrs|floor> <parse|match> <input> <n>");
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [imp, op, input, n] = args.as_slice() else { usage() };
    let n: u64 = n.parse().unwrap_or_else(|_| usage());
    let bytes = sts_compare::bench_input(input).unwrap_or_else(|e| {
        eprintln!("cannot read bench input {input}: {e}");
        std::process::exit(1)
    });
    let host = sts_compare::bench_host(input).unwrap_or_else(|| {
        eprintln!("no host for {input} in hosts.tsv");
        std::process::exit(1)
    });
    let text = std::str::from_utf8(&bytes).expect("bench inputs are UTF-8");

    // One op as a closure; checked once, then counted once, then run n times.
    // A parse result is kept in memory and opaque to the optimiser by
    // reference: moving it into `black_box` by value would add a copy of
    // the whole result per call (104 bytes for libsts) that no caller makes.
    let mut run: Box<dyn FnMut() -> bool> = match (imp.as_str(), op.as_str()) {
        ("libsts", "parse") => {
            Box::new(|| {
                let r = sts_core::policy::parse(black_box(&bytes));
                black_box(&r);
                r.is_ok()
            })
        }
        ("mailrs", "parse") => {
            Box::new(|| {
                let r = mailrs_mta_sts::Policy::parse(black_box(text));
                black_box(&r);
                r.is_ok()
            })
        }
        ("floor", "parse") => {
            Box::new(|| black_box(sts_compare::count_newlines(black_box(&bytes))) > 0)
        }
        ("libsts", "match") => {
            let p = sts_core::policy::parse(&bytes).expect("bench policy parses");
            let host = host.clone();
            Box::new(move || black_box(&p).match_mx(black_box(host.as_bytes())).is_ok())
        }
        ("mailrs", "match") => {
            let p = mailrs_mta_sts::Policy::parse(text).expect("bench policy parses");
            let host = host.clone();
            Box::new(move || {
                mailrs_mta_sts::enforce(black_box(&p), black_box(host.as_str()))
                    == mailrs_mta_sts::Decision::Allow
            })
        }
        _ => usage(),
    };
    if !run() {
        eprintln!("{imp} {op} {input}: the operation fails on the bench input");
        std::process::exit(1);
    }
    let (a0, b0) = (ALLOCS.load(Relaxed), BYTES.load(Relaxed));
    run();
    let (a1, b1) = (ALLOCS.load(Relaxed), BYTES.load(Relaxed));
    for _ in 0..n {
        black_box(run());
    }
    println!("{imp}\t{op}\t{input}\t{n}\t{}\t{}", a1 - a0, b1 - b0);
}
