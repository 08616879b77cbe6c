// SPDX-License-Identifier: GPL-2.0
/*
 * krash_scenarios: crash the kernel on purpose, in ways that mirror real
 * field reports, so that krash can be tested on genuine dumps.
 *
 * Trigger with `insmod krash_scenarios.ko scenario=<name>` or by writing the
 * name to /proc/krash_scenario.  Before crashing, the module prints one line
 * "krash-facts: {json}" with what it knows about the crash (struct offsets,
 * list lengths, thread names); the lab copies it into the dump's manifest so
 * that the expected answers come from the code that caused the crash.
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/proc_fs.h>
#include <linux/uaccess.h>
#include <linux/slab.h>
#include <linux/list.h>
#include <linux/spinlock.h>
#include <linux/mutex.h>
#include <linux/kthread.h>
#include <linux/delay.h>
#include <linux/timer.h>
#include <linux/sched.h>
#include <linux/completion.h>
#include <linux/version.h>
#include <linux/string.h>
#include <linux/nmi.h>
#include <linux/refcount.h>
#include <linux/rcupdate.h>

/*
 * The crashing functions are global (not static) so that GCC keeps their
 * names: static ones may become .constprop/.isra clones, and the tests look
 * them up by name.
 */
struct widget;
struct widget_inner;
struct timer_list;
struct widget_inner *krash_widget_lookup_inner(struct widget *w);
unsigned long krash_widget_generation(struct widget *w);
int krash_widget_flush(struct widget *w);
unsigned long krash_list_walk(void);
void krash_record_scribble(void *obj, size_t size);
void krash_timer_fire(struct timer_list *t);
int krash_hung_holder(void *unused);
int krash_hung_waiter(void *unused);
int krash_idle_sleeper(void *unused);
int krash_d_sleeper(void *unused);
int krash_spinner(void *unused);
struct krash_file;
struct krash_file *krash_open_hook(const char *name, int flags);
long krash_do_open(const char *name, int flags);
int krash_live_sleeper(void *unused);
struct krash_device;
unsigned long krash_device_backlog(struct krash_device *dev);
struct krash_port;
int krash_serial_sync(struct krash_port *port);
unsigned int krash_reap_completed(void);
struct krash_session;
void krash_session_abort(struct krash_session *s);
void krash_session_release(struct krash_session *s);
struct krash_stats;
unsigned long krash_stats_average(const struct krash_stats *st);
int krash_cfg_update(void *unused);
int krash_stats_flush(void *unused);
size_t krash_copy_token(char *dst, const char *src, char end);
unsigned int krash_label_hash(const char *label);
unsigned int krash_parse_label(const char *spec);
struct krash_conn;
void krash_conn_close(struct krash_conn *c);
unsigned long krash_conn_state(struct krash_conn *c);
int krash_fw_wait_ready(void *unused);
void krash_fw_submit(unsigned long command);
int krash_fw_submitter(void *unused);
struct krash_ring;
int krash_ring_push(struct krash_ring *r);
int krash_mbox_drain(void *unused);
int krash_req_worker(void *unused);
struct krash_client;
void krash_client_put(struct krash_client *c);
int krash_client_attach(struct krash_client *c);
struct krash_cfg_node;
unsigned int krash_cfg_depth(const struct krash_cfg_node *n);

/*
 * The kernel's own words for a bad kernel access differ by architecture: x86
 * prints a "BUG:" line naming a NULL address and a general protection fault
 * for a non-canonical one; arm64 says "Unable to handle kernel ..." for both,
 * and an address outside both halves of the address space (a scribbled
 * freelist pointer) is a paging request, not a #GP.  The facts carry the words
 * of the architecture the module was built for.
 */
#ifdef CONFIG_ARM64
#define KRASH_NULL_DEREF_TEXT "Unable to handle kernel NULL pointer dereference at virtual address "
#define KRASH_BAD_ADDRESS_KIND "paging_request"
#define KRASH_BAD_ADDRESS_TEXT "Unable to handle kernel paging request at virtual address"
#else
#define KRASH_NULL_DEREF_TEXT "BUG: kernel NULL pointer dereference, address: "
#define KRASH_BAD_ADDRESS_KIND "gpf"
#define KRASH_BAD_ADDRESS_TEXT "general protection fault, probably for non-canonical address"
#endif

/*
 * The panic message after an oops: arm64's die() puts its own headline
 * ("Oops", or "Oops - BUG" for BUG()) before x86's words.
 */
#ifdef CONFIG_ARM64
#define KRASH_OOPS_PANIC "Oops: Fatal exception"
#define KRASH_BUG_IN_INTERRUPT_PANIC "Oops - BUG: Fatal exception in interrupt"
#else
#define KRASH_OOPS_PANIC "Fatal exception"
#define KRASH_BUG_IN_INTERRUPT_PANIC "Fatal exception in interrupt"
#endif

static char *scenario;
module_param(scenario, charp, 0444);
MODULE_PARM_DESC(scenario, "scenario to trigger at load time");

/* ---- null-member: a helper hands back NULL and the caller reads a member ---- */

struct widget_inner {
	unsigned long flags;
	unsigned long owner_cookie;
	unsigned long generation;	/* read through a NULL pointer */
	unsigned int refcount;
	char label[20];
};

struct widget;

struct widget_ops {
	int (*open)(struct widget *w);
	int (*flush)(struct widget *w);	/* left NULL for null-fnptr */
	void (*release)(struct widget *w);
};

struct widget {
	const char *name;
	unsigned long id;
	struct widget_ops *ops;
	struct widget_inner *inner;	/* detached widgets have none */
	struct list_head node;
};

static int krash_widget_open(struct widget *w)
{
	return w->id ? 0 : -EINVAL;
}

static void krash_widget_release(struct widget *w)
{
	w->inner = NULL;
}

/* Not const: the compiler must not see that flush is NULL. */
static struct widget_ops krash_widget_ops = {
	.open = krash_widget_open,
	.flush = NULL,
	.release = krash_widget_release,
};

static struct widget krash_detached_widget = {
	.name = "detached-widget",
	.id = 42,
	.ops = &krash_widget_ops,
	.inner = NULL,
};

static struct widget *krash_widget_ptr = &krash_detached_widget;

noinline struct widget_inner *krash_widget_lookup_inner(struct widget *w)
{
	return READ_ONCE(w->inner);
}

noinline unsigned long krash_widget_generation(struct widget *w)
{
	struct widget_inner *inner = krash_widget_lookup_inner(w);

	return READ_ONCE(inner->generation);
}

