//! Picking the target from Azure's lists (Ctrl-L on the Target and Migration settings screens): the
//! subscription, then its managed instance; the storage account (same region as the instance
//! first), then its container (or a new one named). Typing filters the list, Up/Down (PgUp/PgDn)
//! move, Enter picks, Esc closes it and leaves the typed fields (an operator without list rights
//! types the names). The lists come from the backend ([`super::WizardBackend`]'s `azure_*`).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use cutover_model::{
    AzureCheck, AzureContainer, AzureInstance, AzureStorageAccount, AzureSubscription,
};

use super::JobStatus;
use crate::dashboard::footer::keys_line;
use crate::theme::Theme;
use crate::{format, layout};

/// Which list is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickWhat {
    Subscription,
    Instance,
    StorageAccount,
    Container,
}

impl PickWhat {
    pub fn title(self) -> &'static str {
        match self {
            PickWhat::Subscription => "Subscription",
            PickWhat::Instance => "Managed instance",
            PickWhat::StorageAccount => "Storage account",
            PickWhat::Container => "Container",
        }
    }
}

/// What the backend listed (each list replaces the last of its kind).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AzureItems {
    Subscriptions(Vec<AzureSubscription>),
    Instances(Vec<AzureInstance>),
    StorageAccounts(Vec<AzureStorageAccount>),
    Containers(Vec<AzureContainer>),
}

/// The open list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picker {
    pub what: PickWhat,
    /// Waiting for the list of this request.
    pub loading: Option<u64>,
    /// What was typed (filters the rows; for a container, a new name when nothing matches).
    pub filter: String,
    /// Index into the filtered rows.
    pub cursor: usize,
    /// Why the list could not be read (the ARM error: the scope and the right missing), or why
    /// the name typed is refused.
    pub error: Option<String>,
    /// `error` is the list's failure (no rows to pick from).
    pub failed: bool,
}

impl Picker {
    /// The list itself failed (rather than a name typed in it).
    pub fn rows_failed(&self) -> bool {
        self.failed
    }

    pub fn new(what: PickWhat, id: u64) -> Self {
        Picker {
            what,
            loading: Some(id),
            filter: String::new(),
            cursor: 0,
            error: None,
            failed: false,
        }
    }
}

/// The lists read so far and what was picked from them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AzureLists {
    pub subscriptions: Vec<AzureSubscription>,
    pub instances: Vec<AzureInstance>,
    /// Same region as the instance first.
    pub accounts: Vec<AzureStorageAccount>,
    pub containers: Vec<AzureContainer>,
    /// The instance picked on the Target screen.
    pub instance: Option<AzureInstance>,
    /// The storage account picked on the Migration settings screen.
    pub account: Option<AzureStorageAccount>,
    /// The container picked or named (and whether it is a new one, created by Ctrl-T).
    pub container: Option<(String, bool)>,
    /// The storage checks of Ctrl-T on Migration settings.
    pub checks: JobStatus<Vec<AzureCheck>>,
}

impl AzureLists {
    /// The region the storage accounts are ordered by: the picked instance's.
    pub fn region(&self) -> Option<&str> {
        self.instance.as_ref().map(|i| i.location.as_str())
    }

    /// Takes a list; storage accounts in the instance's region go first (`region`).
    pub fn take(&mut self, items: AzureItems, region: Option<&str>) {
        match items {
            AzureItems::Subscriptions(v) => self.subscriptions = v,
            AzureItems::Instances(v) => self.instances = v,
            AzureItems::StorageAccounts(mut v) => {
                if let Some(r) = region {
                    v.sort_by_key(|a| !a.location.eq_ignore_ascii_case(r));
                }
                self.accounts = v;
            }
            AzureItems::Containers(v) => self.containers = v,
        }
    }

    /// The rows of `what` (index into its list, text), filtered by `filter` (case-insensitive,
    /// anywhere in the row).
    pub fn rows(&self, what: PickWhat, filter: &str, region: Option<&str>) -> Vec<(usize, String)> {
        let all: Vec<String> = match what {
            PickWhat::Subscription => self
                .subscriptions
                .iter()
                .map(|s| format!("{:<24} {} {}", format::truncate(&s.name, 24), s.id, s.state))
                .collect(),
            PickWhat::Instance => self.instances.iter().map(instance_row).collect(),
            PickWhat::StorageAccount => self
                .accounts
                .iter()
                .map(|a| {
                    let same = region.is_some_and(|r| a.location.eq_ignore_ascii_case(r));
                    format!(
                        "{}{:<20} {:<12} {:<16} {:<16}{}",
                        if same { "* " } else { "  " },
                        format::truncate(&a.name, 20),
                        format::truncate(&a.location, 12),
                        format::truncate(&a.kind, 16),
                        format::truncate(&a.network, 16),
                        if a.hns { " HNS" } else { "" }
                    )
                })
                .collect(),
            PickWhat::Container => self.containers.iter().map(|c| c.name.clone()).collect(),
        };
        // Not trimmed: a trailing space ends a name (its column is padded).
        let f = filter.to_lowercase();
        all.into_iter()
            .enumerate()
            .filter(|(_, r)| f.trim().is_empty() || r.to_lowercase().contains(&f))
            .collect()
    }
}

