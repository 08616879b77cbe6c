#!/usr/bin/env python3
"""Makes the LZO1X test vectors of krash-dumpfile's decoder (src/lzo.rs,
src/compression.rs tests) with liblzo2 itself, the library makedumpfile -l
compresses dump pages with: NAME.1.lzo from lzo1x_1_compress (makedumpfile's
encoder) and NAME.999.lzo from lzo1x_999_compress (more instruction shapes).

The inputs are the ones the tests build (the same formulas there); a test
decodes each vector and compares it with its input, so a vector and a test
that disagree fail.  Run by hand when an input changes (needs liblzo2-2,
which the lab's makedumpfile brings):  python3 make.py
"""
import ctypes
import ctypes.util
from pathlib import Path

LZO_VERSION = 0x20A0
POINTER = ctypes.sizeof(ctypes.c_void_p)


def inputs():
    hello = (b"hello hello hello world, hello world" * 100)[:3000]
    return {
        "zeros": bytes(4096),
        "mod13": bytes(i % 13 for i in range(4096)),
        "hashed": bytes((((i * 2654435761) & 0xFFFFFFFF) >> 13) & 0xFF for i in range(4096)),
        "hello": hello,
        "tiny": bytes([1, 2, 3]),
        "sample-page": bytes(((i * 7) % 251) ^ (0 if i % 300 < 40 else 0x5A) for i in range(4096)),
        "sevens-8192": bytes([7]) * 8192,
    }


def main():
    lib = ctypes.CDLL(ctypes.util.find_library("lzo2") or "liblzo2.so.2")
    # lzo_init(): the library checks the caller's type sizes (lzoconf.h).
    sizes = [ctypes.sizeof(ctypes.c_short), ctypes.sizeof(ctypes.c_int), ctypes.sizeof(ctypes.c_long), 4,
             ctypes.sizeof(ctypes.c_size_t), POINTER, POINTER, POINTER, 6 * POINTER]
    if lib.__lzo_init_v2(LZO_VERSION, *sizes) != 0:
        raise SystemExit("liblzo2: lzo_init failed")
    encoders = {"1": (lib.lzo1x_1_compress, 16384 * POINTER), "999": (lib.lzo1x_999_compress, 14 * 16384 * 2)}
    here = Path(__file__).resolve().parent
    for name, data in inputs().items():
        for level, (encode, workmem) in encoders.items():
            out = ctypes.create_string_buffer(len(data) + len(data) // 16 + 64 + 3)
            out_len = ctypes.c_size_t(len(out))
            work = ctypes.create_string_buffer(workmem)
            if encode(data, ctypes.c_size_t(len(data)), out, ctypes.byref(out_len), work) != 0:
                raise SystemExit(f"liblzo2: compressing {name} failed")
            (here / f"{name}.{level}.lzo").write_bytes(out.raw[: out_len.value])


if __name__ == "__main__":
    main()
