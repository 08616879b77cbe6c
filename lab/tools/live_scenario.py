"""The live scenario: krash on the guest's running kernel, a LiME image, then kdump.

The guest's side is lab/guest/live (sourced by /init).  One boot makes all
three: the transcript of krash on /proc/kcore (a tar on the fourth disk), the
LiME image (raw on the third disk, its length found from its range headers)
and the usual kdump of the sysrq-c that follows.
"""
import json
import shutil
import time

import dumpmaker
import qemu_guest

# A LiME range header: magic "EMiL" (0x4C694D45 little-endian), version 1,
# first and last physical address (inclusive), 8 reserved bytes.
LIME_MAGIC = 0x4C694D45
LIME_HEADER_BYTES = 32
LIME_MAX_RANGES = 4096

# The guest has 1 GiB of RAM: the image (headers included) fits with room to spare.
LIME_DISK_BYTES = 1280 << 20
TRANSCRIPT_DISK_BYTES = 64 << 20

# krash (up to 300 s in the guest), writing 1 GiB under TCG, then kdump: 100-230 s
# here, up to 300 s more if krash times out.  A guest that stalls (seen once: LiME
# stopped at 383 MiB, the console silent for 18 minutes) is booted again.
LIVE_BOOT_TIMEOUT = 900

# What lab/guest/live prints around the LiME capture.
LIME_STARTED = "krash-init: capturing a LiME image"
LIME_DONE = "krash-init: LiME done"

TRANSCRIPT = "krash-live.txt"


def lime_ranges(path):
    """(start, end) physical ranges of the LiME image at the start of a raw disk, and its length."""
    ranges = []
    pos = 0
    with open(path, "rb") as f:
        f.seek(0, 2)
        disk_bytes = f.tell()
        while len(ranges) < LIME_MAX_RANGES:
            f.seek(pos)
            head = f.read(LIME_HEADER_BYTES)
            if len(head) < LIME_HEADER_BYTES or int.from_bytes(head[:4], "little") != LIME_MAGIC:
                break
            version = int.from_bytes(head[4:8], "little")
            start = int.from_bytes(head[8:16], "little")
            end = int.from_bytes(head[16:24], "little")
            if version != 1 or end < start:
                raise dumpmaker.DumpError(f"bad LiME header at {pos}: version {version}, "
                                          f"range {start:#x}-{end:#x}")
            pos += LIME_HEADER_BYTES + end - start + 1
            if pos > disk_bytes:
                raise dumpmaker.DumpError(f"LiME range {start:#x}-{end:#x} runs past the disk's end")
            ranges.append((start, end))
    if not ranges:
        raise dumpmaker.DumpError("no LiME header at the start of the LiME disk")
    return ranges, pos


def stalled_in_lime(console_text):
    """Why a failed live boot is worth another try, or None.

    A guest that began the LiME image and never finished it hung in the
    capture (its console went silent on a loaded TCG host), which says nothing
    about krash or the kernel's dump.
    """
    started = console_text.rfind(LIME_STARTED)
    if started >= 0 and LIME_DONE not in console_text[started:]:
        return "the guest stopped during its LiME capture"
    return None


def make_dumps(kv, scenario, kernel_root, initramfs, ko, work, log):
    """vmcore.kdump-zlib (and vmcore.flattened, see dumpmaker.kdump_formats), vmcore.lime and
    krash-live.txt into work."""
    timings = {}
    step = "live kdump boot"
    lime_disk, transcript_disk = work / "vdc-lime.img", work / "vdd-live.img"
    try:
        t = time.monotonic()
        log(step)
        capture = dumpmaker.kdump_boot(kv, scenario, kernel_root, initramfs, work, False,
                                       [(lime_disk, LIME_DISK_BYTES), (transcript_disk, TRANSCRIPT_DISK_BYTES)],
                                       LIVE_BOOT_TIMEOUT)
        timings[step] = round(time.monotonic() - t, 1)
        step = "check console"
        seen_rip = dumpmaker.check_console(dumpmaker.crash_text(kv, work, "console.log"), "console.log")
        shutil.copy(ko, work / "krash_scenarios.ko")
        step = "krash transcript"
        files = qemu_guest.read_tar_disk(transcript_disk)
        # A krash that failed in the guest is reported by the Rust test, not here:
        # the transcript keeps its error.
        transcript = files.get(TRANSCRIPT)
        if transcript is None:
            raise dumpmaker.DumpError("the guest wrote no krash transcript (did /lib/krash/live run?)")
        (work / TRANSCRIPT).write_bytes(transcript)
        step = "LiME image"
        lime_rc = files.get("lime.rc", b"").decode().strip()
        if lime_rc != "0":
            raise dumpmaker.DumpError(f"insmod lime.ko failed (rc {lime_rc!r}): "
                                      + files.get("lime.log", b"").decode(errors="replace")[-1500:])
        ranges, length = lime_ranges(lime_disk)
        dumpmaker.copy_prefix(lime_disk, work / "vmcore.lime", length)
        for disk in (lime_disk, transcript_disk):
            disk.unlink()
        entries = []
        for fmt, producer in [(f, "makedumpfile") for f in dumpmaker.kdump_formats(kv, work)] + [("lime", "lime")]:
            f = work / f"vmcore.{fmt}"
            size = f.stat().st_size if f.exists() else 0
            if size == 0:
                raise dumpmaker.DumpError(f"dump {f.name} is missing or empty")
            entries.append({"format": fmt, "file": f.name, "producer": producer, "bytes": size,
                            "console_log": "console.log"})
    except Exception as e:  # noqa: BLE001 - name the step that failed
        raise dumpmaker.DumpError(f"step '{step}': {e}") from e
    (work / "dumps.json").write_text(json.dumps(
        {"dumps": entries, "dump_level": dumpmaker.dump_level(kv), "capture": capture, "timings_seconds": timings,
         "rip_function_seen": seen_rip, "live_transcript": TRANSCRIPT,
         "lime_ranges": [[s, e] for s, e in ranges]}, indent=1) + "\n")
