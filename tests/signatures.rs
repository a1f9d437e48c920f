//! Publisher signatures through the Rust API, with keys and signatures made by the `aisopod-sign` binary: a
//! plugin signed by a trusted key loads under both policies; an unsigned one and one signed by an unknown key
//! load only when unsigned plugins are allowed (the unknown key with a warning naming it); a signature that no
//! longer covers the manifest or the library, or a malformed signature file, is refused under both; isolated
//! plugins and probes are checked by the host before the helper sees them; and the tool's exit statuses.

mod common;
mod signing;

use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex};

use aisopod_loader::isolation::probe::{LoadStep, ProbeOutcome, ProbeStep};
use aisopod_loader::{CapabilityKind, Isolation, Loader, SignaturePolicy, Status};
use common::*;
use signing::*;

const POLICIES: [SignaturePolicy; 2] = [SignaturePolicy::AllowUnsigned, SignaturePolicy::Required];

/// A loader over `root`, after discovery, trusting `trusted`, recording its warnings.
fn loader(root: &Path, trusted: &Key, policy: SignaturePolicy) -> (Loader, Arc<Mutex<Vec<String>>>) {
    let loader = isolated_loader("1.5.0", &[root]);
    loader.discover();
    assert_eq!(loader.trust_key(&trusted.public).unwrap().to_string(), trusted.id);
    loader.set_signature_policy(policy);
    let warnings = collect_warnings(&loader);
    (loader, warnings)
}

fn load_and_run(loader: &Loader, id: &str) {
    loader.load(id).unwrap_or_else(|e| panic!("{id}: {e}"));
    loader.init(id, "{}", Path::new("")).unwrap();
    assert_eq!(loader.invoke_to_vec(id, CapabilityKind::Tool, "echo", b"signed").unwrap(), b"signed");
    loader.unload(id).unwrap();
}

#[test]
fn each_case_gets_its_own_status_under_each_policy_and_its_message_names_the_plugin_and_key() {
    let (root, trusted, other) = plugins("sig-cases");
    for policy in POLICIES {
        let (loader, warnings) = loader(&root, &trusted, policy);
        let required = policy == SignaturePolicy::Required;
        load_and_run(&loader, "signed");

        if required {
            let error = loader.load("unsigned").unwrap_err();
            assert_eq!(error.status(), Status::Unsigned, "{error}");
            assert!(error.message().contains("plugin 'unsigned' is unsigned"), "{error}");
            let error = loader.load("stranger").unwrap_err();
            assert_eq!(error.status(), Status::UnknownKey, "{error}");
            let expected = format!("plugin 'stranger' is signed by key {}, which the host does not trust", other.id);
            assert!(error.message().contains(&expected), "{error}");
        } else {
            load_and_run(&loader, "unsigned");
            load_and_run(&loader, "stranger");
            let warnings = warnings.lock().unwrap();
            assert_eq!(warnings.len(), 1, "{warnings:?}");
            assert!(warnings[0].contains(&format!("plugin 'stranger' is signed by key {}", other.id)), "{warnings:?}");
        }

        for (id, culprit) in [("edited", "aisopod.plugin.toml (SHA-256 "), ("swapped", "the library (SHA-256 ")] {
            let error = loader.load(id).unwrap_err();
            assert_eq!(error.status(), Status::BadSignature, "{policy:?} {id}: {error}");
            let expected = format!("plugin '{id}': the signature by key {} in ", trusted.id);
            assert!(error.message().contains(&expected) && error.message().contains(culprit), "{error}");
            assert!(error.message().contains("does not verify"), "{error}");
        }
        let error = loader.load("garbled").unwrap_err();
        assert_eq!(error.status(), Status::MalformedSignature, "{error}");
        assert!(error.message().contains("garbled/aisopod.plugin.sig:2: the key id has 'n' at byte 0"), "{error}");
        for id in ["unsigned", "stranger", "edited", "swapped", "garbled"] {
            assert_eq!(loader.plugin_state(id), None, "{id}");
        }
    }
}

#[test]
fn a_manifest_signed_again_after_discovery_is_not_the_one_the_loader_holds() {
    let (root, trusted, _) = plugins("sig-rediscover");
    let (loader, _) = loader(&root, &trusted, SignaturePolicy::Required);
    let manifest = root.join("signed/aisopod.plugin.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, text.replace("tools = [\"echo\"]", "tools = [\"echo\", \"more\"]")).unwrap();
    sign(&trusted, &root.join("signed"));
    let error = loader.load("signed").unwrap_err();
    assert_eq!(error.status(), Status::BadSignature, "{error}");
    assert!(error.message().contains("which is not the manifest discovery read"), "{error}");
    loader.discover();
    let error = loader.load("signed").unwrap_err();
    assert_eq!(error.status(), Status::CapabilityMismatch, "rediscovered, it is checked as signed: {error}");
}

