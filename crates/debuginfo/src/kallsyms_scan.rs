//! Finding the kernel's kallsyms tables in its image when nothing says
//! where they are (VMCOREINFO names them only since 6.0).
//!
//! The anchor is `kallsyms_token_table`: 256 NUL-terminated tokens in code
//! order, in which every character that occurs in a symbol name stands for
//! itself, so the digits show up as the bytes `0\0 1\0 ... 9\0` (tokens
//! 0x30..=0x39). `kallsyms_token_index` (256 u16 offsets into the token
//! table) follows the token table in every layout, padded to the tables'
//! alignment; the two check each other token by token.
//!
//! The other tables are found from there, by the order `scripts/kallsyms.c`
//! writes them in (sources read: 5.10, 6.1, 6.12, 7.2):
//! - [`KallsymsLayout::OffsetsFirst`] (5.10, 6.1): offsets, relative_base,
//!   num_syms, names, markers, [seqs_of_names: Debian's 6.1, upstream 6.2],
//!   token_table, token_index; each 8-aligned;
//! - [`KallsymsLayout::TokensFirst`] (6.12): num_syms, names, markers,
//!   token_table, token_index, offsets, relative_base, seqs_of_names;
//!   8-aligned;
//! - [`KallsymsLayout::PcRelative`] (7.2): as 6.12 without relative_base
//!   (each offset is relative to its own address); 4-aligned.
//!
//! Nothing is taken on trust: the markers (the names-stream offset of every
//! 256th name) must start at 0 and agree with the name lengths decoded at
//! both ends of the stream, `kallsyms_num_syms` must fit the markers'
//! count, `kallsyms_seqs_of_names` (where the layout puts it before the
//! tokens) must be a permutation, and the decoded addresses must be sorted,
//! as the kernel sorts them. A candidate that fails any of these is
//! dropped and the search goes on.
//!
//! [`check_against`] then compares the decoded table with what the caller
//! knows independently (VMCOREINFO's `SYMBOL()` entries).

use std::ops::Range;

use krash_core::{Error, Result, VirtualMemory};

use crate::kallsyms::{bytes_to_page_end, KallsymsAddressing, KallsymsLocation, OffsetDecoding, MAX_KALLSYMS};
use crate::read;
use crate::symbols::SymbolTable;

/// Tokens 0x30..=0x39: the digits, each standing for itself.
const DIGIT_TOKENS: &[u8] = b"0\x001\x002\x003\x004\x005\x006\x007\x008\x009\x00";
/// The token code of `'0'`.
const FIRST_DIGIT_TOKEN: usize = 0x30;
const TOKENS: usize = 256;
/// Bytes of `kallsyms_token_index`.
const TOKEN_INDEX_BYTES: u64 = 2 * TOKENS as u64;
/// Token offsets are u16: the token table is shorter than 64 KiB.
const MAX_TOKEN_TABLE: u64 = 0x1_0000;
/// Names per `kallsyms_markers` entry.
const NAMES_PER_MARKER: u64 = 256;
/// Most markers a plausible table has.
const MAX_MARKERS: u64 = (MAX_KALLSYMS as u64).div_ceil(NAMES_PER_MARKER);
/// Fewest bytes one encoded name takes: a length byte and one token.
const MIN_ENCODED_NAME: u64 = 2;
/// Most bytes one encoded name takes: a two-byte length and one token per
/// character of the type letter and a name shorter than KSYM_NAME_LEN (512).
const MAX_ENCODED_NAME: u64 = 2 + 512;
/// Bytes between consecutive markers: 256 names, each 2 to 514 bytes.
const MIN_MARKER_STEP: u64 = MIN_ENCODED_NAME * NAMES_PER_MARKER;
const MAX_MARKER_STEP: u64 = MAX_ENCODED_NAME * NAMES_PER_MARKER;
/// Below this many symbols, sorted addresses do not tell layouts apart.
const FEW_SYMBOLS: u64 = 2 * NAMES_PER_MARKER;
/// Bytes of image searched per read.
const SEARCH_CHUNK: u64 = 1 << 20;
/// How far before the token table `kallsyms_seqs_of_names` (3 bytes a
/// symbol) and the markers may start, tried in turn.
const SEQS_WINDOWS: [u64; 2] = [1 << 20, 3 * MAX_KALLSYMS as u64 + 4 * MAX_MARKERS + 16];

/// The order the tables are in (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KallsymsLayout {
    /// Offsets and relative base before the names (5.10, 6.1);
    /// `seqs_of_names` between markers and tokens where there is one.
    OffsetsFirst { seqs_of_names: bool },
    /// Offsets, relative base and `seqs_of_names` after the tokens (6.12).
    TokensFirst,
    /// As `TokensFirst`, offsets relative to themselves, no base (7.2).
    PcRelative,
}

impl std::fmt::Display for KallsymsLayout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KallsymsLayout::OffsetsFirst { .. } => "offsets before names",
            KallsymsLayout::TokensFirst => "offsets after tokens",
            KallsymsLayout::PcRelative => "self-relative offsets",
        })
    }
}

/// Kallsyms tables found by [`scan_kallsyms`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KallsymsScan {
    /// Where each table the decoder needs is.
    pub location: KallsymsLocation,
    /// `kallsyms_markers`.
    pub markers: u64,
    /// `kallsyms_seqs_of_names`, where there is one and it checked out.
    pub seqs_of_names: Option<u64>,
    /// The value of `kallsyms_num_syms`.
    pub num_syms: u32,
    pub layout: KallsymsLayout,
    /// Bytes of the search ranges read before the tables were found.
    pub bytes_searched: u64,
}

