//! A bounded LZO1X decoder. Pages in LZO dumps are untrusted input, so the
//! decoder checks every length and distance against the input and the page
//! buffer and never writes past the page.

/// Decodes an LZO1X stream into `out`, returning the number of bytes written.
pub(crate) fn decompress(input: &[u8], out: &mut [u8]) -> Result<usize, &'static str> {
    let mut d = Decoder { input, out, op: 0 };
    // After-instruction state: 0 = expect a literal run, 1..=3 = that many
    // literals just followed a match, 4 = a literal run of 4+ just ended.
    let mut state = 0usize;
    // A first byte above 17 is a literal run of (byte - 17) bytes.
    if let Some(run) = input.first().and_then(|&first| first.checked_sub(17)).filter(|&run| run > 0) {
        d.byte()?;
        let run = usize::from(run);
        d.literals(run)?;
        state = if run < 4 { run } else { 4 };
    }
    loop {
        let t = d.byte()?;
        let (len, dist, trailing) = if t >= 64 {
            let h = usize::from(d.byte()?);
            // Bit fields of one or two bytes: len <= 8, dist <= 2048.
            (add(usize::from(t >> 5), 1)?, distance(usize::from((t >> 2) & 7) | (h << 3), 1)?, usize::from(t & 3))
        } else if t >= 32 {
            let len = d.length(usize::from(t & 31), 31, 2)?;
            let word = d.le16()?;
            (len, distance(word >> 2, 1)?, word & 3)
        } else if t >= 16 {
            let len = d.length(usize::from(t & 7), 7, 2)?;
            let word = d.le16()?;
            // Bit 3 of t is bit 14 of the distance.
            let far = (usize::from(t & 8) << 11) | (word >> 2);
            if far == 0 {
                return Ok(d.op);
            }
            (len, distance(far, 0x4000)?, word & 3)
        } else {
            match state {
                0 => {
                    let run = d.length(usize::from(t), 15, 3)?;
                    d.literals(run)?;
                    state = 4;
                    continue;
                }
                1..=3 => {
                    let h = usize::from(d.byte()?);
                    (2, distance(usize::from(t >> 2) | (h << 2), 1)?, usize::from(t & 3))
                }
                _ => {
                    let h = usize::from(d.byte()?);
                    (3, distance(usize::from(t >> 2) | (h << 2), 0x801)?, usize::from(t & 3))
                }
            }
        };
        d.copy_match(dist, len)?;
        d.literals(trailing)?;
        state = trailing;
    }
}

fn add(a: usize, b: usize) -> Result<usize, &'static str> {
    a.checked_add(b).ok_or("length overflows")
}

/// A match distance: bit fields plus the instruction's bias.
fn distance(bits: usize, bias: usize) -> Result<usize, &'static str> {
    bits.checked_add(bias).ok_or("match distance overflows")
}

struct Decoder<'a, 'b> {
    /// The input not yet decoded.
    input: &'a [u8],
    out: &'b mut [u8],
    op: usize,
}

impl Decoder<'_, '_> {
    fn byte(&mut self) -> Result<u8, &'static str> {
        let (&b, rest) = self.input.split_first().ok_or("input ends inside an instruction")?;
        self.input = rest;
        Ok(b)
    }

    fn le16(&mut self) -> Result<usize, &'static str> {
        let lo = usize::from(self.byte()?);
        let hi = usize::from(self.byte()?);
        Ok(lo | (hi << 8))
    }

    /// A length field `n` of an instruction: zero means `base` plus an
    /// extended length follows. `bias` is added either way.
    fn length(&mut self, n: usize, base: usize, bias: usize) -> Result<usize, &'static str> {
        let n = if n == 0 { add(base, self.extended_length()?)? } else { n };
        add(n, bias)
    }

    /// Zero bytes each add 255, the first non-zero byte ends the count.
    fn extended_length(&mut self) -> Result<usize, &'static str> {
        let mut extra = 0usize;
        loop {
            match self.byte()? {
                0 => extra = add(extra, 255)?,
                b => return add(extra, usize::from(b)),
            }
        }
    }

    fn literals(&mut self, n: usize) -> Result<(), &'static str> {
        let (src, rest) = self.input.split_at_checked(n).ok_or("literal run past the end of the input")?;
        let end = self.op.checked_add(n).ok_or("output larger than one page")?;
        let dst = self.out.get_mut(self.op..end).ok_or("output larger than one page")?;
        dst.copy_from_slice(src);
        self.input = rest;
        self.op = end;
        Ok(())
    }

    fn copy_match(&mut self, dist: usize, len: usize) -> Result<(), &'static str> {
        let from = self.op.checked_sub(dist).ok_or("match reaches before the start of the output")?;
        let end = self.op.checked_add(len).ok_or("match length overflows")?;
        let window = self.out.get_mut(from..end).ok_or("output larger than one page")?;
        // The match repeats the `dist` bytes before it; when it is longer
        // than `dist` it overlaps the bytes it produces, so it is that
        // pattern over and over.
        let (pattern, dst) = window.split_at_mut_checked(dist).ok_or("match distance past the window")?;
        match pattern {
            // Every instruction's distance is at least 1; never loop on 0.
            [] => return Err("match distance 0"),
            [b] => dst.fill(*b),
            _ => {
                for chunk in dst.chunks_mut(dist) {
                    chunk.copy_from_slice(pattern.get(..chunk.len()).ok_or("match distance past the window")?);
                }
            }
        }
        self.op = end;
        Ok(())
    }
}

#[cfg(test)]
// Tests index the synthetic buffers they build; a panic there is a failed test.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
pub(crate) mod tests {
    use super::*;

    /// The inputs of tests/data/lzo (its make.py builds the same ones).
    pub(crate) fn vector_inputs() -> Vec<(&'static str, Vec<u8>)> {
        vec![
            ("zeros", vec![0u8; 4096]),
            ("mod13", (0..4096u32).map(|i| (i % 13) as u8).collect()),
            ("hashed", (0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect()),
            ("hello", b"hello hello hello world, hello world".repeat(100)[..3000].to_vec()),
            ("tiny", vec![1, 2, 3]),
        ]
    }

    /// A vector of tests/data/lzo: `name` compressed by liblzo2's encoder `level` (1 or 999).
    pub(crate) fn vector(name: &str, level: &str) -> Vec<u8> {
        let path = format!("{}/tests/data/lzo/{name}.{level}.lzo", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn decodes_liblzo2_output() {
        for (name, data) in vector_inputs() {
            for level in ["1", "999"] {
                let packed = vector(name, level);
                let mut out = vec![0u8; data.len()];
                let n = decompress(&packed, &mut out).unwrap_or_else(|e| panic!("{name}.{level}: {e}"));
                assert_eq!(n, data.len(), "{name}.{level}");
                assert_eq!(out, data, "{name}.{level}");
                // Every proper prefix ends inside an instruction or before the end marker.
                for cut in 0..packed.len() {
                    assert!(decompress(&packed[..cut], &mut out).is_err(), "{name}.{level} cut at {cut}");
                }
            }
        }
    }

    #[test]
    fn hostile_streams_fail() {
        let mut out = vec![0u8; 64];
        assert!(decompress(&[], &mut out).is_err());
        assert!(decompress(&[0x40, 0xff], &mut out).is_err()); // match before start
        assert!(decompress(&[0x00, 0x00, 0x00], &mut out).is_err()); // length never ends
        assert!(decompress(&[0xff; 300], &mut out).is_err()); // literals overflow page
    }
}
