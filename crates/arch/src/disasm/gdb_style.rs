//! The pieces of gdb's instruction text that iced does not produce itself.

use iced_x86::{Formatter, GasFormatter, OpKind, Register};

use super::Symbolizer;

/// gdb pads the mnemonic (with its prefixes) to six columns plus a space.
const FIRST_OPERAND_COLUMN: u32 = 7;
/// gdb separates an instruction from its `# address` comment by 8 spaces.
const COMMENT_SEPARATOR: &str = "        # ";

/// The formatter variants gdb's output needs: iced either always or never
/// prints a scale of 1 and segment registers, gdb prints them only with an
/// index register and for string instructions respectively.
pub(super) struct GdbFormatters {
    plain: GasFormatter,
    indexed: GasFormatter,
    string_op: GasFormatter,
}

impl GdbFormatters {
    pub(super) fn new() -> Self {
        let mut indexed = gdb_formatter();
        indexed.options_mut().set_always_show_scale(true);
        let mut string_op = gdb_formatter();
        string_op.options_mut().set_always_show_segment_register(true);
        GdbFormatters { plain: gdb_formatter(), indexed, string_op }
    }

    fn for_instruction(&mut self, instr: &iced_x86::Instruction) -> &mut GasFormatter {
        let has_string_operand = (0..instr.op_count()).any(|i| {
            matches!(
                instr.op_kind(i),
                OpKind::MemorySegSI
                    | OpKind::MemorySegESI
                    | OpKind::MemorySegRSI
                    | OpKind::MemorySegDI
                    | OpKind::MemorySegEDI
                    | OpKind::MemorySegRDI
                    | OpKind::MemoryESDI
                    | OpKind::MemoryESEDI
                    | OpKind::MemoryESRDI
            )
        });
        if has_string_operand {
            &mut self.string_op
        } else if instr.memory_index() != Register::None {
            &mut self.indexed
        } else {
            &mut self.plain
        }
    }
}

/// A GAS formatter configured to print what gdb prints.
fn gdb_formatter() -> GasFormatter {
    let mut formatter = GasFormatter::new();
    let options = formatter.options_mut();
    options.set_first_operand_char_index(FIRST_OPERAND_COLUMN);
    options.set_space_after_operand_separator(false);
    options.set_gas_space_after_memory_operand_comma(false);
    options.set_gas_naked_registers(false);
    options.set_gas_show_mnemonic_size_suffix(false);
    options.set_uppercase_hex(false);
    options.set_hex_prefix("0x");
    options.set_hex_suffix("");
    options.set_small_hex_numbers_in_decimal(false);
    options.set_add_leading_zero_to_hex_numbers(false);
    options.set_leading_zeros(false);
    options.set_branch_leading_zeros(false);
    options.set_displacement_leading_zeros(false);
    options.set_signed_immediate_operands(false);
    options.set_signed_memory_displacements(true);
    options.set_rip_relative_addresses(true);
    options.set_show_branch_size(false);
    options.set_always_show_scale(false);
    options.set_show_zero_displacements(true);
    formatter
}

/// `<sym+off>` (decimal offset, as gdb) or nothing when unknown.
pub fn symbolic_address(addr: u64, symbolizer: &Symbolizer<'_>) -> Option<String> {
    let (name, offset) = symbolizer(addr)?;
    Some(if offset == 0 { format!("<{name}>") } else { format!("<{name}+{offset}>") })
}

/// The `0xffffffff81234567 <panic+23>:` that starts each line of `dis`
/// (without the tab that follows it).
pub fn address_prefix(addr: u64, symbolizer: &Symbolizer<'_>) -> String {
    match symbolic_address(addr, symbolizer) {
        Some(sym) => format!("{addr:#x} {sym}:"),
        None => format!("{addr:#x}:"),
    }
}

/// Appends gdb's annotation for a branch target: ` <sym+off>`.
pub(super) fn annotate_branch(text: &mut String, target: u64, symbolizer: &Symbolizer<'_>) {
    if let Some(sym) = symbolic_address(target, symbolizer) {
        text.push(' ');
        text.push_str(&sym);
    }
}

/// Appends gdb's comment for a RIP-relative operand:
/// `        # 0xffffffff8234abcd <sym+off>`.
pub(super) fn annotate_rip_relative(text: &mut String, target: u64, symbolizer: &Symbolizer<'_>) {
    text.push_str(COMMENT_SEPARATOR);
    text.push_str(&format!("{target:#x}"));
    annotate_branch(text, target, symbolizer);
}

