//! The task list and module list as `ps`, `foreach`, `task`, `mod` and
//! `mod -s` read them, over a synthetic kernel whose memory is the input.
//!
//! The input (its first 4 KiB; the rest is ignored) is the direct-map heap
//! at `H = PAGE_OFFSET + 0x400_0000` (where tasks, signal structs, mm
//! structs, modules and their kallsyms live), and it also gives the
//! contents of the kernel image's globals:
//! from offset 8 on, in this order, `init_task` (a `task_struct`, 0xa0
//! bytes), `modules` (a `list_head`), `runqueues` (CPU 0's `rq`:
//! `curr`, `idle`), `__per_cpu_offset[4]`, `nr_cpu_ids`, the present,
//! possible and online CPU masks, `panic_cpu` and `task_state_array`
//! (nine `char *`). Globals follow one another from `init_task` at
//! `0xffffffff81001008`, 8-byte aligned.
//!
//! Byte 0 picks the kernel's shape: bit 0 `state` (old) or `__state`;
//! bit 1 the CPU in `thread_info.cpu` or in `task_struct.cpu`; bits 2-3
//! the module layout (`mem[]` with `enum mod_mem_type`, `mem[]` without
//! it, `core_layout`/`init_layout`, `module_core`/`module_init`); bit 4
//! kallsyms through `mod_kallsyms` (4.6+) or in `struct module`; bit 5
//! `sect_attrs` counted (up to 6.x) or as NULL-terminated `bin_attrs`
//! (7.x); bit 6 RSS as `percpu_counter`s (6.2+) or `atomic_long_t`s;
//! bit 7 no `task_state_array` symbol (states decoded by the fallback).
//!
//! Types are compact (their offsets are in `kernel_over`), the 6.x
//! members krash_linux reads: `task_struct.{tasks, thread_node, signal,
//! __state, exit_state, pid, tgid, comm, real_parent, mm, cpu,
//! sched_info.last_arrival}`, `signal_struct.thread_head`, `rq.{curr,
//! idle}`, `mm_struct.{total_vm, rss_stat}`, `struct module.{list, name,
//! mem/core_layout/module_core, kallsyms, taints, btf_data, sect_attrs}`.
//! Each input lists tasks (`tasks()` and its problems, `task_by_pid`,
//! `panic_task`, `mm_usage` of the first eight) and modules (`modules()`,
//! `module_sections`, `module_containing`). Every walk must end on its
//! own (cycles detected, counts capped) and never panic.
#![no_main]

use krash_debuginfo::types::{Enumerator, Type, TypeId};
use krash_linux::mm::rss::RssExt;
use krash_linux::sched::task::TaskExt;
use krash_program::synthetic::SyntheticKernel;
use krash_program::Kernel;
use libfuzzer_sys::fuzz_target;

/// The image globals, with their sizes, in address order; their bytes
/// come from the input from `GLOBALS_AT` on.
const GLOBALS: [(&str, u64); 10] = [
    ("init_task", TASK_SIZE),
    ("modules", 16),
    ("runqueues", 16),
    ("__per_cpu_offset", 32),
    ("nr_cpu_ids", 8),
    ("__cpu_present_mask", 8),
    ("__cpu_possible_mask", 8),
    ("__cpu_online_mask", 8),
    ("panic_cpu", 8),
    ("task_state_array", 72),
];
const GLOBALS_AT: usize = 8;
const TASK_SIZE: u64 = 0xa0;
const MODULE_SIZE: u64 = 0x100;
/// Bytes of the input used (the rest is ignored): room for some twenty
/// tasks with their threads, mm and signal structs and a few modules, and
/// few enough list nodes to keep a run short.
const MAX_HEAP: usize = 4096;
/// Tasks whose memory use is read (as `ps` does for every task).
const MM_READS: usize = 8;

