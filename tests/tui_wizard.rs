//! The wizard: every screen rendered (insta, 80x24 and 160x48) and its key handling driven on the
//! pure state, with the backend's answers handed in by hand (no connection anywhere).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use cutover::catalog::{Code, Finding, Severity};
use cutover::tui::Theme;
use cutover::tui::sample;
use cutover::tui::wizard::{
    self, JobStatus, Screen, SourceSummary, WizardOutcome, WizardRequest, WizardResult,
    WizardState, WizardValues,
};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn key(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}
fn ctrl(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
}
fn press(s: &mut WizardState, keys: &[KeyEvent]) -> Vec<WizardRequest> {
    keys.iter().flat_map(|k| s.handle_key(*k)).collect()
}
fn type_text(s: &mut WizardState, t: &str) {
    for c in t.chars() {
        s.handle_key(key(KeyCode::Char(c)));
    }
}

fn summary() -> SourceSummary {
    SourceSummary {
        server: "sql01 (Microsoft SQL Server 2019 15.0.4355.3)".to_string(),
        databases: sample::source_databases(),
    }
}

fn finding(sev: Severity, code: Code, msg: &str) -> Finding {
    Finding::new(code, sev, None, msg, "do the fix")
}

/// Answers a request like a backend would.
fn answer(s: &mut WizardState, reqs: Vec<WizardRequest>, preflight: &[(String, Vec<Finding>)]) {
    for r in reqs {
        let res = match r {
            WizardRequest::TestSource { id, .. } => WizardResult::Source {
                id,
                result: Ok(summary()),
            },
            WizardRequest::TestTarget { id, .. } => WizardResult::Target {
                id,
                result: Ok("mi-contoso (General Purpose, 8 vCores, West Europe)".to_string()),
            },
            WizardRequest::Preflight { id, .. } => WizardResult::Preflight {
                id,
                result: Ok(preflight.to_vec()),
            },
        };
        s.on_result(res);
    }
}

/// Walks a prefilled wizard to `screen`, answering every request.
fn at(screen: Screen, preflight: &[(String, Vec<Finding>)]) -> WizardState {
    let mut s = WizardState::new(sample::wizard_values());
    while s.screen != screen {
        let reqs = press(&mut s, &[key(KeyCode::Enter)]);
        assert_eq!(s.error, None, "on {:?}", s.screen);
        answer(&mut s, reqs, preflight);
    }
    s
}

fn snap(name: &str, s: &WizardState) {
    for (w, h) in [(80u16, 24u16), (160, 48)] {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| wizard::render(f, s, Theme::default())).unwrap();
        insta::assert_snapshot!(format!("wizard_{name}_{w}x{h}"), t.backend());
    }
}

fn warnings() -> Vec<(String, Vec<Finding>)> {
    vec![
        ("sales".to_string(), vec![]),
        (
            "legacy".to_string(),
            vec![finding(
                Severity::Warning,
                Code::TdeEnabled,
                "legacy uses Transparent Data Encryption",
            )],
        ),
    ]
}

#[test]
fn screens_render() {
    let mut s = WizardState::new(WizardValues::default());
    snap("1_source_empty", &s);
    press(&mut s, &[key(KeyCode::Enter)]);
    snap("1_source_error", &s);

    let mut s = at(Screen::Source, &[]);
    // Trust server certificate on: DMS's warning shows.
    s.source.focus("trust");
    press(&mut s, &[key(KeyCode::Char(' '))]);
    let reqs = press(&mut s, &[ctrl('t')]);
    snap("1_source_testing", &s);
    answer(&mut s, reqs, &[]);
    snap("1_source_tested", &s);

    let mut s = at(Screen::Target, &[]);
    s.target.focus("credential");
    press(&mut s, &[key(KeyCode::Right), key(KeyCode::Right)]); // -> service principal
    snap("2_target_service_principal", &s);
    press(&mut s, &[key(KeyCode::Enter)]);
    assert!(
        s.error.as_deref().unwrap().starts_with("Tenant ID"),
        "{:?}",
        s.error
    );

    let mut s = at(Screen::Databases, &[]);
    press(&mut s, &[key(KeyCode::Down)]); // on hr (SIMPLE recovery)
    snap("3_databases", &s);

    let mut s = at(Screen::Settings, &[]);
    s.settings.focus("advanced");
    press(&mut s, &[key(KeyCode::Char(' '))]);
    snap("4_settings_advanced", &s);

    let s = at(Screen::Summary, &warnings());
    snap("5_summary_warnings", &s);
    let s = at(
        Screen::Summary,
        &[(
            "sales".to_string(),
            vec![finding(
                Severity::Error,
                Code::LogChainGap,
                "the log chain breaks",
            )],
        )],
    );
    snap("5_summary_errors", &s);
}

