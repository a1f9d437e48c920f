//! Per-plugin metrics from a real C host (`tests/hosts/metrics_host.c`): counts, failures and latency
//! percentiles of the test plugin's echo after known calls (failing and slow ones included), by name and
//! resolved, the statuses of bad requests, and an isolated plugin's figures, its helper's CPU time included. Also run under valgrind.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::*;

fn setup(name: &str) -> (PathBuf, PathBuf) {
    let work = temp_dir(name);
    let tree = work.join("plugins");
    add_test_plugin(&tree, "local", &[]);
    add_test_plugin(&tree, "iso", &["HANDLER_MISCHIEF"]);
    let host = build_c_host("tests/hosts/metrics_host.c", &work.join("metrics_host"), &["-g"]);
    (host, tree)
}

#[test]
fn a_c_host_reads_the_metrics_of_plugins_in_process_and_isolated() {
    let (host, tree) = setup("c-metrics");
    let (stdout, _) = host_passed(Command::new(&host).arg(&tree).output().unwrap());
    for line in [
        "ok: metrics off: INVALID_ARGUMENT: aisopod_loader_plugin_metrics: metrics of plugin 'local': metrics are off",
        "ok: echo: 100 calls by name and resolved, 8 failed",
        "ok: local: 101 calls (the hook's included), 8 failed",
        "ok: calls while metrics were off are not counted (100)",
        "ok: loaded again, it starts from zero",
        "ok: iso's echo: 11 calls, 3 failed",
    ] {
        assert!(stdout.contains(line), "no line `{line}` in:\n{stdout}");
    }
}

#[test]
fn host_passes_under_valgrind() {
    let (host, tree) = setup("c-metrics-valgrind");
    common::host_passes_under_valgrind(&host, &[&tree]);
}
