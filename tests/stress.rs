//! Concurrency stress: one loader, 8 threads, cycles of discover, load, init, invoke, emit and unload over a
//! mix of plugins (thread-safe and serialized), with pairs of threads fighting over the same plugin. Every
//! result is checked: a successful invoke returns exactly its input, a hook's output names only real
//! plugins, and every failure is one that the race explains (the other thread unloaded or had not yet
//! initialised the plugin).
//!
//! CI runs a reduced count; `cargo test --release --test stress -- --ignored` runs the full 10,000 cycles.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use aisopod_loader::{CapabilityKind, Loader, Status, VecSink};
use common::*;

const THREADS: usize = 8;
const PLUGINS: [&str; 4] = ["s0", "s1", "s2", "serial"];

#[derive(Default)]
struct Tally {
    invokes_ok: AtomicUsize,
    invokes_raced: AtomicUsize,
    hooks_fired: AtomicUsize,
    loads: AtomicUsize,
    unloads: AtomicUsize,
}

fn setup() -> Loader {
    let root = temp_dir("stress");
    for id in &PLUGINS[..3] {
        add_test_plugin(&root, id, &[]);
    }
    let text = manifest("serial").replace("entry_point = \"serial\"", "entry_point = \"serial\"\nthread_safe = false");
    add_test_plugin_with(&root, "serial", &["DETECT_OVERLAP"], &text);
    isolated_loader("1.5.0", &[&root])
}

/// A failure that a concurrent load, init or unload of the same plugin explains.
fn raced(status: Status) -> bool {
    matches!(status, Status::NotLoaded | Status::NotInitialized | Status::AlreadyLoaded | Status::AlreadyInitialized)
}

fn cycle(loader: &Loader, thread: usize, i: usize, tally: &Tally) {
    // Threads 2k and 2k+1 share plugin k.
    let id = PLUGINS[thread / 2];
    if i % 16 == 0 {
        assert_eq!(loader.discover(), PLUGINS.len());
    }
    match loader.load(id) {
        Ok(()) => {
            tally.loads.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) => assert!(raced(e.status()), "load {id}: {e}"),
    }
    if let Err(e) = loader.init(id, "", Path::new("")) {
        assert!(raced(e.status()), "init {id}: {e}");
    }
    let input = format!("{thread}:{i}");
    match loader.invoke_to_vec(id, CapabilityKind::Tool, "echo", input.as_bytes()) {
        Ok(out) => {
            assert_eq!(out, input.as_bytes(), "{id} answered another call's input");
            tally.invokes_ok.fetch_add(1, Ordering::Relaxed);
        }
        Err(e) => {
            assert!(raced(e.status()), "invoke {id}: {e}");
            tally.invokes_raced.fetch_add(1, Ordering::Relaxed);
        }
    }
    let mut out = Vec::new();
    let fired = loader.emit("ping", b"", Some(VecSink::new(&mut out).sink())).unwrap();
    let text = String::from_utf8(out).unwrap();
    let names: Vec<&str> = text.split_terminator(';').collect();
    assert_eq!(names.len(), fired, "{text}");
    assert!(names.iter().all(|n| PLUGINS.contains(n)), "{text}");
    tally.hooks_fired.fetch_add(fired, Ordering::Relaxed);
    if i % 3 == thread % 3 {
        match loader.unload(id) {
            Ok(()) => {
                tally.unloads.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => assert!(raced(e.status()), "unload {id}: {e}"),
        }
    }
}

fn stress(cycles: usize) {
    let loader = Arc::new(setup());
    let tally = Arc::new(Tally::default());
    let per_thread = cycles / THREADS;
    let started = Instant::now();
    let threads: Vec<_> = (0..THREADS)
        .map(|thread| {
            let (loader, tally) = (loader.clone(), tally.clone());
            std::thread::spawn(move || {
                for i in 0..per_thread {
                    cycle(&loader, thread, i, &tally);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let elapsed = started.elapsed();
    let ok = tally.invokes_ok.load(Ordering::Relaxed);
    eprintln!(
        "stress: {} cycles on {THREADS} threads in {elapsed:.2?}: {ok} invokes checked, {} raced an unload, \
         {} hook calls, {} loads, {} unloads",
        per_thread * THREADS,
        tally.invokes_raced.load(Ordering::Relaxed),
        tally.hooks_fired.load(Ordering::Relaxed),
        tally.loads.load(Ordering::Relaxed),
        tally.unloads.load(Ordering::Relaxed),
    );
    assert!(ok > 0, "no invoke succeeded");
    assert!(tally.unloads.load(Ordering::Relaxed) > 0, "nothing was unloaded");
}

#[test]
fn stress_reduced() {
    stress(400);
}

#[test]
#[ignore = "the full run; use --release --ignored"]
fn stress_full_10000_cycles() {
    stress(10_000);
}
