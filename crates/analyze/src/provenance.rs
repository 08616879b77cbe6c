//! Where a register's value came from: a walk back through the function's
//! machine code, from one instruction to the load, call, or argument that
//! set the register. The walk follows one straight path; a label another
//! branch reaches with a different value in the register ends it, and the
//! report says so rather than guessing which path ran.

use std::collections::HashMap;

use iced_x86::{FlowControl, Mnemonic, OpKind, Register};
use krash_arch::disasm::{decode_one, disassemble, instruction_details};
use krash_core::VirtualMemory;

use krash_program::Kernel;

/// Bounds the bytes decoded for one function (the largest kernel functions
/// are a few tens of KiB).
const MAX_FUNCTION_BYTES: u64 = 64 * 1024;
/// Bounds how many registers one walk follows (a load's base, its base...).
const MAX_DEPTH: u32 = 4;
/// Bounds the instructions one walk steps back over.
const MAX_WALK_STEPS: usize = 4096;
/// The System V argument registers, in order.
pub(crate) const ARGUMENT_REGISTERS: [Register; 6] =
    [Register::RDI, Register::RSI, Register::RDX, Register::RCX, Register::R8, Register::R9];
/// Registers a call may change (the System V caller-saved set).
const CALL_CLOBBERED: [Register; 9] = [
    Register::RAX,
    Register::RCX,
    Register::RDX,
    Register::RSI,
    Register::RDI,
    Register::R8,
    Register::R9,
    Register::R10,
    Register::R11,
];
/// The order of `__x86_indirect_thunk_array`'s entries, 32 bytes apart.
const THUNK_ORDER: [&str; 16] =
    ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"];
const THUNK_STRIDE: u64 = 32;

/// How one instruction set the register it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// `mov disp(%base),%reg`: a load through another register.
    Load { base: String, displacement: i64, struct_name: Option<String>, member: Option<String> },
    /// A load from a global variable (RIP-relative).
    Global { symbol: String },
    /// A copy of another register.
    Copy { from: String },
    /// The return value of a call.
    ReturnValue { function: String },
    /// The register held the function's argument at entry.
    Argument { index: u32, name: Option<String>, type_name: Option<String> },
    /// An immediate (or a value an instruction leaves implicitly: `rep
    /// stos` counts %rcx down to 0). `symbol` names the global whose
    /// address it is.
    Constant { value: u64, symbol: Option<String> },
    /// Anything else (arithmetic, a stack pop, an address computation).
    Other,
}

/// One step of the walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvenanceStep {
    /// The instruction that set the register (the function's entry for an argument).
    pub address: u64,
    /// The function the instruction is in.
    pub function: String,
    /// The instruction's offset into `function` (0 for an argument: the entry).
    pub offset: u64,
    pub instruction: Option<String>,
    pub register: String,
    pub origin: Origin,
    /// `%rax = *(%rbx + 0x8) = w->inner`.
    pub sentence: String,
}

/// Where the faulting instruction's base register got its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    pub function: String,
    pub register: String,
    /// The instruction the walk started from.
    pub from_address: u64,
    /// Outermost first: the register's own origin, then the origins of the
    /// registers that origin used.
    pub steps: Vec<ProvenanceStep>,
    /// The C expression the register holds, when every step is known
    /// (`w->ops->flush`).
    pub expression: Option<String>,
    /// The C type of that value, when the walk knows it (`struct krash_queue *`).
    pub type_name: Option<String>,
    /// Why the walk stopped short of an origin, if it did.
    pub stopped: Option<String>,
}

/// A parameter of the function the walk is in, from DWARF.
#[derive(Debug, Clone)]
pub(crate) struct Parameter {
    pub name: String,
    pub type_name: String,
    /// The register holding it at entry (DWARF numbering), when DWARF's
    /// location says so. A compiler clone's rewritten parameter has none.
    pub entry_register: Option<u16>,
}

/// Bounds how many callers a walk continues into.
const MAX_CALLER_FRAMES: usize = 4;

/// `f.isra.0` → `f` and what gcc did: a compiler clone's source function.
/// Its parameters are not the source's: IPA-SRA passes members the caller
/// loaded, constant propagation drops arguments, so the registers at entry
/// are named from DWARF locations or the caller's code, never by position.
pub fn compiler_clone(name: &str) -> Option<(&str, CloneKind)> {
    let (origin, suffix) = name.split_once('.')?;
    let kind = match suffix.split('.').next()? {
        "isra" => CloneKind {
            name: "an IPA-SRA clone",
            why: "gcc rewrote its parameters: a pointer argument may arrive as a member the caller loaded",
        },
        "constprop" => CloneKind { name: "a constant-propagation clone", why: "gcc folded some arguments into it" },
        "part" => CloneKind { name: "a part", why: "gcc split it out (partial inlining)" },
        "cold" => CloneKind { name: "the cold part", why: "gcc moved its unlikely paths there" },
        _ => return None,
    };
    Some((origin, kind))
}

/// What kind of compiler clone a function is, and what that means for its arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloneKind {
    pub name: &'static str,
    pub why: &'static str,
}

