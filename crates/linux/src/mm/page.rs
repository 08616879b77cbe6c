//! `struct page` as SPARSEMEM_VMEMMAP lays it out (x86-64's layout): page N lives
//! at `vmemmap_base + N * sizeof(struct page)`. Compound pages (slabs,
//! folios) are named by their head page; tail pages point to it through
//! `compound_head` with bit 0 set (7.x: `compound_info`, see
//! [`CompoundHead`]). Flag names come from the kernel's own
//! `pageflag_names` table so they match the running kernel's numbering.

use krash_core::{Error, PhysicalMemory, Result, VirtualMemory};
use serde::Serialize;

use krash_program::Kernel;

/// Longest `pageflag_names` table krash reads (the kernel's has ~30).
const MAX_PAGE_FLAG_NAMES: u64 = 128;

/// Where `struct page` members are, resolved once.
#[derive(Debug, Clone)]
pub struct PageModel {
    pub vmemmap: u64,
    pub page_struct_size: u64,
    /// log2 of the page size (the page-table format's).
    pub page_shift: u32,
    /// One past the highest page frame number the dump covers.
    pub max_pfn: u64,
    flags: u64,
    compound_head: u64,
    /// How a tail page names its head.
    pub head_encoding: CompoundHead,
    mapping: u64,
    index: u64,
    refcount: u64,
    page_type: Option<u64>,
    /// `pageflag_names`: (mask, name), in the kernel's order.
    pub flag_names: Vec<(u64, String)>,
}

/// How a tail page's first word names its compound head page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CompoundHead {
    /// Up to 6.x: `page.compound_head` holds the head page's address | 1.
    Pointer,
    /// 7.x: `page.compound_info` holds either the head's address | 1, or
    /// (HugeTLB vmemmap optimisation with a power-of-two `struct page`) a
    /// mask | 1 of high ones and low zeros that, and-ed with the tail
    /// page's own address, gives the head's. Each value says which it is.
    Info,
}

impl CompoundHead {
    /// Which member a kernel's `struct page` has.
    pub fn probe(l: &krash_program::layout::Layouts) -> Result<CompoundHead> {
        if l.has_field("page", "compound_head") {
            Ok(CompoundHead::Pointer)
        } else if l.has_field("page", "compound_info") {
            Ok(CompoundHead::Info)
        } else {
            Err(Error::MissingDebuginfo("struct page has neither compound_head nor compound_info".into()))
        }
    }

    /// The head of `page`, whose first word is `word`.
    pub fn head_of(self, page: u64, word: u64) -> u64 {
        if word & 1 == 0 {
            return page;
        }
        let value = word & !1;
        let is_mask = value != 0 && value.leading_ones().saturating_add(value.trailing_zeros()) == 64;
        match self {
            CompoundHead::Info if is_mask => page & value,
            _ => value,
        }
    }
}

/// One `struct page` as `kmem -p` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PageInfo {
    pub page: u64,
    pub phys: u64,
    pub flags: u64,
    pub mapping: u64,
    pub index: u64,
    pub count: u32,
    /// Names of the set flags, from `pageflag_names`.
    pub flag_names: Vec<String>,
}

/// The page model as read from the dump, kept in the kernel's state cache.
struct CachedPageModel(Result<PageModel>);

/// This module's operations on [`Kernel`] (an extension trait: `use` it to call them).
pub trait PageExt {
    /// The page model (vmemmap base, member offsets, flag names).
    fn page_model(&self) -> Result<&PageModel>;
    /// The `struct page` of a physical address.
    fn phys_to_page(&self, paddr: u64) -> Result<u64>;
    /// The `struct page` of a page frame number (whatever the page size).
    fn pfn_to_page(&self, pfn: u64) -> Result<u64>;
    /// The `struct page` of a mapped kernel virtual address.
    fn virt_to_page(&self, vaddr: u64) -> Result<u64>;
    /// The physical address a `struct page` describes, if `page` is one.
    fn page_to_phys(&self, page: u64) -> Option<u64>;
    /// The direct-map address of the memory a `struct page` describes.
    fn page_to_virt(&self, page: u64) -> Option<u64>;
    /// The head page of a compound page (the page itself when not a tail).
    fn compound_head(&self, page: u64) -> Result<u64>;
    /// `page->flags`.
    fn page_flags(&self, page: u64) -> Result<u64>;
    /// `page->page_type` (the slab marker on kernels that moved PG_slab there).
    fn page_type(&self, page: u64) -> Result<Option<u32>>;
    /// The mask of a flag by its `pageflag_names` name ("slab", "head").
    fn page_flag_mask(&self, name: &str) -> Option<u64>;
    /// One page struct's fields as `kmem -p` prints them.
    fn page_info(&self, page: u64) -> Result<PageInfo>;
}

impl PageExt for Kernel {
    fn page_model(&self) -> Result<&PageModel> {
        self.cached(|| CachedPageModel(build_model(self))).0.as_ref().map_err(Clone::clone)
    }

