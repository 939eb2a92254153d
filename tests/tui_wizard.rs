//! The wizard: every screen rendered (insta, 80x24 and 160x48) and its key handling driven on the
//! pure state, with the backend's answers handed in by hand (no connection anywhere).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests and benches: a failed unwrap fails the run

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use cutover::catalog::{Code, Finding, Severity};
use cutover::model::{LoginRow, LoginStatus};
use cutover::sample;
use cutover::tui::Theme;
use cutover::tui::wizard::{
    self, EnvCheck, JobStatus, PreflightReport, SaveOutcome, Screen, SourceSummary, WizardOutcome,
    WizardRequest, WizardResult, WizardState, WizardValues,
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
        findings: cutover::cli::wizard::source_findings(&sample::source_databases()),
        logins: logins(),
    }
}

/// The source's logins as the backend lists them: used by sales and reporting, by hr, by none.
fn logins() -> Vec<LoginRow> {
    let row = |login: &str, kind: &str, used_by: &[&str]| LoginRow {
        login: login.into(),
        kind: kind.into(),
        target: login.into(),
        used_by: used_by.iter().map(|u| u.to_string()).collect(),
        status: LoginStatus::Pending,
    };
    vec![
        row("app", "SQL login", &["reporting.app", "sales.app"]),
        row("hr_app", "SQL login", &["hr.hr_app"]),
        row("etl", "SQL login", &[]),
        row("CONTOSO\\dba", "Windows group", &[]),
    ]
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
            WizardRequest::TestBackups { id, settings } => WizardResult::Backups {
                id,
                result: Ok(format!(
                    "{}: 12 file(s), 2 database(s), signed in to the share as {}\nsales: full sales_full.bak 2026-11-30 22:00:00; newest log sales_log_0945.trn 2026-12-01 09:45:00\nhr: full hr_full.bak 2026-11-30 22:10:00; newest log none",
                    settings.backup_folder, settings.smb_user
                )),
            },
            WizardRequest::ScanFolder { id, folder, .. } => WizardResult::Source {
                id,
                result: Ok(SourceSummary {
                    server: format!("backup folder {folder}: 4 database(s)"),
                    // What a folder tells: no recovery model or state without the source.
                    databases: sample::source_databases()
                        .into_iter()
                        .map(|mut d| {
                            d.recovery_model = "-".to_string();
                            d.state = "-".to_string();
                            d.is_encrypted = false;
                            d
                        })
                        .collect(),
                    findings: Default::default(),
                    logins: Vec::new(),
                }),
            },
            WizardRequest::Preflight { id, .. } => WizardResult::Preflight {
                id,
                result: Ok(PreflightReport {
                    databases: preflight.to_vec(),
                    ..Default::default()
                }),
            },
            WizardRequest::Azure { id, list, .. } => WizardResult::Azure {
                id,
                result: Ok(estate(list)),
            },
            WizardRequest::StorageChecks { id, request } => WizardResult::StorageChecks {
                id,
                result: Ok(vec![cutover::model::AzureCheck {
                    code: "STORAGE_FIREWALL_OPEN".into(),
                    severity: Severity::Info,
                    message: format!("{} lets the instance in", request.account.name),
                    fix: String::new(),
                }]),
            },
            WizardRequest::SaveConfig { id, path, .. } => WizardResult::Save {
                id,
                result: Ok(SaveOutcome::Saved {
                    path,
                    env: vec!["CUTOVER_SOURCE_PASSWORD (source password)".to_string()],
                }),
            },
        };
        s.on_result(res);
    }
}

/// A wizard on `values` in a shell where no environment variable is set (the screens do not
/// depend on the machine's environment).
fn wizard(values: WizardValues) -> WizardState {
    WizardState::new(values).with_env(EnvCheck::Fixed(Default::default()))
}

