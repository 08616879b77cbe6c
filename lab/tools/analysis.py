"""The analysis of a scenario's dumps: every peer's transcript, then manifest.json.

lab/build calls `configure` once, then `analyse` for each scenario whose
dumps are new or whose analysis inputs changed.  The lab keys the analysis on
this file (with lab/oracle/* and aptroot.py), not on lab/build, so changing
how the lab is built does not rerun the peers on dumps already analysed.
"""
import contextlib
import json
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import aptroot
import dumpmaker
import kernels

# Set by configure(): lab_dir, lab_src, sid_root (a function returning the sid
# root, made on first use), log.
CONTEXT = SimpleNamespace(lab_dir=None, lab_src=None, sid_root=None, log=print)


def configure(lab_dir, lab_src, sid_root, log):
    CONTEXT.lab_dir, CONTEXT.lab_src, CONTEXT.sid_root, CONTEXT.log = Path(lab_dir), Path(lab_src), sid_root, log


CRASH_TIMEOUT = 300
DRGN_TIMEOUT = 300

# Memory images the peers cannot read: no oracle runs on them.
NO_ORACLE_FORMATS = {"lime": "crash 8.0.2, crash 9.0.2 and drgn 0.3.0 do not read LiME images"}

# The peers.  `crash` is the host's (Debian bookworm, 8.0.2); `crash-9` is sid's
# (9.0.2), run in the sid root; `drgn` is lab/oracle/drgn_oracle.py (pip's drgn);
# `drgn-crash` is drgn's crash-language CLI fed lab/oracle/crash-commands.
ORACLES = ("crash", "crash-9", "drgn", "drgn-crash")
# The second peers run on one dump per kernel: its null-member scenario's main
# dump (the first of a scenario's: kdump-zlib, or the ELF copy of /proc/vmcore
# where makedumpfile cannot read the kernel, capture "copy").  The tests run
# these two themselves where they compare (the support matrix on each kernel's
# null-member dump, the SLAB flavor's `kmem -s` against crash 9), and no test
# reads their transcripts of other dumps, which cost 5-7 minutes of the lab's
# time from nothing.  What the lab keeps of them: whether each opens the
# kernel's dumps (peer-limits), and their view of one dump per kernel.
ONE_DUMP_PER_KERNEL = {"crash-9": "null-member", "drgn-crash": "null-member"}
# drgn runs on every format but NO_ORACLE_FORMATS.
# crash 8.0.2 runs on every format of the scenarios that get every format
# (kernels.py `variants`), and on the main dump only of the others: their
# second file (the flattened stream makedumpfile wrote, which the main dump
# was rebuilt from) holds the same pages, which krash's tests read in both
# files.  A crash run is 5-20 s of a core; on every file it was a sixth of the
# lab's time from nothing (issue 13's budget).
VARIANT_FORMATS_ONLY = {"crash"}

# Peers that cannot read a guest architecture at all: not run on its dumps
# (oracle_status says skipped, known_oracle_failures why).  Debian builds crash
# for its own architecture only; drgn reads arm64 dumps on this host.
ARCH_LIMITED_PEERS = {
    "arm64": {
        "crash": "crash 8.0.2 (Debian bookworm's, built for x86-64) reads dumps of its own architecture "
                 "only: not run on arm64 dumps",
        "crash-9": "crash 9.0.2 (Debian sid's, built for x86-64) reads dumps of its own architecture "
                   "only: not run on arm64 dumps",
    },
}

# What a peer prints when it meets a limitation of its own, and the reason the
# lab records (known_oracle_failures) when a run fails with it: facts about the
# tools, seen in their transcripts (regular expressions over the transcript).
# A failure matching none is a lab failure.
KNOWN_PEER_LIMITS = [
    ("crash", r"seek error: kernel virtual address: [0-9a-f]+ +type: \"page_offset_base\"",
     "crash 8.0.2 cannot open this kernel's dumps: it misreads page_offset_base (6.12 and later)"),
    ("crash", r"crash: cannot determine base kernel version\nWARNING: invalid linux_banner pointer",
     "crash 8.0.2 cannot open this kernel's dumps: it finds no linux_banner, so no kernel version "
     "(6.12 and later)"),
    ("crash", r"crash: \S+ and \S+ do not match!",
     "crash 8.0.2 cannot open this kernel's dumps: it reads a wrong linux_banner and says the vmlinux "
     "and the dump (made from the same build) do not match (6.12 and later)"),
    ("crash", r"\A[^\n]*\n# exit: 1\n# opened: false\n# seconds: [0-9.]+\n# ---- stdout\n\s*# ---- stderr\n\s*\Z",
     "crash 8.0.2 exits with status 1 and, under -s, prints nothing on this kernel's dumps (run with "
     "-d 2 it says why: 'seek error: kernel virtual address: ... type: \"page_offset_base\"')"),
    ("crash-9", r"invalid structure member offset: module_num_gpl_syms",
     "crash 9.0.2 cannot open this kernel's dumps: struct module has no num_gpl_syms (7.x)"),
    ("drgn", r"KDUMP_ATTR_ARCH_NAME has no value",
     "libkdumpfile (drgn 0.3.0) cannot tell the architecture of QEMU's kdump files: "
     "KDUMP_ATTR_ARCH_NAME has no value"),
    ("drgn-crash", r"KDUMP_ATTR_ARCH_NAME has no value",
     "libkdumpfile (drgn 0.3.0) cannot tell the architecture of QEMU's kdump files"),
]
# Peers whose known limitation is one of the kernel (its layout), not of a dump
# format: once seen on a kernel, they are not run on its other dumps (a failing
# crash still spends up to a minute loading the vmlinux).  The run that showed it
# is kept in dumps/<KV>/peer-limits/ and every manifest points there.
KERNEL_WIDE_LIMITS = {"crash", "crash-9"}


