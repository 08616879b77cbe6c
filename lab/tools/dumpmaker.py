"""Make the lab's dump files for one (kernel, scenario): boots, captures, variants.

Everything here decides the bytes of the dumps, so the lab keys its dump cache
on this file (and on the module, the guest's /init and the other tools); the
analysis of the dumps (oracles, manifests) lives in lab/build.
"""
import json
import shutil
import subprocess
import time
from pathlib import Path

import kdump_recode
import kernels
import qemu_guest

BOOT_TIMEOUT = 420

# What the guest's /init prints just before it triggers the scenario.
SCENARIO_MARKER = "krash-init: triggering "


def dump_level(kv):
    """The makedumpfile -d level that is safe for this kernel (lab/tools/kernels.py says why)."""
    return kernels.dump_level(kv)


class DumpError(Exception):
    """A step making the dumps failed; the message says which."""


def flattened_stream_length(path):
    """Length of the makedumpfile flattened stream at the start of a disk image."""
    with open(path, "rb") as f:
        head = f.read(4096)
        if not head.startswith(b"makedumpfile\0"):
            raise ValueError("no makedumpfile flattened signature on the dump disk")
        pos = 4096
        while True:
            f.seek(pos)
            rec = f.read(16)
            if len(rec) < 16:
                raise ValueError("flattened stream truncated (no end marker)")
            offset = int.from_bytes(rec[:8], "big", signed=True)
            size = int.from_bytes(rec[8:], "big", signed=True)
            pos += 16
            if offset == -1 and size == -1:
                return pos
            if offset < 0 or size <= 0 or size > 1 << 30:
                raise ValueError(f"bad flattened record at {pos - 16}: offset {offset} size {size}")
            pos += size


def copy_prefix(src, dst, length, sparse=False):
    """The first length bytes of src into dst; sparse: blocks of zeros become holes
    (a whole-memory ELF is mostly free pages: 840 MB apparent, ~290 MB on disk)."""
    block = 1 << 16
    zeros = bytes(block)
    with open(src, "rb") as fi, open(dst, "wb") as fo:
        left = length
        while left:
            chunk = fi.read(min(left, block if sparse else 1 << 20))
            if not chunk:
                raise ValueError(f"short read copying the first {length} bytes of {Path(src).name}")
            if sparse and chunk == zeros[:len(chunk)]:
                fo.seek(len(chunk), 1)
            else:
                fo.write(chunk)
            left -= len(chunk)
        fo.truncate(length)


def dig_holes(path):
    """Blocks of zeros in path become holes (same bytes, less disk): QEMU writes
    every page of guest memory, free ones too."""
    subprocess.run(["fallocate", "--dig-holes", str(path)], check=True)


# softlockup_panic and watchdog_thresh are set by /init as sysctls, not on the
# command line: under a loaded TCG host a 1 s threshold during boot panics in
# early initcalls (seen in jitterentropy's init), before any scenario runs.


def stext_offset(kernel_root, kv):
    """_stext - _text of kv, from the System.map of its -dbg package."""
    symbols = {}
    for line in (kernel_root / f"usr/lib/debug/boot/System.map-{kv}").read_text().splitlines():
        address, _, name = line.split(maxsplit=2)
        if name in ("_text", "_stext"):
            symbols[name] = int(address, 16)
    return symbols["_stext"] - symbols["_text"]


# makedumpfile's compression flag in the capture kernel, by kernels.py `capture`.
CAPTURE_CODEC_FLAGS = {"makedumpfile": "-c", "makedumpfile-lzo": "-l"}


def kdump_command_line(kv, scenario, kernel_root, with_elf):
    """The kdump boot's kernel command line (/init reads the krash.* words)."""
    capture = kernels.spec(kv)["capture"]
    words = [f"console={qemu_guest.serial_console(kernels.arch(kv))}",
             f"crashkernel={kernels.spec(kv)['crashkernel']}", "panic=0",
             "krash.mode=kdump", f"krash.scenario={scenario}"]
    if capture == "copy":
        words.append("krash.capture=copy")
    else:
        words += [f"krash.dumplevel={dump_level(kv)}", f"krash.mdf={CAPTURE_CODEC_FLAGS[capture]}"]
    words.append(f"krash.elf={int(with_elf)}")
    if kernels.arch(kv) == "arm64":
        # arm64's kexec-tools wants _text in /proc/kallsyms, which lacks it without
        # KALLSYMS_ALL: /init adds it from _stext (see add_text_symbol there).
        words.append(f"krash.stext_offset={stext_offset(kernel_root, kv):#x}")
    return " ".join(words)


