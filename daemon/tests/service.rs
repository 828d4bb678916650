//! The systemd unit (daemon/daedalusd.service) as systemd 252 judges it:
//! valid, an exposure of at most 1.0 by `systemd-analyze security`, and a
//! system call filter that lets the daemon confine itself and then make
//! every call of its own allow-list. The sysusers.d file, the unit and the
//! udev rule name the same user. systemd-analyze is part of Debian's base
//! system: without it these tests fail, they do not skip.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use daedalusd::sandbox;

fn manifest(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(file)
}

fn unit() -> String {
    std::fs::read_to_string(manifest("daedalusd.service")).unwrap()
}

/// systemd-analyze ARGS: (success, stdout, stderr).
fn analyze(args: &[&str]) -> (bool, String, String) {
    let out = Command::new("systemd-analyze")
        .arg("--no-pager")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("systemd-analyze (Debian's systemd package): {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Values of `key=` lines in the [Service] section, in order.
fn service_values(unit: &str, key: &str) -> Vec<String> {
    let mut in_service = false;
    let mut values = Vec::new();
    for line in unit.lines().map(str::trim) {
        if line.starts_with('[') {
            in_service = line == "[Service]";
        } else if in_service
            && let Some(v) = line.strip_prefix(key).and_then(|r| r.strip_prefix('='))
        {
            values.push(v.to_string());
        }
    }
    values
}

#[test]
fn the_unit_verifies_without_a_word() {
    // verify insists that ExecStart's binary exists: point it at this build.
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("service-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let copy = dir.join("daedalusd.service");
    let text = unit().replace("/usr/bin/daedalusd", env!("CARGO_BIN_EXE_daedalusd"));
    std::fs::write(&copy, text).unwrap();
    let (ok, out, err) = analyze(&["verify", "--man=no", copy.to_str().unwrap()]);
    assert!(ok, "{out}{err}");
    // Unknown keys and unparsable values are warnings, not failures.
    assert_eq!(
        format!("{out}{err}"),
        "",
        "systemd-analyze verify complained"
    );
}

#[test]
fn the_unit_exposure_is_at_most_1_0() {
    let path = manifest("daedalusd.service");
    let (_, out, err) = analyze(&["security", "--offline=yes", path.to_str().unwrap()]);
    let level = out
        .lines()
        .find_map(|l| {
            l.split_once("Overall exposure level for daedalusd.service: ")
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .and_then(|n| n.parse::<f64>().ok())
        })
        .unwrap_or_else(|| panic!("no overall exposure level in:\n{out}{err}"));
    assert!(
        level <= 1.0,
        "exposure {level}, more than 1.0:\n{}",
        out.lines()
            .filter(|l| l.starts_with('✗'))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// A filter entry's system calls: a name, or a @group expanded by
/// systemd-analyze (groups nest).
fn expand(entry: &str, into: &mut BTreeSet<String>) {
    if !entry.starts_with('@') {
        into.insert(entry.to_string());
        return;
    }
    let (ok, out, err) = analyze(&["syscall-filter", entry]);
    assert!(ok, "{entry}: {err}");
    for line in out.lines().skip(1).map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        expand(line, into);
    }
}

/// The calls the unit's SystemCallFilter= lines allow, applied in order as
/// systemd does: the first positive list starts an allow-list, `~` removes.
fn unit_allows() -> BTreeSet<String> {
    let mut allowed = BTreeSet::new();
    for value in service_values(&unit(), "SystemCallFilter") {
        let (deny, list) = match value.strip_prefix('~') {
            Some(rest) => (true, rest),
            None => (false, value.as_str()),
        };
        let mut calls = BTreeSet::new();
        for entry in list.split_whitespace() {
            expand(entry, &mut calls);
        }
        if deny {
            allowed.retain(|c| !calls.contains(c));
        } else {
            allowed.extend(calls);
        }
    }
    assert!(!allowed.is_empty(), "the unit has no SystemCallFilter=");
    allowed
}

#[test]
fn the_unit_lets_the_daemon_confine_itself_and_run_confined() {
    let allowed = unit_allows();
    let missing: Vec<&str> = sandbox::SETUP_CALLS
        .iter()
        .copied()
        .chain(sandbox::allowed_names())
        .filter(|c| !allowed.contains(*c))
        .collect();
    assert_eq!(
        missing,
        Vec::<&str>::new(),
        "the unit's SystemCallFilter= would kill the daemon at these calls"
    );
}

#[test]
fn the_unit_the_sysusers_file_and_the_udev_rule_name_one_user() {
    let sysusers = std::fs::read_to_string(manifest("daedalusd.sysusers")).unwrap();
    let user: Vec<&str> = sysusers
        .lines()
        .filter(|l| l.starts_with("u "))
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    assert_eq!(user, ["daedalus"]);
    assert_eq!(service_values(&unit(), "User"), ["daedalus"]);
    assert_eq!(service_values(&unit(), "Group"), ["daedalus"]);
    let rule = std::fs::read_to_string(manifest("../kmod/udev/60-daedalus.rules")).unwrap();
    let node = rule
        .lines()
        .find(|l| l.starts_with("KERNEL==\"daedalus\""))
        .expect("a rule for /dev/daedalus");
    for want in [
        r#"OWNER="daedalus""#,
        r#"GROUP="daedalus""#,
        r#"MODE="0600""#,
    ] {
        assert!(node.contains(want), "{want} missing from: {node}");
    }
    // And systemd accepts the file (nothing is written with --dry-run).
    let out = Command::new("systemd-sysusers")
        .arg("--dry-run")
        .arg(format!("--root={}", env!("CARGO_TARGET_TMPDIR")))
        .arg(manifest("daedalusd.sysusers"))
        .output()
        .expect("systemd-sysusers (Debian's systemd package)");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("Creating user 'daedalus'"), "{err}");
}
