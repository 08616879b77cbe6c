//! Documents of `irq`, `timer`, `dev`, `net`, `ipcs`, `mount`, `swap`,
//! `vm`, `files`, `fuser` and the address translations (`vtop`, `ptov`, `btop`,
//! `ptob`, `pte`).

use schemars::JsonSchema;
use serde::Serialize;

use super::common::{pages, Page, PageLocation, SymbolRef, Task, Vma};
use super::numbers::{hex, opt_hex, Hex, I64Decimal};
use super::types::{struct_block, StructBlock, StructData};
use crate::output as out;

/// `irq`: the interrupt table (also `-s`, `-a`), or the softirq vectors (`-b`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "view", rename_all = "snake_case")]
pub enum IrqData {
    Table {
        /// The CPUs `counts` are given for.
        cpus: Vec<u32>,
        irqs: Vec<IrqDesc>,
        problems: Vec<String>,
    },
    Softirqs {
        vectors: Vec<SoftirqVector>,
    },
}

/// One IRQ.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct IrqDesc {
    pub irq: u64,
    /// The irq_desc (null where there is none).
    pub desc: Option<Hex>,
    pub actions: Vec<IrqAction>,
    pub chip: String,
    pub flow: String,
    /// Interrupt counts, one per CPU of `cpus`.
    pub counts: Vec<u32>,
    /// The CPUs its affinity mask allows.
    pub affinity: Vec<u32>,
}

/// A handler.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct IrqAction {
    /// The struct irqaction.
    pub action: Hex,
    pub name: String,
}

/// A softirq vector.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SoftirqVector {
    pub vector: u64,
    pub action: Hex,
    pub action_name: Option<String>,
}

fn irq_table(t: &out::IrqTable) -> IrqData {
    IrqData::Table {
        cpus: t.cpus.clone(),
        irqs: t
            .irqs
            .iter()
            .map(|d| IrqDesc {
                irq: d.irq,
                desc: opt_hex(d.desc),
                actions: d.actions.iter().map(|a| IrqAction { action: hex(a.action), name: a.name.clone() }).collect(),
                chip: d.chip.clone(),
                flow: d.flow.clone(),
                counts: d.counts.clone(),
                affinity: d.affinity.clone(),
            })
            .collect(),
        problems: t.problems.clone(),
    }
}

impl From<&out::Irq> for IrqData {
    fn from(i: &out::Irq) -> Self {
        match i {
            out::Irq::Table { table, .. } | out::Irq::Affinity { table } => irq_table(table),
            out::Irq::Softirqs { vectors } => IrqData::Softirqs {
                vectors: vectors
                    .iter()
                    .map(|v| SoftirqVector {
                        vector: v.vector,
                        action: hex(v.action),
                        action_name: v.action_name.clone(),
                    })
                    .collect(),
            },
        }
    }
}

/// `timer`: the timer wheel, or the hrtimers (`-r`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "view", rename_all = "snake_case")]
pub enum TimerData {
    Wheel {
        jiffies: u64,
        bases: Vec<TimerBase>,
    },
    Hrtimers {
        /// The current monotonic time (from jiffies), nanoseconds.
        current_ns: I64Decimal,
        cpus: Vec<HrtimerCpu>,
    },
}

/// One CPU's timer base.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TimerBase {
    pub cpu: u32,
    /// BASE_STD, BASE_DEF.
    pub name: String,
    pub base: Hex,
    /// By expiry.
    pub timers: Vec<PendingTimer>,
    pub problems: Vec<String>,
}

/// A pending timer_list.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PendingTimer {
    /// Jiffies.
    pub expires: u64,
    /// Jiffies left.
    pub tte: i64,
    pub timer: Hex,
    pub function: Hex,
    pub function_name: Option<String>,
}

/// One CPU's hrtimer bases.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct HrtimerCpu {
    pub cpu: u32,
    pub cpu_base: Hex,
    pub clocks: Vec<HrtimerClock>,
}

/// One clock base.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct HrtimerClock {
    pub index: u64,
    pub base: Hex,
    /// Its get_time function.
    pub get_time: Option<String>,
    /// By expiry.
    pub timers: Vec<QueuedHrtimer>,
    pub broken: Option<String>,
}

/// A queued hrtimer (times in nanoseconds).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct QueuedHrtimer {
    pub softexpires_ns: I64Decimal,
    pub expires_ns: I64Decimal,
    pub tte_ns: I64Decimal,
    pub hrtimer: Hex,
    pub function: Hex,
    pub function_name: Option<String>,
}

