//! The kernel log: the lockless printk ring buffer of 5.10+ (`prb`), read
//! record by record from its descriptor ring and text data ring. Layouts
//! come from types when loaded, else from VMCOREINFO, which exports every
//! offset this needs (the same ones makedumpfile uses).
//!
//! Kernels 3.5 through 5.9 keep a `log_buf` of variable-length `struct
//! printk_log` records instead, read by [`legacy`]; [`LogVariant`] tells
//! the two apart.

use krash_core::{Error, Result, VirtualMemory};
use serde::Serialize;

use krash_program::Kernel;

pub mod legacy;

use legacy::{ByteBits, LogBufLayout, LogBufMembers, LogBufRead, LogBufState};

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
#[serde(rename_all = "snake_case")]
pub enum LogVariant {
    /// 5.10 and later: the lockless ring buffer `prb` (descriptor ring
    /// plus text data ring). These kernels still have a `log_buf`
    /// variable: it is the text ring's storage.
    LocklessRing,
    /// Before 5.10: `log_buf` holds variable-length `struct printk_log`
    /// records between `log_first_idx` and `log_next_idx`.
    LegacyLogBuf,
}

impl LogVariant {
    /// Tells the formats apart by the symbols each defines (`prb`, or
    /// `log_first_idx` without it); `has` answers whether a symbol exists.
    pub fn probe(has: impl Fn(&str) -> bool) -> Result<LogVariant> {
        if has("prb") {
            Ok(LogVariant::LocklessRing)
        } else if has("log_first_idx") && has("log_buf") {
            Ok(LogVariant::LegacyLogBuf)
        } else {
            Err(Error::NotFound(
                "kernel log: neither the printk ring buffer (prb, 5.10+) nor log_buf/log_first_idx \
                 (before 5.10) is in the symbol table"
                    .into(),
            ))
        }
    }
}

/// Offsets and sizes the ring reader needs, from types or VMCOREINFO.
#[derive(Debug, Clone, Copy)]
pub struct RingLayout {
    pub desc_ring: u64,
    pub text_ring: u64,
    pub count_bits: u64,
    pub descs: u64,
    pub infos: u64,
    pub head_id: u64,
    pub tail_id: u64,
    pub desc_size: u64,
    pub state_var: u64,
    pub text_blk_lpos: u64,
    pub lpos_begin: u64,
    pub lpos_next: u64,
    pub info_size: u64,
    pub info_seq: u64,
    pub info_ts: u64,
    pub info_text_len: u64,
    pub info_caller: u64,
    pub size_bits: u64,
    pub data: u64,
    /// Offset of the byte holding `flags:5, level:3` in `printk_info`.
    pub info_level: u64,
}

/// The log as read: its records and, when a corrupt or unreadable part
/// ended the walk early, why (the records before it are kept).
#[derive(Debug, Clone)]
pub struct LogRead {
    pub records: Vec<LogRecord>,
    pub stopped: Option<Error>,
    /// Records of the ring that could not be read (a descriptor, its info
    /// or its text on a page missing from the dump); the others are kept.
    pub lost: Option<LostRecords>,
}

/// Records left out of a log because their memory could not be read.
#[derive(Debug, Clone)]
pub struct LostRecords {
    pub count: u64,
    /// Why the first of them could not be read.
    pub first_error: Error,
}

/// A ring read record by record: what was read and what was lost.
#[derive(Debug, Clone, Default)]
pub struct RingRead {
    pub records: Vec<LogRecord>,
    pub lost: Option<LostRecords>,
    /// Set when so many records in a row could not be read that the rest
    /// of the ring was given up (a corrupt header, not a missing page).
    pub stopped: Option<Error>,
}

/// Records in a row that may fail before the walk gives up: many pages of
/// descriptors (170 a page) or infos (46 a page), far fewer than a corrupt
/// header's 2^28 slots.
const MAX_FAILURES_IN_A_ROW: u32 = 4096;

impl RingRead {
    fn lose(&mut self, e: Error) {
        match &mut self.lost {
            Some(l) => l.count = l.count.saturating_add(1),
            None => self.lost = Some(LostRecords { count: 1, first_error: e }),
        }
    }
}

/// This module's operations on [`Kernel`] (an extension trait: `use` it to call them).
pub trait PrintkExt {
    /// Every record still in the log, oldest first. A walk that a corrupt
    /// record ended gives the records before it; it is an error only when
    /// not one record could be read (see [`log_read`](Self::log_read) for
    /// the reason a walk stopped).
    fn log_records(&self) -> Result<Vec<LogRecord>>;
    /// The records and why the walk stopped early, if it did.
    fn log_read(&self) -> Result<LogRead>;
    /// Which log format this kernel has.
    fn log_variant(&self) -> Result<LogVariant>;
}

