//! The TUI's imports, held to the architecture (issue 14): no file under `src/tui/` names anything
//! of the crate but `crate::tui` and `crate::model` (the types the UIs and the engine exchange), and
//! of the outside world only the crates allowed below. The TUI never reaches the engine's internals,
//! the source or target clients, the catalog or the storage.
//!
//! Allowed crates (as the TUI uses them today): `std`/`core`/`alloc`; `ratatui` and `crossterm`
//! (drawing, keys); `serde` (the wizard's values); `time` (clocks, offsets); `tokio` (the app loop's
//! channels and timers) and `futures` (crossterm's event stream); `async_trait` (the wizard's
//! backend trait the caller implements); `url` (checking a typed URL); `humansize` (byte sizes);
//! `tracing` (logging a terminal that could not be restored). Every other dependency of the root
//! package (`tiberius`, `azure_*`, `reqwest`, `axum`, `cutover_backup`...) is refused.
//!
//! A file's `#[cfg(test)] mod tests` (its last item) is not held to this: the TUI's unit tests may
//! build their snapshots with `crate::sample`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches: a failed unwrap fails the run

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// External crates a TUI file may name.
const ALLOWED_CRATES: &[&str] = &[
    "std",
    "core",
    "alloc",
    "ratatui",
    "crossterm",
    "serde",
    "time",
    "tokio",
    "futures",
    "async_trait",
    "url",
    "humansize",
    "tracing",
];

/// Modules of this crate a TUI file may name after `crate::`.
const ALLOWED_MODULES: &[&str] = &["tui", "model"];

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The dependencies of the root package (`[dependencies]` of Cargo.toml), as Rust names.
fn dependencies(manifest: &str) -> BTreeSet<String> {
    let mut deps = BTreeSet::new();
    let mut inside = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            inside = line == "[dependencies]";
            continue;
        }
        if !inside || line.starts_with('#') || line.is_empty() {
            continue;
        }
        if let Some((name, _)) = line.split_once('=') {
            let name = name.trim().split('.').next().unwrap_or("");
            deps.insert(name.replace('-', "_"));
        }
    }
    deps
}

/// The code a file is held to: all of it, but its trailing `#[cfg(test)] mod tests { ... }`.
/// Err when a `#[cfg(test)]` item is not the file's last item (the exemption would hide code).
fn product_code(text: &str) -> Result<&str, String> {
    let Some(at) = text.find("#[cfg(test)]") else {
        return Ok(text);
    };
    let rest = &text[at + "#[cfg(test)]".len()..];
    let Some(open) = rest.find('{') else {
        return Err("#[cfg(test)] without a module body".to_string());
    };
    if !rest[..open].trim_start().starts_with("mod ") {
        return Err("#[cfg(test)] on something other than a module".to_string());
    }
    let mut depth = 0usize;
    for (i, c) in rest[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    let after = &rest[open + i + 1..];
                    if after.trim().is_empty() {
                        return Ok(&text[..at]);
                    }
                    return Err("code after the #[cfg(test)] module".to_string());
                }
            }
            _ => {}
        }
    }
    Err("unbalanced braces in the #[cfg(test)] module".to_string())
}

/// The first segment after `crate::` (several for a `crate::{a::X, b::Y}` group).
fn crate_modules(after: &str) -> Vec<String> {
    let after = after.trim_start();
    if let Some(group) = after.strip_prefix('{') {
        let mut out = Vec::new();
        let mut depth = 0usize;
        let mut item = String::new();
        for c in group.chars() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    out.push(std::mem::take(&mut item));
                    continue;
                }
                _ => {}
            }
            item.push(c);
        }
        out.push(item);
        out.iter()
            .map(|i| i.trim().chars().take_while(|c| is_ident(*c)).collect())
            .filter(|s: &String| !s.is_empty())
            .collect()
    } else {
        vec![after.chars().take_while(|c| is_ident(*c)).collect()]
    }
}

