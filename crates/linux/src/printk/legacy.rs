//! The kernel log of 3.5 through 5.9: `log_buf`, a byte buffer of
//! variable-length records (`struct printk_log`, named `struct log` before
//! 3.11) from `log_first_idx` up to `log_next_idx`.
//!
//! Each record is its header, then `text_len` bytes of text, then
//! `dict_len` bytes of dictionary (`KEY=value` pairs for /dev/kmsg, which
//! the syslog text never shows), then padding up to `LOG_ALIGN`; the
//! header's `len` is the whole record's size, so the next record starts
//! `len` bytes further on. A header whose `len` is 0 marks the end of the
//! used part of the buffer: the walk wraps to index 0, where the record
//! that did not fit was written. `LOG_ALIGN` is 4 on kernels with
//! efficient unaligned access (x86-64: `#define LOG_ALIGN 4` before 4.x
//! packed the struct, `__alignof__` of the `__packed __aligned(4)` struct
//! since) and `__alignof__(struct printk_log)`, 8, elsewhere; both make
//! every `len` a multiple of 4, which the walk checks.
//!
//! The header: `u64 ts_nsec; u16 len, text_len, dict_len; u8 facility;
//! u8 flags:5, level:3;` and, with CONFIG_PRINTK_CALLER (5.1 to 5.9),
//! `u32 caller_id`. VMCOREINFO exports `SIZE(printk_log)` and the offsets
//! of `ts_nsec`, `len`, `text_len` (plus `dict_len` and `caller_id` on
//! later kernels), exactly what makedumpfile's `--dump-dmesg` reads; the
//! members it omits follow `text_len` in the one order every kernel has.

#![deny(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

use krash_core::{Error, Result, VirtualMemory};

use super::LogRecord;

/// `LOG_BUF_LEN_MAX`: the kernel refuses larger buffers (4.x and later;
/// no real buffer of the earlier kernels comes near it).
pub const MAX_LOG_BUF_LEN: u32 = 1 << 31;
/// Every record's length is a multiple of this (the smallest `LOG_ALIGN`).
const MIN_LOG_ALIGN: u32 = 4;
/// Largest header accepted from VMCOREINFO or types (the kernel's is 16,
/// 20 or 24 bytes).
const MAX_HEADER: u64 = 64;

/// `enum log_flags`: the text ended with a newline.
pub const LOG_NEWLINE: u8 = 2;
/// `enum log_flags` (3.5 to 4.8): the text started with a level prefix.
pub const LOG_PREFIX: u8 = 4;
/// `enum log_flags`: the text is a fragment of a continued line.
pub const LOG_CONT: u8 = 8;

/// A bitfield inside one byte of the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteBits {
    /// Offset of the byte in the header.
    pub byte: u64,
    /// Lowest bit of the field in that byte.
    pub shift: u32,
    pub width: u32,
}

impl ByteBits {
    fn extract(self, byte: u8) -> u8 {
        let mask = u8::MAX.checked_shr(8u32.saturating_sub(self.width)).unwrap_or(0);
        byte.checked_shr(self.shift).unwrap_or(0) & mask
    }

    fn fits(self, header: u64) -> bool {
        self.byte < header && self.width > 0 && self.shift.saturating_add(self.width) <= 8
    }
}

/// Where the header's members are: from types when loaded, else from
/// VMCOREINFO with the members it lacks placed as every kernel has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogBufLayout {
    /// `sizeof(struct printk_log)`: the text starts this far into a record.
    pub header_size: u64,
    pub ts_nsec: u64,
    pub len: u64,
    pub text_len: u64,
    pub dict_len: u64,
    pub facility: u64,
    pub flags: ByteBits,
    pub level: ByteBits,
    /// `caller_id`, on kernels built with CONFIG_PRINTK_CALLER (5.1+).
    pub caller_id: Option<u64>,
}

impl LogBufLayout {
    /// x86-64 3.10 (`struct log`) through 5.0, and 5.1 to 5.9 without
    /// CONFIG_PRINTK_CALLER: 16 bytes, no caller id.
    pub const LINUX_3_10: LogBufLayout = LogBufLayout {
        header_size: 16,
        ts_nsec: 0,
        len: 8,
        text_len: 10,
        dict_len: 12,
        facility: 14,
        flags: ByteBits { byte: 15, shift: 0, width: 5 },
        level: ByteBits { byte: 15, shift: 5, width: 3 },
        caller_id: None,
    };

    /// x86-64 5.1 to 5.9 with CONFIG_PRINTK_CALLER: `caller_id` after the
    /// level byte, the struct `__packed __aligned(4)`, 20 bytes.
    pub const LINUX_5_1_CALLER: LogBufLayout =
        LogBufLayout { header_size: 20, caller_id: Some(16), ..LogBufLayout::LINUX_3_10 };

