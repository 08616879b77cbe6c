//! A stack-protector panic: the function whose canary was overwritten
//! (the panic string names it, `__stack_chk_fail` is called from its
//! epilogue, so its frame is still on the stack), the local array that was
//! written past its end (DWARF's locals of that frame), and what was
//! written there. The canary's slot is the aligned word after the buffer
//! (gcc puts character arrays next to the guard); it is checked against the
//! task's own canary (`task_struct.stack_canary`) rather than assumed.

use krash_core::VirtualMemory;
use krash_eval::frame_vars::FrameVarsExt;
use krash_linux::sched::backtrace::TaskBacktrace;
use krash_program::Kernel;

use crate::{AnalyzeHelpers, Report};

/// Bounds the bytes of a buffer read to show what overran it.
const MAX_BUFFER_BYTES: u64 = 4096;

/// The overrun behind a stack-protector panic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackSmash {
    /// The function whose canary check failed.
    pub function: String,
    /// The local array written past its end, from DWARF.
    pub buffer: Option<String>,
    pub buffer_type: Option<String>,
    pub buffer_address: Option<u64>,
    pub buffer_size: Option<u64>,
    /// The canary's stack slot and what it holds now.
    pub canary_address: Option<u64>,
    pub canary_found: Option<u64>,
    /// The task's canary (`task_struct.stack_canary`), what the slot should hold.
    pub canary_expected: Option<u64>,
    /// The text the buffer holds from its start (up to a NUL or a
    /// non-printable byte), when it is text.
    pub text: Option<String>,
}

/// Crate-internal: the overrun behind a stack-protector panic.
pub(crate) trait StackSmashInternal {
    fn explain_stack_smash(&self, report: &mut Report, trace: Option<&TaskBacktrace>);
}

impl StackSmashInternal for Kernel {
    fn explain_stack_smash(&self, report: &mut Report, trace: Option<&TaskBacktrace>) {
        let Some(function) = report.panic_string.as_deref().and_then(smashed_function) else { return };
        report.faulting_function = Some(function.clone());
        let module = self.lookup_symbol(&function).and_then(|s| s.module);
        if let Some(m) = &module {
            report.module = Some(m.clone());
            self.note_module(report, m);
        }
        let canary_expected = report.task.and_then(|task| {
            let offset = self.layouts().offset("task_struct", "stack_canary").ok()?;
            self.memory().read_u64(task.checked_add(offset)?).ok()
        });
        let mut smash = StackSmash {
            function: function.clone(),
            buffer: None,
            buffer_type: None,
            buffer_address: None,
            buffer_size: None,
            canary_address: None,
            canary_found: None,
            canary_expected,
            text: None,
        };
        // The function's own frame: its return address is the call to
        // __stack_chk_fail at its very end, looked up one byte back.
        let find = |t: &TaskBacktrace| {
            t.trace
                .frames()
                .find(|f| {
                    let at = if f.exact { f.pc } else { f.pc.wrapping_sub(1) };
                    self.symbolize(at).is_some_and(|s| s.name == function)
                })
                .cloned()
        };
        let frame = trace.and_then(find);
        let variables = frame.as_ref().map(|f| self.frame_variables(f));
        let arrays = variables.iter().flat_map(|v| v.locals.iter()).filter_map(|v| {
            let address = v.address?;
            let size = self.array_bytes(&v.type_name)?;
            Some((v, address, size))
        });
        // The array whose next aligned word no longer holds the canary.
        for (v, address, size) in arrays {
            let Some(slot) = address.checked_add(size).and_then(|end| end.checked_next_multiple_of(8)) else {
                continue;
            };
            let Ok(found) = self.memory().read_u64(slot) else { continue };
            if canary_expected.is_some_and(|c| c == found) {
                continue;
            }
            smash.buffer = Some(v.name.clone());
            smash.buffer_type = Some(v.type_name.clone());
            smash.buffer_address = Some(address);
            smash.buffer_size = Some(size);
            smash.canary_address = Some(slot);
            smash.canary_found = Some(found);
            smash.text = slot
                .checked_add(8)
                .and_then(|end| end.checked_sub(address))
                .filter(|&len| len <= MAX_BUFFER_BYTES)
                .and_then(|len| self.memory().read_vec(address, usize::try_from(len).ok()?).ok())
                .and_then(|bytes| leading_text(&bytes));
            break;
        }
        let expected = canary_expected.map(|c| format!(", not the task's canary {c:#018x}")).unwrap_or_default();
        match (&smash.buffer, smash.buffer_address, smash.buffer_size, smash.canary_address, smash.canary_found) {
            (Some(buffer), Some(address), Some(size), Some(slot), Some(found)) => {
                let ty = smash.buffer_type.clone().unwrap_or_default();
                let text = smash
                    .text
                    .as_ref()
                    .map(|t| format!(": it holds {t:?} ({} bytes, {size} fit)", t.len()))
                    .unwrap_or_default();
                report
                    .lead_finding(format!(
                        "stack overflow of a local buffer: {function}'s canary at {slot:#x} holds {found:#018x}{expected}; \
                         its local `{buffer}` ({ty}, {size} bytes at {address:#x}) was written past its end{text}"
                    ))
                    .shown_by("bt -f")
                    .shown_by(format!("rd -8 {address:#x} {}", slot.saturating_sub(address) + 8))
                    .shown_by(format!("dis -l {function}"))
                    .at(slot)
                    .at(address);
            }
            _ => {
                let why = match (&variables, &module) {
                    (None, _) => "its frame is not in the backtrace".to_string(),
                    (Some(v), Some(m)) if v.locals.is_empty() => {
                        format!("no DWARF locals for it: `mod -s {m}` loads the module's debuginfo")
                    }
                    // A frame-record unwind (arm64) does not know the frame's
                    // CFA, which DWARF places the locals relative to.
                    (Some(v), _) if v.locals.iter().any(|l| l.type_name.ends_with(']') && l.address.is_none()) => {
                        "its local arrays' frame base (the CFA) is unknown in this unwind".to_string()
                    }
                    _ => "no local array of its frame is next to an overwritten canary".to_string(),
                };
                report
                    .lead_finding(format!(
                        "{function}'s stack canary was overwritten (a local buffer written past its end), but the \
                         buffer cannot be named: {why}"
                    ))
                    .shown_by("bt -f")
                    .shown_by(format!("dis -l {function}"));
            }
        }
        report.stack_smash = Some(smash);
    }
}