impl KallsymsScan {
    /// Each table found, by the kernel's symbol name for it (what
    /// VMCOREINFO's `SYMBOL()` lines and the vmlinux call it); `None` where
    /// this kernel's layout has no such table.
    pub fn tables(&self) -> [(&'static str, Option<u64>); 8] {
        let loc = &self.location;
        [
            ("kallsyms_names", Some(loc.names)),
            ("kallsyms_num_syms", Some(loc.num_syms)),
            ("kallsyms_token_table", Some(loc.token_table)),
            ("kallsyms_token_index", Some(loc.token_index)),
            ("kallsyms_offsets", Some(loc.offsets)),
            ("kallsyms_relative_base", loc.relative_base),
            ("kallsyms_markers", Some(self.markers)),
            ("kallsyms_seqs_of_names", self.seqs_of_names),
        ]
    }
}

/// Searches `ranges` of `mem` (the kernel image's read-only data; whole
/// image ranges work, slower), in order, for the kallsyms tables; none of
/// them is looked for below the lowest start of `ranges`. Bounded: reads
/// each range once in 1 MiB steps plus a few windows per candidate.
pub fn scan_kallsyms(mem: &dyn VirtualMemory, ranges: &[Range<u64>]) -> Result<KallsymsScan> {
    let mut bytes_searched = 0u64;
    let floor = ranges.iter().map(|r| r.start).min().unwrap_or(0);
    let mut rejected: Vec<(u64, &'static str)> = Vec::new();
    let overlap = DIGIT_TOKENS.len() as u64;
    for range in ranges {
        let mut at = range.start;
        while at < range.end {
            let len = range.end.saturating_sub(at).min(SEARCH_CHUNK);
            let chunk = read_lenient(mem, at, len);
            bytes_searched = bytes_searched.saturating_add(len);
            for hit in memchr::memmem::find_iter(&chunk, DIGIT_TOKENS) {
                // A hit at 0 in a later chunk was seen whole at the end of the previous one.
                let preceded_by_nul = match hit.checked_sub(1) {
                    Some(before) => chunk.get(before) == Some(&0),
                    None => at == range.start && mem.read_u8(at.wrapping_sub(1)).ok() == Some(0),
                };
                if !preceded_by_nul {
                    continue;
                }
                let digits = at.saturating_add(hit as u64);
                match tables_from_digit_tokens(mem, digits, floor) {
                    Ok(mut found) => {
                        found.bytes_searched = bytes_searched;
                        return Ok(found);
                    }
                    Err(why) => rejected.push((digits, why)),
                }
            }
            if len < SEARCH_CHUNK || len <= overlap {
                break;
            }
            at = at.saturating_add(len.saturating_sub(overlap));
        }
    }
    let searched: Vec<String> = ranges.iter().map(|r| format!("{:#x}-{:#x}", r.start, r.end)).collect();
    let detail = match rejected.first() {
        None => format!("no kallsyms token table in {} ({bytes_searched} bytes)", searched.join(", ")),
        Some((at, why)) => format!(
            "{} token-table candidate(s) in {} ({bytes_searched} bytes), none checked out (at {at:#x}: {why})",
            rejected.len(),
            searched.join(", ")
        ),
    };
    Err(Error::MissingDebuginfo(format!("kallsyms scan: {detail}")))
}

/// Why a candidate was dropped (kept for the error when none is left).
type Rejection = &'static str;

/// `kallsyms_token_table` and `kallsyms_token_index`.
struct Tokens {
    table: u64,
    index: u64,
}

/// Everything found from the digit tokens at `digits`, or why not.
/// The tables are not looked for below `floor` (so a table of millions of
/// symbols is looked for no further back than the image goes).
fn tables_from_digit_tokens(
    mem: &dyn VirtualMemory,
    digits: u64,
    floor: u64,
) -> std::result::Result<KallsymsScan, Rejection> {
    let tokens = tokens_around(mem, digits)?;
    let mut why = "no kallsyms_markers before the token table";
    let mut try_markers = |candidates: Vec<Markers>| {
        for markers in candidates {
            let found = names_before(mem, &markers).and_then(|names| offsets_for(mem, &tokens, &markers, &names));
            match found {
                Ok(found) => return Some(found),
                Err(e) => why = e,
            }
        }
        None
    };
    if let Some(found) = try_markers(markers_right_before(mem, tokens.table)) {
        return Ok(found);
    }
    for size in SEQS_WINDOWS {
        let start = tokens.table.saturating_sub(size).max(floor);
        let window = Window::read(mem, start, tokens.table.saturating_sub(start));
        if let Some(found) = try_markers(markers_then_seqs(&window, tokens.table)) {
            return Ok(found);
        }
        if start == floor {
            break;
        }
    }
    Err(why)
}

/// Checks the tokens around the digits against the token index after them.
fn tokens_around(mem: &dyn VirtualMemory, digits: u64) -> std::result::Result<Tokens, Rejection> {
    let tail = Window::read(mem, digits, MAX_TOKEN_TABLE.saturating_add(TOKEN_INDEX_BYTES).saturating_add(8));
    // Lengths (with the NUL) of tokens 0x30..=0xff, read forward from '0'.
    let mut lengths = [0u64; TOKENS];
    let mut tokens_end = digits;
    for length in lengths.iter_mut().skip(FIRST_DIGIT_TOKEN) {
        let rest = tail.from(tokens_end).ok_or("the token table runs out of readable memory")?;
        let nul = memchr::memchr(0, rest).ok_or("a token is not terminated")?;
        *length = (nul as u64).saturating_add(1);
        tokens_end = tokens_end.saturating_add(*length);
        if tokens_end.saturating_sub(digits) > MAX_TOKEN_TABLE {
            return Err("the tokens after the digits are longer than a token table");
        }
    }
    let mut tried = Vec::with_capacity(4);
    for align in [1u64, 2, 4, 8] {
        let index = align_up(tokens_end, align).ok_or("address overflow")?;
        if tried.contains(&index) {
            continue;
        }
        tried.push(index);
        let padding = tail.slice(tokens_end, index.saturating_sub(tokens_end)).ok_or("token index unreadable")?;
        if padding.iter().any(|&b| b != 0) {
            continue;
        }
        let Some(index_bytes) = tail.slice(index, TOKEN_INDEX_BYTES) else { continue };
        let mut offsets = [0u16; TOKENS];
        for (slot, offset) in offsets.iter_mut().zip(read::u16s(index_bytes)) {
            *slot = offset;
        }
        if let Some(table) = check_token_index(mem, &offsets, &lengths, digits, tokens_end) {
            return Ok(Tokens { table, index });
        }
    }
    Err("no token index after the tokens agrees with them")
}

/// The token table's address when `offsets` (a candidate token index) fits
/// the tokens: token 0 at 0, the digits where they were found, each token
/// ending where the next starts.
fn check_token_index(
    mem: &dyn VirtualMemory,
    offsets: &[u16; TOKENS],
    lengths: &[u64; TOKENS],
    digits: u64,
    tokens_end: u64,
) -> Option<u64> {
    if offsets.first() != Some(&0) {
        return None;
    }
    let table = digits.checked_sub(u64::from(*offsets.get(FIRST_DIGIT_TOKEN)?))?;
    let starts = |i: usize| offsets.get(i).map(|&o| table.saturating_add(u64::from(o)));
    // Where each token ends: where the next one starts, the last at the index.
    let ends = |i: usize| match i.checked_add(1) {
        Some(next) if next < TOKENS => starts(next),
        _ => Some(tokens_end),
    };
    // Tokens from the digits on: lengths known from the forward read.
    for i in FIRST_DIGIT_TOKEN..TOKENS {
        if starts(i)?.checked_add(*lengths.get(i)?)? != ends(i)? {
            return None;
        }
    }
    // Tokens before the digits: each one's bytes must end at its NUL.
    let head = Window::read(mem, table, digits.checked_sub(table)?);
    for i in 0..FIRST_DIGIT_TOKEN {
        let (start, end) = (starts(i)?, ends(i)?);
        let token = head.slice(start, end.checked_sub(start)?)?;
        let (last, body) = token.split_last()?;
        if *last != 0 || body.contains(&0) {
            return None;
        }
    }
    Some(table)
}

/// A `kallsyms_markers` candidate.
struct Markers {
    addr: u64,
    values: Vec<u32>,
    /// `kallsyms_seqs_of_names` between the markers and the tokens, with
    /// the symbol count its size gives.
    seqs_of_names: Option<(u64, u32)>,
}

impl Markers {
    /// Symbol counts these markers allow: (256 * (count - 1), 256 * count].
    fn symbol_counts(&self) -> Range<u64> {
        let count = self.values.len() as u64;
        let low = count.saturating_sub(1).saturating_mul(NAMES_PER_MARKER).saturating_add(1);
        low..count.saturating_mul(NAMES_PER_MARKER).saturating_add(1)
    }

    fn allows(&self, num_syms: u32) -> bool {
        match self.seqs_of_names {
            Some((_, n)) => n == num_syms,
            None => self.symbol_counts().contains(&u64::from(num_syms)),
        }
    }
}

/// Markers ending right before the token table, but for padding (6.12,
/// 7.2, and 5.10/6.1 without `seqs_of_names`).
fn markers_right_before(mem: &dyn VirtualMemory, token_table: u64) -> Vec<Markers> {
    let near = Window::read_before(mem, token_table, MAX_MARKERS.saturating_mul(4).saturating_add(8));
    // A zero right before the tokens is padding, or the only marker (a
    // table of at most 256 names): padding first, as real tables have more.
    [token_table.wrapping_sub(4), token_table]
        .into_iter()
        .filter(|&end| near.slice(end, token_table.saturating_sub(end)).is_some_and(|p| p.iter().all(|&b| b == 0)))
        .filter_map(|end| markers_ending_at(&near, end))
        .collect()
}

/// The markers array whose last entry ends at `end`: read backwards, values
/// fall by at least one minimal group of names each step, down to a 0.
fn markers_ending_at(window: &Window, end: u64) -> Option<Markers> {
    let mut values = Vec::new();
    let mut at = end;
    loop {
        at = at.checked_sub(4)?;
        let value = window.u32_at(at)?;
        if let Some(&next) = values.last() {
            let step = u64::from(next).checked_sub(u64::from(value))?;
            if !(MIN_MARKER_STEP..=MAX_MARKER_STEP).contains(&step) {
                return None;
            }
        }
        values.push(value);
        if value == 0 {
            break;
        }
        if values.len() as u64 >= MAX_MARKERS {
            return None;
        }
    }
    values.reverse();
    Some(Markers { addr: at, values, seqs_of_names: None })
}

/// Markers followed (8-aligned) by `seqs_of_names` (3 bytes per symbol)
/// ending right before the token table: for each place the markers could
/// end, the symbol count is fixed by the bytes left, hence the markers'
/// count and start; the seqs must then be a permutation of the symbols.
fn markers_then_seqs(window: &Window, token_table: u64) -> Vec<Markers> {
    let mut found = Vec::new();
    let Some(mut end) = token_table.checked_sub(8).map(|e| e & !3) else { return found };
    while end > window.start() {
        if let Some(seqs) = align_up(end, 8) {
            let room = token_table.saturating_sub(seqs);
            // 3n bytes of seqs, then at most 7 of padding.
            for n in room.saturating_sub(7).div_ceil(3)..=room / 3 {
                if let Some(m) = markers_with_seqs(window, end, seqs, n, token_table) {
                    found.push(m);
                }
            }
        }
        end = end.saturating_sub(4);
    }
    found
}

fn markers_with_seqs(window: &Window, end: u64, seqs: u64, n: u64, token_table: u64) -> Option<Markers> {
    if n == 0 || n > u64::from(MAX_KALLSYMS) {
        return None;
    }
    let count = n.div_ceil(NAMES_PER_MARKER);
    let start = end.checked_sub(count.checked_mul(4)?)?;
    // The cheap tests first: the markers are 8-aligned in this layout, the
    // first is 0, the last is not.
    if start & 7 != 0 || window.u32_at(start)? != 0 || (count > 1 && window.u32_at(end.checked_sub(4)?)? == 0) {
        return None;
    }
    let markers = markers_ending_at(window, end).filter(|m| m.addr == start)?;
    let seqs_end = seqs.checked_add(n.checked_mul(3)?)?;
    let seqs_bytes = window.slice(seqs, seqs_end.checked_sub(seqs)?)?;
    let gaps =
        [window.slice(end, seqs.checked_sub(end)?)?, window.slice(seqs_end, token_table.checked_sub(seqs_end)?)?];
    if gaps.iter().any(|g| g.iter().any(|&b| b != 0)) || !is_permutation(seqs_bytes, n) {
        return None;
    }
    Some(Markers { seqs_of_names: Some((seqs, u32::try_from(n).ok()?)), ..markers })
}

/// True when `bytes` are `n` big-endian 3-byte values taking each of 0..n once.
fn is_permutation(bytes: &[u8], n: u64) -> bool {
    let Ok(n) = usize::try_from(n) else { return false };
    let mut seen = vec![false; n];
    for triple in read::arrays::<3>(bytes) {
        let [a, b, c] = triple;
        let value = usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c);
        match seen.get_mut(value) {
            Some(slot) if !*slot => *slot = true,
            _ => return false,
        }
    }
    bytes.len() == n.saturating_mul(3)
}

/// `kallsyms_names` and `kallsyms_num_syms`.
struct Names {
    addr: u64,
    num_syms_addr: u64,
    num_syms: u32,
}

/// Finds where the names stream starts: `kallsyms_num_syms` sits right
/// before it in every layout, its value must fit the markers, and decoding
/// name lengths from there must meet the first marker and end (padded) at
/// the markers.
fn names_before(mem: &dyn VirtualMemory, markers: &Markers) -> std::result::Result<Names, Rejection> {
    let last = u64::from(*markers.values.last().ok_or("no markers")?);
    let last_group_max = NAMES_PER_MARKER.saturating_mul(MAX_ENCODED_NAME);
    // The last group's bytes, up to the markers.
    let tail = Window::read_before(mem, markers.addr, last_group_max.saturating_add(8));
    // Around where the stream can start: before `markers - last - 2`.
    let latest_start = markers.addr.checked_sub(last.saturating_add(MIN_ENCODED_NAME)).ok_or("markers too large")?;
    let earliest_start = latest_start.saturating_sub(last_group_max);
    let first_group = markers.values.get(1).map_or(0, |&m| u64::from(m));
    let head_start = earliest_start.saturating_sub(8);
    let head = Window::read(mem, head_start, latest_start.saturating_add(first_group).saturating_sub(head_start));
    let mut start = latest_start & !3;
    while start >= earliest_start && start > head_start {
        for num_syms_addr in [start.wrapping_sub(8), start.wrapping_sub(4)] {
            // 8-aligned num_syms is followed by 4 bytes of padding.
            if num_syms_addr == start.wrapping_sub(8)
                && (start & 7 != 0 || head.u32_at(start.wrapping_sub(4)) != Some(0))
            {
                continue;
            }
            let Some(num_syms) = head.u32_at(num_syms_addr) else { continue };
            if num_syms == 0 || !markers.allows(num_syms) {
                continue;
            }
            if names_fit_markers(&head, &tail, start, num_syms, markers) {
                return Ok(Names { addr: start, num_syms_addr, num_syms });
            }
        }
        start = start.saturating_sub(4);
    }
    Err("no kallsyms_num_syms and names stream fit the markers")
}

/// Name lengths decoded from `start`: the first 256 end at the second
/// marker, the last group ends where the markers begin (but for padding).
fn names_fit_markers(head: &Window, tail: &Window, start: u64, num_syms: u32, markers: &Markers) -> bool {
    let groups = markers.values.len() as u64;
    let first_group_names = u64::from(num_syms).min(NAMES_PER_MARKER);
    if let Some(&second) = markers.values.get(1) {
        let Some(end) = skip_names(head, start, first_group_names) else { return false };
        if end != start.saturating_add(u64::from(second)) {
            return false;
        }
    }
    let Some(&last) = markers.values.last() else { return false };
    let last_group_start = start.saturating_add(u64::from(last));
    let last_group_names =
        u64::from(num_syms).saturating_sub(groups.saturating_sub(1).saturating_mul(NAMES_PER_MARKER));
    let Some(end) = skip_names(tail, last_group_start, last_group_names) else { return false };
    let Some(padding) = markers.addr.checked_sub(end) else { return false };
    padding < 8 && tail.slice(end, padding).is_some_and(|p| p.iter().all(|&b| b == 0))
}

/// Where `count` encoded names starting at `at` end; `None` if one has
/// length 0 (none does) or runs out of the window.
fn skip_names(window: &Window, mut at: u64, count: u64) -> Option<u64> {
    for _ in 0..count {
        let first = window.u8_at(at)?;
        let (header, len) = if first & 0x80 != 0 {
            let second = window.u8_at(at.checked_add(1)?)?;
            (2, u64::from(first & 0x7f) | u64::from(second) << 7)
        } else {
            (1, u64::from(first))
        };
        let size = len.saturating_add(header);
        if len == 0 || window.slice(at, size).is_none() {
            return None;
        }
        at = at.checked_add(size)?;
    }
    Some(at)
}

/// Tries each layout's place for `kallsyms_offsets` (and the relative
/// base): the right one decodes to sorted addresses.
fn offsets_for(
    mem: &dyn VirtualMemory,
    tokens: &Tokens,
    markers: &Markers,
    names: &Names,
) -> std::result::Result<KallsymsScan, Rejection> {
    let n = u64::from(names.num_syms);
    let offsets_bytes = n.checked_mul(4).ok_or("symbol count overflows")?;
    let after_index = tokens.index.checked_add(TOKEN_INDEX_BYTES).ok_or("address overflow")?;
    let mut candidates: Vec<(KallsymsLayout, u64, Option<u64>)> = Vec::with_capacity(3);
    if names.num_syms_addr & 7 == 0 {
        let base = names.num_syms_addr.wrapping_sub(8);
        let offsets = align_up(offsets_bytes, 8).and_then(|len| base.checked_sub(len));
        if let Some(offsets) = offsets {
            let seqs_of_names = markers.seqs_of_names.is_some();
            candidates.push((KallsymsLayout::OffsetsFirst { seqs_of_names }, offsets, Some(base)));
        }
    }
    if markers.seqs_of_names.is_none() {
        if let Some(base) = after_index.checked_add(offsets_bytes).and_then(|e| align_up(e, 8)) {
            candidates.push((KallsymsLayout::TokensFirst, after_index, Some(base)));
        }
        candidates.push((KallsymsLayout::PcRelative, after_index, None));
    }
    // The first layout that decodes to sorted addresses; for a table of a
    // few symbols, where sortedness proves little, one whose seqs_of_names
    // checks out is preferred.
    let mut fits = Vec::with_capacity(candidates.len());
    for (layout, offsets, relative_base) in candidates {
        let location = KallsymsLocation {
            num_syms: names.num_syms_addr,
            names: names.addr,
            token_table: tokens.table,
            token_index: tokens.index,
            offsets,
            relative_base,
            addressing: KallsymsAddressing::Auto,
        };
        if !addresses_sorted(mem, &location, n) {
            continue;
        }
        let seqs_of_names = match (layout, markers.seqs_of_names) {
            (_, Some((seqs, _))) => Some(seqs),
            (KallsymsLayout::OffsetsFirst { .. }, None) => None,
            _ => seqs_after_offsets(mem, &location, relative_base, n),
        };
        fits.push(KallsymsScan {
            location,
            markers: markers.addr,
            seqs_of_names,
            num_syms: names.num_syms,
            layout,
            bytes_searched: 0,
        });
        if seqs_of_names.is_some() || n >= FEW_SYMBOLS {
            break;
        }
    }
    let with_seqs = fits.iter().position(|f| f.seqs_of_names.is_some()).unwrap_or(0);
    if with_seqs < fits.len() {
        Ok(fits.swap_remove(with_seqs))
    } else {
        Err("no place for kallsyms_offsets decodes to sorted addresses")
    }
}

/// True when the offsets at `loc` decode to non-decreasing addresses
/// ending in the kernel's (upper) half: the kernel writes them sorted, and
/// takes the relative base from the first symbol that is not absolute.
fn addresses_sorted(mem: &dyn VirtualMemory, loc: &KallsymsLocation, n: u64) -> bool {
    let Some(bytes) = usize::try_from(n).ok().and_then(|n| n.checked_mul(4)) else { return false };
    let Ok(raw) = mem.read_vec(loc.offsets, bytes) else { return false };
    let base = match loc.relative_base {
        Some(at) => match mem.read_u64(at) {
            Ok(base) if base >> 63 == 1 => Some(base),
            _ => return false,
        },
        None => None,
    };
    let offsets: Vec<i32> = read::u32s(&raw).map(|o| o as i32).collect();
    let decoding = OffsetDecoding::new(loc, base, &offsets);
    let mut previous = 0u64;
    let mut base_seen = base.is_none();
    for (i, &offset) in offsets.iter().enumerate() {
        let addr = decoding.address(i, offset);
        if addr < previous {
            return false;
        }
        base_seen |= Some(addr) == base;
        previous = addr;
    }
    base_seen && previous >> 63 == 1
}

/// `kallsyms_seqs_of_names` after the offsets (and base), if it is there.
fn seqs_after_offsets(mem: &dyn VirtualMemory, loc: &KallsymsLocation, base: Option<u64>, n: u64) -> Option<u64> {
    let end_of_previous = match base {
        Some(base) => base.checked_add(8)?,
        None => loc.offsets.checked_add(n.checked_mul(4)?)?,
    };
    [1u64, 4, 8].iter().filter_map(|&a| align_up(end_of_previous, a)).find(|&seqs| {
        usize::try_from(n.saturating_mul(3))
            .ok()
            .and_then(|len| mem.read_vec(seqs, len).ok())
            .is_some_and(|bytes| is_permutation(&bytes, n))
    })
}

/// What the decoded table says of names the caller knows independently.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SymbolAgreement {
    /// Names the table has at the expected address.
    pub agree: Vec<String>,
    /// (name, expected address, the table's addresses for it).
    pub disagree: Vec<(String, u64, Vec<u64>)>,
    /// Names the table does not have (macros such as `swapper_pg_dir`).
    pub unknown: Vec<String>,
}

