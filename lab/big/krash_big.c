// SPDX-License-Identifier: GPL-2.0
/*
 * krash_big: the lab's big machine (lab/big/README.md).  Loading it fills a
 * 32-CPU, 16 GiB guest with what a production machine's kernel holds:
 *
 *  - about 12 500 kthreads in every state a kthread can be in: sleeping (S),
 *    idle (I), uninterruptible (D) on a wait queue, D on one of twenty mutexes
 *    whose holders sleep in D, and parked (P);
 *  - 1 000 000 objects of one cache linked on one list (krash_big_list), and
 *    480 000 more over 24 caches of other sizes.
 *
 * Writing "oops" to /proc/krash_big starts a spinning kthread on every other
 * online CPU, waits until they all run, prints the "krash-facts: {json}" line
 * (counted at that moment: tasks by state, the list, the caches), and reads a
 * member through a NULL pointer.  The user-space half (processes, threads,
 * files, mounts, cgroups) is lab/big/zoo.c.
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/proc_fs.h>
#include <linux/uaccess.h>
#include <linux/slab.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/kthread.h>
#include <linux/delay.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/wait.h>
#include <linux/cpumask.h>
#include <linux/vmalloc.h>

/* Global so that GCC keeps their names (the tests look them up). */
struct krash_big_shard;
unsigned long krash_big_shard_objects(struct krash_big_shard *shard);
unsigned long krash_big_census(void);
int krash_big_kthread(void *arg);

#define KRASH_BIG_LIST_ENTRIES 1000000
#define KRASH_BIG_CACHES 24
#define KRASH_BIG_CACHE_OBJECTS 20000
#define KRASH_BIG_LOCKS 20

/* One element of the million-entry list. */
struct krash_big_node {
	struct list_head link;
	unsigned long serial;
	unsigned long payload[5];
};

LIST_HEAD(krash_big_list);
static struct kmem_cache *krash_big_node_cache;
static struct kmem_cache *krash_big_caches[KRASH_BIG_CACHES];

/* Per-cache bookkeeping; the census reads a slot that was never filled. */
struct krash_big_shard {
	const char *name;
	unsigned int object_size;
	unsigned long nr_objects;
};

static struct krash_big_shard *krash_big_shards[KRASH_BIG_CACHES + 1];

/*
 * A constructor keeps SLUB from merging the caches into kmalloc's or each
 * other (find_mergeable() skips caches with one): kmem -s must find them
 * by name, with exactly the objects made here.
 */
static void krash_big_ctor(void *obj)
{
	*(unsigned long *)obj = 0x6b72617368626967UL;	/* "krashbig" */
}

enum krash_big_role {
	KRASH_BIG_SLEEP,	/* S: wait_event_interruptible */
	KRASH_BIG_IDLE,		/* I: wait_event_idle */
	KRASH_BIG_DISK,		/* D: wait_event */
	KRASH_BIG_HOLDER,	/* D, holding krash_big_locks[i] */
	KRASH_BIG_WAITER,	/* D in mutex_lock(&krash_big_locks[i]) */
	KRASH_BIG_PARK,		/* P: kthread_park()ed */
	KRASH_BIG_SPIN,		/* R: spinning on its own CPU */
	KRASH_BIG_ROLES,
};

static const struct {
	const char *comm;
	unsigned int count;
} krash_big_roles[KRASH_BIG_ROLES] = {
	[KRASH_BIG_SLEEP] = { "kbig_sleep", 6500 },
	[KRASH_BIG_IDLE] = { "kbig_idle", 3000 },
	[KRASH_BIG_DISK] = { "kbig_disk", 1000 },
	[KRASH_BIG_HOLDER] = { "kbig_holder", KRASH_BIG_LOCKS },
	[KRASH_BIG_WAITER] = { "kbig_waiter", 1000 },
	[KRASH_BIG_PARK] = { "kbig_park", 1000 },
	[KRASH_BIG_SPIN] = { "kbig_spin", 0 },	/* one per other online CPU, at oops time */
};

static DECLARE_WAIT_QUEUE_HEAD(krash_big_wq);
static struct mutex krash_big_locks[KRASH_BIG_LOCKS];
static bool krash_big_released;
static atomic_t krash_big_spinning = ATOMIC_INIT(0);
static atomic_t krash_big_holding = ATOMIC_INIT(0);
static unsigned int krash_big_made[KRASH_BIG_ROLES];

#define KRASH_BIG_ARG(role, index) ((void *)(((unsigned long)(role) << 32) | (index)))

