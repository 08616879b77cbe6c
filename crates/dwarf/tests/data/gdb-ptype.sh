#!/bin/sh
# Regenerates gdb-ptype-<kernel>.txt, the gdb side of ptype_matches_gdb
# in tests/types.rs (gdb takes about a minute per vmlinux).
set -e
cd "$(dirname "$0")"
for kv in 6.1.0-56-cloud-amd64 6.12.117+deb12-cloud-amd64; do
    vmlinux=/var/cache/krash-lab/kernels/$kv/root/usr/lib/debug/boot/vmlinux-$kv
    gdb -batch \
        -ex 'ptype struct list_head' -ex 'ptype struct hlist_node' \
        -ex 'ptype struct file_operations' -ex 'ptype struct timekeeper' \
        -ex 'ptype struct page' -ex 'ptype struct kmem_cache' \
        -ex 'ptype struct pt_regs' -ex 'ptype enum pid_type' \
        -ex 'whatis tk_core' -ex 'ptype tk_core' -ex 'whatis jiffies' \
        -ex 'ptype struct sk_buff' \
        "$vmlinux" > "gdb-ptype-$kv.txt"
done