fn tier_short(t: &str) -> String {
    match t {
        "GeneralPurpose" => "GP".into(),
        "BusinessCritical" => "BC".into(),
        o => o.chars().take(3).collect(),
    }
}

fn instance_row(i: &AzureInstance) -> String {
    format!(
        "{:<20} {:<12} {:<2} {:<5} {:>3}v {:<8} {}",
        format::truncate(&i.name, 20),
        format::truncate(&i.location, 12),
        tier_short(&i.tier),
        format::truncate(&i.hardware, 5),
        i.vcores.map_or_else(|| "?".to_string(), |v| v.to_string()),
        format::truncate(&i.state, 8),
        i.resource_group
    )
}

/// The column heads of a list.
fn header(what: PickWhat) -> String {
    match what {
        PickWhat::Subscription => format!("{:<24} {:<36} {}", "NAME", "ID", "STATE"),
        PickWhat::Instance => format!(
            "{:<20} {:<12} {:<2} {:<5} {:>4} {:<8} {}",
            "NAME", "REGION", "TI", "HW", "VCOR", "STATE", "RESOURCE GROUP"
        ),
        PickWhat::StorageAccount => format!(
            "  {:<20} {:<12} {:<16} {:<16}",
            "NAME", "REGION", "KIND", "NETWORK"
        ),
        PickWhat::Container => "NAME".to_string(),
    }
}