fn kernel_over(data: &[u8]) -> Option<Kernel> {
    let globals_len: u64 = GLOBALS.iter().map(|g| g.1).sum();
    if data.len() < GLOBALS_AT + globals_len as usize {
        return None;
    }
    let shape = data[0];
    let mut s = SyntheticKernel::new();
    let t = s.types();
    let void_ptr = t.pointer(TypeId::VOID);
    let int = t.int("int", 4, true);
    let uint = t.int("unsigned int", 4, false);
    let long = t.int("long int", 8, true);
    let ulong = t.int("long unsigned int", 8, false);
    let ch = t.int("char", 1, true);
    let list_head = t.structure("list_head", 16, &[("next", void_ptr, 0), ("prev", void_ptr, 8)]);

    // Tasks.
    let sched_info = t.structure(
        "sched_info",
        32,
        &[("pcount", ulong, 0), ("run_delay", ulong, 8), ("last_arrival", ulong, 16), ("last_queued", ulong, 24)],
    );
    let thread_info = t.structure("thread_info", 24, &[("flags", ulong, 0), ("status", uint, 16), ("cpu", uint, 20)]);
    let comm = t.array(ch, 16);
    let state = if shape & 1 != 0 { "state" } else { "__state" };
    let mut task = vec![
        (state, uint, 0x18),
        ("stack", void_ptr, 0x20),
        ("tasks", list_head, 0x28),
        ("mm", void_ptr, 0x38),
        ("exit_state", int, 0x40),
        ("pid", int, 0x44),
        ("tgid", int, 0x48),
        ("real_parent", void_ptr, 0x50),
        ("thread_node", list_head, 0x58),
        ("comm", comm, 0x68),
        ("signal", void_ptr, 0x78),
        ("sched_info", sched_info, 0x80),
    ];
    task.push(if shape & 2 != 0 { ("thread_info", thread_info, 0) } else { ("cpu", uint, 0x1c) });
    t.structure("task_struct", TASK_SIZE, &task);
    t.structure("signal_struct", 0x20, &[("nr_threads", int, 0), ("thread_head", list_head, 8)]);
    t.structure("rq", 16, &[("curr", void_ptr, 0), ("idle", void_ptr, 8)]);
    let rss_stat = if shape & 0x40 != 0 {
        let counter =
            t.structure("percpu_counter", 24, &[("lock", uint, 0), ("count", long, 8), ("counters", void_ptr, 16)]);
        t.array(counter, 4)
    } else {
        let counts = t.array(long, 4);
        t.structure("mm_rss_stat", 32, &[("count", counts, 0)])
    };
    t.structure("mm_struct", 0x70, &[("pgd", void_ptr, 0), ("total_vm", ulong, 8), ("rss_stat", rss_stat, 0x10)]);

    // Modules.
    let name = t.array(ch, 56);
    let mut module = vec![
        ("state", int, 0),
        ("list", list_head, 8),
        ("name", name, 0x18),
        ("taints", ulong, 0x68),
        ("btf_data", void_ptr, 0x70),
        ("btf_data_size", uint, 0x78),
        ("sect_attrs", void_ptr, 0x80),
    ];
    if shape & 0x10 != 0 {
        module.push(("kallsyms", void_ptr, 0x50));
    } else {
        module.extend([("symtab", void_ptr, 0x50), ("num_symtab", uint, 0x58), ("strtab", void_ptr, 0x60)]);
    }
    t.structure(
        "mod_kallsyms",
        0x20,
        &[("symtab", void_ptr, 0), ("num_symtab", uint, 8), ("strtab", void_ptr, 0x10), ("typetab", void_ptr, 0x18)],
    );
    match (shape >> 2) & 3 {
        layout @ (0 | 1) => {
            let memory = t.structure("module_memory", 0x10, &[("base", void_ptr, 0), ("size", uint, 8)]);
            let slots = t.array(memory, 7);
            module.push(("mem", slots, 0x88));
            if layout == 0 {
                let names = ["MOD_TEXT", "MOD_DATA", "MOD_RODATA", "MOD_RO_AFTER_INIT", "MOD_INIT_TEXT"];
                let variants = names
                    .iter()
                    .chain(&["MOD_INIT_DATA", "MOD_INIT_RODATA", "MOD_MEM_NUM_TYPES"])
                    .enumerate()
                    .map(|(i, n)| Enumerator { name: n.to_string(), value: i as i128 })
                    .collect();
                t.add(Type::Enum { name: Some("mod_mem_type".into()), size: 4, signed: false, variants });
            }
        }
        2 => {
            let layout = t.structure(
                "module_layout",
                0x18,
                &[("base", void_ptr, 0), ("size", uint, 8), ("text_size", uint, 12), ("ro_size", uint, 16)],
            );
            module.extend([("core_layout", layout, 0x88), ("init_layout", layout, 0xa0)]);
        }
        _ => module.extend([
            ("module_core", void_ptr, 0x88),
            ("module_init", void_ptr, 0x90),
            ("core_size", uint, 0x98),
            ("init_size", uint, 0x9c),
        ]),
    }
    t.structure("module", MODULE_SIZE, &module);
    let attribute = t.structure("attribute", 0x10, &[("name", void_ptr, 0), ("mode", uint, 8)]);
    let bin_attribute = t.structure(
        "bin_attribute",
        0x28,
        &[("attr", attribute, 0), ("size", ulong, 0x10), ("private", void_ptr, 0x20)],
    );
    if shape & 0x20 == 0 {
        let sect_attr = t.structure("module_sect_attr", 0x30, &[("battr", bin_attribute, 0), ("address", ulong, 0x28)]);
        let attrs = t.add(Type::Array { elem: sect_attr, len: None });
        t.structure("module_sect_attrs", 8, &[("nsections", uint, 0), ("attrs", attrs, 8)]);
    } else {
        let group = t.structure("attribute_group", 0x10, &[("name", void_ptr, 0), ("bin_attrs", void_ptr, 8)]);
        t.structure("module_sect_attrs", 0x10, &[("grp", group, 0)]);
    }

    let heap = s.alloc(data.len() as u64);
    s.write(heap, data);
    let mut at = GLOBALS_AT;
    for (name, size) in GLOBALS {
        if name == "task_state_array" && shape & 0x80 != 0 {
            continue;
        }
        let addr = s.global(name, size);
        s.write(addr, &data[at..at + size as usize]);
        at += size as usize;
    }
    s.build().ok()
}

fn walk_tasks(k: &Kernel) {
    let _ = k.task_list_problems();
    let Ok(tasks) = k.tasks() else { return };
    for task in tasks.iter().take(MM_READS) {
        let _ = k.mm_usage(task.mm);
    }
    let _ = k.task_by_pid(1);
    let _ = k.panic_task();
}

fn walk_modules(k: &Kernel) {
    let Ok(modules) = k.modules() else { return };
    for m in modules {
        let _ = k.module_sections(m);
        let _ = k.module_containing(m.base);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some(k) = kernel_over(&data[..data.len().min(MAX_HEAP)]) else { return };
    walk_tasks(&k);
    walk_modules(&k);
});