_tools = {}
_tools_lock = threading.Lock()


def probe_tool(tool):
    """Name and version of one peer (crash 9's needs the sid root, made on first use)."""
    if tool == "crash":
        crash = subprocess.run(["crash", "--version"], capture_output=True, text=True).stdout
        crash_version = next((line.strip() for line in crash.splitlines() if line.startswith("crash ")), "crash ?")
        return f"{crash_version} (the host's Debian package)"
    if tool == "crash-9":
        version = aptroot.root_package_version(CONTEXT.sid_root(), "crash")
        return f"crash {version} (Debian sid's package, run in the sid root)"
    drgn_version = subprocess.run([sys.executable, "-c", "import drgn; print(drgn.__version__)"],
                                  capture_output=True, text=True).stdout.strip()
    if tool == "drgn":
        return f"drgn {drgn_version} (lab/oracle/drgn_oracle.py)"
    return f"drgn {drgn_version} drgn-crash (crash's commands on drgn)"


def oracle_tools(tools=ORACLES):
    """Name and version of each of the peers, for the manifests."""
    with _tools_lock:
        for tool in tools:
            if tool not in _tools:
                _tools[tool] = probe_tool(tool)
        return {tool: _tools[tool] for tool in tools}


def crash_commands(module_ko, facts):
    template = (CONTEXT.lab_src / "oracle/crash-commands").read_text()
    return "".join(
        line.format(module_ko=module_ko, faulting_function=facts["faulting_function"]) + "\n"
        for line in template.splitlines() if line.strip() and not line.startswith("#"))


def drgn_crash_binary():
    """drgn's crash-language CLI as pip installs it (beside this python: pyenv keeps it off PATH)."""
    beside = Path(sys.executable).parent / "drgn-crash"
    return str(beside) if beside.exists() else (shutil.which("drgn-crash") or "drgn-crash")


def crash_like_oracle(tool, vmlinux, dump, module_ko, facts, out):
    """crash (host), crash 9 (sid root) or drgn-crash on one dump, fed the lab's crash commands."""
    commands = crash_commands(module_ko, facts)
    if tool == "crash":
        argv = shown = ["crash", "-s", str(vmlinux), str(dump)]
    elif tool == "crash-9":
        shown = ["crash", "-s", str(vmlinux), str(dump)]
        binds = [CONTEXT.lab_dir / "kernels" / dump_kernel(dump), Path(dump).parent]
        argv = aptroot.in_root_command(CONTEXT.sid_root(), shown, binds)
        shown = ["chroot", "<sid root>", *shown]
    else:
        argv = [drgn_crash_binary(), str(vmlinux), str(dump)]
        shown = ["drgn-crash", str(vmlinux), str(dump)]
    t = time.monotonic()
    try:
        r = subprocess.run(argv, input=commands, capture_output=True, text=True, timeout=CRASH_TIMEOUT,
                           errors="replace")
        rc, stdout, stderr = r.returncode, r.stdout, r.stderr
    except subprocess.TimeoutExpired as e:
        rc, stdout, stderr = "timeout", (e.stdout or b"").decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or ""), ""
    secs = time.monotonic() - t
    # crash's `sys` always has a PANIC: line; drgn-crash's has none when the
    # kernel did not call panic() (an oops that went straight to kdump).
    opened = "RELEASE:" in stdout and ("DUMPFILE:" in stdout if tool == "drgn-crash" else "PANIC:" in stdout)
    header = (f"# {' '.join(shown)}\n# exit: {rc}\n# opened: {str(opened).lower()}\n"
              f"# seconds: {secs:.1f}\n")
    if tool == "drgn-crash":
        # Its prompt is printed, not the commands: they are listed here.
        header += "# ---- commands\n" + commands
    out.write_text(header + "# ---- stdout\n" + stdout + "\n# ---- stderr\n" + stderr)
    return {"exit": rc, "opened": opened, "seconds": round(secs, 1)}


