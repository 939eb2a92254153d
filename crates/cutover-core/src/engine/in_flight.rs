//! What the engine task has under way for one database, beside its [`DatabaseState`]: the calls it
//! spawned and not yet heard back from (folder scan, Log Replay Service start or status read, stop /
//! undo traffic, tail-log backup, uploads), and the cutover facts of this process (complete sent,
//! traffic tried, the tail awaited in the folder, the target checked). One value with pure
//! transitions (start X / X finished / what may start now), so the runner asks instead of juggling
//! flags, and the rules are unit-tested without I/O.
//!
//! [`DatabaseState`]: super::state::DatabaseState

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::guard::StepsInFlight;

/// The Log Replay Service call that holds a database's LRS slot (at most one at a time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LrsCall {
    /// Start the restore (or take up the one this activity started before a restart).
    Start,
    /// Read the restore's status.
    Status,
}

/// One database's work in flight and cutover progress in this process (see the module doc).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InFlight {
    /// A folder scan runs.
    scanning: bool,
    /// The LRS start or status read that runs (complete and cancel are not held here: complete is
    /// [`complete_sent`](Self::complete_sent), cancel is not waited for).
    lrs: Option<LrsCall>,
    /// Stop traffic or its undo runs on the source.
    traffic_call: bool,
    /// The tail-log backup is being taken through the source connection.
    taking_tail: bool,
    /// Files (names in the blob folder) being uploaded.
    uploads: BTreeSet<String>,
    /// Complete was sent by this process (after a restart in Completing it is sent again if LRS is
    /// still restoring).
    complete_sent: bool,
    /// Stopping traffic was tried in this cutover (done or failed: the tail goes ahead either way,
    /// BACKUP LOG WITH NORECOVERY stops all traffic itself).
    traffic_tried: bool,
    /// The tail-log backup was already taken (the source says the database is restoring): find it.
    tail_detect: bool,
    /// The operator takes the tail (`WaitForTail`): the next log that lands is it. Persisted.
    tail_wait: bool,
    /// The tail-log backup cutover took, until a scan finds it in the plan.
    pending_tail: Option<PathBuf>,
    /// The target was checked for a restore this activity did not start: uploads may begin.
    target_checked: bool,
}

impl InFlight {
    /// Nothing in flight, as at the engine's start: `tail_wait` as the state file says, traffic
    /// already tried if the state file says it was stopped.
    pub fn resumed(tail_wait: bool, traffic_stopped: bool) -> Self {
        InFlight {
            tail_wait,
            traffic_tried: traffic_stopped,
            ..InFlight::default()
        }
    }

    /// Starts a folder scan unless one runs (true: start it).
    pub fn start_scan(&mut self) -> bool {
        !std::mem::replace(&mut self.scanning, true)
    }

    /// The folder scan reported back.
    pub fn scan_finished(&mut self) {
        self.scanning = false;
    }

    /// No LRS start or status read runs: one may be sent.
    pub fn may_call_lrs(&self) -> bool {
        self.lrs.is_none()
    }

    /// The LRS call that runs, if any.
    pub fn lrs_call(&self) -> Option<LrsCall> {
        self.lrs
    }

    /// Takes the LRS slot for `call` unless a call holds it (true: send it).
    pub fn start_lrs_call(&mut self, call: LrsCall) -> bool {
        if self.lrs.is_some() {
            return false;
        }
        self.lrs = Some(call);
        true
    }

    /// `call` reported back (answer or failure): its slot is free.
    pub fn lrs_call_finished(&mut self, call: LrsCall) {
        if self.lrs == Some(call) {
            self.lrs = None;
        }
    }

    /// LRS complete is being sent by this process.
    pub fn complete_sending(&mut self) {
        self.complete_sent = true;
    }

    /// Complete was sent by this process (since its start or the last restart of the restore).
    pub fn complete_sent(&self) -> bool {
        self.complete_sent
    }

    /// The restore starts again from scratch (after it vanished): complete was not sent for it.
    pub fn restore_restarted(&mut self) {
        self.complete_sent = false;
    }