/// Formats one decoded instruction into gdb's text.
pub(super) fn format_instruction(
    formatters: &mut GdbFormatters,
    instr: &iced_x86::Instruction,
    bytes: &[u8],
    symbolizer: &Symbolizer<'_>,
) -> String {
    if instr.is_invalid() {
        return "(bad)".to_string();
    }
    let mut text = String::new();
    formatters.for_instruction(instr).format(instr, &mut text);
    drop_branch_size_suffix(&mut text);
    apply_gdb_operand_quirks(instr, &mut text);
    let is_branch = matches!(
        instr.flow_control(),
        iced_x86::FlowControl::Call
            | iced_x86::FlowControl::UnconditionalBranch
            | iced_x86::FlowControl::IndirectCall
            | iced_x86::FlowControl::IndirectBranch
    );
    if instr.mnemonic() == iced_x86::Mnemonic::Nop || is_branch {
        spell_padding_prefixes(bytes, &mut text);
    }
    if let Some(target) = super::decode::direct_branch_target(instr) {
        annotate_branch(&mut text, target, symbolizer);
    } else if instr.is_ip_rel_memory_operand() {
        annotate_rip_relative(&mut text, instr.ip_rel_memory_address(), symbolizer);
    }
    text
}

/// iced keeps the AT&T `q` suffix on indirect `call`/`jmp`/`ret` and on
/// `push`/`pop` of memory; current
/// binutils (and so gdb) prints them bare.
fn drop_branch_size_suffix(text: &mut String) {
    for (with_suffix, bare) in [("callq", "call"), ("jmpq", "jmp"), ("retq", "ret"), ("pushq", "push"), ("popq", "pop")]
    {
        let Some(rest) = text.strip_prefix(with_suffix) else {
            continue;
        };
        if rest.is_empty() {
            *text = bare.to_string();
        } else if let Some(operands) = rest.strip_prefix(' ') {
            // Re-pad to the operand column the shorter mnemonic gets.
            let operands = operands.trim_start();
            *text = format!("{bare:<width$}{operands}", width = FIRST_OPERAND_COLUMN as usize);
        }
        return;
    }
}

/// Operand spellings where binutils differs from iced: the one-bit shift
/// and rotate forms have no `$0x1` operand, and port I/O names `%dx` bare.
fn apply_gdb_operand_quirks(instr: &iced_x86::Instruction, text: &mut String) {
    let code = format!("{:?}", instr.code());
    if code.ends_with("_1") && instr.op_count() == 2 && instr.op1_kind() == OpKind::Immediate8 {
        *text = text.replacen("$0x1,", "", 1);
    }
    // iced writes `imul $k,%r,%r` in its two-operand shorthand.
    if code.starts_with("Imul_r")
        && instr.op_count() == 3
        && instr.op1_kind() == OpKind::Register
        && instr.op0_register() == instr.op1_register()
        && text.matches(',').count() == 1
    {
        if let Some(reg) = text.rsplit(',').next().map(str::to_string) {
            text.push(',');
            text.push_str(&reg);
        }
    }
    if (code.starts_with("In_") || code.starts_with("Out_")) && code.contains("DX") {
        *text = text.replace("%dx", "(%dx)");
    }
}

/// Long NOPs used as padding and retpoline-thunk calls carry extra
/// operand-size and segment prefixes that binutils spells as words before
/// the mnemonic (`data16 cs nopw 0x0(%rax,%rax,1)`, `cs call ...`); iced
/// folds the segment into the operand or drops it.
fn spell_padding_prefixes(bytes: &[u8], text: &mut String) {
    let prefix_len = bytes.iter().take_while(|b| matches!(b, 0x66 | 0x2e | 0x3e | 0x26 | 0x36 | 0x64 | 0x65)).count();
    let prefixes = bytes.get(..prefix_len).unwrap_or(bytes);
    // The last operand-size prefix makes the `w` in `nopw`.
    let size_prefix = prefixes.iter().rposition(|&b| b == 0x66);
    let mut words: Vec<&str> = Vec::new();
    let mut segment = None;
    for (i, byte) in prefixes.iter().enumerate() {
        match byte {
            0x66 if Some(i) != size_prefix => words.push("data16"),
            0x66 => {}
            other => {
                let name = match other {
                    0x2e => "cs",
                    0x3e => "ds",
                    0x26 => "es",
                    0x36 => "ss",
                    0x64 => "fs",
                    _ => "gs",
                };
                words.push(name);
                segment = Some(name);
            }
        }
    }
    if words.is_empty() {
        return;
    }
    let mut operands = text.split_once(' ').map(|(_, ops)| ops.trim_start().to_string()).unwrap_or_default();
    if let Some(seg) = segment {
        operands = operands.replacen(&format!("%{seg}:"), "", 1);
    }
    let mnemonic = text.split(' ').next().unwrap_or("nop").to_string();
    words.push(&mnemonic);
    let head = words.join(" ");
    *text = if operands.is_empty() {
        head
    } else {
        format!("{head:<width$} {operands}", width = (FIRST_OPERAND_COLUMN as usize).saturating_sub(1))
    };
}
