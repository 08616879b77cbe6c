"""The lab's big machine (lab/big/README.md): a 32-CPU, 16 GiB guest with ~20 000
tasks, 1.5 million slab objects and a million-entry list, dumped by QEMU.

It has its own inputs and cache key (lab/big/*, this file, the QEMU helpers),
so changing it does not remake the other scenarios' dumps, and theirs do not
remake it.  The result is LAB_DIR/big/<kv>/big.json (the manifest the tests
and scripts/bench --scale read), beside vmcore.kdump-zlib, console.log and
vmcore.elf (sparse), console.log and drgn's account of the dump (drgn.json,
dmesg.drgn.txt).  QEMU dumps it, from the host: a kdump capture kernel would
read and compress all 16 GiB under TCG.  drgn 0.3.0 reads QEMU's ELF dump but
not its kdump-compressed one.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import cpio_newc
import dumpmaker
import qemu_guest

# It runs on the kernel whose entry in lab/tools/kernels.py says "big".
CPUS = 32
MEMORY = "16G"
# Boot, ~12 500 kthread creations and ~8 000 user tasks under TCG, then the dump.
TIMEOUT = 1800

INPUTS = ["big/krash_big.c", "big/Kbuild", "big/zoo.c", "big/init", "big/drgn_oracle.py", "tools/big_scenario.py",
          "tools/cpio_newc.py", "tools/qemu_guest.py"]

FACTS_PREFIX = "krash-facts: "
ZOO_PREFIX = "krash-zoo: "


class BigError(Exception):
    """A step of the big scenario failed; the message says which."""


def key(lab_src, kv, fw_cfg_ko, busybox):
    h = hashlib.sha256()
    for name in INPUTS:
        h.update(name.encode() + b"\0" + (lab_src / name).read_bytes())
    h.update(f"\0{kv}\0{CPUS}\0{MEMORY}\0".encode() + hashlib.sha256(busybox.read_bytes()).digest())
    h.update(hashlib.sha256(fw_cfg_ko).digest())
    return h.hexdigest()[:16]


def json_line(text, prefix):
    """The JSON object of the last console line carrying prefix, or None."""
    found = None
    for line in text.splitlines():
        i = line.find(prefix)
        if i >= 0:
            found = json.loads(line[i + len(prefix):].strip())
    return found


def build_zoo(lab_src, out):
    zoo = out / "krash-zoo"
    r = subprocess.run(["gcc", "-static", "-O2", "-pthread", "-o", str(zoo), str(lab_src / "big/zoo.c")],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise BigError(f"building krash-zoo failed:\n{r.stderr[-2000:]}")
    return zoo


def build_initramfs(lab_src, ko, fw_cfg_ko, zoo, busybox, path):
    arc = cpio_newc.Archive()
    for d in ("bin", "sbin", "usr", "usr/bin", "usr/sbin", "lib", "lib/krash", "proc", "sys", "dev", "tmp",
              "mnt", "etc", "root"):
        arc.directory(d)
    arc.char_device("dev/console", 5, 1)
    arc.char_device("dev/null", 1, 3)
    arc.file("init", (lab_src / "big/init").read_bytes(), 0o755)
    arc.file("bin/busybox", busybox.read_bytes(), 0o755)
    arc.symlink("bin/sh", "busybox")
    arc.file("bin/krash-zoo", zoo.read_bytes(), 0o755)
    arc.file("lib/krash/krash_big.ko", ko.read_bytes(), 0o644)
    # It hands the kernel's VMCOREINFO to QEMU (-device vmcoreinfo) for the dump.
    arc.file("lib/krash/qemu_fw_cfg.ko", fw_cfg_ko, 0o644)
    path.write_bytes(arc.finish())


def sparse_copy(src, dst):
    """Copy a stream (QEMU writing into a FIFO) into dst, leaving 64 KiB blocks of
    zeros as holes: the guest's 16 GiB take the disk space of what it wrote."""
    block = 1 << 16
    zeros = bytes(block)
    with open(src, "rb") as fi, open(dst, "wb") as fo:
        while True:
            chunk = fi.read(block)
            if not chunk:
                break
            if chunk == zeros[:len(chunk)]:
                fo.seek(len(chunk), 1)
            else:
                fo.write(chunk)
        fo.truncate()