    /// The layout from what types or VMCOREINFO say of the struct, the
    /// members they do not give placed after `text_len` as every kernel
    /// has them; refused unless every member lies inside the header.
    pub fn from_members(m: &LogBufMembers) -> Result<LogBufLayout> {
        let dict_len = m.dict_len.unwrap_or(m.text_len.saturating_add(2));
        let facility = m.facility.unwrap_or(dict_len.saturating_add(2));
        let level_byte = facility.saturating_add(1);
        let layout = LogBufLayout {
            header_size: m.header_size,
            ts_nsec: m.ts_nsec,
            len: m.len,
            text_len: m.text_len,
            dict_len,
            facility,
            flags: m.flags.unwrap_or(ByteBits { byte: level_byte, shift: 0, width: 5 }),
            level: m.level.unwrap_or(ByteBits { byte: level_byte, shift: 5, width: 3 }),
            caller_id: m.caller_id,
        };
        layout.check()?;
        Ok(layout)
    }

    /// Every member inside the header and the header of a plausible size,
    /// so a record's members are read from its header bytes alone.
    fn check(&self) -> Result<()> {
        let within = |offset: u64, size: u64| offset.checked_add(size).is_some_and(|end| end <= self.header_size);
        let ok = (8..=MAX_HEADER).contains(&self.header_size)
            && within(self.ts_nsec, 8)
            && within(self.len, 2)
            && within(self.text_len, 2)
            && within(self.dict_len, 2)
            && within(self.facility, 1)
            && self.flags.fits(self.header_size)
            && self.level.fits(self.header_size)
            && self.caller_id.is_none_or(|c| within(c, 4));
        if ok {
            Ok(())
        } else {
            Err(Error::bad_data("struct printk_log", format!("implausible layout {self:?}")))
        }
    }
}

/// What types or VMCOREINFO say of `struct printk_log`: the size and the
/// three offsets VMCOREINFO always exports, and the members it may omit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogBufMembers {
    pub header_size: u64,
    pub ts_nsec: u64,
    pub len: u64,
    pub text_len: u64,
    pub dict_len: Option<u64>,
    pub facility: Option<u64>,
    pub flags: Option<ByteBits>,
    pub level: Option<ByteBits>,
    pub caller_id: Option<u64>,
}

/// The buffer and its indices, as the kernel's variables hold them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogBufState {
    /// `log_buf`: the buffer's address.
    pub buf: u64,
    /// `log_buf_len`.
    pub buf_len: u32,
    /// `log_first_idx`: the oldest record still stored.
    pub first_idx: u32,
    /// `log_next_idx`: where the next record would be written.
    pub next_idx: u32,
    /// `log_first_seq`, when the symbol table has it (0 otherwise): the
    /// sequence number of the oldest record.
    pub first_seq: u64,
    /// `log_next_seq - log_first_seq`, when both are known: tells a full
    /// buffer from an empty one when the indices are equal.
    pub stored: Option<u64>,
}

/// The records read and, when the walk stopped before `log_next_idx`,
/// why.
#[derive(Debug, Clone)]
pub struct LogBufRead {
    pub records: Vec<LogRecord>,
    pub stopped: Option<Error>,
}

/// One record's header, decoded.
struct Header {
    len: u16,
    text_len: u16,
    dict_len: u16,
    ts_nsec: u64,
    facility: u8,
    flags: u8,
    level: u8,
    caller_id: u32,
}

impl LogBufLayout {
    fn decode(&self, bytes: &[u8]) -> Option<Header> {
        let at = |offset: u64, size: usize| -> Option<&[u8]> {
            let start = usize::try_from(offset).ok()?;
            bytes.get(start..start.checked_add(size)?)
        };
        let u16_at = |offset| at(offset, 2).and_then(|b| b.try_into().ok()).map(u16::from_le_bytes);
        let byte_at = |offset| at(offset, 1).and_then(|b| b.first().copied());
        let level_byte = byte_at(self.level.byte)?;
        Some(Header {
            len: u16_at(self.len)?,
            text_len: u16_at(self.text_len)?,
            dict_len: u16_at(self.dict_len)?,
            ts_nsec: at(self.ts_nsec, 8).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes)?,
            facility: byte_at(self.facility)?,
            flags: self.flags.extract(byte_at(self.flags.byte)?),
            level: self.level.extract(level_byte),
            caller_id: match self.caller_id {
                Some(offset) => at(offset, 4).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes)?,
                None => 0,
            },
        })
    }
}

/// True when the kernel's syslog output puts `flags`' record on the line
/// of the one before (`prev`): 3.5 to 4.8 stored pieces of a line that
/// the continuation buffer could not hold as records of their own, and
/// `msg_print_text` prints a piece flagged LOG_CONT without LOG_PREFIX
/// after a LOG_CONT piece that lacked LOG_NEWLINE with neither newline nor
/// prefix between them. (From 4.9 the continuation buffer always joins a
/// line's pieces before storing it, so these flags no longer meet.)
fn continues(prev: u8, flags: u8) -> bool {
    prev & LOG_CONT != 0 && prev & LOG_NEWLINE == 0 && flags & LOG_CONT != 0 && flags & LOG_PREFIX == 0
}

