//! `file_sd_configs`: target groups read from JSON or YAML files, as
//! Prometheus's file discovery reads them.
//!
//! A file holds a list of groups `{targets: [host:port, ...], labels: {...}}`
//! (unknown keys are errors; `.json` files are JSON, `.yml`/`.yaml` YAML).
//! Every group gets `__meta_filepath` (the file's path) and the source
//! `<path>:<index>`. [`FileDiscovery::refresh`] expands the globs, reads
//! the files that are new or whose modification time or size changed (or
//! all of them when forced, which the manager does every
//! `refresh_interval`), and forgets files that no longer match. A file that
//! cannot be read or parsed keeps its last good groups; the failure is
//! logged and counted.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use agentmon_model::validate_label_name;
use serde::Deserialize;

/// The label file discovery puts on each of a file's groups.
pub const FILEPATH_LABEL: &str = "__meta_filepath";

/// A group of targets sharing labels, from `static_configs` or a file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetGroup {
    /// Where the group comes from (`<path>:<index>` for files).
    pub source: String,
    pub targets: Vec<String>,
    pub labels: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    #[serde(default)]
    targets: Vec<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// Parses the groups of one file's `content`; `path` decides the format
/// and is written in `__meta_filepath`.
pub fn parse_groups(path: &Path, content: &[u8]) -> Result<Vec<TargetGroup>, String> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let raw: Option<Vec<Option<RawGroup>>> = match ext.as_str() {
        "json" => serde_json::from_slice(content).map_err(|e| e.to_string())?,
        "yml" | "yaml" => {
            let text = std::str::from_utf8(content).map_err(|e| e.to_string())?;
            if text.trim().is_empty() {
                None
            } else {
                serde_yaml::from_str(text).map_err(|e| e.to_string())?
            }
        }
        other => return Err(format!("retrieval target groups from {other:?} files is not supported: use .json, .yml or .yaml")),
    };
    let display = path.display().to_string();
    let mut groups = Vec::new();
    for (i, group) in raw.unwrap_or_default().into_iter().enumerate() {
        let group = group.ok_or_else(|| "nil target group item found".to_owned())?;
        for name in group.labels.keys() {
            validate_label_name(name).map_err(|e| format!("group {i}: {e}"))?;
        }
        let mut labels = group.labels;
        labels.insert(FILEPATH_LABEL.to_owned(), display.clone());
        groups.push(TargetGroup {
            source: format!("{display}:{i}"),
            targets: group.targets,
            labels,
        });
    }
    Ok(groups)
}

/// What was last read of one file.
struct FileState {
    /// Modification time and size when it was last read (or failed).
    stamp: Option<(SystemTime, u64)>,
    groups: Vec<TargetGroup>,
}

/// The files of one `file_sd_configs` entry and their last good groups.
pub struct FileDiscovery {
    patterns: Vec<PathBuf>,
    files: BTreeMap<PathBuf, FileState>,
    read_errors: Arc<AtomicU64>,
}

impl FileDiscovery {
    /// Discovery over `patterns` (globs); failed reads are added to
    /// `read_errors`.
    pub fn new(patterns: Vec<PathBuf>, read_errors: Arc<AtomicU64>) -> FileDiscovery {
        FileDiscovery {
            patterns,
            files: BTreeMap::new(),
            read_errors,
        }
    }

