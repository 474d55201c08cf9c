//! Recovery from damaged files in the data directory, end to end.
//!
//! Proves that (a) when the last WAL record is cut short or has a flipped
//! byte, the server still becomes ready, counts the damage on `/metrics`,
//! serves every sample written before the damaged record and none of the
//! damaged one, and keeps taking writes that survive a further restart; and
//! (b) when a block's `chunks` or `index` file is damaged, the server still
//! starts, counts the block as corrupt, renames its directory to
//! `<id>.corrupt`, and keeps serving the samples held in the WAL.

mod common;

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};

use common::http::{client, flush, metric_value, metrics, remote_write, TestSeries};
use common::server::Server;
use common::writer::{now_ms, sample_value, verify, Ledger, SampleMap};
use reqwest::blocking::Client;

/// Series per request in these tests.
const SERIES: usize = 3;

/// Sends one request with one sample at `t` for each of the series of
/// `metric`, asserts it was acknowledged, and returns what it carried.
fn write_one(http: &Client, server: &Server, metric: &str, t: i64) -> SampleMap {
    let mut sent = SampleMap::new();
    let batch: Vec<TestSeries> = (0..SERIES)
        .map(|s| {
            let name = format!("s{s}");
            let v = sample_value(s, t);
            sent.insert((name.clone(), t), v);
            TestSeries::new(&[("__name__", metric), ("series", &name)], &[(t, v)])
        })
        .collect();
    let reply = remote_write(http, server, &batch);
    assert_eq!(reply.status, 204, "remote write: {}", reply.text);
    sent
}

/// The highest-numbered WAL segment (8-digit file name) under `data`.
fn last_wal_segment(data: &Path) -> PathBuf {
    let mut segments: Vec<PathBuf> = fs::read_dir(data.join("wal"))
        .expect("wal directory")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.len() == 8 && name.bytes().all(|b| b.is_ascii_digit()) && p.is_file()
        })
        .collect();
    segments.sort();
    segments.pop().expect("at least one WAL segment")
}

fn file_len(path: &Path) -> u64 {
    fs::metadata(path).expect("stat").len()
}

/// Flips every bit of the byte at `offset`.
fn flip_byte(path: &Path, offset: u64) {
    let mut bytes = fs::read(path).expect("read file to damage");
    bytes[offset as usize] ^= 0xff;
    fs::write(path, bytes).expect("write damaged file");
}

enum WalDamage {
    Truncate,
    FlipByte,
}

/// Writes requests, SIGKILLs the server, damages the last request's WAL
/// record as told, restarts and checks what is served.
fn damaged_wal_tail_is_cut_off(damage: WalDamage, metric: &str) {
    let data = tempfile::tempdir().expect("data dir");
    let http = client();
    let mut server = Server::start(data.path());
    let first_t = now_ms() - 600_000;
    let mut kept = Ledger::default();
    let requests = 20;
    let mut last = SampleMap::new();
    let (mut segment, mut before, mut after) = (PathBuf::new(), 0, 0);
    for i in 0..requests {
        let t = first_t + i * 1000;
        if i == requests - 1 {
            segment = last_wal_segment(data.path());
            before = file_len(&segment);
        }
        let sent = write_one(&http, &server, metric, t);
        if i == requests - 1 {
            assert_eq!(
                segment,
                last_wal_segment(data.path()),
                "last request went to a new segment"
            );
            after = file_len(&segment);
            last = sent;
        } else {
            kept.acked.extend(sent);
        }
    }
    server.kill();
    assert!(
        after > before,
        "the WAL did not grow ({before} -> {after} bytes) for an acknowledged write"
    );

    let middle = before + (after - before) / 2;
    match damage {
        WalDamage::Truncate => OpenOptions::new()
            .write(true)
            .open(&segment)
            .and_then(|f| f.set_len(middle))
            .expect("truncate segment"),
        WalDamage::FlipByte => flip_byte(&segment, middle),
    }

    let mut server = Server::start(data.path());
    let page = metrics(&http, &server);
    let corruptions = metric_value(&page, "agentmon_wal_corruptions_total");
    let truncated = metric_value(&page, "agentmon_wal_truncated_bytes_total");
    eprintln!("after damage: corruptions {corruptions:?}, truncated bytes {truncated:?}");
    match damage {
        WalDamage::FlipByte => assert_eq!(corruptions, Some(1.0), "after a flipped byte:\n{page}"),
        WalDamage::Truncate => assert!(
            corruptions == Some(1.0) || truncated.is_some_and(|b| b > 0.0),
            "a cut record was not counted (corruptions {corruptions:?}, truncated bytes {truncated:?})"
        ),
    }
    // Everything before the damaged record is served, nothing of it.
    verify(&server, metric, &kept);

    // The log was cut cleanly: the lost request can be sent again, and all
    // of it survives another crash.
    let resent = write_one(
        &http,
        &server,
        metric,
        *last.keys().next().map(|(_, t)| t).expect("samples"),
    );
    assert_eq!(resent, last);
    kept.acked.extend(resent);
    verify(&server, metric, &kept);
    server.kill();
    let server = Server::start(data.path());
    verify(&server, metric, &kept);
}

