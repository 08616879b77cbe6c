//! `krash decode [VMLINUX|-] [--module NAME=KO ...] < oops.txt`: oops text
//! printed back with every `func+0xoff/0xsize` resolved to its source line
//! and inline chain, and each `Code:` line disassembled with the trapping
//! instruction marked. Needs no dump.

use std::path::PathBuf;

use krash_analyze::oops::{self, CodeBytes, FrameRef, LineContent};
use krash_analyze::oops_resolve::{OopsResolver, ResolvedFrame};
use krash_arch::{Arch, Decoder, Machine};
use krash_core::{Error, Result};

use crate::source::{InlineLocation, SymbolRef};

/// Usage text of the subcommand.
pub const USAGE: &str = "usage: krash decode [VMLINUX|-] [--module NAME=KO ...] [--json] < oops.txt";

/// Parsed `decode` arguments.
#[derive(Debug, Default, Clone)]
pub struct DecodeArgs {
    pub vmlinux: Option<PathBuf>,
    pub modules: Vec<(String, PathBuf)>,
}

/// Parses the words after `decode`: an optional vmlinux (`-` for none) and
/// `--module NAME=KO` (or `--module KO`, named after its file).
pub fn parse_args(args: &[String]) -> Result<DecodeArgs> {
    let mut out = DecodeArgs::default();
    let mut words = args.iter();
    while let Some(word) = words.next() {
        let module_spec = if word == "--module" || word == "-m" {
            Some(words.next().ok_or_else(|| Error::Usage(format!("{word} needs NAME=KO\n{USAGE}")))?.as_str())
        } else {
            word.strip_prefix("--module=")
        };
        if let Some(spec) = module_spec {
            out.modules.push(module_arg(spec)?);
        } else if word == "-" {
            out.vmlinux = None;
        } else if word.starts_with('-') {
            return Err(Error::Usage(format!("unknown option {word}\n{USAGE}")));
        } else if out.vmlinux.is_none() {
            out.vmlinux = Some(PathBuf::from(word));
        } else {
            return Err(Error::Usage(format!("{word}: only one vmlinux can be given\n{USAGE}")));
        }
    }
    Ok(out)
}

fn module_arg(spec: &str) -> Result<(String, PathBuf)> {
    if let Some((name, path)) = spec.split_once('=') {
        return Ok((name.to_string(), PathBuf::from(path)));
    }
    let path = PathBuf::from(spec);
    let file = path.file_name().and_then(|f| f.to_str()).unwrap_or_default();
    let name = file.split('.').next().unwrap_or_default();
    if name.is_empty() {
        return Err(Error::Usage(format!("--module {spec}: expected NAME=KO")));
    }
    Ok((name.to_string(), path))
}

/// One line of the oops text and what `decode` adds to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodedLine {
    /// A line decode has nothing to add to (trailing spaces dropped).
    Text { raw: String },
    /// A stack frame (`func+0xoff/0xsize`): where it resolved, as an
    /// inline chain innermost first, or why it did not. `prefix_len` is the
    /// length of the log prefixes (level, timestamp, caller) before the
    /// message, which the inline chain is indented past.
    Frame { raw: String, prefix_len: usize, resolution: Result<Vec<InlineLocation>, String> },
    /// A `Code:` line and its disassembly.
    Code { raw: String, disassembly: Option<CodeDisassembly> },
}

/// The disassembly of a `Code:` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeDisassembly {
    /// How many bytes the line holds.
    pub length: usize,
    /// The RIP line's `function+offset`, when it resolved (instructions are
    /// then at their DWARF-space addresses and named).
    pub trapping_at: Option<SymbolRef>,
    pub instructions: Vec<CodeInstruction>,
}

/// One instruction of a `Code:` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeInstruction {
    /// Offset from the line's first byte.
    pub offset: u64,
    /// The instruction at the trapping instruction pointer (`<..>` in the line).
    pub trapping: bool,
    /// The symbol it is in, when the RIP line resolved.
    pub symbol: Option<SymbolRef>,
    pub bytes: Vec<u8>,
    pub text: String,
}