def dump_kernel(dump):
    """The kernel release of a dump under dumps/KV/SCENARIO/."""
    return Path(dump).parent.parent.name


def drgn_oracle(vmlinux, dump, module_ko, out):
    t = time.monotonic()
    try:
        r = subprocess.run([sys.executable, str(CONTEXT.lab_src / "oracle/drgn_oracle.py"), str(vmlinux),
                            str(dump), str(module_ko), str(out)],
                           capture_output=True, text=True, timeout=DRGN_TIMEOUT)
        rc, err = r.returncode, r.stderr
    except subprocess.TimeoutExpired:
        rc, err = "timeout", "timeout"
    if not out.exists():
        out.write_text(json.dumps({"opened": False, "error": err[-3000:]}, indent=1))
    opened = json.loads(out.read_text()).get("opened", False)
    return {"exit": rc, "opened": opened, "seconds": round(time.monotonic() - t, 1)}


def oracle_file(tool, fmt):
    return f"oracle/{tool}.{fmt}.json" if tool == "drgn" else f"oracle/{tool}.{fmt}.txt"


def oracle_failed(tool, status, text):
    """Whether a peer's run failed: did not open the dump, or (drgn) recorded an error."""
    if tool == "drgn":
        try:
            res = json.loads(text)
        except ValueError:
            return True
        return not res.get("opened") or "error" in res or not res.get("tasks")
    return not status.get("opened")


def known_limit(tool, text):
    """The reason the lab records for a failed run whose output shows a known peer limitation."""
    for name, pattern, reason in KNOWN_PEER_LIMITS:
        if name == tool and re.search(pattern, text):
            return reason
    return None


PEER_LIMIT_LOCKS = {}
# (peer, kernel) pairs seen reading a dump in this run: no need to probe them one at a time.
PEER_OPENS = set()
PEER_LIMIT_LOCKS_GUARD = threading.Lock()


def peer_limit_lock(tool, kv):
    with PEER_LIMIT_LOCKS_GUARD:
        return PEER_LIMIT_LOCKS.setdefault((tool, kv), threading.Lock())


def peer_limits_file(kv):
    return CONTEXT.lab_dir / "dumps" / kv / "peer-limits.json"


def seen_peer_limit(tool, kv, vmlinux):
    """The limitation of tool already seen on kernel kv (same tool version, same vmlinux), or None."""
    f = peer_limits_file(kv)
    rec = (json.loads(f.read_text()) if f.exists() else {}).get(tool)
    if rec and rec.get("tool") == oracle_tools()[tool] and rec.get("vmlinux_bytes") == Path(vmlinux).stat().st_size \
            and (f.parent / rec["transcript"]).exists():
        return rec
    return None


def record_peer_limit(tool, kv, vmlinux, reason, transcript, seen_on):
    """Keeps the run that showed tool's limitation on kv, for the manifests of kv's other dumps."""
    f = peer_limits_file(kv)
    records = json.loads(f.read_text()) if f.exists() else {}
    rel = f"peer-limits/{tool}.txt"
    (f.parent / "peer-limits").mkdir(parents=True, exist_ok=True)
    shutil.copy(transcript, f.parent / rel)
    records[tool] = {"reason": reason, "transcript": rel, "seen_on": seen_on, "tool": oracle_tools()[tool],
                     "vmlinux_bytes": Path(vmlinux).stat().st_size}
    write_json(f, records)