    fn phys_to_page(&self, paddr: u64) -> Result<u64> {
        let m = self.page_model()?;
        if paddr >> m.page_shift >= m.max_pfn {
            return Err(Error::NotFound(format!("physical address {paddr:x} is beyond the memory map")));
        }
        self.pfn_to_page(paddr >> m.page_shift)
    }

    fn pfn_to_page(&self, pfn: u64) -> Result<u64> {
        let m = self.page_model()?;
        if pfn >= m.max_pfn {
            return Err(Error::NotFound(format!("page frame {pfn:x} is beyond the memory map")));
        }
        Ok(m.vmemmap.wrapping_add(pfn.wrapping_mul(m.page_struct_size)))
    }

    fn virt_to_page(&self, vaddr: u64) -> Result<u64> {
        self.phys_to_page(self.virt_to_phys(vaddr)?)
    }

    fn page_to_phys(&self, page: u64) -> Option<u64> {
        let m = self.page_model().ok()?;
        let rel = page.checked_sub(m.vmemmap)?;
        if rel % m.page_struct_size != 0 || rel / m.page_struct_size >= m.max_pfn {
            return None;
        }
        Some((rel / m.page_struct_size) << m.page_shift)
    }

    fn page_to_virt(&self, page: u64) -> Option<u64> {
        self.memory().layout().virt.direct_map_virt(self.page_to_phys(page)?)
    }

    fn compound_head(&self, page: u64) -> Result<u64> {
        let m = self.page_model()?;
        let word = self.memory().read_u64(page.wrapping_add(m.compound_head))?;
        Ok(m.head_encoding.head_of(page, word))
    }

    fn page_flags(&self, page: u64) -> Result<u64> {
        let m = self.page_model()?;
        self.memory().read_u64(page.wrapping_add(m.flags))
    }

    fn page_type(&self, page: u64) -> Result<Option<u32>> {
        let m = self.page_model()?;
        match m.page_type {
            Some(off) => Ok(Some(self.memory().read_u32(page.wrapping_add(off))?)),
            None => Ok(None),
        }
    }

    fn page_flag_mask(&self, name: &str) -> Option<u64> {
        let m = self.page_model().ok()?;
        m.flag_names.iter().find(|(_, n)| n == name).map(|(mask, _)| *mask)
    }

    fn page_info(&self, page: u64) -> Result<PageInfo> {
        let m = self.page_model()?;
        let phys =
            self.page_to_phys(page).ok_or_else(|| Error::NotFound(format!("{page:x} is not a struct page address")))?;
        let bytes = self.memory().read_vec(page, m.page_struct_size as usize)?;
        Ok(m.decode(page, phys, &bytes))
    }
}

impl PageModel {
    /// A `struct page`'s fields from its bytes (short input reads as zeros).
    pub fn decode(&self, page: u64, phys: u64, bytes: &[u8]) -> PageInfo {
        let word = |off: u64, len: usize| -> u64 {
            let mut b = [0u8; 8];
            if let Some(src) = usize::try_from(off).ok().and_then(|o| bytes.get(o..o.checked_add(len)?)) {
                b[..len].copy_from_slice(src);
            }
            u64::from_le_bytes(b)
        };
        let flags = word(self.flags, 8);
        PageInfo {
            page,
            phys,
            flags,
            mapping: word(self.mapping, 8),
            index: word(self.index, 8),
            count: word(self.refcount, 4) as u32,
            flag_names: decode_flags(&self.flag_names, flags),
        }
    }

    /// The physical address a struct page in the vmemmap describes.
    pub fn phys_of(&self, page: u64) -> u64 {
        (page.wrapping_sub(self.vmemmap) / self.page_struct_size.max(1)) << self.page_shift
    }
}

/// Names of the flags set in `flags`, in table order.
pub fn decode_flags(names: &[(u64, String)], flags: u64) -> Vec<String> {
    names.iter().filter(|(mask, _)| flags & mask != 0).map(|(_, n)| n.clone()).collect()
}

fn build_model(k: &Kernel) -> Result<PageModel> {
    let l = k.layouts();
    let page_struct_size = l.size_of("page")?;
    if !(32..=256).contains(&page_struct_size) {
        return Err(Error::bad_data("struct page", format!("implausible size {page_struct_size}")));
    }
    let page_shift = k.memory().layout().paging().page_shift();
    // Where KASLR moves it, `vmemmap_base` says (x86-64). Else the start
    // of the vmemmap region (VMCOREINFO's VMEMMAP_START where the kernel
    // exports it, the architecture's fixed place otherwise) holds the
    // page of the first frame of the linear map, which is not frame 0
    // where RAM starts higher (arm64: `vmemmap = VMEMMAP_START -
    // (memstart_addr >> PAGE_SHIFT)`).
    let vmemmap = match k.read_symbol_u64("vmemmap_base") {
        Ok(base) => base,
        Err(_) => {
            let start = k
                .vmcoreinfo()
                .number("VMEMMAP_START")
                .map(|v| v as u64)
                .or_else(|| k.memory().layout().virt.region(krash_arch::RegionKind::Vmemmap).map(|r| r.start))
                .ok_or_else(|| {
                    Error::NotFound("neither vmemmap_base, VMEMMAP_START nor a vmemmap region is known".into())
                })?;
            let linear_phys =
                k.memory().layout().virt.region(krash_arch::RegionKind::DirectMap).and_then(|r| r.phys).unwrap_or(0);
            vmemmap_base(start, linear_phys, page_shift, page_struct_size)
        }
    };
    let max_phys = k.dump().phys_ranges().iter().map(|r| r.end).max().unwrap_or(0);
    let head_encoding = CompoundHead::probe(l)?;
    let compound_head = match head_encoding {
        CompoundHead::Pointer => l.offset("page", "compound_head")?,
        CompoundHead::Info => l.offset("page", "compound_info")?,
    };
    Ok(PageModel {
        vmemmap,
        page_struct_size,
        page_shift,
        max_pfn: max_phys.div_ceil(1 << page_shift),
        flags: l.offset("page", "flags")?,
        compound_head,
        head_encoding,
        mapping: l.offset("page", "mapping")?,
        // 7.x renamed `index` (now reached through folios) `__folio_index`.
        index: l.offset("page", "index").or_else(|e| l.offset("page", "__folio_index").map_err(|_| e))?,
        refcount: l.offset("page", "_refcount")?,
        page_type: l.offset("page", "page_type").ok(),
        flag_names: read_flag_names(k).unwrap_or_default(),
    })
}