static void scenario_null_member(void)
{
	size_t off = offsetof(struct widget_inner, generation);

	pr_info("krash-facts: {\"panic_kind\":\"null_deref\",\"faulting_function\":\"krash_widget_generation\",\"rip_function\":\"krash_widget_generation\",\"panic_string\":\"" KRASH_NULL_DEREF_TEXT "%016zx\",\"panic_message\":\"" KRASH_OOPS_PANIC "\",\"null_member\":{\"struct\":\"widget_inner\",\"member\":\"generation\",\"offset\":%zu},\"helper_returning_null\":\"krash_widget_lookup_inner\"}\n",
		off, off);
	pr_info("krash: widget generation %lu\n",
		krash_widget_generation(READ_ONCE(krash_widget_ptr)));
}

/* ---- null-fnptr: call through an ops table slot nobody filled ---- */

noinline int krash_widget_flush(struct widget *w)
{
	struct widget_ops *ops = READ_ONCE(w->ops);

	if (ops->open(w))
		return -EINVAL;
	return READ_ONCE(ops->flush)(w);
}

static void scenario_null_fnptr(void)
{
	pr_info("krash-facts: {\"panic_kind\":\"null_fnptr\",\"faulting_function\":\"krash_widget_flush\",\"panic_string\":\"" KRASH_NULL_DEREF_TEXT "0000000000000000\",\"panic_message\":\"" KRASH_OOPS_PANIC "\",\"ops_struct\":\"widget_ops\",\"ops_member\":\"flush\",\"ops_offset\":%zu}\n",
		offsetof(struct widget_ops, flush));
	pr_info("krash: flush returned %d\n",
		krash_widget_flush(READ_ONCE(krash_widget_ptr)));
}

/* ---- softlockup: walk a huge list under a spinlock, forever ---- */

#define KRASH_LIST_LENGTH 300000

struct krash_entry {
	struct list_head node;
	unsigned long value;
};

static LIST_HEAD(krash_list);
static DEFINE_SPINLOCK(krash_list_lock);
static int krash_keep_walking = 1;

noinline unsigned long krash_list_walk(void)
{
	struct krash_entry *e;
	unsigned long sum = 0;

	list_for_each_entry(e, &krash_list, node)
		sum += READ_ONCE(e->value);
	return sum;
}

static void scenario_softlockup(void)
{
	unsigned long i, sum = 0;

	for (i = 0; i < KRASH_LIST_LENGTH; i++) {
		struct krash_entry *e = kmalloc(sizeof(*e), GFP_KERNEL);

		if (!e) {
			pr_err("krash: list allocation failed at %lu\n", i);
			return;
		}
		e->value = i;
		list_add_tail(&e->node, &krash_list);
	}
	pr_info("krash-facts: {\"panic_kind\":\"soft_lockup\",\"faulting_function\":\"krash_list_walk\",\"rip_function\":\"krash_list_walk\",\"panic_string\":\"watchdog: BUG: soft lockup - CPU#\",\"panic_message\":\"softlockup: hung tasks\",\"list_length\":%d,\"list_head\":\"krash_list\",\"lock\":\"krash_list_lock\"}\n",
		KRASH_LIST_LENGTH);
	spin_lock(&krash_list_lock);
	while (READ_ONCE(krash_keep_walking))
		sum += krash_list_walk();
	spin_unlock(&krash_list_lock);
	pr_info("krash: list sum %lu\n", sum);
}

/* ---- slab-corrupt: scribble UTF-16 text over freed objects, allocate again ---- */

struct krash_record {
	u64 id;
	u64 stamp;
	char payload[48];
};

static struct kmem_cache *krash_record_cache;

/*
 * Where caches have per-CPU sheaves by default (the kernels that define
 * SLAB_NO_SHEAVES), a freed object goes into an array and the next allocation
 * takes it from there without following its freelist pointer: the scribble
 * would go unnoticed.  A cache without sheaves (SLAB_NOLEAKTRACE gives none)
 * allocates from the slab's freelist, as every cache did before.
 */
#ifdef SLAB_NO_SHEAVES
#define KRASH_RECORD_CACHE_FLAGS SLAB_NOLEAKTRACE
#else
#define KRASH_RECORD_CACHE_FLAGS 0
#endif

/*
 * Where the corrupt freelist pointer is followed: in the allocation fast path
 * while CPUs had a slab of their own (kmem_cache_alloc, renamed _noprof in
 * 6.10); on the kernels with sheaves for every cache there is no per-CPU slab
 * and the refill from a partial slab follows it.
 */
#if defined(SLAB_NO_SHEAVES)
#define KRASH_SLAB_FAULT_FUNCTION "get_from_partial_node"
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(6, 10, 0)
#define KRASH_SLAB_FAULT_FUNCTION "kmem_cache_alloc_noprof"
#else
#define KRASH_SLAB_FAULT_FUNCTION "kmem_cache_alloc"
#endif

static const char krash_utf16_text[] = "C:\\Windows\\System32\\drivers\\krash.sys";

noinline void krash_record_scribble(void *obj, size_t size)
{
	__le16 *out = obj;
	size_t i, n = size / 2, len = strlen(krash_utf16_text);

	for (i = 0; i < n; i++)
		out[i] = cpu_to_le16(krash_utf16_text[i % len]);
}

static void scenario_slab_corrupt(void)
{
	struct krash_record *recs[8];
	struct krash_record *again[4];
	int i;

	/* A usercopy region keeps the cache from being merged with kmalloc-64. */
	krash_record_cache = kmem_cache_create_usercopy("krash_record",
		sizeof(struct krash_record), 0, KRASH_RECORD_CACHE_FLAGS, 0,
		sizeof(struct krash_record), NULL);
	if (!krash_record_cache)
		return;
	pr_info("krash-facts: {\"panic_kind\":\"" KRASH_BAD_ADDRESS_KIND "\",\"faulting_function\":\"%s\",\"rip_function\":\"%s\",\"panic_string\":\"" KRASH_BAD_ADDRESS_TEXT "\",\"panic_message\":\"" KRASH_OOPS_PANIC "\",\"cache\":\"krash_record\",\"object_size\":%zu,\"corrupt_value_kind\":\"utf16\",\"corrupt_text\":\"C:\\\\Windows\\\\System32\\\\drivers\\\\krash.sys\"}\n",
		KRASH_SLAB_FAULT_FUNCTION, KRASH_SLAB_FAULT_FUNCTION,
		sizeof(struct krash_record));

	preempt_disable();
	for (i = 0; i < ARRAY_SIZE(recs); i++)
		recs[i] = kmem_cache_alloc(krash_record_cache, GFP_ATOMIC);
	for (i = 0; i < ARRAY_SIZE(recs); i++)
		if (recs[i])
			kmem_cache_free(krash_record_cache, recs[i]);
	/* Use after free: the freelist pointers inside the objects go too. */
	for (i = 0; i < ARRAY_SIZE(recs); i++)
		if (recs[i])
			krash_record_scribble(recs[i], sizeof(struct krash_record));
	for (i = 0; i < ARRAY_SIZE(again); i++)
		again[i] = kmem_cache_alloc(krash_record_cache, GFP_ATOMIC);
	preempt_enable();
	pr_info("krash: slab survived: %px %px\n", again[0], again[3]);
}

