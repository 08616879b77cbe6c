/// The x86-64 general registers as the kernel saves them (`struct pt_regs`
/// order is irrelevant here: this is a plain record). Dump notes (ELF
/// PRSTATUS, QEMU CPU state), `task_struct.thread` and exception frames all
/// produce one of these.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct X86_64Regs {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub rbp: u64,
    pub rbx: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rax: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    pub orig_rax: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
    pub fs_base: u64,
    pub gs_base: u64,
    /// Control register 3 (page-table root), when the source records it
    /// (QEMU CPU notes do; ELF PRSTATUS does not).
    pub cr3: Option<u64>,
}

impl X86_64Regs {
    /// Builds from the 27-word `user_regs_struct` layout used by ELF
    /// PRSTATUS `pr_reg` (r15 first, gs last).
    pub fn from_user_regs(words: &[u64]) -> Option<Self> {
        if words.len() < 21 {
            return None;
        }
        Some(X86_64Regs {
            r15: words[0],
            r14: words[1],
            r13: words[2],
            r12: words[3],
            rbp: words[4],
            rbx: words[5],
            r11: words[6],
            r10: words[7],
            r9: words[8],
            r8: words[9],
            rax: words[10],
            rcx: words[11],
            rdx: words[12],
            rsi: words[13],
            rdi: words[14],
            orig_rax: words[15],
            rip: words[16],
            cs: words[17],
            rflags: words[18],
            rsp: words[19],
            ss: words[20],
            fs_base: words.get(21).copied().unwrap_or(0),
            gs_base: words.get(22).copied().unwrap_or(0),
            cr3: None,
        })
    }

    /// DWARF register numbering for x86-64 (System V psABI), used by CFI
    /// and location expressions.
    pub fn dwarf(&self, regno: u16) -> Option<u64> {
        Some(match regno {
            0 => self.rax,
            1 => self.rdx,
            2 => self.rcx,
            3 => self.rbx,
            4 => self.rsi,
            5 => self.rdi,
            6 => self.rbp,
            7 => self.rsp,
            8 => self.r8,
            9 => self.r9,
            10 => self.r10,
            11 => self.r11,
            12 => self.r12,
            13 => self.r13,
            14 => self.r14,
            15 => self.r15,
            16 => self.rip,
            _ => return None,
        })
    }
}
