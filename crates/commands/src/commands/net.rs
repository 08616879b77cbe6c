//! `net`: network devices, the ARP cache, and a task's open sockets.

use krash_core::{Error, Result};
use krash_debuginfo::types::TypeKind;
use krash_eval::value::Value;
use krash_eval::value::ValueExt;
use krash_linux::net::NetExt;
use krash_linux::net::{Neighbour, NetDevices, OpenSocket};
use krash_linux::sched::task::TaskExt;

use super::struct_cmd::{radix_of, request, Aggregate, ObjectValue, StructBlock, TypeHeader};
use super::task::task_arg;
use crate::header::TaskHeader;
use crate::{getopt, CommandSpec, Output, Session};

pub(crate) const SPEC: CommandSpec = CommandSpec {
    name: "net",
    aliases: &[],
    summary: "network command",
    synopsis: "net [-a] [-n [pid | task]] [[-s | -S] [-xd] [pid | task]] [-N addr]",
    details: "  (none)      network devices of init_net: NET_DEVICE NAME IP ADDRESS(ES)\n\
              \x20 -n [pid|task]  the devices of the namespace of the current context or task\n\
              \x20 -a          the ARP cache (arp_tbl): NEIGHBOUR IP ADDRESS HW TYPE HW ADDRESS DEVICE STATE\n\
              \x20 -s [pid|task]  open sockets of the current context or task: FD SOCKET SOCK\n\
              \x20             FAMILY:TYPE SOURCE-PORT DESTINATION-PORT\n\
              \x20 -S [pid|task]  as -s, each socket followed by its struct socket and struct inet_sock\n\
              \x20 -x / -d     hexadecimal / decimal integers in the -S structures\n\
              \x20 -N addr     an IPv4 address given as a decimal or hex number, in dotted notation",
    run,
};

/// One task's sockets.
#[derive(Debug, Clone)]
pub struct TaskSockets {
    pub header: TaskHeader,
    pub sockets: Vec<OpenSocket>,
}

/// One socket of `net -S`: its numbers, then `struct socket` and `struct inet_sock`.
#[derive(Debug, Clone)]
pub struct SocketDump {
    pub socket: OpenSocket,
    pub blocks: Vec<StructBlock>,
}

/// What `net` printed.
#[derive(Debug, Clone)]
pub enum NetOutput {
    Devices(NetDevices),
    Arp { neighbours: Vec<Neighbour> },
    Sockets(TaskSockets),
    SocketStructs { header: TaskHeader, sockets: Vec<SocketDump> },
    Address { value: u64, dotted: String },
}

fn run(session: &mut Session, args: &[String]) -> Result<Output> {
    let p = getopt::parse("net", args, "ansSxdN:")?;
    let k = &session.kernel;
    if let Some(word) = p.value('N') {
        let value = parse_number(word).ok_or_else(|| Error::Usage(format!("net: invalid address: {word}")))?;
        let raw = u32::try_from(value).map_err(|_| Error::Usage(format!("net: not an IPv4 address: {word}")))?;
        return Ok(Output::Net(NetOutput::Address { value, dotted: krash_linux::net::ipv4_text(raw) }));
    }
    if p.has('a') {
        return Ok(Output::Net(NetOutput::Arp { neighbours: k.arp_cache()? }));
    }
    let task = match p.args.first() {
        Some(word) => Some(task_arg(k, word)?.addr),
        None => session.current_task,
    };
    if p.has('S') {
        let task = task.ok_or_else(|| Error::NotFound("no current task context".into()))?;
        let header = TaskHeader::of(k.task_by_addr(task)?.as_ref());
        let radix = radix_of(session, p.has('x'), p.has('d'));
        let mut sockets = Vec::new();
        for socket in k.task_sockets(task)? {
            let mut blocks = Vec::new();
            for (name, addr) in [("socket", socket.socket), ("inet_sock", socket.sock)] {
                let req = request(k, name, TypeKind::Struct, radix)?;
                let value = Value::at(req.type_id, addr);
                let header = TypeHeader { keyword: Aggregate::Struct, name: name.to_string() };
                blocks.push(StructBlock::Object(ObjectValue { header, value: k.value_text(&value, radix) }));
            }
            sockets.push(SocketDump { socket, blocks });
        }
        return Ok(Output::Net(NetOutput::SocketStructs { header, sockets }));
    }
    if p.has('s') {
        let task = task.ok_or_else(|| Error::NotFound("no current task context".into()))?;
        let header = TaskHeader::of(k.task_by_addr(task)?.as_ref());
        return Ok(Output::Net(NetOutput::Sockets(TaskSockets { header, sockets: k.task_sockets(task)? })));
    }
    if !p.args.is_empty() && !p.has('n') {
        return Err(Error::Usage("net: a pid or task needs -n or -s".into()));
    }
    let ns = if p.has('n') { k.net_namespace(task.unwrap_or(0))? } else { k.net_namespace(0)? };
    Ok(Output::Net(NetOutput::Devices(k.net_devices(ns)?)))
}

/// A decimal number, or hexadecimal with a 0x prefix.
fn parse_number(word: &str) -> Option<u64> {
    match word.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => word.parse().ok(),
    }
}
