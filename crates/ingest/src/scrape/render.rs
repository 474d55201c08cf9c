//! The resolved scrape jobs as Prometheus writes them at
//! `/api/v1/status/config`: its key order, every default filled in,
//! `bearer_token` shown as `authorization`, inline secrets as `<secret>`
//! (file paths are shown as written), `body_size_limit` in binary units.

use serde_yaml::{Mapping, Value};

use super::config::{
    GlobalConfig, ScrapeAuth, ScrapeJob, Secret, DEFAULT_SCRAPE_INTERVAL, DEFAULT_SCRAPE_TIMEOUT,
};
use super::relabel::RelabelConfig;
use agentmon_model::duration::format_millis;

const SECRET: &str = "<secret>";

fn text(s: impl Into<String>) -> Value {
    Value::String(s.into())
}

fn dur(d: std::time::Duration) -> Value {
    text(format_millis(
        u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
    ))
}

fn map<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    let mut m = Mapping::new();
    for (k, v) in pairs {
        m.insert(text(k), v);
    }
    Value::Mapping(m)
}

/// `bytes` as Go's `units.Base2Bytes` prints it (`10MiB`, `1KiB512B`).
pub fn base2_bytes(bytes: u64) -> String {
    if bytes == 0 {
        return "0B".to_owned();
    }
    let units = [
        ("EiB", 60),
        ("PiB", 50),
        ("TiB", 40),
        ("GiB", 30),
        ("MiB", 20),
        ("KiB", 10),
        ("B", 0),
    ];
    let mut rest = bytes;
    let mut out = String::new();
    for (unit, shift) in units {
        let n = rest >> shift;
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
            rest -= n << shift;
        }
    }
    out
}

/// The `global` section's scrape and evaluation keys with their defaults.
pub fn global_yaml(global: &GlobalConfig) -> Value {
    let interval = global
        .scrape_interval
        .map_or(DEFAULT_SCRAPE_INTERVAL, |d| d.0);
    let timeout = global
        .scrape_timeout
        .map_or(DEFAULT_SCRAPE_TIMEOUT.min(interval), |d| d.0);
    let evaluation = global
        .evaluation_interval
        .map_or(std::time::Duration::from_secs(60), |d| d.0);
    let mut m = Mapping::new();
    m.insert(text("scrape_interval"), dur(interval));
    m.insert(text("scrape_timeout"), dur(timeout));
    m.insert(text("evaluation_interval"), dur(evaluation));
    if !global.external_labels.is_empty() {
        let labels: Mapping = global
            .external_labels
            .iter()
            .map(|(k, v)| (text(k.clone()), text(v.clone())))
            .collect();
        m.insert(text("external_labels"), Value::Mapping(labels));
    }
    Value::Mapping(m)
}

fn relabel_yaml(rule: &RelabelConfig) -> Value {
    let mut m = Mapping::new();
    if !rule.source_labels.is_empty() {
        m.insert(
            text("source_labels"),
            Value::Sequence(rule.source_labels.iter().map(|l| text(l.clone())).collect()),
        );
    }
    m.insert(
        text("separator"),
        text(rule.separator.clone().unwrap_or_else(|| ";".to_owned())),
    );
    m.insert(
        text("regex"),
        text(rule.regex.clone().unwrap_or_else(|| "(.*)".to_owned())),
    );
    if let Some(modulus) = rule.modulus.filter(|m| *m > 0) {
        m.insert(text("modulus"), Value::from(modulus));
    }
    if let Some(target) = rule.target_label.as_ref().filter(|t| !t.is_empty()) {
        m.insert(text("target_label"), text(target.clone()));
    }
    m.insert(
        text("replacement"),
        text(rule.replacement.clone().unwrap_or_else(|| "$1".to_owned())),
    );
    m.insert(
        text("action"),
        text(
            rule.action
                .clone()
                .unwrap_or_else(|| "replace".to_owned())
                .to_ascii_lowercase(),
        ),
    );
    Value::Mapping(m)
}