impl From<&out::TimerWheel> for TimerData {
    fn from(w: &out::TimerWheel) -> Self {
        TimerData::Wheel {
            jiffies: w.jiffies,
            bases: w
                .bases
                .iter()
                .map(|b| TimerBase {
                    cpu: b.cpu,
                    name: b.name.clone(),
                    base: hex(b.base),
                    timers: b
                        .timers
                        .iter()
                        .map(|t| PendingTimer {
                            expires: t.expires,
                            tte: t.tte,
                            timer: hex(t.timer),
                            function: hex(t.function),
                            function_name: t.function_name.clone(),
                        })
                        .collect(),
                    problems: b.problems.clone(),
                })
                .collect(),
        }
    }
}

impl From<&out::Hrtimers> for TimerData {
    fn from(h: &out::Hrtimers) -> Self {
        TimerData::Hrtimers {
            current_ns: I64Decimal(h.current),
            cpus: h
                .cpus
                .iter()
                .map(|c| HrtimerCpu {
                    cpu: c.cpu,
                    cpu_base: hex(c.cpu_base),
                    clocks: c
                        .clocks
                        .iter()
                        .map(|k| HrtimerClock {
                            index: k.index,
                            base: hex(k.base),
                            get_time: k.get_time.clone(),
                            timers: k
                                .timers
                                .iter()
                                .map(|t| QueuedHrtimer {
                                    softexpires_ns: I64Decimal(t.softexpires),
                                    expires_ns: I64Decimal(t.expires),
                                    tte_ns: I64Decimal(t.tte),
                                    hrtimer: hex(t.hrtimer),
                                    function: hex(t.function),
                                    function_name: t.function_name.clone(),
                                })
                                .collect(),
                            broken: k.broken.clone(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

/// `dev`: device majors, disk I/O (`-d`, `-D`), or resource trees (`-i`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "view", rename_all = "snake_case")]
pub enum DevData {
    Majors { char_devices: Vec<DevMajor>, block_devices: Vec<DevMajor> },
    Disks { disks: Vec<DiskIo> },
    Resources { trees: Vec<ResourceTree> },
}

/// A device major.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DevMajor {
    pub major: u32,
    pub name: String,
    /// The cdev (character) or gendisk (block); 0x0 when none was found.
    pub object: Hex,
    pub operations: Hex,
    pub operations_symbol: Option<SymbolRef>,
}

/// A disk's requests in flight.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DiskIo {
    pub major: u32,
    pub gendisk: Hex,
    pub name: String,
    pub request_queue: Hex,
    pub reads: u64,
    pub writes: u64,
}

/// An I/O port or memory resource tree, in tree order.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ResourceTree {
    /// ioport_resource or iomem_resource.
    pub root: String,
    pub resources: Vec<Resource>,
    pub broken: Option<String>,
}

/// A resource.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Resource {
    pub addr: Hex,
    pub start: Hex,
    pub end: Hex,
    pub name: String,
    /// Depth in the tree (0 for the root).
    pub depth: usize,
}

impl From<&out::DevOutput> for DevData {
    fn from(d: &out::DevOutput) -> Self {
        let majors = |v: &[out::DevMajorRow]| -> Vec<DevMajor> {
            v.iter()
                .map(|r| DevMajor {
                    major: r.major,
                    name: r.name.clone(),
                    object: hex(r.object),
                    operations: hex(r.operations),
                    operations_symbol: r.operations_symbol.as_ref().map(SymbolRef::from),
                })
                .collect()
        };
        match d {
            out::DevOutput::Majors { char_devices, block_devices } => {
                DevData::Majors { char_devices: majors(char_devices), block_devices: majors(block_devices) }
            }
            out::DevOutput::Disks { disks } => DevData::Disks {
                disks: disks
                    .iter()
                    .map(|d| DiskIo {
                        major: d.major,
                        gendisk: hex(d.gendisk),
                        name: d.name.clone(),
                        request_queue: hex(d.request_queue),
                        reads: d.reads,
                        writes: d.writes,
                    })
                    .collect(),
            },
            out::DevOutput::Resources { trees } => DevData::Resources {
                trees: trees
                    .iter()
                    .map(|t| ResourceTree {
                        root: t.root.clone(),
                        resources: t
                            .resources
                            .iter()
                            .map(|r| Resource {
                                addr: hex(r.addr),
                                start: hex(r.start),
                                end: hex(r.end),
                                name: r.name.clone(),
                                depth: r.depth,
                            })
                            .collect(),
                        broken: t.broken.clone(),
                    })
                    .collect(),
            },
        }
    }
}

/// `net`: devices, the ARP cache (`-a`), a task's sockets (`-s`, `-S`), or
/// an IPv4 address (`-N`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "view", rename_all = "snake_case")]
pub enum NetData {
    Devices {
        namespace: Hex,
        devices: Vec<NetDevice>,
        broken: Option<String>,
    },
    Arp {
        neighbours: Vec<Neighbour>,
    },
    Sockets {
        task: Task,
        sockets: Vec<Socket>,
    },
    /// `-S`: each socket with its struct socket and struct inet_sock.
    SocketStructs {
        task: Task,
        sockets: Vec<SocketStructs>,
    },
    Address {
        value: u64,
        dotted: String,
    },
}

/// A network device.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct NetDevice {
    pub addr: Hex,
    pub name: String,
    pub ipv4: Vec<String>,
    pub ipv6: Vec<String>,
}

/// An ARP cache entry.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Neighbour {
    pub addr: Hex,
    pub ip: String,
    pub hw_type: u64,
    /// The hardware address, `aa:bb:cc:dd:ee:ff`.
    pub hw_addr: String,
    pub device: String,
    /// NUD_ state bits.
    pub state: u64,
}

/// An open socket.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Socket {
    pub fd: u64,
    pub socket: Hex,
    pub sock: Hex,
    pub family: u64,
    #[serde(rename = "type")]
    pub sock_type: u64,
    pub source: Option<Endpoint>,
    pub destination: Option<Endpoint>,
}

/// An address and port.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Endpoint {
    pub address: String,
    pub port: u16,
}