/* ---- timer-bug: BUG() in a timer callback (softirq) ---- */

static struct timer_list krash_timer;

noinline void krash_timer_fire(struct timer_list *t)
{
	pr_info("krash: timer %px fired, giving up\n", t);
	BUG();
}

static void scenario_timer_bug(void)
{
	pr_info("krash-facts: {\"panic_kind\":\"bug\",\"faulting_function\":\"krash_timer_fire\",\"rip_function\":\"krash_timer_fire\",\"panic_string\":\"kernel BUG at\",\"panic_message\":\"" KRASH_BUG_IN_INTERRUPT_PANIC "\",\"context\":\"softirq\",\"timer\":\"krash_timer\"}\n");
	timer_setup(&krash_timer, krash_timer_fire, 0);
	mod_timer(&krash_timer, jiffies + 2);
}

/* ---- hung-task: threads stuck in D state on a mutex held by a sleeper ---- */

#define KRASH_HUNG_WAITERS 4

static DEFINE_MUTEX(krash_resource_mutex);
static DECLARE_COMPLETION(krash_mutex_taken);

noinline int krash_hung_holder(void *unused)
{
	mutex_lock(&krash_resource_mutex);
	complete(&krash_mutex_taken);
	for (;;) {
		set_current_state(TASK_UNINTERRUPTIBLE);
		schedule();
	}
	return 0;
}

noinline int krash_hung_waiter(void *unused)
{
	mutex_lock(&krash_resource_mutex);
	mutex_unlock(&krash_resource_mutex);
	return 0;
}

static void scenario_hung_task(void)
{
	int i;

	pr_info("krash-facts: {\"panic_kind\":\"hung_task\",\"faulting_function\":\"krash_hung_waiter\",\"panic_string\":\"blocked for more than\",\"panic_message\":\"hung_task: blocked tasks\",\"lock\":\"krash_resource_mutex\",\"lock_owner_comm\":\"krash_holder\",\"waiter_comm_prefix\":\"krash_waiter/\",\"waiters\":%d,\"d_state_tasks\":%d}\n",
		KRASH_HUNG_WAITERS, KRASH_HUNG_WAITERS + 1);
	kthread_run(krash_hung_holder, NULL, "krash_holder");
	wait_for_completion(&krash_mutex_taken);
	for (i = 0; i < KRASH_HUNG_WAITERS; i++)
		kthread_run(krash_hung_waiter, NULL, "krash_waiter/%d", i);
}

/* ---- sysrq-busy: many kernel threads in varied states; sysrq-c comes later ---- */

#define KRASH_SLEEPERS 40
#define KRASH_DSLEEPERS 10
#define KRASH_SPINNERS 2

noinline int krash_idle_sleeper(void *unused)
{
	while (!kthread_should_stop())
		schedule_timeout_interruptible(HZ * 1000);
	return 0;
}

noinline int krash_d_sleeper(void *unused)
{
	for (;;) {
		set_current_state(TASK_UNINTERRUPTIBLE);
		schedule_timeout(HZ * 1000);
	}
	return 0;
}

noinline int krash_spinner(void *unused)
{
	unsigned long n = 0;

	while (!kthread_should_stop()) {
		n++;
		cond_resched();
	}
	return n;
}

static void scenario_sysrq_busy(void)
{
	int i;

	pr_info("krash-facts: {\"panic_kind\":\"sysrq\",\"faulting_function\":\"sysrq_handle_crash\",\"panic_string\":\"sysrq triggered crash\",\"panic_message\":\"sysrq triggered crash\",\"kthread_sleepers\":%d,\"kthread_d_sleepers\":%d,\"kthread_spinners\":%d}\n",
		KRASH_SLEEPERS, KRASH_DSLEEPERS, KRASH_SPINNERS);
	for (i = 0; i < KRASH_SLEEPERS; i++)
		kthread_run(krash_idle_sleeper, NULL, "krash_sleep/%d", i);
	for (i = 0; i < KRASH_DSLEEPERS; i++)
		kthread_run(krash_d_sleeper, NULL, "krash_dsleep/%d", i);
	for (i = 0; i < KRASH_SPINNERS; i++)
		kthread_run(krash_spinner, NULL, "krash_spin/%d", i);
}

/* ---- err-ptr: a hook returns NULL where its caller only checks IS_ERR ---- */

struct krash_path {
	void *mnt;
	void *dentry;
};

struct krash_file {
	unsigned int f_mode;
	unsigned int f_flags;
	const void *f_op;
	struct krash_path f_path;	/* f_path.dentry read through NULL */
	long long f_pos;
};

static struct krash_file krash_opened_file = { .f_mode = 1 };
/* Not const: the compiler must not see which path the hook takes. */
static int krash_hook_denies = 1;

/*
 * Modelled on a security hook wrapping the kernel's do_filp_open(), which
 * reports failure as an ERR_PTR: this one returns NULL when it refuses.
 */
noinline struct krash_file *krash_open_hook(const char *name, int flags)
{
	if (READ_ONCE(krash_hook_denies))
		return NULL;
	krash_opened_file.f_flags = flags;
	return &krash_opened_file;
}

/* Like do_sys_openat2(): trusts that failure comes back as an ERR_PTR. */
noinline long krash_do_open(const char *name, int flags)
{
	struct krash_file *f = krash_open_hook(name, flags);

	if (IS_ERR(f))
		return PTR_ERR(f);
	return (long)READ_ONCE(f->f_path.dentry);
}

static void scenario_err_ptr(void)
{
	size_t off = offsetof(struct krash_file, f_path.dentry);

	pr_info("krash-facts: {\"panic_kind\":\"null_deref\",\"faulting_function\":\"krash_do_open\",\"rip_function\":\"krash_do_open\",\"panic_string\":\"" KRASH_NULL_DEREF_TEXT "%016zx\",\"panic_message\":\"" KRASH_OOPS_PANIC "\",\"null_member\":{\"struct\":\"krash_file\",\"member\":\"f_path.dentry\",\"offset\":%zu},\"null_source\":{\"function\":\"krash_open_hook\",\"returned\":\"NULL\",\"caller_checks\":\"IS_ERR\"}}\n",
		off, off);
	pr_info("krash: open returned %ld\n", krash_do_open("/etc/krash.conf", 0));
}