/// One job as Prometheus renders a scrape config.
pub fn job_yaml(job: &ScrapeJob) -> Value {
    let source = &job.source;
    let mut m = Mapping::new();
    let mut put = |k: &str, v: Value| {
        m.insert(text(k), v);
    };
    put("job_name", text(job.job_name.clone()));
    if job.honor_labels {
        put("honor_labels", Value::Bool(true));
    }
    put("honor_timestamps", Value::Bool(job.honor_timestamps));
    if !job.params.is_empty() {
        let params: Mapping = job
            .params
            .iter()
            .map(|(k, v)| {
                (
                    text(k.clone()),
                    Value::Sequence(v.iter().map(|x| text(x.clone())).collect()),
                )
            })
            .collect();
        put("params", Value::Mapping(params));
    }
    put("scrape_interval", dur(job.scrape_interval));
    put("scrape_timeout", dur(job.scrape_timeout));
    put(
        "scrape_protocols",
        Value::Sequence(
            job.scrape_protocols
                .iter()
                .map(|p| text(p.clone()))
                .collect(),
        ),
    );
    put("metrics_path", text(job.metrics_path.clone()));
    put("scheme", text(job.scheme.clone()));
    put("enable_compression", Value::Bool(job.enable_compression));
    if job.body_size_limit > 0 {
        put("body_size_limit", text(base2_bytes(job.body_size_limit)));
    }
    for (key, value) in [
        ("sample_limit", job.sample_limit),
        ("target_limit", job.target_limit),
        ("label_limit", job.label_limit),
        ("label_name_length_limit", job.label_name_length_limit),
        ("label_value_length_limit", job.label_value_length_limit),
        ("keep_dropped_targets", job.keep_dropped_targets),
    ] {
        if value > 0 {
            put(key, Value::from(value as u64));
        }
    }
    // Paths as written (relative ones stay relative), as Prometheus shows them.
    let written_file = |secret: &Secret, written: Option<&String>| match secret {
        Secret::Inline(s) if s.is_empty() => None,
        Secret::Inline(_) => Some(text(SECRET)),
        Secret::File(p) => Some(text(
            written.cloned().unwrap_or_else(|| p.display().to_string()),
        )),
    };
    match &job.auth {
        Some(ScrapeAuth::Basic { username, password }) => {
            let mut b = Mapping::new();
            b.insert(text("username"), text(username.clone()));
            let basic = source.basic_auth.as_ref();
            match password {
                Secret::File(_) => {
                    if let Some(v) =
                        written_file(password, basic.and_then(|b| b.password_file.as_ref()))
                    {
                        b.insert(text("password_file"), v);
                    }
                }
                Secret::Inline(_) => {
                    if let Some(v) = written_file(password, None) {
                        b.insert(text("password"), v);
                    }
                }
            }
            put("basic_auth", Value::Mapping(b));
        }
        Some(ScrapeAuth::Credentials { kind, credentials }) => {
            let mut a = Mapping::new();
            a.insert(text("type"), text(kind.clone()));
            let written = source
                .authorization
                .as_ref()
                .and_then(|a| a.credentials_file.as_ref())
                .or(source.bearer_token_file.as_ref());
            match credentials {
                Secret::File(_) => {
                    if let Some(v) = written_file(credentials, written) {
                        a.insert(text("credentials_file"), v);
                    }
                }
                Secret::Inline(_) => {
                    if let Some(v) = written_file(credentials, None) {
                        a.insert(text("credentials"), v);
                    }
                }
            }
            put("authorization", Value::Mapping(a));
        }
        None => {}
    }
    if let Some(tls) = &source.tls_config {
        let mut t = Mapping::new();
        for (key, value) in [
            ("ca_file", &tls.ca_file),
            ("cert_file", &tls.cert_file),
            ("key_file", &tls.key_file),
            ("server_name", &tls.server_name),
        ] {
            if let Some(v) = value.as_ref().filter(|v| !v.is_empty()) {
                t.insert(text(key), text(v.clone()));
            }
        }
        t.insert(
            text("insecure_skip_verify"),
            Value::Bool(tls.insecure_skip_verify),
        );
        if let Some(v) = job.tls.min_version {
            t.insert(text("min_version"), text(v.as_str()));
        }
        put("tls_config", Value::Mapping(t));
    }
    put("follow_redirects", Value::Bool(true));
    put("enable_http2", Value::Bool(false));
    if !source.relabel_configs.is_empty() {
        put(
            "relabel_configs",
            Value::Sequence(source.relabel_configs.iter().map(relabel_yaml).collect()),
        );
    }
    if !source.metric_relabel_configs.is_empty() {
        put(
            "metric_relabel_configs",
            Value::Sequence(
                source
                    .metric_relabel_configs
                    .iter()
                    .map(relabel_yaml)
                    .collect(),
            ),
        );
    }
    if !source.file_sd_configs.is_empty() {
        let entries = source
            .file_sd_configs
            .iter()
            .zip(&job.file_sd)
            .map(|(written, resolved)| {
                map([
                    (
                        "files",
                        Value::Sequence(written.files.iter().map(|f| text(f.clone())).collect()),
                    ),
                    ("refresh_interval", dur(resolved.refresh_interval)),
                ])
            })
            .collect();
        put("file_sd_configs", Value::Sequence(entries));
    }
    if !job.static_configs.is_empty() {
        let groups = job
            .static_configs
            .iter()
            .map(|g| {
                let mut group = Mapping::new();
                group.insert(
                    text("targets"),
                    Value::Sequence(g.targets.iter().map(|t| text(t.clone())).collect()),
                );
                if !g.labels.is_empty() {
                    group.insert(
                        text("labels"),
                        Value::Mapping(
                            g.labels
                                .iter()
                                .map(|(k, v)| (text(k.clone()), text(v.clone())))
                                .collect(),
                        ),
                    );
                }
                Value::Mapping(group)
            })
            .collect();
        put("static_configs", Value::Sequence(groups));
    }
    Value::Mapping(m)
}

