//! The load report from a real C host (`tests/hosts/report_host.c`): a loaded plugin, a discovered one and a
//! refused candidate by name and status name, NULL arguments, and a report freed after its loader. Also run under
//! valgrind.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::*;

fn setup(name: &str) -> (PathBuf, PathBuf) {
    let work = temp_dir(name);
    let tree = work.join("plugins");
    add_test_plugin(&tree, "alpha", &[]);
    add_test_plugin(&tree, "beta", &[]);
    write_plugin(&tree, "broken", "[plugin]\nid = \"broken\"\n", "broken", None);
    let host = build_c_host("tests/hosts/report_host.c", &work.join("report_host"), &["-g"]);
    (host, tree)
}

#[test]
fn a_c_host_reads_the_report_and_frees_it() {
    let (host, tree) = setup("c-report");
    let (stdout, _) = host_passed(Command::new(&host).arg(&tree).output().unwrap());
    for line in [
        "ok: it has alpha, initialised",
        "ok: it has beta, discovered only",
        "ok: it has the broken manifest's diagnostic, by its status name",
        "ok: no json_out: NULL_ARGUMENT naming it",
        "ok: a report stays readable after its loader is freed",
    ] {
        assert!(stdout.contains(line), "no line `{line}` in:\n{stdout}");
    }
}

#[test]
fn host_passes_under_valgrind() {
    let (host, tree) = setup("c-report-valgrind");
    common::host_passes_under_valgrind(&host, &[&tree]);
}