/// Walks a prefilled wizard to `screen`, answering every request.
fn at(screen: Screen, preflight: &[(String, Vec<Finding>)]) -> WizardState {
    let mut s = wizard(sample::wizard_values());
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
    let mut s = wizard(WizardValues::default());
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
    press(&mut s, &[key(KeyCode::Left)]); // Azure CLI -> service principal
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
    let mut s = wizard(WizardValues::default());
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

#[test]
fn ctrl_s_on_the_summary_saves_and_asks_before_overwriting() {
    let mut s = at(Screen::Summary, &warnings());
    // Elsewhere Ctrl-S only says where it works.
    let mut elsewhere = at(Screen::Settings, &[]);
    assert!(press(&mut elsewhere, &[ctrl('s')]).is_empty());
    assert!(elsewhere.save.is_none());
    assert!(elsewhere.notice.as_deref().unwrap().contains("Summary"));

    assert!(press(&mut s, &[ctrl('s')]).is_empty());
    assert_eq!(
        s.save.as_ref().map(|p| p.path.as_str()),
        Some("./cutover.toml")
    );
    snap("5_summary_save_prompt", &s);
    // Edit the path: "./cutover.toml" -> "./mig.toml".
    for _ in 0.."cutover.toml".len() {
        press(&mut s, &[key(KeyCode::Backspace)]);
    }
    type_text(&mut s, "mig.toml");
    let reqs = press(&mut s, &[key(KeyCode::Enter)]);
    let [
        WizardRequest::SaveConfig {
            id,
            path,
            values,
            overwrite,
        },
    ] = reqs.as_slice()
    else {
        panic!("{reqs:?}")
    };
    assert_eq!(path, "./mig.toml");
    assert!(!overwrite, "the first attempt never overwrites");
    assert_eq!(values.activity, "contoso-2026-03");
    // Keys are ignored while the save runs.
    assert!(press(&mut s, &[key(KeyCode::Char('x'))]).is_empty());
    // The file exists: the second confirmation.
    s.on_result(WizardResult::Save {
        id: *id,
        result: Ok(SaveOutcome::Exists {
            path: "/work/mig.toml".to_string(),
        }),
    });
    assert!(s.save.as_ref().unwrap().confirm_overwrite);
    snap("5_summary_save_overwrite", &s);
    // n: back to the path, nothing sent.
    assert!(press(&mut s, &[key(KeyCode::Char('n'))]).is_empty());
    assert!(!s.save.as_ref().unwrap().confirm_overwrite);
    let reqs = press(&mut s, &[key(KeyCode::Enter)]);
    let WizardRequest::SaveConfig { id, .. } = &reqs[0] else {
        panic!("{reqs:?}")
    };
    s.on_result(WizardResult::Save {
        id: *id,
        result: Ok(SaveOutcome::Exists {
            path: "/work/mig.toml".to_string(),
        }),
    });
    // y: sent again, now replacing.
    let reqs = press(&mut s, &[key(KeyCode::Char('y'))]);
    let [WizardRequest::SaveConfig { id, overwrite, .. }] = reqs.as_slice() else {
        panic!("{reqs:?}")
    };
    assert!(*overwrite);
    s.on_result(WizardResult::Save {
        id: *id,
        result: Ok(SaveOutcome::Saved {
            path: "/work/mig.toml".to_string(),
            env: vec!["CUTOVER_SOURCE_PASSWORD (source password)".to_string()],
        }),
    });
    assert!(s.save.is_none());
    let n = s.notice.clone().unwrap();
    assert!(
        n.contains("/work/mig.toml") && n.contains("CUTOVER_SOURCE_PASSWORD"),
        "{n}"
    );
    assert_eq!(
        s.config_path, "/work/mig.toml",
        "the next Ctrl-S proposes it"
    );
    snap("5_summary_saved", &s);
    assert_eq!(s.outcome, None, "saving does not run the migration");

    // A failed save keeps the prompt with the reason; Esc closes it.
    press(&mut s, &[ctrl('s')]);
    let reqs = press(&mut s, &[key(KeyCode::Enter)]);
    let WizardRequest::SaveConfig { id, .. } = &reqs[0] else {
        panic!("{reqs:?}")
    };
    s.on_result(WizardResult::Save {
        id: *id,
        result: Err("/nope/x.toml: the folder /nope does not exist".to_string()),
    });
    assert!(
        s.save
            .as_ref()
            .unwrap()
            .error
            .as_deref()
            .unwrap()
            .contains("/nope")
    );
    press(&mut s, &[key(KeyCode::Esc)]);
    assert!(s.save.is_none());
    assert_eq!(s.screen, Screen::Summary);
}

#[test]
fn ctrl_s_needs_a_valid_activity_name_and_a_path() {
    let mut s = at(Screen::Summary, &[]);
    s.summary.focus("activity");
    type_text(&mut s, " x");
    press(&mut s, &[ctrl('s')]);
    assert!(s.save.is_none());
    assert!(s.error.as_deref().unwrap().starts_with("Activity name"));
    press(&mut s, &[key(KeyCode::Backspace), key(KeyCode::Backspace)]);
    press(&mut s, &[ctrl('s')]);
    for _ in 0.."./cutover.toml".len() {
        press(&mut s, &[key(KeyCode::Backspace)]);
    }
    assert!(press(&mut s, &[key(KeyCode::Enter)]).is_empty());
    assert!(
        s.save
            .as_ref()
            .unwrap()
            .error
            .as_deref()
            .unwrap()
            .starts_with("Path:")
    );
}

#[test]
fn backup_folder_only_lists_the_folder_and_skips_the_connection() {
    let mut s = wizard(sample::wizard_values());
    s.source.focus("mode");
    press(&mut s, &[key(KeyCode::Char(' '))]);
    // The connection fields are gone; the backup folder (prefilled) is asked here.
    assert!(
        !s.source
            .fields
            .iter()
            .enumerate()
            .any(|(i, f)| f.key == "server" && s.source.visible(i))
    );
    assert_eq!(s.source.text("folder"), "/backups");
    snap("1_source_folder_only", &s);
    s.source.focus("folder");
    for _ in 0.."/backups".len() {
        press(&mut s, &[key(KeyCode::Backspace)]);
    }
    press(&mut s, &[key(KeyCode::Enter)]);
    assert!(s.error.as_deref().unwrap().starts_with("Backup folder:"));
    type_text(&mut s, "/mnt/bak");
    // Ctrl-T scans the folder (no connection).
    let reqs = press(&mut s, &[ctrl('t')]);
    assert!(
        matches!(&reqs[..], [WizardRequest::ScanFolder { folder, .. }] if folder == "/mnt/bak"),
        "{reqs:?}"
    );
    answer(&mut s, reqs, &[]);
    let reqs = press(&mut s, &[key(KeyCode::Enter)]);
    assert!(reqs.is_empty());
    assert_eq!(s.screen, Screen::Target);
    assert!(s.values.source.folder_only);
    assert_eq!(s.values.settings.backup_folder, "/mnt/bak");
    // The databases come from the folder scan done above.
    press(&mut s, &[key(KeyCode::Enter)]);
    assert_eq!(s.screen, Screen::Databases);
    snap("3_databases_folder_only", &s);
    press(&mut s, &[key(KeyCode::Enter)]);
    assert_eq!(s.screen, Screen::Settings);
    // The folder was chosen on the Source screen; the server's view of it is not needed.
    for k in ["folder", "server_folder"] {
        let i = s.settings.fields.iter().position(|f| f.key == k).unwrap();
        assert!(!s.settings.visible(i), "{k} is hidden");
    }
    assert_eq!(s.settings.text("folder"), "/mnt/bak");
    let reqs = press(&mut s, &[key(KeyCode::Enter)]);
    assert_eq!(s.error, None);
    answer(&mut s, reqs, &[]);
    snap("5_summary_folder_only", &s);
    press(&mut s, &[key(KeyCode::Enter)]);
    match &s.outcome {
        Some(WizardOutcome::Run(v)) => {
            assert!(v.source.folder_only);
            assert_eq!(v.settings.backup_folder, "/mnt/bak");
        }
        o => panic!("expected Run, got {o:?}"),
    }

    // Switching the source again forgets the folder's list.
    let mut s = at(Screen::Databases, &[]);
    press(&mut s, &[key(KeyCode::Esc), key(KeyCode::Esc)]);
    assert_eq!(s.screen, Screen::Source);
    s.source.focus("mode");
    press(&mut s, &[key(KeyCode::Char(' '))]);
    press(&mut s, &[key(KeyCode::Enter)]);
    assert_eq!(s.source_test, JobStatus::Idle);
    assert_eq!(s.screen, Screen::Target);
    let reqs = press(&mut s, &[key(KeyCode::Enter)]);
    assert!(
        matches!(&reqs[..], [WizardRequest::ScanFolder { folder, .. }] if folder == "/backups"),
        "{reqs:?}"
    );
}

/// A share as the only source: the Source screen asks the SMB account (like Migration settings
/// does for a share), requires the user, and its Ctrl-T scans the share with that account, which
/// Migration settings then shows.
#[test]
fn a_share_as_the_only_source_asks_the_smb_account_on_the_source_screen() {
    let mut s = wizard(sample::wizard_values());
    s.source.focus("mode");
    press(&mut s, &[key(KeyCode::Char(' '))]);
    let shown = |s: &WizardState, k: &str| {
        let i = s.source.fields.iter().position(|f| f.key == k).unwrap();
        s.source.visible(i)
    };
    // A local folder: no account asked.
    assert!(!shown(&s, "smb_user") && !shown(&s, "smb_password_env"));
    s.source.focus("folder");
    for _ in 0.."/backups".len() {
        press(&mut s, &[key(KeyCode::Backspace)]);
    }
    type_text(&mut s, r"\\fs01\backups\SQL01");
    assert!(shown(&s, "smb_user") && shown(&s, "smb_password_env"));
    assert_eq!(s.source.text("smb_password_env"), "CUTOVER_SMB_PASSWORD");
    snap("1_source_folder_only_share", &s);
    // The user is required for a share.
    let reqs = press(&mut s, &[ctrl('t')]);
    assert!(reqs.is_empty(), "{reqs:?}");
    assert!(
        s.error.as_deref().unwrap_or("").starts_with("SMB user:"),
        "{:?}",
        s.error
    );
    s.source.focus("smb_user");
    type_text(&mut s, r"CORP\svc_backup");
    let reqs = press(&mut s, &[ctrl('t')]);
    assert!(
        matches!(&reqs[..], [WizardRequest::ScanFolder { folder, smb_user, smb_password_env, .. }]
            if folder == r"\\fs01\backups\SQL01" && smb_user == r"CORP\svc_backup"
                && smb_password_env == "CUTOVER_SMB_PASSWORD"),
        "{reqs:?}"
    );
    answer(&mut s, reqs, &[]);
    press(&mut s, &[key(KeyCode::Enter)]);
    assert_eq!(s.screen, Screen::Target);
    assert_eq!(s.values.settings.smb_user, r"CORP\svc_backup");
    // Migration settings shows the same account.
    press(&mut s, &[key(KeyCode::Enter), key(KeyCode::Enter)]);
    assert_eq!(s.screen, Screen::Settings);
    assert_eq!(s.settings.text("smb_user"), r"CORP\svc_backup");
}

#[test]
fn the_managed_instance_sas_is_asked_unless_cutover_can_sign_it() {
    let mut s = at(Screen::Settings, &[]);
    s.settings.focus("mi_sas");
    for _ in 0..s.settings.text("mi_sas").len() {
        press(&mut s, &[key(KeyCode::Backspace)]);
    }
    press(&mut s, &[key(KeyCode::Enter)]);
    assert!(
        s.error
            .as_deref()
            .unwrap()
            .starts_with("MI SAS (Read + List)")
    );
    type_text(&mut s, "sv=2024-11-04&sp=rcwl&sig=x");
    press(&mut s, &[key(KeyCode::Enter)]);
    assert!(
        s.error.as_deref().unwrap().contains("sp=rl"),
        "{:?}",
        s.error
    );
    // With an account key cutover signs it: the field goes away and is not needed.
    s.settings.focus("storage_auth");
    press(&mut s, &[key(KeyCode::Right)]);
    let i = s
        .settings
        .fields
        .iter()
        .position(|f| f.key == "mi_sas")
        .unwrap();
    assert!(!s.settings.visible(i));
    s.settings.focus("key_env");
    type_text(&mut s, "CUTOVER_STORAGE_KEY");
    // The key is read from the variable when the migration starts: not set here, refused here.
    press(&mut s, &[key(KeyCode::Enter)]);
    assert_eq!(s.screen, Screen::Settings);
    assert!(
        s.error
            .as_deref()
            .is_some_and(|e| e.starts_with("Account key variable: CUTOVER_STORAGE_KEY is not set")),
        "{:?}",
        s.error
    );
    s.env = EnvCheck::Fixed(["CUTOVER_STORAGE_KEY".to_string()].into());
    press(&mut s, &[key(KeyCode::Enter)]);
    assert_eq!(s.error, None);
    assert_eq!(s.screen, Screen::Summary);
    assert_eq!(s.values.settings.mi_sas_token.expose(), "");
}

#[test]
fn a_real_migration_does_not_offer_the_sandbox() {
    let s = wizard(WizardValues::default()).without_sandbox();
    let i = s
        .target
        .fields
        .iter()
        .position(|f| f.key == "sandbox")
        .unwrap();
    assert!(!s.target.visible(i));
    assert_ne!(s.target.focused_key(), "sandbox");
}

#[test]
fn the_backup_folder_is_one_value_on_both_screens() {
    let mut s = at(Screen::Settings, &[]);
    s.settings.focus("folder");
    for _ in 0.."/backups".len() {
        press(&mut s, &[key(KeyCode::Backspace)]);
    }
    type_text(&mut s, "/srv/bak");
    press(&mut s, &[key(KeyCode::Enter)]);
    assert_eq!(s.screen, Screen::Summary);
    press(&mut s, &[key(KeyCode::Esc); 4]);
    assert_eq!(s.screen, Screen::Source);
    s.source.focus("mode");
    press(&mut s, &[key(KeyCode::Char(' '))]);
    assert_eq!(s.source.text("folder"), "/srv/bak");
}

#[test]
fn a_sas_pasted_with_the_container_url_is_masked_after_entry() {
    let mut s = at(Screen::Settings, &[]);
    s.settings.focus("sas");
    for _ in 0..s.settings.text("sas").len() {
        press(&mut s, &[key(KeyCode::Backspace)]);
    }
    s.settings.focus("container");
    type_text(&mut s, "?sv=2024&sp=rcwl&sig=pasted");
    press(&mut s, &[key(KeyCode::Enter)]);
    assert_eq!(s.error, None);
    assert_eq!(
        s.values.settings.container_url,
        "https://contosomig.blob.core.windows.net/migration"
    );
    assert_eq!(
        s.values.settings.sas_token.expose(),
        "sv=2024&sp=rcwl&sig=pasted"
    );
    assert_eq!(
        s.settings.text("container"),
        "https://contosomig.blob.core.windows.net/migration"
    );
    press(&mut s, &[key(KeyCode::Esc)]);
    let mut t = Terminal::new(TestBackend::new(160, 48)).unwrap();
    t.draw(|f| wizard::render(f, &s, Theme::default())).unwrap();
    let screen = t.backend().to_string();
    assert!(!screen.contains("sig=pasted"), "{screen}");
}

/// The rendered screen as text, one string per row.
fn rows(s: &WizardState, w: u16, h: u16) -> Vec<String> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| wizard::render(f, s, Theme::default())).unwrap();
    let buf = t.backend().buffer().clone();
    (0..h)
        .map(|y| (0..w).map(|x| buf[(x, y)].symbol().to_string()).collect())
        .collect()
}