def dump_elf(qmp, work):
    """dump-guest-memory as ELF, through a FIFO, into a sparse vmcore.elf."""
    fifo = work / "elf.fifo"
    os.mkfifo(fifo)
    failed = []

    def copy():
        try:
            sparse_copy(fifo, work / "vmcore.elf")
        except OSError as e:
            failed.append(e)
    reader = threading.Thread(target=copy)
    reader.start()
    try:
        qmp.execute("dump-guest-memory", paging=False, protocol=f"file:{fifo}")
    finally:
        reader.join()
        fifo.unlink()
    if failed:
        raise BigError(f"copying QEMU's ELF dump: {failed[0]}")


def boot_and_dump(kernel_root, kv, initramfs, work, log):
    """Boot the big guest, wait for its panic, and dump it with QMP twice: ELF
    (sparse: what drgn reads) and kdump-zlib (QEMU skips pages that read as zero).

    Returns {step: seconds}.  The boot-and-QMP steps mirror
    qemu_guest.boot_and_dump, which has no size options and no FIFO: changing
    that file remakes every scenario's dumps (it is one of their inputs), so
    the two are to be folded together in the next change that remakes them.
    """
    console = work / "console.log"
    qmp_path = work / "qmp.sock"
    append = "console=ttyS0 panic=0"
    # Later -m and -smp options override the helper's defaults.
    extra = ["-m", MEMORY, "-smp", str(CPUS), "-device", "vmcoreinfo",
             "-qmp", f"unix:{qmp_path},server=on,wait=off"]
    cmd = qemu_guest.qemu_command(kernel_root / f"boot/vmlinuz-{kv}", initramfs, append, console, (), extra)
    timings = {}
    t = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        qmp = qemu_guest.Qmp(qmp_path, TIMEOUT)
        deadline = time.monotonic() + TIMEOUT
        marks = ["big guest up", "module loaded", "triggering big"]
        while True:
            text = console.read_text(errors="replace") if console.exists() else ""
            while marks and f"krash-init: {marks[0]}" in text:
                timings[marks.pop(0)] = round(time.monotonic() - t, 1)
                log(f"{timings}")
            if qemu_guest.PANIC_END in text:
                break
            if proc.poll() is not None:
                raise BigError(f"qemu exited ({proc.returncode}) before the guest panicked")
            if time.monotonic() > deadline:
                raise BigError(f"no kernel panic on the console after {TIMEOUT}s")
            time.sleep(1)
        timings["panic"] = round(time.monotonic() - t, 1)
        qmp.execute("stop")
        t = time.monotonic()
        dump_elf(qmp, work)
        timings["dump-guest-memory elf"] = round(time.monotonic() - t, 1)
        flat = work / "vmcore.qemu-flattened"
        t = time.monotonic()
        qmp.execute("dump-guest-memory", paging=False, protocol=f"file:{flat}", format="kdump-zlib")
        timings["dump-guest-memory kdump-zlib"] = round(time.monotonic() - t, 1)
        qmp.execute("quit")
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        qmp_path.unlink(missing_ok=True)
    t = time.monotonic()
    dumpmaker.rebuild_flattened(flat, work / "vmcore.kdump-zlib").unlink()
    flat.unlink()
    timings["makedumpfile -R"] = round(time.monotonic() - t, 1)
    return timings