#[test]
fn each_screen_validates_before_next_and_names_the_field() {
    let mut s = WizardState::new(WizardValues::default());
    press(&mut s, &[key(KeyCode::Enter)]);
    assert_eq!(s.screen, Screen::Source);
    assert_eq!(s.error.as_deref(), Some("Server: required"));
    type_text(&mut s, "sql01");
    press(&mut s, &[key(KeyCode::Enter)]);
    assert!(s.error.as_deref().unwrap().starts_with("User:"));
    s.source.focus("port");
    type_text(&mut s, "99999");
    press(&mut s, &[key(KeyCode::Enter)]);
    assert!(s.error.as_deref().unwrap().starts_with("Port or instance:"));
    // Plain text only to loopback.
    let mut s = at(Screen::Source, &[]);
    s.source.focus("encrypt");
    press(&mut s, &[key(KeyCode::Char(' ')), key(KeyCode::Enter)]);
    assert!(
        s.error
            .as_deref()
            .unwrap()
            .starts_with("Encrypt connection:")
    );

    let mut s = at(Screen::Settings, &[]);
    s.settings.focus("concurrency");
    press(
        &mut s,
        &[
            key(KeyCode::Backspace),
            key(KeyCode::Char('0')),
            key(KeyCode::Enter),
        ],
    );
    assert_eq!(s.screen, Screen::Settings);
    assert_eq!(
        s.error.as_deref(),
        Some("Files uploaded at once: a whole number from 1 to 64")
    );
}

#[test]
fn back_keeps_what_was_typed() {
    let mut s = at(Screen::Target, &[]);
    press(&mut s, &[key(KeyCode::Esc)]);
    assert_eq!(s.screen, Screen::Source);
    assert_eq!(s.source.text("server"), "sql01.contoso.local");
    press(&mut s, &[key(KeyCode::Esc)]);
    assert!(s.confirm_cancel, "Esc on the first screen asks to leave");
    press(&mut s, &[key(KeyCode::Char('y'))]);
    assert_eq!(s.outcome, Some(WizardOutcome::Cancelled));
}

#[test]
fn test_connection_runs_in_the_background_and_stale_answers_are_dropped() {
    let mut s = at(Screen::Target, &[]);
    let first = press(&mut s, &[ctrl('t')]);
    let second = press(&mut s, &[ctrl('t')]);
    assert!(s.target_test.running());
    assert!(s.animating());
    // The first (superseded) answer arrives late: ignored.
    let WizardRequest::TestTarget { id, .. } = first[0] else {
        panic!("{first:?}")
    };
    s.on_result(WizardResult::Target {
        id,
        result: Err("stale".into()),
    });
    assert!(s.target_test.running());
    answer(&mut s, second, &[]);
    assert!(matches!(&s.target_test, JobStatus::Done(Ok(t)) if t.starts_with("mi-contoso")));
}

#[test]
fn databases_select_filter_and_need_one() {
    let mut s = at(Screen::Databases, &[]);
    assert_eq!(s.values.databases, ["sales", "legacy"]);
    press(&mut s, &[key(KeyCode::Char('a'))]);
    assert_eq!(s.values.databases, ["sales", "hr", "legacy", "reporting"]);
    press(&mut s, &[key(KeyCode::Char('a'))]);
    assert!(s.values.databases.is_empty());
    press(&mut s, &[key(KeyCode::Enter)]);
    assert!(s.error.as_deref().unwrap().starts_with("Databases:"));
    press(&mut s, &[key(KeyCode::Char('/'))]);
    type_text(&mut s, "rep");
    press(
        &mut s,
        &[
            key(KeyCode::Enter),
            key(KeyCode::Char(' ')),
            key(KeyCode::Enter),
        ],
    );
    assert_eq!(s.values.databases, ["reporting"]);
    assert_eq!(s.screen, Screen::Settings);
    // The settings form has a folder field for the selected database.
    assert!(
        s.settings
            .fields
            .iter()
            .any(|f| f.key == "folder:reporting")
    );
}

#[test]
fn errors_block_run_and_warnings_need_the_acknowledgement() {
    let errors = [(
        "sales".to_string(),
        vec![finding(Severity::Error, Code::LogChainGap, "gap")],
    )];
    let mut s = at(Screen::Summary, &errors);
    press(&mut s, &[key(KeyCode::Enter)]);
    assert!(s.error.as_deref().unwrap().starts_with("Run is blocked"));
    assert_eq!(s.outcome, None);

    let mut s = at(Screen::Summary, &warnings());
    press(&mut s, &[key(KeyCode::Enter)]);
    assert!(s.error.as_deref().unwrap().starts_with("Acknowledge"));
    assert_eq!(s.outcome, None);
    // The cursor is now on the acknowledgement: Space, then Enter runs.
    press(&mut s, &[key(KeyCode::Char(' ')), key(KeyCode::Enter)]);
    match &s.outcome {
        Some(WizardOutcome::Run(v)) => {
            assert_eq!(v.activity, "contoso-2026-03");
            assert_eq!(v.databases, ["sales", "legacy"]);
            assert_eq!(v.source.password.expose(), "s3cret!");
        }
        o => panic!("expected Run, got {o:?}"),
    }
}

#[test]
fn exported_values_have_no_secrets() {
    let v = sample::wizard_values();
    let json = serde_json::to_string(&v).unwrap();
    assert!(!json.contains("s3cret"), "{json}");
    assert!(!json.contains("sig=abc"), "{json}");
    assert!(json.contains("sql01.contoso.local"));
    assert!(
        !format!("{v:?}").contains("s3cret"),
        "Debug hides secrets too"
    );
}