/// The `global`, `rule_files` and `scrape_configs` sections as YAML text.
pub fn status_yaml(global: &GlobalConfig, rule_files: &[String], jobs: &[ScrapeJob]) -> String {
    let mut m = Mapping::new();
    m.insert(text("global"), global_yaml(global));
    if !rule_files.is_empty() {
        m.insert(
            text("rule_files"),
            Value::Sequence(rule_files.iter().map(|r| text(r.clone())).collect()),
        );
    }
    if !jobs.is_empty() {
        m.insert(
            text("scrape_configs"),
            Value::Sequence(jobs.iter().map(job_yaml).collect()),
        );
    }
    serde_yaml::to_string(&Value::Mapping(m)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scrape::config::{resolve_jobs, ScrapeConfig};

    #[test]
    fn sizes_print_in_binary_units() {
        assert_eq!(base2_bytes(10 << 20), "10MiB");
        assert_eq!(base2_bytes(1536), "1KiB512B");
        assert_eq!(base2_bytes(7), "7B");
    }

    #[test]
    fn jobs_render_with_defaults_and_hidden_secrets() {
        let configs: Vec<ScrapeConfig> = serde_yaml::from_str(
            "- job_name: a\n  bearer_token: xyz\n  scheme: https\n  tls_config: {ca_file: ca.pem, server_name: foo}\n  \
             file_sd_configs: [{files: [t.json]}]\n  body_size_limit: 10MB\n  target_limit: 3\n  \
             relabel_configs: [{source_labels: [__address__], target_label: x}]\n\
             - job_name: b\n  basic_auth: {username: u, password_file: pw}\n  static_configs: [{targets: ['h:1'], labels: {e: f}}]\n",
        )
        .unwrap();
        let global = GlobalConfig::default();
        let jobs = resolve_jobs(&global, &configs, std::path::Path::new("/etc/x")).unwrap();
        let yaml = status_yaml(&global, &["rules/*.yml".to_owned()], &jobs);
        let parsed: Value = serde_yaml::from_str(&yaml).unwrap();
        assert_eq!(parsed["global"]["scrape_interval"], text("1m"));
        assert_eq!(parsed["global"]["scrape_timeout"], text("10s"));
        assert_eq!(parsed["rule_files"][0], text("rules/*.yml"));
        let a = &parsed["scrape_configs"][0];
        assert_eq!(a["authorization"]["type"], text("Bearer"));
        assert_eq!(a["authorization"]["credentials"], text("<secret>"));
        assert!(!yaml.contains("xyz"), "{yaml}");
        assert_eq!(a["tls_config"]["ca_file"], text("ca.pem"));
        assert_eq!(a["tls_config"]["insecure_skip_verify"], Value::Bool(false));
        assert_eq!(a["body_size_limit"], text("10MiB"));
        assert_eq!(a["target_limit"], Value::from(3u64));
        assert_eq!(a["file_sd_configs"][0]["refresh_interval"], text("5m"));
        assert_eq!(a["relabel_configs"][0]["regex"], text("(.*)"));
        assert_eq!(a["relabel_configs"][0]["action"], text("replace"));
        assert_eq!(a["honor_timestamps"], Value::Bool(true));
        let b = &parsed["scrape_configs"][1];
        assert_eq!(b["basic_auth"]["password_file"], text("pw"));
        assert_eq!(b["static_configs"][0]["labels"]["e"], text("f"));
        assert_eq!(b["scheme"], text("http"));
        let keys: Vec<&str> = a
            .as_mapping()
            .unwrap()
            .keys()
            .filter_map(Value::as_str)
            .collect();
        let pos = |k: &str| keys.iter().position(|x| *x == k).unwrap();
        assert!(pos("job_name") < pos("scrape_interval"));
        assert!(pos("authorization") < pos("tls_config"));
        assert!(pos("relabel_configs") < pos("file_sd_configs"));
    }
}