/// What `decode` produced, one entry per input line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub lines: Vec<DecodedLine>,
}

/// Runs `decode` over `input`.
pub fn run(args: &[String], input: &str) -> Result<Decoded> {
    let args = parse_args(args)?;
    let resolver = OopsResolver::open(args.vmlinux.as_deref(), &args.modules)?;
    let arch = vmlinux_arch(args.vmlinux.as_deref())?;
    Ok(decode(input, &resolver, arch.decoder))
}

/// The architecture of the vmlinux's ELF `e_machine`; without a vmlinux
/// (or one that does not say), x86-64, the only one krash implements.
fn vmlinux_arch(vmlinux: Option<&std::path::Path>) -> Result<&'static Arch> {
    let machine = match vmlinux {
        Some(path) => {
            let mut header = [0u8; 20];
            let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, &e))?;
            std::io::Read::read_exact(&mut file, &mut header).map_err(|e| Error::io(path, &e))?;
            // EI_DATA (byte 5): 2 is big-endian.
            let bytes = [header[18], header[19]];
            let e_machine = if header[5] == 2 { u16::from_be_bytes(bytes) } else { u16::from_le_bytes(bytes) };
            Machine::from_elf_machine(e_machine)?
        }
        None => None,
    };
    Ok(krash_arch::for_machine(machine.unwrap_or(Machine::X86_64))?)
}

/// Every input line with its resolutions.
pub fn decode(input: &str, resolver: &OopsResolver, decoder: &dyn Decoder) -> Decoded {
    let mut lines = Vec::new();
    let mut last_rip: Option<(FrameRef, Option<ResolvedFrame>)> = None;
    for line in oops::parse(input) {
        let raw = line.raw.trim_end().to_string();
        match &line.content {
            LineContent::Frame(frame) => {
                let resolved = resolver.resolve(frame);
                let prefix_len = line.raw.len().saturating_sub(oops::strip_prefixes(&line.raw).len());
                let resolution = match &resolved {
                    Ok(r) => Ok(r.frames.iter().map(InlineLocation::of).collect()),
                    Err(e) => Err(e.to_string()),
                };
                lines.push(DecodedLine::Frame { raw, prefix_len, resolution });
                if frame.is_rip {
                    last_rip = Some((frame.clone(), resolved.ok()));
                }
            }
            LineContent::Code(code) => {
                let rip = last_rip.take();
                let disassembly = disassemble_code(code, rip.as_ref(), resolver, decoder);
                lines.push(DecodedLine::Code { raw, disassembly });
            }
            LineContent::Other => {
                if oops::pc_line(&line.body).is_some() {
                    // A user-space pc (`RIP: 0033:0x47b7a0`, arm64's
                    // `pc : 0x44a7cc`): its Code is not ours to name.
                    last_rip = None;
                }
                lines.push(DecodedLine::Text { raw });
            }
        }
    }
    Decoded { lines }
}