#[test]
fn the_registry_cache_gives_the_same_manifest_the_signature_covers() {
    let (root, trusted, _) = plugins("sig-cache");
    let cache = temp_dir("sig-cache-file").join("registry.cache");
    for _ in 0..2 {
        let loader = isolated_loader("1.5.0", &[&root]);
        loader.set_cache_path(Some(cache.clone()));
        loader.discover();
        loader.trust_key(&trusted.public).unwrap();
        loader.set_signature_policy(SignaturePolicy::Required);
        load_and_run(&loader, "signed");
        load_and_run(&loader, "signed");
    }
}

#[test]
fn isolated_plugins_and_probes_are_checked_by_the_host_before_the_helper_sees_them() {
    let (root, trusted, _) = plugins("sig-isolated");
    let (loader, _) = loader(&root, &trusted, SignaturePolicy::Required);
    loader.set_isolation(None, Some(Isolation::Process));
    load_and_run(&loader, "signed");
    for (id, status) in [
        ("unsigned", Status::Unsigned),
        ("stranger", Status::UnknownKey),
        ("swapped", Status::BadSignature),
        ("garbled", Status::MalformedSignature),
    ] {
        let error = loader.load(id).unwrap_err();
        assert_eq!(error.status(), status, "{id}: {error}");
        assert!(error.message().contains(&format!("plugin '{id}'")), "{error}");
    }
    let probed = loader.probe(&["signed", "unsigned", "swapped"], None).unwrap();
    assert_eq!(probed[0].status(), Status::Ok, "{:?}", probed[0].report);
    assert!(probed[0].report.duration(ProbeStep::Load(LoadStep::Signature)).is_some());
    for (probed, status) in probed[1..].iter().zip([Status::Unsigned, Status::BadSignature]) {
        match &probed.report.outcome {
            ProbeOutcome::Failed { step, status: found, .. } => {
                assert_eq!((*step, *found), (ProbeStep::Load(LoadStep::Signature), status))
            }
            ProbeOutcome::Ok => panic!("{} passed its probe", probed.plugin_id),
        }
    }
    assert!(loader.quarantine().is_empty(), "a refused signature is not a crash to quarantine");
}

#[test]
fn a_key_must_be_an_ed25519_public_key() {
    let loader = Loader::new("1.5.0").unwrap();
    // y = 2: no x on the curve has it, so these bytes decompress to no point.
    let mut not_a_point = [0; 32];
    not_a_point[0] = 2;
    let error = loader.trust_key(&not_a_point).unwrap_err();
    assert_eq!(error.status(), Status::InvalidArgument, "{error}");
    assert!(error.message().contains("'public_key' is not an Ed25519 public key"), "{error}");
    assert_eq!(loader.signature_policy(), SignaturePolicy::AllowUnsigned, "the default");
}

#[test]
fn the_tool_verifies_as_the_loader_does_and_its_exit_statuses_say_why() {
    let (root, trusted, other) = plugins("sig-tool");
    let verify = |key: &Key, id: &str| run_tool(&[Path::new("verify"), &key.public_file, &root.join(id)]);
    let stderr = |out: &Output| String::from_utf8_lossy(&out.stderr).into_owned();
    let out = verify(&trusted, "signed");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("the signature by key {} verifies", trusted.id)));
    for (key, id, why) in [
        (&trusted, "unsigned", "is unsigned"),
        (&other, "signed", &format!("is signed by key {}, not by key {}", trusted.id, other.id)[..]),
        (&trusted, "edited", "does not verify"),
        (&trusted, "swapped", "does not verify"),
    ] {
        let out = verify(key, id);
        assert_eq!(out.status.code(), Some(1), "{id}: {}", stderr(&out));
        assert!(stderr(&out).contains(why), "{id}: {}", stderr(&out));
    }
    let out = verify(&trusted, "garbled");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("aisopod.plugin.sig:2:"), "{}", stderr(&out));
    let out = run_tool(&[Path::new("sign")]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = run_tool(&[Path::new("keygen"), &trusted.secret, &root.join("new.public")]);
    assert_eq!(out.status.code(), Some(3), "an existing key is not overwritten: {}", stderr(&out));
    let bad_key = root.join("bad.secret");
    std::fs::write(&bad_key, "abc\n").unwrap();
    let out = run_tool(&[Path::new("sign"), &bad_key, &root.join("signed")]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("bad.secret: the secret key is 3 hexadecimal digits long, not 64"),
        "{}",
        stderr(&out)
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&trusted.secret).unwrap().permissions().mode() & 0o777, 0o600);
}