/*
 * ---- null-isra: a NULL member read in a helper that gcc made an IPA-SRA clone ----
 *
 * Written as driver code usually is: a static helper that only reads
 * dev->queue->pending.  gcc's IPA-SRA turns it into
 * krash_queue_pending.isra.0, whose one parameter is dev->queue, loaded by
 * the caller: in the clone, the register holding NULL is not the argument
 * `dev` the source names.
 */
struct krash_queue {
	spinlock_t lock;
	unsigned long depth;
	unsigned long pending;	/* read through the NULL queue */
	unsigned long dropped;
};

struct krash_device {
	const char *name;
	unsigned long flags;
	struct krash_queue *queue;	/* not set up yet */
	unsigned int irq;
};

#define KRASH_DEVICE_SHARED_IRQ 0x10

static struct krash_device krash_early_device = {
	.name = "krash-early",
	.flags = KRASH_DEVICE_SHARED_IRQ,
	.irq = 11,
};

static struct krash_device *krash_device_ptr = &krash_early_device;

static noinline unsigned long krash_queue_pending(struct krash_device *dev)
{
	return dev->queue->pending;
}

noinline unsigned long krash_device_backlog(struct krash_device *dev)
{
	unsigned long n = krash_queue_pending(dev);

	if (dev->flags & KRASH_DEVICE_SHARED_IRQ)
		n += dev->irq;
	return n;
}

/* gcc 10 and later name the clone so (the lab's compilers: 10, 12 and 16). */
#define KRASH_ISRA_CLONE "krash_queue_pending.isra.0"

static void scenario_null_isra(void)
{
	size_t off = offsetof(struct krash_queue, pending);

	pr_info("krash-facts: {\"panic_kind\":\"null_deref\",\"faulting_function\":\"" KRASH_ISRA_CLONE "\",\"rip_function\":\"" KRASH_ISRA_CLONE "\",\"clone_of\":\"krash_queue_pending\",\"caller\":\"krash_device_backlog\",\"panic_string\":\"" KRASH_NULL_DEREF_TEXT "%016zx\",\"panic_message\":\"" KRASH_OOPS_PANIC "\",\"null_member\":{\"struct\":\"krash_queue\",\"member\":\"pending\",\"offset\":%zu},\"null_expression\":\"dev->queue\",\"null_expression_struct\":\"krash_device\"}\n",
		off, off);
	pr_info("krash: backlog %lu\n", krash_device_backlog(READ_ONCE(krash_device_ptr)));
}

/*
 * ---- null-const-ops: a NULL slot of a const ops table, folded by gcc ----
 *
 * The ops table is const and the helper is inlined with it: gcc reads the
 * table at compile time, inlines the slots that are set and calls address 0
 * for the one that is not.  No load of the table is left in the code.
 */
struct krash_port;

struct krash_port_ops {
	int (*startup)(struct krash_port *port);
	void (*shutdown)(struct krash_port *port);
	int (*flush_buffer)(struct krash_port *port);	/* this driver has none */
	unsigned int (*tx_empty)(struct krash_port *port);
};

struct krash_port {
	const char *name;
	unsigned long flags;
	const struct krash_port_ops *ops;
};

#define KRASH_PORT_ACTIVE 1UL

static int krash_serial_startup(struct krash_port *port)
{
	port->flags |= KRASH_PORT_ACTIVE;
	return 0;
}

static void krash_serial_shutdown(struct krash_port *port)
{
	port->flags &= ~KRASH_PORT_ACTIVE;
}

static unsigned int krash_serial_tx_empty(struct krash_port *port)
{
	return 1;
}

static const struct krash_port_ops krash_serial_ops = {
	.startup = krash_serial_startup,
	.shutdown = krash_serial_shutdown,
	.tx_empty = krash_serial_tx_empty,
};

static struct krash_port krash_serial_port = {
	.name = "ttyKR0",
	.ops = &krash_serial_ops,
};

static int krash_port_flush(struct krash_port *port, const struct krash_port_ops *ops)
{
	int err = ops->startup(port);

	if (err)
		return err;
	err = ops->flush_buffer(port);
	ops->shutdown(port);
	return err;
}

noinline int krash_serial_sync(struct krash_port *port)
{
	return krash_port_flush(port, &krash_serial_ops);
}

static void scenario_null_const_ops(void)
{
	pr_info("krash-facts: {\"panic_kind\":\"null_fnptr\",\"faulting_function\":\"krash_serial_sync\",\"panic_string\":\"" KRASH_NULL_DEREF_TEXT "0000000000000000\",\"panic_message\":\"" KRASH_OOPS_PANIC "\",\"ops_struct\":\"krash_port_ops\",\"ops_member\":\"flush_buffer\",\"ops_offset\":%zu,\"ops_table\":\"krash_serial_ops\",\"ops_members_set\":[\"startup\",\"shutdown\",\"tx_empty\"]}\n",
		offsetof(struct krash_port_ops, flush_buffer));
	pr_info("krash: sync returned %d\n", krash_serial_sync(&krash_serial_port));
}

/* ---- live: a steady state for krash on the running kernel; sysrq-c comes later ---- */

#define KRASH_LIVE_SLEEPERS 4
#define KRASH_LIVE_LIST_LENGTH 16

struct krash_live_entry {
	struct list_head node;
	unsigned long value;
};

static LIST_HEAD(krash_live_list);
static unsigned long krash_live_count;

noinline int krash_live_sleeper(void *unused)
{
	while (!kthread_should_stop())
		schedule_timeout_interruptible(HZ * 1000);
	return 0;
}

static void scenario_live(void)
{
	int i;

	for (i = 0; i < KRASH_LIVE_LIST_LENGTH; i++) {
		struct krash_live_entry *e = kmalloc(sizeof(*e), GFP_KERNEL);

		if (!e)
			return;
		e->value = i;
		list_add_tail(&e->node, &krash_live_list);
		krash_live_count++;
	}
	for (i = 0; i < KRASH_LIVE_SLEEPERS; i++)
		kthread_run(krash_live_sleeper, NULL, "krash_live/%d", i);
	pr_info("krash-facts: {\"panic_kind\":\"sysrq\",\"faulting_function\":\"sysrq_handle_crash\",\"panic_string\":\"sysrq triggered crash\",\"panic_message\":\"sysrq triggered crash\",\"live_list\":\"krash_live_list\",\"live_list_length\":%d,\"live_count_symbol\":\"krash_live_count\",\"live_kthread_comm\":\"krash_live/0\",\"live_kthread_function\":\"krash_live_sleeper\",\"live_kthreads\":%d}\n",
		KRASH_LIVE_LIST_LENGTH, KRASH_LIVE_SLEEPERS);
}

/*
 * ---- list-del-use: list_for_each_entry where list_for_each_entry_safe was needed ----
 *
 * The reaper deletes a finished request while it walks the list: list_del()
 * leaves LIST_POISON1 in the entry's next pointer, the loop follows it, and
 * the next read is of a member of an entry at the poison address.
 */