    /// The target check is sent: uploads wait for its answer, except for a database whose restore
    /// was started (its restore reads its own folder).
    pub fn target_check_started(&mut self, lrs_started: bool) {
        self.target_checked = lrs_started;
    }

    /// The target holds nothing in the way: uploads may begin.
    pub fn target_clear(&mut self) {
        self.target_checked = true;
    }

    /// Uploads may begin (the target was checked).
    pub fn target_checked(&self) -> bool {
        self.target_checked
    }

    /// Starts uploading `file` unless it is being uploaded (true: start it).
    pub fn start_upload(&mut self, file: &str) -> bool {
        self.uploads.insert(file.to_string())
    }

    /// `file` is being uploaded.
    pub fn is_uploading(&self, file: &str) -> bool {
        self.uploads.contains(file)
    }

    /// The upload of `file` ended (uploaded, to be retried or failed).
    pub fn upload_finished(&mut self, file: &str) {
        self.uploads.remove(file);
    }

    /// Stop traffic (`stop`) or its undo is sent; a stop counts as tried for this cutover.
    pub fn start_traffic(&mut self, stop: bool) {
        self.traffic_call = true;
        if stop {
            self.traffic_tried = true;
        }
    }

    /// Stop traffic or its undo reported back.
    pub fn traffic_finished(&mut self) {
        self.traffic_call = false;
    }

    /// Stopping traffic was tried in this cutover.
    pub fn traffic_tried(&self) -> bool {
        self.traffic_tried
    }

    /// Starts taking the tail-log backup unless it is being taken (true: take it).
    pub fn start_tail(&mut self) -> bool {
        !std::mem::replace(&mut self.taking_tail, true)
    }

    /// The tail-log backup is being taken.
    pub fn taking_tail(&self) -> bool {
        self.taking_tail
    }

    /// The tail-log backup reported back (taken or not).
    pub fn tail_finished(&mut self) {
        self.taking_tail = false;
    }

    /// The tail-log backup was taken into `path`: a scan will find it.
    pub fn tail_landing(&mut self, path: PathBuf) {
        self.pending_tail = Some(path);
    }

    /// The tail-log backup cutover took and a scan has yet to find.
    pub fn pending_tail(&self) -> Option<&Path> {
        self.pending_tail.as_deref()
    }

    /// The source is restoring (its tail was taken before): look for that tail in the folder.
    /// True if it was not looked for yet.
    pub fn look_for_tail(&mut self) -> bool {
        !std::mem::replace(&mut self.tail_detect, true)
    }

    /// The operator takes the tail (`WaitForTail`): the next log that lands is it.
    pub fn operator_takes_tail(&mut self) {
        self.tail_wait = true;
    }

    /// The operator takes the tail (persisted with the database).
    pub fn tail_wait(&self) -> bool {
        self.tail_wait
    }

    /// Whether a log that landed after the cutover began is taken for the tail: when the tail is
    /// looked for, or (no tail-log backup being taken) when the operator takes it or the engine
    /// waits for it (`auto_wait`: `--tail wait` with `--cutover when-ready`).
    pub fn detects_tail(&self, auto_wait: bool) -> bool {
        self.tail_detect || (!self.taking_tail && (self.tail_wait || auto_wait))
    }

    /// The tail is known (a file of the plan): nothing more is looked for.
    pub fn tail_resolved(&mut self) {
        self.pending_tail = None;
        self.tail_detect = false;
    }

    /// A cutover begins: traffic not yet tried (unless the source is already restoring: there is
    /// none to stop), the operator has not said they take the tail.
    pub fn cutover_begun(&mut self, source_restoring: bool) {
        self.traffic_tried = source_restoring;
        self.tail_wait = false;
    }

    /// The cutover is abandoned: no tail is awaited from the operator or from a taken backup.
    pub fn cutover_abandoned(&mut self) {
        self.tail_wait = false;
        self.pending_tail = None;
    }

    /// A cutover step runs or is awaited (traffic, the tail being taken or looked for): the
    /// automatic cutover waits for it.
    pub fn cutover_step_pending(&self) -> bool {
        self.traffic_call || self.taking_tail || self.pending_tail.is_some() || self.tail_detect
    }

