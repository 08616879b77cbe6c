//! Searching memory for values or strings: which memory a search covers
//! (kernel virtual space by kind, user space through a process's VMAs,
//! physical memory, task stacks), and the parallel scan of it.

use crate::mm::vma::VmaExt;
use std::sync::atomic::{AtomicUsize, Ordering};

use krash_core::{PhysicalMemory, Result};
use rayon::prelude::*;

use krash_arch::{ExtentLimits, MappedExtent, PageTableFormat, RegionKind};
use krash_program::progress::{Progress, ProgressUnit};
use krash_program::Kernel;

/// Bytes handed to one worker at a time (1 MiB).
const CHUNK: u64 = 1 << 20;
/// Characters shown from each string match.
pub const STRING_WINDOW: usize = 56;

/// What to look for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Needle {
    /// A `size`-byte little-endian value, ignoring the bits set in `mask`.
    Value { value: u64, mask: u64, size: usize },
    /// A byte string, at any byte offset.
    Bytes(Vec<u8>),
}

/// One match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// Address in the searched space (virtual, or physical for `-p`).
    pub addr: u64,
    /// Index of the needle that matched.
    pub needle: usize,
    /// The unit found (values), zero for strings.
    pub value: u64,
    /// For strings: the bytes from the match on, unprintable ones as dots.
    pub window: String,
}

/// Which parts of kernel virtual space a search covers (crash's -k, -K, -V).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelSpace {
    /// Everything mapped: direct map, vmalloc, vmemmap, kernel image, modules.
    All,
    /// The direct map and the kernel image only.
    Unity,
    /// vmalloc, vmemmap and modules only.
    Mapped,
}

/// The scanned memory and how the scan ended.
#[derive(Debug, Clone, Default)]
pub struct ScanResult {
    pub hits: Vec<Hit>,
    /// Bytes covered by the regions (present in the dump or not).
    pub bytes: u64,
    /// True when the hit limit stopped the scan.
    pub truncated: bool,
}

impl Needle {
    /// Matches in `buf` (which starts at offset 0 of a page run); `scan_len`
    /// bounds where a match may start, the rest of `buf` only completes strings.
    fn scan(&self, index: usize, buf: &[u8], scan_len: usize, out: &mut Vec<(usize, Hit)>) {
        match self {
            Needle::Value { value, mask, size } => {
                let size = (*size).clamp(1, 8);
                let want = value & !mask;
                for (i, chunk) in buf[..scan_len.min(buf.len())].chunks_exact(size).enumerate() {
                    let mut b = [0u8; 8];
                    b[..size].copy_from_slice(chunk);
                    let v = u64::from_le_bytes(b);
                    if v & !mask == want {
                        out.push((i * size, Hit { addr: 0, needle: index, value: v, window: String::new() }));
                    }
                }
            }
            Needle::Bytes(s) => {
                let Some(&first) = s.first() else { return };
                let limit = scan_len.min(buf.len());
                let mut from = 0;
                while let Some(pos) = buf.get(from..limit).and_then(|b| b.iter().position(|&c| c == first)) {
                    let at = from + pos;
                    if buf.get(at..).is_some_and(|rest| rest.starts_with(s)) {
                        // The window stops at the page's end, as crash's does,
                        // unless the match itself runs on into the next page:
                        // then it takes the whole window from there, as crash.
                        let window_end = if at + s.len() > limit { buf.len() } else { limit };
                        let window = buf[at..window_end]
                            .iter()
                            .take(STRING_WINDOW)
                            .map(|&c| if (0x20..0x7f).contains(&c) { c as char } else { '.' })
                            .collect();
                        out.push((at, Hit { addr: 0, needle: index, value: 0, window }));
                    }
                    from = at + 1;
                }
            }
        }
    }

    /// How many bytes of the next page a match starting in this one may
    /// need: a string's window runs on there when the string does.
    fn reach(&self) -> usize {
        match self {
            Needle::Value { size, .. } => *size,
            Needle::Bytes(s) => s.len().max(STRING_WINDOW),
        }
    }
}