/// Draws the open list over the screen: the filter, the rows (the cursor's row kept visible), what
/// the cursor's row is in full, and the keys.
pub fn render(
    frame: &mut Frame,
    area: Rect,
    lists: &AzureLists,
    p: &Picker,
    tick: u64,
    theme: Theme,
) {
    let w = area.width.saturating_sub(2).min(96);
    let h = area.height.saturating_sub(4).max(8);
    let r = layout::dialog(area, w, h);
    frame.render_widget(Clear, r);
    let block = Block::bordered().title(Span::styled(
        format!(" Pick the {} ", p.what.title().to_lowercase()),
        theme.title(),
    ));
    let inner = block.inner(r);
    frame.render_widget(block, r);
    let [filter_a, head_a, rows_a, info_a, keys_a] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(2),
        Constraint::Length(2),
        Constraint::Length(1),
    ])
    .areas(inner);
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled("Filter: ", theme.title()),
            Span::styled(format!("{}_", p.filter), theme.selected()),
        ])),
        filter_a,
    );
    let region = lists.region();
    let rows = lists.rows(p.what, &p.filter, region);
    if !p.failed {
        frame.render_widget(
            Paragraph::new(Line::styled(format!("  {}", header(p.what)), theme.dim())),
            head_a,
        );
    }
    let mut info: Vec<Line> = Vec::new();
    if p.loading.is_none()
        && p.rows_failed()
        && let Some(e) = &p.error
    {
        frame.render_widget(
            Paragraph::new(vec![
                Line::from(vec![
                    Span::styled("The list could not be read: ", theme.error()),
                    Span::raw(e.clone()),
                ]),
                Line::raw(""),
                Line::styled(
                    "Esc: type the names by hand (the fields stay as typed); or get the right and Ctrl-L again.",
                    theme.dim(),
                ),
            ])
            .wrap(Wrap { trim: true }),
            rows_a,
        );
    } else if p.loading.is_some() {
        frame.render_widget(
            Paragraph::new(Line::styled(
                format!("{} listing...", format::spinner(tick)),
                theme.busy(),
            )),
            rows_a,
        );
    } else if rows.is_empty() {
        let msg = match p.what {
            PickWhat::Container if !p.filter.trim().is_empty() => {
                format!(
                    "No container {}: Enter names a new one (Ctrl-T on the screen creates it)",
                    p.filter.trim()
                )
            }
            PickWhat::Container => "No container yet: type a new name, Enter".to_string(),
            _ if p.filter.is_empty() => "The list is empty: Esc, then type the names".to_string(),
            _ => "Nothing matches the filter (Backspace)".to_string(),
        };
        frame.render_widget(
            Paragraph::new(Line::styled(msg, theme.warn())).wrap(Wrap { trim: true }),
            rows_a,
        );
    } else {
        let height = usize::from(rows_a.height.max(1));
        let cursor = p.cursor.min(rows.len() - 1);
        let offset = cursor.saturating_sub(height - 1);
        let lines: Vec<Line> = rows
            .iter()
            .enumerate()
            .skip(offset)
            .take(height)
            .map(|(i, (_, text))| {
                if i == cursor {
                    Line::styled(format!("> {text}"), theme.selected())
                } else {
                    Line::raw(format!("  {text}"))
                }
            })
            .collect();
        frame.render_widget(Paragraph::new(lines), rows_a);
        let (index, _) = rows[cursor];
        info.push(Line::styled(
            format!("{} of {}", cursor + 1, rows.len()),
            theme.dim(),
        ));
        match p.what {
            PickWhat::Instance => {
                if let Some(i) = lists.instances.get(index) {
                    info[0] = Line::from(vec![
                        Span::styled(format!("{} of {}  ", cursor + 1, rows.len()), theme.dim()),
                        Span::raw(format!("{}: {}", i.name, i.describe())),
                    ]);
                }
            }
            PickWhat::Container => info.push(Line::styled(
                "or type a new name (Enter on no match): Ctrl-T on the screen creates it",
                theme.dim(),
            )),
            PickWhat::StorageAccount => {
                if let Some(r) = region {
                    info.push(Line::styled(
                        format!("* same region as the instance ({r}); others read across regions"),
                        theme.dim(),
                    ));
                }
            }
            _ => {}
        }
    }
    if let Some(e) = p.error.as_ref().filter(|_| !p.rows_failed()) {
        info = vec![Line::from(vec![
            Span::styled("! ", theme.error()),
            Span::raw(e.clone()),
        ])];
    }
    frame.render_widget(Paragraph::new(info).wrap(Wrap { trim: true }), info_a);
    frame.render_widget(
        Paragraph::new(keys_line(
            &[
                ("type", "filter"),
                ("Up/Down", "move"),
                ("Enter", "pick"),
                ("Esc", "type by hand"),
            ],
            theme,
        )),
        keys_a,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use cutover_model::azure::container_name_problem;

    fn account(name: &str, location: &str) -> AzureStorageAccount {
        AzureStorageAccount {
            name: name.into(),
            location: location.into(),
            ..Default::default()
        }
    }

    #[test]
    fn container_names_follow_azure_and_lrs_rules() {
        for ok in ["migration", "cutover-2026", "abc"] {
            assert_eq!(container_name_problem(ok), None, "{ok}");
        }
        for bad in [
            "ab",
            "Upper",
            "a--b",
            "-lead",
            "trail-",
            "under_score",
            "sql-backups",
        ] {
            assert!(container_name_problem(bad).is_some(), "{bad}");
        }
        assert!(
            container_name_problem("nightly-backup").is_some_and(|e| e.contains("LRS refuses"))
        );
    }

    #[test]
    fn accounts_of_the_instance_region_come_first_and_the_filter_keeps_a_trailing_space() {
        let mut l = AzureLists::default();
        l.take(
            AzureItems::StorageAccounts(vec![
                account("far1", "eastus"),
                account("near1", "westeurope"),
                account("far2", "eastus"),
                account("near2", "WestEurope"),
            ]),
            Some("westeurope"),
        );
        let names: Vec<&str> = l.accounts.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["near1", "near2", "far1", "far2"]);
        let rows = l.rows(PickWhat::StorageAccount, "", Some("westeurope"));
        assert!(rows[0].1.starts_with("* near1") && rows[2].1.starts_with("  far1"));
        l.take(
            AzureItems::Instances(vec![
                AzureInstance {
                    name: "mi-a".into(),
                    ..Default::default()
                },
                AzureInstance {
                    name: "mi-a-bc".into(),
                    ..Default::default()
                },
            ]),
            None,
        );
        assert_eq!(l.rows(PickWhat::Instance, "mi-a", None).len(), 2);
        let exact = l.rows(PickWhat::Instance, "MI-A ", None);
        assert_eq!(exact.iter().map(|r| r.0).collect::<Vec<_>>(), [0]);
    }
}
