//! One address through a [`PageTableFormat`]'s levels.

use krash_core::{AddrSpace, Error, FaultReason, PhysicalMemory, Result};

use super::{PageTableEntry, PageTableFormat, TranslateStep, ENTRY_SIZE};

pub(super) fn walk(
    format: &PageTableFormat,
    mem: &dyn PhysicalMemory,
    root: u64,
    vaddr: u64,
) -> (Vec<TranslateStep>, Result<(u64, u64)>) {
    let space = format.space_of(vaddr);
    let fault = |reason| Error::fault(vaddr, space, reason);
    let mut steps = Vec::with_capacity(format.levels.len());
    if !format.is_canonical(vaddr) {
        return (steps, Err(fault(FaultReason::NonCanonical)));
    }
    let mut table = root & format.root_mask;
    for (depth, level) in format.levels.iter().enumerate() {
        let Some(entry_paddr) = level.index(vaddr).checked_mul(ENTRY_SIZE).and_then(|o| table.checked_add(o)) else {
            return (steps, Err(Error::fault(table, AddrSpace::Physical, FaultReason::NotInDump)));
        };
        let raw = match mem.read_phys_u64(entry_paddr) {
            Ok(v) => v,
            Err(e) => return (steps, Err(e)),
        };
        steps.push(TranslateStep { level: level.level, entry_paddr, entry: PageTableEntry(raw) });
        if !format.is_present(raw) {
            return (steps, Err(fault(FaultReason::NotMapped)));
        }
        let last = depth.checked_add(1) == Some(format.levels.len());
        if last || (level.large_pages && format.large.matches(raw)) {
            let page_size = level.span();
            let offset_mask = page_size.wrapping_sub(1);
            let frame = format.entry_address(raw) & !offset_mask;
            return (steps, Ok((frame | (vaddr & offset_mask), page_size)));
        }
        table = format.entry_address(raw);
    }
    // Only a format without levels gets here.
    (steps, Err(fault(FaultReason::NotMapped)))
}
