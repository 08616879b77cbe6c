"""Run lab guests under QEMU (TCG) and talk to QMP for QEMU's own dumps."""
import io
import json
import socket
import subprocess
import tarfile
import time
from pathlib import Path

PANIC_END = "---[ end Kernel panic"


class GuestError(Exception):
    """The guest did not do what the scenario needs (timeout, no panic...)."""


# How a guest of each architecture boots (TCG on this x86-64 host): the QEMU
# binary, its machine options, and the kernel's name for the serial console.
MACHINES = {
    "x86_64": {"qemu": "qemu-system-x86_64", "machine": [], "console": "ttyS0"},
    # -cpu max has pointer authentication, so return addresses on stacks carry
    # PAC bits as on real arm64 servers; pauth-impdef=on signs with QEMU's
    # cheap algorithm instead of QARMA (a TCG boot takes ~3 s instead of ~8 s).
    "arm64": {"qemu": "qemu-system-aarch64", "machine": ["-M", "virt", "-cpu", "max,pauth-impdef=on"],
              "console": "ttyAMA0"},
}


def serial_console(arch):
    return MACHINES[arch]["console"]


def qemu_command(vmlinuz, initramfs, append, console, disks=(), extra=(), arch="x86_64"):
    machine = MACHINES[arch]
    cmd = [machine["qemu"], *machine["machine"], "-accel", "tcg", "-m", "1024", "-smp", "2",
           "-display", "none", "-vga", "none", "-monitor", "none", "-net", "none",
           "-no-reboot", "-serial", f"file:{console}",
           "-kernel", str(vmlinuz), "-initrd", str(initramfs), "-append", append]
    for d in disks:
        cmd += ["-drive", f"file={d},format=raw,if=virtio"]
    return cmd + list(extra)


def boot_until_exit(vmlinuz, initramfs, append, console, disks, timeout, started_marker=None, arch="x86_64"):
    """Boot and wait for the guest to power itself off.

    started_marker: a console line the guest prints once its scenario runs; a
    kernel panic on the console before it means the boot itself died (the guest
    then hangs with panic=0): stop at once instead of waiting for the timeout.
    """
    proc = subprocess.Popen(qemu_command(vmlinuz, initramfs, append, console, disks, arch=arch),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while True:
        try:
            out, _ = proc.communicate(timeout=1)
            break
        except subprocess.TimeoutExpired:
            pass
        died = False
        if started_marker:
            text = Path(console).read_text(errors="replace") if Path(console).exists() else ""
            died = PANIC_END in text and started_marker not in text
        if died or time.monotonic() > deadline:
            proc.kill()
            proc.communicate()
            if died:
                raise GuestError("the guest panicked before its scenario started")
            raise GuestError(f"guest still running after {timeout}s (no kdump capture?)") from None
    if proc.returncode != 0:
        raise GuestError(f"qemu exited with {proc.returncode}: {out.decode(errors='replace')[-1500:]}")


def read_tar_disk(image):
    """Files of the tar archive the capture kernel wrote to a raw disk."""
    files = {}
    with open(image, "rb") as f:
        data = f.read()
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            for member in tar.getmembers():
                if member.isfile():
                    files[member.name] = tar.extractfile(member).read()
    except tarfile.TarError:
        return {}
    return files


class Qmp:
    """A minimal QMP client over a unix socket."""

    def __init__(self, path, timeout):
        deadline = time.monotonic() + 30
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(str(path))
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise GuestError("cannot connect to the QMP socket") from None
                time.sleep(0.2)
        self.sock.settimeout(timeout)
        self.reader = self.sock.makefile("r")
        self._read_reply()  # greeting
        self.execute("qmp_capabilities")

    def _read_reply(self):
        while True:
            line = self.reader.readline()
            if not line:
                raise GuestError("QMP connection closed")
            msg = json.loads(line)
            if "event" not in msg:
                return msg

    def execute(self, command, **arguments):
        req = {"execute": command}
        if arguments:
            req["arguments"] = arguments
        self.sock.sendall(json.dumps(req).encode() + b"\n")
        reply = self._read_reply()
        if "error" in reply:
            raise GuestError(f"QMP {command} failed: {reply['error']}")
        return reply.get("return")


def boot_and_dump(vmlinuz, initramfs, append, console, workdir, dumps, timeout, arch="x86_64"):
    """Boot with vmcoreinfo, wait for the panic on the console, dump with QMP.

    dumps: (file name, dump-guest-memory arguments) pairs.
    """
    qmp_path = Path(workdir) / "qmp.sock"
    extra = ["-device", "vmcoreinfo", "-qmp", f"unix:{qmp_path},server=on,wait=off"]
    proc = subprocess.Popen(qemu_command(vmlinuz, initramfs, append, console, (), extra, arch),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        qmp = Qmp(qmp_path, timeout)
        deadline = time.monotonic() + timeout
        while True:
            text = Path(console).read_text(errors="replace") if Path(console).exists() else ""
            if PANIC_END in text:
                break
            if proc.poll() is not None:
                raise GuestError(f"qemu exited ({proc.returncode}) before the guest panicked")
            if time.monotonic() > deadline:
                raise GuestError(f"no kernel panic on the console after {timeout}s")
            time.sleep(0.5)
        qmp.execute("stop")
        for name, args in dumps:
            target = Path(workdir) / name
            tmp = target.with_name(target.name + ".part")
            qmp.execute("dump-guest-memory", protocol=f"file:{tmp}", **args)
            if not tmp.exists() or tmp.stat().st_size == 0:
                raise GuestError(f"dump-guest-memory wrote nothing for {name}")
            tmp.rename(target)
        qmp.execute("quit")
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        qmp_path.unlink(missing_ok=True)
