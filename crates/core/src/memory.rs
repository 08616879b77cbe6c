use crate::{AddrSpace, Error, FaultReason, Result};

/// A contiguous run of physical addresses the dump describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct PhysRange {
    pub start: u64,
    pub end: u64,
}

/// Physical memory as a dump format exposes it. Implementations never touch
/// policy (which file, mmap or not); they only answer reads.
pub trait PhysicalMemory: Send + Sync {
    /// Fills `buf` from physical address `paddr`, or fails naming the first
    /// address that could not be read and why. Never returns zeros for
    /// excluded pages.
    fn read_phys(&self, paddr: u64, buf: &mut [u8]) -> Result<()>;

    /// The physical ranges the dump covers (present or excluded pages).
    fn phys_ranges(&self) -> Vec<PhysRange>;

    fn read_phys_u64(&self, paddr: u64) -> Result<u64> {
        let mut b = [0u8; 8];
        self.read_phys(paddr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }
}

/// Kernel virtual memory: what unwinders, kallsyms/BTF/ORC readers and the
/// kernel model consume. Implemented above address translation.
pub trait VirtualMemory: Send + Sync {
    fn read_virt(&self, addr: u64, buf: &mut [u8]) -> Result<()>;

    fn read_u8(&self, addr: u64) -> Result<u8> {
        let mut b = [0u8; 1];
        self.read_virt(addr, &mut b)?;
        Ok(b[0])
    }
    fn read_u16(&self, addr: u64) -> Result<u16> {
        let mut b = [0u8; 2];
        self.read_virt(addr, &mut b)?;
        Ok(u16::from_le_bytes(b))
    }
    fn read_u32(&self, addr: u64) -> Result<u32> {
        let mut b = [0u8; 4];
        self.read_virt(addr, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }
    fn read_u64(&self, addr: u64) -> Result<u64> {
        let mut b = [0u8; 8];
        self.read_virt(addr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    /// Reads `len` bytes into a fresh vector, refusing absurd sizes read
    /// from corrupt data before allocating.
    fn read_vec(&self, addr: u64, len: usize) -> Result<Vec<u8>> {
        const MAX_SINGLE_READ: usize = 256 << 20;
        if len > MAX_SINGLE_READ {
            return Err(Error::bad_data(
                format!("read at {addr:#x}"),
                format!("refusing a {len}-byte read (limit {MAX_SINGLE_READ})"),
            ));
        }
        let mut v = vec![0u8; len];
        self.read_virt(addr, &mut v)?;
        Ok(v)
    }
    /// Reads a NUL-terminated string of at most `max` bytes.
    fn read_cstr(&self, addr: u64, max: usize) -> Result<String> {
        let mut out = Vec::new();
        let mut chunk = [0u8; 64];
        let mut at = addr;
        while out.len() < max {
            // Stay inside one page per read so a string ending just before
            // an unreadable page is still returned.
            let to_page_end = (0x1000 - (at & 0xfff)) as usize;
            let n = chunk.len().min(to_page_end).min(max - out.len());
            self.read_virt(at, &mut chunk[..n])?;
            if let Some(pos) = chunk[..n].iter().position(|&c| c == 0) {
                out.extend_from_slice(&chunk[..pos]);
                return Ok(String::from_utf8_lossy(&out).into_owned());
            }
            out.extend_from_slice(&chunk[..n]);
            at = at.wrapping_add(n as u64);
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
    }
}

impl<T: VirtualMemory + ?Sized> VirtualMemory for &T {
    fn read_virt(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
        (**self).read_virt(addr, buf)
    }
}

impl<T: PhysicalMemory + ?Sized> PhysicalMemory for &T {
    fn read_phys(&self, paddr: u64, buf: &mut [u8]) -> Result<()> {
        (**self).read_phys(paddr, buf)
    }
    fn phys_ranges(&self) -> Vec<PhysRange> {
        (**self).phys_ranges()
    }
}

/// A fault for a virtual address with no translation, for implementers.
pub fn not_mapped(addr: u64) -> Error {
    Error::fault(addr, AddrSpace::KernelVirtual, FaultReason::NotMapped)
}

/// Virtual memory that is one run of bytes at `base` and nothing else:
/// what unit tests and fuzz targets hand a parser that reads kernel memory.
#[derive(Debug, Clone)]
pub struct BytesAt<B> {
    pub base: u64,
    pub bytes: B,
}

impl<B: AsRef<[u8]> + Send + Sync> VirtualMemory for BytesAt<B> {
    fn read_virt(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
        let src = addr
            .checked_sub(self.base)
            .and_then(|offset| usize::try_from(offset).ok())
            .and_then(|start| self.bytes.as_ref().get(start..start.checked_add(buf.len())?))
            .ok_or_else(|| not_mapped(addr))?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

impl<T: PhysicalMemory + ?Sized> PhysicalMemory for std::sync::Arc<T> {
    fn read_phys(&self, paddr: u64, buf: &mut [u8]) -> Result<()> {
        (**self).read_phys(paddr, buf)
    }
    fn phys_ranges(&self) -> Vec<PhysRange> {
        (**self).phys_ranges()
    }
}

impl<T: VirtualMemory + ?Sized> VirtualMemory for std::sync::Arc<T> {
    fn read_virt(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
        (**self).read_virt(addr, buf)
    }
}