impl PrintkExt for Kernel {
    fn log_variant(&self) -> Result<LogVariant> {
        LogVariant::probe(|name| self.symbol_addr(name).is_ok())
    }

    fn log_read(&self) -> Result<LogRead> {
        match self.log_variant()? {
            LogVariant::LocklessRing => {
                let l = self.ring_layout()?;
                let prb = self.memory().read_u64(self.symbol_addr("prb")?)?;
                let RingRead { records, lost, stopped } = read_ring(self.memory(), &l, prb)?;
                Ok(LogRead { records, stopped, lost })
            }
            LogVariant::LegacyLogBuf => {
                let layout = self.log_buf_layout()?;
                let state = self.log_buf_state()?;
                let LogBufRead { records, stopped } = legacy::read_log_buf(self.memory(), &layout, &state);
                Ok(LogRead { records, stopped, lost: None })
            }
        }
    }

    fn log_records(&self) -> Result<Vec<LogRecord>> {
        match self.log_read()? {
            LogRead { records, stopped: Some(e), .. } if records.is_empty() => Err(e),
            LogRead { records, lost: Some(l), .. } if records.is_empty() => Err(l.first_error),
            read => Ok(read.records),
        }
    }
}

/// Private helpers of this module's extension of [`Kernel`].
trait PrintkHelpers {
    /// Offset of the byte holding `flags:5, level:3` in `printk_info`:
    /// from types when present, else just after `facility`, which follows
    /// the u16 `text_len` (the layout every 5.10+ kernel has).
    fn info_level_offset(&self, info_text_len: u64) -> u64;
    fn ring_layout(&self) -> Result<RingLayout>;
    /// `struct printk_log` (`struct log` before 3.11) from types, else
    /// from VMCOREINFO as makedumpfile reads it.
    fn log_buf_layout(&self) -> Result<LogBufLayout>;
    /// `log_buf`, `log_buf_len`, `log_first_idx`, `log_next_idx` (from the
    /// symbol table, else VMCOREINFO's SYMBOL() entries), and the sequence
    /// numbers when the symbol table has them.
    fn log_buf_state(&self) -> Result<LogBufState>;
    /// A one-byte bitfield of `struct name`, from types (VMCOREINFO has
    /// no bitfields).
    fn byte_bits(&self, name: &str, member: &str) -> Option<ByteBits>;
}

impl PrintkHelpers for Kernel {
    fn info_level_offset(&self, info_text_len: u64) -> u64 {
        match self.layouts().field("printk_info", "level") {
            Ok(f) => f.offset,
            Err(_) => info_text_len + 3,
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
            info_level: self.info_level_offset(o("printk_info", "text_len")?),
        })
    }

    fn log_buf_layout(&self) -> Result<LogBufLayout> {
        let y = self.layouts();
        let name = LOG_BUF_STRUCTS.into_iter().find(|n| y.has_field(n, "text_len")).ok_or_else(|| {
            Error::MissingDebuginfo(
                "kernel log: neither types nor VMCOREINFO describe struct printk_log (or struct log)".into(),
            )
        })?;
        let o = |m: &str| y.offset(name, m);
        LogBufLayout::from_members(&LogBufMembers {
            header_size: y.size_of(name)?,
            ts_nsec: o("ts_nsec")?,
            len: o("len")?,
            text_len: o("text_len")?,
            dict_len: o("dict_len").ok(),
            facility: o("facility").ok(),
            flags: self.byte_bits(name, "flags"),
            level: self.byte_bits(name, "level"),
            caller_id: o("caller_id").ok(),
        })
    }

    fn log_buf_state(&self) -> Result<LogBufState> {
        let mem = self.memory();
        let u32_at = |name: &str| self.symbol_addr(name).and_then(|a| mem.read_u32(a));
        let u64_at = |name: &str| self.symbol_addr(name).and_then(|a| mem.read_u64(a));
        let first_seq = u64_at("log_first_seq").ok();
        let next_seq = u64_at("log_next_seq").ok();
        Ok(LogBufState {
            buf: u64_at("log_buf")?,
            buf_len: u32_at("log_buf_len")?,
            first_idx: u32_at("log_first_idx")?,
            next_idx: u32_at("log_next_idx")?,
            first_seq: first_seq.unwrap_or(0),
            stored: first_seq.zip(next_seq).map(|(first, next)| next.wrapping_sub(first)),
        })
    }

    fn byte_bits(&self, name: &str, member: &str) -> Option<ByteBits> {
        let f = self.layouts().field(name, member).ok()?;
        let (shift, width) = f.bits?;
        Some(ByteBits { byte: f.offset, shift, width })
    }
}