impl SymbolAgreement {
    /// Names the table knows.
    pub fn checked(&self) -> usize {
        self.agree.len().saturating_add(self.disagree.len())
    }
}

/// Compares `symbols` with independently known `(name, address)` pairs:
/// a name agrees when one of the table's symbols of that name has the
/// address (static symbols repeat names).
pub fn check_against<'a>(symbols: &SymbolTable, known: impl IntoIterator<Item = (&'a str, u64)>) -> SymbolAgreement {
    let mut out = SymbolAgreement::default();
    for (name, addr) in known {
        let found: Vec<u64> = symbols.all_by_name(name).map(|s| s.addr).collect();
        if found.is_empty() {
            out.unknown.push(name.to_string());
        } else if found.contains(&addr) {
            out.agree.push(name.to_string());
        } else {
            out.disagree.push((name.to_string(), addr, found));
        }
    }
    out
}

/// `addr` rounded up to a multiple of `align` (a power of two).
fn align_up(addr: u64, align: u64) -> Option<u64> {
    let mask = align.checked_sub(1)?;
    Some(addr.checked_add(mask)? & !mask)
}

/// Reads `len` bytes at `addr`, unreadable pages as zeros (which match no
/// anchor and fail every check that needs real data).
fn read_lenient(mem: &dyn VirtualMemory, addr: u64, len: u64) -> Vec<u8> {
    let Ok(len) = usize::try_from(len) else { return Vec::new() };
    if let Ok(bytes) = mem.read_vec(addr, len) {
        return bytes;
    }
    let mut out = vec![0u8; len];
    let mut done = 0usize;
    while let Some(page) = out.get_mut(done..).filter(|rest| !rest.is_empty()) {
        let at = addr.wrapping_add(done as u64);
        let n = bytes_to_page_end(at).min(page.len());
        if let Some(piece) = page.get_mut(..n) {
            // An unreadable page stays zero-filled.
            let _ = mem.read_virt(at, piece);
        }
        done = done.saturating_add(n);
    }
    out
}

