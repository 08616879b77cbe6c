#!/usr/bin/env python3
"""drgn's view of a lab dump, saved as JSON for differential tests.

usage: drgn_oracle.py VMLINUX VMCORE MODULE_KO OUT.json
Records: uname, the crashed thread, every task (pid, comm, state, task
address, stack trace), modules, and the kernel log.
"""
import json
import sys
import time


def frame_record(frame):
    rec = {"pc": hex(frame.pc)}
    try:
        rec["function"] = frame.name
    except Exception:  # noqa: BLE001
        rec["function"] = None
    try:
        sym = frame.symbol()
        rec["symbol"] = sym.name
        rec["offset"] = hex(frame.pc - sym.address)
    except (LookupError, ValueError):
        rec["symbol"] = None
    rec["inline"] = bool(frame.is_inline)
    rec["interrupted"] = bool(frame.interrupted)
    try:
        rec["sp"] = hex(frame.sp)
    except (LookupError, ValueError):
        pass
    try:
        fn, line, _col = frame.source()
        rec["source"] = f"{fn}:{line}"
    except (LookupError, ValueError):
        pass
    return rec


def stack(prog, thread_or_task):
    try:
        trace = prog.stack_trace(thread_or_task)
        return [frame_record(f) for f in trace], None
    except Exception as e:  # noqa: BLE001 - record, do not fail, on unwind errors
        return [], f"{type(e).__name__}: {e}"


def stack_of_thread(thread):
    try:
        return [frame_record(f) for f in thread.stack_trace()], None
    except Exception as e:  # noqa: BLE001
        return [], f"{type(e).__name__}: {e}"


def main():
    vmlinux, vmcore, module_ko, out_path = sys.argv[1:5]
    result = {"vmcore": vmcore, "opened": False}
    t0 = time.monotonic()
    try:
        import drgn
        from drgn.helpers.linux.pid import for_each_task
        from drgn.helpers.linux.sched import task_state_to_char, task_cpu
        from drgn.helpers.linux.printk import get_printk_records

        result["drgn_version"] = drgn.__version__
        prog = drgn.Program()
        prog.set_core_dump(vmcore)
        result["opened"] = True
        try:
            prog.load_debug_info([vmlinux, module_ko], main=True)
        except drgn.MissingDebugInfoError as e:
            result["missing_debug_info"] = str(e)[:2000]
        uts = prog["init_uts_ns"].name
        result["uname"] = {f: getattr(uts, f).string_().decode() for f in
                           ("sysname", "nodename", "release", "version", "machine")}
        try:
            crashed = prog.crashed_thread()
            frames, err = stack_of_thread(crashed)
            result["crashed_thread"] = {"tid": crashed.tid, "task": hex(crashed.object.value_()),
                                        "comm": crashed.object.comm.string_().decode(errors="replace"),
                                        "stack": frames, "stack_error": err}
        except Exception as e:  # noqa: BLE001
            result["crashed_thread"] = {"error": f"{type(e).__name__}: {e}"}
        tasks = []
        for task in for_each_task(prog):
            frames, err = stack(prog, task)
            rec = {"pid": task.pid.value_(), "tgid": task.tgid.value_(),
                   "comm": task.comm.string_().decode(errors="replace"),
                   "state": task_state_to_char(task), "task": hex(task.value_()),
                   "cpu": task_cpu(task), "stack": frames}
            if err:
                rec["stack_error"] = err
            tasks.append(rec)
        result["tasks"] = tasks
        modules = []
        for mod in drgn.helpers.linux.list.list_for_each_entry(
                "struct module", prog["modules"].address_of_(), "list"):
            base = mod.mem[prog.constant("MOD_TEXT")].base if hasattr(mod, "mem") else mod.core_layout.base
            modules.append({"name": mod.name.string_().decode(), "base": hex(base.value_())})
        result["modules"] = modules
        result["dmesg"] = [{"timestamp_ns": r.timestamp, "text": r.text.decode(errors="replace")}
                           for r in get_printk_records(prog)]
    except Exception as e:  # noqa: BLE001 - the JSON records why drgn failed
        result["error"] = f"{type(e).__name__}: {e}"
    result["seconds"] = round(time.monotonic() - t0, 2)
    with open(out_path, "w") as f:
        json.dump(result, f, indent=1)
    sys.exit(0 if result["opened"] and "error" not in result else 1)


if __name__ == "__main__":
    import drgn.helpers.linux.list  # noqa: F401 - used via the drgn namespace
    main()
