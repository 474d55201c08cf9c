use std::time::Duration;

/// When the WAL is forced to stable storage.
///
/// Every acknowledged write has reached the operating system (a `write(2)` to
/// the WAL segment) before the caller is answered, so it survives the process
/// being killed. What survives a power loss or kernel crash depends on this
/// policy: with `Always` every acknowledged write was also `fdatasync`ed;
/// with `Interval(d)` up to `d` of acknowledged writes can be lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalFsync {
    Always,
    Interval(Duration),
}

impl Default for WalFsync {
    fn default() -> WalFsync {
        WalFsync::Interval(Duration::from_millis(1000))
    }
}

/// Settings of a [`crate::Db`].
#[derive(Debug, Clone)]
pub struct Options {
    /// Blocks whose newest sample is older than this are deleted (default 15d).
    pub retention_time: Duration,
    /// The oldest blocks are deleted while all blocks together exceed this.
    pub retention_size: Option<u64>,
    pub wal_fsync: WalFsync,
    /// WAL segment files are cut at this size.
    pub wal_segment_size: u64,
    /// Samples up to this much older than their series' newest sample are
    /// still accepted; older ones are rejected as out of order. Zero (the
    /// default) accepts only samples newer than the series' newest.
    pub out_of_order_window: Duration,
    /// The head is cut into a block once it spans this much time (default 2h).
    pub head_block_duration: Duration,
    /// Whether a background thread compacts blocks and applies retention.
    pub background_compaction: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            retention_time: Duration::from_secs(15 * 24 * 3600),
            retention_size: None,
            wal_fsync: WalFsync::default(),
            wal_segment_size: 128 << 20,
            out_of_order_window: Duration::ZERO,
            head_block_duration: Duration::from_secs(2 * 3600),
            background_compaction: true,
        }
    }
}
