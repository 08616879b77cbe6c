"""The lab's kernels: where each comes from, how its modules are built, how it is dumped.

One table (KERNELS, oldest first) that lab/build, lab/tools/dumpmaker.py and
lab/golden read; crates/labtest/src/lib.rs lists the same releases for the
Rust tests.  Everything a dump's bytes depend on is in a kernel's entry, and
`dump_spec(kv)` is part of every dump's cache key.

Fields:
  release       the kernel release (uname -r); the version pinned.
  arch          "x86_64" (the default) or "arm64": the guest's architecture.
                arm64 kernels boot under qemu-system-aarch64 (TCG) on this
                x86-64 host; their dumps are listed apart in dumps/index.json
                (`arm64_manifests`), so the x86-64 tests never see them.
  apt           "host": the host's own apt sources (bookworm and its security
                suite); "private": the lab's private apt configuration
                (lab/tools/aptroot.py), never the host's; "private-arm64":
                a private apt of the host's own suites for arm64 packages
                (with amd64 for the host-side kbuild tools), never the host's.
  series        the `apt-cache search` pattern of this kernel line's -dbg
                packages, newest first: used when the pinned release is
                gone from the mirror (sid moves; the newest 5.10 -dbg may 404).
  packaging     "image": linux-image-KV-unsigned (boot/vmlinuz-KV, lib/modules);
                "binary+modules": linux-binary-unsigned-KV
                (usr/lib/modules/KV/vmlinuz.unsigned) + linux-modules-KV;
                "source": built by the lab from Debian's `source_package`
                (linux-source-X.Y) with the configuration fragment `config`
                (lab/kernel/) over allnoconfig; the release is the source's
                version plus the fragment's CONFIG_LOCALVERSION.
  flavor        "cloud": Debian's cloud-amd64/-arm64 build (BTF, ORC, SLUB, KASLR);
                "arm64-16k", "rt": Debian's generic arm64 builds with 16 KiB
                pages or PREEMPT_RT;
                "fp-slab": no BTF, the frame-pointer unwinder, SLAB, no KASLR
                (the shape of RHEL 7/8.0, Ubuntu 20.04 and Debian 10 kernels).
  build_root    None: modules build with the host's gcc and
                /usr/src/linux-headers-KV (host package; for a "source"
                kernel, its own build tree; for a "cross_compile" kernel,
                its own headers packages extracted in its root); else the
                suite of a debootstrap root (lab/tools/aptroot.py) whose
                toolchain and headers build them (bullseye's gcc-10 for 5.10,
                sid's for 7.x).
  cross_compile the CROSS_COMPILE prefix of a kernel of another architecture
                (the host's gcc-aarch64-linux-gnu for arm64): its modules
                build against its own linux-headers packages, whose scripts
                are the host's (amd64) linux-kbuild of the same version.
  guest_tools   where kexec and makedumpfile (and busybox) in the guest come
                from: None for the host's, "arm64-debs" for Debian bookworm's
                arm64 packages (lab/tools/arm64_guest.py), else a root's suite.
  lime_from     where LiME's source package comes from: "host" apt, or a suite
                of the private apt (newer kernels need a newer LiME); None
                where the kernel has no live scenario.
  crashkernel   the capture kernel's reservation (256M; 512M for Debian's
                generic arm64 builds, whose capture kernel also reserves 64 MiB
                of CMA and then cannot unpack the 52 MB initramfs in 256M:
                "Initramfs unpacking failed: write error", no /init).
  console       "synchronous": an oops is on the serial console before kdump
                starts; "deferred" (PREEMPT_RT): a printing thread writes the
                console, and an oops kexecs into the capture kernel before it
                runs, so the kernel's own text of the crash (the facts line,
                the oops, its Call trace) is read from vmcore-dmesg.txt too.
  capture       how the capture kernel saves /proc/vmcore: "makedumpfile"
                (the default: -F -c -d dump_level); "makedumpfile-lzo"
                (-F -l -d dump_level, and the host's makedumpfile re-filters
                it into the main kdump-zlib with -c: where dump_level 1 keeps
                every non-zero page, zlib under TCG took 16-40 s a dump and
                lzo takes 5, the host's zlib 3); or "copy" (/proc/vmcore
                itself, an ELF file) where makedumpfile cannot read the
                kernel at all.
  dump_level    makedumpfile -d: 31 where makedumpfile reads the page flags
                right; 1 (zero pages only) where it takes slab pages for free
                pages and would drop every task_struct (6.12's page_type
                encoding and later); None with capture "copy".
  variants      the scenarios that get every dump format on this kernel (ELF,
                QEMU's dumps; on x86-64 also the compression variants); the
                other scenarios get the main dump.  One kernel per
                architecture has any (the time budget).
  golden        True where lab/golden records the baseline's transcripts (6.1
                and 6.12, the first baseline's kernels: the test command's time).
  stock_modules modules the guest loads, in dependency order (no modules.dep
                in the debs).
  big           True on the one kernel that also runs the big machine
                (lab/big/README.md: 32 CPUs, 16 GiB, ~20 000 tasks).
"""
import hashlib
import json
from pathlib import Path