/// Bytes read from one stretch of memory, addressed by their address.
struct Window {
    start: u64,
    bytes: Vec<u8>,
}

impl Window {
    fn read(mem: &dyn VirtualMemory, start: u64, len: u64) -> Window {
        Window { start, bytes: read_lenient(mem, start, len) }
    }

    /// The `len` bytes before `end` (fewer near address 0).
    fn read_before(mem: &dyn VirtualMemory, end: u64, len: u64) -> Window {
        let start = end.saturating_sub(len);
        Window::read(mem, start, end.saturating_sub(start))
    }

    fn start(&self) -> u64 {
        self.start
    }

    fn offset(&self, addr: u64) -> Option<usize> {
        usize::try_from(addr.checked_sub(self.start)?).ok()
    }

    fn slice(&self, addr: u64, len: u64) -> Option<&[u8]> {
        let from = self.offset(addr)?;
        self.bytes.get(from..from.checked_add(usize::try_from(len).ok()?)?)
    }

    fn from(&self, addr: u64) -> Option<&[u8]> {
        self.bytes.get(self.offset(addr)?..)
    }

    fn u8_at(&self, addr: u64) -> Option<u8> {
        self.bytes.get(self.offset(addr)?).copied()
    }

    fn u32_at(&self, addr: u64) -> Option<u32> {
        read::u32_at(&self.bytes, self.offset(addr)?)
    }
}