/// Defect 6: the validation message of the last Next goes when what it asked for is done (it
/// said "select at least one" with 4 of 4 selected), and names the next problem otherwise.
#[test]
fn a_validation_message_goes_once_the_screen_is_fixed() {
    let mut s = at(Screen::Databases, &[]);
    press(&mut s, &[key(KeyCode::Char('a')), key(KeyCode::Char('a'))]);
    assert!(s.values.databases.is_empty());
    press(&mut s, &[key(KeyCode::Enter)]);
    assert!(
        s.error
            .as_deref()
            .unwrap()
            .starts_with("Databases: select at least one")
    );
    press(&mut s, &[key(KeyCode::Char('a'))]);
    assert_eq!(s.values.databases.len(), 4);
    assert_eq!(s.error, None, "4 of 4 selected: nothing to complain about");
    assert!(!rows(&s, 80, 24).concat().contains("select at least one"));

    // On a form: the message follows the fields.
    let mut s = wizard(WizardValues::default());
    press(&mut s, &[key(KeyCode::Enter)]);
    assert_eq!(s.error.as_deref(), Some("Server: required"));
    type_text(&mut s, "sql01");
    assert!(
        s.error.as_deref().is_some_and(|e| e.starts_with("User:")),
        "{:?}",
        s.error
    );
    // Moving the cursor changes nothing and keeps the message.
    press(&mut s, &[key(KeyCode::Down)]);
    assert!(s.error.as_deref().is_some_and(|e| e.starts_with("User:")));
}

