use std::fmt::Write;

use krash_commands::output::{CfsEntry, CfsQueue, GroupView, QueuedTask, Runq, RunqCpu};

pub(crate) fn render(r: &Runq) -> String {
    let mut out = String::new();
    if r.running_times {
        for q in &r.queues {
            let ms = q.queue.clock.saturating_sub(q.current_last_arrival) / 1_000_000;
            let (secs, ms) = (ms / 1000, ms % 1000);
            let (days, hours, mins, secs) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
            let _ = writeln!(
                out,
                " CPU {}: [{days} {hours:02}:{mins:02}:{secs:02}.{ms:03}]  {}",
                q.queue.cpu,
                task_words(&q.current)
            );
        }
        return out;
    }
    if r.timestamps {
        for q in &r.queues {
            let _ = writeln!(out, " CPU {}: {}", q.queue.cpu, q.queue.clock);
            // crash zero-pads the task's time to the width of the CPU's clock.
            let width = q.queue.clock.to_string().len();
            let _ = writeln!(out, "        {:0width$}  {}", q.current_last_arrival, task_words(&q.current));
        }
        return out;
    }
    if r.groups {
        for (i, q) in r.queues.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            by_group(&mut out, q);
        }
        return out;
    }
    for (i, q) in r.queues.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let rq = &q.queue;
        let _ = writeln!(out, "CPU {} RUNQUEUE: {:x}", rq.cpu, rq.rq);
        let _ = writeln!(out, "  CURRENT: {}", task_words(&q.current));
        let _ = writeln!(out, "  RT PRIO_ARRAY: {:x}", rq.rt_array);
        if rq.rt_tasks.is_empty() {
            out.push_str("     [no tasks queued]\n");
        }
        for t in &rq.rt_tasks {
            let _ = writeln!(out, "     [{:3}] {}", t.prio, task_words(t));
        }
        let _ = writeln!(out, "  CFS RB_ROOT: {:x}", rq.cfs.rb_root);
        cfs(&mut out, &rq.cfs, 5);
        for p in &rq.problems {
            let _ = writeln!(out, "  runq: {p}");
        }
    }
    out
}

fn cfs(out: &mut String, q: &CfsQueue, indent: usize) {
    let pad = " ".repeat(indent);
    if q.entries.is_empty() && q.broken.is_none() {
        let _ = writeln!(out, "{pad}[no tasks queued]");
    }
    for e in &q.entries {
        match e {
            CfsEntry::Task(t) => {
                let _ = writeln!(out, "{pad}[{:3}] {}", t.prio, task_words(t));
            }
            CfsEntry::Group { cfs_rq, queue } => {
                let _ = writeln!(out, "{pad}GROUP CFS RB_ROOT: {:x}", queue.rb_root);
                let _ = cfs_rq;
                cfs(out, queue, indent + 3);
            }
        }
    }
    if let Some(b) = &q.broken {
        let _ = writeln!(out, "{pad}runq: {b}");
    }
}

/// `runq -g`: one CPU's root task group, its current CFS task and queues.
fn by_group(out: &mut String, q: &RunqCpu) {
    let _ = writeln!(out, "CPU {}", q.queue.cpu);
    let _ = writeln!(out, "  CURRENT: {}", task_words(&q.current));
    let Some(g) = &q.group else { return };
    let _ = writeln!(out, "  ROOT_TASK_GROUP: {:x}  CFS_RQ: {:x}", g.root_task_group, g.cfs_rq);
    if let Some(prio) = g.current_prio {
        let _ = writeln!(out, "     [{prio:3}] {} [CURRENT]", task_words(&q.current));
    }
    group_queue(out, &q.queue.cfs, g, 1, g.current_prio.is_none());
}

fn group_queue(out: &mut String, queue: &CfsQueue, g: &GroupView, depth: usize, say_empty: bool) {
    let pad = " ".repeat(2 + 3 * depth);
    if queue.entries.is_empty() && say_empty {
        let _ = writeln!(out, "{pad}[no tasks queued]");
    }
    for e in &queue.entries {
        match e {
            CfsEntry::Task(t) => {
                let _ = writeln!(out, "{pad}[{:3}] {}", t.prio, task_words(t));
            }
            CfsEntry::Group { cfs_rq, queue } => {
                let tg = g.group_of.iter().find(|(rq, _)| rq == cfs_rq).map_or(0, |(_, tg)| *tg);
                let _ = writeln!(out, "{pad}TASK_GROUP: {tg:x}  CFS_RQ: {cfs_rq:x}");
                group_queue(out, queue, g, depth + 1, true);
            }
        }
    }
    if let Some(b) = &queue.broken {
        let _ = writeln!(out, "{pad}runq: {b}");
    }
}

fn task_words(t: &QueuedTask) -> String {
    format!("PID: {:<6} TASK: {:x}  COMMAND: \"{}\"", t.pid, t.task, t.comm)
}
