#!/bin/sh
# Regenerates the committed objdump output the tests compare against, and
# ../tables.rs, with the cross binutils (Debian: binutils-aarch64-linux-gnu,
# gcc-aarch64-linux-gnu). Run from this directory. The tests use the same
# commands when the tools are installed.
set -eu
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
oracle() { # oracle BIN BASE: "addr<TAB>word<TAB>text" per instruction
	aarch64-linux-gnu-objdump -D -b binary -m aarch64 --adjust-vma="$2" "$1" |
		grep -P '^ *[0-9a-f]+:\t' | sed -E 's/^ *([0-9a-f]+):\t([0-9a-f]{8}) \t/\1\t\2\t/'
}
aarch64-linux-gnu-as -march=armv8.7-a+lse+crc+crypto+memtag+rcpc+pauth+sve forms.s -o "$TMP/forms.o"
aarch64-linux-gnu-ld -Ttext=0xffff800008010000 -e forms "$TMP/forms.o" -o "$TMP/forms.elf"
aarch64-linux-gnu-objcopy -O binary -j .text "$TMP/forms.elf" "$TMP/forms.bin"
oracle "$TMP/forms.bin" 0xffff800008010000 > forms.objdump
aarch64-linux-gnu-gcc -O2 -mbranch-protection=standard -march=armv8.2-a+lse -mgeneral-regs-only \
	-fno-stack-protector -ffreestanding -fno-builtin -fno-pic -fno-asynchronous-unwind-tables \
	-c kernel_like.c -o "$TMP/kl.o"
aarch64-linux-gnu-ld -Ttext=0xffff800008100000 -e _start "$TMP/kl.o" -o "$TMP/kl.elf"
aarch64-linux-gnu-objcopy -O binary -j .text "$TMP/kl.elf" "$TMP/kl.bin"
oracle "$TMP/kl.bin" 0xffff800008100000 > kernel_like.objdump
# Every system-register encoding (mrs, msr), every sys operation (Rt = x0
# and xzr, and sysl), every hint/barrier/PSTATE word.
python3 - "$TMP" <<'PY'
import struct, sys
d = sys.argv[1]
def write(name, ws):
    open(f"{d}/{name}", "wb").write(b"".join(struct.pack("<I", w) for w in ws))
write("sysreg.bin", [rw | (enc << 5) for rw in (0xd5300000, 0xd5100000) for enc in range(1 << 15)])
write("sys.bin", [0xd5080000 | (enc << 5) | rt for rt in (0, 31) for enc in range(1 << 14)]
      + [0xd5280000 | (enc << 5) for enc in range(1 << 14)])
write("pstate.bin", [0xd500401f | (op1 << 16) | (crm << 8) | (op2 << 5) for op1 in range(8) for crm in range(16) for op2 in range(8)]
      + [0xd503301f | (crm << 8) | (op2 << 5) for crm in range(16) for op2 in range(8)]
      + [0xd503201f | (crm << 8) | (op2 << 5) for crm in range(16) for op2 in range(8)])
PY
for t in sysreg sys pstate; do oracle "$TMP/$t.bin" 0 > "$TMP/$t.objd"; done
(cd "$TMP" && python3 "$OLDPWD/gen_tables.py") > ../tables.rs
rustfmt --edition 2021 --config max_width=120,use_small_heuristics=Max ../tables.rs