/// Defect 6: a connection test's result belongs to the values it tested: any edit of a field
/// of the screen clears it ("Connected" stayed after the subscription was changed to garbage).
#[test]
fn editing_a_tested_field_clears_the_test_result() {
    let mut s = at(Screen::Target, &[]);
    let reqs = press(&mut s, &[ctrl('t')]);
    answer(&mut s, reqs, &[]);
    assert!(matches!(s.target_test, JobStatus::Done(Ok(_))));
    assert!(rows(&s, 80, 24).concat().contains("Connected: mi-contoso"));
    s.target.focus("subscription");
    type_text(&mut s, "garbage");
    assert_eq!(s.target_test, JobStatus::Idle);
    let screen = rows(&s, 80, 24).concat();
    assert!(!screen.contains("Connected"), "{screen}");
    assert!(screen.contains("Test connection (Ctrl-T)"), "{screen}");
    // A late answer to the request made before the edit is dropped.
    let mut s = at(Screen::Target, &[]);
    let reqs = press(&mut s, &[ctrl('t')]);
    s.target.focus("group");
    type_text(&mut s, "x");
    answer(&mut s, reqs, &[]);
    assert_eq!(s.target_test, JobStatus::Idle);
    // The Source screen likewise.
    let mut s = at(Screen::Source, &[]);
    let reqs = press(&mut s, &[ctrl('t')]);
    answer(&mut s, reqs, &[]);
    assert!(matches!(s.source_test, JobStatus::Done(Ok(_))));
    s.source.focus("password");
    type_text(&mut s, "!");
    assert_eq!(s.source_test, JobStatus::Idle);
}

/// Defect 10: the footer names Space only where Space toggles or chooses; on the Summary's
/// "Activity name" Space is typed, so the footer says so.
#[test]
fn the_footer_names_what_keys_do_on_the_focused_field() {
    let mut s = at(Screen::Summary, &warnings());
    assert_eq!(s.summary.focused_key(), "activity");
    let foot = rows(&s, 80, 24).pop().unwrap();
    assert!(!foot.contains("Space"), "{foot}");
    assert!(foot.contains("type edit"), "{foot}");
    press(&mut s, &[key(KeyCode::Char(' '))]);
    assert_eq!(
        s.summary.text("activity"),
        "contoso-2026-03 ",
        "Space is typed"
    );
    press(&mut s, &[key(KeyCode::Backspace), key(KeyCode::Down)]);
    assert_eq!(s.summary.focused_key(), "ack");
    let foot = rows(&s, 80, 24).pop().unwrap();
    assert!(foot.contains("Space toggle"), "{foot}");
    press(&mut s, &[key(KeyCode::Char(' '))]);
    assert!(s.summary.on("ack"));
    // A choice.
    let s = at(Screen::Source, &[]);
    let mut s2 = s.clone();
    s2.source.focus("auth");
    let foot = rows(&s2, 80, 24).pop().unwrap();
    assert!(foot.contains("Space choose"), "{foot}");
}

/// Defect 7: the configuration check's warnings (what `cutover run` would print) are on the
/// Summary before Run and need the acknowledgement; its error blocks Run.
#[test]
fn configuration_warnings_are_on_the_summary_before_run() {
    let mut s = at(Screen::Summary, &[]);
    let reqs = press(&mut s, &[key(KeyCode::Esc), key(KeyCode::Enter)]);
    let id = match reqs.as_slice() {
        [WizardRequest::Preflight { id, .. }] => *id,
        r => panic!("{r:?}"),
    };
    s.on_result(WizardResult::Preflight {
        id,
        result: Ok(PreflightReport {
            databases: vec![("sales".to_string(), vec![])],
            config_warnings: vec![
                "managed instance SAS: the SAS expires at 2026-03-08T00:00:00Z (in 6d 23h), before the migration is expected to finish".to_string(),
            ],
            config_error: None,
        }),
    });
    snap("5_summary_config_warning", &s);
    let screen = rows(&s, 120, 40).concat();
    assert!(
        screen.contains("Preflight: 0 error(s), 1 warning(s)"),
        "{screen}"
    );
    assert!(screen.contains("the SAS expires at 2026-03-08"), "{screen}");
    press(&mut s, &[key(KeyCode::Enter)]);
    assert_eq!(s.outcome, None);
    assert!(
        s.error
            .as_deref()
            .unwrap()
            .starts_with("Acknowledge the 1 warning")
    );
    press(&mut s, &[key(KeyCode::Char(' ')), key(KeyCode::Enter)]);
    assert!(matches!(s.outcome, Some(WizardOutcome::Run(_))));

    let mut s = at(Screen::Summary, &[]);
    let reqs = press(&mut s, &[key(KeyCode::Esc), key(KeyCode::Enter)]);
    let [WizardRequest::Preflight { id, .. }] = reqs.as_slice() else {
        panic!("{reqs:?}")
    };
    s.on_result(WizardResult::Preflight {
        id: *id,
        result: Ok(PreflightReport {
            databases: vec![],
            config_warnings: vec![],
            config_error: Some(
                "the environment variable CUTOVER_MI_SAS (managed instance SAS) is empty"
                    .to_string(),
            ),
        }),
    });
    assert!(
        rows(&s, 120, 40)
            .concat()
            .contains("Configuration: error: the environment variable CUTOVER_MI_SAS")
    );
    press(&mut s, &[key(KeyCode::Enter)]);
    assert_eq!(s.outcome, None);
    assert!(s.error.as_deref().unwrap().starts_with("Run is blocked"));
}

/// Defect 7: the default migration length is LRS's 30-day limit (it was 7 days).
#[test]
fn the_default_migration_length_is_lrs_job_limit() {
    let s = wizard(WizardValues::default());
    assert_eq!(s.values.settings.sas_expiry_days, 30);
    assert_eq!(s.settings.text("expiry"), "30");
}

