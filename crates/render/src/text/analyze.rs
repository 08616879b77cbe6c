//! `analyze` as text: what, where, why, evidence, signature.

use std::fmt::Write as _;

use krash_commands::output::{Finding, Owner, Report};

/// Renders the report for a terminal.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "WHAT:  {} ({})", r.description, r.kind.name());
    if let Some(h) = &r.headline {
        let _ = writeln!(out, "       log: {h}");
    }
    if let Some(p) = &r.panic_string {
        let _ = writeln!(out, "       panic: {p}");
    }
    let task = match (&r.pid, &r.comm) {
        (Some(pid), Some(comm)) => format!("PID {pid} \"{comm}\""),
        _ => "unknown task".into(),
    };
    let cpu = r.cpu.map(|c| c.to_string()).unwrap_or_else(|| "?".into());
    let _ = writeln!(out, "       {task} on CPU {cpu}, {} context", r.context);
    let _ = writeln!(out, "WHERE: {}", r.faulting_function.as_deref().unwrap_or("unknown"));
    if let Some(rip) = r.rip {
        let _ = writeln!(
            out,
            "       {} {rip:#018x}{}",
            r.pc_label,
            r.instruction.as_ref().map(|i| format!(": {i}")).unwrap_or_default()
        );
    } else if let Some(i) = &r.instruction {
        let _ = writeln!(out, "       {i}");
    }
    if let Some(s) = &r.source {
        let _ = writeln!(out, "       source: {}:{}", s.relative, s.line);
    }
    if r.inline_chain.len() > 1 {
        for (i, f) in r.inline_chain.iter().enumerate() {
            let by = if i == 0 { "" } else { "(inlined by) " };
            match &f.location {
                Some(l) => writeln!(out, "       {by}{} at {}:{}", f.function, l.relative, l.line),
                None => writeln!(out, "       {by}{}", f.function),
            }
            .ok();
        }
    }
    if let Some(m) = &r.module {
        let _ = writeln!(
            out,
            "       module: {m}{}",
            r.module_taint.as_ref().map(|t| format!(" (taint {t})")).unwrap_or_default()
        );
    }
    if !r.findings.is_empty() {
        let _ = writeln!(out, "WHY:");
        for f in &r.findings {
            let _ = writeln!(out, "       {}", f.sentence);
            if let Some(evidence) = claim_evidence(f) {
                let _ = writeln!(out, "         ({evidence})");
            }
        }
    }
    for c in &r.corrupt_values {
        let _ = writeln!(
            out,
            "       %{} = {:#018x}: {}{}",
            c.register,
            c.value,
            c.class,
            c.text.as_ref().map(|t| format!(" {t:?}")).unwrap_or_default()
        );
    }
    if let Some(p) = &r.provenance {
        let _ = writeln!(out, "PROVENANCE of %{} in {}:", p.register, p.function);
        for s in &p.steps {
            // An argument has no instruction: it is the function's entry.
            let location = match s.instruction {
                Some(_) => format!("{}+{:#x}", s.function, s.offset),
                None => s.function.clone(),
            };
            let _ = writeln!(out, "       {location:<32} {}", s.sentence);
        }
        if let Some(why) = &p.stopped {
            let _ = writeln!(out, "       (stopped: {why})");
        }
    }
    if let Some(l) = &r.loop_list {
        let name = l.head_symbol.clone().unwrap_or_else(|| "list".into());
        let _ = writeln!(
            out,
            "LOOP:  {} walks {name} at {:#x}: {} entries{}",
            l.function,
            l.head,
            l.length,
            l.broken.as_ref().map(|b| format!(" ({b})")).unwrap_or_default()
        );
    }
    if !r.blocked_tasks.is_empty() {
        let _ = writeln!(out, "BLOCKED (D state):");
        for b in &r.blocked_tasks {
            let waits = match (&b.waits_on_symbol, b.waits_on) {
                (Some(s), _) => format!("  [waits on {s}]"),
                (None, Some(a)) => format!("  [waits on {a:#x}]"),
                _ => String::new(),
            };
            let _ = writeln!(out, "       {:>6} {:<16} {}{waits}", b.pid, b.comm, b.frames.join(" <- "));
        }
    }
    if !r.deadlock.is_empty() {
        let _ = writeln!(out, "DEADLOCK (each task holds the lock the one before it waits for):");
        for l in &r.deadlock {
            let _ = writeln!(
                out,
                "       {:>6} {:<16} in {:<24} holds {:<24} waits for {}",
                l.pid,
                l.comm,
                l.function.as_deref().unwrap_or("?"),
                l.holds_name(),
                l.waits_for_name()
            );
        }
    }
    if !r.locks.is_empty() {
        let _ = writeln!(out, "LOCKS:");
        for l in &r.locks {
            let name = l.symbol.clone().unwrap_or_else(|| format!("{:#x}", l.address));
            let _ =
                writeln!(out, "       {} {name} at {:#x}: {} waiter(s) on its wait list", l.kind, l.address, l.waiters);
            match &l.owner {
                Some(o) => {
                    let _ = writeln!(out, "         owner: PID {} \"{}\" task {:#x}", o.pid, o.comm, o.task);
                    let _ = writeln!(out, "         owner stack: {}", o.frames.join(" <- "));
                }
                None => {
                    let _ = writeln!(out, "         owner: not recorded");
                }
            }
        }
    }
    if let Some(s) = &r.slab {
        let _ = writeln!(
            out,
            "SLAB:  cache {} at {:#x}, CPU {} kmem_cache_cpu {:#x}",
            s.cache, s.cache_addr, s.cpu, s.kmem_cache_cpu
        );
        let _ = writeln!(out, "       freelist head {:#018x}, cpu slab {:#x}", s.freelist, s.slab);
        if let Some(p) = &s.problem {
            let _ = writeln!(out, "       {}", super::kmem::freelist_problem(p));
        }
    }
    let _ = writeln!(out, "EVIDENCE:");
    for e in &r.evidence {
        let _ = writeln!(out, "       krash> {e}");
    }
    let _ = writeln!(out, "SIGNATURE: {}", r.signature);
    for k in &r.known_issues {
        let _ =
            writeln!(out, "KNOWN: {}{}", k.note, k.fix.as_ref().map(|f| format!(" (fix: {f})")).unwrap_or_default());
    }
    if let Some(o) = &r.owner {
        owner(&mut out, o);
    }
    out
}

