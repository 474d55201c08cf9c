//! agentmon's embedded time-series store, after Prometheus's TSDB.
//!
//! Writes go to a write-ahead log ([`wal`]) and then into the in-memory
//! [`head`], where each series keeps its recent samples in Gorilla-compressed
//! chunks ([`chunk`]) and an inverted index ([`index`]) maps label pairs to
//! series. When the head spans long enough (or on request), it is cut into an
//! immutable on-disk [`block`]: compressed sample columns, an index with
//! postings, and a `meta.json`, read through memory maps so memory does not
//! grow with history. Blocks are compacted into larger ones in the
//! background and deleted by retention. [`Db`] ties these together and hands
//! out [`Querier`]s that merge the head and the blocks over a time range.

pub mod block;
pub mod chunk;
mod db;
mod error;
mod head;
pub mod index;
mod options;
mod querier;
pub mod wal;

pub use db::{
    AppendError, AppendSummary, BlockStatus, CountEntry, Db, FlushSummary, HeadStatus, OpenReport,
    Rejection, TsdbMetrics, TsdbStatus, REASON_DUPLICATE_TIMESTAMP, REASON_OUT_OF_ORDER,
};
pub use error::{Result, TsdbError};
pub use options::{Options, WalFsync};
pub use querier::{Querier, Series};