/// Scans `regions` (virtual address, physical address, length) in
/// parallel, reading `page_size` pages from `phys`; pages missing from the
/// dump are skipped. Stops after `limit` hits. Hits are in region order,
/// then address order.
pub fn scan(
    phys: &(dyn PhysicalMemory + Sync),
    page_size: u64,
    regions: &[MappedExtent],
    needles: &[Needle],
    limit: usize,
    progress: &dyn Progress,
) -> ScanResult {
    let mut chunks = Vec::new();
    for (i, r) in regions.iter().enumerate() {
        // Where the bytes right after the region are: the next region's
        // start when it maps the next virtual address (vmalloc and module
        // pages are virtually, not physically, contiguous).
        let adjacent = regions.get(i + 1).filter(|n| Some(n.vaddr) == r.vaddr.checked_add(r.len)).map(|n| n.paddr);
        let mut off = 0;
        while off < r.len {
            let len = (r.len - off).min(CHUNK - r.vaddr.wrapping_add(off) % CHUNK);
            let chunk = MappedExtent { vaddr: r.vaddr.wrapping_add(off), paddr: r.paddr.wrapping_add(off), len };
            off += len;
            // A string may run on from a chunk's last page into the next
            // chunk of the same (contiguous) region, or into the next region.
            let next = if off < r.len { Some(r.paddr.wrapping_add(off)) } else { adjacent };
            chunks.push((chunk, next));
        }
    }
    let bytes: u64 = regions.iter().map(|r| r.len).sum();
    progress.begin("search", bytes, ProgressUnit::Bytes);
    let found = AtomicUsize::new(0);
    let tail = needles.iter().map(Needle::reach).max().unwrap_or(1).saturating_sub(1);
    // Collecting keeps the chunks' order: hits come region by region, in
    // the order the caller listed the regions.
    let mut hits: Vec<Hit> = chunks
        .par_iter()
        .flat_map_iter(|(c, next)| {
            let mut out = Vec::new();
            if found.load(Ordering::Relaxed) < limit && !progress.cancelled() {
                scan_chunk(phys, page_size, c, *next, needles, tail, &mut out);
                found.fetch_add(out.len(), Ordering::Relaxed);
            }
            progress.advance(c.len);
            out
        })
        .collect();
    progress.end();
    let truncated = hits.len() > limit || found.load(Ordering::Relaxed) >= limit;
    hits.truncate(limit);
    ScanResult { hits, bytes, truncated }
}

/// One chunk: each readable page (plus, for strings, the start of the
/// next one so matches may cross the page boundary). `next`: the physical
/// address of the bytes that follow the chunk's end in virtual memory, when
/// they are mapped.
fn scan_chunk(
    phys: &dyn PhysicalMemory,
    page_size: u64,
    c: &MappedExtent,
    next: Option<u64>,
    needles: &[Needle],
    tail: usize,
    out: &mut Vec<Hit>,
) {
    let mut page = vec![0u8; page_size as usize + tail];
    let mut found = Vec::new();
    let mut off = 0;
    while off < c.len {
        let in_page = (page_size - (c.paddr.wrapping_add(off) % page_size)).min(c.len - off) as usize;
        let pa = c.paddr.wrapping_add(off);
        if phys.read_phys(pa, &mut page[..in_page]).is_ok() {
            let mut len = in_page;
            let after = if off + (in_page as u64) < c.len { Some(pa.wrapping_add(in_page as u64)) } else { next };
            if let Some(after) = after.filter(|_| tail > 0) {
                if phys.read_phys(after, &mut page[in_page..in_page + tail]).is_ok() {
                    len += tail;
                }
            }
            for (i, n) in needles.iter().enumerate() {
                found.clear();
                n.scan(i, &page[..len], in_page, &mut found);
                for (at, mut hit) in found.drain(..) {
                    hit.addr = c.vaddr.wrapping_add(off).wrapping_add(at as u64);
                    out.push(hit);
                }
            }
        }
        off += in_page as u64;
    }
    out.sort_by_key(|h| (h.addr, h.needle));
}

/// Cuts `regions` down to `[start, end)`.
pub fn clip(regions: &[MappedExtent], start: u64, end: u64) -> Vec<MappedExtent> {
    regions
        .iter()
        .filter_map(|r| {
            let lo = r.vaddr.max(start);
            let hi = r.vaddr.saturating_add(r.len).min(end);
            (lo < hi).then(|| MappedExtent { vaddr: lo, paddr: r.paddr.wrapping_add(lo - r.vaddr), len: hi - lo })
        })
        .collect()
}

/// Memory to search, and the ranges whose page tables could not be walked
/// to the end (a walk limit reached: corrupt or absurdly large tables).
#[derive(Debug, Clone, Default)]
pub struct Regions {
    pub extents: Vec<MappedExtent>,
    /// `[start, end)` ranges only partly listed in `extents`.
    pub incomplete: Vec<(u64, u64)>,
}

