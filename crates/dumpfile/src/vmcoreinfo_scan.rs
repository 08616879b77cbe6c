//! Finding VMCOREINFO in raw physical memory, for images that carry no
//! notes (LiME). The kernel keeps the text in a page of its own
//! (`vmcoreinfo_data`) starting "OSRELEASE=", and a copy inside the ELF
//! note it prepares for kdump.

use memchr::memmem;

use crate::image::Image;
use crate::lime::LimeRange;
use crate::vmcoreinfo::VmcoreInfo;

const START: &[u8] = b"OSRELEASE=";
/// The kernel limits VMCOREINFO to one page.
const MAX_TEXT: usize = 4096;
/// Large enough to make per-chunk overhead vanish, small enough to stay in cache.
const CHUNK: usize = 8 << 20;
const PAGE: u64 = 4096;

/// The VMCOREINFO text in the image, preferring the page-aligned original
/// over the note's copy. Format strings in the kernel image ("OSRELEASE=%s")
/// are rejected because they stop at their NUL before any other key.
pub(crate) fn find_vmcoreinfo(image: &Image, ranges: &[LimeRange]) -> Option<VmcoreInfo> {
    let finder = memmem::Finder::new(START);
    let mut fallback = None;
    for r in ranges {
        let mut paddr = r.start;
        while paddr < r.end {
            // Overlap chunks by a page of text so a match across a boundary is seen whole.
            let len = r.end.saturating_sub(paddr).min(CHUNK.saturating_add(MAX_TEXT) as u64) as usize;
            let Some(offset) = r.offset.checked_add(paddr.saturating_sub(r.start)) else { break };
            let Ok(bytes) = image.read(offset, len) else { break };
            for hit in finder.find_iter(&bytes) {
                if hit >= CHUNK {
                    break;
                }
                let Some(text) = bytes.get(hit..) else { break };
                let Some(info) = parse_candidate(text) else { continue };
                if paddr.wrapping_add(hit as u64).is_multiple_of(PAGE) {
                    return Some(info);
                }
                fallback.get_or_insert(info);
            }
            paddr = paddr.saturating_add(CHUNK as u64);
        }
    }
    fallback
}

fn parse_candidate(text: &[u8]) -> Option<VmcoreInfo> {
    let text = text.get(..MAX_TEXT).unwrap_or(text);
    let text = text.split(|&b| b == 0).next().unwrap_or(text);
    let has = |key: &[u8]| memmem::find(text, key).is_some();
    let looks_real = has(b"\nPAGESIZE=") && (has(b"\nKERNELOFFSET=") || has(b"\nNUMBER(phys_base)="));
    looks_real.then(|| VmcoreInfo::parse(text))
}

#[cfg(test)]
// Tests index the synthetic buffers they build; a panic there is a failed test.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    #[test]
    fn rejects_format_strings_and_accepts_the_page() {
        assert!(parse_candidate(b"OSRELEASE=%s\n\0PAGESIZE=%ld\n\0KERNELOFFSET=%lx\n").is_none());
        let info = parse_candidate(b"OSRELEASE=6.1.0\nPAGESIZE=4096\nKERNELOFFSET=1000000\n\0junk").unwrap();
        assert_eq!(info.osrelease(), Some("6.1.0"));
        assert_eq!(info.kernel_offset(), Some(0x1000000));
    }
}
