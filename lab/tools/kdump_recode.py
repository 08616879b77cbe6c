"""Re-encode the pages of a kdump-compressed dump with another codec.

Debian's makedumpfile 1.7.2 is built without snappy and zstd, so the lab
makes those variants itself: header, sub-header and bitmaps are copied as
they are, every page is inflated from zlib and compressed again with the
wanted codec (kept raw when that does not shrink it), and the page
descriptors are rewritten.  The codecs come from the system's libsnappy and
libzstd through ctypes, so no Python package is needed.
"""
import ctypes
import ctypes.util
import struct
import zlib

FLAG_ZLIB, FLAG_LZO, FLAG_SNAPPY, FLAG_ZSTD = 0x1, 0x2, 0x4, 0x20
CODEC_FLAGS = {"snappy": FLAG_SNAPPY, "zstd": FLAG_ZSTD}
STATUS_OFFSET = 424  # disk_dump_header.status, after signature, version, utsname, timestamp
PAGE_DESC = struct.Struct("<qIIQ")  # offset, size, flags, page_flags


class RecodeError(Exception):
    """The input is not a kdump-compressed file this tool can re-encode."""


def _load(name, soname):
    path = ctypes.util.find_library(name) or soname
    try:
        return ctypes.CDLL(path)
    except OSError as e:
        raise RecodeError(f"cannot load {soname} for the {name} variant: {e}") from e


class Snappy:
    def __init__(self):
        self.lib = _load("snappy", "libsnappy.so.1")
        self.lib.snappy_max_compressed_length.restype = ctypes.c_size_t
        self.lib.snappy_max_compressed_length.argtypes = [ctypes.c_size_t]

    def compress(self, data):
        cap = self.lib.snappy_max_compressed_length(len(data))
        out = ctypes.create_string_buffer(cap)
        size = ctypes.c_size_t(cap)
        if self.lib.snappy_compress(data, ctypes.c_size_t(len(data)), out, ctypes.byref(size)) != 0:
            raise RecodeError("snappy_compress failed")
        return out.raw[:size.value]


class Zstd:
    def __init__(self):
        self.lib = _load("zstd", "libzstd.so.1")
        self.lib.ZSTD_compressBound.restype = ctypes.c_size_t
        self.lib.ZSTD_compress.restype = ctypes.c_size_t
        self.lib.ZSTD_compress.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p,
                                           ctypes.c_size_t, ctypes.c_int]
        self.lib.ZSTD_isError.argtypes = [ctypes.c_size_t]

    def compress(self, data):
        cap = self.lib.ZSTD_compressBound(ctypes.c_size_t(len(data)))
        out = ctypes.create_string_buffer(cap)
        n = self.lib.ZSTD_compress(out, cap, data, len(data), 1)
        if self.lib.ZSTD_isError(n):
            raise RecodeError("ZSTD_compress failed")
        return out.raw[:n]


def recode(src, dst, codec):
    """Write dst: src (kdump-compressed, zlib or raw pages) with pages in `codec`."""
    compressor = {"snappy": Snappy, "zstd": Zstd}[codec]()
    new_flag = CODEC_FLAGS[codec]
    with open(src, "rb") as f:
        data = f.read()
    if data[:8] != b"KDUMP   ":
        raise RecodeError(f"{src}: not a kdump-compressed file")
    status, block_size, sub_hdr_size, bitmap_blocks, max_mapnr = struct.unpack_from(
        "<IiiII", data, STATUS_OFFSET)
    if block_size <= 0 or bitmap_blocks == 0:
        raise RecodeError(f"{src}: bad block size or bitmap size")
    bitmap_start = (1 + sub_hdr_size) * block_size
    half = bitmap_blocks * block_size // 2
    dumpable = int.from_bytes(data[bitmap_start + half:bitmap_start + 2 * half], "little").bit_count()
    desc_start = (1 + sub_hdr_size + bitmap_blocks) * block_size
    data_start = desc_start + dumpable * PAGE_DESC.size
    out = bytearray(data[:data_start])
    struct.pack_into("<I", out, STATUS_OFFSET,
                     (status & ~(FLAG_ZLIB | FLAG_LZO | FLAG_SNAPPY | FLAG_ZSTD)) | new_flag)
    placed = {}
    for i in range(dumpable):
        pos = desc_start + i * PAGE_DESC.size
        offset, size, flags, page_flags = PAGE_DESC.unpack_from(data, pos)
        if offset not in placed:
            chunk = data[offset:offset + size]
            if len(chunk) != size:
                raise RecodeError(f"{src}: page {i} data out of the file")
            if flags & FLAG_ZLIB:
                page = zlib.decompress(chunk)
            elif flags == 0:
                page = chunk
            else:
                raise RecodeError(f"{src}: page {i} has codec flags {flags:#x}; only zlib input")
            packed = compressor.compress(page)
            if len(packed) < len(page):
                body, new_flags = packed, new_flag
            else:
                body, new_flags = page, 0
            placed[offset] = (len(out), len(body), new_flags)
            out += body
        new_offset, new_size, new_flags = placed[offset]
        PAGE_DESC.pack_into(out, pos, new_offset, new_size, new_flags, page_flags)
    tmp = f"{dst}.part"
    with open(tmp, "wb") as f:
        f.write(out)
    import os
    os.replace(tmp, dst)