impl Regions {
    fn walk(&mut self, mem: &dyn PhysicalMemory, paging: &PageTableFormat, root: u64, start: u64, end: u64) {
        let walked = paging.mapped_extents(mem, root, start, end, ExtentLimits::default());
        if !walked.complete {
            self.incomplete.push((start, end));
        }
        self.extents.extend(walked.extents);
    }
}

/// `[start, end)` without the part `hole` covers: zero, one or two ranges.
fn without(start: u64, end: u64, hole: Option<(u64, u64)>) -> Vec<(u64, u64)> {
    let Some((lo, hi)) = hole.filter(|&(lo, hi)| lo < end && hi > start) else {
        return vec![(start, end)];
    };
    [(start, lo.max(start)), (hi.min(end), end)].into_iter().filter(|(s, e)| s < e).collect()
}

/// This module's operations on [`Kernel`] (an extension trait: `use` it to call them).
pub trait SearchExt {
    /// Physical memory present in the dump, as regions whose virtual
    /// address is the physical one.
    fn physical_regions(&self) -> Vec<MappedExtent>;
    /// The parts of kernel virtual space `space` covers, in crash's order:
    /// the direct map, vmalloc space and modules, the virtual memory map,
    /// then the kernel image. Memory mapped twice (a vmalloc'ed stack is
    /// also in the direct map) appears at each of its addresses.
    fn kernel_regions(&self, space: KernelSpace) -> Result<Regions>;
    /// The user memory of the `mm_struct` at `mm`: the pages of its VMAs
    /// that its page tables map, in address order.
    fn user_regions(&self, mm: u64) -> Result<Regions>;
    /// The kernel stack of the task at `task`, page by page; pages that
    /// do not translate are left out.
    fn stack_regions(&self, task: u64) -> Result<Vec<MappedExtent>>;
}

impl SearchExt for Kernel {
    fn physical_regions(&self) -> Vec<MappedExtent> {
        self.dump()
            .phys_ranges()
            .into_iter()
            .filter(|r| r.end > r.start)
            .map(|r| MappedExtent { vaddr: r.start, paddr: r.start, len: r.end - r.start })
            .collect()
    }

    fn kernel_regions(&self, space: KernelSpace) -> Result<Regions> {
        let layout = self.memory().layout();
        let phys: &dyn PhysicalMemory = self.dump();
        let paging = layout.paging();
        let unity = space != KernelSpace::Mapped;
        let mapped = space != KernelSpace::Unity;
        let mut regions = Regions::default();
        if unity {
            // `__va(paddr)`: the direct map starts at the first frame of
            // RAM (0 on x86-64, PHYS_OFFSET on arm64); memory outside it
            // (below PHYS_OFFSET) has no direct-map address.
            regions.extents.extend(
                self.physical_regions()
                    .into_iter()
                    .filter_map(|r| Some(MappedExtent { vaddr: layout.virt.direct_map_virt(r.paddr)?, ..r })),
            );
        }
        if mapped {
            // vmalloc space, module space, the virtual memory map; not the
            // kernel image where it lies inside vmalloc space (arm64's
            // KASLR puts it there): it is searched as unity-mapped memory.
            let image = layout.virt.region(RegionKind::KernelImage).map(|r| (r.start, r.end));
            for kind in [RegionKind::Vmalloc, RegionKind::Modules, RegionKind::Vmemmap] {
                if let Some(region) = layout.virt.region(kind) {
                    for (start, end) in without(region.start, region.end, image) {
                        regions.walk(phys, paging, layout.kernel_pgt_phys, start, end);
                    }
                }
            }
        }
        if unity {
            // Only [_text, _end) (in whole large pages, 2 MiB on x86-64)
            // stays mapped after boot; the rest of the image mapping is torn down.
            let large_page = paging.page_sizes().get(1).copied().unwrap_or(paging.base_page_size());
            let text = self.symbol_addr("_text")? & !(large_page - 1);
            let end = self.symbol_addr("_end")?;
            let image_map = layout.virt.region(RegionKind::KernelImage);
            let (image_start, image_phys) = image_map.map_or((0, 0), |r| (r.start, r.phys.unwrap_or(0)));
            let to_phys = |v: u64| v.wrapping_sub(image_start).wrapping_add(image_phys);
            let (text_phys, end_phys) = (to_phys(text), to_phys(end));
            let mut image = Vec::new();
            for r in self.physical_regions() {
                let lo = r.paddr.max(text_phys);
                let hi = r.paddr.saturating_add(r.len).min(end_phys);
                if lo < hi {
                    image.push(MappedExtent { vaddr: text.wrapping_add(lo - text_phys), paddr: lo, len: hi - lo });
                }
            }
            image.sort_by_key(|r| r.vaddr);
            regions.extents.extend(image);
        }
        Ok(regions)
    }

