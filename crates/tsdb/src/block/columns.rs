//! Byte-aligned column encodings for one chunk's timestamps and values.
//!
//! Everything here is varint based rather than bit packed: the chunk frames
//! are zstd-compressed afterwards, and zstd's entropy stage squeezes the
//! redundancy out of small, byte-aligned numbers far better than it can out
//! of a bit stream whose fields straddle byte boundaries.
//!
//! - Timestamps: sample count, first timestamp, first delta, then
//!   delta-of-deltas, all (zigzag) varints.
//! - Values: one mode byte, then either scaled integers (a decimal scale `k`,
//!   each value times `10^k` as an exact integer, written as deltas or
//!   delta-of-deltas) or raw 8-byte XORs with the previous value's bits.
//!   The integer path is taken only when every value round-trips bit for
//!   bit, so NaN payloads, the stale marker, `-0.0` and infinities always
//!   fall back to the raw path and survive exactly.

use agentmon_model::Sample;

/// Mode byte of a value column stored as raw XORed bits.
const RAW_MODE: u8 = 0xFF;
/// Largest decimal scale tried; `10^15` is still exact in an `f64`.
const MAX_SCALE: u32 = 15;
/// Scaled integers must stay below 2^53 to convert to `f64` exactly.
const EXACT_INT_LIMIT: f64 = 9_007_199_254_740_992.0;

/// A decoding failure: what was wrong, to be wrapped with the file path.
#[derive(Debug)]
pub(crate) struct Malformed(pub &'static str);

/// Bounds-checked reader over an encoded byte slice; never panics.
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Cursor<'a> {
        Cursor { buf, pos: 0 }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn u8(&mut self) -> Result<u8, Malformed> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or(Malformed("unexpected end of data"))?;
        self.pos += 1;
        Ok(b)
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        if n > self.remaining() {
            return Err(Malformed("unexpected end of data"));
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    pub(crate) fn u64_le(&mut self) -> Result<u64, Malformed> {
        let b = self.bytes(8)?;
        Ok(u64::from_le_bytes(
            b.try_into().map_err(|_| Malformed("short u64"))?,
        ))
    }

    pub(crate) fn varint(&mut self) -> Result<u64, Malformed> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            value |= u64::from(b & 0x7F) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(Malformed("varint too long"))
    }

    /// A varint that must fit the given bound (counts, ids, offsets).
    pub(crate) fn varint_below(&mut self, bound: u64) -> Result<u64, Malformed> {
        let v = self.varint()?;
        if v >= bound {
            return Err(Malformed("value out of range"));
        }
        Ok(v)
    }

    pub(crate) fn zigzag(&mut self) -> Result<i64, Malformed> {
        let v = self.varint()?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }
}

pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(crate) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

pub(crate) fn put_zigzag(out: &mut Vec<u8>, v: i64) {
    put_varint(out, zigzag(v));
}

fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// Appends the timestamp column of `samples` (non-empty).
pub(crate) fn encode_timestamps(out: &mut Vec<u8>, samples: &[Sample]) {
    put_varint(out, samples.len() as u64);
    // Wrapping arithmetic: timestamps may be any i64, and the decoder wraps
    // the same way, so the round trip is exact even across overflow.
    let mut prev_t = 0i64;
    let mut prev_delta = 0i64;
    for (i, s) in samples.iter().enumerate() {
        match i {
            0 => put_zigzag(out, s.t),
            1 => {
                prev_delta = s.t.wrapping_sub(prev_t);
                put_zigzag(out, prev_delta);
            }
            _ => {
                let delta = s.t.wrapping_sub(prev_t);
                put_zigzag(out, delta.wrapping_sub(prev_delta));
                prev_delta = delta;
            }
        }
        prev_t = s.t;
    }
}

/// Reads a timestamp column; the count bounds allocation by the input size.
pub(crate) fn decode_timestamps(cur: &mut Cursor<'_>) -> Result<Vec<i64>, Malformed> {
    let n = cur.varint()? as usize;
    // Every timestamp takes at least one byte, so a larger count is damage.
    if n == 0 || n > cur.remaining() {
        return Err(Malformed("bad sample count"));
    }
    let mut out = Vec::with_capacity(n);
    let mut t = cur.zigzag()?;
    out.push(t);
    let mut delta = 0i64;
    for i in 1..n {
        let d = cur.zigzag()?;
        delta = if i == 1 { d } else { delta.wrapping_add(d) };
        t = t.wrapping_add(delta);
        out.push(t);
    }
    Ok(out)
}

/// The smallest decimal scale at which every value is an exact integer that
/// converts back bit for bit, if there is one.
fn decimal_scale(values: &[f64]) -> Option<u32> {
    let fits = |v: f64, k: u32| -> bool {
        let p = 10f64.powi(k as i32);
        let m = (v * p).round();
        // Converting through i64 is what the decoder does; it also turns
        // -0.0 into +0.0, which the bit comparison then rejects.
        m.abs() < EXACT_INT_LIMIT && ((m as i64) as f64 / p).to_bits() == v.to_bits()
    };
    // The per-value minimum is a lower bound for the column; a larger scale
    // usually still fits, but rounding can break that, so verify upwards.
    let mut k = 0;
    for &v in values {
        while !fits(v, k) {
            k += 1;
            if k > MAX_SCALE {
                return None;
            }
        }
    }
    (k..=MAX_SCALE).find(|&k| values.iter().all(|&v| fits(v, k)))
}