def kdump_boot(kv, scenario, kernel_root, initramfs, work, with_elf, extra_disks=(),
               timeout=BOOT_TIMEOUT):
    """Boot, crash, capture with kdump.

    Leaves vmcore.flattened, vmcore.kdump-zlib, vmcore-dmesg.txt and, with_elf, vmcore.elf;
    with capture "copy" (kernels.py), vmcore.elf (the capture kernel's /proc/vmcore) and
    vmcore-dmesg.txt.  extra_disks, (path, bytes) pairs, are attached after the lab's
    own and left for the caller to read and delete.  Returns how the dump was captured
    (for the manifest): {"method": "makedumpfile"}, or {"method": "copy",
    "makedumpfile_refused": its words}.
    """
    console = work / "console.log"
    vda, vdb, vdc = work / "vda.img", work / "vdb.img", work / "vdc.img"
    disks = [(vda, 2 << 30), (vdb, 64 << 20)] + ([(vdc, 2 << 30)] if with_elf else [])
    for img, size in disks + list(extra_disks):
        with open(img, "wb") as f:
            f.truncate(size)
    qemu_guest.boot_until_exit(
        kernel_root / f"boot/vmlinuz-{kv}", initramfs, kdump_command_line(kv, scenario, kernel_root, with_elf),
        console, [d for d, _ in disks + list(extra_disks)], timeout, SCENARIO_MARKER, kernels.arch(kv))
    files = qemu_guest.read_tar_disk(vdb)
    tool = "copy" if kernels.spec(kv)["capture"] == "copy" else "makedumpfile"
    if f"{tool}.rc" not in files:
        raise DumpError("capture kernel wrote no results (did kdump fire?)")
    rc = files[f"{tool}.rc"].decode().strip()
    if rc != "0":
        raise DumpError(f"{tool} in the capture kernel failed (rc {rc}):\n"
                        + files.get(f"{tool}.log", b"").decode(errors="replace")[-2000:])
    dmesg = files.get("vmcore-dmesg.txt", b"")
    if not dmesg:
        raise DumpError("capture kernel wrote an empty vmcore-dmesg.txt")
    (work / "vmcore-dmesg.txt").write_bytes(dmesg)
    capture = {"method": tool}
    if kernels.spec(kv)["capture"] == "makedumpfile-lzo":
        # The main dump is zlib as before; only where it is compressed moved.
        lzo = work / "vmcore.kdump-lzo"
        rebuild_flattened(vda, lzo).rename(work / "vmcore.flattened")
        refilter(kv, lzo, work / "vmcore.kdump-zlib", "-c")
        lzo.unlink()
        capture["compressed"] = "lzo in the capture kernel, zlib by the host's makedumpfile (-c, same -d)"
    elif tool == "copy":
        # Copied because makedumpfile cannot read the kernel: when it can, the copy is a waste.
        if files.get("makedumpfile.rc", b"").decode().strip() == "0":
            raise DumpError("makedumpfile reads this kernel now: give it capture \"makedumpfile\" in kernels.py")
        capture["makedumpfile_refused"] = files.get("makedumpfile.log", b"").decode(errors="replace").strip()
        copy_prefix(vda, work / "vmcore.elf", int(files["vmcore.bytes"]), sparse=True)
    else:
        rebuild_flattened(vda, work / "vmcore.kdump-zlib").rename(work / "vmcore.flattened")
    if with_elf:
        if files.get("makedumpfile-elf.rc", b"").decode().strip() != "0":
            raise DumpError("makedumpfile -E in the capture kernel failed:\n"
                            + files.get("makedumpfile-elf.log", b"").decode(errors="replace")[-2000:])
        rebuild_flattened(vdc, work / "vmcore.elf").unlink()
    for img, _ in disks:
        img.unlink()
    return capture