/// Walks the records from `first_idx` to `next_idx` as the kernel's own
/// `log_from_idx`/`log_next` do, reading each through `mem`. Every index
/// is checked against `buf_len` before use, the walk wraps at most once
/// and visits at most `buf_len / header_size` records, so corrupt
/// indices or lengths end it (with the records before them and the
/// reason in `stopped`) rather than loop.
pub fn read_log_buf(mem: &dyn VirtualMemory, layout: &LogBufLayout, state: &LogBufState) -> LogBufRead {
    let mut out = LogBufRead { records: Vec::new(), stopped: None };
    if let Err(e) = layout.check().and_then(|()| check_state(state)) {
        out.stopped = Some(e);
        return out;
    }
    let header_size = layout.header_size as u32; // checked: at most MAX_HEADER
    let buf_len = state.buf_len;
    let full = state.first_idx == state.next_idx && state.stored.is_some_and(|n| n > 0);
    // Records between log_first_idx and the end lie above log_next_idx
    // until the walk wraps; after the wrap (or with no wrap to come) the
    // walk must meet log_next_idx exactly.
    let mut may_wrap = state.first_idx > state.next_idx || full;
    let mut leaving_start = full;
    let mut idx = state.first_idx;
    let mut seq = state.first_seq;
    let mut prev_flags = 0u8;
    let max_records = buf_len.checked_div(header_size).unwrap_or(0);
    let corrupt = |idx: u32, detail: String| {
        Error::bad_data("printk log_buf", format!("walk stopped at index {idx:#x} of {buf_len:#x}: {detail}"))
    };

    // Each step consumes a record of at least a header's size, or the one
    // wrap; one more step sees log_next_idx.
    for _ in 0..max_records.saturating_add(2) {
        if idx == state.next_idx && !leaving_start {
            return out;
        }
        leaving_start = false;
        let Some(end_of_header) = idx.checked_add(header_size).filter(|&e| e <= buf_len) else {
            out.stopped = Some(corrupt(idx, "no room for a record header before the end of the buffer".into()));
            return out;
        };
        let header = match read_header(mem, layout, state.buf, idx) {
            Ok(h) => h,
            Err(e) => {
                out.stopped = Some(e);
                return out;
            }
        };
        if header.len == 0 {
            // The end-of-buffer marker: the record is at index 0.
            if !may_wrap || idx == 0 {
                out.stopped = Some(corrupt(idx, "a wrap marker where the records cannot wrap".into()));
                return out;
            }
            may_wrap = false;
            idx = 0;
            continue;
        }
        let len = u32::from(header.len);
        let needed = u32::from(header.text_len).saturating_add(u32::from(header.dict_len)).saturating_add(header_size);
        let next = idx.checked_add(len).filter(|&n| n <= buf_len);
        let Some(next) = next.filter(|_| len >= needed && len % MIN_LOG_ALIGN == 0) else {
            out.stopped = Some(corrupt(
                idx,
                format!(
                    "corrupt record: len {} for a {header_size}-byte header, {} text and {} dictionary bytes",
                    header.len, header.text_len, header.dict_len
                ),
            ));
            return out;
        };
        if !may_wrap && next > state.next_idx {
            out.stopped = Some(corrupt(idx, format!("the record runs past log_next_idx {:#x}", state.next_idx)));
            return out;
        }
        let text_addr = state.buf.wrapping_add(u64::from(end_of_header));
        let text = match mem.read_vec(text_addr, usize::from(header.text_len)) {
            Ok(t) => t,
            Err(e) => {
                out.stopped = Some(corrupt(idx, format!("cannot read the record's text: {e}")));
                return out;
            }
        };
        let text = String::from_utf8_lossy(&text).into_owned();
        match out.records.last_mut() {
            Some(last) if continues(prev_flags, header.flags) => last.text.push_str(&text),
            _ => out.records.push(LogRecord {
                seq,
                ts_nsec: header.ts_nsec,
                level: header.level,
                facility: header.facility,
                caller_id: header.caller_id,
                text,
            }),
        }
        prev_flags = header.flags;
        seq = seq.wrapping_add(1);
        idx = next;
    }
    out.stopped = Some(corrupt(idx, format!("more than the {max_records} records the buffer can hold")));
    out
}

fn check_state(state: &LogBufState) -> Result<()> {
    let LogBufState { buf_len, first_idx, next_idx, .. } = *state;
    if buf_len == 0 || buf_len > MAX_LOG_BUF_LEN || first_idx > buf_len || next_idx > buf_len {
        return Err(Error::bad_data(
            "printk log_buf",
            format!(
                "implausible log_buf_len {buf_len:#x} with log_first_idx {first_idx:#x} and log_next_idx {next_idx:#x}"
            ),
        ));
    }
    Ok(())
}

