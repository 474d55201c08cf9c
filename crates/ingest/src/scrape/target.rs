//! Targets of a scrape job: from `static_configs` and discovered groups
//! (`file_sd_configs`) through `relabel_configs`
//! to the label set and URL of each scrape, as Prometheus's
//! `scrape/target.go` (`PopulateLabels`) does.
//!
//! Before relabeling a target has `__address__` (the configured
//! `host:port`), `__scheme__`, `__metrics_path__`, `__scrape_interval__`,
//! `__scrape_timeout__`, `job`, a `__param_<name>` per `params` entry, and its
//! group's `labels` (these are its "discovered labels"). After relabeling,
//! `__meta_*` labels are removed, `instance` defaults to `__address__`, and
//! the URL is built from `__scheme__`, `__address__`, `__metrics_path__` and
//! the params (a `__param_<name>` label replaces the first value of that
//! param). Labels starting with `__` are not attached to samples.

use std::collections::BTreeMap;

use agentmon_model::{duration, Labels};

use super::config::ScrapeJob;
use super::file_sd::TargetGroup;
use super::relabel::relabel;

/// A target that survived relabeling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Labels before relabeling, `__` ones included.
    pub discovered_labels: BTreeMap<String, String>,
    /// Labels attached to every sample of the target (`job`, `instance`, ...).
    pub labels: Labels,
    /// The URL scraped.
    pub scrape_url: String,
}

/// A target that relabeling dropped, or whose labels are unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedTarget {
    pub discovered_labels: BTreeMap<String, String>,
    /// Why: dropped by relabeling, or which label was wrong.
    pub reason: String,
}

/// The `static_configs` of `job` as target groups.
pub fn static_groups(job: &ScrapeJob) -> Vec<TargetGroup> {
    job.static_configs
        .iter()
        .enumerate()
        .map(|(i, group)| TargetGroup {
            source: i.to_string(),
            targets: group.targets.clone(),
            labels: group.labels.clone(),
        })
        .collect()
}

/// The targets of `groups` in `job`: active ones in group order, then
/// dropped ones.
pub fn build_targets(job: &ScrapeJob, groups: &[TargetGroup]) -> (Vec<Target>, Vec<DroppedTarget>) {
    let mut active = Vec::new();
    let mut dropped = Vec::new();
    for group in groups {
        for address in &group.targets {
            let discovered = discovered_labels(job, &group.labels, address);
            match populate(job, &discovered) {
                Ok(target) => active.push(target),
                Err(reason) => dropped.push(DroppedTarget {
                    discovered_labels: discovered,
                    reason,
                }),
            }
        }
    }
    (active, dropped)
}

fn discovered_labels(
    job: &ScrapeJob,
    group_labels: &BTreeMap<String, String>,
    address: &str,
) -> BTreeMap<String, String> {
    let mut labels = group_labels.clone();
    labels.insert("__address__".to_owned(), address.to_owned());
    let defaults = [
        ("job", job.job_name.clone()),
        ("__scheme__", job.scheme.clone()),
        ("__metrics_path__", job.metrics_path.clone()),
        (
            "__scrape_interval__",
            duration::format_millis(job.scrape_interval.as_millis() as u64),
        ),
        (
            "__scrape_timeout__",
            duration::format_millis(job.scrape_timeout.as_millis() as u64),
        ),
    ];
    for (name, value) in defaults {
        labels.entry(name.to_owned()).or_insert(value);
    }
    for (name, values) in &job.params {
        if let Some(first) = values.first() {
            labels
                .entry(format!("__param_{name}"))
                .or_insert_with(|| first.clone());
        }
    }
    labels
}

