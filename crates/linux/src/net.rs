//! Networking: the devices of a network namespace with their addresses,
//! the ARP (IPv4 neighbour) cache, and the sockets a task holds open.

use crate::fs::vfs::VfsExt;
use std::net::{Ipv4Addr, Ipv6Addr};

use krash_core::{Result, VirtualMemory};
use serde::Serialize;

use krash_program::list::{self, WalkOptions};
use krash_program::Kernel;

/// Devices accepted in one namespace.
const MAX_DEVICES: usize = 1 << 16;
/// Addresses accepted on one device.
const MAX_ADDRESSES: usize = 4096;
/// ARP hash buckets believed (`1 << hash_shift`).
const MAX_HASH_SHIFT: u64 = 24;
/// Neighbours followed along one bucket.
const MAX_BUCKET_CHAIN: usize = 4096;
/// Longest hardware address printed.
const MAX_HW_ADDR: u64 = 32;

const AF_INET: u64 = 2;
const AF_INET6: u64 = 10;

/// A network device.
#[derive(Debug, Clone, Serialize)]
pub struct NetDevice {
    pub addr: u64,
    pub name: String,
    pub ipv4: Vec<String>,
    pub ipv6: Vec<String>,
}

/// The devices of one namespace.
#[derive(Debug, Clone, Serialize)]
pub struct NetDevices {
    pub namespace: u64,
    pub devices: Vec<NetDevice>,
    pub broken: Option<String>,
}

/// One ARP cache entry.
#[derive(Debug, Clone, Serialize)]
pub struct Neighbour {
    pub addr: u64,
    pub ip: String,
    /// `net_device.type` (ARPHRD_*).
    pub hw_type: u64,
    pub hw_addr: Vec<u8>,
    pub device: String,
    /// `nud_state` bits (NUD_*).
    pub state: u64,
}

/// One socket among a task's open files.
#[derive(Debug, Clone, Serialize)]
pub struct OpenSocket {
    pub fd: u64,
    pub socket: u64,
    pub sock: u64,
    pub family: u64,
    pub sock_type: u64,
    /// For INET and INET6: (address, port) of the local and remote ends.
    pub source: Option<(String, u16)>,
    pub destination: Option<(String, u16)>,
}

/// This module's operations on [`Kernel`] (an extension trait: `use` it to call them).
pub trait NetExt {
    /// The network namespace of a task (`nsproxy->net_ns`), or `init_net` for 0.
    fn net_namespace(&self, task: u64) -> Result<u64>;
    /// The devices of namespace `net` in `dev_base_head` order.
    fn net_devices(&self, net: u64) -> Result<NetDevices>;
    /// The IPv4 neighbour cache (`arp_tbl`), bucket by bucket.
    fn arp_cache(&self) -> Result<Vec<Neighbour>>;
    /// The sockets among the open files of the task at `task`.
    fn task_sockets(&self, task: u64) -> Result<Vec<OpenSocket>>;
}

impl NetExt for Kernel {
    fn net_namespace(&self, task: u64) -> Result<u64> {
        if task == 0 {
            return self.symbol_addr("init_net");
        }
        let nsproxy = self.read_field_u64(task, "task_struct", "nsproxy")?;
        if nsproxy == 0 {
            return self.symbol_addr("init_net");
        }
        self.read_field_u64(nsproxy, "nsproxy", "net_ns")
    }

    fn net_devices(&self, net: u64) -> Result<NetDevices> {
        let mem: &dyn VirtualMemory = self.memory();
        let head = self.field_addr(net, "net", "dev_base_head")?;
        let link = self.layouts().offset("net_device", "dev_list")?;
        let walk = list::walk(mem, head, WalkOptions { limit: MAX_DEVICES, ..Default::default() });
        let mut devices = Vec::new();
        for node in walk.nodes {
            let addr = node.wrapping_sub(link);
            let name = self.read_field_string(addr, "net_device", "name")?;
            devices.push(NetDevice { addr, name, ipv4: self.ipv4_addresses(addr)?, ipv6: self.ipv6_addresses(addr)? });
        }
        Ok(NetDevices { namespace: net, devices, broken: walk.broken.map(|b| b.to_string()) })
    }