/// A socket with its structures.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SocketStructs {
    pub socket: Socket,
    pub blocks: Vec<StructBlock>,
}

/// `aa:bb:cc:dd:ee:ff`.
fn mac(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn socket(s: &out::OpenSocket) -> Socket {
    let endpoint = |e: &Option<(String, u16)>| e.as_ref().map(|(a, p)| Endpoint { address: a.clone(), port: *p });
    Socket {
        fd: s.fd,
        socket: hex(s.socket),
        sock: hex(s.sock),
        family: s.family,
        sock_type: s.sock_type,
        source: endpoint(&s.source),
        destination: endpoint(&s.destination),
    }
}

impl From<&out::NetOutput> for NetData {
    fn from(n: &out::NetOutput) -> Self {
        match n {
            out::NetOutput::Devices(d) => NetData::Devices {
                namespace: hex(d.namespace),
                devices: d
                    .devices
                    .iter()
                    .map(|x| NetDevice {
                        addr: hex(x.addr),
                        name: x.name.clone(),
                        ipv4: x.ipv4.clone(),
                        ipv6: x.ipv6.clone(),
                    })
                    .collect(),
                broken: d.broken.clone(),
            },
            out::NetOutput::Arp { neighbours } => NetData::Arp {
                neighbours: neighbours
                    .iter()
                    .map(|x| Neighbour {
                        addr: hex(x.addr),
                        ip: x.ip.clone(),
                        hw_type: x.hw_type,
                        hw_addr: mac(&x.hw_addr),
                        device: x.device.clone(),
                        state: x.state,
                    })
                    .collect(),
            },
            out::NetOutput::Sockets(t) => {
                NetData::Sockets { task: (&t.header).into(), sockets: t.sockets.iter().map(socket).collect() }
            }
            out::NetOutput::SocketStructs { header, sockets } => NetData::SocketStructs {
                task: header.into(),
                sockets: sockets
                    .iter()
                    .map(|s| SocketStructs {
                        socket: socket(&s.socket),
                        blocks: s.blocks.iter().map(struct_block).collect(),
                    })
                    .collect(),
            },
            out::NetOutput::Address { value, dotted } => NetData::Address { value: *value, dotted: dotted.clone() },
        }
    }
}

/// `ipcs`: System V IPC objects.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct IpcsData {
    /// The ipc_namespace.
    pub namespace: Hex,
    pub sections: Vec<IpcSection>,
}

/// One facility's objects.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct IpcSection {
    pub kind: IpcKind,
    pub objects: Vec<IpcObject>,
}

/// An IPC facility.
#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IpcKind {
    SharedMemory,
    Semaphores,
    Messages,
}

