//! The Gorilla-style XOR chunk: encoder ([`XorChunk`]) and decoder
//! ([`XorIter`]).
//!
//! Stream layout, most significant bit first:
//!
//! 1. first timestamp: zigzag LEB128 varint (1..=10 bytes), then the first
//!    value's 64 raw bits;
//! 2. second timestamp: the delta `t1 - t0` as an unsigned LEB128 varint of
//!    its wrapping `u64` difference, then the value as below;
//! 3. every later timestamp: the delta-of-delta `dod` in a prefix bucket
//!    ([`DOD_BUCKETS`]), then the value.
//!
//! A value is XORed with the previous one: `0` when equal; `10` + the
//! meaningful bits when they fit in the previous leading/trailing-zero window;
//! `11` + 5 bits leading zeros + 6 bits length (64 stored as 0) + the bits
//! otherwise.
//!
//! All timestamp arithmetic wraps: deltas and deltas-of-deltas are computed
//! and undone modulo 2^64, so any strictly increasing `i64` sequence
//! round-trips, even one spanning `i64::MIN..=i64::MAX`.

use agentmon_model::Sample;

use super::bitstream::{BitReader, BitWriter};
use super::MAX_SAMPLES_PER_CHUNK;

/// Delta-of-delta buckets: prefix of `k` one bits then a zero (none for the
/// last), followed by a `width`-bit two's-complement payload.
///
/// Chosen for millisecond timestamps of 15 s scrapes with 1–40 ms jitter,
/// where the dod of uniform jitter is `j[n] - 2 j[n-1] + j[n-2]`, within
/// ±78 ms and about 99% within ±64:
///
/// | prefix  | payload | range              | total bits | for                       |
/// |---------|---------|--------------------|------------|---------------------------|
/// | `0`     | 0       | 0                  | 1          | jitter-free scrapes       |
/// | `10`    | 7       | -64..=63           | 9          | ordinary jitter           |
/// | `110`   | 9       | -256..=255         | 12         | the jitter tail           |
/// | `1110`  | 12      | -2048..=2047       | 16         | slow scrapes (≤ 2 s)      |
/// | `11110` | 20      | -524288..=524287   | 25         | missed scrapes (≤ ~8 min) |
/// | `11111` | 64      | any                | 69         | restarts, long gaps       |
///
/// Measured on that jitter, 7/9/12 bits costs 8.9 bits per timestamp against
/// 9.9 for an 8-bit first bucket.
pub const DOD_BUCKETS: [u32; 5] = [0, 7, 9, 12, 20];

/// Spare capacity an `append` needs: the worst case sample (the second
/// one's 10-byte varint plus a 77-bit new-window value, 21 bytes) plus the 7
/// bytes the bit writer may store past the end before truncating. Appends
/// reserve this much first so that the writes themselves never reallocate.
const SAMPLE_MAX_BYTES: usize = 28;

/// First allocation: the header (up to 18 bytes) and a dozen or so samples,
/// enough to estimate the series' bytes per sample for the next growth.
const INITIAL_CAPACITY: usize = 64;

/// `leading` value meaning no XOR window has been written yet. Larger than
/// any real leading count, so the reuse test fails without a separate check.
const NO_WINDOW: u8 = u8::MAX;

/// A Gorilla-compressed, append-only chunk of float samples.
///
/// The appender state lives inline (64 bytes on 64-bit targets plus the
/// heap buffer) because the head keeps one open chunk per series.
#[derive(Clone, Debug)]
pub struct XorChunk {
    buf: Vec<u8>,
    min_time: i64,
    max_time: i64,
    /// Wrapping difference of the last two timestamps.
    last_delta: i64,
    last_bits: u64,
    count: u32,
    /// Leading zeros of the current XOR window, or [`NO_WINDOW`].
    leading: u8,
    trailing: u8,
    /// Unused low bits in the last byte of `buf`.
    free_bits: u8,
}