    fn arp_cache(&self) -> Result<Vec<Neighbour>> {
        let mem: &dyn VirtualMemory = self.memory();
        let tbl = self.symbol_addr("arp_tbl")?;
        let nht = self.read_field_u64(tbl, "neigh_table", "nht")?;
        let shift = self.read_field(nht, "neigh_hash_table", "hash_shift")?;
        if shift > MAX_HASH_SHIFT {
            return Err(krash_core::Error::bad_data(
                "arp_tbl",
                format!("neigh_hash_table {nht:x}: hash_shift {shift} is implausible"),
            ));
        }
        let buckets_member =
            if self.layouts().has_field("neigh_hash_table", "hash_heads") { "hash_heads" } else { "hash_buckets" };
        let buckets = self.read_field_u64(nht, "neigh_hash_table", buckets_member)?;
        let hash_list = buckets_member == "hash_heads";
        let link = if hash_list { self.layouts().offset("neighbour", "hash")? } else { 0 };
        let ha_size = self.layouts().field("neighbour", "ha")?.size.unwrap_or(MAX_HW_ADDR).min(MAX_HW_ADDR);
        let mut out = Vec::new();
        for i in 0..(1u64 << shift) {
            let mut n = mem.read_u64(buckets.wrapping_add(i * 8))?;
            if hash_list && n != 0 {
                n = n.wrapping_sub(link);
            }
            let mut steps = 0;
            while n != 0 && steps < MAX_BUCKET_CHAIN {
                out.push(self.neighbour(n, ha_size)?);
                let next = if hash_list {
                    self.read_field_u64(n, "neighbour", "hash.next")?
                } else {
                    self.read_field_u64(n, "neighbour", "next")?
                };
                n = if hash_list && next != 0 { next.wrapping_sub(link) } else { next };
                steps += 1;
            }
        }
        Ok(out)
    }

    fn task_sockets(&self, task: u64) -> Result<Vec<OpenSocket>> {
        let files = self.open_files(task)?;
        let vfs_inode = self.layouts().offset("socket_alloc", "vfs_inode")?;
        let socket_in = self.layouts().offset("socket_alloc", "socket")?;
        let mut out = Vec::new();
        for f in files.files.iter().filter(|f| f.kind == "SOCK" && f.inode != 0) {
            let socket = f.inode.wrapping_sub(vfs_inode).wrapping_add(socket_in);
            let sock = self.read_field_u64(socket, "socket", "sk")?;
            out.push(self.socket_entry(f.fd, socket, sock)?);
        }
        Ok(out)
    }
}

/// Private helpers of this module's extension of [`Kernel`].
trait NetHelpers {
    fn ipv4_addresses(&self, dev: u64) -> Result<Vec<String>>;
    fn ipv6_addresses(&self, dev: u64) -> Result<Vec<String>>;
    fn read_ipv6(&self, addr: u64) -> Result<String>;
    fn neighbour(&self, n: u64, ha_size: u64) -> Result<Neighbour>;
    fn socket_entry(&self, fd: u64, socket: u64, sock: u64) -> Result<OpenSocket>;
}