/// Appends the value column for `samples` (non-empty), picking the mode.
pub(crate) fn encode_values(out: &mut Vec<u8>, samples: &[Sample]) {
    let values: Vec<f64> = samples.iter().map(|s| s.v).collect();
    let Some(k) = decimal_scale(&values) else {
        out.push(RAW_MODE);
        let mut prev = 0u64;
        for v in &values {
            out.extend_from_slice(&(v.to_bits() ^ prev).to_le_bytes());
            prev = v.to_bits();
        }
        return;
    };
    let p = 10f64.powi(k as i32);
    let ints: Vec<i64> = values.iter().map(|v| (v * p).round() as i64).collect();
    // Counters with a steady rate shrink under delta-of-delta, random walks
    // under plain delta; the cheaper one is decided per chunk.
    let deltas = differences(&ints);
    let dods = differences(&deltas);
    let cost = |xs: &[i64]| xs.iter().map(|&x| varint_len(zigzag(x))).sum::<usize>();
    let (order, column) = if cost(&dods) < cost(&deltas) {
        (2u8, dods)
    } else {
        (1u8, deltas)
    };
    out.push(order << 4 | k as u8);
    for x in column {
        put_zigzag(out, x);
    }
}

/// First element kept, then successive differences (within ±2^55, no overflow).
fn differences(xs: &[i64]) -> Vec<i64> {
    let mut out = Vec::with_capacity(xs.len());
    let mut prev = 0i64;
    for (i, &x) in xs.iter().enumerate() {
        out.push(if i == 0 { x } else { x.wrapping_sub(prev) });
        prev = x;
    }
    out
}

/// Undoes [`differences`] in place.
fn integrate(xs: &mut [i64]) {
    for i in 1..xs.len() {
        xs[i] = xs[i].wrapping_add(xs[i - 1]);
    }
}

/// Reads a value column of `n` values.
pub(crate) fn decode_values(cur: &mut Cursor<'_>, n: usize) -> Result<Vec<f64>, Malformed> {
    let mode = cur.u8()?;
    if mode == RAW_MODE {
        let mut prev = 0u64;
        let mut out = Vec::with_capacity(n.min(cur.remaining() / 8));
        for _ in 0..n {
            prev ^= cur.u64_le()?;
            out.push(f64::from_bits(prev));
        }
        return Ok(out);
    }
    let (order, k) = (mode >> 4, u32::from(mode & 0x0F));
    if !(1..=2).contains(&order) || k > MAX_SCALE || n > cur.remaining() {
        return Err(Malformed("bad value column header"));
    }
    let mut ints = Vec::with_capacity(n);
    for _ in 0..n {
        ints.push(cur.zigzag()?);
    }
    for _ in 0..order {
        integrate(&mut ints);
    }
    let p = 10f64.powi(k as i32);
    Ok(ints.into_iter().map(|m| m as f64 / p).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(values: &[f64]) -> u8 {
        let samples: Vec<Sample> = values
            .iter()
            .enumerate()
            .map(|(i, &v)| Sample::new(i as i64 * 15_000, v))
            .collect();
        let mut buf = Vec::new();
        encode_values(&mut buf, &samples);
        let got = decode_values(&mut Cursor::new(&buf), values.len()).unwrap();
        let bits = |xs: &[f64]| xs.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got), bits(values));
        buf[0]
    }

    #[test]
    fn value_modes_are_chosen_and_round_trip() {
        assert_eq!(round_trip(&[1.0, 2.0, 3.0, 5.0]) & 0x0F, 0);
        assert_eq!(round_trip(&[0.1, 0.25, 12.345]) & 0x0F, 3);
        assert_eq!(round_trip(&[1.0, -0.0]), RAW_MODE);
        assert_eq!(
            round_trip(&[1.0, f64::NAN, agentmon_model::STALE_NAN]),
            RAW_MODE
        );
        assert_eq!(round_trip(&[f64::INFINITY, f64::NEG_INFINITY]), RAW_MODE);
        assert_eq!(
            round_trip(&[std::f64::consts::PI, 1e300, f64::MIN_POSITIVE]),
            RAW_MODE
        );
        assert_eq!(round_trip(&[1e15, -1e15, 0.0]) & 0x0F, 0);
    }

    #[test]
    fn timestamps_round_trip_even_when_wrapping() {
        for ts in [
            vec![5i64],
            vec![i64::MIN, i64::MAX, 0, -7],
            vec![0, 15_000, 30_017, 45_001],
        ] {
            let samples: Vec<Sample> = ts.iter().map(|&t| Sample::new(t, 0.0)).collect();
            let mut buf = Vec::new();
            encode_timestamps(&mut buf, &samples);
            assert_eq!(decode_timestamps(&mut Cursor::new(&buf)).unwrap(), ts);
        }
    }

    #[test]
    fn truncated_input_is_an_error_not_a_panic() {
        let samples: Vec<Sample> = (0..50).map(|i| Sample::new(i, i as f64 * 0.5)).collect();
        let (mut ts, mut vs) = (Vec::new(), Vec::new());
        encode_timestamps(&mut ts, &samples);
        encode_values(&mut vs, &samples);
        for cut in 0..ts.len() {
            assert!(decode_timestamps(&mut Cursor::new(&ts[..cut])).is_err());
        }
        for cut in 0..vs.len() {
            assert!(decode_values(&mut Cursor::new(&vs[..cut]), 50).is_err());
        }
    }
}
