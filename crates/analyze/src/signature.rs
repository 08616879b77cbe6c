//! Crash signatures that bucket like a fleet's: Socorro's model of sentinel,
//! irrelevant and prefix frames, with the rules in a data file users can
//! extend (`data/signature-rules`, built in; see its header).

use std::path::PathBuf;
use std::sync::OnceLock;

use crate::PanicKind;

/// The rules krash ships.
const BUILTIN: &str = include_str!("../data/signature-rules");

/// Most frames a signature names besides prefix frames.
const SIGNATURE_FRAMES: usize = 3;

/// One name pattern: exact, `name*` (prefix) or `*name` (suffix).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    Exact(String),
    StartsWith(String),
    EndsWith(String),
}

impl Pattern {
    fn parse(text: &str) -> Pattern {
        if let Some(p) = text.strip_suffix('*') {
            Pattern::StartsWith(p.to_string())
        } else if let Some(s) = text.strip_prefix('*') {
            Pattern::EndsWith(s.to_string())
        } else {
            Pattern::Exact(text.to_string())
        }
    }

    fn matches(&self, name: &str) -> bool {
        match self {
            Pattern::Exact(e) => name == e,
            Pattern::StartsWith(p) => name.starts_with(p.as_str()),
            Pattern::EndsWith(s) => name.ends_with(s.as_str()),
        }
    }
}

/// The three lists of a rules file.
#[derive(Debug, Clone, Default)]
pub struct SignatureRules {
    sentinel: Vec<Pattern>,
    irrelevant: Vec<Pattern>,
    prefix: Vec<Pattern>,
}

impl SignatureRules {
    /// Parses a rules file: `[sentinel]`, `[irrelevant]` and `[prefix]`
    /// sections of one pattern per line, `#` comments. Lines outside a
    /// known section are errors, with their line number.
    pub fn parse(text: &str) -> Result<SignatureRules, String> {
        let mut rules = SignatureRules::default();
        let mut section: Option<&mut Vec<Pattern>> = None;
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or_default().trim();
            if line.is_empty() {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = Some(match name {
                    "sentinel" => &mut rules.sentinel,
                    "irrelevant" => &mut rules.irrelevant,
                    "prefix" => &mut rules.prefix,
                    other => return Err(format!("line {}: unknown section [{other}]", n + 1)),
                });
                continue;
            }
            match section.as_deref_mut() {
                Some(list) => list.push(Pattern::parse(line)),
                None => return Err(format!("line {}: `{line}` is before any [section]", n + 1)),
            }
        }
        Ok(rules)
    }

    /// Adds another file's rules to these.
    pub fn extend(&mut self, more: SignatureRules) {
        self.sentinel.extend(more.sentinel);
        self.irrelevant.extend(more.irrelevant);
        self.prefix.extend(more.prefix);
    }

    /// The built-in rules only.
    pub fn builtin() -> SignatureRules {
        // The built-in file is part of the source: a unit test parses it.
        SignatureRules::parse(BUILTIN).unwrap_or_default()
    }

    /// Whether a frame is skipped: its name or its clone's origin matches
    /// an irrelevant pattern (`f.cold*` can name just the cold part).
    pub fn is_irrelevant(&self, name: &str) -> bool {
        let family = function_family(name);
        self.irrelevant.iter().any(|p| p.matches(name) || p.matches(family))
    }

    /// Whether a frame is one the bug is rarely in (joined with the next).
    pub fn is_prefix(&self, name: &str) -> bool {
        let family = function_family(name);
        self.prefix.iter().any(|p| p.matches(name) || p.matches(family))
    }

    fn is_sentinel(&self, name: &str) -> bool {
        self.sentinel.iter().any(|p| p.matches(name))
    }

    /// The signature of a crash whose backtrace is `frames` (the faulting
    /// function first, then its callers): from the first sentinel frame if
    /// one matches, irrelevant frames skipped, prefix frames kept and joined
    /// with the next, up to three other frames.
    pub fn signature(&self, kind: PanicKind, frames: &[String]) -> String {
        let names: Vec<&str> = frames.iter().map(|f| krash_debuginfo::crash_name(f)).collect();
        let start = names.iter().position(|n| self.is_sentinel(function_family(n))).unwrap_or(0);
        let mut parts = vec![kind.name().to_string()];
        let mut counted = 0;
        for raw in names.iter().skip(start) {
            if counted == SIGNATURE_FRAMES {
                break;
            }
            let name = function_family(raw);
            if self.is_irrelevant(raw) || parts.last().is_some_and(|l| l == name) {
                continue;
            }
            if !self.is_prefix(name) {
                counted += 1;
            }
            parts.push(name.to_string());
        }
        parts.join(":")
    }
}

/// Where a user's own rules are read from: `$KRASH_SIGNATURE_RULES`, else
/// `~/.config/krash/signature-rules` (XDG_CONFIG_HOME honoured).
fn user_rules_path() -> Option<PathBuf> {
    user_data_path("KRASH_SIGNATURE_RULES", "signature-rules")
}

/// A user's data file that adds to a built-in one: the file `$env` names,
/// else `~/.config/krash/NAME` (`$XDG_CONFIG_HOME/krash/NAME`) when it exists.
pub(crate) fn user_data_path(env: &str, name: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        return Some(p.into());
    }
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(config.join("krash").join(name)).filter(|p| p.is_file())
}