impl Default for XorChunk {
    fn default() -> XorChunk {
        XorChunk::new()
    }
}

impl XorChunk {
    /// An empty chunk; allocates nothing until the first append.
    pub fn new() -> XorChunk {
        XorChunk {
            buf: Vec::new(),
            min_time: i64::MAX,
            max_time: i64::MIN,
            last_delta: 0,
            last_bits: 0,
            count: 0,
            leading: NO_WINDOW,
            trailing: 0,
            free_bits: 0,
        }
    }

    /// Appends a sample. Caller guarantees `t > self.max_time()` when the
    /// chunk is non-empty (checked in debug builds only).
    pub fn append(&mut self, t: i64, v: f64) {
        debug_assert!(
            self.count == 0 || t > self.max_time,
            "out-of-order append: {t} after {}",
            self.max_time
        );
        if self.buf.capacity() - self.buf.len() < SAMPLE_MAX_BYTES {
            self.grow();
        }
        let bits = v.to_bits();
        let mut w = BitWriter::new(&mut self.buf, &mut self.free_bits);
        match self.count {
            0 => {
                write_uvarint(&mut w, zigzag(t));
                w.write(bits, 64);
                self.min_time = t;
            }
            1 => {
                let delta = t.wrapping_sub(self.max_time);
                write_uvarint(&mut w, delta as u64);
                self.last_delta = delta;
                write_xor(
                    &mut w,
                    bits ^ self.last_bits,
                    &mut self.leading,
                    &mut self.trailing,
                );
            }
            _ => {
                let delta = t.wrapping_sub(self.max_time);
                write_dod(&mut w, delta.wrapping_sub(self.last_delta));
                self.last_delta = delta;
                write_xor(
                    &mut w,
                    bits ^ self.last_bits,
                    &mut self.leading,
                    &mut self.trailing,
                );
            }
        }
        self.max_time = t;
        self.last_bits = bits;
        self.count += 1;
    }

    /// Reserves room for as many samples again as the chunk holds (at least
    /// 8), projected from its bytes per sample so far. Reserving for the
    /// whole rest of a 120-sample chunk would waste most of the buffer of
    /// every series that is young or scraped rarely (with a million such
    /// series, hundreds of megabytes); growing by less than double costs
    /// more reallocations than it saves (WAL replay slowed by half).
    #[cold]
    #[inline(never)]
    fn grow(&mut self) {
        let len = self.buf.len();
        let n = self.count as usize;
        let target = if len == 0 {
            INITIAL_CAPACITY
        } else {
            // The first sample (varint + raw value) is not typical; leave
            // it out of the rate.
            let header = uvarint_len(zigzag(self.min_time)) + 8;
            let body = len.saturating_sub(header);
            let per_sample_x8 = (body * 8).div_ceil(n.saturating_sub(1).max(1));
            let remaining = if n < MAX_SAMPLES_PER_CHUNK {
                (MAX_SAMPLES_PER_CHUNK - n).min(n.max(8))
            } else {
                // Past the usual size (not done by the head): grow by a
                // quarter so long chunks still reallocate rarely.
                n / 4
            };
            // Project with 1/8 slack for series that compress worse later.
            len + (per_sample_x8 * remaining * 9).div_ceil(64) + SAMPLE_MAX_BYTES
        };
        let target = target.max(len + 2 * SAMPLE_MAX_BYTES);
        self.buf.reserve_exact(target - len);
    }

    /// Number of samples.
    #[inline]
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether no sample has been appended.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Timestamp of the first sample; `i64::MAX` when empty.
    #[inline]
    pub fn min_time(&self) -> i64 {
        self.min_time
    }

    /// Timestamp of the last sample; `i64::MIN` when empty.
    #[inline]
    pub fn max_time(&self) -> i64 {
        self.max_time
    }

    /// Value of the last sample, bit for bit.
    #[inline]
    pub fn last_value(&self) -> Option<f64> {
        (self.count > 0).then(|| f64::from_bits(self.last_bits))
    }

