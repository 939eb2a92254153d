//! LRS's limits on restores running at once, as the engine keeps them: a database whose full backup
//! is uploaded waits (Queued, with the reason) while the instance or the subscription has no free
//! slot, and starts when one of this activity's restores ends (completed, cancelled, gone).
//!
//! The figures are the LRS documentation's (`../shared/reference/lrs-api.md`): "100 concurrent
//! restores per instance", "a per-subscription cap on concurrent restores (150 at the time of
//! writing)", and the tier's database cap (General Purpose: 100, Next-gen General Purpose: 500).
//! The engine counts the restores it started itself, and the target's facts (read at the start and
//! again every few polls while a database waits) add the restores others run: on this instance, and
//! on the subscription's other instances (another activity, another tool, the portal).

use crate::model::database::{DatabaseState, Phase};
use crate::restore_target::seam::TargetFacts;

/// Restores one managed instance runs at once (LRS documentation).
pub const PER_INSTANCE: usize = 100;
/// Concurrent LRS restores per subscription (LRS documentation, "at the time of writing").
pub const PER_SUBSCRIPTION: usize = 150;

/// The limits the engine keeps for one activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LrsLimits {
    /// Restores at once on the instance (its tier's figure when known).
    pub per_instance: usize,
    /// Restores at once in the subscription.
    pub per_subscription: usize,
    /// Said in the reason: `General Purpose`, ... (`None`: the tier is not known).
    pub tier: Option<String>,
    /// Databases on the instance that are not this activity's (they take the tier's room).
    pub other_databases: usize,
    /// Restores others run on this instance now (not this activity's).
    pub busy_instance: usize,
    /// Restores others run in the subscription now (this instance's included).
    pub busy_subscription: usize,
}

impl Default for LrsLimits {
    fn default() -> Self {
        LrsLimits {
            per_instance: PER_INSTANCE,
            per_subscription: PER_SUBSCRIPTION,
            tier: None,
            other_databases: 0,
            busy_instance: 0,
            busy_subscription: 0,
        }
    }
}

impl LrsLimits {
    /// The limits for an instance of `tier` (ARM's `sku.tier`, e.g. `GeneralPurpose`) whose
    /// hardware family is `family` (`Gen5`, `G8IM`, ...) and which already holds `databases`
    /// databases: the instance's restore limit, lowered to the databases it can still take.
    pub fn for_instance(tier: Option<&str>, next_gen: bool, databases: usize) -> Self {
        // The databases the tier still takes (documented for General Purpose only).
        let room = match tier {
            Some(t) if t.eq_ignore_ascii_case("GeneralPurpose") && next_gen => {
                500usize.saturating_sub(databases)
            }
            Some(t) if t.eq_ignore_ascii_case("GeneralPurpose") => {
                100usize.saturating_sub(databases)
            }
            _ => usize::MAX,
        };
        let label = tier.map(|t| match t {
            "GeneralPurpose" if next_gen => "Next-gen General Purpose".to_string(),
            "GeneralPurpose" => "General Purpose".to_string(),
            "BusinessCritical" => "Business Critical".to_string(),
            other => other.to_string(),
        });
        LrsLimits {
            per_instance: PER_INSTANCE.min(room),
            per_subscription: PER_SUBSCRIPTION,
            tier: label,
            other_databases: databases,
            busy_instance: 0,
            busy_subscription: 0,
        }
    }

    /// The limits from what the target says: its tier, and the databases it holds that are not
    /// this activity's (`own`: the activity's target database names, whose restores the engine
    /// counts itself). Next-gen General Purpose is not told apart by the published shapes: an
    /// instance with fewer than 100 other databases is taken as General Purpose (100 databases,
    /// the safe side), one with more as Next-gen (500).
    pub fn from_facts(f: &TargetFacts, own: &[String]) -> Self {
        let others = f
            .databases
            .iter()
            .filter(|d| !own.iter().any(|o| o.eq_ignore_ascii_case(d)))
            .count();
        // A General Purpose instance holding 100 databases or more can only be Next-gen.
        let next_gen = others >= 100;
        let mut l = LrsLimits::for_instance(f.tier.as_deref(), next_gen, others);
        l.busy_instance = f
            .restoring
            .iter()
            .filter(|d| !own.iter().any(|o| o.eq_ignore_ascii_case(d)))
            .count();
        l.busy_subscription =
            l.busy_instance + f.restoring_elsewhere.as_ref().copied().unwrap_or(0);
        l
    }

