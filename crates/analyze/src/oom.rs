//! An out-of-memory panic (`vm.panic_on_oom`): the page allocator could not
//! satisfy an allocation and, instead of killing a task, the kernel
//! panicked. Who used the memory is the question; the report answers it the
//! way an engineer does with `kmem -i`, `kmem -s` and `ps`: the machine's
//! memory, the slab caches that hold the most, and the processes with the
//! largest resident sets, and says which of them is out of proportion. The
//! allocation that failed (its task, GFP flags and order) comes from the
//! OOM killer's own header in the log.

use krash_linux::mm::meminfo::MeminfoExt;
use krash_linux::mm::rss::RssExt;
use krash_linux::mm::slab::SlabExt;
use krash_linux::sched::backtrace::TaskBacktrace;
use krash_linux::sched::task::TaskExt;
use krash_program::Kernel;

use crate::{AnalyzeHelpers, Report};

/// How many caches and processes are reported.
const TOP_SHOWN: usize = 5;
/// A consumer holding more than this share of memory (in percent) is
/// named as the cause.
const DOMINANT_PERCENT: u64 = 30;

/// The allocation the OOM killer was invoked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OomRequest {
    /// The allocating task's command name.
    pub comm: Option<String>,
    /// `gfp_mask=0x40cc0(GFP_KERNEL|__GFP_COMP)`: the mask and its flags.
    pub gfp_mask: Option<String>,
    pub order: Option<u32>,
}

/// A slab cache and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheUse {
    pub name: String,
    pub allocated: u64,
    pub total: u64,
    /// The object's size in its slab (`kmem_cache.size`).
    pub object_size: u64,
    /// The cache's slabs' memory.
    pub bytes: u64,
}

/// A process and its resident set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskUse {
    pub pid: i32,
    pub comm: String,
    pub rss_bytes: u64,
}

/// Where the memory went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OomUse {
    pub request: OomRequest,
    pub total_bytes: Option<u64>,
    pub free_bytes: Option<u64>,
    /// Memory in slab caches (all of them).
    pub slab_bytes: u64,
    /// The largest caches, largest first.
    pub top_caches: Vec<CacheUse>,
    /// The processes with the largest resident sets, largest first.
    pub top_tasks: Vec<TaskUse>,
    /// The consumer named as the cause (`slab cache X`, `process X`), when
    /// one holds more than a third of memory.
    pub culprit: Option<String>,
}

/// Reads the OOM killer's header: `X invoked oom-killer: gfp_mask=...(...), order=N, ...`.
pub fn parse_oom_request(bodies: &[&str]) -> Option<OomRequest> {
    let line = bodies.iter().rev().find(|b| b.contains(" invoked oom-killer: "))?;
    let (comm, rest) = line.split_once(" invoked oom-killer: ")?;
    let mut request = OomRequest { comm: Some(comm.trim().to_string()), ..OomRequest::default() };
    // The mask's flags are in parentheses with `|` but no `,`: split on ", ".
    for part in rest.split(", ") {
        if let Some(mask) = part.strip_prefix("gfp_mask=") {
            request.gfp_mask = Some(mask.to_string());
        } else if let Some(order) = part.strip_prefix("order=") {
            request.order = order.trim().parse().ok();
        }
    }
    Some(request)
}

/// Crate-internal: explains an OOM panic.
pub(crate) trait OomInternal {
    fn explain_oom(&self, report: &mut Report, log_bodies: &[&str], trace: Option<&TaskBacktrace>);
}

