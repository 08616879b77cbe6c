use std::fmt::Write;

use krash_commands::output::{Neighbour, NetOutput, OpenSocket, TaskSockets};

use super::struct_cmd::render_block;
use super::task::header;

const ARP_HEADING: &str = "NEIGHBOUR        IP ADDRESS      HW TYPE    HW ADDRESS         DEVICE  STATE";
const SOCKET_HEADING: &str = "FD      SOCKET            SOCK       FAMILY:TYPE SOURCE-PORT DESTINATION-PORT";

pub(crate) fn render(n: &NetOutput) -> String {
    match n {
        NetOutput::Devices(d) => {
            // crash 8.0.2's layout: a six-column name.
            let mut out = String::from("   NET_DEVICE     NAME   IP ADDRESS(ES)\n");
            for dev in &d.devices {
                let addrs: Vec<&str> = dev.ipv4.iter().chain(&dev.ipv6).map(String::as_str).collect();
                let _ = writeln!(out, "{:016x}  {:<6} {}", dev.addr, dev.name, addrs.join(", "));
            }
            if let Some(b) = &d.broken {
                let _ = writeln!(out, "net: {b}");
            }
            out
        }
        NetOutput::Arp { neighbours } => arp(neighbours),
        NetOutput::Sockets(s) => sockets(s),
        NetOutput::SocketStructs { header: h, sockets } => {
            let mut out = format!("{}\n", header(h));
            if sockets.is_empty() {
                out.push_str("No open sockets.\n");
            }
            for (i, s) in sockets.iter().enumerate() {
                let gap = if i == 0 { "" } else { "\n" };
                let _ = writeln!(out, "{gap}FD  {:^16}  {:^16}", "SOCKET", "SOCK");
                let _ = writeln!(out, "{:2}  {:>16x}  {:>16x}\n", s.socket.fd, s.socket.socket, s.socket.sock);
                for b in &s.blocks {
                    render_block(&mut out, b);
                }
            }
            out
        }
        NetOutput::Address { dotted, .. } => format!("{dotted}\n"),
    }
}

fn arp(neighbours: &[Neighbour]) -> String {
    let mut out = String::new();
    if !neighbours.is_empty() {
        let _ = writeln!(out, "{ARP_HEADING}");
    }
    for n in neighbours {
        let _ = write!(out, "{:<16x} {:<16}{:<10} ", n.addr, n.ip, hw_type_name(n.hw_type));
        let ether = matches!(n.hw_type, 1 | 6);
        for (i, b) in n.hw_addr.iter().enumerate() {
            let sep = if ether && i + 1 < n.hw_addr.len() { ':' } else { ' ' };
            let _ = write!(out, "{b:02x}{sep}");
        }
        let _ = writeln!(out, " {:<6}  {}", n.device, nud_flags(n.state));
    }
    out
}

/// crash's names for ARPHRD_* hardware types.
fn hw_type_name(t: u64) -> &'static str {
    match t {
        1 => "ETHER",
        0 => "NETROM",
        2 => "EETHER",
        3 => "AX25",
        4 => "PRONET",
        5 => "CHAOS",
        6 => "IEEE802",
        7 => "ARCNET",
        8 => "APPLETLK",
        15 => "DLCI",
        23 => "METRICOM",
        _ => "UNKNOWN",
    }
}

fn nud_flags(state: u64) -> String {
    const NAMES: [(u64, &str); 8] = [
        (0x01, "INCOMPLETE"),
        (0x02, "REACHABLE"),
        (0x04, "STALE"),
        (0x08, "DELAY"),
        (0x10, "PROBE"),
        (0x20, "FAILED"),
        (0x40, "NOARP"),
        (0x80, "PERMANENT"),
    ];
    NAMES.iter().filter(|(bit, _)| state & bit != 0).map(|(_, n)| *n).collect::<Vec<_>>().join("|")
}

fn sockets(s: &TaskSockets) -> String {
    let mut out = format!("{}\n", header(&s.header));
    if s.sockets.is_empty() {
        out.push_str("No open sockets.\n");
        return out;
    }
    let _ = writeln!(out, "{SOCKET_HEADING}");
    for sock in &s.sockets {
        let _ = writeln!(out, "{:2} {:>16x} {:>16x} {}", sock.fd, sock.socket, sock.sock, sock_info(sock));
    }
    out
}

/// FAMILY:TYPE then, for INET and INET6, the source and destination address-port pairs.
fn sock_info(s: &OpenSocket) -> String {
    let family = match s.family {
        0 => "UNSPEC:".to_string(),
        1 => "UNIX:".to_string(),
        2 => "INET:".to_string(),
        3 => "AX25:".to_string(),
        4 => "IPX:".to_string(),
        5 => "APPLETALK:".to_string(),
        6 => "NETROM:".to_string(),
        7 => "BRIDGE:".to_string(),
        8 => "ATMPVC:".to_string(),
        9 => "X25:".to_string(),
        10 => "INET6:".to_string(),
        11 => "ROSE:".to_string(),
        12 => "DECnet:".to_string(),
        13 => "NETBEUI:".to_string(),
        15 => "SECURITY/KEY:".to_string(),
        16 => "NETLINK/ROUTE:".to_string(),
        17 => "PACKET:".to_string(),
        18 => "ASH:".to_string(),
        19 => "ECONET:".to_string(),
        20 => "ATMSVC:".to_string(),
        22 => "SNA:".to_string(),
        23 => "IRDA:".to_string(),
        24 => "PPPOX:".to_string(),
        f => format!("{f}:"),
    };
    let kind = match s.sock_type {
        1 => "STREAM".to_string(),
        2 => "DGRAM ".to_string(),
        3 => "RAW".to_string(),
        4 => "RDM".to_string(),
        5 => "SEQPACKET".to_string(),
        10 => "PACKET".to_string(),
        t => t.to_string(),
    };
    let mut text = format!("{family}{kind} ");
    match (&s.source, &s.destination) {
        (Some((src, sport)), Some((dst, dport))) if s.family == 2 => {
            let _ = write!(text, " {src}-{sport} {dst}-{dport}");
        }
        (Some((src, sport)), Some((dst, dport))) => {
            let _ = write!(text, "{:>12} {dst}-{dport}", format!("{src}-{sport}"));
        }
        _ => {}
    }
    text
}