def run_oracles(kv, scenario, work, vmlinux, dumps, facts, every_format):
    """Every peer on the dumps it reads: transcripts in work/oracle, their paths,
    status, and the failures that are known limitations of the peer.
    every_format: the scenario is one of the kernel's `variants`."""
    oracle_dir = work / "oracle.tmp"
    shutil.rmtree(oracle_dir, ignore_errors=True)
    oracle_dir.mkdir()
    ko = work / "krash_scenarios.ko"
    paths = {tool: {} for tool in ORACLES}
    status = {tool: {} for tool in ORACLES}
    known = {tool: {} for tool in ORACLES}
    main_format = dumps[0]["format"]
    cannot_read_arch = ARCH_LIMITED_PEERS.get(kernels.arch(kv), {})
    for d in dumps:
        fmt, f = d["format"], work / d["file"]
        for tool in ORACLES:
            if fmt in NO_ORACLE_FORMATS:
                status[tool][fmt] = {"skipped": NO_ORACLE_FORMATS[fmt]}
                known[tool][fmt] = NO_ORACLE_FORMATS[fmt]
                continue
            if tool in cannot_read_arch:
                status[tool][fmt] = {"skipped": cannot_read_arch[tool]}
                known[tool][fmt] = cannot_read_arch[tool]
                continue
            if tool in ONE_DUMP_PER_KERNEL and (scenario, fmt) != (ONE_DUMP_PER_KERNEL[tool], main_format):
                status[tool][fmt] = {"skipped": f"{tool} runs on the {ONE_DUMP_PER_KERNEL[tool]} scenario's "
                                                f"{main_format} dump only (the tests run it where they compare)"}
                continue
            if tool in VARIANT_FORMATS_ONLY and fmt != main_format and not every_format:
                status[tool][fmt] = {"skipped": f"{tool} runs on every format of the variant scenarios "
                                                f"and on the {main_format} dump of the others"}
                continue
            rel = oracle_file(tool, fmt)
            out = oracle_dir / Path(rel).name
            if tool == "drgn":
                status[tool][fmt] = drgn_oracle(vmlinux, f, ko, out)
                paths[tool][fmt] = rel
                reason = known_limit(tool, out.read_text(errors="replace")) \
                    if oracle_failed(tool, status[tool][fmt], out.read_text(errors="replace")) else None
                if reason:
                    known[tool][fmt] = reason
                continue
            # One run at a time per (peer, kernel) until it is known whether the
            # peer can open this kernel at all.
            probing = tool in KERNEL_WIDE_LIMITS and (tool, kv) not in PEER_OPENS
            with peer_limit_lock(tool, kv) if probing else contextlib.nullcontext():
                seen = seen_peer_limit(tool, kv, vmlinux) if tool in KERNEL_WIDE_LIMITS else None
                if seen:
                    status[tool][fmt] = {"skipped": f"known limitation, seen on {seen['seen_on']}: {seen['reason']}"}
                    paths[tool][fmt] = f"../{seen['transcript']}"
                    known[tool][fmt] = seen["reason"]
                    continue
                status[tool][fmt] = crash_like_oracle(tool, vmlinux, f, ko, facts, out)
                paths[tool][fmt] = rel
                text = out.read_text(errors="replace")
                failed = oracle_failed(tool, status[tool][fmt], text)
                if not failed:
                    PEER_OPENS.add((tool, kv))
                reason = known_limit(tool, text) if failed else None
                if reason:
                    known[tool][fmt] = reason
                    if tool in KERNEL_WIDE_LIMITS:
                        record_peer_limit(tool, kv, vmlinux, reason, out, f"{work.name}/{fmt}")
    shutil.rmtree(work / "oracle", ignore_errors=True)
    oracle_dir.rename(work / "oracle")
    return paths, status, known


def analyse(kv, scenario, kernel_root, out):
    """Oracle transcripts and manifest.json for the dumps already in out."""
    made = json.loads((out / "dumps.json").read_text())
    facts = dumpmaker.scenario_facts(kv, out)
    vmlinux = kernel_root / f"usr/lib/debug/boot/vmlinux-{kv}"
    t = time.monotonic()
    CONTEXT.log(f"{kv}/{scenario}: oracles on {len(made['dumps'])} dumps")
    every_format = scenario in kernels.spec(kv)["variants"]
    oracles, oracle_status, known = run_oracles(kv, scenario, out, vmlinux, made["dumps"], facts, every_format)
    timings = dict(made["timings_seconds"], oracles=round(time.monotonic() - t, 1))
    expected = dict(facts)
    expected["rip_function_seen"] = made["rip_function_seen"]
    expected["makedumpfile_dump_level"] = made.get("dump_level")
    ran = [tool for tool in ORACLES if tool not in ARCH_LIMITED_PEERS.get(kernels.arch(kv), {})]
    manifest = {
        "kernel": kv, "arch": kernels.arch(kv), "scenario": scenario, "vmlinux": str(vmlinux),
        "module_ko": str(out / "krash_scenarios.ko"),
        "module_debug_dir": str(kernel_root / f"usr/lib/debug/lib/modules/{kv}"),
        "console_log": "console.log", "dmesg": "vmcore-dmesg.txt",
        "dump_level": made.get("dump_level"), "boot_attempts": made.get("boot_attempts", 1),
        "main_format": made["dumps"][0]["format"], "capture": made.get("capture", {"method": "makedumpfile"}),
        "dumps": made["dumps"], "oracles": oracles, "oracle_status": oracle_status,
        "oracle_tools": oracle_tools(ran), "known_oracle_failures": known,
        "expected": expected, "timings_seconds": timings,
    }
    if made.get("live_transcript"):
        manifest["live_transcript"] = made["live_transcript"]
        manifest["lime_ranges"] = made.get("lime_ranges", [])
    write_json(out / "manifest.json", manifest)


def write_json(path, obj):
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1) + "\n")
    tmp.rename(path)