    /// The last sample, if any.
    #[inline]
    pub fn last_sample(&self) -> Option<Sample> {
        (self.count > 0).then(|| Sample::new(self.max_time, f64::from_bits(self.last_bits)))
    }

    /// Decodes the samples in time order.
    #[inline]
    pub fn iter(&self) -> XorIter<'_> {
        XorIter {
            r: BitReader::new(&self.buf),
            done: 0,
            total: self.count,
            t: 0,
            delta: 0,
            bits: 0,
            sig: 64,
            trailing: 0,
        }
    }

    /// The encoded bit stream; the last byte is zero-padded. It does not
    /// record the sample count, which [`Self::len`] holds.
    #[inline]
    pub fn encoded_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Bytes used by this chunk: the struct plus the buffer's capacity.
    #[inline]
    pub fn memory_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.buf.capacity()
    }

    /// Releases unused buffer capacity; for chunks that are complete.
    pub fn shrink_to_fit(&mut self) {
        self.buf.shrink_to_fit();
    }
}

impl<'a> IntoIterator for &'a XorChunk {
    type Item = Sample;
    type IntoIter = XorIter<'a>;

    fn into_iter(self) -> XorIter<'a> {
        self.iter()
    }
}

/// Maps signed to unsigned so that small magnitudes make short varints.
#[inline]
fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// Inverse of [`zigzag`].
#[inline]
fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

/// Bytes of the LEB128 encoding of `v`.
fn uvarint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// LEB128: 7 bits per byte, low groups first, high bit set on all but the
/// last byte.
fn write_uvarint(w: &mut BitWriter<'_>, mut v: u64) {
    while v >= 0x80 {
        w.write((v & 0x7f) | 0x80, 8);
        v >>= 7;
    }
    w.write(v, 8);
}

/// Reads what [`write_uvarint`] wrote; stops after 10 bytes whatever the
/// continuation bits say.
fn read_uvarint(r: &mut BitReader<'_>) -> u64 {
    let mut v = 0u64;
    for i in 0..10 {
        let b = r.read_long(8);
        v |= (b & 0x7f) << (7 * i);
        if b < 0x80 {
            break;
        }
    }
    v
}

/// Whether `v` fits a `width`-bit two's-complement field.
#[inline]
fn fits_signed(v: i64, width: u32) -> bool {
    let half = 1i64 << (width - 1);
    (-half..half).contains(&v)
}

/// Writes a delta-of-delta in the smallest bucket of [`DOD_BUCKETS`].
#[inline]
fn write_dod(w: &mut BitWriter<'_>, dod: i64) {
    if dod == 0 {
        w.write_bit(false);
        return;
    }
    for (k, &width) in DOD_BUCKETS.iter().enumerate().skip(1) {
        if fits_signed(dod, width) {
            // `k` ones then a zero, then the payload's low `width` bits.
            let prefix = (1u64 << (k + 1)) - 2;
            let payload = dod as u64 & ((1u64 << width) - 1);
            w.write((prefix << width) | payload, k as u32 + 1 + width);
            return;
        }
    }
    w.write(0b11111, 5);
    w.write(dod as u64, 64);
}

/// Writes the XOR of a value with its predecessor, updating the window.
#[inline]
fn write_xor(w: &mut BitWriter<'_>, xor: u64, leading: &mut u8, trailing: &mut u8) {
    if xor == 0 {
        w.write_bit(false);
        return;
    }
    // Leading zeros are stored in 5 bits; beyond 31 the extra zeros are
    // simply sent as meaningful bits.
    let lz = xor.leading_zeros().min(31);
    let tz = xor.trailing_zeros();
    let sig = 64 - lz - tz;
    let (pl, pt) = (u32::from(*leading), u32::from(*trailing));
    if lz >= pl && tz >= pt {
        // Fits the previous window. Keep it unless a fresh, tighter window
        // would save more than its 11-bit header costs.
        let psig = 64 - pl - pt;
        if psig <= sig + 11 {
            let bits = xor >> pt;
            if psig <= 62 {
                w.write((0b10 << psig) | bits, psig + 2);
            } else {
                w.write(0b10, 2);
                w.write(bits, psig);
            }
            return;
        }
    }
    *leading = lz as u8;
    *trailing = tz as u8;
    // 6-bit length field: 64 wraps to 0, never a real length since xor != 0.
    let header = (0b11 << 11) | (u64::from(lz) << 6) | u64::from(sig & 63);
    let bits = xor >> tz;
    if sig <= 64 - 13 {
        w.write((header << sig) | bits, 13 + sig);
    } else {
        w.write(header, 13);
        w.write(bits, sig);
    }
}

