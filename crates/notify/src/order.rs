//! Alertmanager's orders of alerts and label sets, which notifications and
//! API answers follow: alerts by `job`, then `instance` (an alert with the
//! label before one without), then by label set (`types.AlertSlice` and
//! `model.LabelSet.Before`).

use std::cmp::Ordering;

use agentmon_model::Labels;

/// `model.LabelSet.Before`: smaller sets first, then the first differing
/// value in name order (a set lacking that name first).
pub fn label_set_before(a: &Labels, b: &Labels) -> bool {
    if a.len() != b.len() {
        return a.len() < b.len();
    }
    let mut names: Vec<&str> = a.iter().chain(b.iter()).map(|l| l.name.as_str()).collect();
    names.sort_unstable();
    for name in names {
        match (a.get(name), b.get(name)) {
            (None, _) => return true,
            (_, None) => return false,
            (Some(x), Some(y)) if x != y => return x < y,
            _ => {}
        }
    }
    false
}

/// The order of `types.AlertSlice`.
pub fn compare_alert_labels(a: &Labels, b: &Labels) -> Ordering {
    for key in ["job", "instance"] {
        match (a.get(key), b.get(key)) {
            (None, None) => continue,
            (None, Some(_)) => return Ordering::Greater,
            (Some(_), None) => return Ordering::Less,
            (Some(x), Some(y)) if x != y => return x.cmp(y),
            _ => {}
        }
    }
    if label_set_before(a, b) {
        Ordering::Less
    } else if label_set_before(b, a) {
        Ordering::Greater
    } else {
        Ordering::Equal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(pairs: &[(&str, &str)]) -> Labels {
        Labels::new(pairs.iter().copied()).expect("valid")
    }

    #[test]
    fn job_then_instance_then_label_set() {
        let mut list = [
            l(&[("alertname", "b")]),
            l(&[("alertname", "a"), ("zone", "z")]),
            l(&[("alertname", "a")]),
            l(&[("job", "web"), ("alertname", "x")]),
            l(&[("job", "api"), ("instance", "2")]),
            l(&[("job", "api"), ("instance", "10")]),
            l(&[("job", "api")]),
        ];
        list.sort_by(compare_alert_labels);
        let printed: Vec<String> = list.iter().map(|x| x.to_string()).collect();
        let want: Vec<String> = [
            l(&[("job", "api"), ("instance", "10")]),
            l(&[("job", "api"), ("instance", "2")]),
            l(&[("job", "api")]),
            l(&[("job", "web"), ("alertname", "x")]),
            l(&[("alertname", "a")]),
            l(&[("alertname", "b")]),
            l(&[("alertname", "a"), ("zone", "z")]),
        ]
        .iter()
        .map(|x| x.to_string())
        .collect();
        assert_eq!(printed, want);
    }

    #[test]
    fn missing_name_sorts_first() {
        assert!(!label_set_before(
            &l(&[("a", "1"), ("c", "1")]),
            &l(&[("b", "1"), ("c", "1")])
        ));
        assert!(label_set_before(
            &l(&[("b", "1"), ("c", "1")]),
            &l(&[("a", "1"), ("c", "1")])
        ));
    }
}