/// Secret fields name the environment variable a saved configuration reads them from, and say
/// on the screen when it is not set and nothing was typed (a typed value serves this run).
#[test]
fn secret_fields_name_their_environment_variable() {
    // The sample has a password typed: no warning, but the variable a saved file reads is named.
    let mut s = at(Screen::Source, &[]);
    let screen = rows(&s, 80, 24).concat();
    assert!(
        screen.contains("(typed; $CUTOVER_SOURCE_PASSWORD unset)"),
        "{screen}"
    );
    assert!(!screen.contains("not set"), "{screen}");
    // Erased: nothing typed and the variable unset is flagged.
    s.source.focus("password");
    press(&mut s, &[key(KeyCode::Backspace); 12]);
    let screen = rows(&s, 80, 24).concat();
    assert!(
        screen.contains("($CUTOVER_SOURCE_PASSWORD not set)"),
        "{screen}"
    );
    let s = s.with_env(EnvCheck::Fixed(
        ["CUTOVER_SOURCE_PASSWORD".to_string()].into(),
    ));
    let screen = rows(&s, 80, 24).concat();
    assert!(screen.contains("($CUTOVER_SOURCE_PASSWORD)"), "{screen}");
    assert!(!screen.contains("not set"), "{screen}");

    let mut s = at(Screen::Settings, &[]);
    let screen = rows(&s, 120, 40).concat();
    assert!(
        screen.contains("(typed; $CUTOVER_STORAGE_SAS unset)"),
        "{screen}"
    );
    assert!(
        screen.contains("(typed; $CUTOVER_MI_SAS unset)"),
        "{screen}"
    );
    // The account key variable: its value is never typed, so a missing one is flagged here.
    s.settings.focus("storage_auth");
    press(&mut s, &[key(KeyCode::Right)]);
    s.settings.focus("key_env");
    type_text(&mut s, "MY_KEY");
    snap("4_settings_account_key_not_set", &s);
    assert!(
        rows(&s, 80, 24)
            .concat()
            .contains("MY_KEY_  (NOT SET in this shell)")
    );

    let mut s = at(Screen::Target, &[]);
    s.target.focus("credential");
    press(&mut s, &[key(KeyCode::Left)]);
    assert!(
        rows(&s, 80, 24)
            .concat()
            .contains("($AZURE_CLIENT_SECRET not set)")
    );
}

/// The Settings screen asks the cutover, tail and stop-traffic modes the configuration saves.
#[test]
fn settings_ask_the_cutover_tail_and_stop_traffic_modes() {
    use wizard::{CutoverMode, StopTrafficChoice, TailChoice};
    let mut s = at(Screen::Settings, &[]);
    let d = &s.values.settings;
    assert_eq!(
        (d.cutover, d.tail, d.stop_traffic),
        (
            CutoverMode::Never,
            TailChoice::Wait,
            StopTrafficChoice::None
        ),
        "the defaults: the operator cuts over and takes the tail"
    );
    s.settings.focus("cutover");
    press(&mut s, &[key(KeyCode::Char(' '))]);
    s.settings.focus("tail");
    press(&mut s, &[key(KeyCode::Left)]);
    s.settings.focus("stop_traffic");
    press(&mut s, &[key(KeyCode::Right)]); // none -> READ_ONLY
    snap("4_settings_modes", &s);
    press(&mut s, &[key(KeyCode::Enter)]);
    assert_eq!(s.error, None);
    let d = &s.values.settings;
    assert_eq!(
        (d.cutover, d.tail, d.stop_traffic),
        (
            CutoverMode::WhenReady,
            TailChoice::Take,
            StopTrafficChoice::ReadOnly
        )
    );
    let review = rows(&s, 120, 40).concat();
    assert!(
        review.contains("automatic when ready; tail-log backup: take; stop traffic: read-only"),
        "{review}"
    );

    // Without a source connection cutover can neither take the tail nor stop traffic.
    let mut s = wizard(sample::wizard_values());
    s.source.focus("mode");
    press(&mut s, &[key(KeyCode::Char(' '))]);
    let reqs = press(&mut s, &[key(KeyCode::Enter), key(KeyCode::Enter)]);
    answer(&mut s, reqs, &[]);
    press(&mut s, &[key(KeyCode::Enter)]);
    assert_eq!(s.screen, Screen::Settings);
    let i = s
        .settings
        .fields
        .iter()
        .position(|f| f.key == "stop_traffic")
        .unwrap();
    assert!(!s.settings.visible(i));
    s.settings.focus("tail");
    press(&mut s, &[key(KeyCode::Left), key(KeyCode::Enter)]);
    assert!(
        s.error
            .as_deref()
            .is_some_and(|e| e.starts_with("Tail-log backup:")),
        "{:?}",
        s.error
    );
}

/// Advanced on the Target screen has the ARM endpoint (another cloud, or the sandbox).
#[test]
fn the_target_screen_has_the_arm_endpoint_under_advanced() {
    let mut s = at(Screen::Target, &[]);
    let i = s.target.fields.iter().position(|f| f.key == "arm").unwrap();
    assert!(!s.target.visible(i), "hidden until Advanced");
    s.target.focus("advanced");
    press(&mut s, &[key(KeyCode::Char(' ')), key(KeyCode::Down)]);
    assert_eq!(s.target.focused_key(), "arm");
    type_text(&mut s, "http://example.com");
    press(&mut s, &[key(KeyCode::Enter)]);
    assert!(
        s.error
            .as_deref()
            .is_some_and(|e| e.starts_with("ARM endpoint:")),
        "plain http only to this machine: {:?}",
        s.error
    );
    for _ in 0.."http://example.com".len() {
        press(&mut s, &[key(KeyCode::Backspace)]);
    }
    type_text(&mut s, "http://127.0.0.1:34719/");
    let reqs = press(&mut s, &[ctrl('t')]);
    match reqs.as_slice() {
        [WizardRequest::TestTarget { form, .. }] => {
            assert_eq!(form.arm_endpoint, "http://127.0.0.1:34719")
        }
        r => panic!("{r:?}"),
    }
    answer(&mut s, reqs, &[]);
    press(&mut s, &[key(KeyCode::Enter)]);
    assert_eq!(s.screen, Screen::Databases);
    assert_eq!(s.values.target.arm_endpoint, "http://127.0.0.1:34719");
}

/// The demo (sandbox target) signs with the sandbox's own key: its account key variable is
/// neither flagged nor required.
#[test]
fn the_sandbox_needs_no_account_key_variable() {
    let mut v = sample::wizard_values();
    v.target.sandbox = true;
    v.settings.storage_auth = wizard::StorageAuthKind::AccountKeyEnv;
    v.settings.account_key_env = "CUTOVER_SANDBOX_KEY".to_string();
    let mut s = wizard(v);
    while s.screen != Screen::Settings {
        let reqs = press(&mut s, &[key(KeyCode::Enter)]);
        answer(&mut s, reqs, &[]);
    }
    let screen = rows(&s, 80, 24).concat();
    assert!(screen.contains("CUTOVER_SANDBOX_KEY"), "{screen}");
    assert!(!screen.contains("NOT SET"), "{screen}");
    press(&mut s, &[key(KeyCode::Enter)]);
    assert_eq!((s.screen, s.error), (Screen::Summary, None));
}

fn shown(s: &WizardState, key: &str) -> bool {
    s.settings
        .fields
        .iter()
        .position(|f| f.key == key)
        .is_some_and(|i| s.settings.visible(i))
}

