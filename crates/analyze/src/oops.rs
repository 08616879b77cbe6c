//! Oops text (console logs, `vmcore-dmesg.txt`, `dmesg`) read back into
//! structure: each line's frame reference (`func+0xoff/0xsize [module]`),
//! `Code:` bytes with the trapping byte, register dumps and the headline
//! that names what went wrong. Pure text parsing; resolving against
//! debuginfo is [`crate::oops_resolve`]'s job.

/// A `func+0xoff/0xsize` reference found in a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameRef {
    pub function: String,
    pub offset: u64,
    pub size: Option<u64>,
    pub module: Option<String>,
    /// Printed with a leading `?`: a stale stack word, not a proven frame.
    pub unreliable: bool,
    /// From a `RIP:` line (arm64: `pc :`): the address is the faulting
    /// instruction itself, not a return address.
    pub is_rip: bool,
}

/// The bytes of a `Code:` line and which one the kernel marked `<..>`
/// (x86-64 prints bytes; arm64 prints 32-bit instruction words, `(..)`
/// around the one at the pc, kept here as their little-endian bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeBytes {
    pub bytes: Vec<u8>,
    /// Index in `bytes` of the byte at the trapping instruction pointer.
    pub trap_index: Option<usize>,
}

/// What one line of oops text holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineContent {
    Frame(FrameRef),
    Code(CodeBytes),
    Other,
}

/// One input line: the text as given, the text without its timestamp and
/// log-level prefixes, and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OopsLine {
    pub raw: String,
    pub body: String,
    pub content: LineContent,
}

/// Largest number of bytes a `Code:` line is taken to hold; the kernel
/// prints 64.
const MAX_CODE_BYTES: usize = 256;

/// Splits `text` into lines and classifies each.
pub fn parse(text: &str) -> Vec<OopsLine> {
    text.lines().map(parse_line).collect()
}

/// Classifies one line.
pub fn parse_line(raw: &str) -> OopsLine {
    let body = strip_prefixes(raw).to_string();
    let content = if let Some(code) = parse_code(&body) {
        LineContent::Code(code)
    } else if let Some(frame) = parse_frame(&body) {
        LineContent::Frame(frame)
    } else {
        LineContent::Other
    };
    OopsLine { raw: raw.to_string(), body, content }
}

/// Drops a syslog level (`<4>`), a `[ 12.345678]` timestamp and a
/// `[    T1]`/`[  C0]` caller id, in that order, when present.
pub fn strip_prefixes(line: &str) -> &str {
    let mut rest = line.trim_end_matches(['\r', '\n']);
    if let Some(after) = rest.strip_prefix('<') {
        if let Some((level, tail)) = after.split_once('>') {
            if !level.is_empty() && level.len() <= 3 && level.bytes().all(|b| b.is_ascii_digit()) {
                rest = tail;
            }
        }
    }
    // A console shared with user space interleaves their writes: another
    // writer's text may run into the kernel's line (`krash-init: proc[
    // 12.517154] Code: ...`). The kernel's line starts at its timestamp.
    if !rest.trim_start().starts_with('[') {
        if let Some(at) = embedded_timestamp(rest) {
            rest = rest.get(at..).unwrap_or(rest);
        }
    }
    for _ in 0..2 {
        let trimmed = rest.trim_start();
        let Some(after) = trimmed.strip_prefix('[') else { break };
        let Some((inside, tail)) = after.split_once(']') else { break };
        let inside = inside.trim();
        let is_time = !inside.is_empty() && inside.bytes().all(|b| b.is_ascii_digit() || b == b'.');
        let is_caller = inside.len() > 1
            && (inside.starts_with('T') || inside.starts_with('C'))
            && inside.bytes().skip(1).all(|b| b.is_ascii_digit());
        if !(is_time || is_caller) {
            break;
        }
        rest = tail.strip_prefix(' ').unwrap_or(tail);
    }
    rest
}

/// Where a printk timestamp (`[   12.517154]`: seconds, a dot, digits)
/// starts inside a line, if one does.
fn embedded_timestamp(line: &str) -> Option<usize> {
    line.match_indices('[').map(|(i, _)| i).find(|&i| {
        let Some(inside) = line.get(i + 1..).and_then(|t| t.split_once(']')).map(|(inside, _)| inside.trim()) else {
            return false;
        };
        let (secs, micros) = inside.split_once('.').unwrap_or(("", ""));
        !secs.is_empty()
            && !micros.is_empty()
            && secs.bytes().all(|b| b.is_ascii_digit())
            && micros.bytes().all(|b| b.is_ascii_digit())
    })
}

fn parse_number(text: &str) -> Option<u64> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// Parses `name+0xoff[/0xsize]` (the kernel's `%pS`/`%pB`).
fn parse_func_offset(token: &str) -> Option<(String, u64, Option<u64>)> {
    let (name, rest) = token.rsplit_once('+')?;
    let (off, size) = match rest.split_once('/') {
        Some((off, size)) => (off, Some(parse_number(size)?)),
        None => (rest, None),
    };
    if !off.starts_with("0x") {
        return None;
    }
    let offset = parse_number(off)?;
    let valid_name =
        !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'$'));
    valid_name.then(|| (name.to_string(), offset, size))
}