def qemu_dump_boot(kv, scenario, kernel_root, initramfs, work):
    """Boot with no kdump, let it panic, and dump with QMP dump-guest-memory.

    QEMU 7.2 writes its kdump-zlib output as a flattened stream: that is kept as
    vmcore.qemu-flattened and rebuilt into vmcore.qemu-kdump-zlib.
    """
    console = work / "console.qemu.log"
    arch = kernels.arch(kv)
    append = (f"console={qemu_guest.serial_console(arch)} panic=0 "
              f"krash.mode=qemu krash.scenario={scenario}")
    dumps = [("vmcore.qemu-elf", {"paging": False}),
             ("vmcore.qemu-flattened", {"paging": False, "format": "kdump-zlib"})]
    qemu_guest.boot_and_dump(kernel_root / f"boot/vmlinuz-{kv}", initramfs, append, console,
                             work, dumps, BOOT_TIMEOUT, arch)
    dig_holes(work / "vmcore.qemu-elf")
    flat = work / "vmcore.qemu-flattened"
    flattened_stream_length(flat)  # the whole stream, end marker included
    rebuild_flattened(flat, work / "vmcore.qemu-kdump-zlib").unlink()


def host_variants(kv, work):
    """Other encodings of the kdump-zlib dump, made on the host."""
    src = work / "vmcore.kdump-zlib"
    made = []
    # makedumpfile re-reads its own kdump output (re-filtering) but will not turn it
    # into ELF: the ELF variant comes from the capture kernel (kdump_boot).
    refilter(kv, src, work / "vmcore.kdump-lzo", "-l")
    made.append("kdump-lzo")
    # Debian's makedumpfile 1.7.2 lacks snappy and zstd: recode the zlib pages ourselves.
    for fmt in ("kdump-snappy", "kdump-zstd"):
        kdump_recode.recode(src, work / f"vmcore.{fmt}", fmt.split("-")[1])
        made.append(fmt)
    return made


def refilter(kv, src, dst, codec_flag):
    """The host's makedumpfile re-filters the kdump file src into dst at kv's dump level,
    compressed by codec_flag (-c zlib, -l lzo): native speed, where the guest's is TCG's."""
    r = subprocess.run(["makedumpfile", codec_flag, "-d", str(dump_level(kv)), str(src), str(dst)],
                       capture_output=True, text=True)
    if r.returncode != 0 or not dst.exists() or dst.stat().st_size == 0:
        raise DumpError(f"makedumpfile {codec_flag} {src.name} {dst.name} failed: "
                        f"{r.stdout[-1500:]} {r.stderr[-1500:]}")


def kdump_formats(kv, work):
    """The kdump boot's own formats kept for kv, the main one first: the kdump-compressed
    file, and on a kernel with every format (kernels.py `variants`) the flattened stream
    it came from too; with capture "copy", the ELF file /proc/vmcore was."""
    if kernels.spec(kv)["capture"] == "copy":
        return ["elf"]
    if kernels.spec(kv)["variants"]:
        return ["kdump-zlib", "flattened"]
    (work / "vmcore.flattened").unlink(missing_ok=True)
    return ["kdump-zlib"]


def capture_producer(kv):
    """Who wrote the kdump boot's dump: makedumpfile, or the kernel itself (/proc/vmcore, copied)."""
    return "/proc/vmcore" if kernels.spec(kv)["capture"] == "copy" else "makedumpfile"


# The host's makedumpfile re-filters a kdump file with the code of its own
# architecture only ("Can't convert a virtual address" on arm64 dumps): the
# compression variants are made for x86-64 kernels.
HOST_VARIANT_ARCHES = {"x86_64"}


def parse_facts(console_text):
    facts = None
    for line in console_text.splitlines():
        i = line.find("krash-facts: ")
        if i >= 0:
            facts = json.loads(line[i + len("krash-facts: "):].strip())
    return facts


# Where an oops names the faulting instruction: x86's "RIP: 0010:func+0x1a/0x30",
# arm64's "pc : func+0x18/0x30 [module]".
PC_LINE_PREFIXES = ("RIP: 0010:", "pc : ")


def rip_function(console_text):
    """The function named in the oops' first RIP (x86) or pc (arm64) line, if any."""
    for line in console_text.splitlines():
        for prefix in PC_LINE_PREFIXES:
            i = line.find(prefix)
            if i >= 0:
                return line[i + len(prefix):].split("+")[0].strip()
    return None


def rebuild_flattened(disk, dst):
    """makedumpfile -R on the exact flattened stream found at the start of a raw disk."""
    stream = dst.with_name(dst.name + ".flat")
    copy_prefix(disk, stream, flattened_stream_length(disk))
    with open(stream, "rb") as fi:
        r = subprocess.run(["makedumpfile", "-R", str(dst)], stdin=fi, capture_output=True, text=True)
    if r.returncode != 0 or not dst.exists() or dst.stat().st_size == 0:
        raise DumpError(f"makedumpfile -R {dst.name} failed: {r.stdout[-1000:]} {r.stderr[-1000:]}")
    return stream