/// DMS's form: a share as the backup folder asks the Windows account and the variable holding
/// its password; Ctrl-T tests the folder and shows what it found, or exactly what failed.
#[test]
fn a_share_as_backup_folder_asks_the_smb_account_and_tests_it() {
    let mut s = at(Screen::Settings, &[]);
    assert!(!shown(&s, "smb_user") && !shown(&s, "smb_password_env"));
    s.settings.focus("folder");
    let n = s.settings.text("folder").chars().count();
    press(&mut s, &vec![key(KeyCode::Backspace); n]);
    type_text(&mut s, r"\\fs01.corp.local\backups\sql");
    assert!(shown(&s, "smb_user") && shown(&s, "smb_password_env"));
    assert_eq!(s.settings.text("smb_password_env"), "CUTOVER_SMB_PASSWORD");
    press(&mut s, &[key(KeyCode::Enter)]);
    assert_eq!(s.screen, Screen::Settings);
    assert!(
        s.error
            .as_deref()
            .unwrap()
            .starts_with("SMB user: required"),
        "{:?}",
        s.error
    );
    s.settings.focus("smb_user");
    type_text(&mut s, r"CORP\svc_backup");
    press(&mut s, &[key(KeyCode::Enter)]);
    assert!(
        s.error
            .as_deref()
            .unwrap()
            .starts_with("SMB password variable: CUTOVER_SMB_PASSWORD is not set here"),
        "{:?}",
        s.error
    );
    s.env = EnvCheck::Fixed(["CUTOVER_SMB_PASSWORD".to_string()].into());

    // Ctrl-T: the folder test goes to the backend with the share and the account.
    let reqs = press(&mut s, &[ctrl('t')]);
    match &reqs[..] {
        [WizardRequest::TestBackups { settings, .. }] => {
            assert_eq!(settings.backup_folder, r"\\fs01.corp.local\backups\sql");
            assert_eq!(settings.smb_user, r"CORP\svc_backup");
            assert_eq!(settings.smb_password_env, "CUTOVER_SMB_PASSWORD");
        }
        other => panic!("{other:?}"),
    }
    assert!(s.backups_test.running());
    answer(&mut s, reqs, &[]);
    s.settings.focus("smb_user");
    snap("4_settings_share_tested", &s);

    // A failure says what failed, as the backend words it.
    let reqs = press(&mut s, &[ctrl('t')]);
    let [WizardRequest::TestBackups { id, .. }] = reqs[..] else {
        panic!("{reqs:?}")
    };
    s.on_result(WizardResult::Backups {
        id,
        result: Err(r"\\fs01.corp.local\backups: access denied to the share for CORP\svc_backup; give this user read permission on the share".to_string()),
    });
    let mut t = Terminal::new(TestBackend::new(80, 24)).unwrap();
    t.draw(|f| wizard::render(f, &s, Theme::default())).unwrap();
    let text = format!("{}", t.backend());
    assert!(
        text.contains("Failed:") && text.contains("access denied to the share"),
        "{text}"
    );
    // An edit forgets the result (it said nothing of the new values).
    type_text(&mut s, "x");
    assert_eq!(s.backups_test, JobStatus::Idle);
    press(&mut s, &[key(KeyCode::Backspace)]);

    // Valid now: the values carry the account; the next screen is the Summary.
    let reqs = press(&mut s, &[key(KeyCode::Enter)]);
    assert_eq!(s.error, None);
    assert_eq!(s.screen, Screen::Summary);
    answer(&mut s, reqs, &[]);
    assert_eq!(s.values.settings.smb_user, r"CORP\svc_backup");
    assert_eq!(s.values.settings.smb_password_env, "CUTOVER_SMB_PASSWORD");

    // Back to a local folder: the account is neither asked nor kept.
    press(&mut s, &[key(KeyCode::Esc)]);
    s.settings.focus("folder");
    let n = s.settings.text("folder").chars().count();
    press(&mut s, &vec![key(KeyCode::Backspace); n]);
    type_text(&mut s, "/var/backups/sql");
    assert!(!shown(&s, "smb_user"));
    press(&mut s, &[key(KeyCode::Enter)]);
    assert_eq!(s.error, None);
    assert_eq!(s.values.settings.smb_user, "");
}

// ---- Picking the target from Azure's lists (Ctrl-L) ----

const SUB_A: &str = "5a4d1000-0000-4000-8000-0000000000aa";
const SUB_B: &str = "5a4d1000-0000-4000-8000-0000000000bb";

fn instance(sub: &str, name: &str, location: &str, tier: &str) -> cutover::model::AzureInstance {
    cutover::model::AzureInstance {
        subscription: sub.into(),
        resource_group: format!("rg-{location}"),
        name: name.into(),
        location: location.into(),
        tier: tier.into(),
        hardware: "Gen5".into(),
        vcores: Some(8),
        storage_gb: Some(512),
        state: "Ready".into(),
        fqdn: Some(format!("{name}.0123abcd.database.windows.net")),
        public_endpoint: name.ends_with("-bc"),
        identity: Some("p-1".into()),
    }
}

fn account(name: &str, location: &str, network: &str) -> cutover::model::AzureStorageAccount {
    cutover::model::AzureStorageAccount {
        id: format!(
            "/subscriptions/{SUB_A}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/{name}"
        ),
        name: name.into(),
        resource_group: "rg".into(),
        location: location.into(),
        kind: "StorageV2".into(),
        network: network.into(),
        hns: false,
        blob_endpoint: format!("https://{name}.blob.core.windows.net"),
    }
}

/// A fixed estate: two subscriptions; in the first, 14 instances (more than an 80x24 list
/// shows) in two regions and tiers; three storage accounts (the instance's region listed last by
/// ARM); two containers.
fn estate(list: wizard::AzureListRequest) -> wizard::AzureItems {
    use wizard::{AzureItems, AzureListRequest};
    match list {
        AzureListRequest::Subscriptions => AzureItems::Subscriptions(vec![
            cutover::model::AzureSubscription {
                id: SUB_A.into(),
                name: "Contoso Production".into(),
                state: "Enabled".into(),
            },
            cutover::model::AzureSubscription {
                id: SUB_B.into(),
                name: "Contoso Dev/Test".into(),
                state: "Enabled".into(),
            },
        ]),
        AzureListRequest::Instances(sub) => {
            let mut v = vec![
                instance(&sub, "mi-contoso", "westeurope", "GeneralPurpose"),
                instance(&sub, "mi-contoso-bc", "northeurope", "BusinessCritical"),
            ];
            for i in 0..12 {
                v.push(instance(
                    &sub,
                    &format!("mi-app{i:02}"),
                    "westeurope",
                    "GeneralPurpose",
                ));
            }
            AzureItems::Instances(v)
        }
        AzureListRequest::StorageAccounts(_) => AzureItems::StorageAccounts(vec![
            account("stnorth", "northeurope", "open"),
            account("stlocked", "westeurope", "firewall"),
            account("stmigrate", "westeurope", "open"),
        ]),
        AzureListRequest::Containers(_) => AzureItems::Containers(vec![
            cutover::model::AzureContainer {
                name: "migration".into(),
            },
            cutover::model::AzureContainer {
                name: "old-dumps".into(),
            },
        ]),
    }
}