/// A shared memory segment, semaphore array or message queue.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct IpcObject {
    /// Its shmid_kernel, sem_array or msg_queue.
    pub addr: Hex,
    pub key: u32,
    pub id: i64,
    pub uid: u32,
    /// Permission bits.
    pub mode: u64,
    /// Bytes (shared memory), semaphores (arrays) or bytes used (queues).
    pub size: u64,
    /// Attaches (shared memory) or messages (queues); 0 for semaphores.
    pub count: u64,
}

impl From<&out::IpcsOutput> for IpcsData {
    fn from(i: &out::IpcsOutput) -> Self {
        IpcsData {
            namespace: hex(i.namespace),
            sections: i
                .sections
                .iter()
                .map(|s| IpcSection {
                    kind: match s.kind {
                        out::IpcKind::SharedMemory => IpcKind::SharedMemory,
                        out::IpcKind::Semaphores => IpcKind::Semaphores,
                        out::IpcKind::Messages => IpcKind::Messages,
                    },
                    objects: s
                        .objects
                        .iter()
                        .map(|o| IpcObject {
                            addr: hex(o.addr),
                            key: o.key,
                            id: o.id,
                            uid: o.uid,
                            mode: o.mode,
                            size: o.size,
                            count: o.count,
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

/// `mount`: the mounts of the init task's namespace.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct MountData {
    pub mounts: Vec<Mount>,
    pub broken: Option<String>,
}

/// One mount.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Mount {
    pub mount: Hex,
    pub superblock: Hex,
    pub fs_type: String,
    pub devname: String,
    pub dirname: String,
}

impl From<&out::MountTable> for MountData {
    fn from(m: &out::MountTable) -> Self {
        MountData {
            mounts: m
                .mounts
                .iter()
                .map(|x| Mount {
                    mount: hex(x.mount),
                    superblock: hex(x.superblock),
                    fs_type: x.fs_type.clone(),
                    devname: x.devname.clone(),
                    dirname: x.dirname.clone(),
                })
                .collect(),
            broken: m.broken.clone(),
        }
    }
}

/// `swap`: the active swap areas.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SwapData {
    /// Bytes per page (sizes are in pages).
    pub page_size: u64,
    pub areas: Vec<SwapArea>,
}

/// A swap area.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SwapArea {
    pub swap_info: Hex,
    /// A partition (else a file).
    pub partition: bool,
    pub pages: u64,
    pub used_pages: u64,
    pub priority: i64,
    pub filename: String,
}

impl From<&out::SwapOutput> for SwapData {
    fn from(s: &out::SwapOutput) -> Self {
        SwapData {
            page_size: s.page_size,
            areas: s
                .areas
                .iter()
                .map(|a| SwapArea {
                    swap_info: hex(a.swap_info),
                    partition: a.partition,
                    pages: a.pages,
                    used_pages: a.used_pages,
                    priority: a.priority,
                    filename: a.filename.clone(),
                })
                .collect(),
        }
    }
}

/// `vm`: tasks' address spaces, or a decoded flags value (`-f`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "view", rename_all = "snake_case")]
pub enum VmData {
    Tasks { entries: Vec<VmEntry> },
    Flags { flags: Hex, names: Vec<String> },
}

/// One task's address space.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct VmEntry {
    pub task: Task,
    /// The mm_struct (0x0 for a kernel thread).
    pub mm: Hex,
    pub pgd: Hex,
    pub rss_kb: u64,
    pub total_vm_kb: u64,
    pub vmas: Vec<Vma>,
    /// Why the VMA walk stopped early.
    pub broken: Option<String>,
    /// `-p`: each VMA's pages, in `vmas` order.
    pub pages: Option<Vec<VmaPages>>,
    /// `-m`: the mm_struct; `-v`: each vm_area_struct.
    pub structs: Option<Vec<StructData>>,
}

/// One VMA's pages.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct VmaPages {
    pub pages: Vec<UserPage>,
    /// The list stops at krash's limit.
    pub truncated: bool,
}

/// A user page.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct UserPage {
    pub vaddr: Hex,
    pub location: PageLocation,
}

