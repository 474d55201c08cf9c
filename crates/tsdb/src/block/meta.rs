//! `meta.json` contents and block ids (ULIDs).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::{corrupt, BLOCK_VERSION, META_FILE};
use crate::{Result, TsdbError};

/// What `meta.json` records about a block.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BlockMeta {
    /// Sortable unique id: 26 Crockford base32 characters, creation time first.
    pub ulid: String,
    /// Smallest sample timestamp in the block, ms.
    pub min_time: i64,
    /// Largest sample timestamp in the block, ms, inclusive.
    pub max_time: i64,
    pub stats: BlockStats,
    pub compaction: BlockCompaction,
    pub version: u32,
}

/// Counts of what a block holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct BlockStats {
    pub num_samples: u64,
    pub num_series: u64,
    pub num_chunks: u64,
}

/// How a block came to be.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct BlockCompaction {
    /// 1 for a block cut from the head, one more than its inputs otherwise.
    pub level: u32,
    /// Ulids of the head-cut blocks whose data this block contains.
    pub sources: Vec<String>,
}

impl BlockMeta {
    /// Reads and checks `<dir>/meta.json`.
    pub(crate) fn read(dir: &Path) -> Result<BlockMeta> {
        let path = dir.join(META_FILE);
        let bytes = std::fs::read(&path).map_err(TsdbError::io("read", &path))?;
        let meta: BlockMeta = serde_json::from_slice(&bytes)
            .map_err(|e| corrupt("block meta", &path, e.to_string()))?;
        if meta.version != BLOCK_VERSION {
            return Err(corrupt(
                "block meta",
                &path,
                format!("unsupported version {}", meta.version),
            ));
        }
        if meta.min_time > meta.max_time || meta.ulid.len() != 26 {
            return Err(corrupt(
                "block meta",
                &path,
                "inconsistent time range or ulid",
            ));
        }
        Ok(meta)
    }
}

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// The last id handed out, so ids made in the same millisecond still sort
/// in creation order (compaction relies on "greater ulid = newer data").
static LAST_ULID: Mutex<u128> = Mutex::new(0);
static ULID_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A new ULID: 48 bits of milliseconds since the epoch, 80 random bits,
/// strictly increasing within this process.
pub fn new_ulid() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let ms = now.as_millis() & ((1 << 48) - 1);
    let mut random = 0u128;
    for _ in 0..2 {
        // RandomState is seeded from the OS per process; mixing in a counter
        // and the clock gives fresh bits each call without a rand dependency.
        let mut h = RandomState::new().build_hasher();
        h.write_u64(ULID_COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_u128(now.as_nanos());
        random = (random << 64) | u128::from(h.finish());
    }
    let mut value = (ms << 80) | (random & ((1 << 80) - 1));
    {
        let mut last = LAST_ULID.lock();
        if value <= *last {
            value = *last + 1;
        }
        *last = value;
    }
    (0..26)
        .map(|i| CROCKFORD[((value >> (5 * (25 - i))) & 31) as usize] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulids_are_sortable_and_unique() {
        let ids: Vec<String> = (0..1000).map(|_| new_ulid()).collect();
        assert!(ids
            .iter()
            .all(|u| u.len() == 26 && u.bytes().all(|b| CROCKFORD.contains(&b))));
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        // The first character holds only the top 3 bits of 128.
        assert!(ids[0].as_bytes()[0] <= b'7');
    }
}