/// The header struct's names: `printk_log` from 3.11, `log` in 3.5-3.10.
const LOG_BUF_STRUCTS: [&str; 2] = ["printk_log", "log"];

impl RingLayout {
    /// The layout of x86-64 Linux 6.1 (as its VMCOREINFO states), for
    /// tests and fuzzing; real dumps always use their own.
    pub const LINUX_6_1: RingLayout = RingLayout {
        desc_ring: 0,
        text_ring: 48,
        count_bits: 0,
        descs: 8,
        infos: 16,
        head_id: 24,
        tail_id: 32,
        desc_size: 24,
        state_var: 0,
        text_blk_lpos: 8,
        lpos_begin: 0,
        lpos_next: 8,
        info_size: 88,
        info_seq: 0,
        info_ts: 8,
        info_text_len: 16,
        info_caller: 20,
        size_bits: 0,
        data: 8,
        info_level: 19,
    };
}

/// Decodes the ring buffer at `prb` through `mem`. Every count read from
/// memory is bounded before use, so corrupt rings give errors or short
/// logs, never huge allocations or endless loops. A record whose
/// descriptor, info or text cannot be read (a page missing from the dump)
/// is counted as lost and the walk goes on with the next; only the ring's
/// header is needed whole.
pub fn read_ring(mem: &dyn VirtualMemory, l: &RingLayout, prb: u64) -> Result<RingRead> {
    let desc_ring = prb.wrapping_add(l.desc_ring);
    let text_ring = prb.wrapping_add(l.text_ring);
    let count_bits = u64::from(mem.read_u32(desc_ring.wrapping_add(l.count_bits))?);
    let size_bits = u64::from(mem.read_u32(text_ring.wrapping_add(l.size_bits))?);
    if count_bits > MAX_COUNT_BITS || size_bits > MAX_TEXT_BITS {
        return Err(Error::bad_data(
            "printk ring buffer",
            format!("implausible sizes: 2^{count_bits} descriptors, 2^{size_bits} text bytes"),
        ));
    }
    let descs = mem.read_u64(desc_ring.wrapping_add(l.descs))?;
    let infos = mem.read_u64(desc_ring.wrapping_add(l.infos))?;
    let data = mem.read_u64(text_ring.wrapping_add(l.data))?;
    let head = mem.read_u64(desc_ring.wrapping_add(l.head_id))?;
    let tail = mem.read_u64(desc_ring.wrapping_add(l.tail_id))?;
    let count = 1u64 << count_bits;
    let data_size = 1u64 << size_bits;
    // The state occupies the top two bits of state_var; the rest is the id.
    let id_mask = u64::MAX >> 2;

    // The whole text ring in one read when it can be (a few hundred KB
    // that every record needs a piece of), else each record's piece.
    let text = TextRing::read(mem, data, data_size);
    let level_byte = l.info_level;

    let mut out = RingRead::default();
    let mut failures_in_a_row = 0u32;
    let mut id = tail & id_mask;
    for _ in 0..count {
        let slot = id % count;
        let desc = descs.wrapping_add(slot.wrapping_mul(l.desc_size));
        let record = || -> Result<Option<LogRecord>> {
            let state_var = mem.read_u64(desc.wrapping_add(l.state_var))?;
            let state = state_var >> 62;
            // 1 = committed, 2 = finalized: readable records.
            if !((state == 1 || state == 2) && state_var & id_mask == id) {
                return Ok(None);
            }
            let info = infos.wrapping_add(slot.wrapping_mul(l.info_size));
            let begin = mem.read_u64(desc.wrapping_add(l.text_blk_lpos).wrapping_add(l.lpos_begin))?;
            let next = mem.read_u64(desc.wrapping_add(l.text_blk_lpos).wrapping_add(l.lpos_next))?;
            let text_len = u64::from(mem.read_u16(info.wrapping_add(l.info_text_len))?);
            let body = text.record(mem, begin, next, text_len)?;
            let level_bits = mem.read_u8(info.wrapping_add(level_byte))?;
            Ok(Some(LogRecord {
                seq: mem.read_u64(info.wrapping_add(l.info_seq))?,
                ts_nsec: mem.read_u64(info.wrapping_add(l.info_ts))?,
                level: level_bits >> 5,
                facility: mem.read_u8(info.wrapping_add(level_byte.saturating_sub(1)))?,
                caller_id: mem.read_u32(info.wrapping_add(l.info_caller))?,
                text: String::from_utf8_lossy(&body).into_owned(),
            }))
        };
        match record() {
            Ok(r) => {
                failures_in_a_row = 0;
                out.records.extend(r);
            }
            Err(e) => {
                failures_in_a_row += 1;
                if failures_in_a_row > MAX_FAILURES_IN_A_ROW {
                    out.stopped = Some(Error::bad_data(
                        "printk ring buffer",
                        format!("{MAX_FAILURES_IN_A_ROW} records in a row unreadable ({e}); the rest is not read"),
                    ));
                    break;
                }
                out.lose(e);
            }
        }
        if id == head & id_mask {
            break;
        }
        id = (id + 1) & id_mask;
    }
    Ok(out)
}

