"""arm64 kernels and guests on this x86-64 host: packages, headers, the guest's tools.

Nothing arm64 is ever installed on the host (that would remove its gcc, crash
and amd64 headers).  Debian's arm64 packages come from a private apt of the
host's own suites (aptroot.PrivateApt, arm64 its architecture, amd64 beside it
for the host-side kbuild tools) and are only extracted with `dpkg-deb -x`:

- a kernel's image, -dbg and headers packages, with the headers' -common and
  the amd64 linux-kbuild they depend on, into the kernel's root: modules
  cross-build there with the host's aarch64-linux-gnu-gcc;
- busybox-static, kexec-tools and makedumpfile with the libraries they need,
  into LAB_DIR/guest-tools/arm64/; the initramfs takes the binaries and the
  shared objects `readelf -d` names, transitively.
"""
import re
import shutil
import subprocess
from pathlib import Path

import aptroot

# The host's suites, as the lab's x86-64 bookworm kernels use them.
SUITES = ["bookworm", "bookworm-security"]
ARCHITECTURES = ["arm64", "amd64"]

# What the guest runs besides the kernel: /init's shell, kdump's tools.
GUEST_PACKAGES = ["busybox-static", "kexec-tools", "makedumpfile"]
# {path in the guest: path in the extracted packages} of the guest's programs.
GUEST_PROGRAMS = {
    "/bin/busybox": "bin/busybox",
    "/usr/sbin/kexec": "sbin/kexec",
    # Reads the printk ring from /proc/vmcore where makedumpfile cannot (capture "copy").
    "/usr/sbin/vmcore-dmesg": "sbin/vmcore-dmesg",
    "/usr/bin/makedumpfile": "usr/bin/makedumpfile",
}
# Where the arm64 dynamic loader looks for libraries (Debian's multiarch paths).
LIBRARY_DIRS = ["lib/aarch64-linux-gnu", "usr/lib/aarch64-linux-gnu"]


class Arm64Error(Exception):
    """An arm64 packaging step failed; the message says which."""


def private_apt(lab_dir, log):
    return aptroot.PrivateApt(Path(lab_dir) / "apt-arm64", SUITES, log, architectures=ARCHITECTURES)


def deb_glob(package):
    """The file name pattern of a downloaded package ("name" or "name:arch")."""
    name, _, arch = package.partition(":")
    return f"{name}_*_{arch}.deb" if arch else f"{name}_*.deb"


def headers_dependencies(headers_deb):
    """The packages a linux-headers-KV .deb needs beside it: its -common (arch all;
    -common-rt for the rt flavor) and the linux-kbuild of its version, taken for
    amd64 (its scripts run on the host)."""
    depends = subprocess.run(["dpkg-deb", "-f", str(headers_deb), "Depends"], check=True,
                             capture_output=True, text=True).stdout
    names = [re.match(r"\s*([^\s(|]+)", alt).group(1) for alt in depends.split(",")]
    common = [n for n in names if re.fullmatch(r"linux-headers-.*-common(-rt)?", n)]
    kbuild = [n for n in names if n.startswith("linux-kbuild-")]
    if len(common) != 1 or len(kbuild) != 1:
        raise Arm64Error(f"{headers_deb.name}: cannot tell its -common and linux-kbuild from Depends: {depends}")
    return [common[0], kbuild[0] + ":amd64"]


def fix_headers_makefile(root, kv):
    """The headers' Makefile includes its -common's by absolute path (/usr/src/...):
    made relative, so it finds the one extracted beside it."""
    makefile = Path(root) / f"usr/src/linux-headers-{kv}/Makefile"
    text = makefile.read_text()
    fixed = re.sub(r"^include /usr/src/", "include ../", text, flags=re.M)
    if fixed != text:
        makefile.write_text(fixed)


def library_closure(apt, packages):
    """The library packages (lib*, zlib1g) packages depend on, transitively, as name:arm64.

    One apt-cache run per level of dependencies (each run reads the package
    lists again, ~3 s): the closure is a few levels deep.
    """
    seen, level = set(), [f"{p}:arm64" for p in packages]
    while level:
        r = subprocess.run(["apt-cache", *apt.options(), "depends", "--no-recommends", "--no-suggests",
                            "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances", *level],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise Arm64Error(f"apt-cache depends {' '.join(level)} failed: {r.stderr[-500:]}")
        level = []
        for line in r.stdout.splitlines():
            m = re.match(r"\s*\|?(?:Pre)?Depends: ([^<>\s]+)$", line)
            if not m:
                continue
            dep = m.group(1) if ":" in m.group(1) else m.group(1) + ":arm64"
            if re.match(r"(lib|zlib)", dep) and dep not in seen:
                seen.add(dep)
                level.append(dep)
    return sorted(seen)


def ensure_guest_tools(lab_dir, apt, log):
    """LAB_DIR/guest-tools/arm64: GUEST_PACKAGES and their libraries, extracted (made once)."""
    top = Path(lab_dir) / "guest-tools" / "arm64"
    stamp = top / ".built"
    if stamp.exists():
        return top
    debs = Path(lab_dir) / "debs" / "arm64-guest"
    debs.mkdir(parents=True, exist_ok=True)
    wanted = [f"{p}:arm64" for p in GUEST_PACKAGES] + library_closure(apt, GUEST_PACKAGES)
    missing = [p for p in wanted if not list(debs.glob(deb_glob(p)))]
    if missing:
        log(f"arm64 guest tools: apt-get download {len(missing)} packages")
        apt.download(missing, debs)
    tmp = top.with_name("arm64.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    names = []
    for p in wanted:
        deb = sorted(debs.glob(deb_glob(p)))[-1]
        subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp)], check=True)
        names.append(deb.name)
    (tmp / ".built").write_text("\n".join(names) + "\n")
    shutil.rmtree(top, ignore_errors=True)
    tmp.rename(top)
    return top


def elf_needs(path):
    """(interpreter or None, [NEEDED sonames]) of an ELF file."""
    out = subprocess.run(["readelf", "-d", "-l", str(path)], capture_output=True, text=True).stdout
    interp = re.search(r"\[Requesting program interpreter: ([^\]]+)\]", out)
    return (interp.group(1) if interp else None), re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)


def guest_files(tools_root):
    """{path in the guest: host file} of the guest's programs and every shared object they load."""
    tools_root = Path(tools_root)
    files = {guest: tools_root / rel for guest, rel in GUEST_PROGRAMS.items()}
    todo = list(files.values())
    while todo:
        interp, needed = elf_needs(todo.pop())
        wanted = [interp] if interp else []
        for soname in needed:
            where = next((f"/{d}/{soname}" for d in LIBRARY_DIRS if (tools_root / d / soname).exists()), None)
            if where is None:
                raise Arm64Error(f"no {soname} in the arm64 guest tools ({tools_root})")
            wanted.append(where)
        for guest in wanted:
            if guest not in files:
                files[guest] = aptroot.resolve_in_root(tools_root, guest)
                todo.append(files[guest])
    return files
