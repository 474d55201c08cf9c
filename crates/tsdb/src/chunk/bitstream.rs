//! Most-significant-bit-first bit writing and reading over a byte buffer.
//!
//! The writer does not own its state: [`super::XorChunk`] keeps the byte
//! vector and the count of unused bits in the last byte as separate fields of
//! its own, so that no padding is wasted on a nested struct (the chunk struct
//! is per series and there are a million series).
//!
//! The reader keeps up to 64 bits in a left-aligned accumulator and refills
//! it with one unaligned 8-byte load, so decoding a sample costs a couple of
//! loads instead of a loop over bytes.

/// Appends bits to a byte vector whose last byte may be partly filled.
pub(crate) struct BitWriter<'a> {
    buf: &'a mut Vec<u8>,
    /// Unused low bits of the last byte of `buf` (0..=7).
    free: &'a mut u8,
}

impl<'a> BitWriter<'a> {
    /// Borrows the chunk's byte vector and free-bit count.
    #[inline]
    pub(crate) fn new(buf: &'a mut Vec<u8>, free: &'a mut u8) -> BitWriter<'a> {
        BitWriter { buf, free }
    }

    /// Writes the low `n` bits of `value`, most significant first.
    ///
    /// `value` must not have bits set at or above `n` (1 <= n <= 64).
    #[inline]
    pub(crate) fn write(&mut self, value: u64, n: u32) {
        debug_assert!((1..=64).contains(&n));
        debug_assert!(n == 64 || value >> n == 0, "value wider than {n} bits");
        let mut n = n;
        let free = u32::from(*self.free);
        if free > 0 {
            // Fill the tail of the partial byte first.
            if let Some(last) = self.buf.last_mut() {
                if n <= free {
                    *last |= (value << (free - n)) as u8;
                    *self.free = (free - n) as u8;
                    return;
                }
                n -= free;
                *last |= (value >> n) as u8;
            }
        }
        // Now byte aligned with 1..=64 bits left: left-align them and copy
        // just the bytes they touch. The shift drops the bits already written.
        // Copying all 8 bytes and truncating compiles to one store, where a
        // variable-length copy would call memcpy.
        let aligned = value << (64 - n);
        let nbytes = n.div_ceil(8);
        let len = self.buf.len();
        self.buf.extend_from_slice(&aligned.to_be_bytes());
        self.buf.truncate(len + nbytes as usize);
        *self.free = (nbytes * 8 - n) as u8;
    }

    /// Writes a single bit.
    #[inline]
    pub(crate) fn write_bit(&mut self, bit: bool) {
        self.write(u64::from(bit), 1);
    }
}

/// Reads bits written by [`BitWriter`].
///
/// Reading past the end yields zero bits rather than panicking; the chunk
/// iterator never does so because it stops after the known sample count.
#[derive(Clone, Debug)]
pub(crate) struct BitReader<'a> {
    bytes: &'a [u8],
    /// Next byte of `bytes` not yet counted in `nbits`.
    pos: usize,
    /// Valid bits are the top `nbits`; bits below may already hold the
    /// following stream bits (see `refill`).
    acc: u64,
    nbits: u32,
}

impl<'a> BitReader<'a> {
    /// Starts reading at the first bit of `bytes`.
    #[inline]
    pub(crate) fn new(bytes: &'a [u8]) -> BitReader<'a> {
        BitReader {
            bytes,
            pos: 0,
            acc: 0,
            nbits: 0,
        }
    }

    /// Tops the accumulator up to at least 56 valid bits, unless the input
    /// runs out first.
    #[inline]
    pub(crate) fn refill(&mut self) {
        if let Some(chunk) = self.bytes.get(self.pos..self.pos + 8) {
            let word = u64::from_be_bytes(chunk.try_into().unwrap_or([0; 8]));
            // ORing the whole word may also set bits of a byte that is only
            // partly taken; the next refill ORs the same bits into the same
            // place, so that is harmless and saves a mask.
            self.acc |= word >> self.nbits;
            let take = (63 - self.nbits) / 8;
            self.pos += take as usize;
            self.nbits += take * 8;
        } else {
            self.refill_tail();
        }
    }

    /// The last few bytes: load them one at a time.
    #[cold]
    fn refill_tail(&mut self) {
        while self.nbits <= 56 {
            let Some(&b) = self.bytes.get(self.pos) else {
                // Past the end: pretend the stream continues with zeros.
                self.nbits = 64;
                return;
            };
            self.acc |= u64::from(b) << (56 - self.nbits);
            self.pos += 1;
            self.nbits += 8;
        }
    }

    /// The next 64 bits without consuming them; only the top `nbits` are
    /// meaningful.
    #[inline]
    pub(crate) fn peek(&self) -> u64 {
        self.acc
    }

    /// Drops `n` bits (1..=56) that were peeked.
    #[inline]
    pub(crate) fn consume(&mut self, n: u32) {
        debug_assert!((1..=56).contains(&n));
        self.acc <<= n;
        self.nbits = self.nbits.saturating_sub(n);
    }

    /// Reads `n` bits (1..=56); call [`Self::refill`] first.
    #[inline]
    pub(crate) fn read(&mut self, n: u32) -> u64 {
        debug_assert!((1..=56).contains(&n));
        let v = self.acc >> (64 - n);
        self.consume(n);
        v
    }

    /// Reads `n` bits (1..=64), refilling as needed.
    #[inline]
    pub(crate) fn read_long(&mut self, n: u32) -> u64 {
        // Most value reads fit in what the last refill left.
        if n <= self.nbits.min(56) {
            return self.read(n);
        }
        self.refill();
        if n <= 56 {
            self.read(n)
        } else {
            let hi = self.read(n - 32);
            self.refill();
            (hi << 32) | self.read(32)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_round_trip_in_order() {
        let mut buf = Vec::new();
        let mut free = 0u8;
        let mut expected = Vec::new();
        let mut w = BitWriter::new(&mut buf, &mut free);
        // Every width, with patterns that have both ends set, twice over so
        // that each width lands at several bit offsets.
        for round in 0..2u64 {
            for n in 1..=64u32 {
                let v = if n == 64 {
                    u64::MAX - round
                } else {
                    ((1u64 << (n - 1)) | 1 | (round << (n / 2))) & ((1u64 << n) - 1)
                };
                w.write(v, n);
                expected.push((v, n));
                w.write_bit(round == 1);
                expected.push((round, 1));
            }
        }
        let total: u32 = expected.iter().map(|&(_, n)| n).sum();
        assert_eq!(buf.len(), total.div_ceil(8) as usize);
        assert_eq!(u32::from(free), buf.len() as u32 * 8 - total);

        let mut r = BitReader::new(&buf);
        for &(v, n) in &expected {
            assert_eq!(r.read_long(n), v, "width {n}");
        }
        // Past the end reads as zeros and does not panic.
        assert_eq!(r.read_long(64), 0);
    }

    #[test]
    fn peek_and_consume() {
        let mut buf = Vec::new();
        let mut free = 0u8;
        let mut w = BitWriter::new(&mut buf, &mut free);
        w.write(0b1101, 4);
        w.write(0xabcd, 16);
        let mut r = BitReader::new(&buf);
        r.refill();
        assert_eq!(r.peek().leading_ones(), 2);
        r.consume(3);
        assert_eq!(r.read(1), 1);
        assert_eq!(r.read(16), 0xabcd);
    }
}