noinline int krash_big_kthread(void *arg)
{
	unsigned long role = (unsigned long)arg >> 32;
	unsigned long index = (unsigned long)arg & 0xffffffff;

	switch (role) {
	case KRASH_BIG_SLEEP:
		wait_event_interruptible(krash_big_wq, READ_ONCE(krash_big_released));
		break;
	case KRASH_BIG_IDLE:
		wait_event_idle(krash_big_wq, READ_ONCE(krash_big_released));
		break;
	case KRASH_BIG_DISK:
		wait_event(krash_big_wq, READ_ONCE(krash_big_released));
		break;
	case KRASH_BIG_HOLDER:
		mutex_lock(&krash_big_locks[index]);
		atomic_inc(&krash_big_holding);
		wait_event(krash_big_wq, READ_ONCE(krash_big_released));
		mutex_unlock(&krash_big_locks[index]);
		break;
	case KRASH_BIG_WAITER:
		mutex_lock(&krash_big_locks[index % KRASH_BIG_LOCKS]);
		mutex_unlock(&krash_big_locks[index % KRASH_BIG_LOCKS]);
		break;
	case KRASH_BIG_PARK:
		while (!kthread_should_stop()) {
			if (kthread_should_park())
				kthread_parkme();
			else
				wait_event_interruptible(krash_big_wq, kthread_should_park() ||
							 READ_ONCE(krash_big_released));
		}
		return 0;
	case KRASH_BIG_SPIN:
		atomic_inc(&krash_big_spinning);
		while (!READ_ONCE(krash_big_released))
			cpu_relax();
		break;
	}
	while (!kthread_should_stop())
		schedule_timeout_interruptible(MAX_SCHEDULE_TIMEOUT);
	return 0;
}

static struct task_struct *krash_big_start(enum krash_big_role role, unsigned long index, int cpu)
{
	struct task_struct *t;

	t = kthread_create(krash_big_kthread, KRASH_BIG_ARG(role, index), "%s/%lu",
			   krash_big_roles[role].comm, index);
	if (IS_ERR(t))
		return t;
	if (cpu >= 0)
		kthread_bind(t, cpu);
	wake_up_process(t);
	krash_big_made[role]++;
	return t;
}

static int krash_big_make_threads(void)
{
	struct task_struct **parked;
	unsigned int role, i;
	int err = 0;

	for (i = 0; i < KRASH_BIG_LOCKS; i++)
		mutex_init(&krash_big_locks[i]);
	for (i = 0; i < KRASH_BIG_LOCKS; i++)
		if (IS_ERR(krash_big_start(KRASH_BIG_HOLDER, i, -1)))
			return -ENOMEM;
	/* The waiters must find their mutex held. */
	while (atomic_read(&krash_big_holding) < KRASH_BIG_LOCKS)
		msleep(10);
	parked = kvcalloc(krash_big_roles[KRASH_BIG_PARK].count, sizeof(*parked), GFP_KERNEL);
	if (!parked)
		return -ENOMEM;
	for (role = 0; role < KRASH_BIG_ROLES && !err; role++) {
		if (role == KRASH_BIG_HOLDER || role == KRASH_BIG_SPIN)
			continue;
		for (i = 0; i < krash_big_roles[role].count; i++) {
			struct task_struct *t = krash_big_start(role, i, -1);

			if (IS_ERR(t)) {
				err = PTR_ERR(t);
				break;
			}
			if (role == KRASH_BIG_PARK)
				parked[i] = t;
			if (i % 256 == 0)
				cond_resched();
		}
	}
	for (i = 0; i < krash_big_made[KRASH_BIG_PARK]; i++)
		kthread_park(parked[i]);
	kvfree(parked);
	return err;
}

static int krash_big_make_objects(void)
{
	static const unsigned int sizes[KRASH_BIG_CACHES] = {
		16, 24, 32, 40, 48, 56, 72, 80, 96, 112, 136, 160,
		192, 224, 264, 320, 384, 456, 512, 640, 768, 1024, 1536, 2048,
	};
	static char names[KRASH_BIG_CACHES][24];
	unsigned long i;
	unsigned int c;

	krash_big_node_cache = kmem_cache_create("krash_big_node", sizeof(struct krash_big_node),
						 0, 0, krash_big_ctor);
	if (!krash_big_node_cache)
		return -ENOMEM;
	for (i = 0; i < KRASH_BIG_LIST_ENTRIES; i++) {
		struct krash_big_node *n = kmem_cache_alloc(krash_big_node_cache, GFP_KERNEL);

		if (!n)
			return -ENOMEM;
		n->serial = i;
		memset(n->payload, 0x5a, sizeof(n->payload));
		list_add_tail(&n->link, &krash_big_list);
		if (i % 4096 == 0)
			cond_resched();
	}
	for (c = 0; c < KRASH_BIG_CACHES; c++) {
		struct krash_big_shard *shard = kzalloc(sizeof(*shard), GFP_KERNEL);

		snprintf(names[c], sizeof(names[c]), "krash_big_%02u", c);
		krash_big_caches[c] = kmem_cache_create(names[c], sizes[c], 0, 0, krash_big_ctor);
		if (!shard || !krash_big_caches[c])
			return -ENOMEM;
		shard->name = names[c];
		shard->object_size = sizes[c];
		for (i = 0; i < KRASH_BIG_CACHE_OBJECTS; i++) {
			unsigned long *obj = kmem_cache_alloc(krash_big_caches[c], GFP_KERNEL);

			if (!obj)
				return -ENOMEM;
			/* Kept for the life of the guest: the dump's slab walk counts them. */
			obj[0] = ((unsigned long)c << 32) | i;
			shard->nr_objects++;
			if (i % 4096 == 0)
				cond_resched();
		}
		krash_big_shards[c] = shard;
	}
	return 0;
}