fn populate(job: &ScrapeJob, discovered: &BTreeMap<String, String>) -> Result<Target, String> {
    let mut labels = relabel(discovered.clone(), &job.relabel_rules)
        .ok_or_else(|| "dropped by relabel_configs".to_owned())?;
    let address = labels
        .get("__address__")
        .cloned()
        .ok_or_else(|| "no __address__ label after relabeling".to_owned())?;
    if address.contains(['/', '?', '#', '@']) || address.contains(char::is_whitespace) {
        return Err(format!("__address__ {address:?} is not host:port"));
    }
    let scheme = labels.get("__scheme__").cloned().unwrap_or_default();
    if scheme != "http" && scheme != "https" {
        return Err(format!(
            "__scheme__ {scheme:?} is not supported: use http or https"
        ));
    }
    let path = labels.get("__metrics_path__").cloned().unwrap_or_default();
    if !path.starts_with('/') {
        return Err(format!("__metrics_path__ {path:?} must start with '/'"));
    }
    labels.retain(|name, _| !name.starts_with("__meta_"));
    labels
        .entry("instance".to_owned())
        .or_insert_with(|| address.clone());
    let mut params = job.params.clone();
    for (name, value) in &labels {
        if let Some(param) = name.strip_prefix("__param_") {
            let values = params.entry(param.to_owned()).or_default();
            match values.first_mut() {
                Some(first) => *first = value.clone(),
                None => values.push(value.clone()),
            }
        }
    }
    let query: Vec<String> = params
        .iter()
        .flat_map(|(name, values)| {
            values
                .iter()
                .map(move |v| format!("{}={}", percent_encode(name), percent_encode(v)))
        })
        .collect();
    let mut scrape_url = format!("{scheme}://{address}{path}");
    if !query.is_empty() {
        scrape_url.push(if path.contains('?') { '&' } else { '?' });
        scrape_url.push_str(&query.join("&"));
    }
    let public = Labels::new(labels.iter().filter(|(name, _)| !name.starts_with("__")))
        .map_err(|e| format!("invalid target labels: {e}"))?;
    Ok(Target {
        discovered_labels: discovered.clone(),
        labels: public,
        scrape_url,
    })
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scrape::config::{resolve_jobs, GlobalConfig, ScrapeConfig};

    fn job(yaml: &str) -> ScrapeJob {
        let configs: Vec<ScrapeConfig> = serde_yaml::from_str(yaml).unwrap();
        resolve_jobs(&GlobalConfig::default(), &configs, std::path::Path::new(""))
            .unwrap()
            .remove(0)
    }

    #[test]
    fn static_targets_get_job_and_instance_and_a_url() {
        let j = job("- job_name: node\n  params: {module: [a b]}\n  static_configs:\n  - targets: ['h:1', 'h:2']\n    labels: {env: prod}\n");
        let (active, dropped) = build_targets(&j, &static_groups(&j));
        assert!(dropped.is_empty());
        assert_eq!(active.len(), 2);
        assert_eq!(active[0].scrape_url, "http://h:1/metrics?module=a%20b");
        assert_eq!(
            active[0].labels,
            Labels::new([("env", "prod"), ("instance", "h:1"), ("job", "node")]).unwrap()
        );
        assert_eq!(
            active[0]
                .discovered_labels
                .get("__metrics_path__")
                .map(String::as_str),
            Some("/metrics")
        );
        assert_eq!(
            active[0]
                .discovered_labels
                .get("__param_module")
                .map(String::as_str),
            Some("a b")
        );
    }

    #[test]
    fn relabeling_drops_and_rewrites_targets() {
        let j = job(
            "- job_name: j\n  static_configs: [{targets: ['a:1', 'b:2']}]\n  relabel_configs:\n\
             \x20 - {source_labels: [__address__], regex: 'b:.*', action: drop}\n\
             \x20 - {target_label: __metrics_path__, replacement: /probe}\n\
             \x20 - {source_labels: [__address__], regex: '(.*):1', target_label: instance, replacement: '$1'}\n",
        );
        let (active, dropped) = build_targets(&j, &static_groups(&j));
        assert_eq!(active.len(), 1);
        assert_eq!(active[0].scrape_url, "http://a:1/probe");
        assert_eq!(active[0].labels.get("instance"), Some("a"));
        assert_eq!(dropped.len(), 1);
        assert_eq!(
            dropped[0]
                .discovered_labels
                .get("__address__")
                .map(String::as_str),
            Some("b:2")
        );
    }
}
