"""drgn's account of the big machine's dump (lab/big/README.md), for the tests.

    python3 drgn_oracle.py VMLINUX DUMP OUT_JSON OUT_LOG

OUT_JSON: the tasks (count, by state letter, kthreads, per comm prefix), the
CPUs and each one's current task, the mounts.  OUT_LOG: the kernel log as drgn
reads it from the printk ring (makedumpfile --dump-dmesg cannot read QEMU's
dumps of a KASLR kernel, and a capture kernel would have to read all 16 GiB
under TCG).
"""
import collections
import json
import sys
import time

import drgn
from drgn.helpers.linux.cpumask import for_each_online_cpu
from drgn.helpers.linux.fs import for_each_mount
from drgn.helpers.linux.pid import for_each_task
from drgn.helpers.linux.printk import get_dmesg
from drgn.helpers.linux.sched import cpu_curr, task_state_to_char

PF_KTHREAD = 0x00200000


def main():
    vmlinux, dump, out_json, out_log = sys.argv[1:5]
    t = time.monotonic()
    prog = drgn.Program()
    prog.set_core_dump(dump)
    prog.load_debug_info([vmlinux])
    states = collections.Counter()
    prefixes = collections.Counter()
    tasks = kthreads = 0
    for task in for_each_task(prog):
        tasks += 1
        states[task_state_to_char(task)] += 1
        if task.flags.value_() & PF_KTHREAD:
            kthreads += 1
        prefixes[task.comm.string_().decode(errors="replace").split("/")[0]] += 1
    cpus = {}
    for cpu in for_each_online_cpu(prog):
        curr = cpu_curr(prog, cpu)
        cpus[str(cpu)] = {"pid": curr.pid.value_(), "comm": curr.comm.string_().decode(errors="replace")}
    mounts = collections.Counter()
    for mnt in for_each_mount(prog):
        mounts[mnt.mnt.mnt_sb.s_type.name.string_().decode()] += 1
    with open(out_log, "wb") as f:
        f.write(get_dmesg(prog))
    record = {"tool": f"drgn {drgn.__version__}", "tasks": tasks, "kthreads": kthreads,
              "task_states": dict(sorted(states.items())), "comm_prefixes": dict(prefixes.most_common(40)),
              "cpus": cpus, "mounts_by_type": dict(sorted(mounts.items())), "mounts": sum(mounts.values()),
              "seconds": round(time.monotonic() - t, 1)}
    with open(out_json, "w") as f:
        json.dump(record, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
