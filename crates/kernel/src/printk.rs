//! The kernel log: the lockless printk ring buffer of 5.10+ (`prb`), read
//! record by record from its descriptor ring and text data ring. Layouts
//! come from types when loaded, else from VMCOREINFO, which exports every
//! offset this needs (the same ones makedumpfile uses).
//!
//! Kernels before 5.10 keep a `log_buf` of variable-length `struct
//! printk_log` records; that reader belongs beside this one as a second
//! [`LogSource`] and is not written yet.

use krash_core::{Error, Result, VirtualMemory};
use serde::Serialize;

use crate::Kernel;

/// Descriptor-ring size bits beyond which a dump is treated as corrupt
/// (the kernel's CONFIG_LOG_BUF_SHIFT tops out at 25).
const MAX_COUNT_BITS: u64 = 28;
const MAX_TEXT_BITS: u64 = 32;

/// One log record.
#[derive(Debug, Clone, Serialize)]
pub struct LogRecord {
    pub seq: u64,
    /// Nanoseconds since boot (`local_clock`).
    pub ts_nsec: u64,
    /// Syslog level 0-7.
    pub level: u8,
    pub facility: u8,
    /// `caller_id`: a thread id, or 0x80000000 | cpu for non-task context.
    pub caller_id: u32,
    pub text: String,
}

/// Which log format the kernel uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum LogSource {
    /// The lockless ring buffer (`prb`, 5.10+).
    LocklessRing,
}

struct RingLayout {
    desc_ring: u64,
    text_ring: u64,
    count_bits: u64,
    descs: u64,
    infos: u64,
    head_id: u64,
    tail_id: u64,
    desc_size: u64,
    state_var: u64,
    text_blk_lpos: u64,
    lpos_begin: u64,
    lpos_next: u64,
    info_size: u64,
    info_seq: u64,
    info_ts: u64,
    info_text_len: u64,
    info_caller: u64,
    size_bits: u64,
    data: u64,
}

impl Kernel {
    /// Every record still in the log, oldest first.
    pub fn log_records(&self) -> Result<Vec<LogRecord>> {
        let l = self.ring_layout()?;
        let mem = self.memory();
        let prb = mem.read_u64(self.symbol_addr("prb")?)?;
        let desc_ring = prb + l.desc_ring;
        let text_ring = prb + l.text_ring;
        let count_bits = u64::from(mem.read_u32(desc_ring + l.count_bits)?);
        let size_bits = u64::from(mem.read_u32(text_ring + l.size_bits)?);
        if count_bits > MAX_COUNT_BITS || size_bits > MAX_TEXT_BITS {
            return Err(Error::bad_data(
                "printk ring buffer",
                format!("implausible sizes: 2^{count_bits} descriptors, 2^{size_bits} text bytes"),
            ));
        }
        let descs = mem.read_u64(desc_ring + l.descs)?;
        let infos = mem.read_u64(desc_ring + l.infos)?;
        let data = mem.read_u64(text_ring + l.data)?;
        let head = mem.read_u64(desc_ring + l.head_id)?;
        let tail = mem.read_u64(desc_ring + l.tail_id)?;
        let count = 1u64 << count_bits;
        let data_size = 1u64 << size_bits;
        // The state occupies the top two bits of state_var; the rest is the id.
        let id_mask = u64::MAX >> 2;

        // Whole text ring in one read: it is a few hundred KB and every
        // record needs a piece of it.
        let text = mem.read_vec(data, data_size as usize)?;
        let level_byte = self.info_level_offset(&l);

        let mut out = Vec::new();
        let mut id = tail & id_mask;
        for _ in 0..count {
            let slot = id % count;
            let desc = descs + slot * l.desc_size;
            let state_var = mem.read_u64(desc + l.state_var)?;
            let state = state_var >> 62;
            // 1 = committed, 2 = finalized: readable records.
            if (state == 1 || state == 2) && state_var & id_mask == id {
                let info = infos + slot * l.info_size;
                let begin = mem.read_u64(desc + l.text_blk_lpos + l.lpos_begin)?;
                let next = mem.read_u64(desc + l.text_blk_lpos + l.lpos_next)?;
                let text_len = u64::from(mem.read_u16(info + l.info_text_len)?);
                let body = record_text(&text, begin, next, text_len);
                let level_bits = match level_byte {
                    Some(off) => mem.read_u8(info + off)?,
                    None => 0,
                };
                out.push(LogRecord {
                    seq: mem.read_u64(info + l.info_seq)?,
                    ts_nsec: mem.read_u64(info + l.info_ts)?,
                    level: level_bits >> 5,
                    facility: match level_byte {
                        Some(off) => mem.read_u8(info + off - 1)?,
                        None => 0,
                    },
                    caller_id: mem.read_u32(info + l.info_caller)?,
                    text: String::from_utf8_lossy(body).into_owned(),
                });
            }
            if id == head & id_mask {
                break;
            }
            id = (id + 1) & id_mask;
        }
        Ok(out)
    }