/// The text ring: read whole, or (when that fails: a page missing from the
/// dump, or a corrupt size) one record's piece at a time.
enum TextRing {
    Whole(Vec<u8>),
    PerRecord { start: u64, size: u64 },
}

impl TextRing {
    fn read(mem: &dyn VirtualMemory, start: u64, size: u64) -> TextRing {
        match usize::try_from(size).ok().and_then(|n| mem.read_vec(start, n).ok()) {
            Some(bytes) => TextRing::Whole(bytes),
            None => TextRing::PerRecord { start, size },
        }
    }

    /// The text of one record, or why its bytes cannot be read.
    fn record(&self, mem: &dyn VirtualMemory, begin: u64, next: u64, text_len: u64) -> Result<Vec<u8>> {
        match self {
            TextRing::Whole(bytes) => Ok(record_text(bytes, begin, next, text_len).to_vec()),
            TextRing::PerRecord { start, size } => match record_span(*size, begin, next, text_len) {
                Some((from, to)) => mem.read_vec(start.wrapping_add(from as u64), to.saturating_sub(from)),
                None => Ok(Vec::new()),
            },
        }
    }
}

/// The text of one record from the data ring. A data block starts with
/// the owning descriptor id (8 bytes); a block that would wrap is stored
/// at the ring's start instead. `begin`/`next` with the low bit set mark
/// records without data.
fn record_text(ring: &[u8], begin: u64, next: u64, text_len: u64) -> &[u8] {
    record_span(ring.len() as u64, begin, next, text_len).and_then(|(start, end)| ring.get(start..end)).unwrap_or(&[])
}

/// Where [`record_text`] finds a record's text in a ring of `size` bytes.
fn record_span(size: u64, begin: u64, next: u64, text_len: u64) -> Option<(usize, usize)> {
    if size == 0 || begin & 1 != 0 || next & 1 != 0 || begin == next {
        return None;
    }
    let begin_off = begin % size;
    let next_off = next % size;
    let (start, end) =
        if begin_off < next_off && next.wrapping_sub(begin) <= size { (begin_off, next_off) } else { (0, next_off) };
    let start = start + 8;
    if start >= end {
        return None;
    }
    let len = text_len.min(end - start);
    Some((start as usize, (start + len) as usize))
}

#[cfg(test)]
mod tests {
    use super::{read_ring, record_text, LogVariant, RingLayout};