/// Private helpers of this module's extension of [`Kernel`].
trait StackSmashHelpers {
    /// The size in bytes of an array type spelled `char [16]`.
    fn array_bytes(&self, type_name: &str) -> Option<u64>;
}

impl StackSmashHelpers for Kernel {
    fn array_bytes(&self, type_name: &str) -> Option<u64> {
        let (element, rest) = type_name.trim().split_once('[')?;
        let count: u64 = rest.strip_suffix(']')?.trim().parse().ok()?;
        let element = element.trim();
        let element_size = match element.trim_start_matches("const ").trim_start_matches("unsigned ") {
            "char" | "signed char" | "u8" | "s8" | "__u8" | "bool" | "_Bool" => 1,
            "short" | "u16" | "s16" | "__le16" | "__be16" => 2,
            "int" | "u32" | "s32" | "__le32" | "__be32" => 4,
            "long" | "u64" | "s64" | "long long" | "__le64" | "__be64" => 8,
            _ if element.ends_with('*') => 8,
            other => {
                let name = other.trim_start_matches("struct ").trim_start_matches("union ");
                self.layouts().size_of(name).ok()?
            }
        };
        count.checked_mul(element_size)
    }
}

/// The function a stack-protector panic names: `stack-protector: Kernel
/// stack is corrupted in: f+0x4d/0x50 [mod]` → `f`.
fn smashed_function(panic: &str) -> Option<String> {
    let (_, after) = panic.split_once("corrupted in: ")?;
    let name = after.split(['+', ' ']).next()?.trim();
    (!name.is_empty() && !name.starts_with("0x")).then(|| name.to_string())
}

/// The printable text at the start of `bytes`, up to a NUL or a
/// non-printable byte; at least 4 characters to count as text.
fn leading_text(bytes: &[u8]) -> Option<String> {
    let end = bytes.iter().position(|&b| !(0x20..0x7f).contains(&b)).unwrap_or(bytes.len());
    let text = bytes.get(..end)?;
    (text.len() >= 4).then(|| String::from_utf8_lossy(text).into_owned())
}

#[cfg(test)]
mod tests {
    use super::{leading_text, smashed_function};

    #[test]
    fn the_panic_string_names_the_function() {
        assert_eq!(
            smashed_function(
                "stack-protector: Kernel stack is corrupted in: krash_parse_label+0x4d/0x50 [krash_scenarios]"
            )
            .as_deref(),
            Some("krash_parse_label")
        );
        assert_eq!(smashed_function("stack-protector: Kernel stack is corrupted in: 0xffffffffc0001234"), None);
        assert_eq!(smashed_function("something else"), None);
    }

    #[test]
    fn text_ends_at_nul() {
        assert_eq!(leading_text(b"overlong\0xx").as_deref(), Some("overlong"));
        assert_eq!(leading_text(b"ab\0"), None);
        assert_eq!(leading_text(b"\x01\x02abc"), None);
    }
}
