//! `Loader::probe` in helper processes, and the quarantine its verdicts build: a batch in which plugins abort,
//! exit, crash, hang or fail the ABI gate, each named with its step; the quarantine in discovery, in `load`, in
//! the registry cache, its expiry and its clearing; and probing at discovery.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use aisopod_loader::isolation::ending::Ending;
use aisopod_loader::isolation::probe::{LoadStep, ProbeOutcome, ProbeStep};
use aisopod_loader::{CapabilityKind, Loader, Probed, Status};
use common::{add_test_plugin, isolated_loader, plugin_with_missing_dependency, temp_dir};

const HOST_VERSION: &str = "1.0.0";

/// The plugins of the batch: id, test-plugin switches, and the status and step of its verdict when probed with
/// `init`.
const BATCH: &[(&str, &[&str], Status, ProbeStep)] = &[
    ("good-first", &[], Status::Ok, ProbeStep::Unload),
    ("ctor-abort", &["CTOR_ABORT"], Status::PluginCrashed, ProbeStep::Load(LoadStep::Dlopen)),
    ("create-exit", &["CREATE_EXIT"], Status::PluginCrashed, ProbeStep::Load(LoadStep::Create)),
    ("init-segfault", &["INIT_SEGFAULT"], Status::PluginCrashed, ProbeStep::Init),
    ("init-loop", &["INIT_LOOP"], Status::Timeout, ProbeStep::Init),
    ("wrong-abi", &["ABI_VERSION=99"], Status::AbiMismatch, ProbeStep::Load(LoadStep::AbiGate)),
    ("good-last", &[], Status::Ok, ProbeStep::Unload),
];
/// The batch's plugins that end up quarantined.
const QUARANTINED: [&str; 5] = ["ctor-abort", "create-exit", "init-segfault", "init-loop", "wrong-abi"];

/// The batch's plugins in `root/plugins`, and the plugin whose `DT_NEEDED` is missing in its own tree.
fn batch_tree(name: &str) -> (PathBuf, PathBuf) {
    let root = temp_dir(name);
    let plugins = root.join("plugins");
    for (id, switches, ..) in BATCH {
        add_test_plugin(&plugins, id, switches);
    }
    let needy_root = root.join("needy");
    std::fs::create_dir_all(&needy_root).unwrap();
    let needy = plugin_with_missing_dependency(&needy_root, "needy");
    (plugins, needy)
}

fn loader_for(trees: &[&Path]) -> Loader {
    let loader = isolated_loader(HOST_VERSION, trees);
    loader.set_call_timeout(Some("init-loop"), Some(Duration::from_millis(500))).unwrap();
    loader
}

fn failure(verdict: &Probed) -> (ProbeStep, &str) {
    match &verdict.report.outcome {
        ProbeOutcome::Failed { step, message, .. } => (*step, message.as_str()),
        ProbeOutcome::Ok => panic!("{} passed", verdict.plugin_id),
    }
}

