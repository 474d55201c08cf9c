//! The data behind Prometheus's `GET /api/v1/status/tsdb`.

use serde::Serialize;

use super::DbInner;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TsdbStatus {
    pub head_stats: HeadStatus,
    pub series_count_by_metric_name: Vec<CountEntry>,
    pub label_value_count_by_label_name: Vec<CountEntry>,
    pub memory_in_bytes_by_label_name: Vec<CountEntry>,
    pub series_count_by_label_value_pair: Vec<CountEntry>,
    /// agentmon's addition: the blocks on disk.
    pub blocks: Vec<BlockStatus>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeadStatus {
    pub num_series: u64,
    pub num_label_pairs: u64,
    pub chunk_count: u64,
    pub min_time: i64,
    pub max_time: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CountEntry {
    pub name: String,
    pub value: u64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BlockStatus {
    pub ulid: String,
    pub min_time: i64,
    pub max_time: i64,
    pub num_series: u64,
    pub num_samples: u64,
    pub level: u32,
    pub size_bytes: u64,
}

/// The `limit` largest entries, largest first, ties by name.
fn top(mut entries: Vec<(String, u64)>, limit: usize) -> Vec<CountEntry> {
    entries.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    entries.truncate(limit);
    entries
        .into_iter()
        .map(|(name, value)| CountEntry { name, value })
        .collect()
}

impl DbInner {
    pub(super) fn status(&self, limit: usize) -> TsdbStatus {
        let stats = self.head.stats();
        let cardinality = self.head.cardinality();
        let empty = stats.series == 0 || stats.min_time == i64::MAX;
        let blocks = self
            .state
            .read()
            .blocks
            .iter()
            .map(|b| {
                let m = b.meta();
                BlockStatus {
                    ulid: m.ulid.clone(),
                    min_time: m.min_time,
                    max_time: m.max_time,
                    num_series: m.stats.num_series,
                    num_samples: m.stats.num_samples,
                    level: m.compaction.level,
                    size_bytes: b.size_bytes(),
                }
            })
            .collect();
        TsdbStatus {
            head_stats: HeadStatus {
                num_series: stats.series,
                num_label_pairs: stats.label_pairs,
                chunk_count: stats.chunks,
                min_time: if empty { 0 } else { stats.min_time },
                max_time: if empty { 0 } else { stats.max_time },
            },
            series_count_by_metric_name: top(cardinality.series_by_metric, limit),
            label_value_count_by_label_name: top(cardinality.values_by_name, limit),
            memory_in_bytes_by_label_name: top(cardinality.memory_by_name, limit),
            series_count_by_label_value_pair: top(cardinality.series_by_pair, limit),
            blocks,
        }
    }
}
