"""The lab's kernels: where each comes from, how its modules are built, how it is dumped.

One table (KERNELS, oldest first) that lab/build, lab/tools/dumpmaker.py and
lab/golden read; crates/labtest/src/lib.rs lists the same releases for the
Rust tests.  Everything a dump's bytes depend on is in a kernel's entry, and
`dump_spec(kv)` is part of every dump's cache key.

Fields:
  release       the kernel release (uname -r); the version pinned.
  apt           "host": the host's own apt sources (bookworm and its security
                suite); "private": the lab's private apt configuration
                (lab/tools/aptroot.py), never the host's.
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
  flavor        "cloud": Debian's cloud-amd64 build (BTF, ORC, SLUB, KASLR);
                "fp-slab": no BTF, the frame-pointer unwinder, SLAB, no KASLR
                (the shape of RHEL 7/8.0, Ubuntu 20.04 and Debian 10 kernels).
  build_root    None: modules build with the host's gcc and
                /usr/src/linux-headers-KV (host package; for a "source"
                kernel, its own build tree); else the suite of a
                debootstrap root (lab/tools/aptroot.py) whose toolchain and
                headers build them (bullseye's gcc-10 for 5.10, sid's for 7.x).
  guest_tools   where kexec and makedumpfile in the guest come from: None for
                the host's, else a root's suite.
  lime_from     where LiME's source package comes from: "host" apt, or a suite
                of the private apt (newer kernels need a newer LiME).
  dump_level    makedumpfile -d: 31 where makedumpfile reads the page flags
                right; 1 (zero pages only) where it takes slab pages for free
                pages and would drop every task_struct (6.12's page_type
                encoding and later).
  variants      True on exactly one kernel: it alone gets every dump format
                (compression variants, ELF, QEMU's dumps); the others get the
                main kdump of each scenario.
  golden        True where lab/golden records the baseline's transcripts (the
                baseline krash predates the other kernels).
  stock_modules modules the guest loads, in dependency order (no modules.dep
                in the debs).
"""
import hashlib
import json
from pathlib import Path

LIVE = "live"

KERNELS = [
    {
        "release": "5.10.0-43-cloud-amd64", "apt": "private", "suite": "bullseye-security",
        "series": r"^linux-image-5\.10\.0-[0-9]+-cloud-amd64-dbg$",
        "packaging": "image", "build_root": "bullseye", "guest_tools": None, "lime_from": "host",
        "dump_level": 31, "variants": False, "golden": False,
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
        "dump_level": 31, "variants": True, "golden": True,
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
        "dump_level": 1, "variants": False, "golden": True,
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
        "dump_level": 1, "variants": False, "golden": False,
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
        "dump_level": 31, "variants": False, "golden": False,
        "stock_modules": [
            "drivers/block/virtio_blk", "drivers/firmware/qemu_fw_cfg", "drivers/block/loop",
            "drivers/md/dm-mod", "drivers/net/dummy",
        ],
    },
]

for _k in KERNELS:
    _k.setdefault("flavor", "cloud")

BY_RELEASE = {k["release"]: k for k in KERNELS}

# Releases, oldest first.
RELEASES = [k["release"] for k in KERNELS]
# Where lab/golden records the baseline's transcripts.
GOLDEN_KERNELS = [k["release"] for k in KERNELS if k["golden"]]
# The one kernel with every dump format.
VARIANT_KERNELS = [k["release"] for k in KERNELS if k["variants"]]

# Scenarios a kernel cannot have, with the reason (recorded in dumps/index.json):
# {release: {scenario: reason}}.
SKIPPED_SCENARIOS = {
    "6.1.192-krash-fp": {
        "slab-corrupt": "SLAB (the allocator) keeps the indexes of free objects in an array outside "
                        "them: text written over freed objects breaks no allocator state, the next "
                        "allocations hand the objects back and nothing crashes",
        "live": "LiME (the live scenario's memory image) needs the kernel's crypto hash API, "
                "which the flavor's small configuration leaves out",
    },
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


def dump_spec(kv):
    """What of kv's entry decides its dumps' bytes (part of the dump cache key)."""
    s = spec(kv)
    key = {k: s[k] for k in ("release", "packaging", "guest_tools", "dump_level", "stock_modules")}
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
    return [f"linux-image-{kv}-unsigned", f"linux-image-{kv}-dbg"]