/// The Target screen with Sandbox off and nothing typed for the instance.
fn azure_target() -> WizardState {
    let mut s = at(Screen::Target, &[]);
    s.target.focus("sandbox");
    if s.target.on("sandbox") {
        press(&mut s, &[key(KeyCode::Char(' '))]);
    }
    for k in [
        "subscription",
        "group",
        "instance",
        "sql_server",
        "sql_user",
    ] {
        if let Some(f) = s.target.fields.iter_mut().find(|f| f.key == k) {
            f.text.clear();
        }
    }
    s
}

fn screen_text(s: &WizardState) -> String {
    let mut t = Terminal::new(TestBackend::new(80, 24)).unwrap();
    t.draw(|f| wizard::render(f, s, Theme::default())).unwrap();
    format!("{}", t.backend())
}

#[test]
fn the_subscription_then_the_instance_are_picked_from_lists() {
    let mut s = azure_target();
    let reqs = press(&mut s, &[ctrl('l')]);
    assert!(
        matches!(
            reqs.as_slice(),
            [WizardRequest::Azure {
                list: wizard::AzureListRequest::Subscriptions,
                ..
            }]
        ),
        "{reqs:?}"
    );
    assert!(screen_text(&s).contains("listing..."));
    answer(&mut s, reqs, &[]);
    snap("pick_subscription", &s);
    // Typing filters: "dev" leaves the second subscription only.
    type_text(&mut s, "dev");
    let text = screen_text(&s);
    assert!(
        text.contains("Contoso Dev/Test") && !text.contains("Contoso Production"),
        "{text}"
    );
    let reqs = press(&mut s, &[key(KeyCode::Enter)]);
    // The subscription picked, its instances are asked for.
    assert!(
        matches!(reqs.as_slice(), [WizardRequest::Azure { list: wizard::AzureListRequest::Instances(sub), .. }] if sub == SUB_B),
        "{reqs:?}"
    );
    assert_eq!(s.target.trimmed("subscription"), SUB_B);
    answer(&mut s, reqs, &[]);
    // Down to the last instance: the list scrolls and keeps the cursor's row visible.
    press(&mut s, &[key(KeyCode::End)]);
    let text = screen_text(&s);
    assert!(
        text.contains("> mi-app11") && text.contains("14 of 14"),
        "{text}"
    );
    assert!(
        !text.contains("mi-contoso   "),
        "scrolled past the first row: {text}"
    );
    snap("pick_instance_scrolled", &s);
    press(&mut s, &[key(KeyCode::Home)]);
    snap("pick_instance", &s);
    type_text(&mut s, "bc");
    press(&mut s, &[key(KeyCode::Enter)]);
    assert!(s.picker.is_none());
    assert_eq!(s.target.trimmed("group"), "rg-northeurope");
    assert_eq!(s.target.trimmed("instance"), "mi-contoso-bc");
    assert_eq!(
        s.target.trimmed("sql_server"),
        "mi-contoso-bc.0123abcd.database.windows.net,1433"
    );
    assert_eq!(s.target.focused_key(), "sql_user");
    let text = screen_text(&s);
    assert!(text.contains("BusinessCritical Gen5, 8 vCores"), "{text}");
    // Its public data endpoint is named for an operator outside the instance's network.
    let mut wide = Terminal::new(TestBackend::new(160, 48)).unwrap();
    wide.draw(|f| wizard::render(f, &s, Theme::default()))
        .unwrap();
    let text = format!("{}", wide.backend());
    assert!(
        text.contains("mi-contoso-bc.public.0123abcd.database.windows.net,3342"),
        "{text}"
    );
    // The SQL user is asked with the endpoint; then Next takes every pick into the values.
    press(&mut s, &[key(KeyCode::Enter)]);
    assert!(
        s.error
            .as_deref()
            .unwrap_or("")
            .contains("Instance SQL user"),
        "{:?}",
        s.error
    );
    type_text(&mut s, "migrator");
    let reqs = press(&mut s, &[key(KeyCode::Enter)]);
    assert_eq!(s.error, None);
    answer(&mut s, reqs, &[]);
    assert_eq!(s.screen, Screen::Databases);
    let v = &s.values;
    assert_eq!(
        (
            v.target.subscription.as_str(),
            v.target.resource_group.as_str(),
            v.target.managed_instance.as_str()
        ),
        (SUB_B, "rg-northeurope", "mi-contoso-bc")
    );
    assert_eq!(v.carried.location.as_deref(), Some("northeurope"));
    assert_eq!(v.carried.sql_user.as_deref(), Some("migrator"));
    assert_eq!(
        v.carried.sql_password_env.as_deref(),
        Some("CUTOVER_MI_PASSWORD")
    );
}

#[test]
fn a_list_refused_falls_back_to_the_typed_fields_with_the_reason() {
    let mut s = azure_target();
    let reqs = press(&mut s, &[ctrl('l')]);
    let WizardRequest::Azure { id, .. } = reqs[0] else {
        panic!("{reqs:?}")
    };
    s.on_result(WizardResult::Azure {
        id,
        result: Err(format!("list managed instances subscription {SUB_A}: no rights (AuthorizationFailed): ...; ask for the Reader role there")),
    });
    // The list says why (the subscription, the right missing) and how to go on; Enter picks
    // nothing; Esc leaves the typed fields.
    let text = screen_text(&s);
    assert!(
        text.contains(SUB_A) && text.contains("Reader") && text.contains("type the names by hand"),
        "{text}"
    );
    snap("pick_refused", &s);
    assert!(press(&mut s, &[key(KeyCode::Enter)]).is_empty());
    assert!(s.picker.is_some());
    press(&mut s, &[key(KeyCode::Esc)]);
    assert!(s.picker.is_none(), "the list closed");
    // The names typed by hand still make the screen.
    s.target.focus("subscription");
    type_text(&mut s, SUB_A);
    s.target.focus("group");
    type_text(&mut s, "rg1");
    s.target.focus("instance");
    type_text(&mut s, "mi-typed");
    let reqs = press(&mut s, &[key(KeyCode::Enter)]);
    assert_eq!(s.error, None);
    answer(&mut s, reqs, &[]);
    assert_eq!(s.values.target.managed_instance, "mi-typed");
    assert_eq!(s.values.carried.sql_server, None, "no endpoint, no check");
    // Esc in a list also leaves the typed fields as they were.
    let mut s = azure_target();
    s.target.focus("instance");
    type_text(&mut s, "mi-kept");
    let reqs = press(&mut s, &[ctrl('l')]);
    answer(&mut s, reqs, &[]);
    press(&mut s, &[key(KeyCode::Esc)]);
    assert!(s.picker.is_none());
    assert_eq!(s.target.trimmed("instance"), "mi-kept");
    assert_eq!(s.screen, Screen::Target, "Esc closed the list only");
}