    #[test]
    fn log_variant_from_symbols() {
        let with = |names: &'static [&'static str]| move |n: &str| names.contains(&n);
        // 5.10+ keep log_buf (the text ring's storage) beside prb.
        assert_eq!(LogVariant::probe(with(&["prb", "log_buf"])).unwrap(), LogVariant::LocklessRing);
        assert_eq!(
            LogVariant::probe(with(&["log_buf", "log_first_idx", "log_next_idx"])).unwrap(),
            LogVariant::LegacyLogBuf
        );
        let e = LogVariant::probe(with(&["log_buf"])).unwrap_err().to_string();
        assert!(e.contains("neither"), "{e}");
    }
    use krash_core::memory::BytesAt;

    /// A tiny fuzz run that needs no nightly toolchain: random and
    /// mutated rings must give records or errors, never panic.
    #[test]
    fn random_rings_never_panic() {
        let mut rng = krash_labtest::XorShift(0x2545_f491_4f6c_dd1d);
        let mut next = || rng.next();
        for round in 0..2000 {
            let len = (next() % 4096) as usize + 64;
            let mut mem: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            // Keep pointers small half of the time so reads land in range.
            if round % 2 == 0 {
                for off in [8usize, 16, 56] {
                    let v = (next() % len as u64).to_le_bytes();
                    mem[off..off + 8].copy_from_slice(&v);
                }
                mem[0] = (next() % 6) as u8;
                mem[48] = (next() % 12) as u8;
            }
            let _ = read_ring(&BytesAt { base: 0, bytes: mem }, &RingLayout::LINUX_6_1, 0);
        }
    }

    /// Memory with a hole: reads touching `hole` fail as a page missing
    /// from the dump would.
    struct Holed {
        inner: BytesAt<Vec<u8>>,
        hole: std::ops::Range<u64>,
    }

    impl krash_core::memory::VirtualMemory for Holed {
        fn read_virt(&self, addr: u64, buf: &mut [u8]) -> krash_core::Result<()> {
            let end = addr + buf.len() as u64;
            if addr < self.hole.end && end > self.hole.start {
                return Err(krash_core::Error::bad_data(
                    "test memory",
                    format!("page {:#x} excluded", self.hole.start),
                ));
            }
            self.inner.read_virt(addr, buf)
        }
    }

    /// A 6.1 ring of four records, the third one's text on a page of its
    /// own, with the rings at: header 0, descriptors 0x100, infos 0x400,
    /// text 0x1000 (two pages).
    fn ring_with_four_records() -> Vec<u8> {
        let l = RingLayout::LINUX_6_1;
        let mut m = vec![0u8; 0x3000];
        let put = |m: &mut Vec<u8>, at: u64, v: &[u8]| m[at as usize..at as usize + v.len()].copy_from_slice(v);
        put(&mut m, l.desc_ring + l.count_bits, &2u32.to_le_bytes());
        put(&mut m, l.desc_ring + l.descs, &0x100u64.to_le_bytes());
        put(&mut m, l.desc_ring + l.infos, &0x400u64.to_le_bytes());
        put(&mut m, l.desc_ring + l.tail_id, &0u64.to_le_bytes());
        put(&mut m, l.desc_ring + l.head_id, &3u64.to_le_bytes());
        put(&mut m, l.text_ring + l.size_bits, &13u32.to_le_bytes());
        put(&mut m, l.text_ring + l.data, &0x1000u64.to_le_bytes());
        // Text blocks: [id][text], records 0, 1 and 3 on the ring's first
        // page, record 2 on the second.
        let blocks = [(0u64, 0x000u64, "zero"), (1, 0x040, "one"), (2, 0x1000, "two"), (3, 0x080, "three")];
        for (id, at, text) in blocks {
            let desc = 0x100 + id * l.desc_size;
            put(&mut m, desc + l.state_var, &(id | (2 << 62)).to_le_bytes());
            put(&mut m, desc + l.text_blk_lpos + l.lpos_begin, &at.to_le_bytes());
            put(&mut m, desc + l.text_blk_lpos + l.lpos_next, &(at + 0x40).to_le_bytes());
            let info = 0x400 + id * l.info_size;
            put(&mut m, info + l.info_seq, &(100 + id).to_le_bytes());
            put(&mut m, info + l.info_text_len, &(text.len() as u16).to_le_bytes());
            put(&mut m, 0x1000 + at, &id.to_le_bytes());
            put(&mut m, 0x1000 + at + 8, text.as_bytes());
        }
        m
    }

    #[test]
    fn records_around_a_missing_page_are_kept_and_the_lost_counted() {
        let bytes = ring_with_four_records();
        let whole = read_ring(&BytesAt { base: 0, bytes: bytes.clone() }, &RingLayout::LINUX_6_1, 0).unwrap();
        let texts: Vec<&str> = whole.records.iter().map(|r| r.text.as_str()).collect();
        assert_eq!(texts, ["zero", "one", "two", "three"]);
        assert!(whole.lost.is_none());
        // The text ring's second page is missing: record 2's text is lost.
        let holed = Holed { inner: BytesAt { base: 0, bytes: bytes.clone() }, hole: 0x2000..0x3000 };
        let read = read_ring(&holed, &RingLayout::LINUX_6_1, 0).unwrap();
        let texts: Vec<&str> = read.records.iter().map(|r| r.text.as_str()).collect();
        assert_eq!(texts, ["zero", "one", "three"]);
        let lost = read.lost.expect("lost records");
        assert_eq!(lost.count, 1);
        assert!(lost.first_error.to_string().contains("0x2000 excluded"), "{}", lost.first_error);
        // A missing info page loses every record whose info is on it.
        let holed = Holed { inner: BytesAt { base: 0, bytes }, hole: 0x400..0x500 };
        let read = read_ring(&holed, &RingLayout::LINUX_6_1, 0).unwrap();
        assert_eq!(read.records.iter().map(|r| r.seq).collect::<Vec<_>>(), [103]);
        assert_eq!(read.lost.map(|l| l.count), Some(3));
    }

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