impl OomInternal for Kernel {
    fn explain_oom(&self, report: &mut Report, log_bodies: &[&str], trace: Option<&TaskBacktrace>) {
        let request = parse_oom_request(log_bodies).unwrap_or_default();
        let meminfo = self.meminfo().ok();
        let page = meminfo.as_ref().map_or(4096, |m| m.page_size);
        let total_bytes = meminfo.as_ref().map(|m| m.total.saturating_mul(page));
        let free_bytes = meminfo.as_ref().map(|m| m.free.saturating_mul(page));
        let mut caches: Vec<CacheUse> = self
            .slab_caches()
            .map(|all| {
                all.iter()
                    .filter_map(|c| {
                        let t = self.cache_totals(c).ok()?;
                        let slab_bytes = page.checked_shl(c.order)?;
                        Some(CacheUse {
                            name: c.name.clone(),
                            allocated: t.allocated,
                            total: t.total,
                            object_size: u64::from(c.size),
                            bytes: t.slabs.saturating_mul(slab_bytes),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let slab_bytes = caches.iter().map(|c| c.bytes).fold(0u64, u64::saturating_add);
        caches.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.name.cmp(&b.name)));
        caches.truncate(TOP_SHOWN);
        let mut tasks: Vec<TaskUse> = self
            .tasks()
            .map(|all| {
                all.iter()
                    .filter(|t| t.mm != 0 && t.is_thread_group_leader())
                    .filter_map(|t| {
                        let usage = self.mm_usage(t.mm).ok()?;
                        Some(TaskUse {
                            pid: t.pid,
                            comm: t.comm.clone(),
                            rss_bytes: usage.rss_pages.saturating_mul(page),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        tasks.sort_by(|a, b| b.rss_bytes.cmp(&a.rss_bytes).then_with(|| a.pid.cmp(&b.pid)));
        tasks.truncate(TOP_SHOWN);

        let share = |bytes: u64| total_bytes.filter(|&t| t > 0).map(|t| bytes.saturating_mul(100) / t);
        let culprit = match (caches.first(), tasks.first()) {
            (Some(c), t)
                if share(c.bytes).is_some_and(|p| p > DOMINANT_PERCENT) && t.is_none_or(|t| t.rss_bytes < c.bytes) =>
            {
                Some(format!("slab cache {}", c.name))
            }
            (_, Some(t)) if share(t.rss_bytes).is_some_and(|p| p > DOMINANT_PERCENT) => {
                Some(format!("process {} (PID {})", t.comm, t.pid))
            }
            _ => None,
        };
        let asked = match (&request.comm, request.order, &request.gfp_mask) {
            (Some(comm), Some(order), Some(gfp)) => format!("{comm}'s order-{order} allocation ({gfp}) failed"),
            (Some(comm), _, _) => format!("an allocation by {comm} failed"),
            _ => "an allocation failed".to_string(),
        };
        let memory = match (total_bytes, free_bytes) {
            (Some(t), Some(f)) => format!(" with {} of {} free", size_text(f), size_text(t)),
            _ => String::new(),
        };
        let cause = match (&culprit, caches.first(), tasks.first()) {
            (Some(c), Some(top), _) if c.starts_with("slab cache") => format!(
                "; slab cache {} holds {} ({}% of memory) in {} objects of {} bytes: a leak of its objects is the \
                 likely cause",
                top.name,
                size_text(top.bytes),
                share(top.bytes).unwrap_or_default(),
                top.allocated,
                top.object_size
            ),
            (Some(c), _, Some(t)) => format!(
                "; {c} has {} resident ({}% of memory)",
                size_text(t.rss_bytes),
                share(t.rss_bytes).unwrap_or_default()
            ),
            _ => "; no single slab cache or process holds more than a third of memory".to_string(),
        };
        report
            .lead_finding(format!("out of memory and panic_on_oom set: {asked}{memory}{cause}"))
            .shown_by("kmem -i")
            .shown_by("kmem -s")
            .shown_by("ps");
        if !caches.is_empty() {
            let list: Vec<String> = caches.iter().map(|c| format!("{} {}", c.name, size_text(c.bytes))).collect();
            report
                .finding(format!("slab caches hold {}; the largest: {}", size_text(slab_bytes), list.join(", ")))
                .shown_by("kmem -s");
        }
        if !tasks.is_empty() {
            let list: Vec<String> =
                tasks.iter().map(|t| format!("{} (PID {}) {}", t.comm, t.pid, size_text(t.rss_bytes))).collect();
            report.finding(format!("largest resident sets: {}", list.join(", "))).shown_by("ps");
        }
        // The code that asked: the first frame past the allocator and the OOM
        // killer (the memory manager's own code, by its source file where
        // DWARF gives one, else by name).
        let asker = trace.into_iter().flat_map(|t| t.trace.frames()).find_map(|f| {
            let name = &f.symbol.as_ref()?.name;
            let at = if f.exact { f.pc } else { f.pc.wrapping_sub(1) };
            let in_mm = self.source_line(at).is_some_and(|l| l.file.starts_with("mm/") || l.file.contains("/mm/"));
            (!crate::is_plumbing(name) && !is_allocator(name) && !in_mm).then(|| name.clone())
        });
        if let Some(f) = &asker {
            report.faulting_function = Some(f.clone());
            if let Some(m) = self.lookup_symbol(f).and_then(|s| s.module) {
                report.module = Some(m.clone());
                self.note_module(report, &m);
            }
        }
        report.oom = Some(OomUse {
            request,
            total_bytes,
            free_bytes,
            slab_bytes,
            top_caches: caches,
            top_tasks: tasks,
            culprit,
        });
    }
}

/// A size in MiB, or KiB below one MiB.
fn size_text(bytes: u64) -> String {
    if bytes >= 1024 * 1024 {
        format!("{} MiB", bytes / (1024 * 1024))
    } else {
        format!("{} KiB", bytes / 1024)
    }
}

/// The page and slab allocators' own frames, which every allocation passes.
fn is_allocator(name: &str) -> bool {
    const ALLOCATOR: [&str; 16] = [
        "__alloc_pages",
        "alloc_pages",
        "alloc_slab_page",
        "allocate_slab",
        "new_slab",
        "___slab_alloc",
        "__slab_alloc",
        "slab_alloc",
        "kmem_cache_alloc",
        "__kmem_cache_alloc",
        "kmalloc",
        "__kmalloc",
        "kmem_cache_zalloc",
        "cache_grow",
        "cache_alloc_refill",
        "____cache_alloc",
    ];
    let base = name.split('.').next().unwrap_or(name);
    ALLOCATOR.iter().any(|a| base == *a || base.starts_with(&format!("{a}_")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oom_header_gives_the_request() {
        let log = [
            "krash_reqd invoked oom-killer: gfp_mask=0x40cc0(GFP_KERNEL|__GFP_COMP), order=0, oom_score_adj=0",
            "CPU: 1 PID: 127 Comm: krash_reqd",
        ];
        let r = parse_oom_request(&log).expect("parsed");
        assert_eq!(r.comm.as_deref(), Some("krash_reqd"));
        assert_eq!(r.gfp_mask.as_deref(), Some("0x40cc0(GFP_KERNEL|__GFP_COMP)"));
        assert_eq!(r.order, Some(0));
    }

    #[test]
    fn allocator_frames_are_known() {
        assert!(is_allocator("kmem_cache_alloc_lru"));
        assert!(is_allocator("__alloc_pages_slowpath.constprop.0"));
        assert!(is_allocator("___slab_alloc"));
        assert!(!is_allocator("krash_req_worker"));
    }
}