/// The faulting-pc line's prefix: x86-64's `RIP:`, arm64's `pc :`.
pub fn pc_line(body: &str) -> Option<&str> {
    let trimmed = body.trim_start();
    trimmed.strip_prefix("RIP:").or_else(|| trimmed.strip_prefix("pc : ")).map(str::trim_start)
}

fn parse_frame(body: &str) -> Option<FrameRef> {
    let trimmed = body.trim_start();
    // arm64's link register line names a return address, as a stack frame does.
    let trimmed = trimmed.strip_prefix("lr : ").unwrap_or(trimmed);
    let (is_rip, rest) = match pc_line(trimmed) {
        Some(r) => (true, r),
        None => (false, trimmed),
    };
    let tokens: Vec<&str> = rest.split_whitespace().collect();
    let mut unreliable = false;
    for (i, token) in tokens.iter().enumerate() {
        if *token == "?" {
            unreliable = true;
            continue;
        }
        // `RIP: 0010:func+0x..` and the old `[<ffffffff..>] func+0x..` forms.
        let candidate = token.rsplit_once(':').map_or(*token, |(_, t)| t);
        let Some((function, offset, size)) = parse_func_offset(candidate) else {
            if token.starts_with("[<") {
                continue;
            }
            if i == 0 && !is_rip {
                return None;
            }
            continue;
        };
        // A line the log cut short (5.10's NMI buffer, "Lost N message(s)!")
        // may end without the module's closing bracket.
        let last = i + 2 == tokens.len();
        let module = tokens
            .get(i + 1)
            .and_then(|t| t.strip_prefix('['))
            .and_then(|t| t.strip_suffix(']').or_else(|| last.then_some(t)))
            .filter(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
            .map(str::to_string);
        return Some(FrameRef { function, offset, size, module, unreliable, is_rip });
    }
    None
}

fn parse_code(body: &str) -> Option<CodeBytes> {
    let rest = body.trim_start().strip_prefix("Code:")?;
    let mut bytes = Vec::new();
    let mut trap_index = None;
    for token in rest.split_whitespace() {
        let (hex, marked) = match token.strip_prefix('<').and_then(|t| t.strip_suffix('>')) {
            Some(inner) => (inner, true),
            None => match token.strip_prefix('(').and_then(|t| t.strip_suffix(')')) {
                Some(inner) => (inner, true),
                None => (token, false),
            },
        };
        // arm64: one 32-bit instruction word, stored as memory holds it.
        if hex.len() == 8 && (bytes.is_empty() || bytes.len() % 4 == 0) {
            let word = u32::from_str_radix(hex, 16).ok()?;
            if marked && trap_index.is_none() {
                trap_index = Some(bytes.len());
            }
            bytes.extend_from_slice(&word.to_le_bytes());
            if bytes.len() >= MAX_CODE_BYTES {
                break;
            }
            continue;
        }
        if hex.len() != 2 {
            // "Code: Bad RIP value." and the like hold no bytes.
            return if bytes.is_empty() { None } else { Some(CodeBytes { bytes, trap_index }) };
        }
        let byte = u8::from_str_radix(hex, 16).ok()?;
        if marked && trap_index.is_none() {
            trap_index = Some(bytes.len());
        }
        bytes.push(byte);
        if bytes.len() >= MAX_CODE_BYTES {
            break;
        }
    }
    (!bytes.is_empty()).then_some(CodeBytes { bytes, trap_index })
}

/// The general-purpose registers of a `RAX: .. RBX: ..` dump, by name
/// (lower case, `r8` not `r08`).
pub fn register_values(lines: &[OopsLine]) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = Vec::new();
    for line in lines {
        let body = line.body.trim_start();
        let starts_dump =
            ["RAX:", "RBX:", "RDX:", "RBP:", "R10:", "R13:", "RSP:", "R08:"].iter().any(|p| body.starts_with(p));
        if !starts_dump {
            continue;
        }
        let tokens: Vec<&str> = body.split_whitespace().collect();
        for pair in tokens.windows(2) {
            let (Some(name), Some(value)) = (pair.first(), pair.get(1)) else { continue };
            let Some(name) = name.strip_suffix(':') else { continue };
            if !matches!(name.len(), 2..=3) || !name.bytes().all(|b| b.is_ascii_alphanumeric()) {
                continue;
            }
            // "RSP: 0018:ffff..": the selector comes first.
            let value = value.rsplit_once(':').map_or(*value, |(_, v)| v);
            let Ok(value) = u64::from_str_radix(value, 16) else { continue };
            let mut name = name.to_ascii_lowercase();
            if name.starts_with("r0") {
                name = format!("r{}", name.get(2..).unwrap_or_default());
            }
            if let Some(slot) = out.iter_mut().find(|(n, _)| *n == name) {
                slot.1 = value;
            } else {
                out.push((name, value));
            }
        }
    }
    out
}

