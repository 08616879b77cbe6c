"""Other Debian suites without touching the host: a private apt configuration and debootstrap roots.

The host's apt state (sources, lists, cache, dpkg database) is never changed:
packages of other suites are only downloaded (`apt-get download`, then
`dpkg-deb -x`) or installed inside a root made by `debootstrap --variant=minbase`.
Everything lives under LAB_DIR/apt/ (the private configuration) and
LAB_DIR/roots/<suite>/ (the roots).

Commands run inside a root through `in_root`: a private mount namespace
(`unshare --mount`), so the bind mounts it makes vanish with the process and
never leak into the host's mount table, then `chroot`.  Host directories are
bound at the same path inside the root, so file names in transcripts and in
the DWARF of modules built there are the host's.
"""
import os
import re
import shlex
import subprocess
import threading
from pathlib import Path, PurePosixPath

KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
# The host's sources name its mirror; the private list uses the same one.
HOST_SOURCES = Path("/etc/apt/sources.list.d")
DEFAULT_MIRROR = "http://deb.debian.org/debian"

# suite -> (archive: "debian" or "debian-security", suite name in that archive)
SUITES = {
    "bookworm": ("debian", "bookworm"),
    "bookworm-security": ("debian-security", "bookworm-security"),
    "bullseye": ("debian", "bullseye"),
    "bullseye-security": ("debian-security", "bullseye-security"),
    "sid": ("debian", "sid"),
}

# What each root is for; installed with apt-get inside it.
ROOT_PACKAGES = {
    # Module builds for 5.10: bullseye's gcc-10 (the kernel was built with it).
    "bullseye": ["make", "gcc-10", "libc6-dev"],
    # Module builds for 7.x, kexec and makedumpfile for 7.x guests, crash 9 as an oracle.
    "sid": ["make", "gcc", "libc6-dev", "kexec-tools", "makedumpfile", "crash", "xz-utils"],
}

# The suites a root's apt sees (a security suite needs its base suite).
ROOT_SOURCES = {"bullseye": ["bullseye", "bullseye-security"], "sid": ["sid"]}


class AptError(Exception):
    """A private apt or root step failed; the message says which."""


def host_mirrors():
    """(debian URI, debian-security URI) from the host's deb822 sources."""
    debian, security = DEFAULT_MIRROR, DEFAULT_MIRROR + "-security"
    for f in sorted(HOST_SOURCES.glob("*.sources")):
        for stanza in f.read_text().split("\n\n"):
            fields = dict(re.findall(r"^(\w[\w-]*):\s*(.*)$", stanza, re.M))
            uris, suites = fields.get("URIs", "").split(), fields.get("Suites", "").split()
            if not uris:
                continue
            if any(s.endswith("-security") for s in suites):
                security = uris[0]
            else:
                debian = uris[0]
    return debian, security


def source_lines(suites):
    debian, security = host_mirrors()
    lines = []
    for s in suites:
        archive, name = SUITES[s]
        uri = security if archive == "debian-security" else debian
        lines.append(f"deb [signed-by={KEYRING}] {uri} {name} main")
    return "\n".join(lines) + "\n"