#[cfg(test)]
// Fixtures lay out known-good tables by hand; overflow and bounds panics
// are test failures here, not input handling.
#[allow(clippy::arithmetic_side_effects, clippy::indexing_slicing, clippy::single_range_in_vec_init)]
mod tests {
    use super::*;
    use crate::kallsyms::read_kallsyms;
    use krash_core::memory::{not_mapped, BytesAt};

    /// Memory at `base`, with optional holes that fail to read.
    pub(crate) struct Flat {
        pub base: u64,
        pub bytes: Vec<u8>,
        pub holes: Vec<Range<u64>>,
    }

    impl VirtualMemory for Flat {
        fn read_virt(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
            let end = addr.checked_add(buf.len() as u64).ok_or_else(|| not_mapped(addr))?;
            if self.holes.iter().any(|h| h.start < end && addr < h.end) {
                return Err(not_mapped(addr));
            }
            BytesAt { base: self.base, bytes: &self.bytes[..] }.read_virt(addr, buf)
        }
    }

    const BASE: u64 = 0xffff_ffff_8200_0000;
    const TEXT: u64 = 0xffff_ffff_8100_0000;
    /// Multi-character tokens (codes 0x80..), as the kernel's compressor makes.
    const PAIRS: [&str; 3] = ["sym_", "per", "cpu"];