impl From<&out::VmOutput> for VmData {
    fn from(v: &out::VmOutput) -> Self {
        if let Some(f) = &v.flags {
            return VmData::Flags { flags: hex(f.flags), names: f.names.iter().map(|n| n.to_string()).collect() };
        }
        VmData::Tasks {
            entries: v
                .entries
                .iter()
                .map(|e| VmEntry {
                    task: (&e.header).into(),
                    mm: hex(e.mm),
                    pgd: hex(e.pgd),
                    rss_kb: e.rss_kb,
                    total_vm_kb: e.total_vm_kb,
                    vmas: e.vmas.iter().map(Vma::from).collect(),
                    broken: e.broken.clone(),
                    pages: e.pages.as_ref().map(|p| {
                        p.iter()
                            .map(|a| VmaPages {
                                pages: a
                                    .pages
                                    .iter()
                                    .map(|u| UserPage { vaddr: hex(u.vaddr), location: (&u.location).into() })
                                    .collect(),
                                truncated: a.truncated,
                            })
                            .collect()
                    }),
                    structs: e.structs.as_ref().map(|s| s.iter().map(StructData::from).collect()),
                })
                .collect(),
        }
    }
}

/// `files`: tasks' open files, a dentry (`-d`), or an inode's page cache (`-p`).
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[serde(tag = "view", rename_all = "snake_case")]
pub enum FilesData {
    Tasks { entries: Vec<FilesEntry> },
    Dentry { dentry: Hex, inode: Hex, superblock: Hex, kind: Option<String>, path: String },
    PageCache { cache: PageCache },
}

/// One task's open files.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FilesEntry {
    pub task: Task,
    pub root: Option<String>,
    pub cwd: Option<String>,
    pub files: Vec<OpenFile>,
    /// `-c`: each file's page cache, in `files` order.
    pub page_counts: Option<Vec<PageCache>>,
}

/// An open file descriptor.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct OpenFile {
    pub fd: u64,
    pub file: Hex,
    pub dentry: Hex,
    pub inode: Hex,
    /// REG, DIR, CHR, SOCK, ...
    pub kind: String,
    pub path: String,
}

/// An inode's page cache.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PageCache {
    pub inode: Hex,
    pub mapping: Hex,
    pub nrpages: u64,
    /// The pages (`-p`; empty for `-c`).
    pub pages: Vec<Page>,
    pub problem: Option<String>,
}

fn page_cache(p: &out::PageCache) -> PageCache {
    PageCache {
        inode: hex(p.inode),
        mapping: hex(p.mapping),
        nrpages: p.nrpages,
        pages: pages(&p.pages),
        problem: p.problem.clone(),
    }
}

impl From<&out::FilesOutput> for FilesData {
    fn from(f: &out::FilesOutput) -> Self {
        if let Some(d) = &f.dentry {
            return FilesData::Dentry {
                dentry: hex(d.dentry),
                inode: hex(d.inode),
                superblock: hex(d.superblock),
                kind: d.kind.clone(),
                path: d.path.clone(),
            };
        }
        if let Some(p) = &f.page_cache {
            return FilesData::PageCache { cache: page_cache(p) };
        }
        FilesData::Tasks {
            entries: f
                .entries
                .iter()
                .map(|e| FilesEntry {
                    task: (&e.header).into(),
                    root: e.files.root.clone(),
                    cwd: e.files.cwd.clone(),
                    files: e
                        .files
                        .files
                        .iter()
                        .map(|o| OpenFile {
                            fd: o.fd,
                            file: hex(o.file),
                            dentry: hex(o.dentry),
                            inode: hex(o.inode),
                            kind: o.kind.clone(),
                            path: o.path.clone(),
                        })
                        .collect(),
                    page_counts: e.page_counts.as_ref().map(|v| v.iter().map(page_cache).collect()),
                })
                .collect(),
        }
    }
}

/// `vtop`: translations of virtual addresses, with the page-table walk.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct VtopData {
    pub translations: Vec<Translation>,
}

/// One translation.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Translation {
    pub vaddr: Hex,
    /// Null when not mapped.
    pub paddr: Option<Hex>,
    /// The top-level table walked (crash's PGD DIRECTORY), virtual.
    pub pgd: Hex,
    pub steps: Vec<WalkStep>,
    /// The mapped page's size in bytes, when the walk reached one.
    pub page_size: Option<u64>,
    pub page: Option<Page>,
    /// A walk of a task's user page tables.
    pub user: bool,
    /// The task's VMA holding a user address.
    pub vma: Option<Vma>,
    /// For an unmapped user address: its swap slot or file offset.
    pub elsewhere: Option<PageLocation>,
}

/// One level of a page-table walk.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct WalkStep {
    pub level: PageTableLevel,
    /// The entry's physical address.
    pub entry_paddr: Hex,
    pub entry: Hex,
}