/// One function's instructions, decoded once.
pub(crate) struct FunctionCode {
    pub name: String,
    pub start: u64,
    pub texts: Vec<(u64, String)>,
    pub instrs: Vec<Option<iced_x86::Instruction>>,
    /// For each branch target inside the function, the branches to it.
    pub jump_sources: HashMap<u64, Vec<usize>>,
    /// The full registers each instruction writes, computed once.
    writes: Vec<Vec<Register>>,
}

impl FunctionCode {
    /// Wraps decoded instructions, computing what each writes.
    pub fn new(
        name: String,
        start: u64,
        texts: Vec<(u64, String)>,
        instrs: Vec<Option<iced_x86::Instruction>>,
        jump_sources: HashMap<u64, Vec<usize>>,
    ) -> FunctionCode {
        let writes = instrs
            .iter()
            .map(|i| match i {
                Some(ins) => instruction_details(ins).writes().map(|r| r.full_register()).collect(),
                None => Vec::new(),
            })
            .collect();
        FunctionCode { name, start, texts, instrs, jump_sources, writes }
    }

    /// True when instruction `index` writes (any part of) full register `reg`.
    pub fn writes(&self, index: usize, reg: Register) -> bool {
        self.writes.get(index).is_some_and(|w| w.contains(&reg))
    }

    /// The index of the instruction at `addr`.
    pub fn index_of(&self, addr: u64) -> Option<usize> {
        self.texts.binary_search_by_key(&addr, |(a, _)| *a).ok()
    }

    fn location(&self, addr: u64) -> String {
        format!("{}+{:#x}", self.name, self.offset(addr))
    }

    fn offset(&self, addr: u64) -> u64 {
        addr.wrapping_sub(self.start)
    }
}

/// An operand of an addition.
enum Operand {
    Register(Register),
    Constant(u64),
}

/// What the walk knows about the value a register holds.
#[derive(Debug, Clone, Default)]
pub(crate) struct Value {
    pub expression: Option<String>,
    pub type_name: Option<String>,
}

/// The register name gdb and crash print (`rax`).
pub(crate) fn register_name(r: Register) -> String {
    format!("{r:?}").to_lowercase()
}

/// The register an indirect-branch thunk jumps through.
pub(crate) fn thunk_register(name: &str, offset: u64) -> Option<Register> {
    let name = thunk_name(name)?;
    let rest =
        name.strip_prefix("__x86_indirect_thunk_").or_else(|| name.strip_prefix("__x86_indirect_call_thunk_"))?;
    let reg = if rest == "array" {
        *THUNK_ORDER.get(usize::try_from(offset / THUNK_STRIDE).ok()?)?
    } else if offset == 0 {
        THUNK_ORDER.iter().copied().find(|r| *r == rest)?
    } else {
        return None;
    };
    parse_register(reg)
}

/// An indirect-branch thunk's name without 7.x's `__pi_` alias prefix
/// (the position-independent copy shares the address), or `None` when
/// `name` is not a thunk.
pub(crate) fn thunk_name(name: &str) -> Option<&str> {
    let name = name.strip_prefix("__pi_").unwrap_or(name);
    name.starts_with("__x86_indirect_").then_some(name)
}

/// The register gdb names `name` (`rax`).
pub(crate) fn parse_register(name: &str) -> Option<Register> {
    ARGUMENT_REGISTERS
        .iter()
        .chain(CALL_CLOBBERED.iter())
        .chain(
            [Register::RBX, Register::RBP, Register::RSP, Register::R12, Register::R13, Register::R14, Register::R15]
                .iter(),
        )
        .copied()
        .find(|r| register_name(*r) == name)
}

/// Crate-internal helpers of this module's extension of [`Kernel`].
pub(crate) trait ProvenanceInternal {
    /// Decodes the function holding `addr`.
    fn function_code(&self, addr: u64) -> Option<FunctionCode>;
    /// Walks back from the instruction at `from` in `code` to where `reg`
    /// got its value.
    /// `callers` are the return addresses of the frames above, innermost
    /// first: where a register was an argument the callee cannot name (a
    /// compiler clone's), the walk goes on in the caller before the call.
    fn register_provenance(
        &self,
        code: &FunctionCode,
        from: u64,
        reg: Register,
        module: Option<&str>,
        callers: &[u64],
    ) -> Option<Provenance>;
    /// The parameters of the function whose code holds `inside`, from
    /// DWARF. (Not its symbol's address: arm64's patchable entry puts NOPs
    /// before the entry DWARF names.)
    fn function_parameters(&self, inside: u64) -> Vec<Parameter>;
    /// The member of `struct name` at byte `offset` and its C type, from
    /// the module's DWARF or the kernel's types. A member inside a nested
    /// struct is named by its path (`f_path.dentry`).
    fn member_and_type_at(&self, name: &str, offset: u64, module: Option<&str>) -> Option<(String, String)>;
}

