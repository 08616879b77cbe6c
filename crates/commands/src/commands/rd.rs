use krash_core::{Error, Result, VirtualMemory};

use crate::address::{parse_number, resolve_address};
use crate::source::SymbolRef;
use crate::{getopt, CommandSpec, Output, Session};

pub(crate) const SPEC: CommandSpec = CommandSpec {
    name: "rd",
    aliases: &[],
    summary: "read memory: hex words, symbols, ASCII",
    synopsis: "rd [-8|-16|-32|-64] [-s|-S] [-a] [-p|-u] [-x|-d] [-N] [-e end] address|symbol [count]",
    details: "  -8 -16 -32 -64  unit size in bits (default 64)\n\
              \x20 -s     show words that point at symbols as symbol+offset\n\
              \x20 -S     like -s (slab annotation comes with kmem support)\n\
              \x20 -a     show memory as ASCII strings\n\
              \x20 -p     the address is physical\n\
              \x20 -u     the address is a user address of the current task\n\
              \x20 -x     do not show the ASCII column\n\
              \x20 -d     show values in signed decimal\n\
              \x20 -N     show 16/32/64-bit values in network (big-endian) byte order\n\
              \x20 -e end read up to this address instead of a count\n\
              \x20 count  number of units to read (default 1)",
    run,
};

/// Which address space the read used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Space {
    Kernel,
    Physical,
    User,
}

/// How each unit is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    Hex,
    Decimal,
    Symbols,
    Ascii,
}

/// One memory unit read.
#[derive(Debug, Clone)]
pub struct Unit {
    pub addr: u64,
    pub value: u64,
    /// The symbol the value points into (with -s).
    pub symbol: Option<SymbolRef>,
}

#[derive(Debug, Clone)]
pub struct MemoryRead {
    pub space: Space,
    pub start: u64,
    /// Bytes per unit: 1, 2, 4 or 8.
    pub unit_size: u8,
    pub display: Display,
    pub ascii_column: bool,
    pub units: Vec<Unit>,
    /// Raw bytes, for the ASCII column and -a.
    pub bytes: Vec<u8>,
    /// Why the read stopped early, if it did.
    pub error: Option<String>,
}

/// Hard cap on one `rd`, so a typo'd count cannot exhaust memory.
const MAX_RD_BYTES: u64 = 64 << 20;

fn run(session: &mut Session, args: &[String]) -> Result<Output> {
    // -8/-16/-32/-64 look like negative numbers to getopt: take them first.
    let mut unit_size: u8 = 8;
    let rest: Vec<String> = args
        .iter()
        .filter(|a| {
            let size = match a.as_str() {
                "-8" => 1,
                "-16" => 2,
                "-32" => 4,
                "-64" => 8,
                _ => return true,
            };
            unit_size = size;
            false
        })
        .cloned()
        .collect();
    let p = getopt::parse("rd", &rest, "sSapuxdNe:")?;
    let space = if p.has('p') {
        Space::Physical
    } else if p.has('u') {
        Space::User
    } else {
        Space::Kernel
    };
    let display = if p.has('a') {
        Display::Ascii
    } else if p.has('s') || p.has('S') {
        Display::Symbols
    } else if p.has('d') {
        Display::Decimal
    } else {
        Display::Hex
    };
    let k = &session.kernel;
    let start_word = p.args.first().ok_or_else(|| Error::Usage("rd: an address or symbol is required".into()))?;
    let start = resolve_address(k, start_word)?;
    let len: u64 = if let Some(end) = p.value('e') {
        let end = resolve_address(k, end)?;
        end.checked_sub(start).ok_or_else(|| Error::Usage("rd: -e end address is below the start".into()))?
    } else if display == Display::Ascii {
        // A string runs to its NUL; read a page's worth at most by default.
        p.args.get(1).and_then(|c| parse_number(c)).unwrap_or(4096)
    } else {
        let count = match p.args.get(1) {
            Some(c) => parse_number(c).ok_or_else(|| Error::Usage(format!("rd: invalid count: {c}")))?,
            None => 1,
        };
        count.saturating_mul(u64::from(unit_size))
    };
    if len > MAX_RD_BYTES {
        return Err(Error::Usage(format!("rd: {len} bytes is more than one rd shows ({MAX_RD_BYTES})")));
    }
    let (bytes, error) = read_prefix(session, space, start, len as usize)?;
    let k = &session.kernel;
    let units = bytes
        .chunks_exact(unit_size as usize)
        .enumerate()
        .map(|(i, chunk)| {
            let mut v = [0u8; 8];
            v[..chunk.len()].copy_from_slice(chunk);
            let mut value = u64::from_le_bytes(v);
            if p.has('N') {
                value = match unit_size {
                    2 => u64::from((value as u16).swap_bytes()),
                    4 => u64::from((value as u32).swap_bytes()),
                    8 => value.swap_bytes(),
                    _ => value,
                };
            }
            let symbol = (display == Display::Symbols && unit_size == 8)
                .then(|| {
                    k.symbols().containing(value).map(|(s, offset)| SymbolRef { name: s.name.to_string(), offset })
                })
                .flatten();
            Unit { addr: start + (i * unit_size as usize) as u64, value, symbol }
        })
        .collect();
    Ok(Output::Rd(MemoryRead {
        space,
        start,
        unit_size,
        display,
        ascii_column: !p.has('x') && display != Display::Decimal,
        units,
        bytes,
        error,
    }))
}

/// Reads as much of the range as is readable, page by page, returning the
/// bytes and the reason it stopped short (crash stops at the first bad page).
fn read_prefix(session: &Session, space: Space, start: u64, len: usize) -> Result<(Vec<u8>, Option<String>)> {
    let k = &session.kernel;
    let user_pgd = if space == Space::User {
        let task = session.current_task.ok_or_else(|| Error::NotFound("rd: -u: no current task".into()))?;
        let mm = k.read_field_u64(task, "task_struct", "mm")?;
        if mm == 0 {
            return Err(Error::Usage("rd: -u: the current task is a kernel thread (no user memory)".into()));
        }
        let pgd = k.read_field_u64(mm, "mm_struct", "pgd")?;
        Some(k.virt_to_phys(pgd)?)
    } else {
        None
    };
    let mut out = vec![0u8; len];
    let mut done = 0usize;
    // Page by page (the kernel's page size), so a read stops at the first
    // page that is not there.
    let page = k.memory().page_size().max(1);
    while done < len {
        let at = start.wrapping_add(done as u64);
        let n = ((page - (at & (page - 1))) as usize).min(len - done);
        let buf = &mut out[done..done + n];
        let r = match space {
            Space::Kernel => k.memory().read_virt(at, buf),
            Space::Physical => krash_core::PhysicalMemory::read_phys(k.dump(), at, buf),
            Space::User => k.memory().read_user(user_pgd.unwrap_or(0), at, buf),
        };
        if let Err(e) = r {
            if done == 0 {
                return Err(e);
            }
            out.truncate(done);
            return Ok((out, Some(e.to_string())));
        }
        done += n;
    }
    Ok((out, None))
}
