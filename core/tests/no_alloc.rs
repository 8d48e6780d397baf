//! The core never touches the heap: parse and match the whole corpus under
//! a global allocator that counts allocations made by this thread.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = COUNT.with(Cell::get);
    f();
    COUNT.with(Cell::get) - before
}

#[test]
fn counter_sees_allocations() {
    // The test must be able to fail: a Vec is counted.
    let n = allocations_during(|| {
        let v: Vec<u8> = Vec::with_capacity(std::hint::black_box(16));
        std::hint::black_box(v);
    });
    assert!(n >= 1);
}

#[test]
fn core_never_allocates_over_the_corpus() {
    use sts_core::{mx, policy, tlsrpt, txt};
    let rows = support::read_tsv("INDEX.tsv");
    let files: Vec<Vec<u8>> = rows
        .iter()
        .map(|r| std::fs::read(support::corpus_dir().join(r.get("file").as_ref())).unwrap())
        .collect();
    let sts: Vec<Vec<u8>> = support::read_tsv("records/sts.tsv")
        .iter()
        .map(|r| support::unescape(r.bytes("record")))
        .collect();
    let rpt: Vec<Vec<u8>> = support::read_tsv("records/tlsrpt.tsv")
        .iter()
        .map(|r| support::unescape(r.bytes("record")))
        .collect();
    let hosts: [&[u8]; 4] = [
        b"mx1.example.com",
        b"a.mail.protection.outlook.com",
        b"aspmx.l.google.com.",
        b"192.0.2.1",
    ];

    let mut work = 0usize;
    let n = allocations_during(|| {
        for text in &files {
            match policy::parse(text) {
                Ok(p) => {
                    for m in p.mx() {
                        work += m.len();
                        for h in hosts {
                            work += usize::from(mx::pattern_match(m, h).is_ok());
                        }
                    }
                    for h in hosts {
                        work += usize::from(p.match_mx(h).is_ok());
                    }
                }
                Err(e) => work += e.as_str().len(),
            }
            let _ = policy::parse_detailed(text).map_err(|e| work += e.line_column(text).0);
        }
        for r in &sts {
            work += txt::parse(r).map_or(0, |r| r.id.len());
        }
        work += txt::select(sts.iter().map(Vec::as_slice)).map_or(1, |r| r.id.len());
        for r in &rpt {
            if let Ok(r) = tlsrpt::parse(r) {
                work += r.rua().map(<[u8]>::len).sum::<usize>();
            }
        }
    });
    assert!(work > 0);
    assert_eq!(n, 0, "the core allocated {n} times");
}