    /// Looks at the files again (reads all of them when `force`); true when
    /// the groups changed.
    pub fn refresh(&mut self, force: bool) -> bool {
        let before = self.groups();
        let mut matched: HashMap<PathBuf, Option<(SystemTime, u64)>> = HashMap::new();
        for pattern in &self.patterns {
            let Some(text) = pattern.to_str() else {
                continue;
            };
            let Ok(paths) = glob::glob(text) else {
                continue;
            };
            for path in paths.flatten() {
                let stamp = std::fs::metadata(&path)
                    .ok()
                    .filter(|m| m.is_file())
                    .map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()));
                if stamp.is_some() {
                    matched.insert(path, stamp);
                }
            }
        }
        self.files.retain(|path, _| matched.contains_key(path));
        for (path, stamp) in matched {
            let state = self.files.entry(path.clone()).or_insert(FileState {
                stamp: None,
                groups: Vec::new(),
            });
            if !force && state.stamp.is_some() && state.stamp == stamp {
                continue;
            }
            state.stamp = stamp;
            let result = std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|content| parse_groups(&path, &content));
            match result {
                Ok(groups) => state.groups = groups,
                Err(error) => {
                    self.read_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(file = %path.display(), %error, "error reading file_sd file: keeping its last good targets");
                }
            }
        }
        self.groups() != before
    }

    /// The groups of every file, in path order.
    pub fn groups(&self) -> Vec<TargetGroup> {
        self.files
            .values()
            .flat_map(|f| f.groups.iter().cloned())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_yaml_groups_get_the_file_path_and_a_source() {
        let groups = parse_groups(
            Path::new("/sd/a.json"),
            br#"[{"targets": ["h:1", "h:2"], "labels": {"env": "prod"}}, {"targets": ["h:3"]}]"#,
        )
        .unwrap();
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].targets, ["h:1", "h:2"]);
        assert_eq!(groups[0].labels["env"], "prod");
        assert_eq!(groups[0].labels[FILEPATH_LABEL], "/sd/a.json");
        assert_eq!(groups[1].source, "/sd/a.json:1");
        let yaml = parse_groups(
            Path::new("b.yml"),
            b"- targets: ['x:9']\n  labels:\n    team: a\n",
        )
        .unwrap();
        assert_eq!(yaml[0].targets, ["x:9"]);
        assert_eq!(yaml[0].labels["team"], "a");
        assert!(parse_groups(Path::new("e.yaml"), b"\n").unwrap().is_empty());
    }

    #[test]
    fn bad_files_are_refused_with_a_reason() {
        for (name, content) in [
            ("a.json", &br#"[{"targets": ["h:1"], "extra": 1}]"#[..]),
            ("a.json", b"[{\"targets\": \"h:1\"}]"),
            ("a.json", b"[{\"labels\": {\"0bad\": \"x\"}}]"),
            ("a.json", b"[null]"),
            ("a.yml", b"- targets: [h:1]\n  lables: {}\n"),
            ("a.yml", b"{{{"),
        ] {
            assert!(
                parse_groups(Path::new(name), content).is_err(),
                "{name}: {:?}",
                String::from_utf8_lossy(content)
            );
        }
    }

    #[test]
    fn refresh_follows_changes_keeps_last_good_and_forgets_removed_files() {
        let dir = std::env::temp_dir().join(format!("agentmon-filesd-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let errors = Arc::new(AtomicU64::new(0));
        let mut sd = FileDiscovery::new(vec![dir.join("*.json")], errors.clone());
        assert!(!sd.refresh(false));
        let file = dir.join("t.json");
        std::fs::write(&file, r#"[{"targets": ["a:1"]}]"#).unwrap();
        assert!(sd.refresh(false));
        assert_eq!(sd.groups()[0].targets, ["a:1"]);
        assert!(!sd.refresh(false), "nothing changed");
        std::fs::write(&file, r#"[{"targets": ["a:1", "b:22"]}]"#).unwrap();
        assert!(sd.refresh(false));
        assert_eq!(sd.groups()[0].targets, ["a:1", "b:22"]);
        std::fs::write(&file, "not json at all").unwrap();
        assert!(!sd.refresh(false), "a broken file keeps its groups");
        assert_eq!(sd.groups()[0].targets, ["a:1", "b:22"]);
        assert_eq!(errors.load(Ordering::Relaxed), 1);
        assert!(!sd.refresh(true));
        assert_eq!(
            errors.load(Ordering::Relaxed),
            2,
            "forced re-reads count again"
        );
        std::fs::remove_file(&file).unwrap();
        assert!(sd.refresh(false));
        assert!(sd.groups().is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