/// The address of frame 0's `struct page` (the kernel's `vmemmap`) when
/// the vmemmap region starts with the page of the linear map's first
/// frame, `linear_phys`. The kernel's `memstart_addr` is signed (a 52-bit
/// arm64 kernel on a 48-bit CPU makes it negative): shifted as such.
pub fn vmemmap_base(vmemmap_start: u64, linear_phys: u64, page_shift: u32, page_struct_size: u64) -> u64 {
    let first_pfn = (linear_phys as i64).checked_shr(page_shift).unwrap_or(0) as u64;
    vmemmap_start.wrapping_sub(first_pfn.wrapping_mul(page_struct_size))
}

/// `pageflag_names[]`: `struct trace_print_flags { unsigned long mask; const char *name; }`,
/// ended by an entry with a NULL name.
fn read_flag_names(k: &Kernel) -> Result<Vec<(u64, String)>> {
    let base = k.symbol_addr("pageflag_names")?;
    let mut out = Vec::new();
    for i in 0..MAX_PAGE_FLAG_NAMES {
        let entry = base + i * 16;
        let mask = k.memory().read_u64(entry)?;
        let name = k.memory().read_u64(entry + 8)?;
        if name == 0 {
            break;
        }
        out.push((mask, k.memory().read_cstr(name, 32)?));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use krash_program::layout::{Layouts, TypeSource};
    use krash_program::probes::synthetic::{member, SyntheticTypes as T};

    use super::CompoundHead;

    #[test]
    fn vmemmap_is_frame_zeros_page() {
        // x86-64: the direct map starts at physical 0.
        assert_eq!(super::vmemmap_base(0xffff_ea00_0000_0000, 0, 12, 64), 0xffff_ea00_0000_0000);
        // arm64, RAM at 1 GiB (QEMU virt), 4 KiB pages: VMEMMAP_START
        // holds pfn 0x40000's page.
        assert_eq!(super::vmemmap_base(0xffff_fc00_0000_0000, 0x4000_0000, 12, 64), 0xffff_fbff_ff00_0000);
        // 64 KiB pages: pfn 0x4000.
        assert_eq!(super::vmemmap_base(0xffff_fc00_0000_0000, 0x4000_0000, 16, 64), 0xffff_fbff_fff0_0000);
        // A negative memstart_addr moves it up.
        assert_eq!(super::vmemmap_base(0xffff_fc00_0000_0000, (-0x1000_i64) as u64, 12, 64), 0xffff_fc00_0000_0040);
    }

    #[test]
    fn compound_head_member_is_probed() {
        let page = |name: &str| {
            let mut t = T::new();
            t.structure("page", 64, vec![member("flags", T::ULONG, 0), member(name, T::ULONG, 8)]);
            Layouts::new(Some(Arc::new(t)), TypeSource::Btf, None)
        };
        assert_eq!(CompoundHead::probe(&page("compound_head")).unwrap(), CompoundHead::Pointer);
        assert_eq!(CompoundHead::probe(&page("compound_info")).unwrap(), CompoundHead::Info);
        assert!(CompoundHead::probe(&page("lru")).is_err());
    }

    #[test]
    fn compound_heads_by_pointer_and_by_mask() {
        let tail = 0xffff_ea00_0012_3440u64;
        assert_eq!(CompoundHead::Pointer.head_of(tail, 0), tail, "not a tail");
        assert_eq!(CompoundHead::Pointer.head_of(tail, 0xffff_ea00_0012_3401), 0xffff_ea00_0012_3400);
        assert_eq!(CompoundHead::Info.head_of(tail, 0xffff_ea00_0012_3401), 0xffff_ea00_0012_3400);
        // A mask for an order-3 folio of 64-byte pages: GENMASK(63, 9) | 1.
        assert_eq!(CompoundHead::Info.head_of(tail, 0xffff_ffff_ffff_fe01), 0xffff_ea00_0012_3400);
    }
}