/// The rules in force: built in, plus the user's. A user file that cannot
/// be read or parsed is reported once on stderr and left out.
pub fn rules() -> &'static SignatureRules {
    static RULES: OnceLock<SignatureRules> = OnceLock::new();
    RULES.get_or_init(|| {
        let mut rules = SignatureRules::builtin();
        if let Some(path) = user_rules_path() {
            match std::fs::read_to_string(&path).map_err(|e| e.to_string()).and_then(|t| SignatureRules::parse(&t)) {
                Ok(more) => rules.extend(more),
                Err(e) => eprintln!("krash: signature rules {}: {e} (not used)", path.display()),
            }
        }
        rules
    })
}

/// The source function a compiler clone belongs to: `f.cold`,
/// `f.isra.0`, `f.part.1`, `f.constprop.0` are all `f`, so one crash gets
/// one signature whatever the compiler split. Allocation-profiling
/// builds (6.10+) name allocators `kmem_cache_alloc_noprof`: the same
/// function for a signature.
pub(crate) fn function_family(name: &str) -> &str {
    let base = name.split_once('.').map_or(name, |(base, _)| base);
    base.strip_suffix("_noprof").unwrap_or(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_rules_parse() {
        let rules = SignatureRules::parse(BUILTIN).expect("data/signature-rules parses");
        assert!(rules.irrelevant.len() > 50 && rules.prefix.len() > 20, "{rules:?}");
        assert!(rules.is_irrelevant("asm_exc_page_fault"));
        assert!(rules.is_irrelevant("amd_e400_idle"));
        assert!(!rules.is_irrelevant("krash_widget_generation"));
    }

    #[test]
    fn arm64_entry_and_softirq_frames_are_plumbing() {
        let rules = SignatureRules::builtin();
        let f = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        // A timer's BUG() in softirq on arm64 (6.1), then under panic()'s delay loop.
        let timer = f(&[
            "krash_timer_fire",
            "call_timer_fn",
            "__run_timers",
            "run_timer_softirq",
            "handle_softirqs",
            "__do_softirq",
            "____do_softirq",
            "call_on_irq_stack",
            "do_softirq_own_stack",
            "el1_interrupt",
            "el1h_64_irq_handler",
            "el1h_64_irq",
            "arch_cpu_idle",
            "secondary_start_kernel",
            "__secondary_switched",
        ]);
        assert_eq!(rules.signature(PanicKind::Bug, &timer), "bug:krash_timer_fire");
        // 6.12 runs the timer wheel from __run_timer_base; a fault goes through do_bad_area.
        assert_eq!(rules.signature(PanicKind::Bug, &f(&["t", "call_timer_fn", "__run_timer_base"])), "bug:t");
        assert_eq!(rules.signature(PanicKind::PagingFault, &f(&["do_bad_area", "g"])), "paging_fault:g");
        let sysrq = f(&["vectors", "__delay_cycles", "__delay", "__const_udelay", "panic", "sysrq_handle_crash"]);
        assert_eq!(rules.signature(PanicKind::Sysrq, &sysrq), "sysrq:sysrq_handle_crash");
        let syscall = f(&["f", "ksys_write", "__arm64_sys_write", "invoke_syscall", "el0_svc_common", "el0t_64_sync"]);
        assert_eq!(rules.signature(PanicKind::NullDeref, &syscall), "null_deref:f");
    }

    #[test]
    fn socorro_rules() {
        let rules =
            SignatureRules::parse("[sentinel]\nreport_*\n[irrelevant]\npanic*\nasm_*\n[prefix]\nmemcpy*\nkfree\n")
                .expect("parses");
        let f = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        // Irrelevant frames skipped; clones and _noprof folded.
        assert_eq!(rules.signature(PanicKind::Bug, &f(&["panic", "a.cold", "b.isra.0", "c", "d"])), "bug:a:b:c");
        // Prefix frames kept, joined with the next, not counted.
        assert_eq!(
            rules.signature(PanicKind::Gpf, &f(&["memcpy_orig", "kfree", "rx", "poll", "softirq", "x"])),
            "gpf:memcpy_orig:kfree:rx:poll:softirq"
        );
        // A sentinel frame starts the signature.
        assert_eq!(rules.signature(PanicKind::Warning, &f(&["x", "y", "report_bad", "z"])), "warning:report_bad:z");
        // Repeated frames (recursion) are named once.
        assert_eq!(rules.signature(PanicKind::Bug, &f(&["r", "r", "r", "s"])), "bug:r:s");
        assert_eq!(rules.signature(PanicKind::Gpf, &f(&["kmem_cache_alloc_noprof"])), "gpf:kmem_cache_alloc");
    }

    #[test]
    fn bad_rules_are_named() {
        assert_eq!(SignatureRules::parse("foo\n").unwrap_err(), "line 1: `foo` is before any [section]");
        assert_eq!(SignatureRules::parse("# c\n[nope]\n").unwrap_err(), "line 2: unknown section [nope]");
        let mut r = SignatureRules::builtin();
        r.extend(SignatureRules::parse("[irrelevant]\nmy_wrapper\n").expect("parses"));
        assert!(r.is_irrelevant("my_wrapper"));
    }
}