#[test]
fn the_storage_account_and_a_new_container_are_picked_and_checked() {
    let mut s = azure_target();
    let reqs = press(&mut s, &[ctrl('l')]);
    answer(&mut s, reqs, &[]);
    let reqs = press(&mut s, &[key(KeyCode::Enter)]); // Contoso Production
    answer(&mut s, reqs, &[]);
    press(&mut s, &[key(KeyCode::Enter)]); // mi-contoso, westeurope
    for k in ["sql_server"] {
        if let Some(f) = s.target.fields.iter_mut().find(|f| f.key == k) {
            f.text.clear();
        }
    }
    while s.screen != Screen::Settings {
        let reqs = press(&mut s, &[key(KeyCode::Enter)]);
        assert_eq!(s.error, None, "on {:?}", s.screen);
        answer(&mut s, reqs, &[]);
    }
    let reqs = press(&mut s, &[ctrl('l')]);
    assert!(
        matches!(reqs.as_slice(), [WizardRequest::Azure { list: wizard::AzureListRequest::StorageAccounts(sub), .. }] if sub == SUB_A),
        "{reqs:?}"
    );
    answer(&mut s, reqs, &[]);
    // The instance's region first, marked; the other region last.
    let names: Vec<&str> = s.azure.accounts.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["stlocked", "stmigrate", "stnorth"]);
    let text = screen_text(&s);
    assert!(
        text.contains("* stlocked") && text.contains("  stnorth"),
        "{text}"
    );
    snap("pick_storage_account", &s);
    type_text(&mut s, "stmig");
    let reqs = press(&mut s, &[key(KeyCode::Enter)]);
    assert!(
        matches!(reqs.as_slice(), [WizardRequest::Azure { list: wizard::AzureListRequest::Containers(a), .. }] if a.name == "stmigrate"),
        "{reqs:?}"
    );
    answer(&mut s, reqs, &[]);
    // A name LRS refuses is said, the list stays open.
    type_text(&mut s, "sql-backups");
    press(&mut s, &[key(KeyCode::Enter)]);
    let e = s
        .picker
        .as_ref()
        .and_then(|p| p.error.clone())
        .unwrap_or_default();
    assert!(e.contains("'backup'"), "{e}");
    assert!(screen_text(&s).contains("refuses a container"));
    for _ in 0.."sql-backups".len() {
        press(&mut s, &[key(KeyCode::Backspace)]);
    }
    type_text(&mut s, "cutover-2026");
    press(&mut s, &[key(KeyCode::Enter)]);
    assert!(s.picker.is_none());
    assert_eq!(
        s.settings.trimmed("container"),
        "https://stmigrate.blob.core.windows.net/cutover-2026"
    );
    assert_eq!(s.azure.container, Some(("cutover-2026".to_string(), true)));
    // Next is refused until the new container exists (Ctrl-T creates it).
    press(&mut s, &[key(KeyCode::Enter)]);
    assert_eq!(s.screen, Screen::Settings);
    let e = s.error.clone().unwrap_or_default();
    assert!(
        e.contains("cutover-2026 does not exist yet") && e.contains("Ctrl-T"),
        "{e}"
    );
    // Ctrl-T: the folder test and the storage checks, the new container to be created.
    let reqs = press(&mut s, &[ctrl('t')]);
    let checks = reqs
        .iter()
        .find_map(|r| match r {
            WizardRequest::StorageChecks { request, .. } => Some(request.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no storage checks in {reqs:?}"));
    assert!(checks.create && checks.container == "cutover-2026");
    assert_eq!(
        checks.instance.as_ref().map(|i| i.name.as_str()),
        Some("mi-contoso")
    );
    assert!(
        reqs.iter()
            .any(|r| matches!(r, WizardRequest::TestBackups { .. }))
    );
    answer(&mut s, reqs, &[]);
    let text = screen_text(&s);
    assert!(text.contains("STORAGE_FIREWALL_OPEN"), "{text}");
    assert_eq!(s.azure.container, Some(("cutover-2026".to_string(), false)));
    let reqs = press(&mut s, &[key(KeyCode::Enter)]);
    assert_eq!(s.error, None);
    answer(&mut s, reqs, &[]);
    assert_eq!(s.screen, Screen::Summary);
}

/// `l` on Databases lists the source's logins: by default those the selected databases' users
/// need (followed as the databases change); Space and `a` choose, `d` goes back to the default;
/// the choice is what the saved configuration's `[logins] select` says.
#[test]
fn the_logins_to_migrate_are_chosen_on_the_databases_screen() {
    let mut s = at(Screen::Databases, &[]);
    assert_eq!(s.values.databases, ["sales", "legacy"]);
    assert_eq!(s.values.logins, None);
    assert_eq!(s.values.selected_logins(&logins()), ["app"]);
    press(&mut s, &[key(KeyCode::Char('l'))]);
    assert!(s.db_list.logins);
    snap("databases_logins", &s);
    // Selecting hr follows in the default.
    s.values.databases.push("hr".into());
    assert_eq!(s.values.selected_logins(&logins()), ["app", "hr_app"]);
    // Space on the first (app) unselects it; the choice is explicit from then on.
    press(&mut s, &[key(KeyCode::Char(' '))]);
    assert_eq!(
        s.values.logins.as_deref(),
        Some(&["hr_app".to_string()][..])
    );
    press(
        &mut s,
        &[
            key(KeyCode::Down),
            key(KeyCode::Down),
            key(KeyCode::Char(' ')),
        ],
    );
    assert_eq!(
        s.values.logins.as_deref(),
        Some(&["hr_app".to_string(), "etl".to_string()][..])
    );
    press(&mut s, &[key(KeyCode::Char('a'))]);
    assert_eq!(s.values.selected_logins(&logins()).len(), 4);
    press(&mut s, &[key(KeyCode::Char('d'))]);
    assert_eq!(s.values.logins, None);
    press(
        &mut s,
        &[key(KeyCode::Up), key(KeyCode::Up), key(KeyCode::Char(' '))],
    );
    // `l` goes back to the databases, whose keys work again.
    press(&mut s, &[key(KeyCode::Char('l'))]);
    assert!(!s.db_list.logins);
    press(&mut s, &[key(KeyCode::Enter)]);
    assert_eq!(s.screen, Screen::Settings);
    let saved = cutover::cli::wizard::config_toml(&s.values, None).unwrap();
    let file = cutover::config::ConfigFile::parse(&saved).unwrap();
    assert_eq!(
        file.logins.unwrap().select.as_deref(),
        Some(&["hr_app".to_string()][..]),
        "{saved}"
    );
}