/// Who to call, after the signature a fleet buckets by.
fn owner(out: &mut String, o: &Owner) {
    match o {
        Owner::Subsystem { function, file, section, status, maintainers, reviewers, lists, broader } => {
            let status = status.as_deref().map(|s| format!(" ({s})")).unwrap_or_default();
            let _ = writeln!(out, "OWNER: {section}{status}: {function} is in {file}");
            for (what, who) in [("maintainer", maintainers), ("reviewer", reviewers), ("list", lists)] {
                for w in who {
                    let _ = writeln!(out, "       {what}: {w}");
                }
            }
            if !broader.is_empty() {
                let _ = writeln!(out, "       also covered by: {}", broader.join(", "));
            }
        }
        Owner::Module { function, module, taint, out_of_tree } => {
            let taint = taint.as_deref().map(|t| format!(", taint {t}")).unwrap_or_default();
            let whose = if *out_of_tree { "an out-of-tree module: its vendor" } else { "a module" };
            let _ = writeln!(out, "OWNER: {function} is in {module} ({whose}{taint})");
        }
        Owner::Unknown { why, .. } => {
            let _ = writeln!(out, "OWNER: unknown: {why}");
        }
    }
}

/// Under a WHY sentence: the commands that show it and the addresses it
/// rests on, or None when it has neither.
fn claim_evidence(f: &Finding) -> Option<String> {
    let mut parts: Vec<String> = f.shown_by.iter().map(|c| format!("krash> {c}")).collect();
    if !f.addresses.is_empty() {
        let addresses: Vec<String> = f.addresses.iter().map(|a| format!("{a:x}")).collect();
        parts.push(format!("at {}", addresses.join(" ")));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}