/// Iterator over a chunk's samples in time order.
#[derive(Clone, Debug)]
pub struct XorIter<'a> {
    r: BitReader<'a>,
    done: u32,
    total: u32,
    t: i64,
    delta: i64,
    bits: u64,
    /// Meaningful bits and trailing zeros of the current XOR window.
    sig: u32,
    trailing: u32,
}

impl XorIter<'_> {
    #[inline(never)]
    fn read_first(&mut self) {
        self.t = unzigzag(read_uvarint(&mut self.r));
        self.bits = self.r.read_long(64);
    }

    #[inline(never)]
    fn read_second(&mut self) {
        self.delta = read_uvarint(&mut self.r) as i64;
        self.t = self.t.wrapping_add(self.delta);
        self.r.refill();
        self.read_value();
    }

    /// Decodes a delta-of-delta and advances the timestamp.
    #[inline(always)]
    fn read_timestamp(&mut self) {
        self.r.refill();
        let k = self.r.peek().leading_ones();
        let dod = if k == 0 {
            self.r.consume(1);
            0
        } else if let Some(&width) = DOD_BUCKETS.get(k as usize) {
            // Prefix and payload in one read; shifting the payload to the
            // top drops the prefix and lets the arithmetic shift extend the
            // sign.
            let raw = self.r.read(k + 1 + width);
            ((raw << (64 - width)) as i64) >> (64 - width)
        } else {
            self.r.consume(5);
            self.r.read_long(64) as i64
        };
        self.delta = self.delta.wrapping_add(dod);
        self.t = self.t.wrapping_add(self.delta);
    }

    /// Decodes an XORed value into `self.bits`. Needs 13 buffered bits for
    /// the header, which [`Self::read_timestamp`] always leaves (at least
    /// 24), so the common path skips a refill.
    #[inline(always)]
    fn read_value(&mut self) {
        let top = self.r.peek();
        if top >> 63 == 0 {
            self.r.consume(1);
            return;
        }
        let sig = if top & (1 << 62) == 0 {
            self.r.consume(2);
            self.sig
        } else {
            let header = self.r.read(13);
            let lz = ((header >> 6) & 31) as u32;
            let sig = match (header & 63) as u32 {
                0 => 64,
                s => s,
            };
            self.sig = sig;
            // Saturating so that a corrupt stream decodes to garbage
            // instead of panicking; valid streams give 0..=63.
            self.trailing = 64u32.saturating_sub(lz + sig);
            sig
        };
        let bits = self.r.read_long(sig);
        self.bits ^= bits << (self.trailing & 63);
    }
}

impl Iterator for XorIter<'_> {
    type Item = Sample;

    #[inline]
    fn next(&mut self) -> Option<Sample> {
        if self.done >= self.total {
            return None;
        }
        if self.done >= 2 {
            self.read_timestamp();
            self.read_value();
        } else if self.done == 0 {
            self.read_first();
        } else {
            self.read_second();
        }
        self.done += 1;
        Some(Sample::new(self.t, f64::from_bits(self.bits)))
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = (self.total - self.done) as usize;
        (n, Some(n))
    }
}

impl ExactSizeIterator for XorIter<'_> {}

impl std::iter::FusedIterator for XorIter<'_> {}