#[test]
fn one_batch_probes_every_plugin_and_names_each_culprit_with_its_step() {
    let (plugins, needy) = batch_tree("probe-batch");
    let loader = loader_for(&[&plugins, &needy]);
    assert_eq!(loader.discover(), BATCH.len() + 1);
    let mut ids: Vec<&str> = BATCH.iter().map(|(id, ..)| *id).collect();
    ids.insert(3, "needy");
    let verdicts = loader.probe(&ids, Some("")).unwrap();
    assert_eq!(verdicts.iter().map(|v| v.plugin_id.as_str()).collect::<Vec<_>>(), ids);

    for (verdict, (id, _, status, step)) in verdicts.iter().filter(|v| v.plugin_id != "needy").zip(BATCH) {
        assert_eq!(verdict.status(), *status, "{id}: {:?}", verdict.report);
        if *status == Status::Ok {
            assert_eq!(verdict.report.steps.len(), ProbeStep::ALL.len(), "{id}");
            assert_eq!(verdict.report.capabilities[CapabilityKind::Tool], ["echo"]);
            assert_eq!(verdict.ending, None);
            continue;
        }
        let (failed_step, message) = failure(verdict);
        assert_eq!(failed_step, *step, "{id}: {message}");
        assert!(message.starts_with(&format!("plugin '{id}' ")), "{message}");
        assert_eq!(verdict.report.steps.last().map(|timing| timing.step), Some(*step), "{id}");
    }
    let by_id = |id: &str| verdicts.iter().find(|v| v.plugin_id == id).unwrap();

    let abort = by_id("ctor-abort");
    assert_eq!(abort.ending, Some(Ending::Signaled(libc::SIGABRT)));
    assert_eq!(
        failure(abort).1,
        "plugin 'ctor-abort' crashed during dlopen: its helper process was killed by signal SIGABRT; stderr: \
         test plugin: constructor aborting"
    );
    assert!(String::from_utf8_lossy(&abort.stderr_tail).contains("constructor aborting"));

    let exit = by_id("create-exit");
    assert_eq!(exit.ending, Some(Ending::Exited(3)));
    assert!(failure(exit)
        .1
        .starts_with("plugin 'create-exit' ended its helper process during create: it exited with code 3"));

    let segv = by_id("init-segfault");
    assert_eq!(segv.ending, Some(Ending::Signaled(libc::SIGSEGV)));
    assert!(
        failure(segv).1.contains("crashed during init: its helper process was killed by signal SIGSEGV"),
        "{}",
        failure(segv).1
    );

    let hang = by_id("init-loop");
    assert!(matches!(hang.ending, Some(Ending::TimedOut(_))), "{:?}", hang.ending);
    assert_eq!(failure(hang).1, "plugin 'init-loop' did not finish init within 500 ms: its helper process was killed");

    let needy = by_id("needy");
    assert_eq!(needy.status(), Status::LibraryLoad);
    assert!(failure(needy).1.contains("libaisopod_gone.so (DT_NEEDED)"), "{}", failure(needy).1);

    let quarantined: Vec<String> = loader.quarantine().into_iter().map(|record| record.plugin_id).collect();
    assert_eq!(quarantined, QUARANTINED, "a missing dependency fails in order and is not quarantined");
}

#[test]
fn a_quarantined_plugin_is_refused_set_aside_by_discovery_and_cleared_on_request() {
    let (plugins, _) = batch_tree("quarantine-discovery");
    let loader = loader_for(&[&plugins]);
    loader.discover();
    let ids: Vec<&str> = BATCH.iter().map(|(id, ..)| *id).collect();
    loader.probe(&ids, Some("")).unwrap();

    // Loading is refused at once, with the reason and the date.
    let error = loader.load("init-segfault").unwrap_err();
    assert_eq!(error.status(), Status::Quarantined);
    let message = error.message();
    assert!(message.contains("plugin 'init-segfault' is quarantined since 20"), "{message}");
    assert!(
        message.contains(" UTC (the plugin crashed or exited its process): plugin 'init-segfault' crashed"),
        "{message}"
    );

    // Discovery sets the quarantined plugins aside, each with a diagnostic; the others are found.
    assert_eq!(loader.discover(), BATCH.len() - QUARANTINED.len());
    let discovery = loader.discovery();
    let diagnostics: Vec<_> = discovery.diagnostics().iter().filter(|d| d.status == Status::Quarantined).collect();
    assert_eq!(diagnostics.len(), QUARANTINED.len(), "{diagnostics:?}");
    assert!(diagnostics.iter().all(|d| d.path.starts_with(&plugins) && d.path.extension().unwrap() == "so"));
    assert_eq!(loader.load("wrong-abi").unwrap_err().status(), Status::Quarantined);
    loader.load("good-first").unwrap();

    // Cleared, the plugin loads at once (in this process: its init is what hangs, not its load).
    assert_eq!(loader.clear_quarantine(Some("init-loop")).unwrap(), 1);
    assert_eq!(loader.clear_quarantine(Some("init-loop")).unwrap(), 0);
    loader.load("init-loop").unwrap();
    loader.unload("init-loop").unwrap();
    assert_eq!(loader.quarantine().len(), QUARANTINED.len() - 1);
    assert_eq!(loader.clear_quarantine(None).unwrap(), QUARANTINED.len() - 1);
    assert_eq!(loader.discover(), BATCH.len());
}