def drgn_oracle(lab_src, vmlinux, work):
    """drgn's account of the dump (drgn.json) and its kernel log (dmesg.drgn.txt)."""
    r = subprocess.run([sys.executable, str(lab_src / "big/drgn_oracle.py"), str(vmlinux),
                        str(work / "vmcore.elf"), str(work / "drgn.json"), str(work / "dmesg.drgn.txt")],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise BigError(f"lab/big/drgn_oracle.py failed: {r.stdout[-1000:]} {r.stderr[-2000:]}")


def build(lab_dir, lab_src, kv, kernel_root, make_modules, fw_cfg_ko, busybox, log):
    """Make (or reuse) the big dump of kv; returns ("cached" | "built", its manifest path)."""
    out = lab_dir / "big" / kv
    manifest = out / "big.json"
    k = key(lab_src, kv, fw_cfg_ko, busybox)
    if manifest.exists() and json.loads(manifest.read_text()).get("key") == k:
        return "cached", manifest
    work = out.parent / f".tmp-{kv}"
    shutil.rmtree(work, ignore_errors=True)
    module_dir = work / "module"
    module_dir.mkdir(parents=True)
    for f in ("krash_big.c", "Kbuild"):
        shutil.copy(lab_src / "big" / f, module_dir / f)
    vmlinux = kernel_root / f"usr/lib/debug/boot/vmlinux-{kv}"
    step = "module build"
    try:
        log("building krash_big.ko and krash-zoo")
        r = make_modules(kv, module_dir)
        ko = module_dir / "krash_big.ko"
        if r.returncode != 0 or not ko.exists():
            raise BigError(f"{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
        step = "krash-zoo build"
        zoo = build_zoo(lab_src, work)
        step = "initramfs"
        initramfs = work / "initramfs.cpio"
        build_initramfs(lab_src, ko, fw_cfg_ko, zoo, busybox, initramfs)
        step = "boot, panic and dump"
        log(f"booting {CPUS} CPUs, {MEMORY} under TCG")
        timings = boot_and_dump(kernel_root, kv, initramfs, work, log)
        step = "drgn oracle"
        log("drgn oracle")
        t = time.monotonic()
        drgn_oracle(lab_src, vmlinux, work)
        timings["drgn oracle"] = round(time.monotonic() - t, 1)
        step = "facts"
        console = (work / "console.log").read_text(errors="replace")
        facts = json_line(console, FACTS_PREFIX)
        zoo_facts = json_line(console, ZOO_PREFIX)
        if not facts or not zoo_facts:
            raise BigError("the console has no krash-facts or krash-zoo line")
        if facts["panic_string"] not in console:
            raise BigError(f"the console lacks the oops {facts['panic_string']!r}")
        shutil.copy(ko, work / "krash_big.ko")
    except Exception as e:  # noqa: BLE001 - name the step that failed
        tail = "\n".join((work / "console.log").read_text(errors="replace").splitlines()[-30:]) \
            if (work / "console.log").exists() else "(no console)"
        raise BigError(f"big {kv}: step '{step}': {e}\n--- console tail:\n{tail}") from e
    shutil.rmtree(module_dir)
    initramfs.unlink()
    zoo.unlink()
    dumps = [{"format": fmt, "file": str(out / f"vmcore.{fmt}"), "producer": "qemu",
              "bytes": (work / f"vmcore.{fmt}").stat().st_size,
              "disk_bytes": (work / f"vmcore.{fmt}").stat().st_blocks * 512} for fmt in ("elf", "kdump-zlib")]
    record = {
        "key": k, "kernel": kv, "arch": "x86_64", "scenario": "big", "cpus": CPUS, "memory": MEMORY,
        "vmlinux": str(vmlinux),
        "module_ko": str(out / "krash_big.ko"), "dumps": dumps, "console_log": str(out / "console.log"),
        "drgn": str(out / "drgn.json"), "drgn_dmesg": str(out / "dmesg.drgn.txt"), "expected": facts,
        "zoo": zoo_facts,
        "timings_seconds": timings,
    }
    (work / "big.json").write_text(json.dumps(record, indent=1) + "\n")
    shutil.rmtree(out, ignore_errors=True)
    work.rename(out)
    return "built", manifest