    /// Offset of the byte holding `flags:5, level:3` in `printk_info`:
    /// from types when present, else just after `facility`, which follows
    /// the u16 `text_len` (the layout every 5.10+ kernel has).
    fn info_level_offset(&self, l: &RingLayout) -> Option<u64> {
        match self.layouts().field("printk_info", "level") {
            Ok(f) => Some(f.offset),
            Err(_) => Some(l.info_text_len + 3),
        }
    }

    fn ring_layout(&self) -> Result<RingLayout> {
        let y = self.layouts();
        let o = |s: &str, m: &str| y.offset(s, m);
        Ok(RingLayout {
            desc_ring: o("printk_ringbuffer", "desc_ring")?,
            text_ring: o("printk_ringbuffer", "text_data_ring")?,
            count_bits: o("prb_desc_ring", "count_bits")?,
            descs: o("prb_desc_ring", "descs")?,
            infos: o("prb_desc_ring", "infos")?,
            head_id: o("prb_desc_ring", "head_id")?,
            tail_id: o("prb_desc_ring", "tail_id")?,
            desc_size: y.size_of("prb_desc")?,
            state_var: o("prb_desc", "state_var")?,
            text_blk_lpos: o("prb_desc", "text_blk_lpos")?,
            lpos_begin: o("prb_data_blk_lpos", "begin")?,
            lpos_next: o("prb_data_blk_lpos", "next")?,
            info_size: y.size_of("printk_info")?,
            info_seq: o("printk_info", "seq")?,
            info_ts: o("printk_info", "ts_nsec")?,
            info_text_len: o("printk_info", "text_len")?,
            info_caller: o("printk_info", "caller_id")?,
            size_bits: o("prb_data_ring", "size_bits")?,
            data: o("prb_data_ring", "data")?,
        })
    }
}

/// The text of one record from the data ring. A data block starts with
/// the owning descriptor id (8 bytes); a block that would wrap is stored
/// at the ring's start instead. `begin`/`next` with the low bit set mark
/// records without data.
fn record_text(ring: &[u8], begin: u64, next: u64, text_len: u64) -> &[u8] {
    let size = ring.len() as u64;
    if size == 0 || begin & 1 != 0 || next & 1 != 0 || begin == next {
        return &[];
    }
    let begin_off = begin % size;
    let next_off = next % size;
    let (start, end) = if begin_off < next_off && next - begin <= size {
        (begin_off, next_off)
    } else {
        (0, next_off)
    };
    let start = start + 8;
    if start >= end {
        return &[];
    }
    let len = text_len.min(end - start);
    ring.get(start as usize..(start + len) as usize).unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::record_text;

    #[test]
    fn text_blocks_plain_and_wrapped() {
        let mut ring = vec![0u8; 64];
        ring[16..24].copy_from_slice(&7u64.to_le_bytes());
        ring[24..29].copy_from_slice(b"hello");
        assert_eq!(record_text(&ring, 16, 32, 5), b"hello");
        // A wrapped block lives at offset 0 of the ring.
        ring[8..13].copy_from_slice(b"world");
        assert_eq!(record_text(&ring, 56, 64 + 16, 5), b"world");
        // Data-less records and absurd lengths stay in bounds.
        assert_eq!(record_text(&ring, 1, 1, 5), b"");
        assert_eq!(record_text(&ring, 16, 32, 500), &ring[24..32]);
    }
}