#define KRASH_REQUESTS 6
#define KRASH_REQ_DONE 2

struct krash_request {
	unsigned long tag;
	unsigned int status;
	struct list_head node;
	unsigned long done_jiffies;
};

static LIST_HEAD(krash_pending);

noinline unsigned int krash_reap_completed(void)
{
	struct krash_request *req;
	unsigned int reaped = 0;

	list_for_each_entry(req, &krash_pending, node) {
		if (READ_ONCE(req->status) == KRASH_REQ_DONE) {
			list_del(&req->node);
			reaped++;
		}
	}
	return reaped;
}

static void scenario_list_del_use(void)
{
	unsigned long poison = (unsigned long)LIST_POISON1;
	size_t node = offsetof(struct krash_request, node);
	size_t status = offsetof(struct krash_request, status);
	int i;

	for (i = 0; i < KRASH_REQUESTS; i++) {
		struct krash_request *req = kzalloc(sizeof(*req), GFP_KERNEL);

		if (!req)
			return;
		req->tag = 0x100 + i;
		req->status = i == 2 ? KRASH_REQ_DONE : 1;
		list_add_tail(&req->node, &krash_pending);
	}
	pr_info("krash-facts: {\"panic_kind\":\"" KRASH_BAD_ADDRESS_KIND "\",\"faulting_function\":\"krash_reap_completed\",\"rip_function\":\"krash_reap_completed\",\"panic_string\":\"" KRASH_BAD_ADDRESS_TEXT "\",\"panic_message\":\"" KRASH_OOPS_PANIC "\",\"poisoned_list\":{\"head\":\"krash_pending\",\"length_before\":%d,\"entry_struct\":\"krash_request\",\"entry_member\":\"node\",\"read_member\":\"status\"},\"poison\":{\"kind\":\"list_poison1\",\"value\":%lu},\"fault_address\":%lu}\n",
		KRASH_REQUESTS, poison, poison - node + status);
	pr_info("krash: reaped %u\n", krash_reap_completed());
}

/*
 * ---- double-free: an error path frees a buffer that the release path frees again ----
 *
 * The abort path forgets to clear s->buf.  SLUB's freelist hardening sees
 * the object about to point at itself (the same object freed twice in a
 * row) and BUGs.  The buffers come from the driver's own cache, one without
 * per-CPU sheaves where kernels have them (see slab-corrupt), so the second
 * free reaches the freelist.
 */
struct krash_session {
	unsigned long id;
	void *buf;
	unsigned int state;
};

static struct kmem_cache *krash_session_buf_cache;

noinline void krash_session_abort(struct krash_session *s)
{
	WRITE_ONCE(s->state, 0);
	kmem_cache_free(krash_session_buf_cache, READ_ONCE(s->buf));
}

noinline void krash_session_release(struct krash_session *s)
{
	kmem_cache_free(krash_session_buf_cache, READ_ONCE(s->buf));
	kfree(s);
}

static void scenario_double_free(void)
{
	struct krash_session *s;

	krash_session_buf_cache = kmem_cache_create_usercopy("krash_session_buf", 96, 0,
		KRASH_RECORD_CACHE_FLAGS, 0, 96, NULL);
	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!krash_session_buf_cache || !s)
		return;
	s->id = 7;
	s->state = 1;
	s->buf = kmem_cache_alloc(krash_session_buf_cache, GFP_KERNEL);
	pr_info("krash-facts: {\"panic_kind\":\"bug\",\"faulting_function\":\"krash_session_release\",\"panic_string\":\"kernel BUG at mm/slub.c\",\"panic_message\":\"" KRASH_OOPS_PANIC "\",\"double_free\":{\"cache\":\"krash_session_buf\",\"object\":%lu,\"first_free\":\"krash_session_abort\",\"second_free\":\"krash_session_release\"}}\n",
		(unsigned long)s->buf);
	preempt_disable();
	krash_session_abort(s);
	krash_session_release(s);
	preempt_enable();
}

/*
 * ---- divide-error: an average over a sample count that is still zero ----
 *
 * x86 raises #DE on a zero divisor; AArch64's udiv returns 0 instead, so
 * the scenario only crashes x86 kernels.
 */
struct krash_stats {
	unsigned long bytes;
	unsigned long packets;
	unsigned int nr_samples;	/* zero: no sample taken yet */
	unsigned int flags;
};

static struct krash_stats krash_port_stats = { .bytes = 4096, .packets = 3 };
static struct krash_stats *krash_stats_ptr = &krash_port_stats;

noinline unsigned long krash_stats_average(const struct krash_stats *st)
{
	return READ_ONCE(st->bytes) / READ_ONCE(st->nr_samples);
}

static void scenario_divide_error(void)
{
	pr_info("krash-facts: {\"panic_kind\":\"divide_error\",\"faulting_function\":\"krash_stats_average\",\"rip_function\":\"krash_stats_average\",\"panic_string\":\"divide error\",\"panic_message\":\"" KRASH_OOPS_PANIC "\",\"divisor\":{\"struct\":\"krash_stats\",\"member\":\"nr_samples\",\"offset\":%zu},\"divisor_object\":\"krash_port_stats\"}\n",
		offsetof(struct krash_stats, nr_samples));
	pr_info("krash: average %lu\n", krash_stats_average(READ_ONCE(krash_stats_ptr)));
}

/*
 * ---- abba-deadlock: two threads take the same two mutexes in opposite orders ----
 *
 * The config updater holds krash_cfg_lock and wants krash_stats_lock; the
 * stats flusher holds krash_stats_lock and wants krash_cfg_lock.  The
 * completions only make the interleaving certain: the updater blocks first,
 * so the hung-task report starts with it.
 */
static DEFINE_MUTEX(krash_cfg_lock);
static DEFINE_MUTEX(krash_stats_lock);
static DECLARE_COMPLETION(krash_cfg_taken);
static DECLARE_COMPLETION(krash_stats_taken);

noinline int krash_cfg_update(void *unused)
{
	mutex_lock(&krash_cfg_lock);
	complete(&krash_cfg_taken);
	wait_for_completion(&krash_stats_taken);
	mutex_lock(&krash_stats_lock);
	mutex_unlock(&krash_stats_lock);
	mutex_unlock(&krash_cfg_lock);
	return 0;
}

noinline int krash_stats_flush(void *unused)
{
	wait_for_completion(&krash_cfg_taken);
	mutex_lock(&krash_stats_lock);
	complete(&krash_stats_taken);
	msleep(200);
	mutex_lock(&krash_cfg_lock);
	mutex_unlock(&krash_cfg_lock);
	mutex_unlock(&krash_stats_lock);
	return 0;
}