/// The first line whose body contains `needle`.
pub fn find_line<'a>(lines: &'a [OopsLine], needle: &str) -> Option<&'a OopsLine> {
    lines.iter().find(|l| l.body.contains(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_cut_short_keeps_its_module() {
        let l = parse_line("[    4.349509]  krash_cfg_depth+0x67/0xba [krash_scenarios");
        let LineContent::Frame(f) = l.content else { panic!("not a frame: {l:?}") };
        assert_eq!((f.function.as_str(), f.module.as_deref()), ("krash_cfg_depth", Some("krash_scenarios")));
    }

    #[test]
    fn strips_timestamps_and_levels() {
        assert_eq!(strip_prefixes("[    7.567234] RIP: 0010:x+0x1/0x2"), "RIP: 0010:x+0x1/0x2");
        assert_eq!(strip_prefixes("<4>[ 1.0] [  T1] hello"), "hello");
        assert_eq!(strip_prefixes("plain"), "plain");
        assert_eq!(strip_prefixes("[abc] kept"), "[abc] kept");
        // Another writer's text run into the kernel's line on a shared console.
        assert_eq!(strip_prefixes("krash-init: proc[   12.517154] Code: 40 00"), "Code: 40 00");
        assert_eq!(strip_prefixes("array[3] = 1"), "array[3] = 1");
    }

    #[test]
    fn parses_frames() {
        let l = parse_line("[    7.567234]  scenario_null_member+0x27/0x36 [krash_scenarios]");
        let LineContent::Frame(f) = l.content else { panic!("not a frame") };
        assert_eq!(f.function, "scenario_null_member");
        assert_eq!((f.offset, f.size), (0x27, Some(0x36)));
        assert_eq!(f.module.as_deref(), Some("krash_scenarios"));
        assert!(!f.unreliable && !f.is_rip);

        let l = parse_line("[    7.5] RIP: 0010:krash_widget_generation+0xa/0x20 [krash_scenarios]");
        let LineContent::Frame(f) = l.content else { panic!("not a frame") };
        assert!(f.is_rip);
        assert_eq!(f.function, "krash_widget_generation");

        let l = parse_line(" ? kmem_cache_free+0x15/0x310");
        let LineContent::Frame(f) = l.content else { panic!("not a frame") };
        assert!(f.unreliable);

        let l = parse_line("[ 5234.43] [<ffffffffc04e8756>] __akfs_trace+0x36/0x60 [process]");
        let LineContent::Frame(f) = l.content else { panic!("not a frame") };
        assert_eq!(f.function, "__akfs_trace");
        assert_eq!(f.module.as_deref(), Some("process"));

        assert_eq!(parse_line("CPU: 1 PID: 1 Comm: init").content, LineContent::Other);
        assert_eq!(parse_line("RIP: 0033:0x47b7a0").content, LineContent::Other);
    }

    #[test]
    fn parses_code() {
        let l = parse_line("Code: 00 e8 e6 <48> 8b 40 10 c3");
        let LineContent::Code(c) = l.content else { panic!("not code") };
        assert_eq!(c.bytes, vec![0, 0xe8, 0xe6, 0x48, 0x8b, 0x40, 0x10, 0xc3]);
        assert_eq!(c.trap_index, Some(3));
        assert_eq!(parse_line("Code:  Bad RIP value.").content, LineContent::Other);
    }

    #[test]
    fn parses_arm64_oops_lines() {
        let l = parse_line("[   15.114739] pc : krash_widget_generation+0x18/0x30 [krash_scenarios]");
        let LineContent::Frame(f) = l.content else { panic!("not a frame") };
        assert!(f.is_rip);
        assert_eq!((f.function.as_str(), f.offset, f.size), ("krash_widget_generation", 0x18, Some(0x30)));
        assert_eq!(f.module.as_deref(), Some("krash_scenarios"));
        let l = parse_line("[   15.115399] lr : scenario_null_member+0x38/0x54 [krash_scenarios]");
        let LineContent::Frame(f) = l.content else { panic!("not a frame") };
        assert!(!f.is_rip);
        assert_eq!(f.function, "scenario_null_member");
        // A user pc is no kernel frame.
        assert_eq!(parse_line("pc : 0x44a7cc").content, LineContent::Other);
        assert_eq!(parse_line("sp : ffff80000802b8d0").content, LineContent::Other);
        let l = parse_line("[   15.120304] Code: d503233f a9bf7bfd 910003fd 97fffff3 (f9400800)");
        let LineContent::Code(c) = l.content else { panic!("not code") };
        assert_eq!(c.bytes.len(), 20);
        assert_eq!(c.bytes.get(16..), Some(&[0x00, 0x08, 0x40, 0xf9][..]));
        assert_eq!(c.trap_index, Some(16));
    }

    #[test]
    fn reads_registers() {
        let lines = parse("RSP: 0018:ffffd2a980013ac0 EFLAGS: 00000246\nRAX: 0000000000000000 RBX: 0000000000000001\nR10: 0000000000000003 R08: 0000000000000010");
        let regs = register_values(&lines);
        assert!(regs.contains(&("rsp".to_string(), 0xffffd2a980013ac0)));
        assert!(regs.contains(&("rbx".to_string(), 1)));
        assert!(regs.contains(&("r8".to_string(), 0x10)));
    }
}