class PrivateApt:
    """apt-get and apt-cache of other suites (or other architectures), with state under `base` only.

    architectures: None for the host's; else a list, the first apt's own
    (packages named without ":arch" are of it), the others beside it.
    """

    def __init__(self, base, suites, log, architectures=None):
        self.base = Path(base)
        self.suites = list(suites)
        self.log = log
        self.architectures = list(architectures or [])
        self._lock = threading.Lock()
        self._updated = False

    def options(self):
        b = self.base
        arch = []
        if self.architectures:
            arch = ["-o", f"APT::Architecture={self.architectures[0]}"]
            for a in self.architectures:
                arch += ["-o", f"APT::Architectures::={a}"]
        return ["-o", f"Dir::Etc::sourcelist={b / 'sources.list'}", "-o", "Dir::Etc::sourceparts=/nonexistent",
                "-o", f"Dir::State::Lists={b / 'lists'}", "-o", f"Dir::Cache={b / 'cache'}",
                "-o", "Dir::Cache::pkgcache=", "-o", "Dir::Cache::srcpkgcache=",
                "-o", "APT::Sandbox::User=root", *arch]

    def update(self):
        """apt-get update of the private lists, once per run (sid moves: fresh lists each time)."""
        with self._lock:
            if self._updated:
                return
            for d in ("lists/partial", "cache/archives/partial"):
                (self.base / d).mkdir(parents=True, exist_ok=True)
            (self.base / "sources.list").write_text(source_lines(self.suites))
            self.log(f"private apt: update ({', '.join(self.suites)})")
            r = subprocess.run(["apt-get", *self.options(), "update"], capture_output=True, text=True)
            if r.returncode != 0:
                raise AptError(f"private apt-get update failed:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
            self._updated = True

    def candidate(self, package):
        """The version apt would download, or None when no suite has the package."""
        self.update()
        r = subprocess.run(["apt-cache", *self.options(), "policy", package], capture_output=True, text=True)
        m = re.search(r"Candidate:\s*(\S+)", r.stdout)
        return m.group(1) if m and m.group(1) != "(none)" else None

    def search(self, pattern):
        """Package names matching a regex, newest version first."""
        self.update()
        r = subprocess.run(["apt-cache", *self.options(), "search", "--names-only", pattern],
                           capture_output=True, text=True)
        names = [line.split(" - ")[0].strip() for line in r.stdout.splitlines() if line.strip()]
        return sorted(names, key=version_key, reverse=True)

    def download(self, packages, dest):
        """apt-get download into dest; raises AptError naming what failed (a 404 too)."""
        self.update()
        r = subprocess.run(["apt-get", *self.options(), "download", *packages], cwd=dest,
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise AptError(f"private apt-get download {' '.join(packages)} failed:\n{r.stderr[-1500:]}")


def version_key(name):
    """Sort key comparing the numbers in a package name numerically."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


def host_download(packages, dest):
    r = subprocess.run(["apt-get", "download", *packages], cwd=dest, capture_output=True, text=True)
    if r.returncode != 0:
        raise AptError(f"apt-get download {' '.join(packages)} failed:\n{r.stderr[-1500:]}")


# ---------------------------------------------------------------- roots

def in_root_command(root, cmd, binds=(), proc=True):
    """The argv running cmd chrooted in root, with host paths bound at the same place inside."""
    root = str(root)
    steps = ["set -e"]
    for b in binds:
        b = str(b)
        steps.append(f"mkdir -p {shlex.quote(root + b)}")
        steps.append(f"mount --bind {shlex.quote(b)} {shlex.quote(root + b)}")
    if proc:
        steps.append(f"mount -t proc proc {shlex.quote(root + '/proc')}")
    steps.append(f"mount --bind /dev {shlex.quote(root + '/dev')}")
    env = "env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive"
    steps.append(f"exec chroot {shlex.quote(root)} {env} " + " ".join(shlex.quote(str(c)) for c in cmd))
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", "; ".join(steps)]


def in_root(root, cmd, binds=(), **kw):
    return subprocess.run(in_root_command(root, cmd, binds), **kw)


def ensure_root(lab_dir, suite, extra_packages, log):
    """A debootstrap root of suite with ROOT_PACKAGES[suite] + extra_packages installed.

    Made once (LAB_DIR/roots/<suite>, stamped with what it holds); packages
    asked for later are added with apt-get inside it.
    """
    root = Path(lab_dir) / "roots" / suite
    stamp = root / ".krash-lab-root"
    wanted = sorted(set(ROOT_PACKAGES[suite]) | set(extra_packages))
    if not stamp.exists():
        tmp = root.with_name(suite + ".tmp")
        subprocess.run(["rm", "-rf", "--one-file-system", str(tmp)], check=True)
        tmp.parent.mkdir(parents=True, exist_ok=True)
        debian, _ = host_mirrors()
        log(f"root {suite}: debootstrap --variant=minbase {suite} ({debian})")
        r = subprocess.run(["debootstrap", "--variant=minbase", f"--keyring={KEYRING}", suite, str(tmp), debian],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise AptError(f"debootstrap {suite} failed:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
        # The root's own sources: its suite (and security suite) from the host's mirror.
        (tmp / "etc/apt/sources.list").write_text(source_lines(ROOT_SOURCES[suite]))
        for f in (tmp / "etc/apt/sources.list.d").glob("*"):
            f.unlink()
        (tmp / "etc/apt/apt.conf.d/90krash-lab").write_text(
            'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n')
        # How the host reaches its mirror (proxies; Check-Valid-Until off for a
        # snapshot mirror whose Release files are past their date) holds in the root too.
        for f in sorted(Path("/etc/apt/apt.conf.d").glob("*")):
            if f.is_file() and "Acquire::" in f.read_text(errors="replace"):
                (tmp / "etc/apt/apt.conf.d" / f"91host-{f.name}").write_text(f.read_text())
        (tmp / ".krash-lab-root").write_text("")
        tmp.rename(root)
    have = set(stamp.read_text().split())
    missing = [p for p in wanted if p not in have]
    if missing:
        log(f"root {suite}: apt-get install {' '.join(missing)}")
        for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", *missing], ["apt-get", "clean"]):
            r = in_root(root, cmd, capture_output=True, text=True)
            if r.returncode != 0:
                raise AptError(f"root {suite}: {' '.join(cmd)} failed:\n{r.stdout[-2500:]}\n{r.stderr[-2500:]}")
        stamp.write_text("\n".join(sorted(have | set(missing))) + "\n")
    return root


def root_package_version(root, package):
    r = in_root(root, ["dpkg-query", "-W", "-f", "${Version}", package], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else None


def resolve_in_root(root, path):
    """The host path of `path` as seen inside root, following symlinks inside the root (absolute ones too)."""
    root = Path(root)
    parts = list(PurePosixPath(path).parts[1:])
    current = PurePosixPath("/")
    hops = 0
    while parts:
        part = parts.pop(0)
        if part in (".", ""):
            continue
        if part == "..":
            current = current.parent
            continue
        candidate = current / part
        host = root / str(candidate).lstrip("/")
        if host.is_symlink():
            hops += 1
            if hops > 40:
                raise AptError(f"too many symlinks resolving {path} in {root}")
            target = PurePosixPath(os.readlink(host))
            if target.is_absolute():
                current = PurePosixPath("/")
                parts = list(target.parts[1:]) + parts
            else:
                parts = list(target.parts) + parts
            continue
        current = candidate
    return root / str(current).lstrip("/")


def shared_libs_in_root(root, binary, binds=()):
    """(path inside the root, host path) of every shared library the root's `ldd` names for binary
    (a file of the root, or of a host directory in binds)."""
    r = in_root(root, ["ldd", str(binary)], binds, capture_output=True, text=True)
    if r.returncode != 0:
        raise AptError(f"ldd {binary} in {root} failed: {r.stderr[-500:]}")
    libs = []
    for line in r.stdout.splitlines():
        for word in line.split():
            if word.startswith("/"):
                libs.append((word, resolve_in_root(root, word)))
    return libs