fn read_header(mem: &dyn VirtualMemory, layout: &LogBufLayout, buf: u64, idx: u32) -> Result<Header> {
    let size = usize::try_from(layout.header_size).unwrap_or(usize::MAX);
    let bytes = mem.read_vec(buf.wrapping_add(u64::from(idx)), size).map_err(|e| {
        Error::bad_data("printk log_buf", format!("cannot read the record header at index {idx:#x}: {e}"))
    })?;
    layout
        .decode(&bytes)
        .ok_or_else(|| Error::bad_data("printk log_buf", format!("short record header at index {idx:#x}")))
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use krash_core::memory::BytesAt;

    const BUF: u64 = 0xffff_8880_0100_0000;

    /// Builds a log_buf image the way the kernel's `log_store` fills it:
    /// the oldest records are dropped (`log_make_free_space`) until the
    /// new one and an empty header fit, and a record that would not fit
    /// before the end goes to index 0 after a wrap marker.
    pub(crate) struct Builder {
        pub layout: LogBufLayout,
        pub buf: Vec<u8>,
        pub first: u32,
        pub next: u32,
        pub first_seq: u64,
        pub next_seq: u64,
    }

    impl Builder {
        pub fn new(layout: LogBufLayout, len: usize) -> Self {
            Builder { layout, buf: vec![0xa5; len], first: 0, next: 0, first_seq: 0, next_seq: 0 }
        }

        fn len_at(&self, idx: u32) -> u32 {
            let at = idx as usize + self.layout.len as usize;
            u32::from(u16::from_le_bytes([self.buf[at], self.buf[at + 1]]))
        }

        /// The kernel's `log_next`.
        fn log_next(&self, idx: u32) -> u32 {
            match self.len_at(idx) {
                0 => self.len_at(0),
                len => idx + len,
            }
        }

        /// The kernel's `logbuf_has_space`.
        fn has_space(&self, size: u32, empty: bool) -> bool {
            let free = if self.next > self.first || empty {
                (self.buf.len() as u32 - self.next).max(self.first)
            } else {
                self.first - self.next
            };
            free >= size + self.layout.header_size as u32
        }

        /// Stores a record; returns its index.
        pub fn store(&mut self, ts: u64, level: u8, flags: u8, text: &str, dict: &str) -> u32 {
            let l = self.layout;
            let h = l.header_size as usize;
            let size = (h + text.len() + dict.len()).next_multiple_of(4);
            while self.first_seq < self.next_seq && !self.has_space(size as u32, false) {
                self.first = self.log_next(self.first);
                self.first_seq += 1;
            }
            assert!(self.has_space(size as u32, self.first_seq == self.next_seq), "test record too big");
            if self.next as usize + size + h > self.buf.len() {
                let at = self.next as usize;
                self.buf[at..at + h].fill(0);
                self.next = 0;
            }
            let at = self.next as usize;
            let rec = &mut self.buf[at..at + size];
            rec.fill(0);
            let put = |rec: &mut [u8], off: u64, bytes: &[u8]| {
                rec[off as usize..off as usize + bytes.len()].copy_from_slice(bytes)
            };
            put(rec, l.ts_nsec, &ts.to_le_bytes());
            put(rec, l.len, &(size as u16).to_le_bytes());
            put(rec, l.text_len, &(text.len() as u16).to_le_bytes());
            put(rec, l.dict_len, &(dict.len() as u16).to_le_bytes());
            put(rec, l.facility, &[0]);
            put(rec, l.level.byte, &[(level << l.level.shift) | (flags << l.flags.shift)]);
            if let Some(c) = l.caller_id {
                put(rec, c, &(0x8000_0000u32 | u32::from(level)).to_le_bytes());
            }
            rec[h..h + text.len()].copy_from_slice(text.as_bytes());
            rec[h + text.len()..h + text.len() + dict.len()].copy_from_slice(dict.as_bytes());
            self.next += size as u32;
            self.next_seq += 1;
            at as u32
        }

        /// The kernel's variables for this image at `buf`.
        pub fn state(&self, buf: u64) -> LogBufState {
            LogBufState {
                buf,
                buf_len: self.buf.len() as u32,
                first_idx: self.first,
                next_idx: self.next,
                first_seq: self.first_seq,
                stored: Some(self.next_seq - self.first_seq),
            }
        }
    }

    fn read(b: &Builder) -> LogBufRead {
        read_log_buf(&BytesAt { base: BUF, bytes: b.buf.clone() }, &b.layout, &b.state(BUF))
    }

    fn texts(r: &LogBufRead) -> Vec<&str> {
        r.records.iter().map(|r| r.text.as_str()).collect()
    }

    #[test]
    fn records_of_3_10_read_in_order_with_dictionaries_skipped() {
        let mut b = Builder::new(LogBufLayout::LINUX_3_10, 256);
        b.first_seq = 7;
        b.next_seq = 7;
        b.store(1_500_000, 6, LOG_NEWLINE | LOG_PREFIX, "Linux version 3.10.0", "");
        b.store(2_000_000_000, 3, LOG_NEWLINE | LOG_PREFIX, "sd 0:0:0:0: oops", "SUBSYSTEM=scsi\0DEVICE=+scsi:0:0:0:0");
        b.store(3_000_000_000, 4, LOG_NEWLINE | LOG_PREFIX, "x", "");
        // Records are 4-aligned: 16 + 20 text bytes make 36; 16 + 16 + 34
        // make 68; 16 + 1 make 20.
        assert_eq!(b.next, 36 + 68 + 20);
        let r = read(&b);
        assert!(r.stopped.is_none(), "{:?}", r.stopped);
        assert_eq!(texts(&r), ["Linux version 3.10.0", "sd 0:0:0:0: oops", "x"]);
        let seqs: Vec<u64> = r.records.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, [7, 8, 9]);
        assert_eq!(r.records[1].level, 3);
        assert_eq!(r.records[2].level, 4);
        assert_eq!(r.records[1].ts_nsec, 2_000_000_000);
        assert_eq!(r.records[0].caller_id, 0, "3.10 records have no caller id");
    }

    #[test]
    fn records_of_5_1_carry_the_caller_id() {
        let mut b = Builder::new(LogBufLayout::LINUX_5_1_CALLER, 128);
        b.store(10, 2, LOG_NEWLINE, "BUG: unable to handle", "");
        b.store(11, 7, LOG_NEWLINE, "debug", "");
        let r = read(&b);
        assert!(r.stopped.is_none(), "{:?}", r.stopped);
        assert_eq!(texts(&r), ["BUG: unable to handle", "debug"]);
        assert_eq!(r.records[0].caller_id, 0x8000_0002);
        assert_eq!(r.records[0].level, 2);
        assert_eq!(r.records[1].level, 7);
        // The text starts after the 20-byte header: 20 + 21 -> 44.
        assert_eq!(b.next, 44 + 28);
    }

    #[test]
    fn a_wrapped_buffer_reads_from_first_idx_through_the_marker() {
        let mut b = Builder::new(LogBufLayout::LINUX_3_10, 128);
        let at: Vec<u32> = (0..6).map(|i| b.store(i, 6, LOG_NEWLINE, &format!("message {i}"), "")).collect();
        // 28-byte records: four fit; the fifth went to 0 after a wrap
        // marker at 112, and the kernel dropped the oldest three to make
        // room for the fifth and sixth.
        assert_eq!(at, [0, 28, 56, 84, 0, 28]);
        assert_eq!(b.buf[112 + 8..112 + 10], [0, 0], "the wrap marker");
        assert_eq!((b.first, b.next, b.first_seq), (84, 56, 3));
        let r = read(&b);
        assert!(r.stopped.is_none(), "{:?}", r.stopped);
        assert_eq!(texts(&r), ["message 3", "message 4", "message 5"]);
        let seqs: Vec<u64> = r.records.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, [3, 4, 5]);
        // Dropping the record before the marker leaves log_first_idx on
        // the marker itself.
        b.store(6, 6, LOG_NEWLINE, "message 6", "");
        assert_eq!((b.first, b.next), (112, 84));
        assert_eq!(texts(&read(&b)), ["message 4", "message 5", "message 6"]);
    }

    #[test]
    fn continuation_pieces_join_their_line() {
        let mut b = Builder::new(LogBufLayout::LINUX_3_10, 256);
        b.store(1, 6, LOG_PREFIX | LOG_CONT, "CPU features:", "");
        b.store(2, 6, LOG_CONT, " sse", "");
        b.store(3, 6, LOG_CONT | LOG_NEWLINE, " avx", "");
        b.store(4, 6, LOG_PREFIX | LOG_NEWLINE, "next line", "");
        b.store(5, 6, LOG_PREFIX | LOG_CONT, "new line, not a piece", "");
        let r = read(&b);
        assert_eq!(texts(&r), ["CPU features: sse avx", "next line", "new line, not a piece"]);
        assert_eq!(r.records[1].seq, 3, "a joined line keeps the kernel's numbering");
        assert_eq!(r.records[0].ts_nsec, 1, "and its first piece's time");
    }

    #[test]
    fn a_corrupt_len_ends_the_walk_with_the_records_before_it() {
        let mut b = Builder::new(LogBufLayout::LINUX_3_10, 256);
        b.store(1, 6, LOG_NEWLINE, "good", "");
        let bad = b.store(2, 6, LOG_NEWLINE, "bad", "") as usize;
        b.store(3, 6, LOG_NEWLINE, "unreached", "");
        // A len shorter than its header and text.
        b.buf[bad + 8..bad + 10].copy_from_slice(&16u16.to_le_bytes());
        let r = read(&b);
        assert_eq!(texts(&r), ["good"]);
        let e = r.stopped.expect("stopped").to_string();
        assert!(e.contains("index 0x14") && e.contains("corrupt record: len 16"), "{e}");
        // A len that breaks the 4-byte alignment.
        b.buf[bad + 8..bad + 10].copy_from_slice(&21u16.to_le_bytes());
        let e = read(&b).stopped.expect("stopped").to_string();
        assert!(e.contains("corrupt record: len 21"), "{e}");
        // A len running past the buffer's end.
        b.buf[bad + 8..bad + 10].copy_from_slice(&0xfff0u16.to_le_bytes());
        let e = read(&b).stopped.expect("stopped").to_string();
        assert!(e.contains("corrupt record: len 65520"), "{e}");
    }

    #[test]
    fn a_truncated_buffer_gives_what_is_there() {
        let mut b = Builder::new(LogBufLayout::LINUX_3_10, 256);
        b.store(1, 6, LOG_NEWLINE, "first", "");
        b.store(2, 6, LOG_NEWLINE, "second, whose text is cut off", "");
        b.store(3, 6, LOG_NEWLINE, "third", "");
        // The dump holds only the first 40 bytes of the buffer.
        let mem = BytesAt { base: BUF, bytes: b.buf[..40].to_vec() };
        let r = read_log_buf(&mem, &b.layout, &b.state(BUF));
        assert_eq!(texts(&r), ["first"]);
        let e = r.stopped.expect("stopped").to_string();
        assert!(e.contains("index 0x18") && e.contains("cannot read the record's text"), "{e}");
        // Cut inside a header.
        let mem = BytesAt { base: BUF, bytes: b.buf[..30].to_vec() };
        let e = read_log_buf(&mem, &b.layout, &b.state(BUF)).stopped.expect("stopped").to_string();
        assert!(e.contains("cannot read the record header at index 0x18"), "{e}");
    }

    #[test]
    fn markers_and_indices_that_would_loop_are_refused() {
        let mut b = Builder::new(LogBufLayout::LINUX_3_10, 128);
        b.store(1, 6, LOG_NEWLINE, "a", "");
        b.store(2, 6, LOG_NEWLINE, "b", "");
        // A marker between first and next, where no wrap can be.
        let mut marked = Builder { buf: b.buf.clone(), ..b };
        marked.buf[20 + 8..20 + 10].fill(0);
        let e = read(&marked).stopped.expect("stopped").to_string();
        assert!(e.contains("wrap marker where the records cannot wrap"), "{e}");
        // Indices beyond the buffer.
        let state = LogBufState { first_idx: 200, ..b.state(BUF) };
        let r = read_log_buf(&BytesAt { base: BUF, bytes: b.buf.clone() }, &b.layout, &state);
        assert!(r.stopped.expect("stopped").to_string().contains("implausible log_buf_len"));
        // A next_idx the records step over.
        let state = LogBufState { next_idx: 24, ..b.state(BUF) };
        let r = read_log_buf(&BytesAt { base: BUF, bytes: b.buf.clone() }, &b.layout, &state);
        assert_eq!(texts(&r), ["a"]);
        let e = r.stopped.expect("stopped").to_string();
        assert!(e.contains("index 0x14") && e.contains("runs past log_next_idx 0x18"), "{e}");
    }

    #[test]
    fn equal_indices_are_empty_unless_the_sequence_says_full() {
        // The kernel's comment allows log_first_idx == log_next_idx for a
        // full buffer; log_next_seq tells it from an empty one.
        let mut b = Builder::new(LogBufLayout::LINUX_3_10, 64);
        for (i, text) in ["a", "b", "c"].iter().enumerate() {
            b.store(i as u64, 6, LOG_NEWLINE, text, "");
        }
        // "c" went to 0 after a marker at 40, and the kernel dropped "a"
        // and "b"; "b"'s bytes are still at 20. Suppose log_first_idx and
        // log_next_idx both at 20, two records stored: "b", then "c".
        assert_eq!(b.buf[40 + 8..40 + 10], [0, 0]);
        let full = LogBufState { first_idx: 20, next_idx: 20, first_seq: 1, stored: Some(2), ..b.state(BUF) };
        let mem = BytesAt { base: BUF, bytes: b.buf.clone() };
        let r = read_log_buf(&mem, &b.layout, &full);
        assert!(r.stopped.is_none(), "{:?}", r.stopped);
        assert_eq!(texts(&r), ["b", "c"]);
        assert_eq!(r.records[1].seq, 2);
        let unknown = LogBufState { stored: None, ..full };
        assert!(read_log_buf(&mem, &b.layout, &unknown).records.is_empty());
    }

    use crate::printk::{LogVariant, PrintkExt};
    use krash_debuginfo::types::{Composite, Member, Type};
    use krash_program::synthetic::SyntheticKernel;

    /// A kernel whose log variables and buffer are in the direct map,
    /// named only by VMCOREINFO, and whose types know nothing of printk:
    /// what makedumpfile --dump-dmesg works from.
    fn vmcoreinfo_only_kernel(b: &Builder, struct_name: &str, extra: &[&str]) -> krash_program::Kernel {
        let mut s = SyntheticKernel::new();
        let buf = s.alloc(b.buf.len() as u64);
        s.write(buf, &b.buf);
        let vars = s.alloc(32);
        s.write_u64(vars, buf);
        s.write_u32(vars + 8, b.buf.len() as u32);
        s.write_u32(vars + 12, b.first);
        s.write_u32(vars + 16, b.next);
        let l = b.layout;
        for line in [
            format!("SYMBOL(log_buf)={vars:x}"),
            format!("SYMBOL(log_buf_len)={:x}", vars + 8),
            format!("SYMBOL(log_first_idx)={:x}", vars + 12),
            format!("SYMBOL(clear_idx)={:x}", vars + 12),
            format!("SYMBOL(log_next_idx)={:x}", vars + 16),
            format!("SIZE({struct_name})={}", l.header_size),
            format!("OFFSET({struct_name}.ts_nsec)={}", l.ts_nsec),
            format!("OFFSET({struct_name}.len)={}", l.len),
            format!("OFFSET({struct_name}.text_len)={}", l.text_len),
        ] {
            s.vmcoreinfo_line(&line);
        }
        for line in extra {
            s.vmcoreinfo_line(line);
        }
        s.build().unwrap()
    }

    #[test]
    fn a_3_10_kernel_is_read_from_vmcoreinfo_alone() {
        let mut b = Builder::new(LogBufLayout::LINUX_3_10, 4096);
        for i in 0..200u64 {
            b.store(i * 1000, (i % 8) as u8, LOG_NEWLINE | LOG_PREFIX, &format!("line {i}"), "");
        }
        assert!(b.first > b.next, "the buffer wrapped");
        // 3.10 exports struct log, without dict_len.
        let k = vmcoreinfo_only_kernel(&b, "log", &[]);
        assert_eq!(k.log_variant().unwrap(), LogVariant::LegacyLogBuf);
        let read = k.log_read().unwrap();
        assert!(read.stopped.is_none(), "{:?}", read.stopped);
        let expected: Vec<String> = (b.first_seq..200).map(|i| format!("line {i}")).collect();
        let got: Vec<&str> = read.records.iter().map(|r| r.text.as_str()).collect();
        assert_eq!(got, expected);
        let last = read.records.last().unwrap();
        assert_eq!((last.level, last.ts_nsec, last.caller_id), (199 % 8, 199_000, 0));
        // Without log_first_seq in a symbol table, numbering starts at 0.
        assert_eq!(read.records.first().map(|r| r.seq), Some(0));
    }

    #[test]
    fn a_5_x_kernel_with_caller_ids_is_read_from_vmcoreinfo_alone() {
        let mut b = Builder::new(LogBufLayout::LINUX_5_1_CALLER, 1024);
        b.store(5, 0, LOG_NEWLINE | LOG_PREFIX, "Kernel panic - not syncing: sysrq", "");
        let k = vmcoreinfo_only_kernel(
            &b,
            "printk_log",
            &["OFFSET(printk_log.dict_len)=12", "OFFSET(printk_log.caller_id)=16"],
        );
        let records = k.log_records().unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].text, "Kernel panic - not syncing: sysrq");
        assert_eq!(records[0].caller_id, 0x8000_0000);
    }

    #[test]
    fn a_corrupt_log_gives_its_good_records_or_an_error_naming_the_index() {
        let mut b = Builder::new(LogBufLayout::LINUX_3_10, 256);
        b.store(1, 6, LOG_NEWLINE, "kept", "");
        let bad = b.store(2, 6, LOG_NEWLINE, "bad", "") as usize;
        b.buf[bad + 8] = 3;
        let k = vmcoreinfo_only_kernel(&b, "printk_log", &[]);
        let read = k.log_read().unwrap();
        assert_eq!(read.records.len(), 1);
        assert!(read.stopped.is_some());
        assert_eq!(k.log_records().unwrap().len(), 1, "partial output");
        // Corrupt from the first record: an error, not an empty log.
        b.buf[8] = 3;
        let k = vmcoreinfo_only_kernel(&b, "printk_log", &[]);
        let e = k.log_records().unwrap_err().to_string();
        assert!(e.contains("index 0x0") && e.contains("corrupt record: len 3"), "{e}");
    }

    /// 4.18's `struct printk_log` as BTF or DWARF describe it, and the log
    /// variables as symbols. The bitfields are placed as a big-endian
    /// compiler would (`level` in the low bits): the types, not the usual
    /// x86-64 placement, must decide.
    #[test]
    fn a_4_18_kernel_is_read_through_its_types_and_symbols() {
        let swapped = LogBufLayout {
            flags: ByteBits { byte: 15, shift: 3, width: 5 },
            level: ByteBits { byte: 15, shift: 0, width: 3 },
            ..LogBufLayout::LINUX_3_10
        };
        let mut b = Builder::new(swapped, 512);
        b.first_seq = 41;
        b.next_seq = 41;
        b.store(7, 5, LOG_NEWLINE | LOG_PREFIX, "a", "DRIVER=e1000");
        b.store(8, 1, LOG_NEWLINE | LOG_PREFIX, "b", "");
        let mut s = SyntheticKernel::new();
        let u64t = s.types().int("long long unsigned int", 8, false);
        let u16t = s.types().int("short unsigned int", 2, false);
        let u8t = s.types().int("unsigned char", 1, false);
        let m = |name: &str, ty, bit_offset, bitfield_size| Member {
            name: Some(name.into()),
            ty,
            bit_offset,
            bitfield_size,
        };
        s.types().add(Type::Struct(Composite {
            name: Some("printk_log".into()),
            size: 16,
            members: vec![
                m("ts_nsec", u64t, 0, None),
                m("len", u16t, 64, None),
                m("text_len", u16t, 80, None),
                m("dict_len", u16t, 96, None),
                m("facility", u8t, 112, None),
                m("flags", u8t, 123, Some(5)),
                m("level", u8t, 120, Some(3)),
            ],
        }));
        let buf = s.alloc(512);
        s.write(buf, &b.buf);
        let log_buf = s.global("log_buf", 8);
        s.write_u64(log_buf, buf);
        for (name, value) in [("log_buf_len", 512), ("log_first_idx", b.first), ("log_next_idx", b.next)] {
            let at = s.global(name, 4);
            s.write_u32(at, value);
        }
        for (name, value) in [("log_first_seq", b.first_seq), ("log_next_seq", b.next_seq)] {
            let at = s.global(name, 8);
            s.write_u64(at, value);
        }
        let k = s.build().unwrap();
        let records = k.log_records().unwrap();
        let got: Vec<(u64, u8, &str)> = records.iter().map(|r| (r.seq, r.level, r.text.as_str())).collect();
        assert_eq!(got, [(41, 5, "a"), (42, 1, "b")]);
    }

    #[test]
    fn layouts_from_members_fill_in_and_check() {
        let vmcoreinfo_3_10 = LogBufMembers { header_size: 16, ts_nsec: 0, len: 8, text_len: 10, ..Default::default() };
        assert_eq!(LogBufLayout::from_members(&vmcoreinfo_3_10).unwrap(), LogBufLayout::LINUX_3_10);
        let vmcoreinfo_5_1 =
            LogBufMembers { header_size: 20, dict_len: Some(12), caller_id: Some(16), ..vmcoreinfo_3_10 };
        assert_eq!(LogBufLayout::from_members(&vmcoreinfo_5_1).unwrap(), LogBufLayout::LINUX_5_1_CALLER);
        // A caller id past a 16-byte header, an absurd header, a ts_nsec
        // overlapping the end, a bitfield wider than its byte.
        assert!(LogBufLayout::from_members(&LogBufMembers { caller_id: Some(16), ..vmcoreinfo_3_10 }).is_err());
        assert!(LogBufLayout::from_members(&LogBufMembers { header_size: 4096, ..vmcoreinfo_3_10 }).is_err());
        assert!(LogBufLayout::from_members(&LogBufMembers { ts_nsec: 12, ..vmcoreinfo_3_10 }).is_err());
        let wide = ByteBits { byte: 15, shift: 5, width: 5 };
        assert!(LogBufLayout::from_members(&LogBufMembers { level: Some(wide), ..vmcoreinfo_3_10 }).is_err());
    }

    /// Random buffers and states: records or a stop reason, never a panic
    /// or a hang.
    #[test]
    fn random_buffers_never_panic() {
        let mut rng = krash_labtest::XorShift(0x9e37_79b9_7f4a_7c15);
        let mut next = || rng.next();
        for round in 0..3000 {
            let len = (next() % 512) as usize + 16;
            let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if round % 2 == 0 {
                // Plausible lengths half of the time, so walks go far.
                for at in (0..len.saturating_sub(16)).step_by(20) {
                    bytes[at + 8] = (next() % 6 * 4) as u8 + 16;
                    bytes[at + 9] = 0;
                    bytes[at + 10] = (next() % 8) as u8;
                    bytes[at + 11] = 0;
                }
            }
            let layout = if round % 3 == 0 { LogBufLayout::LINUX_5_1_CALLER } else { LogBufLayout::LINUX_3_10 };
            let state = LogBufState {
                buf: BUF,
                buf_len: (next() % (len as u64 + 8)) as u32,
                first_idx: (next() % len as u64) as u32,
                next_idx: (next() % len as u64) as u32,
                first_seq: next(),
                stored: (round % 4 == 0).then(|| next() % 4),
            };
            let r = read_log_buf(&BytesAt { base: BUF, bytes }, &layout, &state);
            assert!(r.records.len() <= len / 16 + 1);
        }
    }
}