impl ProvenanceInternal for Kernel {
    fn function_code(&self, addr: u64) -> Option<FunctionCode> {
        let sym = self.symbolize(addr)?;
        let (start, end) = self.function_bounds(addr)?;
        let len = end.checked_sub(start)?.min(MAX_FUNCTION_BYTES);
        let bytes = self.memory().read_vec(start, usize::try_from(len).ok()?).ok()?;
        let symbolize = |a: u64| self.symbolize(a).map(|s| (s.name, s.offset));
        let decoded = disassemble(&bytes, start, &symbolize);
        let mut texts = Vec::with_capacity(decoded.len());
        let mut instrs = Vec::with_capacity(decoded.len());
        let mut jump_sources: HashMap<u64, Vec<usize>> = HashMap::new();
        for (i, d) in decoded.iter().enumerate() {
            texts.push((d.addr, d.text.clone()));
            let instr = decode_one(&d.bytes, d.addr);
            if let Some(ins) = &instr {
                if matches!(ins.flow_control(), FlowControl::ConditionalBranch | FlowControl::UnconditionalBranch) {
                    if let Some(t) = d.branch_target.filter(|t| (start..end).contains(t)) {
                        jump_sources.entry(t).or_default().push(i);
                    }
                }
            }
            instrs.push(instr);
        }
        Some(FunctionCode::new(sym.name, start, texts, instrs, jump_sources))
    }

    fn register_provenance(
        &self,
        code: &FunctionCode,
        from: u64,
        reg: Register,
        module: Option<&str>,
        callers: &[u64],
    ) -> Option<Provenance> {
        let index = code.index_of(from)?;
        let params = self.function_parameters(from);
        let callers = callers.get(..callers.len().min(MAX_CALLER_FRAMES)).unwrap_or_default();
        let tracer = Tracer { kernel: self, code, module, params, callers };
        let mut steps = Vec::new();
        let mut stopped = None;
        let value = tracer.trace(reg.full_register(), index, 0, &mut steps, &mut stopped);
        Some(Provenance {
            function: code.name.clone(),
            register: register_name(reg.full_register()),
            from_address: from,
            steps,
            expression: value.expression,
            type_name: value.type_name,
            stopped,
        })
    }

    fn function_parameters(&self, inside: u64) -> Vec<Parameter> {
        let Some((dwarf, at)) = self.dwarf_for(inside) else { return Vec::new() };
        let Ok(Some(f)) = dwarf.function_at(at) else { return Vec::new() };
        f.parameters
            .iter()
            .map(|p| Parameter {
                name: p.name.clone(),
                type_name: p.type_name.clone(),
                entry_register: dwarf.entry_register(&f, p),
            })
            .collect()
    }

    fn member_and_type_at(&self, name: &str, offset: u64, module: Option<&str>) -> Option<(String, String)> {
        use krash_debuginfo::types::{TypeKind, TypeOps, TypeProvider};
        let find = |types: &dyn TypeProvider| -> Option<(String, String)> {
            let id = types.find_type(TypeKind::Struct, name).ok()?;
            member_path_at(types, id, offset)
        };
        if let Some(m) = module {
            if let Some(dwarf) = self.module_debuginfo(m).and_then(|d| d.dwarf.clone()) {
                let types = krash_dwarf::DwarfTypes::new(dwarf);
                if let Some(found) = find(&types) {
                    return Some(found);
                }
            }
        }
        self.types().and_then(|t| find(t.as_ref()))
    }
}

/// Bounds how deep nested structs are followed.
const MAX_NESTING: usize = 8;

/// The path of the innermost member of aggregate `id` covering byte `offset`, and its type.
fn member_path_at(
    types: &dyn krash_debuginfo::types::TypeProvider,
    id: krash_debuginfo::types::TypeId,
    offset: u64,
) -> Option<(String, String)> {
    use krash_debuginfo::types::{Type, TypeOps};
    let mut path: Vec<String> = Vec::new();
    let mut current = id;
    let mut rest = offset;
    let mut leaf_type = None;
    for _ in 0..MAX_NESTING {
        let composite = match types.resolve(current).ok()? {
            (_, Type::Struct(c)) | (_, Type::Union(c)) => c,
            _ => break,
        };
        let Some(m) = composite.members.iter().rfind(|m| m.bit_offset / 8 <= rest) else { break };
        rest = rest.checked_sub(m.bit_offset / 8)?;
        if let Some(n) = &m.name {
            path.push(n.clone());
        }
        leaf_type = Some(m.ty);
        current = m.ty;
    }
    if path.is_empty() {
        return None;
    }
    Some((path.join("."), types.type_name(leaf_type?)))
}

/// x86-64's registers in DWARF's numbering (the System V psABI's): rax is 0, rdx 1...
const X86_64_DWARF_REGISTERS: [Register; 16] = [
    Register::RAX,
    Register::RDX,
    Register::RCX,
    Register::RBX,
    Register::RSI,
    Register::RDI,
    Register::RBP,
    Register::RSP,
    Register::R8,
    Register::R9,
    Register::R10,
    Register::R11,
    Register::R12,
    Register::R13,
    Register::R14,
    Register::R15,
];