static void scenario_abba_deadlock(void)
{
	pr_info("krash-facts: {\"panic_kind\":\"hung_task\",\"faulting_function\":\"krash_cfg_update\",\"panic_string\":\"blocked for more than\",\"panic_message\":\"hung_task: blocked tasks\",\"cycle\":[{\"comm\":\"krash_cfg\",\"function\":\"krash_cfg_update\",\"holds\":\"krash_cfg_lock\",\"waits_for\":\"krash_stats_lock\"},{\"comm\":\"krash_stats\",\"function\":\"krash_stats_flush\",\"holds\":\"krash_stats_lock\",\"waits_for\":\"krash_cfg_lock\"}]}\n");
	kthread_run(krash_cfg_update, NULL, "krash_cfg");
	kthread_run(krash_stats_flush, NULL, "krash_stats");
}

/*
 * ---- stack-protector: a label parser copies past its 16-byte buffer ----
 *
 * The copy helper stops at the ':' that ends a label and trusts labels to be
 * short; a 23-character label and its NUL fill the buffer and the 8 bytes
 * after it, where -fstack-protector-strong keeps the canary, and the parser's
 * epilogue panics.  The copy is a helper of its own (the caller's buffer size
 * unknown to it) because FORTIFY_SOURCE would stop a memcpy or strcpy into a
 * buffer of known size first.
 */
#define KRASH_LABEL_SIZE 16

static const char *krash_label_spec = "overlong-port-name-0007:rx";

noinline size_t krash_copy_token(char *dst, const char *src, char end)
{
	size_t n = 0;

	while (src[n] && src[n] != end) {
		dst[n] = src[n];
		n++;
	}
	dst[n] = '\0';
	return n;
}

noinline unsigned int krash_label_hash(const char *label)
{
	unsigned int h = 0;

	while (*label)
		h = h * 31 + *label++;
	return h;
}

noinline unsigned int krash_parse_label(const char *spec)
{
	char label[KRASH_LABEL_SIZE];

	krash_copy_token(label, spec, ':');
	return krash_label_hash(label);
}

static void scenario_stack_protector(void)
{
	pr_info("krash-facts: {\"panic_kind\":\"stack_protector\",\"faulting_function\":\"krash_parse_label\",\"panic_string\":\"stack-protector: Kernel stack is corrupted in: krash_parse_label\",\"panic_message\":\"stack-protector: Kernel stack is corrupted in: krash_parse_label\",\"stack_smash\":{\"function\":\"krash_parse_label\",\"buffer\":\"label\",\"size\":%d,\"input\":\"overlong-port-name-0007\"}}\n",
		KRASH_LABEL_SIZE);
	pr_info("krash: label hash %u\n", krash_parse_label(READ_ONCE(krash_label_spec)));
}

/*
 * ---- freed-object-use: a connection read after its close freed it ----
 *
 * The cache is made with SLAB_POISON, as slub_debug=P makes it: a freed
 * object is filled with 0x6b, so the stale pointer's sock member reads
 * poison and the read through it faults.  (The SLAB allocator poisons only
 * in its debug build: the flavor without it does not run this scenario.)
 */
struct krash_sock {
	unsigned long flags;
	unsigned long state;
};

struct krash_conn {
	unsigned long id;
	struct krash_sock *sock;
	unsigned int refs;
	struct list_head node;
};

static struct kmem_cache *krash_conn_cache;
static struct krash_sock krash_conn_sock = { .state = 1 };

noinline void krash_conn_close(struct krash_conn *c)
{
	WRITE_ONCE(c->refs, 0);
	kmem_cache_free(krash_conn_cache, c);
}

noinline unsigned long krash_conn_state(struct krash_conn *c)
{
	return READ_ONCE(READ_ONCE(c->sock)->state);
}

static void scenario_freed_object_use(void)
{
	struct krash_conn *c;

	krash_conn_cache = kmem_cache_create("krash_conn", sizeof(struct krash_conn), 0,
		SLAB_POISON | KRASH_RECORD_CACHE_FLAGS, NULL);
	if (!krash_conn_cache) {
		pr_err("krash: no krash_conn cache (SLAB_POISON refused)\n");
		return;
	}
	c = kmem_cache_alloc(krash_conn_cache, GFP_KERNEL);
	if (!c)
		return;
	c->id = 3;
	c->sock = &krash_conn_sock;
	c->refs = 1;
	pr_info("krash-facts: {\"panic_kind\":\"" KRASH_BAD_ADDRESS_KIND "\",\"faulting_function\":\"krash_conn_state\",\"rip_function\":\"krash_conn_state\",\"panic_string\":\"" KRASH_BAD_ADDRESS_TEXT "\",\"panic_message\":\"" KRASH_OOPS_PANIC "\",\"freed_object\":{\"cache\":\"krash_conn\",\"object\":%lu,\"struct\":\"krash_conn\",\"member\":\"sock\",\"offset\":%zu}}\n",
		(unsigned long)c, offsetof(struct krash_conn, sock));
	krash_conn_close(c);
	pr_info("krash: conn state %lu\n", krash_conn_state(c));
}

/*
 * ---- spinlock-lockup: a spinlock left held while a thread polls firmware ----
 *
 * The poller takes the device lock and waits for a ready flag that never
 * comes, touching the NMI watchdog as polling drivers do, so its own CPU is
 * not reported.  The submitter spins on the lock until the soft-lockup
 * watchdog panics.  Each is bound to a CPU of its own, so that neither ever
 * waits behind the other for a CPU.
 */
static DEFINE_SPINLOCK(krash_fw_lock);
static unsigned int krash_fw_ready;
static unsigned long krash_fw_command;
static DECLARE_COMPLETION(krash_fw_locked);

noinline int krash_fw_wait_ready(void *unused)
{
	spin_lock(&krash_fw_lock);
	complete(&krash_fw_locked);
	while (!READ_ONCE(krash_fw_ready)) {
		touch_nmi_watchdog();
		cpu_relax();
	}
	spin_unlock(&krash_fw_lock);
	return 0;
}

noinline void krash_fw_submit(unsigned long command)
{
	spin_lock(&krash_fw_lock);
	WRITE_ONCE(krash_fw_command, command);
	spin_unlock(&krash_fw_lock);
}

noinline int krash_fw_submitter(void *unused)
{
	wait_for_completion(&krash_fw_locked);
	krash_fw_submit(0x51);
	return 0;
}