LIVE = "live"

# The capture kernel's memory (crashkernel=): enough for the cloud kernels and
# the flavor, whose capture kernel unpacks a copy of the ~40 MB initramfs.
DEFAULT_CRASHKERNEL = "256M"

# The x86-64 kernel with every format gets it on these scenarios (two boots each).
X86_VARIANT_SCENARIOS = {"null-member", "softlockup"}
# The scenarios whose every format is made on arm64: a NULL dereference (QEMU's
# dumps of it are what drgn loops on), the IRQ-stack unwind and the slab walk.
# The others have the main dump only (the lab's arm64 time budget).
ARM64_VARIANT_SCENARIOS = {"null-member", "softlockup", "slab-corrupt"}

def _arm64_6_12(debian_flavor, **extra):
    """Debian's bookworm arm64 6.12 of one flavor (cloud-arm64, arm64-16k, rt-arm64)."""
    return {
        "release": f"6.12.117+deb12-{debian_flavor}", "arch": "arm64", "apt": "private-arm64",
        "suite": "bookworm-security",
        "series": rf"^linux-image-6\.12\.[0-9]+\+deb12-{debian_flavor}-dbg$",
        "packaging": "image", "build_root": None, "cross_compile": "aarch64-linux-gnu-",
        "guest_tools": "arm64-debs", "lime_from": None,
        # makedumpfile 1.7.2 refuses the kernel ("VA Bits 52 not supported").
        "capture": "copy", "dump_level": None, "variants": set(), "golden": False,
        # virtio core and virtio_pci are built in, dax too.
        "stock_modules": [
            "drivers/block/virtio_blk", "drivers/firmware/qemu_fw_cfg", "drivers/block/loop",
            "drivers/md/dm-mod", "drivers/net/dummy",
        ],
        **extra,
    }