def console_tail(work):
    """The last 40 lines of the newest console log in work, for failure reports."""
    logs = [p for p in (work / "console.qemu.log", work / "console.log") if p.exists()]
    if not logs:
        return "(no console log)"
    lines = logs[0].read_text(errors="replace").splitlines()
    return f"--- last 40 lines of {logs[0].name}:\n" + "\n".join(lines[-40:])


def crash_text(kv, work, console_name):
    """The text in which the kernel's own words of the crash are looked for: the console
    log, and for the kdump boot of a kernel whose console is "deferred" (kernels.py:
    PREEMPT_RT's printing thread lags, and the kexec overtakes it) vmcore-dmesg.txt too."""
    text = (work / console_name).read_text(errors="replace")
    dmesg = work / "vmcore-dmesg.txt"
    if console_name == "console.log" and kernels.spec(kv)["console"] == "deferred" and dmesg.exists():
        text += dmesg.read_text(errors="replace")
    return text


def scenario_facts(kv, work):
    """The module's facts of the kdump boot in work (crash_text says where they are read)."""
    return parse_facts(crash_text(kv, work, "console.log"))


def check_console(console_text, name):
    """The facts line, panic text and RIP the module promised are in the console log."""
    facts = parse_facts(console_text)
    if not facts:
        raise DumpError(f"the module printed no krash-facts line in {name}")
    for key in ("panic_string", "panic_message"):
        if facts[key] not in console_text:
            raise DumpError(f"expected {key} {facts[key]!r} not in {name}")
    seen = rip_function(console_text)
    if "rip_function" in facts and seen != facts["rip_function"]:
        raise DumpError(f"oops RIP in {name} is in {seen}, expected {facts['rip_function']}")
    return seen


def make_dumps(kv, scenario, kernel_root, initramfs, ko, work, with_variants, log):
    """All dump files of one scenario into work, listed in work/dumps.json."""
    timings = {}
    step = "kdump boot"
    try:
        t = time.monotonic()
        log(step)
        capture = kdump_boot(kv, scenario, kernel_root, initramfs, work, with_variants)
        timings[step] = round(time.monotonic() - t, 1)
        step = "check console"
        seen_rip = check_console(crash_text(kv, work, "console.log"), "console.log")
        shutil.copy(ko, work / "krash_scenarios.ko")
        dumps = [(fmt, capture_producer(kv), "console.log") for fmt in kdump_formats(kv, work)]
        if with_variants:
            dumps.append(("elf", "makedumpfile", "console.log"))
            if kernels.arch(kv) in HOST_VARIANT_ARCHES:
                step = "host variants"
                t = time.monotonic()
                for fmt in host_variants(kv, work):
                    producer = "lab kdump_recode" if fmt in ("kdump-snappy", "kdump-zstd") else "makedumpfile"
                    dumps.append((fmt, producer, "console.log"))
                timings[step] = round(time.monotonic() - t, 1)
            step = "qemu dump boot"
            t = time.monotonic()
            log(step)
            qemu_dump_boot(kv, scenario, kernel_root, initramfs, work)
            check_console(crash_text(kv, work, "console.qemu.log"), "console.qemu.log")
            dumps += [("qemu-elf", "qemu", "console.qemu.log"),
                      ("qemu-kdump-zlib", "qemu", "console.qemu.log"),
                      ("qemu-flattened", "qemu", "console.qemu.log")]
            timings[step] = round(time.monotonic() - t, 1)
        entries = []
        for fmt, producer, console in dumps:
            f = work / f"vmcore.{fmt}"
            size = f.stat().st_size if f.exists() else 0
            if size == 0:
                raise DumpError(f"dump {f.name} is missing or empty")
            entries.append({"format": fmt, "file": f.name, "producer": producer, "bytes": size,
                            "console_log": console})
    except Exception as e:  # noqa: BLE001 - name the step that failed
        raise DumpError(f"step '{step}': {e}") from e
    (work / "dumps.json").write_text(json.dumps(
        {"dumps": entries, "dump_level": dump_level(kv), "capture": capture, "timings_seconds": timings,
         "rip_function_seen": seen_rip}, indent=1) + "\n")