/// The step for a register that holds argument `index` (0-based) of
/// `function` at its entry, and the parameter DWARF places in it: the one
/// whose entry location is that register (`regno`, DWARF numbering); by
/// position only where DWARF has no locations and the function is no
/// compiler clone (whose parameters gcc rewrote).
pub(crate) fn argument_step(
    params: &[Parameter],
    function: &str,
    entry: u64,
    regno: Option<u16>,
    register: &str,
    index: usize,
) -> (ProvenanceStep, Option<Parameter>) {
    let clone = compiler_clone(function);
    let located = params.iter().any(|p| p.entry_register.is_some());
    let param = match params.iter().find(|p| p.entry_register.is_some() && p.entry_register == regno) {
        Some(p) => Some(p.clone()),
        None if !located && clone.is_none() => params.get(index).cloned(),
        None => None,
    };
    let ordinal = index.saturating_add(1);
    let suffix = match ordinal {
        1 => "st",
        2 => "nd",
        3 => "rd",
        _ => "th",
    };
    let mut sentence = match &param {
        Some(p) => format!("%{register} = {ordinal}{suffix} argument {} ({})", p.name, p.type_name),
        None => format!("%{register} = {ordinal}{suffix} argument"),
    };
    if let (None, Some((origin, kind))) = (&param, clone) {
        sentence.push_str(&format!(" of {function}, {} of {origin}() ({})", kind.name, kind.why));
    }
    let step = ProvenanceStep {
        address: entry,
        function: function.to_string(),
        offset: 0,
        instruction: None,
        register: register.to_string(),
        origin: Origin::Argument {
            index: u32::try_from(ordinal).unwrap_or(u32::MAX),
            name: param.as_ref().map(|p| p.name.clone()),
            type_name: param.as_ref().map(|p| p.type_name.clone()),
        },
        sentence,
    };
    (step, param)
}

/// `sym` or `sym+0x10` for an address, or the number itself.
pub(crate) fn symbol_text(kernel: &Kernel, addr: u64) -> String {
    match kernel.symbolize(addr) {
        Some(s) if s.offset == 0 => s.name,
        Some(s) => format!("{}+{:#x}", s.name, s.offset),
        None => format!("{addr:#x}"),
    }
}

/// A register set to an immediate: the step's origin and sentence, and the
/// value (`&sym` when the number is a global's address).
pub(crate) fn constant_step(kernel: &Kernel, value: u64, register: &str, note: &str) -> (Origin, String, Value) {
    let symbol = (value >= 4096 && kernel.symbolize(value).is_some()).then(|| symbol_text(kernel, value));
    let (expression, sentence) = match &symbol {
        Some(sym) => (format!("&{sym}"), format!("%{register} = {value:#x} = &{sym}{note}")),
        None => (format!("{value:#x}"), format!("%{register} = {value:#x}{note}")),
    };
    (Origin::Constant { value, symbol }, sentence, Value { expression: Some(expression), type_name: None })
}

/// What a load `*(base + displacement)` reads, given what the walk knows of
/// the base: the struct the base points to, the member at the displacement
/// (from the module's DWARF or the kernel's types), the C expression, and
/// the sentence for the step.
pub(crate) fn describe_load(
    kernel: &Kernel,
    module: Option<&str>,
    register: &str,
    base: &str,
    displacement: i64,
    base_value: &Value,
) -> (String, Origin, Value) {
    let struct_name = base_value.type_name.as_deref().and_then(crate::ops_table::pointee_struct).map(str::to_string);
    let member =
        struct_name.as_deref().and_then(|s| kernel.member_and_type_at(s, u64::try_from(displacement).ok()?, module));
    let address = if displacement == 0 {
        format!("*%{base}")
    } else if displacement < 0 {
        format!("*(%{base} - {:#x})", displacement.unsigned_abs())
    } else {
        format!("*(%{base} + {displacement:#x})")
    };
    let expression = match (&base_value.expression, &member) {
        (Some(b), Some((m, _))) => Some(format!("{b}->{m}")),
        _ => None,
    };
    let mut sentence = format!("%{register} = {address}");
    if let Some(e) = &expression {
        sentence.push_str(&format!(" = {e}"));
    } else if let (Some(s), Some((m, _))) = (&struct_name, &member) {
        sentence.push_str(&format!(" = ((struct {s} *)%{base})->{m}"));
    }
    let origin = Origin::Load {
        base: base.to_string(),
        displacement,
        struct_name,
        member: member.as_ref().map(|m| m.0.clone()),
    };
    (sentence, origin, Value { expression, type_name: member.map(|m| m.1) })
}

struct Tracer<'a> {
    kernel: &'a Kernel,
    code: &'a FunctionCode,
    module: Option<&'a str>,
    params: Vec<Parameter>,
    /// Return addresses of the frames above, innermost first.
    callers: &'a [u64],
}