    fn user_regions(&self, mm: u64) -> Result<Regions> {
        let pgd = self.virt_to_phys(self.read_field_u64(mm, "mm_struct", "pgd")?)?;
        let paging = self.memory().layout().paging();
        let vmas = self.vmas(mm)?;
        let mut regions = Regions::default();
        for v in &vmas.vmas {
            regions.walk(self.dump(), paging, pgd, v.start, v.end);
        }
        Ok(regions)
    }

    fn stack_regions(&self, task: u64) -> Result<Vec<MappedExtent>> {
        let stack = self.read_field_u64(task, "task_struct", "stack")?;
        let page = self.memory().page_size();
        let mut out = Vec::new();
        let mut off = 0;
        let thread_size = self.thread_size();
        while off < thread_size {
            let vaddr = stack.wrapping_add(off);
            if let Ok(paddr) = self.virt_to_phys(vaddr) {
                out.push(MappedExtent { vaddr, paddr, len: page });
            }
            off += page;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(n: &Needle, buf: &[u8], scan_len: usize) -> Vec<usize> {
        let mut out = Vec::new();
        n.scan(0, buf, scan_len, &mut out);
        out.into_iter().map(|(at, _)| at).collect()
    }

    /// Physical memory of whole 4 KiB pages.
    struct Pages(std::collections::HashMap<u64, Vec<u8>>);

    impl PhysicalMemory for Pages {
        fn read_phys(&self, paddr: u64, buf: &mut [u8]) -> Result<()> {
            let page = self.0.get(&(paddr & !0xfff)).ok_or_else(|| krash_core::memory::not_mapped(paddr))?;
            let at = (paddr & 0xfff) as usize;
            buf.copy_from_slice(&page[at..at + buf.len()]);
            Ok(())
        }
        fn phys_ranges(&self) -> Vec<krash_core::PhysRange> {
            Vec::new()
        }
    }

    #[test]
    fn arm64_kernel_tables_map_the_upper_half() {
        // swapper_pg_dir at 0x1000 maps ffff800008028000 (a vmalloc'ed
        // stack page) to 0x4218_6000 through tables at 0x2000..0x4000.
        let paging = &krash_arch::arm64::PAGING_4K_48;
        let vaddr: u64 = 0xffff_8000_0802_8000;
        let mut pages = std::collections::HashMap::new();
        let mut table = |at: u64, index: u64, entry: u64| {
            let page = pages.entry(at).or_insert_with(|| vec![0u8; 4096]);
            page[(index * 8) as usize..(index * 8 + 8) as usize].copy_from_slice(&entry.to_le_bytes());
        };
        let index = |shift: u32| (vaddr >> shift) & 511;
        table(0x1000, index(39), 0x2000 | 3);
        table(0x2000, index(30), 0x3000 | 3);
        table(0x3000, index(21), 0x4000 | 3);
        table(0x4000, index(12), 0x4218_6000 | 0x703);
        let mem = Pages(pages);
        let mut regions = Regions::default();
        regions.walk(&mem, paging, 0x1000, 0xffff_8000_0800_0000, 0xffff_fbff_f000_0000);
        assert_eq!(regions.extents, vec![MappedExtent { vaddr, paddr: 0x4218_6000, len: 0x1000 }]);
        assert!(regions.incomplete.is_empty());
        // Nothing is made up outside the range.
        let mut none = Regions::default();
        none.walk(&mem, paging, 0x1000, 0xffff_fc00_0000_0000, 0xffff_fe00_0000_0000);
        assert!(none.extents.is_empty());
    }

    #[test]
    fn a_range_without_a_hole() {
        assert_eq!(without(0x100, 0x200, None), vec![(0x100, 0x200)]);
        assert_eq!(without(0x100, 0x200, Some((0x140, 0x180))), vec![(0x100, 0x140), (0x180, 0x200)]);
        assert_eq!(without(0x100, 0x200, Some((0x80, 0x180))), vec![(0x180, 0x200)]);
        assert_eq!(without(0x100, 0x200, Some((0x180, 0x280))), vec![(0x100, 0x180)]);
        assert_eq!(without(0x100, 0x200, Some((0x200, 0x280))), vec![(0x100, 0x200)]);
        assert_eq!(without(0x100, 0x200, Some((0x80, 0x280))), vec![]);
    }

    #[test]
    fn values_match_at_their_alignment_under_the_mask() {
        let mut buf = vec![0u8; 32];
        buf[8..16].copy_from_slice(&0xdead_beef_u64.to_le_bytes());
        buf[20..24].copy_from_slice(&0xdead_0000_u32.to_le_bytes());
        let v = Needle::Value { value: 0xdead_beef, mask: 0, size: 8 };
        assert_eq!(hits(&v, &buf, 32), vec![8]);
        let w = Needle::Value { value: 0xdead_0001, mask: 0xffff, size: 4 };
        // The low half of the 64-bit value matches too once masked.
        assert_eq!(hits(&w, &buf, 32), vec![8, 20]);
    }

    #[test]
    fn strings_may_run_past_the_scanned_part() {
        let buf = b"xxabcdef";
        let s = Needle::Bytes(b"cdef".to_vec());
        assert_eq!(hits(&s, buf, 5), vec![4]);
        assert_eq!(hits(&s, buf, 4), Vec::<usize>::new());
    }

    #[test]
    fn string_windows_end_at_the_page_unless_the_string_runs_on() {
        // Three pages mapped at 0x10_0000 (a chunk boundary, 1 MiB, after
        // the first): "abcd" near each page end.
        let mut pages = std::collections::HashMap::new();
        for (i, at) in [0xf_f000u64, 0x10_0000, 0x10_1000].into_iter().enumerate() {
            let mut page = vec![b'z'; 4096];
            page[4090 - i..4094 - i].copy_from_slice(b"abcd");
            pages.insert(0x50_0000 + (at - 0xf_f000), page);
        }
        let mem = Pages(pages);
        let region = [MappedExtent { vaddr: 0xf_f000, paddr: 0x50_0000, len: 0x3000 }];
        let found =
            scan(&mem, 4096, &region, &[Needle::Bytes(b"abcd".to_vec())], 10, &krash_program::progress::NoProgress);
        let windows: Vec<(u64, usize)> = found.hits.iter().map(|h| (h.addr, h.window.len())).collect();
        // Inside its page: up to the page end (6, 7 and 8 bytes) as crash.
        assert_eq!(windows, vec![(0xf_fffa, 6), (0x10_0ff9, 7), (0x10_1ff8, 8)]);
        // A string crossing into the next page (across the chunk boundary
        // too) takes the whole window from there.
        let eight = [Needle::Bytes(b"abcdzzzz".to_vec())];
        let found = scan(&mem, 4096, &region, &eight, 10, &krash_program::progress::NoProgress);
        let windows: Vec<(u64, usize)> = found.hits.iter().map(|h| (h.addr, h.window.len())).collect();
        assert_eq!(windows, vec![(0xf_fffa, STRING_WINDOW), (0x10_0ff9, STRING_WINDOW), (0x10_1ff8, 8)]);
    }

    #[test]
    fn strings_cross_into_the_next_region_of_virtual_memory() {
        // Two module pages, virtually adjacent, physically apart: a string
        // two bytes before the first one's end runs on into the second.
        let mut first = vec![b'.'; 4096];
        first[4094..].copy_from_slice(b"kr");
        let mut second = vec![b'.'; 4096];
        second[..6].copy_from_slice(b"ash_ab");
        let mem = Pages([(0x70_0000, first), (0x30_0000, second)].into_iter().collect());
        let base = 0xffff_ffff_c000_0000;
        let regions = [
            MappedExtent { vaddr: base, paddr: 0x70_0000, len: 0x1000 },
            MappedExtent { vaddr: base + 0x1000, paddr: 0x30_0000, len: 0x1000 },
        ];
        let needle = [Needle::Bytes(b"krash_ab".to_vec())];
        let found = scan(&mem, 4096, &regions, &needle, 10, &krash_program::progress::NoProgress);
        assert_eq!(found.hits.iter().map(|h| h.addr).collect::<Vec<_>>(), vec![base + 0xffe]);
        // Not when the second page maps elsewhere in virtual memory.
        let apart = [regions[0], MappedExtent { vaddr: base + 0x5000, ..regions[1] }];
        let found = scan(&mem, 4096, &apart, &needle, 10, &krash_program::progress::NoProgress);
        assert!(found.hits.is_empty());
    }

    #[test]
    fn clipping_keeps_physical_offsets() {
        let r = [MappedExtent { vaddr: 0x1000, paddr: 0x9000, len: 0x3000 }];
        assert_eq!(clip(&r, 0x2000, 0x2800), vec![MappedExtent { vaddr: 0x2000, paddr: 0xa000, len: 0x800 }]);
        assert!(clip(&r, 0x5000, 0x6000).is_empty());
    }
}
