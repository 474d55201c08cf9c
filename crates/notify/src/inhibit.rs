//! Inhibition: a firing alert matching a rule's source side mutes alerts
//! matching its target side when the `equal` labels have the same values
//! (an absent label counts as `""`). An alert that matches both sides is
//! not muted by itself or by another alert that also matches both sides
//! (Alertmanager 0.25's `inhibit/inhibit.go`).

use std::collections::{BTreeSet, HashMap};

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
}

/// The values of the `equal` labels (absent = `""`), in name order: alerts
/// with the same key may inhibit one another.
fn equal_key<'a>(rule: &InhibitRule, labels: &'a Labels) -> Vec<&'a str> {
    rule.equal
        .iter()
        .map(|name| labels.get(name).unwrap_or(""))
        .collect()
}

/// A snapshot of the firing source alerts of every rule, indexed by their
/// `equal` label values, so that asking about many alerts costs one pass
/// over the store (Alertmanager keeps the same per-rule source cache).
pub struct Inhibitor<'a> {
    rules: Vec<(&'a InhibitRule, SourcesByKey<'a>)>,
}

/// A rule's firing sources by their `equal` label values.
type SourcesByKey<'a> = HashMap<Vec<&'a str>, Vec<Source>>;

/// A firing alert on a rule's source side.
struct Source {
    fingerprint: u64,
    /// It also matches the rule's target side.
    two_sided: bool,
}

impl<'a> Inhibitor<'a> {
    /// Collects the sources among `alerts` that are firing at `now_ms`.
    pub fn new(
        rules: &'a [InhibitRule],
        alerts: impl Iterator<Item = &'a StoredAlert> + Clone,
        now_ms: i64,
    ) -> Inhibitor<'a> {
        let rules = rules
            .iter()
            .map(|rule| {
                let mut sources: SourcesByKey<'a> = HashMap::new();
                for alert in alerts.clone() {
                    let labels = &alert.alert.labels;
                    if alert.resolved_at(now_ms) || !rule.source_matchers.matches(labels) {
                        continue;
                    }
                    sources
                        .entry(equal_key(rule, labels))
                        .or_default()
                        .push(Source {
                            fingerprint: alert.fingerprint,
                            two_sided: rule.target_matchers.matches(labels),
                        });
                }
                (rule, sources)
            })
            .collect();
        Inhibitor { rules }
    }

    /// The fingerprint of a firing alert that inhibits one with these
    /// labels, if any.
    pub fn inhibited_by(&self, labels: &Labels) -> Option<u64> {
        self.rules.iter().find_map(|(rule, sources)| {
            if !rule.target_matchers.matches(labels) {
                return None;
            }
            let two_sided = rule.source_matchers.matches(labels);
            sources
                .get(&equal_key(rule, labels))?
                .iter()
                .find(|s| !(two_sided && s.two_sided))
                .map(|s| s.fingerprint)
        })
    }
}

/// Which alert, if any, inhibits an alert with these labels, looking for
/// sources among `alerts` (the alert store). For many questions at once,
/// build an [`Inhibitor`] once instead.
pub fn inhibited_by<'a>(
    rules: &'a [InhibitRule],
    labels: &Labels,
    alerts: impl Iterator<Item = &'a StoredAlert> + Clone,
    now_ms: i64,
) -> Option<u64> {
    Inhibitor::new(rules, alerts, now_ms).inhibited_by(labels)
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
