//! The built `cutover inspect --json` against every real sample backup: each backup set's header must
//! equal what MANIFEST.json (read by an independent parser, cross-checked by chain continuity) says, and
//! the striped backups must pair up by media set.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches: a failed unwrap fails the run

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

const EXPECTED_FILES: usize = 80;
const EXPECTED_SETS: usize = 80;

fn manifest(dir: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join("MANIFEST.json")).expect("read MANIFEST.json");
    let v: Value = serde_json::from_str(&text).expect("MANIFEST.json is JSON");
    v.as_array().expect("MANIFEST.json is an array").clone()
}

/// Runs `cutover inspect --json` on all files at once; returns the sets keyed by (relative file, position).
fn inspect_all(dir: &Path, files: &[String]) -> BTreeMap<(String, u64), Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_cutover"))
        .arg("inspect")
        .arg("--json")
        .args(files.iter().map(|f| dir.join(f)))
        .output()
        .expect("run cutover inspect");
    assert!(
        out.status.success(),
        "cutover inspect --json failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let sets: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "inspect --json printed no JSON array ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    let sets = sets.as_array().expect("inspect --json prints an array");
    let mut by_key = BTreeMap::new();
    for s in sets {
        let file = Path::new(s["File"].as_str().expect("File is a string"));
        let rel = file
            .strip_prefix(dir)
            .unwrap_or_else(|_| panic!("File {} is not under {}", file.display(), dir.display()))
            .to_string_lossy()
            .replace('\\', "/");
        let pos = s["Position"].as_u64().expect("Position is a number");
        let old = by_key.insert((rel.clone(), pos), s.clone());
        assert!(old.is_none(), "{rel}: position {pos} reported twice");
    }
    by_key
}

fn type_name(letter: &str) -> &'static str {
    match letter {
        "D" => "FULL",
        "I" => "DIFF",
        "L" => "LOG",
        other => panic!("manifest has an unexpected type letter {other:?}"),
    }
}

fn parse_hex(s: &str) -> u64 {
    u64::from_str_radix(s.trim_start_matches("0x"), 16)
        .unwrap_or_else(|e| panic!("manifest flag {s:?} is not hex: {e}"))
}