    /// The instance's restores at once left to this activity.
    fn instance_room(&self) -> usize {
        // The instance's restores at once (never below the documented figure: `per_instance` may be
        // lowered by the tier's room, which already counts the others' databases).
        let restores = self.per_instance.max(PER_INSTANCE);
        self.per_instance
            .min(restores.saturating_sub(self.busy_instance))
    }

    /// The subscription's restores at once left to this activity.
    fn subscription_room(&self) -> usize {
        self.per_subscription.saturating_sub(self.busy_subscription)
    }

    /// How many restores may run at once.
    pub fn concurrent(&self) -> usize {
        self.instance_room().min(self.subscription_room())
    }

    /// Why another restore may not start now, with `running` restores of this activity (`None`:
    /// it may start).
    pub fn refusal(&self, running: usize) -> Option<String> {
        if running < self.concurrent() {
            return None;
        }
        let tier = self
            .tier
            .as_deref()
            .map_or_else(String::new, |t| format!(" ({t})"));
        Some(
            if self.subscription_room() < self.instance_room() && self.busy_subscription > 0 {
                format!(
                    "queued: {} other restores run in the subscription and {running} of this migration's; LRS runs at most {} at once per subscription; starts when one completes",
                    self.busy_subscription, self.per_subscription
                )
            } else if self.busy_instance > 0 && self.instance_room() < self.per_instance {
                format!(
                    "queued: {} other restores run on the managed instance{tier} and {running} of this migration's; it runs at most {PER_INSTANCE} at once; starts when one completes",
                    self.busy_instance
                )
            } else if self.per_instance < PER_INSTANCE.min(self.per_subscription) {
                format!(
                    "queued: the managed instance{tier} holds {} other databases and takes {} more; {running} of this migration's restores already hold them; starts when one completes (or free room on the instance)",
                    self.other_databases, self.per_instance
                )
            } else if self.per_instance <= self.per_subscription {
                format!(
                    "queued: {running} restores already running on the managed instance{tier}, which runs at most {}; starts when one completes",
                    self.per_instance
                )
            } else {
                format!(
                    "queued: {running} restores already running in the subscription, LRS runs at most {} at once per subscription; starts when one completes",
                    self.per_subscription
                )
            },
        )
    }
}