static void scenario_spinlock_lockup(void)
{
	struct task_struct *poller, *submitter;

	poller = kthread_create(krash_fw_wait_ready, NULL, "krash_fw_poll");
	submitter = kthread_create(krash_fw_submitter, NULL, "krash_fw_submit");
	if (IS_ERR(poller) || IS_ERR(submitter))
		return;
	kthread_bind(poller, 1);
	kthread_bind(submitter, 0);
	pr_info("krash-facts: {\"panic_kind\":\"soft_lockup\",\"faulting_function\":\"krash_fw_submit\",\"panic_string\":\"watchdog: BUG: soft lockup - CPU#0\",\"panic_message\":\"softlockup: hung tasks\",\"spinlock\":{\"lock\":\"krash_fw_lock\",\"spinner_comm\":\"krash_fw_submit\",\"spinner_function\":\"krash_fw_submit\",\"holder_comm\":\"krash_fw_poll\",\"holder_function\":\"krash_fw_wait_ready\",\"holder_cpu\":1}}\n");
	wake_up_process(poller);
	wake_up_process(submitter);
}

/*
 * ---- warn-on: a ring's sanity check fires, and panic_on_warn makes it fatal ----
 *
 * The ring says 300 entries are in use out of 256 (a producer bumped head
 * without the lock); the push checks it with WARN_ON, and /init sets
 * kernel.panic_on_warn for this scenario, as fleets that treat warnings as
 * crashes do.
 */
struct krash_ring {
	unsigned int head;
	unsigned int tail;
	unsigned int size;
	unsigned int dropped;
};

static struct krash_ring krash_rx_ring = { .head = 300, .tail = 0, .size = 256 };
static struct krash_ring *krash_rx_ring_ptr = &krash_rx_ring;

noinline int krash_ring_push(struct krash_ring *r)
{
	unsigned int used = READ_ONCE(r->head) - READ_ONCE(r->tail);

	if (WARN_ON(used > READ_ONCE(r->size))) {
		WRITE_ONCE(r->dropped, r->dropped + 1);
		return -EOVERFLOW;
	}
	WRITE_ONCE(r->head, r->head + 1);
	return 0;
}

static void scenario_warn_on(void)
{
	pr_info("krash-facts: {\"panic_kind\":\"warning\",\"faulting_function\":\"krash_ring_push\",\"rip_function\":\"krash_ring_push\",\"panic_string\":\"WARNING: CPU: \",\"panic_message\":\"panic_on_warn set ...\",\"warning\":{\"file\":\"krash_scenarios.c\",\"tested_values\":[%u,%u],\"object\":\"krash_rx_ring\"}}\n",
		krash_rx_ring.head - krash_rx_ring.tail, krash_rx_ring.size);
	pr_info("krash: ring push %d\n", krash_ring_push(READ_ONCE(krash_rx_ring_ptr)));
}

/*
 * ---- rcu-stall: a mailbox drain polls with its lock held, and RCU stalls ----
 *
 * The drain thread, bound to CPU 1, takes the mailbox lock and polls a status
 * word that never changes, touching the watchdog as polling drivers do, so
 * the soft-lockup detector stays quiet; with preemption off no quiescent
 * state is ever reported on that CPU.  The writer then waits for a grace
 * period (a driver's teardown waiting for its readers), which never ends.
 * /init sets kernel.panic_on_rcu_stall and the shortest stall timeout.
 */
static DEFINE_SPINLOCK(krash_mbox_lock);
static unsigned int krash_mbox_status;
static DECLARE_COMPLETION(krash_mbox_polling);

noinline int krash_mbox_drain(void *unused)
{
	spin_lock(&krash_mbox_lock);
	complete(&krash_mbox_polling);
	while (!(READ_ONCE(krash_mbox_status) & 1)) {
		touch_nmi_watchdog();
		cpu_relax();
	}
	spin_unlock(&krash_mbox_lock);
	return 0;
}

static void scenario_rcu_stall(void)
{
	struct task_struct *drain = kthread_create(krash_mbox_drain, NULL, "krash_mbox");

	if (IS_ERR(drain))
		return;
	kthread_bind(drain, 1);
	pr_info("krash-facts: {\"panic_kind\":\"rcu_stall\",\"faulting_function\":\"krash_mbox_drain\",\"panic_string\":\"detected stall\",\"panic_message\":\"RCU Stall\",\"rcu_stall\":{\"cpu\":1,\"comm\":\"krash_mbox\",\"function\":\"krash_mbox_drain\"}}\n");
	wake_up_process(drain);
	wait_for_completion(&krash_mbox_polling);
	synchronize_rcu();
}

/*
 * ---- oom-panic: a request queue that never completes, until memory runs out ----
 *
 * A worker queues requests from a cache of their own onto a backlog that
 * nothing drains; /init sets vm.panic_on_oom, so the first allocation the
 * kernel cannot satisfy panics.  The requests are mostly zero (as a fresh
 * request is), which keeps the dump small.
 */
struct krash_req {
	unsigned long id;
	unsigned long flags;
	struct list_head node;
	char payload[2016];
};

static struct kmem_cache *krash_req_cache;
static LIST_HEAD(krash_req_backlog);
static unsigned long krash_req_queued;

noinline int krash_req_worker(void *unused)
{
	for (;;) {
		struct krash_req *r = kmem_cache_zalloc(krash_req_cache, GFP_KERNEL);

		if (!r)
			break;
		r->id = ++krash_req_queued;
		r->flags = 1;
		list_add_tail(&r->node, &krash_req_backlog);
		if (!(krash_req_queued & 1023))
			cond_resched();
	}
	return 0;
}

static void scenario_oom_panic(void)
{
	struct task_struct *worker;

	krash_req_cache = kmem_cache_create_usercopy("krash_req", sizeof(struct krash_req), 0,
		KRASH_RECORD_CACHE_FLAGS, 0, sizeof(struct krash_req), NULL);
	if (!krash_req_cache)
		return;
	worker = kthread_run(krash_req_worker, NULL, "krash_reqd");
	if (IS_ERR(worker))
		return;
	pr_info("krash-facts: {\"panic_kind\":\"oom\",\"faulting_function\":\"krash_req_worker\",\"panic_string\":\"invoked oom-killer\",\"panic_message\":\"Out of memory: system-wide panic_on_oom is enabled\",\"oom\":{\"cache\":\"krash_req\",\"object_size\":%zu,\"comm\":\"krash_reqd\"}}\n",
		sizeof(struct krash_req));
}

/*
 * ---- refcount-underflow: an error path drops a reference its caller drops again ----
 *
 * attach() fails and puts the client, which frees it; the caller puts it
 * once more.  The freed object's count still reads 0 (the allocator keeps
 * its free pointer in the middle of the object), so refcount_t warns of the
 * underflow, and /init's panic_on_warn makes the warning fatal.
 */
struct krash_client {
	unsigned long id;
	refcount_t refs;
	unsigned int flags;
	struct list_head node;
};

static struct kmem_cache *krash_client_cache;
static atomic_long_t krash_client_puts;