    /// The cutover steps in flight as the guard words what completion waits for.
    pub fn steps(&self) -> StepsInFlight {
        StepsInFlight {
            stopping_traffic: self.traffic_call,
            taking_tail: self.taking_tail,
            tail_awaited_in_folder: self.tail_wait
                || self.tail_detect
                || self.pending_tail.is_some(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_resumed_database_runs_nothing_and_keeps_what_its_state_file_says() {
        let f = InFlight::resumed(true, true);
        assert!(f.may_call_lrs() && f.lrs_call().is_none());
        assert!(f.tail_wait() && f.traffic_tried());
        assert!(!f.target_checked() && !f.complete_sent());
        assert!(
            !f.cutover_step_pending(),
            "an awaited operator tail is no step of the engine"
        );
        let steps = f.steps();
        assert!(steps.tail_awaited_in_folder && !steps.stopping_traffic && !steps.taking_tail);
        assert_eq!(InFlight::resumed(false, false), InFlight::default());
    }

    #[test]
    fn one_lrs_call_at_a_time_and_its_answer_frees_the_slot() {
        let mut f = InFlight::default();
        assert!(f.start_lrs_call(LrsCall::Status));
        assert!(
            !f.start_lrs_call(LrsCall::Start),
            "a start waits for the status read"
        );
        assert!(!f.start_lrs_call(LrsCall::Status), "no second status read");
        assert_eq!(f.lrs_call(), Some(LrsCall::Status));
        f.lrs_call_finished(LrsCall::Start);
        assert!(
            !f.may_call_lrs(),
            "only the call that holds the slot frees it"
        );
        f.lrs_call_finished(LrsCall::Status);
        assert!(f.may_call_lrs());
        assert!(f.start_lrs_call(LrsCall::Start));
        f.lrs_call_finished(LrsCall::Start);
        assert!(f.may_call_lrs());
    }

    #[test]
    fn a_scan_a_tail_and_a_file_upload_run_once_at_a_time() {
        let mut f = InFlight::default();
        assert!(f.start_scan() && !f.start_scan());
        f.scan_finished();
        assert!(f.start_scan());
        assert!(f.start_upload("full.bak") && !f.start_upload("full.bak"));
        assert!(f.start_upload("log1.trn"));
        f.upload_finished("full.bak");
        assert!(!f.is_uploading("full.bak") && f.is_uploading("log1.trn"));
        assert!(f.start_tail() && !f.start_tail());
        assert!(f.steps().taking_tail && f.cutover_step_pending());
        f.tail_finished();
        assert!(!f.steps().taking_tail && !f.cutover_step_pending());
    }

    #[test]
    fn stopping_traffic_counts_as_tried_until_the_next_cutover_but_its_undo_does_not() {
        let mut f = InFlight::default();
        f.start_traffic(true);
        assert!(f.traffic_tried() && f.steps().stopping_traffic && f.cutover_step_pending());
        f.traffic_finished();
        assert!(!f.steps().stopping_traffic && f.traffic_tried());
        f.cutover_begun(false);
        assert!(!f.traffic_tried());
        f.start_traffic(false);
        assert!(!f.traffic_tried(), "undo is no stop");
        f.traffic_finished();
        f.cutover_begun(true);
        assert!(
            f.traffic_tried(),
            "a restoring source has no traffic to stop"
        );
    }

    #[test]
    fn the_tail_is_looked_for_until_it_is_resolved_and_an_abandon_forgets_what_was_awaited() {
        let mut f = InFlight::default();
        assert!(!f.detects_tail(false) && f.detects_tail(true));
        f.operator_takes_tail();
        assert!(f.detects_tail(false) && f.steps().tail_awaited_in_folder);
        assert!(f.start_tail());
        assert!(
            !f.detects_tail(true),
            "not while cutover takes the tail itself"
        );
        f.tail_finished();
        f.tail_landing(PathBuf::from("/b/tail.trn"));
        assert_eq!(f.pending_tail(), Some(Path::new("/b/tail.trn")));
        assert!(f.cutover_step_pending());
        f.tail_resolved();
        assert!(f.pending_tail().is_none() && !f.cutover_step_pending());
        assert!(f.look_for_tail() && !f.look_for_tail(), "said once");
        assert!(f.detects_tail(false) && f.cutover_step_pending());
        f.tail_landing(PathBuf::from("/b/tail.trn"));
        f.cutover_abandoned();
        assert!(!f.tail_wait() && f.pending_tail().is_none());
        f.tail_resolved();
        assert!(!f.detects_tail(false));
        f.operator_takes_tail();
        f.cutover_begun(false);
        assert!(!f.tail_wait(), "a new cutover starts undecided");
    }

    #[test]
    fn complete_is_sent_once_per_restore_and_uploads_wait_for_the_target_check() {
        let mut f = InFlight::default();
        f.complete_sending();
        assert!(f.complete_sent());
        f.restore_restarted();
        assert!(!f.complete_sent());
        f.target_check_started(false);
        assert!(!f.target_checked());
        f.target_clear();
        assert!(f.target_checked());
        f.target_check_started(false);
        assert!(!f.target_checked(), "checked again: wait again");
        f.target_check_started(true);
        assert!(f.target_checked(), "a started restore reads its own folder");
    }

    #[derive(Debug, Clone)]
    enum Op {
        StartLrs(LrsCall),
        FinishLrs,
        StartScan,
        FinishScan,
        StartTail,
        FinishTail,
        StartUpload(u8),
        FinishUpload(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        let call = prop_oneof![Just(LrsCall::Start), Just(LrsCall::Status)];
        prop_oneof![
            call.prop_map(Op::StartLrs),
            Just(Op::FinishLrs),
            Just(Op::StartScan),
            Just(Op::FinishScan),
            Just(Op::StartTail),
            Just(Op::FinishTail),
            (0u8..3).prop_map(Op::StartUpload),
            (0u8..3).prop_map(Op::FinishUpload),
        ]
    }

    proptest! {
        /// Whatever the order of starts and answers: never two LRS calls (nor two scans, two
        /// tail-log backups, two uploads of one file) for one database in flight, and a finished
        /// call frees its slot.
        #[test]
        fn never_two_calls_of_a_kind_in_flight_and_an_answer_frees_the_slot(
            ops in proptest::collection::vec(op(), 0..60)
        ) {
            let mut f = InFlight::default();
            let mut lrs: Vec<LrsCall> = Vec::new();
            let (mut scans, mut tails) = (0u32, 0u32);
            let mut uploads = [0u32; 3];
            for op in ops {
                match op {
                    Op::StartLrs(c) => if f.start_lrs_call(c) { lrs.push(c) },
                    Op::FinishLrs => if let Some(c) = lrs.pop() {
                        f.lrs_call_finished(c);
                        prop_assert!(f.may_call_lrs(), "{c:?} answered: the slot is free");
                    },
                    Op::StartScan => if f.start_scan() { scans += 1 },
                    Op::FinishScan => if scans > 0 { scans -= 1; f.scan_finished() },
                    Op::StartTail => if f.start_tail() { tails += 1 },
                    Op::FinishTail => if tails > 0 { tails -= 1; f.tail_finished() },
                    Op::StartUpload(i) => if f.start_upload(&format!("f{i}")) {
                        uploads[usize::from(i)] += 1
                    },
                    Op::FinishUpload(i) => if uploads[usize::from(i)] > 0 {
                        uploads[usize::from(i)] -= 1;
                        f.upload_finished(&format!("f{i}"));
                    },
                }
                prop_assert!(lrs.len() <= 1 && scans <= 1 && tails <= 1);
                prop_assert_eq!(f.lrs_call(), lrs.first().copied());
                prop_assert_eq!(f.may_call_lrs(), lrs.is_empty());
                prop_assert_eq!(f.steps().taking_tail, tails == 1);
                for (i, n) in uploads.iter().enumerate() {
                    prop_assert!(*n <= 1);
                    prop_assert_eq!(f.is_uploading(&format!("f{i}")), *n == 1);
                }
            }
        }
    }
}
