//! Inhibition: a firing alert matching a rule's source side mutes alerts
//! matching its target side when the `equal` labels have the same values
//! (an absent label counts as `""`). An alert that matches both sides is
//! not muted by itself or by another alert that also matches both sides
//! (Alertmanager 0.25's `inhibit/inhibit.go`).

use std::collections::BTreeSet;

use agentmon_model::Labels;

use crate::config::{is_label_name, InhibitRuleConfig};
use crate::matcher::Matchers;
use crate::route::combine_matchers;
use crate::store::StoredAlert;

/// One compiled `inhibit_rules` entry.
#[derive(Debug, Clone)]
pub struct InhibitRule {
    pub source_matchers: Matchers,
    pub target_matchers: Matchers,
    pub equal: BTreeSet<String>,
}

impl InhibitRule {
    /// Compiles a rule from its three matcher syntaxes per side.
    pub fn build(config: &InhibitRuleConfig) -> Result<InhibitRule, String> {
        let source_matchers = combine_matchers(
            &config.source_match,
            &config.source_match_re,
            &config.source_matchers.0,
        )?;
        let target_matchers = combine_matchers(
            &config.target_match,
            &config.target_match_re,
            &config.target_matchers.0,
        )?;
        for name in &config.equal {
            if !is_label_name(name) {
                return Err(format!("{name:?} is not a valid label name"));
            }
        }
        Ok(InhibitRule {
            source_matchers,
            target_matchers,
            equal: config.equal.iter().cloned().collect(),
        })
    }

    /// The fingerprint of a firing source alert that mutes `labels`.
    fn muted_by<'a>(
        &self,
        labels: &Labels,
        alerts: impl Iterator<Item = &'a StoredAlert>,
        now_ms: i64,
    ) -> Option<u64> {
        if !self.target_matchers.matches(labels) {
            return None;
        }
        let two_sided = self.source_matchers.matches(labels);
        alerts
            .filter(|a| !a.resolved_at(now_ms) && self.source_matchers.matches(&a.alert.labels))
            .filter(|a| {
                self.equal.iter().all(|name| {
                    a.alert.labels.get(name).unwrap_or("") == labels.get(name).unwrap_or("")
                })
            })
            .find(|a| !(two_sided && self.target_matchers.matches(&a.alert.labels)))
            .map(|a| a.fingerprint)
    }
}

/// Which alert, if any, inhibits an alert with these labels, looking for
/// sources among `alerts` (the alert store).
pub fn inhibited_by<'a>(
    rules: &[InhibitRule],
    labels: &Labels,
    alerts: impl Iterator<Item = &'a StoredAlert> + Clone,
    now_ms: i64,
) -> Option<u64> {
    rules
        .iter()
        .find_map(|rule| rule.muted_by(labels, alerts.clone(), now_ms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentmon_model::Alert;

    fn stored(pairs: &[(&str, &str)], ends: Option<i64>) -> StoredAlert {
        let alert = Alert {
            labels: Labels::new(pairs.iter().copied()).expect("valid"),
            annotations: Labels::default(),
            starts_at_ms: 1,
            ends_at_ms: ends,
            generator_url: String::new(),
        };
        StoredAlert::received(alert, 10, 300_000)
    }

    fn rule(yaml: &str) -> InhibitRule {
        InhibitRule::build(&serde_yaml::from_str(yaml).expect("parses")).expect("valid")
    }

    #[test]
    fn critical_inhibits_warning_of_the_same_cluster() {
        let r = rule(
            "source_matchers: [severity=critical]\ntarget_matchers: [severity=warning]\nequal: [cluster]",
        );
        let source = stored(
            &[
                ("alertname", "Down"),
                ("severity", "critical"),
                ("cluster", "a"),
            ],
            None,
        );
        let alerts = [source.clone()];
        let same = Labels::new([
            ("alertname", "Slow"),
            ("severity", "warning"),
            ("cluster", "a"),
        ])
        .expect("valid");
        let other = Labels::new([
            ("alertname", "Slow"),
            ("severity", "warning"),
            ("cluster", "b"),
        ])
        .expect("valid");
        let rules = [r];
        assert_eq!(
            inhibited_by(&rules, &same, alerts.iter(), 100),
            Some(source.fingerprint)
        );
        assert_eq!(inhibited_by(&rules, &other, alerts.iter(), 100), None);
        // A resolved source inhibits nothing.
        let resolved = [stored(
            &[("severity", "critical"), ("cluster", "a")],
            Some(50),
        )];
        assert_eq!(inhibited_by(&rules, &same, resolved.iter(), 100), None);
    }

    #[test]
    fn absent_equal_labels_are_equal_and_self_does_not_inhibit() {
        let r = rule("source_match: {a: x}\ntarget_match_re: {a: 'x|y'}\nequal: [zone]");
        let rules = [r];
        let both = stored(&[("a", "x")], None);
        let alerts = [both.clone()];
        // Matches both sides: not inhibited by itself.
        assert_eq!(
            inhibited_by(&rules, &both.alert.labels, alerts.iter(), 100),
            None
        );
        let target = Labels::new([("a", "y")]).expect("valid");
        assert_eq!(
            inhibited_by(&rules, &target, alerts.iter(), 100),
            Some(both.fingerprint)
        );
    }

    #[test]
    fn refuses_bad_rules() {
        let bad =
            InhibitRule::build(&serde_yaml::from_str("source_match: {'1x': a}").expect("parses"));
        assert_eq!(bad.unwrap_err(), "invalid label name \"1x\"");
        let bad = InhibitRule::build(&serde_yaml::from_str("equal: ['a-b']").expect("parses"));
        assert_eq!(bad.unwrap_err(), "\"a-b\" is not a valid label name");
        let bad =
            InhibitRule::build(&serde_yaml::from_str("target_match_re: {a: '('}").expect("parses"));
        assert!(bad.unwrap_err().starts_with("invalid regular expression"));
    }
}