/// What `code` (a module `depth` levels below the crate root: `tui` is 1) names that it must not.
fn violations(code: &str, depth: usize, forbidden_crates: &BTreeSet<String>) -> Vec<String> {
    let mut found = Vec::new();
    let chars: Vec<(usize, char)> = code.char_indices().collect();
    let mut k = 0;
    while k + 1 < chars.len() {
        let (pos, c) = chars[k];
        if !(c == ':' && chars[k + 1].1 == ':') {
            k += 1;
            continue;
        }
        // The identifier before this `::`, and whether it begins a path.
        let before = &code[..pos];
        let ident: String = before
            .chars()
            .rev()
            .take_while(|c| is_ident(*c))
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let ahead = &before[..before.len() - ident.len()];
        let continues_path = ahead.ends_with("::") && {
            let a = &ahead[..ahead.len() - 2];
            a.chars().last().is_some_and(|c| is_ident(c) || c == '>')
        };
        let after = &code[pos + 2..];
        if !ident.is_empty() && !continues_path {
            if ident == "crate" {
                for m in crate_modules(after) {
                    if !ALLOWED_MODULES.contains(&m.as_str()) {
                        found.push(format!("crate::{m}"));
                    }
                }
            } else if ident == "super" {
                // A chain of `super::` must stay inside `tui`.
                let mut chain = 1;
                let mut rest = after;
                while let Some(r) = rest.strip_prefix("super::") {
                    chain += 1;
                    rest = r;
                }
                if chain >= depth {
                    found.push(format!("{} leaves the tui module", "super::".repeat(chain)));
                }
            } else if forbidden_crates.contains(&ident) {
                found.push(format!("{ident}::"));
            }
        }
        k += 2;
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `src/tui/mod.rs` is `tui` (1), `src/tui/app.rs` is `tui::app` (2), `src/tui/cutover/view.rs` 3.
fn module_depth(rel: &Path) -> usize {
    let parts = rel.components().count();
    if rel.file_name().is_some_and(|f| f == "mod.rs") {
        parts - 1
    } else {
        parts
    }
}

fn forbidden_crates() -> BTreeSet<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let mut forbidden = dependencies(&manifest);
    for ok in ALLOWED_CRATES {
        forbidden.remove(*ok);
    }
    forbidden.insert("cutover_backup".to_string());
    forbidden
}

#[test]
fn no_tui_file_names_anything_but_the_model_its_own_modules_and_allowed_crates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let forbidden = forbidden_crates();
    for must in [
        "tiberius",
        "azure_core",
        "reqwest",
        // The emulators (axum comes with them, now only through this crate).
        "cutover_sandbox",
        "cutover_backup",
    ] {
        assert!(forbidden.contains(must), "{must} should be refused");
    }
    let mut files = Vec::new();
    rust_files(&root.join("src/tui"), &mut files);
    files.sort();
    assert!(files.len() > 20, "src/tui has {} files?", files.len());
    let mut problems = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let rel = f.strip_prefix(root.join("src")).unwrap();
        match product_code(&text) {
            Err(e) => problems.push(format!("{}: {e}", rel.display())),
            Ok(code) => {
                for v in violations(code, module_depth(rel), &forbidden) {
                    problems.push(format!("{}: names {v}", rel.display()));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "the TUI may import only crate::tui, crate::model and {ALLOWED_CRATES:?}:\n{}",
        problems.join("\n")
    );
}

/// The checker itself: each way of reaching past the model is caught, the allowed ones are not.
#[test]
fn the_checker_catches_what_it_must() {
    let forbidden = forbidden_crates();
    let v = |code: &str, depth: usize| violations(code, depth, &forbidden);
    assert!(v("use crate::model::Phase;\nuse crate::tui::theme::Theme;", 2).is_empty());
    assert!(
        v(
            "use ratatui::Frame; use super::format; let x = std::mem::take(&mut y);",
            2
        )
        .is_empty()
    );
    assert!(v("use super::cutover::{self, CutoverDialog};", 3).is_empty());
    assert_eq!(v("use crate::engine::Phase;", 2), ["crate::engine"]);
    assert_eq!(
        v("use crate::{model::Phase, source::tail::StopTraffic};", 2),
        ["crate::source"]
    );
    assert_eq!(
        v("let f = crate::source::tail::tail_file_name(a, b, c);", 3),
        ["crate::source"]
    );
    assert_eq!(v("use super::super::engine::Phase;", 2).len(), 1);
    assert_eq!(v("use super::engine::Phase;", 1).len(), 1);
    assert_eq!(v("let c = tiberius::Client::connect();", 2), ["tiberius::"]);
    assert_eq!(v("use ::reqwest::Client;", 2), ["reqwest::"]);
    assert_eq!(v("use cutover_backup::Lsn;", 2), ["cutover_backup::"]);
    assert!(v("use ratatui::widgets::Block; x.y::<u8>();", 2).is_empty());
    assert_eq!(
        product_code("use a;\n#[cfg(test)]\nmod tests {\n    use crate::sample;\n}\n"),
        Ok("use a;\n")
    );
    assert!(product_code("#[cfg(test)]\nmod tests {}\nuse crate::engine::X;\n").is_err());
    assert!(product_code("#[cfg(test)]\nuse crate::engine::X;\nmod m {}\n").is_err());
}