#[test]
fn truncated_wal_tail_is_cut_off_and_earlier_samples_served() {
    damaged_wal_tail_is_cut_off(WalDamage::Truncate, "e2e_wal_truncated");
}

#[test]
fn flipped_byte_in_last_wal_record_is_detected_and_earlier_samples_served() {
    damaged_wal_tail_is_cut_off(WalDamage::FlipByte, "e2e_wal_flipped");
}

/// Directories under `data/blocks`, by name.
fn block_dirs(data: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(data.join("blocks"))
        .expect("blocks directory")
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .collect();
    names.sort();
    names
}

/// Picks the byte to damage from a file's length.
type DamageOffset = fn(u64) -> u64;

/// Byte positions damaged in a block file, as functions of its length:
/// the first byte (magic or header), the middle, and the last (trailer or
/// checksum).
const BLOCK_DAMAGE_AT: [(&str, DamageOffset); 3] = [
    ("first byte", |_| 0),
    ("middle byte", |len| len / 2),
    ("last byte", |len| len - 1),
];

/// Flushes a block, writes more into the head, SIGKILLs, damages `file`
/// of the block at each of [`BLOCK_DAMAGE_AT`] (one data directory each)
/// and restarts.
fn damaged_block_is_set_aside(file: &str) {
    for (position, offset) in BLOCK_DAMAGE_AT {
        damaged_block_is_set_aside_at(file, position, offset);
    }
}

fn damaged_block_is_set_aside_at(file: &str, position: &str, offset: DamageOffset) {
    let data = tempfile::tempdir().expect("data dir");
    let http = client();
    let mut server = Server::start(data.path());
    let first_t = now_ms() - 3_600_000;
    for i in 0..30 {
        write_one(&http, &server, "e2e_block_flushed", first_t + i * 1000);
    }
    flush(&http, &server);
    let blocks = block_dirs(data.path());
    assert_eq!(blocks.len(), 1, "one flush, one block: {blocks:?}");
    let block = blocks[0].clone();

    let mut head = Ledger::default();
    for i in 0..30 {
        head.acked.extend(write_one(
            &http,
            &server,
            "e2e_block_head",
            now_ms() - 60_000 + i * 1000,
        ));
    }
    server.kill();

    let path = data.path().join("blocks").join(&block).join(file);
    let len = file_len(&path);
    assert!(len > 0, "{file} is empty");
    flip_byte(&path, offset(len));

    let server = Server::start(data.path());
    let page = metrics(&http, &server);
    assert_eq!(
        metric_value(&page, "agentmon_tsdb_blocks_corrupt_total"),
        Some(1.0),
        "{file} damaged at its {position} not counted:\n{page}"
    );
    let after = block_dirs(data.path());
    assert!(
        after.contains(&format!("{block}.corrupt")) && !after.contains(&block),
        "{file} damaged at its {position}: block {block} was not renamed to {block}.corrupt: {after:?}"
    );
    verify(&server, "e2e_block_head", &head);
}

#[test]
fn block_with_damaged_chunks_is_set_aside_and_head_still_served() {
    damaged_block_is_set_aside("chunks");
}

#[test]
fn block_with_damaged_index_is_set_aside_and_head_still_served() {
    damaged_block_is_set_aside("index");
}
