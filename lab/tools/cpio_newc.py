"""Write initramfs archives in the cpio "newc" format, device nodes included.

Writing the archive directly (instead of staging a tree for cpio(1)) lets the
lab create /dev/console without mknod and keeps the bytes reproducible.
"""
import stat

TRAILER = "TRAILER!!!"


class Archive:
    """An in-memory newc archive; add entries, then call finish()."""

    def __init__(self):
        self._parts = []
        self._ino = 1
        self._dirs = set()
        self._length = 0

    def _entry(self, name, mode, data=b"", rdev=(0, 0), nlink=1):
        name_bytes = name.encode() + b"\0"
        fields = [self._ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1],
                  len(name_bytes), 0]
        self._ino += 1
        header = b"070701" + b"".join(b"%08x" % f for f in fields)
        self._parts.append(header + name_bytes)
        self._pad()
        self._parts.append(data)
        self._pad()

    def _pad(self):
        self._length += len(self._parts[-1])
        pad = b"\0" * (-self._length % 4)
        self._parts.append(pad)
        self._length += len(pad)

    def directory(self, name):
        if name not in self._dirs:
            self._dirs.add(name)
            self._entry(name, stat.S_IFDIR | 0o755, nlink=2)

    def parents(self, name):
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            self.directory("/".join(parts[:i]))

    def file(self, name, data, mode=0o644):
        self.parents(name)
        self._entry(name, stat.S_IFREG | mode, data)

    def symlink(self, name, target):
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def char_device(self, name, major, minor):
        self._entry(name, stat.S_IFCHR | 0o600, rdev=(major, minor))

    def finish(self):
        self._entry(TRAILER, 0, nlink=1)
        return b"".join(self._parts)