KERNELS = [
    {
        "release": "5.10.0-43-cloud-amd64", "apt": "private", "suite": "bullseye-security",
        "series": r"^linux-image-5\.10\.0-[0-9]+-cloud-amd64-dbg$",
        "packaging": "image", "build_root": "bullseye", "guest_tools": None, "lime_from": "host",
        "dump_level": 31, "variants": set(), "golden": False,
        # virtio_pci carries the modern transport itself before 5.12.
        "stock_modules": [
            "drivers/virtio/virtio_ring", "drivers/virtio/virtio", "drivers/virtio/virtio_pci",
            "drivers/block/virtio_blk", "drivers/firmware/qemu_fw_cfg", "drivers/block/loop",
            "drivers/md/dm-mod", "drivers/net/dummy",
        ],
    },
    {
        "release": "6.1.0-56-cloud-amd64", "apt": "host", "suite": "bookworm-security",
        "series": r"^linux-image-6\.1\.0-[0-9]+-cloud-amd64-dbg$",
        "packaging": "image", "build_root": None, "guest_tools": None, "lime_from": "host",
        "dump_level": 31, "variants": X86_VARIANT_SCENARIOS, "golden": True, "big": True,
        "stock_modules": [
            "drivers/virtio/virtio_ring", "drivers/virtio/virtio", "drivers/virtio/virtio_pci_modern_dev",
            "drivers/virtio/virtio_pci_legacy_dev", "drivers/virtio/virtio_pci", "drivers/block/virtio_blk",
            "drivers/firmware/qemu_fw_cfg", "drivers/block/loop", "drivers/md/dm-mod", "drivers/net/dummy",
        ],
    },
    {
        "release": "6.12.117+deb12-cloud-amd64", "apt": "host", "suite": "bookworm-security",
        "series": r"^linux-image-6\.12\.[0-9]+\+deb12-cloud-amd64-dbg$",
        "packaging": "image", "build_root": None, "guest_tools": None, "lime_from": "host",
        "dump_level": 1, "capture": "makedumpfile-lzo", "variants": set(), "golden": True,
        # virtio core and virtio_pci are built in from 6.12 on.
        "stock_modules": [
            "drivers/block/virtio_blk", "drivers/firmware/qemu_fw_cfg", "drivers/block/loop",
            "drivers/md/dm-mod", "drivers/net/dummy",
        ],
    },
    {
        "release": "7.2.13+deb14-cloud-amd64", "apt": "private", "suite": "sid",
        "series": r"^linux-image-7\.[0-9]+\.[0-9]+\+deb14-cloud-amd64-dbg$",
        "packaging": "binary+modules", "build_root": "sid", "guest_tools": "sid", "lime_from": "sid",
        "dump_level": 1, "capture": "makedumpfile-lzo", "variants": set(), "golden": False,
        "stock_modules": [
            "drivers/block/virtio_blk", "drivers/firmware/qemu_fw_cfg", "drivers/block/loop",
            "drivers/md/dm-mod", "drivers/net/dummy",
        ],
    },
    {
        # Listed after the cloud kernels: it is the newest 6.1 but the oldest shape.
        "release": "6.1.192-krash-fp", "apt": "host", "suite": "bookworm-security",
        "series": None, "packaging": "source", "source_package": "linux-source-6.1",
        "config": "kernel/fp-slab.config", "flavor": "fp-slab",
        "build_root": None, "guest_tools": None, "lime_from": "host",
        "dump_level": 31, "variants": set(), "golden": False,
        "stock_modules": [
            "drivers/block/virtio_blk", "drivers/firmware/qemu_fw_cfg", "drivers/block/loop",
            "drivers/md/dm-mod", "drivers/net/dummy",
        ],
    },
    # arm64: Debian's cloud-arm64 builds of the same releases as the x86-64 6.1
    # and 6.12 (pointer authentication, 4K pages; 6.1 has VA_BITS 48 and no
    # KALLSYMS_ALL, 6.12 VA_BITS 52 with 5-level page tables).
    {
        "release": "6.1.0-56-cloud-arm64", "arch": "arm64", "apt": "private-arm64",
        "suite": "bookworm-security", "series": r"^linux-image-6\.1\.0-[0-9]+-cloud-arm64-dbg$",
        "packaging": "image", "build_root": None, "cross_compile": "aarch64-linux-gnu-",
        "guest_tools": "arm64-debs", "lime_from": None,
        "dump_level": 31, "variants": ARM64_VARIANT_SCENARIOS, "golden": False,
        # The virtio stack is modular, as on x86-64; dm-mod needs dax (built in there).
        "stock_modules": [
            "drivers/virtio/virtio_ring", "drivers/virtio/virtio", "drivers/virtio/virtio_pci_modern_dev",
            "drivers/virtio/virtio_pci_legacy_dev", "drivers/virtio/virtio_pci", "drivers/block/virtio_blk",
            "drivers/firmware/qemu_fw_cfg", "drivers/block/loop", "drivers/dax/dax", "drivers/md/dm-mod",
            "drivers/net/dummy",
        ],
    },
    _arm64_6_12("cloud-arm64"),
    # Debian's other arm64 flavors of the same 6.12 (generic configuration, every
    # driver): 16 KiB pages (52-bit VA by LPA2, 4 table levels, THREAD_SIZE 16K)
    # and PREEMPT_RT (4 KiB pages, sleeping spinlocks, mutexes over rt_mutex).
    # Each runs the scenarios its difference touches (the time budget: their
    # -dbg packages are 1 GB each); the cloud kernels run the rest.
    _arm64_6_12("arm64-16k", flavor="arm64-16k", crashkernel="512M"),
    _arm64_6_12("rt-arm64", flavor="rt", crashkernel="512M", console="deferred"),
]

for _k in KERNELS:
    _k.setdefault("flavor", "cloud")
    _k.setdefault("arch", "x86_64")
    _k.setdefault("cross_compile", None)
    _k.setdefault("capture", "makedumpfile")
    _k.setdefault("crashkernel", DEFAULT_CRASHKERNEL)
    _k.setdefault("console", "synchronous")
    _k.setdefault("big", False)

BY_RELEASE = {k["release"]: k for k in KERNELS}

# Releases, oldest first.
RELEASES = [k["release"] for k in KERNELS]
# Where lab/golden records the baseline's transcripts.
GOLDEN_KERNELS = [k["release"] for k in KERNELS if k["golden"]]
# The kernels with every dump format on some scenarios (one per architecture).
VARIANT_KERNELS = [k["release"] for k in KERNELS if k["variants"]]
# The guests' architectures, the host's first.
ARCHES = ["x86_64", "arm64"]