impl Tracer<'_> {
    /// The value `reg` holds just before instruction `before` runs.
    fn trace(
        &self,
        reg: Register,
        before: usize,
        depth: u32,
        steps: &mut Vec<ProvenanceStep>,
        stopped: &mut Option<String>,
    ) -> Value {
        let name = register_name(reg);
        let mut at = before;
        let lowest = before.saturating_sub(MAX_WALK_STEPS);
        while at > 0 {
            if at <= lowest {
                stopped.get_or_insert(format!("%{name}: gave up after {MAX_WALK_STEPS} instructions"));
                return Value::default();
            }
            if let Some(why) = self.merge_point(reg, at) {
                stopped.get_or_insert(why);
                return Value::default();
            }
            at -= 1;
            let Some(instr) = self.code.instrs.get(at).and_then(|i| i.as_ref()) else { continue };
            let (addr, text) = self.code.texts.get(at).cloned().unwrap_or_default();
            let step = |origin: Origin, sentence: String| ProvenanceStep {
                address: addr,
                function: self.code.name.clone(),
                offset: self.code.offset(addr),
                instruction: Some(text.clone()),
                register: name.clone(),
                origin,
                sentence,
            };
            if matches!(instr.flow_control(), FlowControl::Call | FlowControl::IndirectCall) {
                if reg == Register::RAX {
                    let callee = self.callee_name(instr);
                    steps.push(step(
                        Origin::ReturnValue { function: callee.clone() },
                        format!("%{name} = return value of {callee}()"),
                    ));
                    return Value { expression: Some(format!("{callee}()")), type_name: None };
                }
                if CALL_CLOBBERED.contains(&reg) {
                    stopped.get_or_insert(format!("%{name} is changed by the call at {}", self.code.location(addr)));
                    return Value::default();
                }
                continue;
            }
            if !self.code.writes(at, reg) {
                continue;
            }
            return self.explain_write(instr, reg, at, depth, step, steps, stopped);
        }
        if let Some(index) = ARGUMENT_REGISTERS.iter().position(|r| *r == reg) {
            return self.argument(reg, index, depth, steps, stopped);
        }
        stopped.get_or_insert(format!("%{name} is not set in {} before this point", self.code.name));
        Value::default()
    }

    /// `reg` holds argument `index` (0-based) at the function's entry: the
    /// parameter DWARF places there; for a compiler clone, or where DWARF
    /// names none, the value the caller put there before the call.
    fn argument(
        &self,
        reg: Register,
        index: usize,
        depth: u32,
        steps: &mut Vec<ProvenanceStep>,
        stopped: &mut Option<String>,
    ) -> Value {
        let regno = X86_64_DWARF_REGISTERS.iter().position(|r| *r == reg).and_then(|n| u16::try_from(n).ok());
        let (step, param) =
            argument_step(&self.params, &self.code.name, self.code.start, regno, &register_name(reg), index);
        steps.push(step);
        if let Some(p) = param {
            return Value { expression: Some(p.name), type_name: Some(p.type_name) };
        }
        self.in_caller(reg, depth, steps, stopped)
    }

    /// The value `reg` had at the call into this function, read from the
    /// caller's code before the call (the next frame's return address).
    fn in_caller(
        &self,
        reg: Register,
        depth: u32,
        steps: &mut Vec<ProvenanceStep>,
        stopped: &mut Option<String>,
    ) -> Value {
        let Some((&ret, outer)) = self.callers.split_first() else {
            stopped.get_or_insert(format!("%{}: no caller frame to read the argument from", register_name(reg)));
            return Value::default();
        };
        let Some(code) = self.kernel.function_code(ret.wrapping_sub(1)) else {
            stopped.get_or_insert(format!("%{}: the caller's code at {ret:#x} is unreadable", register_name(reg)));
            return Value::default();
        };
        // The call is the instruction just before the return address.
        let after_last = |i: usize| {
            let (addr, _) = code.texts.get(i)?;
            let len = code.instrs.get(i)?.as_ref()?.len() as u64;
            (addr.checked_add(len)? == ret).then_some(i)
        };
        let call = match code.index_of(ret) {
            Some(i) => i.checked_sub(1),
            // A call to a function that does not return may end the caller.
            None => code.texts.len().checked_sub(1).and_then(after_last),
        };
        let Some(call) = call else {
            stopped.get_or_insert(format!("%{}: no call before {}", register_name(reg), code.location(ret)));
            return Value::default();
        };
        let module = self.kernel.symbolize(code.start).and_then(|s| s.module);
        let params = self.kernel.function_parameters(ret.wrapping_sub(1));
        let caller = Tracer { kernel: self.kernel, code: &code, module: module.as_deref(), params, callers: outer };
        caller.trace(reg, call, depth, steps, stopped)
    }

    /// Why the walk cannot step back over the label at instruction `at`:
    /// a branch from elsewhere reaches it and `reg` may differ on that path.
    fn merge_point(&self, reg: Register, at: usize) -> Option<String> {
        let (addr, _) = self.code.texts.get(at)?;
        let sources = self.code.jump_sources.get(addr)?;
        let keeps = |i: usize| match self.code.instrs.get(i).and_then(|x| x.as_ref()) {
            Some(ins) => {
                let clobbered_by_call = matches!(ins.flow_control(), FlowControl::Call | FlowControl::IndirectCall)
                    && CALL_CLOBBERED.contains(&reg);
                !(self.code.writes(i, reg) || clobbered_by_call)
            }
            None => true,
        };
        for &src in sources {
            // A forward branch from earlier in the path with no write to
            // `reg` in between carries the same value; so does a loop's back
            // edge when the loop body never writes `reg`.
            let same_value = if src < at { (src + 1..at).all(keeps) } else { (at..=src).all(keeps) };
            if !same_value {
                let from = self.code.texts.get(src).map(|(a, _)| self.code.location(*a)).unwrap_or_default();
                return Some(format!(
                    "{} is a jump target (from {from}): %{} may come from that path, the walk stops there",
                    self.code.location(*addr),
                    register_name(reg)
                ));
            }
        }
        None
    }

    fn callee_name(&self, instr: &iced_x86::Instruction) -> String {
        if instr.flow_control() == FlowControl::Call {
            if let Some(s) = self.kernel.symbolize(instr.near_branch_target()) {
                if let Some(r) = thunk_register(&s.name, s.offset) {
                    return format!("the function pointer in %{}", register_name(r));
                }
                return s.name;
            }
        }
        "an indirect call".into()
    }

    #[allow(clippy::too_many_arguments)]
    fn explain_write(
        &self,
        instr: &iced_x86::Instruction,
        reg: Register,
        at: usize,
        depth: u32,
        step: impl Fn(Origin, String) -> ProvenanceStep,
        steps: &mut Vec<ProvenanceStep>,
        stopped: &mut Option<String>,
    ) -> Value {
        let name = register_name(reg);
        let is_move = matches!(instr.mnemonic(), Mnemonic::Mov | Mnemonic::Movzx | Mnemonic::Movsxd | Mnemonic::Movsx);
        if is_move && instr.op_count() == 2 && instr.op1_kind() == OpKind::Memory {
            if instr.is_ip_rel_memory_operand() {
                let symbol = symbol_text(self.kernel, instr.ip_rel_memory_address());
                steps.push(step(Origin::Global { symbol: symbol.clone() }, format!("%{name} = the value of {symbol}")));
                return Value { expression: Some(symbol), type_name: None };
            }
            let base = instr.memory_base().full_register();
            let displacement = instr.memory_displacement64() as i64;
            if base == Register::None || instr.memory_index() != Register::None {
                steps.push(step(Origin::Other, format!("%{name} is loaded from an indexed address")));
                return Value::default();
            }
            let base_name = register_name(base);
            let index_in_steps = steps.len();
            steps.push(step(
                Origin::Load { base: base_name.clone(), displacement, struct_name: None, member: None },
                String::new(),
            ));
            let base_value =
                if depth < MAX_DEPTH { self.trace(base, at, depth + 1, steps, stopped) } else { Value::default() };
            let (sentence, origin, value) =
                describe_load(self.kernel, self.module, &name, &base_name, displacement, &base_value);
            if let Some(s) = steps.get_mut(index_in_steps) {
                s.sentence = sentence;
                s.origin = origin;
            }
            return value;
        }
        if instr.mnemonic() == Mnemonic::Mov && instr.op_count() == 2 && instr.op1_kind() == OpKind::Register {
            let from = instr.op1_register().full_register();
            steps.push(step(Origin::Copy { from: register_name(from) }, format!("%{name} = %{}", register_name(from))));
            if depth < MAX_DEPTH {
                return self.trace(from, at, depth + 1, steps, stopped);
            }
            return Value::default();
        }
        if instr.mnemonic() == Mnemonic::Xor
            && instr.op_count() == 2
            && instr.op1_kind() == OpKind::Register
            && instr.op0_register() == instr.op1_register()
        {
            steps.push(step(Origin::Constant { value: 0, symbol: None }, format!("%{name} = 0 (xor of itself)")));
            return Value { expression: Some("0".into()), type_name: None };
        }
        if instr.mnemonic() == Mnemonic::Mov && instr.op_count() == 2 {
            if let Ok(value) = instr.try_immediate(1) {
                return self.constant(value, &name, "", step, steps);
            }
        }
        // `lea sym(%rip),%reg`: the address of a global, a constant too.
        if instr.mnemonic() == Mnemonic::Lea && instr.is_ip_rel_memory_operand() {
            return self.constant(instr.ip_rel_memory_address(), &name, " (address of a global)", step, steps);
        }
        // String instructions set their count and pointer registers
        // without naming them: `rep stos` leaves %rcx at 0 and %rdi past
        // the area it filled.
        if instr.has_rep_prefix() || instr.has_repe_prefix() {
            let what = format!("{:?}", instr.mnemonic()).to_lowercase();
            if reg == Register::RCX {
                steps.push(step(
                    Origin::Constant { value: 0, symbol: None },
                    format!("%{name} = 0: rep {what} counts it down to zero"),
                ));
                return Value { expression: Some("0".into()), type_name: None };
            }
            steps.push(step(Origin::Other, format!("%{name} points past the area rep {what} went over")));
            return Value::default();
        }
        if let Some(cc) = condition_set(instr) {
            steps.push(step(Origin::Other, format!("%{name} = 0 or 1, the {cc} condition of the last comparison")));
            return Value::default();
        }
        if instr.op_count() == 2 && format!("{:?}", instr.mnemonic()).starts_with("Cmov") {
            // A conditional move: the value is the source's, or the one
            // before; the walk does not guess which.
            steps.push(step(
                Origin::Other,
                format!("%{name} is set by a conditional move (`{}`): one of two values", text_of(self.code, at)),
            ));
            return Value::default();
        }
        if let Some(v) = self.explain_arithmetic(instr, reg, at, depth, &step, steps, stopped) {
            return v;
        }
        steps.push(step(Origin::Other, format!("%{name} is computed by `{}`", text_of(self.code, at))));
        Value::default()
    }

    /// An immediate value: a number, or the address of a global, whose
    /// name is then the answer (`&krash_serial_ops`).
    fn constant(
        &self,
        value: u64,
        name: &str,
        note: &str,
        step: impl Fn(Origin, String) -> ProvenanceStep,
        steps: &mut Vec<ProvenanceStep>,
    ) -> Value {
        let (origin, sentence, value) = constant_step(self.kernel, value, name, note);
        steps.push(step(origin, sentence));
        value
    }

    /// `add %src,%reg`, `add $imm,%reg` and `lea disp(%base),%reg`: the sum,
    /// with each register operand traced in turn.
    #[allow(clippy::too_many_arguments)]
    fn explain_arithmetic(
        &self,
        instr: &iced_x86::Instruction,
        reg: Register,
        at: usize,
        depth: u32,
        step: &impl Fn(Origin, String) -> ProvenanceStep,
        steps: &mut Vec<ProvenanceStep>,
        stopped: &mut Option<String>,
    ) -> Option<Value> {
        let name = register_name(reg);
        let operands: Vec<Operand> = match instr.mnemonic() {
            Mnemonic::Add if instr.op_count() == 2 && instr.op0_kind() == OpKind::Register => {
                let second = match instr.op1_kind() {
                    OpKind::Register => Operand::Register(instr.op1_register().full_register()),
                    _ => Operand::Constant(instr.try_immediate(1).ok()?),
                };
                vec![Operand::Register(reg), second]
            }
            Mnemonic::Lea if instr.memory_base() != Register::RIP && instr.memory_base() != Register::None => {
                let mut ops = vec![Operand::Register(instr.memory_base().full_register())];
                if instr.memory_index() != Register::None {
                    if instr.memory_index_scale() != 1 {
                        return None;
                    }
                    ops.push(Operand::Register(instr.memory_index().full_register()));
                }
                if instr.memory_displacement64() != 0 {
                    ops.push(Operand::Constant(instr.memory_displacement64()));
                }
                ops
            }
            _ => return None,
        };
        let shown: Vec<String> = operands
            .iter()
            .map(|o| match o {
                Operand::Register(r) => format!("%{}", register_name(*r)),
                Operand::Constant(c) => format!("{:#x}", *c as i64),
            })
            .collect();
        let index_in_steps = steps.len();
        steps.push(step(Origin::Other, format!("%{name} = {}", shown.join(" + "))));
        let mut parts = Vec::new();
        for o in &operands {
            match o {
                Operand::Register(r) if depth < MAX_DEPTH => {
                    parts.push(self.trace(*r, at, depth + 1, steps, stopped).expression)
                }
                Operand::Register(_) => parts.push(None),
                Operand::Constant(c) => parts.push(Some(format!("{:#x}", *c as i64))),
            }
        }
        let expression = parts.into_iter().collect::<Option<Vec<String>>>().map(|p| p.join(" + "));
        if let (Some(e), Some(s)) = (&expression, steps.get_mut(index_in_steps)) {
            s.sentence.push_str(&format!(" = {e}"));
        }
        Some(Value { expression, type_name: None })
    }
}