impl NetHelpers for Kernel {
    fn ipv4_addresses(&self, dev: u64) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let in_dev = self.read_field_u64(dev, "net_device", "ip_ptr")?;
        if in_dev == 0 {
            return Ok(out);
        }
        let mut ifa = self.read_field_u64(in_dev, "in_device", "ifa_list")?;
        while ifa != 0 && out.len() < MAX_ADDRESSES {
            let raw = self.read_field(ifa, "in_ifaddr", "ifa_address")? as u32;
            out.push(ipv4_text(raw));
            ifa = self.read_field_u64(ifa, "in_ifaddr", "ifa_next")?;
        }
        Ok(out)
    }

    fn ipv6_addresses(&self, dev: u64) -> Result<Vec<String>> {
        let mut out = Vec::new();
        if !self.layouts().has_field("net_device", "ip6_ptr") {
            return Ok(out);
        }
        let in6_dev = self.read_field_u64(dev, "net_device", "ip6_ptr")?;
        if in6_dev == 0 {
            return Ok(out);
        }
        let mem: &dyn VirtualMemory = self.memory();
        let head = self.field_addr(in6_dev, "inet6_dev", "addr_list")?;
        let link = self.layouts().offset("inet6_ifaddr", "if_list")?;
        let walk = list::walk(mem, head, WalkOptions { limit: MAX_ADDRESSES, ..Default::default() });
        for node in walk.nodes {
            let ifa = node.wrapping_sub(link);
            out.push(self.read_ipv6(self.field_addr(ifa, "inet6_ifaddr", "addr")?)?);
        }
        Ok(out)
    }

    fn read_ipv6(&self, addr: u64) -> Result<String> {
        let mut bytes = [0u8; 16];
        self.memory().read_virt(addr, &mut bytes)?;
        Ok(Ipv6Addr::from(bytes).to_string())
    }

    fn neighbour(&self, n: u64, ha_size: u64) -> Result<Neighbour> {
        let key = self.field_addr(n, "neighbour", "primary_key")?;
        let ip = ipv4_text(self.memory().read_u32(key)?);
        let mut hw_addr = vec![0u8; ha_size as usize];
        self.memory().read_virt(self.field_addr(n, "neighbour", "ha")?, &mut hw_addr)?;
        let dev = self.read_field_u64(n, "neighbour", "dev")?;
        let (device, hw_type, addr_len) = if dev != 0 {
            (
                self.read_field_string(dev, "net_device", "name")?,
                self.read_field(dev, "net_device", "type")?,
                self.read_field(dev, "net_device", "addr_len")?,
            )
        } else {
            (String::new(), 0, ha_size)
        };
        hw_addr.truncate(addr_len.min(ha_size) as usize);
        let state = self.read_field(n, "neighbour", "nud_state")?;
        Ok(Neighbour { addr: n, ip, hw_type, hw_addr, device, state })
    }

    fn socket_entry(&self, fd: u64, socket: u64, sock: u64) -> Result<OpenSocket> {
        let mut entry = OpenSocket { fd, socket, sock, family: 0, sock_type: 0, source: None, destination: None };
        if sock == 0 {
            return Ok(entry);
        }
        entry.family = self.read_field(sock, "sock", "__sk_common.skc_family")?;
        entry.sock_type = self.read_field(sock, "sock", "sk_type")?;
        let port = |v: u64| (v as u16).swap_bytes();
        let sport = port(self.read_field(sock, "inet_sock", "inet_sport")?);
        let dport = port(self.read_field(sock, "sock", "__sk_common.skc_dport")?);
        match entry.family {
            AF_INET => {
                let src = self.read_field(sock, "sock", "__sk_common.skc_rcv_saddr")? as u32;
                let dst = self.read_field(sock, "sock", "__sk_common.skc_daddr")? as u32;
                entry.source = Some((ipv4_text(src), sport));
                entry.destination = Some((ipv4_text(dst), dport));
            }
            AF_INET6 => {
                let src = self.read_ipv6(self.field_addr(sock, "sock", "__sk_common.skc_v6_rcv_saddr")?)?;
                let dst = self.read_ipv6(self.field_addr(sock, "sock", "__sk_common.skc_v6_daddr")?)?;
                entry.source = Some((src, sport));
                entry.destination = Some((dst, dport));
            }
            _ => {}
        }
        Ok(entry)
    }
}

/// Dotted quad of an address stored in network order, read as a little-endian u32.
pub fn ipv4_text(raw: u32) -> String {
    Ipv4Addr::from(raw.to_le_bytes()).to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn ipv4_is_network_order() {
        assert_eq!(super::ipv4_text(0x0100_007f), "127.0.0.1");
    }
}
