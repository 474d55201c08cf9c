//! In-memory head chunks: Gorilla-style compression of float samples.
//!
//! The head keeps each series' recent samples in an append-only
//! [`XorChunk`]: timestamps as delta-of-delta in variable-width buckets,
//! values XORed with their predecessor (Pelkonen et al., "Gorilla", VLDB
//! 2015, as adapted by Prometheus). Head chunks are never persisted — the
//! WAL rebuilds them on restart — so the format can change freely between
//! versions.
//!
//! - [`bitstream`] writes and reads bits most significant first.
//! - [`xor`] holds the chunk, its encoder and its decoding iterator; the
//!   module docs there describe the stream layout.

mod bitstream;
mod xor;

#[cfg(test)]
mod tests;

pub use xor::{XorChunk, XorIter, DOD_BUCKETS};

/// The head closes a chunk once it holds this many samples (30 minutes at a
/// 15 s scrape interval), as Prometheus does.
pub const MAX_SAMPLES_PER_CHUNK: usize = 120;