/// An instruction's text in the function's disassembly.
fn text_of(code: &FunctionCode, at: usize) -> String {
    code.texts.get(at).map(|t| t.1.clone()).unwrap_or_default()
}

/// `setcc`'s condition (`setne` → `ne`).
fn condition_set(instr: &iced_x86::Instruction) -> Option<String> {
    let m = format!("{:?}", instr.mnemonic()).to_lowercase();
    m.strip_prefix("set").filter(|c| !c.is_empty() && c.len() <= 3).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    use krash_program::synthetic::SyntheticKernel;

    #[test]
    fn compiler_clones() {
        assert_eq!(compiler_clone("krash_queue_pending.isra.0").map(|c| c.0), Some("krash_queue_pending"));
        assert_eq!(compiler_clone("f.constprop.3").map(|c| c.0), Some("f"));
        assert_eq!(compiler_clone("f.part.0.cold").map(|c| c.0), Some("f"));
        assert_eq!(compiler_clone("f.cold").map(|c| c.0), Some("f"));
        assert_eq!(compiler_clone("f.llvm.123"), None);
        assert_eq!(compiler_clone("plain"), None);
    }

    /// Machine code of two functions in a synthetic kernel: a clone that
    /// reads through its first argument, and its caller, which loads that
    /// argument from a member of its own.
    fn clone_and_caller() -> (krash_program::Kernel, u64, u64, u64) {
        let mut s = SyntheticKernel::new();
        // The image's bounds, which make its addresses symbolizable.
        s.function("_text", 0);
        // queue_pending.isra.0: mov 0x10(%rdi),%rax; ret
        let clone = s.function("queue_pending.isra.0", 16);
        s.write(clone, &[0x48, 0x8b, 0x47, 0x10, 0xc3]);
        // device_backlog: push %rbx; mov %rdi,%rbx; mov 0x10(%rdi),%rdi;
        // call queue_pending.isra.0; pop %rbx; ret
        let caller = s.function("device_backlog", 32);
        let call_at = caller + 8;
        let rel = (clone as i64 - (call_at as i64 + 5)) as i32;
        let mut code = vec![0x53, 0x48, 0x89, 0xfb, 0x48, 0x8b, 0x7f, 0x10, 0xe8];
        code.extend_from_slice(&rel.to_le_bytes());
        code.extend_from_slice(&[0x5b, 0xc3]);
        s.write(caller, &code);
        // zeroed: xor %eax,%eax; mov $4,%ecx; rep stos %rax,(%rdi);
        // lea -0x20(%rdi),%rdx; mov 0x8(%rcx),%rax; ret
        let zeroed = s.function("zeroed", 32);
        s.write(
            zeroed,
            &[0x31, 0xc0, 0xb9, 0x04, 0, 0, 0, 0xf3, 0x48, 0xab, 0x48, 0x8d, 0x57, 0xe0, 0x48, 0x8b, 0x41, 0x08, 0xc3],
        );
        s.global("_end", 0);
        (s.build().expect("synthetic kernel"), clone, call_at + 5, zeroed)
    }

    #[test]
    fn a_clones_argument_is_read_in_the_caller() {
        let (kernel, clone, ret, _) = clone_and_caller();
        let code = kernel.function_code(clone).expect("the clone's code decodes");
        let p = kernel.register_provenance(&code, clone, Register::RDI, None, &[ret]).expect("a walk");
        let functions: Vec<&str> = p.steps.iter().map(|s| s.function.as_str()).collect();
        assert_eq!(functions, ["queue_pending.isra.0", "device_backlog", "device_backlog"], "{p:#?}");
        assert!(matches!(p.steps[0].origin, Origin::Argument { index: 1, name: None, .. }), "{p:#?}");
        assert!(p.steps[0].sentence.contains("IPA-SRA clone of queue_pending()"), "{p:#?}");
        assert!(matches!(p.steps[1].origin, Origin::Load { displacement: 0x10, .. }), "{p:#?}");
        assert!(matches!(p.steps[2].origin, Origin::Argument { index: 1, .. }), "{p:#?}");
        // Without the caller's frame the walk says why it stopped.
        let alone = kernel.register_provenance(&code, clone, Register::RDI, None, &[]).expect("a walk");
        assert_eq!(alone.steps.len(), 1);
        assert!(alone.stopped.as_deref().is_some_and(|w| w.contains("no caller frame")), "{alone:#?}");
    }

    #[test]
    fn rep_stos_leaves_its_count_at_zero() {
        let (kernel, _, _, zeroed) = clone_and_caller();
        let code = kernel.function_code(zeroed).expect("code decodes");
        let load = code.texts.iter().find(|(_, t)| t.contains("0x8(%rcx)")).map(|(a, _)| *a).expect("the load");
        let p = kernel.register_provenance(&code, load, Register::RCX, None, &[]).expect("a walk");
        assert!(matches!(p.steps[0].origin, Origin::Constant { value: 0, .. }), "{p:#?}");
        assert!(p.steps[0].sentence.contains("rep stos"), "{p:#?}");
        assert_eq!(p.expression.as_deref(), Some("0"));
        // %rdx = %rdi - 0x20, and %rdi is where rep stos stopped.
        let ret = code.texts.last().map(|(a, _)| *a).expect("ret");
        let q = kernel.register_provenance(&code, ret, Register::RDX, None, &[]).expect("a walk");
        assert!(q.steps.iter().any(|s| s.sentence.contains("past the area rep stos")), "{q:#?}");
    }

    #[test]
    fn thunk_registers() {
        assert_eq!(thunk_register("__x86_indirect_thunk_array", 0), Some(Register::RAX));
        assert_eq!(thunk_register("__x86_indirect_thunk_array", 64), Some(Register::RDX));
        assert_eq!(thunk_register("__x86_indirect_thunk_r11", 0), Some(Register::R11));
        assert_eq!(thunk_register("__x86_indirect_thunk_array", 16 * 32), None);
        assert_eq!(thunk_register("__pi___x86_indirect_thunk_rax", 0), Some(Register::RAX));
        assert_eq!(thunk_register("memcpy", 0), None);
    }
}
