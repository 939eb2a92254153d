//! `cutover lrs wait`: what to wait for in a restore's restoreDetails, and whether one reading
//! meets it, can still meet it, or never will (pure, so every case is tested without a service).

use super::details::RestoreDetails;
use super::lrs::LrsError;

/// The condition `lrs wait` polls for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitFor {
    /// restoreDetails' status is this one (case-insensitive), e.g. `Restoring`, `Completed`.
    Status(String),
    /// This file is the last restored one (what `complete --last-backup-name` needs).
    LastRestored(String),
    /// The restore is gone (after `stop`/`cancel`): restoreDetails answers 404.
    Deleted,
}

/// One reading judged against the condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Met,
    /// Not yet; the text says where the restore is.
    Pending(String),
    /// It will not happen: the restore failed, or the call did.
    Never(String),
}

impl WaitFor {
    /// Judges one restoreDetails reading (or the error reading it).
    pub fn judge(&self, reading: Result<&RestoreDetails, &LrsError>) -> Verdict {
        let d = match reading {
            Err(e) if e.http_status() == Some(404) => {
                return match self {
                    WaitFor::Deleted => Verdict::Met,
                    _ => Verdict::Never(format!(
                        "the restore does not exist (restoreDetails answered 404): {e}"
                    )),
                };
            }
            Err(e) => return Verdict::Never(e.to_string()),
            Ok(d) => d,
        };
        let status = d.status.clone().unwrap_or_default();
        let is = |s: &str| status.eq_ignore_ascii_case(s);
        let met = match self {
            WaitFor::Status(want) => is(want),
            WaitFor::LastRestored(name) => d.last_restored_file_name.as_deref() == Some(name),
            WaitFor::Deleted => false,
        };
        if met {
            return Verdict::Met;
        }
        let last = d.last_restored_file_name.as_deref().unwrap_or("none yet");
        if is("Failed") {
            return Verdict::Never(format!(
                "the restore failed (status Failed, last restored {last}){}",
                d.block_reason
                    .as_deref()
                    .map(|b| format!(": {b}"))
                    .unwrap_or_default()
            ));
        }
        if matches!(self, WaitFor::LastRestored(_)) && is("Completed") {
            return Verdict::Never(format!(
                "the restore completed with {last} as the last restored file"
            ));
        }
        Verdict::Pending(format!(
            "status {}, last restored {last}",
            if status.is_empty() { "-" } else { &status }
        ))
    }

    /// The condition in words, for messages.
    pub fn describe(&self) -> String {
        match self {
            WaitFor::Status(s) => format!("status {s}"),
            WaitFor::LastRestored(n) => format!("{n} restored"),
            WaitFor::Deleted => "the restore gone".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn details(status: &str, last: Option<&str>) -> RestoreDetails {
        RestoreDetails {
            status: Some(status.into()),
            last_restored_file_name: last.map(str::to_string),
            ..Default::default()
        }
    }

    fn not_found() -> LrsError {
        LrsError::Http {
            op: "status",
            db: "Sales".into(),
            status: 404,
            message: "not found".into(),
        }
    }

    #[test]
    fn each_condition_is_met_pending_or_never() {
        let restoring = details("Restoring", Some("log1.trn"));
        let status = WaitFor::Status("completed".into());
        assert!(matches!(status.judge(Ok(&restoring)), Verdict::Pending(_)));
        assert_eq!(
            status.judge(Ok(&details("Completed", Some("log2.trn")))),
            Verdict::Met
        );
        assert!(matches!(
            status.judge(Ok(&details("Failed", None))),
            Verdict::Never(_)
        ));
        assert!(matches!(status.judge(Err(&not_found())), Verdict::Never(_)));

        let file = WaitFor::LastRestored("log2.trn".into());
        assert!(
            matches!(file.judge(Ok(&restoring)), Verdict::Pending(ref p) if p.contains("log1.trn"))
        );
        assert_eq!(
            file.judge(Ok(&details("Restoring", Some("log2.trn")))),
            Verdict::Met
        );
        assert!(matches!(
            file.judge(Ok(&details("Completed", Some("log1.trn")))),
            Verdict::Never(_)
        ));

        assert!(matches!(
            WaitFor::Deleted.judge(Ok(&restoring)),
            Verdict::Pending(_)
        ));
        assert_eq!(WaitFor::Deleted.judge(Err(&not_found())), Verdict::Met);
        let refused = LrsError::Refused("no token".into());
        assert!(matches!(
            WaitFor::Deleted.judge(Err(&refused)),
            Verdict::Never(_)
        ));
    }
}