/// The first offset from which decoding reaches `trap` exactly, so the
/// instructions before the trapping one are shown on their boundaries.
fn aligned_start(decoder: &dyn Decoder, bytes: &[u8], trap: usize) -> usize {
    'starts: for start in 0..trap {
        let mut at = start;
        let mut steps = 0usize;
        while at < trap {
            let Some(rest) = bytes.get(at..) else { continue 'starts };
            let Some(instr) = decoder.decode(rest, at as u64) else { continue 'starts };
            at += instr.len.max(1);
            steps += 1;
            if steps > bytes.len() {
                continue 'starts;
            }
        }
        if at == trap {
            return start;
        }
    }
    trap
}

/// Disassembles a `Code:` line as decodecode does, at the run-time
/// addresses of the RIP line when it resolved.
fn disassemble_code(
    code: &CodeBytes,
    rip: Option<&(FrameRef, Option<ResolvedFrame>)>,
    resolver: &OopsResolver,
    decoder: &dyn Decoder,
) -> Option<CodeDisassembly> {
    let trap = code.trap_index.unwrap_or(0);
    let start = if code.trap_index.is_some() { aligned_start(decoder, &code.bytes, trap) } else { 0 };
    let resolved = rip.and_then(|(f, r)| r.as_ref().map(|r| (f, r)));
    // The DWARF-space address of byte 0 when the RIP resolved, else offsets.
    let base = resolved.map_or(0, |(_, r)| r.addr.wrapping_sub(trap as u64));
    let object = resolved.and_then(|(f, _)| resolver.object_for(f.module.as_deref()));
    let symbolize = |addr: u64| -> Option<(String, u64)> {
        let (sym, off) = object?.symbols.by_addr(addr)?;
        Some((sym.name.to_string(), off))
    };
    let bytes = code.bytes.get(start..)?;
    let decoded = decoder.disassemble(bytes, base.wrapping_add(start as u64), &symbolize);
    let trap_addr = base.wrapping_add(trap as u64);
    let instructions = decoded
        .iter()
        .map(|instr| CodeInstruction {
            offset: instr.addr.wrapping_sub(base),
            trapping: code.trap_index.is_some() && instr.addr == trap_addr,
            symbol: match symbolize(instr.addr) {
                Some((name, offset)) if resolved.is_some() => Some(SymbolRef { name, offset }),
                _ => None,
            },
            bytes: instr.bytes.clone(),
            text: instr.text.clone(),
        })
        .collect();
    Some(CodeDisassembly {
        length: code.bytes.len(),
        trapping_at: resolved.map(|(f, _)| SymbolRef { name: f.function.clone(), offset: f.offset }),
        instructions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disassembles_code_without_debuginfo() {
        let text = "Code: 0f 1f 44 00 00 e8 e6 ff ff ff <48> 8b 40 10 c3 cc\n";
        let out = decode(text, &OopsResolver::default(), krash_arch::x86_64::X86_64.decoder);
        let Some(DecodedLine::Code { raw, disassembly: Some(d) }) = out.lines.first() else { panic!("{out:?}") };
        assert_eq!(raw, text.trim_end());
        assert_eq!(d.length, 16);
        assert!(d.trapping_at.is_none());
        let trap = d.instructions.iter().find(|i| i.trapping).expect("a trapping instruction");
        assert_eq!(trap.bytes, [0x48, 0x8b, 0x40, 0x10]);
        assert_eq!(trap.text, "mov    0x10(%rax),%rax");
        assert_eq!(trap.offset, 10);
        assert!(d.instructions.iter().any(|i| i.text.starts_with("nop")), "{d:?}");
    }

    #[test]
    fn disassembles_arm64_code_words() {
        let text = "pc : 0x44a7cc\nCode: d503233f a9bf7bfd 910003fd 97fffff3 (f9400800)\n";
        let out = decode(text, &OopsResolver::default(), krash_arch::arm64::ARM64.decoder);
        let Some(DecodedLine::Code { disassembly: Some(d), .. }) = out.lines.get(1) else { panic!("{out:?}") };
        assert_eq!(d.length, 20);
        let texts: Vec<(&str, bool)> = d.instructions.iter().map(|i| (i.text.as_str(), i.trapping)).collect();
        assert_eq!(texts.first(), Some(&("paciasp", false)));
        assert_eq!(texts.last(), Some(&("ldr\tx0, [x0, #16]", true)));
        assert_eq!(d.instructions.last().map(|i| i.offset), Some(16));
    }

    #[test]
    fn parses_arguments() {
        let args: Vec<String> =
            ["vmlinux", "--module", "m=/x/m.ko", "--module", "/y/n.ko"].iter().map(|s| s.to_string()).collect();
        let a = parse_args(&args).unwrap();
        assert_eq!(a.vmlinux, Some(PathBuf::from("vmlinux")));
        assert_eq!(a.modules[0], ("m".to_string(), PathBuf::from("/x/m.ko")));
        assert_eq!(a.modules[1].0, "n");
        assert!(parse_args(&["-x".to_string()]).is_err());
        assert!(parse_args(&["-".to_string()]).unwrap().vmlinux.is_none());
    }
}
