//! The workspace's rules (issue 14), read from each crate's `Cargo.toml`: a crate can name only what
//! its manifest lists, so the manifests are the architecture.
//!
//! - `cutover-tui` names `cutover-model` and, of the outside world, only drawing, keys, clocks and
//!   its loop's runtime: never tiberius, azure, reqwest, the engine (`cutover-core`) or the
//!   emulators, not even in its tests.
//! - `cutover-model` (what the UIs and the engine exchange) links no client library.
//! - `cutover-sandbox` depends on no product crate: its rules come from the published contracts.
//! - `cutover-core` knows no UI and no emulator.
//! - No crate depends on the binary's package `cutover`.
//!
//! `.ci/run` checks the same with `cargo tree` (the resolved graph, transitive dependencies too).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches: a failed unwrap fails the run

use std::collections::BTreeSet;
use std::path::Path;

/// Crates the TUI may depend on (as Cargo names them).
const TUI_ALLOWED: &[&str] = &[
    "cutover-model",
    "ratatui",
    "crossterm",
    "serde",
    "time",
    "tokio",
    "futures",
    "async-trait",
    "url",
    "humansize",
    "tracing",
];

/// The dependencies a manifest lists (`[dependencies]`, and `[dev-dependencies]` when asked), by
/// the names Cargo gives them.
fn dependencies(manifest: &str, with_dev: bool) -> BTreeSet<String> {
    let mut deps = BTreeSet::new();
    let mut inside = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            inside = line == "[dependencies]" || (with_dev && line == "[dev-dependencies]");
            continue;
        }
        if !inside || line.starts_with('#') || line.is_empty() {
            continue;
        }
        if let Some((name, _)) = line.split_once('=') {
            let name = name.trim().split('.').next().unwrap_or("").trim();
            deps.insert(name.to_string());
        }
    }
    deps
}

fn manifest(krate: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let path = root.join("crates").join(krate).join("Cargo.toml");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What of `deps` is not in `allowed`.
fn outside<'a>(deps: &'a BTreeSet<String>, allowed: &[&str]) -> Vec<&'a str> {
    deps.iter()
        .map(String::as_str)
        .filter(|d| !allowed.contains(d))
        .collect()
}

/// What of `deps` is in `refused` (a name, or a prefix ending in `_`/`-` such as `azure_`).
fn refused<'a>(deps: &'a BTreeSet<String>, refused: &[&str]) -> Vec<&'a str> {
    deps.iter()
        .map(String::as_str)
        .filter(|d| {
            refused
                .iter()
                .any(|r| d == r || ((r.ends_with('_') || r.ends_with('-')) && d.starts_with(r)))
        })
        .collect()
}

#[test]
fn the_tui_depends_on_the_model_and_drawing_crates_only() {
    let deps = dependencies(&manifest("cutover-tui"), true);
    assert!(
        deps.contains("cutover-model") && deps.contains("ratatui"),
        "{deps:?}"
    );
    assert_eq!(outside(&deps, TUI_ALLOWED), Vec::<&str>::new());
}

#[test]
fn the_model_links_no_client_library() {
    let deps = dependencies(&manifest("cutover-model"), false);
    let bad = [
        "tiberius",
        "azure_",
        "reqwest",
        "axum",
        "cutover-core",
        "ratatui",
    ];
    assert_eq!(refused(&deps, &bad), Vec::<&str>::new());
}

#[test]
fn the_sandbox_depends_on_no_product_crate() {
    let deps = dependencies(&manifest("cutover-sandbox"), true);
    assert!(deps.contains("cutover-backup"), "{deps:?}");
    let bad = ["cutover", "cutover-core", "cutover-model", "cutover-tui"];
    assert_eq!(refused(&deps, &bad), Vec::<&str>::new());
}

#[test]
fn the_core_knows_no_ui_and_no_emulator() {
    let deps = dependencies(&manifest("cutover-core"), true);
    assert!(
        deps.contains("cutover-model") && deps.contains("tiberius"),
        "{deps:?}"
    );
    let bad = [
        "cutover",
        "cutover-tui",
        "cutover-sandbox",
        "ratatui",
        "crossterm",
        "axum",
    ];
    assert_eq!(refused(&deps, &bad), Vec::<&str>::new());
}

#[test]
fn no_crate_depends_on_the_binary_package() {
    for c in [
        "cutover-backup",
        "cutover-model",
        "cutover-core",
        "cutover-tui",
        "cutover-sandbox",
    ] {
        let deps = dependencies(&manifest(c), true);
        assert!(!deps.contains("cutover"), "{c} depends on cutover");
    }
}

/// The checker itself: each rule catches what it must, in either dependency table.
#[test]
fn the_checker_catches_what_it_must() {
    let m = "[package]\nname = \"x\"\n\n[dependencies]\n# a comment\ncutover-model.workspace = true\n\
             tiberius = { version = \"0.13\" }\n\n[dev-dependencies]\nazure_core = \"1\"\n\n[lints]\nworkspace = true\n";
    let normal = dependencies(m, false);
    let all = dependencies(m, true);
    assert_eq!(
        normal.iter().map(String::as_str).collect::<Vec<_>>(),
        ["cutover-model", "tiberius"]
    );
    assert!(all.contains("azure_core") && !all.contains("workspace"));
    assert_eq!(outside(&all, TUI_ALLOWED), ["azure_core", "tiberius"]);
    assert_eq!(refused(&all, &["azure_", "reqwest"]), ["azure_core"]);
    assert_eq!(refused(&all, &["cutover"]), Vec::<&str>::new());
    assert_eq!(refused(&all, &["cutover-"]), ["cutover-model"]);
}