noinline void krash_client_put(struct krash_client *c)
{
	bool last = refcount_dec_and_test(&c->refs);

	atomic_long_inc(&krash_client_puts);
	if (last)
		kmem_cache_free(krash_client_cache, c);
}

noinline int krash_client_attach(struct krash_client *c)
{
	if (READ_ONCE(c->flags) & 2) {
		krash_client_put(c);
		return -EBUSY;
	}
	return 0;
}

static void scenario_refcount_underflow(void)
{
	struct krash_client *c;

	krash_client_cache = kmem_cache_create_usercopy("krash_client", sizeof(struct krash_client), 0,
		KRASH_RECORD_CACHE_FLAGS, 0, sizeof(struct krash_client), NULL);
	if (!krash_client_cache)
		return;
	c = kmem_cache_alloc(krash_client_cache, GFP_KERNEL);
	if (!c)
		return;
	c->id = 11;
	c->flags = 2;
	refcount_set(&c->refs, 1);
	INIT_LIST_HEAD(&c->node);
	pr_info("krash-facts: {\"panic_kind\":\"warning\",\"faulting_function\":\"krash_client_put\",\"panic_string\":\"refcount_t: underflow; use-after-free.\",\"panic_message\":\"panic_on_warn set ...\",\"refcount\":{\"struct\":\"krash_client\",\"member\":\"refs\",\"offset\":%zu,\"cache\":\"krash_client\",\"object\":%lu,\"saturation\":\"underflow\",\"freed\":true}}\n",
		offsetof(struct krash_client, refs), (unsigned long)c);
	if (krash_client_attach(c) < 0)
		krash_client_put(c);
}

/*
 * ---- stack-overflow: a config tree walk that a cycle makes endless ----
 *
 * Two nodes name each other as children; the depth walk recurses until the
 * task stack runs into its guard page (VMAP_STACK: a double fault on x86,
 * the overflow stack on arm64).  The flavor without VMAP_STACK does not run it.
 */
struct krash_cfg_node {
	const char *name;
	const struct krash_cfg_node *parent;
	unsigned int nr_children;
	const struct krash_cfg_node *children[2];
};

static struct krash_cfg_node krash_cfg_eth0, krash_cfg_bond0;
static struct krash_cfg_node krash_cfg_bond0 = {
	.name = "bond0", .nr_children = 1, .children = { &krash_cfg_eth0 },
};
static struct krash_cfg_node krash_cfg_eth0 = {
	.name = "eth0", .parent = &krash_cfg_bond0, .nr_children = 1, .children = { &krash_cfg_bond0 },
};
static struct krash_cfg_node *krash_cfg_root = &krash_cfg_bond0;

noinline unsigned int krash_cfg_depth(const struct krash_cfg_node *n)
{
	char path[96];
	unsigned int i, depth = 0;

	snprintf(path, sizeof(path), "%s/%s", n->parent ? n->parent->name : "", n->name);
	for (i = 0; i < READ_ONCE(n->nr_children); i++)
		depth = max(depth, krash_cfg_depth(READ_ONCE(n->children[i])));
	return depth + 1 + strlen(path) / sizeof(path);
}

#ifdef CONFIG_ARM64
#define KRASH_STACK_OVERFLOW_TEXT "Insufficient stack space to handle exception!"
#define KRASH_STACK_OVERFLOW_PANIC "kernel stack overflow"
#else
#define KRASH_STACK_OVERFLOW_TEXT "stack guard page was hit"
#define KRASH_STACK_OVERFLOW_PANIC "Fatal exception"
#endif

static void scenario_stack_overflow(void)
{
	pr_info("krash-facts: {\"panic_kind\":\"stack_overflow\",\"faulting_function\":\"krash_cfg_depth\",\"panic_string\":\"" KRASH_STACK_OVERFLOW_TEXT "\",\"panic_message\":\"" KRASH_STACK_OVERFLOW_PANIC "\",\"stack_overflow\":{\"function\":\"krash_cfg_depth\"}}\n");
	pr_info("krash: config depth %u\n", krash_cfg_depth(READ_ONCE(krash_cfg_root)));
}

/* ---- dispatch ---- */

struct krash_scenario {
	const char *name;
	void (*run)(void);
};

static const struct krash_scenario krash_scenarios[] = {
	{ "null-member", scenario_null_member },
	{ "null-fnptr", scenario_null_fnptr },
	{ "softlockup", scenario_softlockup },
	{ "slab-corrupt", scenario_slab_corrupt },
	{ "timer-bug", scenario_timer_bug },
	{ "hung-task", scenario_hung_task },
	{ "sysrq-busy", scenario_sysrq_busy },
	{ "err-ptr", scenario_err_ptr },
	{ "live", scenario_live },
	{ "null-isra", scenario_null_isra },
	{ "null-const-ops", scenario_null_const_ops },
	{ "list-del-use", scenario_list_del_use },
	{ "double-free", scenario_double_free },
	{ "divide-error", scenario_divide_error },
	{ "abba-deadlock", scenario_abba_deadlock },
	{ "stack-protector", scenario_stack_protector },
	{ "freed-object-use", scenario_freed_object_use },
	{ "spinlock-lockup", scenario_spinlock_lockup },
	{ "warn-on", scenario_warn_on },
	{ "rcu-stall", scenario_rcu_stall },
	{ "oom-panic", scenario_oom_panic },
	{ "refcount-underflow", scenario_refcount_underflow },
	{ "stack-overflow", scenario_stack_overflow },
};

static int krash_run_scenario(const char *name)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(krash_scenarios); i++) {
		if (sysfs_streq(name, krash_scenarios[i].name)) {
			pr_info("krash: running scenario %s\n", krash_scenarios[i].name);
			krash_scenarios[i].run();
			return 0;
		}
	}
	pr_err("krash: unknown scenario '%s'\n", name);
	return -EINVAL;
}

static ssize_t krash_proc_write(struct file *file, const char __user *buf,
				size_t count, loff_t *ppos)
{
	char name[64];
	size_t len = min(count, sizeof(name) - 1);
	int err;

	if (copy_from_user(name, buf, len))
		return -EFAULT;
	name[len] = '\0';
	err = krash_run_scenario(name);
	return err ? err : count;
}

static const struct proc_ops krash_proc_ops = {
	.proc_write = krash_proc_write,
};

static int __init krash_scenarios_init(void)
{
	if (!proc_create("krash_scenario", 0200, NULL, &krash_proc_ops))
		return -ENOMEM;
	if (scenario && *scenario)
		return krash_run_scenario(scenario);
	return 0;
}

static void __exit krash_scenarios_exit(void)
{
	remove_proc_entry("krash_scenario", NULL);
}

module_init(krash_scenarios_init);
module_exit(krash_scenarios_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Deliberate kernel crashes for the krash dump lab");