#[test]
fn the_quarantine_lives_in_the_registry_cache_and_expires_when_the_library_changes() {
    let root = temp_dir("quarantine-cache");
    let plugins = root.join("plugins");
    add_test_plugin(&plugins, "good-first", &[]);
    let bad = add_test_plugin(&plugins, "ctor-abort", &["CTOR_ABORT"]);
    let cache = root.join("registry.cache");
    {
        let loader = loader_for(&[&plugins]);
        loader.set_cache_path(Some(cache.clone()));
        assert_eq!(loader.discover(), 2);
        loader.probe(&["ctor-abort", "good-first"], None).unwrap();
    }

    // Another loader with the same cache sees the quarantine without probing.
    let loader = loader_for(&[&plugins]);
    loader.set_cache_path(Some(cache.clone()));
    loader.set_helper_path(Some(root.join("no-helper-here")));
    assert_eq!(loader.discover(), 1);
    assert_eq!(loader.quarantine().len(), 1);
    assert_eq!(loader.load("ctor-abort").unwrap_err().status(), Status::Quarantined);

    // A new build of the library (another size) lifts it.
    let library = bad.join(common::library_name("ctor-abort"));
    let mut bytes = std::fs::read(&library).unwrap();
    bytes.extend_from_slice(&[0; 16]);
    std::fs::write(&library, bytes).unwrap();
    assert_eq!(loader.discover(), 2);
    assert!(loader.quarantine().is_empty());
    let again = loader_for(&[&plugins]);
    again.set_cache_path(Some(cache));
    assert_eq!(again.discover(), 2);
    assert!(again.quarantine().is_empty(), "the cache was rewritten without it");
}

#[test]
fn discovery_probes_new_plugins_when_asked_and_only_those() {
    let root = temp_dir("probe-on-discover");
    let plugins = root.join("plugins");
    add_test_plugin(&plugins, "good-first", &[]);
    add_test_plugin(&plugins, "create-exit", &["CREATE_EXIT"]);
    let loader = loader_for(&[&plugins]);
    loader.set_probe_on_discover(true);
    assert_eq!(loader.discover(), 1);
    let discovery = loader.discovery();
    assert_eq!(discovery.plugins()[0].manifest.id, "good-first");
    assert_eq!(discovery.diagnostics().len(), 1, "{:?}", discovery.diagnostics());
    assert_eq!(discovery.diagnostics()[0].status, Status::Quarantined);

    // Nothing is new: the next discovery needs no helper at all.
    loader.set_helper_path(Some(root.join("no-helper-here")));
    assert_eq!(loader.discover(), 1);
    assert_eq!(loader.discovery().diagnostics().len(), 1, "{:?}", loader.discovery().diagnostics());

    // A new plugin is probed, and with no helper to probe it, discovery says so and still finds it.
    add_test_plugin(&plugins, "good-last", &[]);
    assert_eq!(loader.discover(), 2);
    let discovery = loader.discovery();
    let unprobed = discovery.diagnostics().iter().find(|d| d.status == Status::HelperUnavailable).unwrap();
    assert!(unprobed.message.starts_with("plugins were not probed: "), "{}", unprobed.message);
}

#[test]
fn probing_needs_discovered_plugins_and_a_helper() {
    let root = temp_dir("probe-errors");
    add_test_plugin(&root, "good-first", &[]);
    let loader = loader_for(&[&root]);
    loader.discover();
    let error = loader.probe(&["good-first", "nobody"], None).unwrap_err();
    assert_eq!(error.status(), Status::NotFound);
    assert_eq!(error.message(), "no discovered plugin has id 'nobody' (discover first?)");

    loader.set_helper_path(Some(root.join("missing-helper")));
    let error = loader.probe(&["good-first"], None).unwrap_err();
    assert_eq!(error.status(), Status::HelperUnavailable);
    assert!(error.message().contains("missing-helper (No such file or directory)"), "{}", error.message());

    assert_eq!(loader.set_call_timeout(None, Some(Duration::ZERO)).unwrap_err().status(), Status::InvalidArgument);
    loader.set_call_timeout(None, Some(Duration::from_millis(1234))).unwrap();
    assert_eq!(loader.call_timeout("good-first"), Duration::from_millis(1234));
    loader.set_call_timeout(Some("good-first"), Some(Duration::from_secs(3))).unwrap();
    assert_eq!(loader.call_timeout("good-first"), Duration::from_secs(3));
    loader.set_call_timeout(Some("good-first"), None).unwrap();
    loader.set_call_timeout(None, None).unwrap();
    assert_eq!(loader.call_timeout("good-first"), aisopod_loader::DEFAULT_CALL_TIMEOUT);
}