/// A page-table level.
#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PageTableLevel {
    Pgd,
    P4d,
    Pud,
    Pmd,
    Pte,
}

impl From<&out::VtopResult> for Translation {
    fn from(r: &out::VtopResult) -> Self {
        use krash_arch::paging::Level as L;
        Translation {
            vaddr: hex(r.vaddr),
            paddr: opt_hex(r.paddr),
            pgd: hex(r.pgd_virt),
            steps: r
                .steps
                .iter()
                .map(|s| WalkStep {
                    level: match s.level {
                        L::Pgd => PageTableLevel::Pgd,
                        L::P4d => PageTableLevel::P4d,
                        L::Pud => PageTableLevel::Pud,
                        L::Pmd => PageTableLevel::Pmd,
                        L::Pte => PageTableLevel::Pte,
                    },
                    entry_paddr: hex(s.entry_paddr),
                    entry: hex(s.entry.0),
                })
                .collect(),
            page_size: r.page_size,
            page: r.page.as_ref().map(Page::from),
            user: r.user,
            vma: r.vma.as_ref().map(Vma::from),
            elsewhere: r.elsewhere.as_ref().map(PageLocation::from),
        }
    }
}

/// `ptov`, `btop`, `ptob`: each number given and what it converts to.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ConversionData {
    pub conversions: Vec<Conversion>,
}

/// One conversion (ptov: physical to virtual; btop: address to page
/// frame number; ptob: page frame number to address).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Conversion {
    pub from: Hex,
    pub to: Hex,
}

/// `pte`: page-table entries decoded.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PteData {
    pub entries: Vec<PteEntry>,
}

/// A page-table entry.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PteEntry {
    pub entry: Hex,
    pub present: bool,
    /// The physical address it maps.
    pub frame: Hex,
    /// PRESENT, RW, USER, PWT, PCD, ACCESSED, DIRTY, PSE, GLOBAL, NX.
    pub flags: Vec<String>,
}

pub(crate) fn vtop(v: &out::VtopOutput) -> super::CommandData {
    use super::CommandData as D;
    let conversions = |rows: &[out::Conversion]| ConversionData {
        conversions: rows.iter().map(|c| Conversion { from: hex(c.from), to: hex(c.to) }).collect(),
    };
    match v {
        out::VtopOutput::Vtop(rows) => D::Vtop(VtopData { translations: rows.iter().map(Translation::from).collect() }),
        out::VtopOutput::Ptov(rows) | out::VtopOutput::Btop(rows) | out::VtopOutput::Ptob(rows) => {
            D::Conversion(conversions(rows))
        }
        out::VtopOutput::Pte(entries) => D::Pte(PteData {
            entries: entries
                .iter()
                .map(|e| PteEntry {
                    entry: hex(e.entry),
                    present: e.present,
                    frame: hex(e.frame),
                    flags: e.flags.iter().map(|f| f.to_string()).collect(),
                })
                .collect(),
        }),
    }
}

/// `fuser`: the users of each file argument.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FuserData {
    pub targets: Vec<FuserTarget>,
}

/// The tasks using one file.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FuserTarget {
    /// The argument: a full path, or an inode address in hex (without `0x`).
    pub spec: String,
    pub users: Vec<FileUser>,
    /// Tasks whose files or memory areas could not be read, and why.
    pub problems: Vec<String>,
}

/// A task using the file.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FileUser {
    pub task: Task,
    /// How, in crash's order: `root` and `cwd` (its root or working
    /// directory), `fd` (an open file descriptor), `mmap` (a mapping).
    pub uses: Vec<FileUse>,
}

/// One way a task uses a file.
#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FileUse {
    Root,
    Cwd,
    Fd,
    Mmap,
}

impl From<&out::FuserOutput> for FuserData {
    fn from(f: &out::FuserOutput) -> Self {
        FuserData {
            targets: f
                .targets
                .iter()
                .map(|t| FuserTarget {
                    spec: t.spec.clone(),
                    users: t
                        .users
                        .iter()
                        .map(|u| FileUser {
                            task: (&u.task).into(),
                            uses: u
                                .uses
                                .iter()
                                .map(|x| match x {
                                    out::FileUse::Root => FileUse::Root,
                                    out::FileUse::Cwd => FileUse::Cwd,
                                    out::FileUse::Fd => FileUse::Fd,
                                    out::FileUse::Mmap => FileUse::Mmap,
                                })
                                .collect(),
                        })
                        .collect(),
                    problems: t.problems.clone(),
                })
                .collect(),
        }
    }
}