# Scenarios a kernel cannot have, with the reason (recorded in dumps/index.json):
# {release: {scenario: reason}}.
SKIPPED_SCENARIOS = {
    "5.10.0-43-cloud-amd64": {
        "freed-object-use": "5.10's SLUB does not poison a cache made with SLAB_POISON unless slub_debug is on "
                            "the kernel command line (seen in the lab: the read after the free returns the old "
                            "pointer and nothing crashes), and the lab's command line is every scenario's",
    },
    "6.1.192-krash-fp": {
        "slab-corrupt": "SLAB (the allocator) keeps the indexes of free objects in an array outside "
                        "them: text written over freed objects breaks no allocator state, the next "
                        "allocations hand the objects back and nothing crashes",
        "live": "LiME (the live scenario's memory image) needs the kernel's crypto hash API, "
                "which the flavor's small configuration leaves out",
        "double-free": "SLAB (the allocator) has no freelist inside the objects, so nothing checks "
                       "a second free without its debug build: the free goes through unnoticed",
        "freed-object-use": "SLAB (the allocator) poisons freed objects only in its debug build "
                            "(DEBUG_SLAB), which the flavor leaves out: SLAB_POISON is refused",
        "stack-overflow": "the flavor has no VMAP_STACK (allnoconfig leaves it out): a task stack has no "
                          "guard page, so the recursion writes over the memory below it instead of faulting",
    },
    **{kv: {"live": "the live scenario runs krash inside the guest, and the krash built here is an "
                    "x86-64 binary",
            "divide-error": "AArch64's udiv returns 0 for a zero divisor: no exception, no crash"}
       for kv in ("6.1.0-56-cloud-arm64", "6.12.117+deb12-cloud-arm64")},
    **{kv: dict({s: f"the {flavor} flavor runs the scenarios its difference touches ({kept}); "
                    f"the cloud-arm64 kernels run the others (the lab's arm64 time budget)"
                 for s in ("null-fnptr", "softlockup", "slab-corrupt", "timer-bug", "hung-task",
                           "sysrq-busy", "err-ptr", "null-isra", "null-const-ops", "list-del-use",
                           "double-free", "divide-error", "abba-deadlock", "stack-protector",
                           "freed-object-use", "spinlock-lockup", "warn-on", "rcu-stall", "oom-panic",
                           "refcount-underflow", "stack-overflow") if s not in kept.split(", ")},
                live="the live scenario runs krash inside the guest, and the krash built here is an "
                     "x86-64 binary")
       for kv, flavor, kept in (
           ("6.12.117+deb12-arm64-16k", "16 KiB-page", "null-member, slab-corrupt"),
           ("6.12.117+deb12-rt-arm64", "PREEMPT_RT", "null-member, hung-task"))},
}


def alias(pinned, release):
    """Use release where pinned was (the pin is gone from the mirror): same entry, other release."""
    BY_RELEASE[release] = dict(BY_RELEASE[pinned], release=release)
    for table in (SKIPPED_SCENARIOS,):
        if pinned in table:
            table[release] = table[pinned]


def spec(kv):
    """The table entry of release kv (KeyError for a release the lab does not know)."""
    return BY_RELEASE[kv]


def dump_level(kv):
    """The makedumpfile -d level that keeps every page the analysis needs on this kernel."""
    return spec(kv)["dump_level"]


def arch(kv):
    return spec(kv)["arch"]


def releases_of(arch_name):
    """The releases of one architecture, oldest first."""
    return [k["release"] for k in KERNELS if k["arch"] == arch_name]


def dump_spec(kv):
    """What of kv's entry decides its dumps' bytes (part of the dump cache key)."""
    s = spec(kv)
    key = {k: s[k] for k in ("release", "arch", "packaging", "guest_tools", "dump_level", "capture",
                             "crashkernel", "stock_modules")}
    if s["packaging"] == "source":
        # A built kernel's bytes follow its configuration fragment.
        fragment = Path(__file__).resolve().parent.parent / s["config"]
        key["config"] = hashlib.sha256(fragment.read_bytes()).hexdigest()
    return json.dumps(key, sort_keys=True)


def package_names(kv):
    """The packages holding kv's bootable image, modules and debug info (its source, if built here)."""
    if spec(kv)["packaging"] == "source":
        return [spec(kv)["source_package"]]
    if spec(kv)["packaging"] == "binary+modules":
        return [f"linux-binary-unsigned-{kv}", f"linux-modules-{kv}", f"linux-image-{kv}-dbg"]
    if spec(kv)["cross_compile"]:
        # Its modules build against its own headers (their -common and the
        # host's linux-kbuild follow from the headers' dependencies).
        return [f"linux-image-{kv}-unsigned", f"linux-image-{kv}-dbg", f"linux-headers-{kv}"]
    return [f"linux-image-{kv}-unsigned", f"linux-image-{kv}-dbg"]