noinline unsigned long krash_big_shard_objects(struct krash_big_shard *shard)
{
	return READ_ONCE(shard->nr_objects);
}

/* Sums every shard's objects: the slot after the last was never filled. */
noinline unsigned long krash_big_census(void)
{
	unsigned long total = 0;
	unsigned int c;

	for (c = 0; c < ARRAY_SIZE(krash_big_shards); c++)
		total += krash_big_shard_objects(READ_ONCE(krash_big_shards[c]));
	return total;
}

static void krash_big_oops(void)
{
	unsigned int states[128] = { 0 };	/* by ps's state letter */
	struct task_struct *g, *t;
	unsigned long tasks = 0, threads = 0, wait;
	unsigned int cpu, others = 0;

	for_each_online_cpu(cpu) {
		if (cpu == raw_smp_processor_id())
			continue;
		if (!IS_ERR(krash_big_start(KRASH_BIG_SPIN, cpu, cpu)))
			others++;
	}
	/* Up to a minute: 31 busy vCPUs share the host's cores under TCG. */
	for (wait = 0; atomic_read(&krash_big_spinning) < others && wait < 6000; wait++)
		msleep(10);
	rcu_read_lock();
	for_each_process_thread(g, t) {
		tasks++;
		if (t->flags & PF_KTHREAD)
			threads++;
		states[task_state_to_char(t) & 127]++;
	}
	rcu_read_unlock();
	pr_info("krash-facts: {\"panic_kind\":\"null_deref\",\"faulting_function\":\"krash_big_shard_objects\",\"rip_function\":\"krash_big_shard_objects\",\"panic_string\":\"BUG: kernel NULL pointer dereference, address: %016zx\",\"panic_message\":\"Fatal exception\",\"null_member\":{\"struct\":\"krash_big_shard\",\"member\":\"nr_objects\",\"offset\":%zu},\"cpus\":%u,\"spinning_cpus\":%d,\"tasks\":%lu,\"kthreads\":%lu,\"task_states\":{\"R\":%u,\"S\":%u,\"D\":%u,\"T\":%u,\"t\":%u,\"X\":%u,\"Z\":%u,\"P\":%u,\"I\":%u},\"list\":{\"head\":\"krash_big_list\",\"struct\":\"krash_big_node\",\"member\":\"link\",\"entries\":%d},\"node_cache\":{\"name\":\"krash_big_node\",\"objects\":%d,\"object_size\":%zu},\"caches\":{\"prefix\":\"krash_big_\",\"count\":%d,\"objects_each\":%d},\"module_kthreads\":{\"sleep\":%u,\"idle\":%u,\"disk\":%u,\"holder\":%u,\"waiter\":%u,\"park\":%u,\"spin\":%u}}\n",
		offsetof(struct krash_big_shard, nr_objects), offsetof(struct krash_big_shard, nr_objects),
		num_online_cpus(), atomic_read(&krash_big_spinning), tasks, threads,
		states['R'], states['S'], states['D'], states['T'], states['t'], states['X'], states['Z'],
		states['P'], states['I'],
		KRASH_BIG_LIST_ENTRIES, KRASH_BIG_LIST_ENTRIES, sizeof(struct krash_big_node),
		KRASH_BIG_CACHES, KRASH_BIG_CACHE_OBJECTS,
		krash_big_made[KRASH_BIG_SLEEP], krash_big_made[KRASH_BIG_IDLE], krash_big_made[KRASH_BIG_DISK],
		krash_big_made[KRASH_BIG_HOLDER], krash_big_made[KRASH_BIG_WAITER], krash_big_made[KRASH_BIG_PARK],
		krash_big_made[KRASH_BIG_SPIN]);
	pr_info("krash_big: %lu objects\n", krash_big_census());
}

static ssize_t krash_big_write(struct file *file, const char __user *buf, size_t count, loff_t *ppos)
{
	char word[16];
	size_t len = min(count, sizeof(word) - 1);

	if (copy_from_user(word, buf, len))
		return -EFAULT;
	word[len] = '\0';
	if (!sysfs_streq(word, "oops"))
		return -EINVAL;
	krash_big_oops();
	return count;
}

static const struct proc_ops krash_big_proc_ops = {
	.proc_write = krash_big_write,
};

static int __init krash_big_init(void)
{
	int err;

	err = krash_big_make_objects();
	if (!err)
		err = krash_big_make_threads();
	pr_info("krash_big: made %d kthreads, err %d\n",
		krash_big_made[KRASH_BIG_SLEEP] + krash_big_made[KRASH_BIG_IDLE] +
		krash_big_made[KRASH_BIG_DISK] + krash_big_made[KRASH_BIG_HOLDER] +
		krash_big_made[KRASH_BIG_WAITER] + krash_big_made[KRASH_BIG_PARK], err);
	if (err)
		return err;
	if (!proc_create("krash_big", 0200, NULL, &krash_big_proc_ops))
		return -ENOMEM;
	return 0;
}

module_init(krash_big_init);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("The krash lab's big machine: many tasks, objects and a million-entry list");
