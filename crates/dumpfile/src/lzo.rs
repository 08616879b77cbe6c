//! A bounded LZO1X decoder. Pages in LZO dumps are untrusted input, so the
//! decoder checks every length and distance against the input and the page
//! buffer and never writes past the page.

/// Decodes an LZO1X stream into `out`, returning the number of bytes written.
pub(crate) fn decompress(input: &[u8], out: &mut [u8]) -> Result<usize, &'static str> {
    let mut d = Decoder { input, ip: 0, out, op: 0 };
    // After-instruction state: 0 = expect a literal run, 1..=3 = that many
    // literals just followed a match, 4 = a literal run of 4+ just ended.
    let mut state = 0usize;
    if let Some(&first) = input.first() {
        if first > 17 {
            d.ip = 1;
            let run = usize::from(first - 17);
            d.literals(run)?;
            state = if run < 4 { run } else { 4 };
        }
    }
    loop {
        let t = d.byte()?;
        let (len, dist, trailing) = if t >= 64 {
            let h = usize::from(d.byte()?);
            (usize::from(t >> 5) + 1, 1 + usize::from((t >> 2) & 7) + (h << 3), usize::from(t & 3))
        } else if t >= 32 {
            let len = match usize::from(t & 31) {
                0 => 31 + d.extended_length()?,
                n => n,
            } + 2;
            let word = d.le16()?;
            (len, 1 + (word >> 2), word & 3)
        } else if t >= 16 {
            let len = match usize::from(t & 7) {
                0 => 7 + d.extended_length()?,
                n => n,
            } + 2;
            let word = d.le16()?;
            let far = (usize::from(t & 8) << 11) + (word >> 2);
            if far == 0 {
                return Ok(d.op);
            }
            (len, far + 0x4000, word & 3)
        } else {
            match state {
                0 => {
                    let run = match usize::from(t) {
                        0 => 15 + d.extended_length()?,
                        n => n,
                    } + 3;
                    d.literals(run)?;
                    state = 4;
                    continue;
                }
                1..=3 => {
                    let h = usize::from(d.byte()?);
                    (2, 1 + usize::from(t >> 2) + (h << 2), usize::from(t & 3))
                }
                _ => {
                    let h = usize::from(d.byte()?);
                    (3, 0x801 + usize::from(t >> 2) + (h << 2), usize::from(t & 3))
                }
            }
        };
        d.copy_match(dist, len)?;
        d.literals(trailing)?;
        state = trailing;
    }
}

struct Decoder<'a, 'b> {
    input: &'a [u8],
    ip: usize,
    out: &'b mut [u8],
    op: usize,
}

impl Decoder<'_, '_> {
    fn byte(&mut self) -> Result<u8, &'static str> {
        let b = *self.input.get(self.ip).ok_or("input ends inside an instruction")?;
        self.ip += 1;
        Ok(b)
    }

    fn le16(&mut self) -> Result<usize, &'static str> {
        let lo = usize::from(self.byte()?);
        let hi = usize::from(self.byte()?);
        Ok(lo | (hi << 8))
    }

    /// Zero bytes each add 255, the first non-zero byte ends the count.
    fn extended_length(&mut self) -> Result<usize, &'static str> {
        let mut extra = 0usize;
        loop {
            match self.byte()? {
                0 => extra = extra.checked_add(255).ok_or("length overflows")?,
                b => return extra.checked_add(usize::from(b)).ok_or("length overflows"),
            }
        }
    }

    fn literals(&mut self, n: usize) -> Result<(), &'static str> {
        let src = self
            .ip
            .checked_add(n)
            .and_then(|end| self.input.get(self.ip..end))
            .ok_or("literal run past the end of the input")?;
        let dst = self
            .op
            .checked_add(n)
            .and_then(|end| self.out.get_mut(self.op..end))
            .ok_or("output larger than one page")?;
        dst.copy_from_slice(src);
        self.ip += n;
        self.op += n;
        Ok(())
    }

    fn copy_match(&mut self, dist: usize, len: usize) -> Result<(), &'static str> {
        if dist > self.op {
            return Err("match reaches before the start of the output");
        }
        let end = self.op.checked_add(len).ok_or("match length overflows")?;
        if end > self.out.len() {
            return Err("output larger than one page");
        }
        // Byte by byte: a match may overlap the bytes it produces.
        for i in self.op..end {
            self.out[i] = self.out[i - dist];
        }
        self.op = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_reference_encoder_output() {
        let inputs: Vec<Vec<u8>> = vec![
            vec![0u8; 4096],
            (0..4096u32).map(|i| (i % 13) as u8).collect(),
            (0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect(),
            b"hello hello hello world, hello world".repeat(100)[..3000].to_vec(),
            vec![1, 2, 3],
        ];
        for data in inputs {
            let packed = lzokay_native::compress(&data).unwrap();
            let mut out = vec![0u8; data.len()];
            let n = decompress(&packed, &mut out).unwrap();
            assert_eq!(n, data.len());
            assert_eq!(out, data);
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