#[test]
fn inspect_agrees_with_manifest() {
    let Some(dir) = common::samples_dir() else {
        return;
    };
    let manifest = manifest(&dir);
    assert_eq!(manifest.len(), EXPECTED_FILES, "files in MANIFEST.json");
    let files: Vec<String> = manifest
        .iter()
        .map(|f| f["file"].as_str().expect("file").to_string())
        .collect();
    let got = inspect_all(&dir, &files);

    let manifest_sets: usize = manifest
        .iter()
        .map(|f| f["sets"].as_array().expect("sets").len())
        .sum();
    assert_eq!(manifest_sets, EXPECTED_SETS, "sets in MANIFEST.json");
    assert_eq!(got.len(), EXPECTED_SETS, "sets reported by inspect --json");

    let mut mismatches = Vec::new();
    let mut checked_fields = 0usize;
    for f in &manifest {
        let file = f["file"].as_str().expect("file");
        let size = std::fs::metadata(dir.join(file))
            .unwrap_or_else(|e| panic!("{file}: {e}"))
            .len();
        assert_eq!(Some(size), f["size"].as_u64(), "{file}: size on disk");
        let compressed = match f["container"].as_str() {
            Some("MTF") => false,
            Some("MSSQLBAK") => true,
            other => panic!("{file}: unexpected container {other:?}"),
        };
        let sets = f["sets"].as_array().expect("sets");
        let reported = got.keys().filter(|(rel, _)| rel == file).count();
        assert_eq!(reported, sets.len(), "{file}: number of backup sets");
        for m in sets {
            let pos = m["position"].as_u64().expect("position");
            let Some(s) = got.get(&(file.to_string(), pos)) else {
                mismatches.push(format!("{file}: position {pos} not reported"));
                continue;
            };
            let mut check = |field: &str, got: &Value, want: Value| {
                checked_fields += 1;
                if *got != want {
                    mismatches.push(format!(
                        "{file} #{pos}: {field} is {got}, manifest says {want}"
                    ));
                }
            };
            let string = |k: &str| Value::String(m[k].as_str().expect(k).to_string());
            check("Position", &s["Position"], Value::from(pos));
            check(
                "BackupType",
                &s["BackupType"],
                Value::from(type_name(m["type"].as_str().expect("type"))),
            );
            check("DatabaseName", &s["DatabaseName"], string("db"));
            check("ServerName", &s["ServerName"], string("server"));
            check("SoftwareVersion", &s["SoftwareVersion"], string("version"));
            check(
                "DatabaseVersion",
                &s["DatabaseVersion"],
                m["db_version"].clone(),
            );
            check(
                "CompatibilityLevel",
                &s["CompatibilityLevel"],
                m["compat"].clone(),
            );
            check(
                "DatabaseCreationDate",
                &s["DatabaseCreationDate"],
                string("db_created"),
            );
            check("BackupStartDate", &s["BackupStartDate"], string("start"));
            check("BackupFinishDate", &s["BackupFinishDate"], string("finish"));
            for k in ["FirstLSN", "LastLSN", "CheckpointLSN", "DatabaseBackupLSN"] {
                check(k, &s[k], string(k));
            }
            // Only differentials have a base; everything else reports null.
            let diff_base = m
                .get("DiffBaseLSN")
                .map(|v| Value::String(v.as_str().expect("DiffBaseLSN").to_string()))
                .unwrap_or(Value::Null);
            check("DifferentialBaseLSN", &s["DifferentialBaseLSN"], diff_base);
            check(
                "HasBackupChecksums",
                &s["HasBackupChecksums"],
                m["has_checksums"].clone(),
            );
            check(
                "Flags",
                &s["Flags"],
                Value::from(parse_hex(m["scin_flags"].as_str().expect("scin_flags"))),
            );
            check("Compressed", &s["Compressed"], Value::Bool(compressed));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {checked_fields} fields differ from MANIFEST.json:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    // 80 sets x 18 fields: a guard against the loop silently checking nothing.
    assert_eq!(checked_fields, EXPECTED_SETS * 18);
}

const STRIPE_DIR: &str = "sql2008-backups/RestoreTimeStripe/";

/// The pairs found in the data (Stripe1 file, Stripe2 file): the names do not pair up by a rule
/// (`RestoreTimeStripe.bak` goes with `RestoreTimeStripe1.bak`), so they are listed and verified here.
const STRIPE_PAIRS: [(&str, &str); 8] = [
    (
        "Stripe1/RestoreTimeStripe.bak",
        "Stripe2/RestoreTimeStripe1.bak",
    ),
    (
        "Stripe1/RestoreTimeStripe2.bak",
        "Stripe2/RestoreTimeStripe2a.bak",
    ),
    (
        "Stripe1/RestoreTimeStripe_1.trn",
        "Stripe2/RestoreTimeStripe_1a.trn",
    ),
    (
        "Stripe1/RestoreTimeStripe_2.trn",
        "Stripe2/RestoreTimeStripe_2a.trn",
    ),
    (
        "Stripe1/RestoreTimeStripe_3.trn",
        "Stripe2/RestoreTimeStripe_3a.trn",
    ),
    ("Stripe1/restoretime_21.trn", "Stripe2/restoretime_21a.trn"),
    (
        "Stripe1/RestoreTimeStripe_22.trn",
        "Stripe2/RestoreTimeStripe_22a.trn",
    ),
    (
        "Stripe1/RestoreTimeStripe_23.trn",
        "Stripe2/RestoreTimeStripe_23a.trn",
    ),
];

#[test]
fn striped_sets_pair_by_media_set() {
    let Some(dir) = common::samples_dir() else {
        return;
    };
    let files = common::manifest_files(&dir);
    let got = inspect_all(&dir, &files);

    // Every set outside the stripe folder is a single-family media; every set inside has two families.
    let mut by_guid: BTreeMap<String, Vec<(String, &Value)>> = BTreeMap::new();
    for ((rel, _), s) in &got {
        let count = s["FamilyCount"].as_u64().expect("FamilyCount");
        let seq = s["FamilySequenceNumber"]
            .as_u64()
            .expect("FamilySequenceNumber");
        if let Some(stripe) = rel.strip_prefix(STRIPE_DIR) {
            assert_eq!(count, 2, "{rel}: FamilyCount");
            let guid = s["MediaSetGUID"].as_str().expect("MediaSetGUID");
            assert_eq!(guid.len(), 36, "{rel}: MediaSetGUID {guid:?}");
            by_guid
                .entry(guid.to_string())
                .or_default()
                .push((stripe.to_string(), s));
        } else {
            assert_eq!(
                (count, seq),
                (1, 1),
                "{rel}: FamilyCount, FamilySequenceNumber"
            );
        }
    }
    assert_eq!(
        by_guid.values().map(Vec::len).sum::<usize>(),
        16,
        "files in {STRIPE_DIR}"
    );

    // Group by MediaSetGUID: each group is exactly one listed pair, Stripe1 = family 1, Stripe2 = 2,
    // and both halves carry the same backup set (type, LSNs, start date).
    let mut found: Vec<(String, String)> = by_guid
        .iter()
        .map(|(guid, members)| {
            assert_eq!(
                members.len(),
                2,
                "MediaSetGUID {guid} is shared by {} files: {:?}",
                members.len(),
                members.iter().map(|m| &m.0).collect::<Vec<_>>()
            );
            let mut members = members.clone();
            members.sort_by_key(|(_, s)| s["FamilySequenceNumber"].as_u64());
            let (a, sa) = &members[0];
            let (b, sb) = &members[1];
            assert_eq!(sa["FamilySequenceNumber"], 1, "{a}");
            assert_eq!(sb["FamilySequenceNumber"], 2, "{b}");
            assert!(a.starts_with("Stripe1/"), "family 1 of {guid} is {a}");
            assert!(b.starts_with("Stripe2/"), "family 2 of {guid} is {b}");
            for k in [
                "BackupType",
                "DatabaseName",
                "FirstLSN",
                "LastLSN",
                "CheckpointLSN",
                "DatabaseBackupLSN",
                "BackupStartDate",
                "FamilyGUID",
            ] {
                assert_eq!(sa[k], sb[k], "{a} and {b} disagree on {k}");
            }
            (a.clone(), b.clone())
        })
        .collect();
    found.sort();
    let mut want: Vec<(String, String)> = STRIPE_PAIRS
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    want.sort();
    assert_eq!(found, want, "stripe pairs by MediaSetGUID");
}
