//! Temporary stand-ins for the `agentmon_tsdb::Db` and `agentmon_ingest`
//! APIs that are being written on other branches. They follow the agreed
//! signatures so the server compiles; they are deleted by the merge that
//! brings the real crates in.
#![allow(dead_code, missing_docs, clippy::all)]

pub mod tsdb {
    use std::path::Path;

    use agentmon_model::{Labels, Matcher, MetricMetadata, Sample, SeriesBatch};
    use agentmon_tsdb::{Options, TsdbError};
    use serde::Serialize;

    pub struct Db;
    pub struct Querier;
    #[derive(Debug, Clone)]
    pub struct Series {
        pub labels: Labels,
        pub samples: Vec<Sample>,
    }
    #[derive(Debug, Default)]
    pub struct AppendSummary {
        pub series: usize,
        pub samples_appended: usize,
        pub samples_duplicate: usize,
    }
    #[derive(Debug, Default, Serialize)]
    pub struct FlushSummary {
        pub blocks_written: usize,
        pub samples: u64,
        pub series: u64,
    }
    #[derive(Debug, Default, Serialize)]
    pub struct TsdbStatus {}
    #[derive(Debug)]
    pub struct Rejection(pub String);
    impl std::fmt::Display for Rejection {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.0)
        }
    }
    #[derive(Debug)]
    pub enum AppendError {
        Rejected(Rejection),
        Storage(TsdbError),
    }

    fn missing() -> TsdbError {
        TsdbError::Invalid {
            what: "database",
            reason: "storage engine not merged yet".into(),
        }
    }

    impl Db {
        pub fn open(_dir: &Path, _opts: Options) -> Result<Db, TsdbError> {
            Ok(Db)
        }
        pub fn append(
            &self,
            _batch: &SeriesBatch<'_>,
            _metadata: &[(&str, MetricMetadata)],
        ) -> Result<AppendSummary, AppendError> {
            Err(AppendError::Storage(missing()))
        }
        pub fn querier(&self, _mint: i64, _maxt: i64) -> Querier {
            Querier
        }
        pub fn flush(&self) -> Result<FlushSummary, TsdbError> {
            Err(missing())
        }
        pub fn metadata(&self) -> Vec<(String, MetricMetadata)> {
            Vec::new()
        }
        pub fn status(&self, _limit: usize) -> TsdbStatus {
            TsdbStatus {}
        }
        pub fn write_metrics(&self, _out: &mut String) {}
        pub fn close(&self) -> Result<(), TsdbError> {
            Ok(())
        }
    }

    impl Querier {
        pub fn select(&self, _m: &[Matcher]) -> Result<Vec<Series>, TsdbError> {
            Ok(Vec::new())
        }
        pub fn series(&self, _m: &[Matcher]) -> Result<Vec<Labels>, TsdbError> {
            Ok(Vec::new())
        }
        pub fn label_names(&self, _m: &[Matcher]) -> Result<Vec<String>, TsdbError> {
            Ok(Vec::new())
        }
        pub fn label_values(&self, _n: &str, _m: &[Matcher]) -> Result<Vec<String>, TsdbError> {
            Ok(Vec::new())
        }
    }
}

pub mod ingest {
    use agentmon_model::{Labels, MetricMetadata, Sample, SeriesBatch};

    #[derive(Debug, Clone)]
    pub struct Limits {
        pub max_body_bytes: usize,
        pub max_decompressed_bytes: usize,
    }
    impl Default for Limits {
        fn default() -> Limits {
            Limits {
                max_body_bytes: 32 << 20,
                max_decompressed_bytes: 256 << 20,
            }
        }
    }
    #[derive(Debug)]
    pub struct IngestError(pub String);
    impl std::fmt::Display for IngestError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.0)
        }
    }
    fn missing() -> IngestError {
        IngestError("decoder not merged yet".into())
    }

    pub mod remote_write {
        use super::*;
        pub struct MetadataEntry<'a> {
            pub metric_family: &'a str,
            pub metadata: MetricMetadata,
        }
        pub struct WriteRequest<'a> {
            pub batch: SeriesBatch<'a>,
            pub metadata: Vec<MetadataEntry<'a>>,
            pub exemplars_ignored: usize,
        }
        pub fn decompress(_body: &[u8], _l: &Limits) -> Result<Vec<u8>, IngestError> {
            Err(missing())
        }
        pub fn decode<'a>(_buf: &'a [u8], _l: &Limits) -> Result<WriteRequest<'a>, IngestError> {
            Err(missing())
        }
    }
    pub mod text {
        use super::*;
        pub struct Exposition {
            pub samples: Vec<(Labels, Sample)>,
            pub metadata: Vec<(String, MetricMetadata)>,
        }
        pub fn parse(_input: &str, _ts: i64, _l: &Limits) -> Result<Exposition, IngestError> {
            Err(missing())
        }
    }
    pub mod vm_json {
        use super::*;
        pub fn parse(_body: &[u8], _l: &Limits) -> Result<Vec<(Labels, Vec<Sample>)>, IngestError> {
            Err(missing())
        }
        pub fn write_line(_out: &mut Vec<u8>, _labels: &Labels, _samples: &[Sample]) {}
    }
}