/// Whether a database's restore holds a slot: started and not ended (completed, cancelled, or gone
/// from the instance). A failed restore still holds its database on the instance until cancelled.
pub fn holds_slot(st: &DatabaseState) -> bool {
    st.lrs_started && !matches!(st.phase, Phase::Completed | Phase::Canceled) && !st.restore_gone
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_instance_or_the_subscription_limit_binds() {
        let d = LrsLimits::default();
        assert_eq!(d.concurrent(), 100);
        assert!(d.refusal(99).is_none());
        let r = d.refusal(100).expect("full");
        assert!(
            r.contains("100 restores already running") && r.contains("at most 100"),
            "{r}"
        );
        // Next-gen General Purpose takes 500 databases: the instance runs 100 restores at once.
        let ng = LrsLimits::for_instance(Some("GeneralPurpose"), true, 0);
        assert_eq!(ng.concurrent(), 100);
        // An instance already holding 95 of General Purpose's 100 databases takes 5 more.
        let gp = LrsLimits::for_instance(Some("GeneralPurpose"), false, 95);
        assert_eq!(gp.concurrent(), 5);
        assert!(gp.refusal(5).expect("full").contains("General Purpose"));
        // Where the instance allows more than the subscription, the subscription's 150 binds.
        let wide = LrsLimits {
            per_instance: 500,
            ..LrsLimits::default()
        };
        assert_eq!(wide.concurrent(), 150);
        let r = wide.refusal(150).expect("full");
        assert!(r.contains("per subscription") && r.contains("150"), "{r}");
    }

    #[test]
    fn the_facts_of_the_target_set_the_limit() {
        let f = TargetFacts {
            tier: Some("GeneralPurpose".into()),
            family: Some("Gen5".into()),
            databases: (0..97)
                .map(|i| format!("other{i}"))
                .chain(["Sales".to_string()])
                .collect(),
            ..TargetFacts::default()
        };
        // 97 other databases: General Purpose takes 3 more; Sales is this activity's own.
        let l = LrsLimits::from_facts(&f, &["sales".to_string()]);
        assert_eq!(l.concurrent(), 3);
        assert_eq!(l.tier.as_deref(), Some("General Purpose"));
        let r = l.refusal(3).expect("full");
        assert!(
            r.contains("holds 97 other databases") && r.contains("takes 3 more"),
            "{r}"
        );
        // 120 other databases on General Purpose: Next-gen (500), the per-instance 100 binds.
        let many = TargetFacts {
            databases: (0..120).map(|i| format!("o{i}")).collect(),
            ..f.clone()
        };
        assert_eq!(LrsLimits::from_facts(&many, &[]).concurrent(), 100);
        let bc = TargetFacts {
            tier: Some("BusinessCritical".into()),
            ..f
        };
        assert_eq!(LrsLimits::from_facts(&bc, &[]).concurrent(), 100);
    }

    #[test]
    fn restores_others_run_take_the_instance_and_the_subscription_room() {
        let base = TargetFacts {
            tier: Some("BusinessCritical".into()),
            family: Some("G8IM".into()),
            ..TargetFacts::default()
        };
        // 100 others restoring on other instances of the subscription: 50 left of its 150.
        let f = TargetFacts {
            restoring_elsewhere: Ok(100),
            ..base.clone()
        };
        let l = LrsLimits::from_facts(&f, &[]);
        assert_eq!((l.busy_subscription, l.concurrent()), (100, 50));
        let r = l.refusal(50).expect("full");
        assert!(
            r.contains("100 other restores run in the subscription")
                && r.contains("50 of this migration's")
                && r.contains("at most 150"),
            "{r}"
        );
        // 30 others restoring on this instance (this activity's own restores do not count): 70 left
        // of the instance's 100, and they count in the subscription too.
        let own = vec!["Mine".to_string()];
        let f = TargetFacts {
            restoring: (0..30)
                .map(|i| format!("other{i}"))
                .chain(["mine".to_string()])
                .collect(),
            restoring_elsewhere: Ok(60),
            ..base.clone()
        };
        let l = LrsLimits::from_facts(&f, &own);
        assert_eq!((l.busy_instance, l.busy_subscription), (30, 90));
        assert_eq!(l.concurrent(), 60);
        let f = TargetFacts {
            restoring_elsewhere: Ok(0),
            ..f
        };
        let l = LrsLimits::from_facts(&f, &own);
        assert_eq!(l.concurrent(), 70);
        assert!(
            l.refusal(70)
                .expect("full")
                .contains("30 other restores run on the managed instance")
        );
        // Not readable: only this instance's count.
        let f = TargetFacts {
            restoring_elsewhere: Err("forbidden".into()),
            ..base
        };
        assert_eq!(LrsLimits::from_facts(&f, &[]).concurrent(), 100);
    }

    #[test]
    fn a_slot_is_held_from_the_start_until_the_restore_ends() {
        let mut st = DatabaseState::new("Sales");
        assert!(!holds_slot(&st));
        st.lrs_started = true;
        st.phase = Phase::Restoring;
        assert!(holds_slot(&st));
        st.phase = Phase::Failed;
        assert!(holds_slot(&st), "a failed restore is still on the instance");
        st.restore_gone = true;
        assert!(!holds_slot(&st));
        st.restore_gone = false;
        st.phase = Phase::Completed;
        assert!(!holds_slot(&st));
    }
}