    /// What [`build`] laid out, and where.
    pub(crate) struct Built {
        pub mem: Flat,
        pub expected: KallsymsScan,
        pub symbols: Vec<(String, char, u64)>,
    }

    fn tokens() -> Vec<Vec<u8>> {
        (0..256usize)
            .map(|code| match code {
                0x21..=0x7e => vec![code as u8],
                0x80..=0x82 => PAIRS[code - 0x80].as_bytes().to_vec(),
                _ => Vec::new(),
            })
            .collect()
    }

    fn encode(text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            match PAIRS.iter().position(|p| rest.starts_with(p)) {
                Some(i) => {
                    out.push(0x80 + i as u8);
                    rest = &rest[PAIRS[i].len()..];
                }
                None => {
                    out.push(c as u8);
                    rest = &rest[1..];
                }
            }
        }
        out
    }

    fn pad(bytes: &mut Vec<u8>, align: usize) {
        bytes.resize(bytes.len().next_multiple_of(align), 0);
    }

    /// `count` symbols (`percpu` absolute per-cpu ones first) in `layout`,
    /// between stretches of non-zero filler.
    pub(crate) fn build(layout: KallsymsLayout, count: usize, percpu: usize) -> Built {
        let align = if layout == KallsymsLayout::PcRelative { 4 } else { 8 };
        let mut symbols: Vec<(String, char, u64)> = (0..count)
            .map(|i| {
                if i < percpu {
                    (format!("percpu_{i}"), 'D', i as u64 * 0x40)
                } else {
                    (format!("sym_{i:05}"), if i % 3 == 0 { 'T' } else { 't' }, TEXT + 0x1000 + i as u64 * 0x10)
                }
            })
            .collect();
        // One name over 127 tokens: a two-byte length.
        if count > 10 {
            symbols[10].0 = format!("sym_{}", "x".repeat(200));
        }
        // As the kernel does: the first symbol that is not absolute.
        let relative_base = symbols.get(percpu).map_or(TEXT, |s| s.2);
        let mut names = Vec::new();
        let mut markers = Vec::new();
        for (i, (name, kind, _)) in symbols.iter().enumerate() {
            if i % 256 == 0 {
                markers.push(names.len() as u32);
            }
            let encoded = encode(&format!("{kind}{name}"));
            if encoded.len() > 0x7f {
                names.push((encoded.len() & 0x7f) as u8 | 0x80);
                names.push((encoded.len() >> 7) as u8);
            } else {
                names.push(encoded.len() as u8);
            }
            names.extend_from_slice(&encoded);
        }
        let mut by_name: Vec<usize> = (0..count).collect();
        by_name.sort_by(|&a, &b| symbols[a].0.cmp(&symbols[b].0));
        let seqs: Vec<u8> = by_name.iter().flat_map(|&i| [(i >> 16) as u8, (i >> 8) as u8, i as u8]).collect();
        let mut token_table = Vec::new();
        let mut token_index = Vec::new();
        for token in tokens() {
            token_index.extend_from_slice(&(token_table.len() as u16).to_le_bytes());
            token_table.extend_from_slice(&token);
            token_table.push(0);
        }

        // Filler that holds no table: "text" before, "data" after.
        let mut bytes: Vec<u8> = (0..0x3000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8 | 1).collect();
        let at = |bytes: &Vec<u8>| BASE + bytes.len() as u64;
        let mut loc = KallsymsLocation {
            num_syms: 0,
            names: 0,
            token_table: 0,
            token_index: 0,
            offsets: 0,
            relative_base: None,
            addressing: KallsymsAddressing::Auto,
        };
        let mut markers_at = 0;
        let mut seqs_at = None;
        let offsets_bytes = |table_at: u64| -> Vec<u8> {
            symbols
                .iter()
                .enumerate()
                .flat_map(|(i, &(_, _, addr))| {
                    let value = match layout {
                        KallsymsLayout::PcRelative => addr.wrapping_sub(table_at + 4 * i as u64) as i32,
                        _ if percpu > 0 && i < percpu => addr as i32,
                        _ if percpu > 0 => (relative_base as i64 - addr as i64 - 1) as i32,
                        _ => (addr - relative_base) as i32,
                    };
                    value.to_le_bytes()
                })
                .collect()
        };
        let put = |bytes: &mut Vec<u8>, data: &[u8]| {
            pad(bytes, align);
            let addr = at(bytes);
            bytes.extend_from_slice(data);
            addr
        };
        let with_seqs = matches!(layout, KallsymsLayout::OffsetsFirst { seqs_of_names: true });
        if let KallsymsLayout::OffsetsFirst { .. } = layout {
            pad(&mut bytes, align);
            let offsets = offsets_bytes(at(&bytes));
            loc.offsets = put(&mut bytes, &offsets);
            loc.relative_base = Some(put(&mut bytes, &relative_base.to_le_bytes()));
        }
        loc.num_syms = put(&mut bytes, &(count as u32).to_le_bytes());
        loc.names = put(&mut bytes, &names);
        markers_at = put(&mut bytes, &markers.iter().flat_map(|m| m.to_le_bytes()).collect::<Vec<_>>()).max(markers_at);
        if with_seqs {
            seqs_at = Some(put(&mut bytes, &seqs));
        }
        loc.token_table = put(&mut bytes, &token_table);
        loc.token_index = put(&mut bytes, &token_index);
        if !matches!(layout, KallsymsLayout::OffsetsFirst { .. }) {
            pad(&mut bytes, align);
            let offsets = offsets_bytes(at(&bytes));
            loc.offsets = put(&mut bytes, &offsets);
            if layout == KallsymsLayout::TokensFirst {
                loc.relative_base = Some(put(&mut bytes, &relative_base.to_le_bytes()));
            }
            seqs_at = Some(put(&mut bytes, &seqs));
        }
        pad(&mut bytes, align);
        bytes.extend((0..0x2000u32).map(|i| (i.wrapping_mul(40_503) >> 8) as u8 | 0x80));
        let expected = KallsymsScan {
            location: loc,
            markers: markers_at,
            seqs_of_names: seqs_at,
            num_syms: count as u32,
            layout,
            bytes_searched: 0,
        };
        Built { mem: Flat { base: BASE, bytes, holes: Vec::new() }, expected, symbols }
    }

    fn whole(mem: &Flat) -> Vec<Range<u64>> {
        vec![mem.base..mem.base + mem.bytes.len() as u64]
    }

    const LAYOUTS: [(KallsymsLayout, usize); 5] = [
        (KallsymsLayout::OffsetsFirst { seqs_of_names: false }, 3),
        (KallsymsLayout::OffsetsFirst { seqs_of_names: true }, 3),
        (KallsymsLayout::TokensFirst, 3),
        (KallsymsLayout::TokensFirst, 0),
        (KallsymsLayout::PcRelative, 0),
    ];

    #[test]
    fn finds_and_decodes_every_layout() {
        for (layout, percpu) in LAYOUTS {
            for count in [1, 200, 256, 257, 700] {
                // A table of per-cpu symbols alone reads as relative: no negative offset says otherwise.
                let built = build(layout, count, if count > percpu { percpu } else { 0 });
                let mut found = scan_kallsyms(&built.mem, &whole(&built.mem))
                    .unwrap_or_else(|e| panic!("{layout:?} with {count} symbols: {e}"));
                assert!(found.bytes_searched > 0);
                found.bytes_searched = 0;
                assert_eq!(found, built.expected, "{layout:?} with {count} symbols");
                let table = read_kallsyms(&found.location, &built.mem).unwrap();
                assert_eq!(table.len(), count);
                for (name, kind, addr) in &built.symbols {
                    let sym = table.by_name(name).unwrap_or_else(|| panic!("{layout:?}: {name} missing"));
                    assert_eq!((sym.addr, sym.kind), (*addr, *kind), "{layout:?}: {name}");
                }
            }
        }
    }

    #[test]
    fn unreadable_pages_elsewhere_do_not_hide_the_tables() {
        let mut built = build(KallsymsLayout::TokensFirst, 700, 3);
        built.mem.holes.push(BASE + 0x1000..BASE + 0x2000);
        // The search starts in the hole.
        let found = scan_kallsyms(&built.mem, &[BASE + 0x1800..BASE + built.mem.bytes.len() as u64]).unwrap();
        assert_eq!(found.location, built.expected.location);
    }

    /// Scans a corrupted copy of a good table: an error, never a panic.
    fn scan_corrupted(layout: KallsymsLayout, patch: impl Fn(&mut Vec<u8>, &KallsymsScan)) -> Result<KallsymsScan> {
        let mut built = build(layout, 700, 3);
        patch(&mut built.mem.bytes, &built.expected);
        let ranges = whole(&built.mem);
        scan_kallsyms(&built.mem, &ranges)
    }

    fn offset_of(addr: u64) -> usize {
        (addr - BASE) as usize
    }

    #[test]
    fn malformed_tables_are_not_found() {
        for (layout, _) in LAYOUTS {
            // A token index that is not increasing.
            let err = scan_corrupted(layout, |b, e| {
                let at = offset_of(e.location.token_index) + 2 * 100;
                b[at..at + 2].copy_from_slice(&0u16.to_le_bytes());
            });
            assert!(err.is_err(), "{layout:?}: decreasing token index accepted");
            // A token index that disagrees with the tokens' lengths.
            let err = scan_corrupted(layout, |b, e| {
                let at = offset_of(e.location.token_index) + 2 * 0x41;
                let v = u16::from_le_bytes([b[at], b[at + 1]]);
                b[at..at + 2].copy_from_slice(&(v + 1).to_le_bytes());
            });
            assert!(err.is_err(), "{layout:?}: inconsistent token index accepted");
            // An absurd symbol count.
            let err = scan_corrupted(layout, |b, e| {
                let at = offset_of(e.location.num_syms);
                b[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
            });
            assert!(err.is_err(), "{layout:?}: absurd num_syms accepted");
            // A count one too high for the names (and within the markers' range).
            let err = scan_corrupted(layout, |b, e| {
                let at = offset_of(e.location.num_syms);
                b[at..at + 4].copy_from_slice(&701u32.to_le_bytes());
            });
            assert!(err.is_err(), "{layout:?}: num_syms beyond the names accepted");
            // A truncated name: its length runs past the next marker.
            let err = scan_corrupted(layout, |b, e| {
                b[offset_of(e.location.names)] += 1;
            });
            assert!(err.is_err(), "{layout:?}: a name longer than its group accepted");
            // A zero-length name.
            let err = scan_corrupted(layout, |b, e| {
                b[offset_of(e.location.names)] = 0;
            });
            assert!(err.is_err(), "{layout:?}: an empty name accepted");
            // Markers that do not start at 0.
            let err = scan_corrupted(layout, |b, e| {
                b[offset_of(e.markers)] = 1;
            });
            assert!(err.is_err(), "{layout:?}: markers not starting at 0 accepted");
            // Offsets out of order.
            let err = scan_corrupted(layout, |b, e| {
                let at = offset_of(e.location.offsets) + 4 * 400;
                b[at..at + 8].copy_from_slice(&[0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x08]);
            });
            assert!(err.is_err(), "{layout:?}: unsorted offsets accepted");
        }
        // seqs_of_names that is no permutation.
        let err = scan_corrupted(KallsymsLayout::OffsetsFirst { seqs_of_names: true }, |b, e| {
            let at = offset_of(e.seqs_of_names.unwrap());
            b.copy_within(at + 3..at + 6, at);
        });
        assert!(err.is_err(), "a repeated seqs_of_names entry accepted");
    }

    /// Random corruption of good tables (a deterministic stand-in for the
    /// fuzz target): never a panic; whatever is accepted decodes or errs.
    #[test]
    fn random_corruption_never_panics() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for (layout, percpu) in LAYOUTS {
            let good = build(layout, 300, percpu);
            for _ in 0..60 {
                let mut mem = Flat { base: BASE, bytes: good.mem.bytes.clone(), holes: Vec::new() };
                for _ in 0..1 + next() % 8 {
                    let at = (next() % mem.bytes.len() as u64) as usize;
                    mem.bytes[at] = next() as u8;
                }
                if next() % 4 == 0 {
                    let keep = (next() % mem.bytes.len() as u64) as usize;
                    mem.bytes.truncate(keep);
                }
                let ranges = whole(&mem);
                if let Ok(found) = scan_kallsyms(&mem, &ranges) {
                    let _ = read_kallsyms(&found.location, &mem);
                }
            }
        }
    }

    #[test]
    fn truncated_memory_is_an_error() {
        for (layout, _) in LAYOUTS {
            let built = build(layout, 700, 3);
            for cut in [built.expected.location.names + 0x100, built.expected.location.token_index + 100] {
                let mut mem = Flat { base: BASE, bytes: built.mem.bytes.clone(), holes: Vec::new() };
                mem.bytes.truncate(offset_of(cut));
                let ranges = whole(&mem);
                assert!(scan_kallsyms(&mem, &ranges).is_err(), "{layout:?} cut at {cut:#x}");
            }
        }
    }

    #[test]
    fn memory_without_tables_says_what_was_searched() {
        let mem = Flat {
            base: BASE,
            bytes: b"0\x001\x002\x003\x004\x005\x006\x007\x008\x009\x00".repeat(300),
            holes: vec![],
        };
        let err = scan_kallsyms(&mem, &whole(&mem)).unwrap_err().to_string();
        assert!(err.contains("none checked out"), "{err}");
        let empty = Flat { base: BASE, bytes: vec![0; 0x10000], holes: vec![] };
        let err = scan_kallsyms(&empty, &whole(&empty)).unwrap_err().to_string();
        assert!(err.contains("no kallsyms token table") && err.contains("65536 bytes"), "{err}");
    }

    #[test]
    fn agreement_names_each_disagreement() {
        let built = build(KallsymsLayout::TokensFirst, 300, 0);
        let table = read_kallsyms(&built.expected.location, &built.mem).unwrap();
        let (name, _, addr) = built.symbols[100].clone();
        let known = [(name.as_str(), addr), ("sym_00101", 0x1234), ("swapper_pg_dir", 0x5678)];
        let agreement = check_against(&table, known);
        assert_eq!(agreement.agree, vec![name.clone()]);
        assert_eq!(agreement.disagree, vec![("sym_00101".to_string(), 0x1234, vec![built.symbols[101].2])]);
        assert_eq!(agreement.unknown, vec!["swapper_pg_dir".to_string()]);
        assert_eq!(agreement.checked(), 2);
    }

    #[test]
    fn permutations_and_name_lengths() {
        assert!(is_permutation(&[0, 0, 1, 0, 0, 0], 2));
        assert!(!is_permutation(&[0, 0, 1, 0, 0, 1], 2));
        assert!(!is_permutation(&[0, 0, 2, 0, 0, 0], 2));
        assert!(!is_permutation(&[0, 0, 0], 2));
        let window = Window { start: 0x100, bytes: vec![1, b'x', 0x81, 0x01, 0, 0] };
        // 0x81 0x01: 129 tokens, which the window does not hold.
        assert_eq!(skip_names(&window, 0x100, 1), Some(0x102));
        assert_eq!(skip_names(&window, 0x100, 2), None);
        assert_eq!(skip_names(&window, 0x104, 1), None, "a zero length");
        assert_eq!(skip_names(&window, u64::MAX, 1), None);
    }
}
