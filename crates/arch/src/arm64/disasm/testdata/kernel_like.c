/* Kernel-shaped C for the arm64 disassembler tests: lists, locks with LSE
 * atomics, bit operations, switch tables, indirect calls, system
 * registers and barriers, varargs-free formatting, copies. Compiled with
 * -O2 -mbranch-protection=standard like an arm64 kernel. */
typedef unsigned long u64;
typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned char u8;
typedef long s64;
typedef int s32;

struct list_head { struct list_head *next, *prev; };
struct task {
	long state;
	struct list_head tasks;
	int pid;
	u32 flags;
	u64 utime, stime;
	struct task *parent;
	char comm[16];
	void (*fn)(struct task *, int);
	u8 prio;
	u16 cpu;
};

static struct list_head task_list = { &task_list, &task_list };
int nr_tasks;
u64 jiffies;
u32 spin_word;
long counters[64];
struct task init_task;

#define barrier() __asm__ __volatile__("" ::: "memory")
#define dmb(opt) __asm__ __volatile__("dmb " #opt ::: "memory")
#define dsb(opt) __asm__ __volatile__("dsb " #opt ::: "memory")
#define isb() __asm__ __volatile__("isb" ::: "memory")

static inline u64 read_sp_el0(void)
{
	u64 v;
	__asm__ __volatile__("mrs %0, sp_el0" : "=r"(v));
	return v;
}

static inline unsigned long arch_local_irq_save(void)
{
	unsigned long flags;
	__asm__ __volatile__("mrs %0, daif\n\tmsr daifset, #3" : "=r"(flags) :: "memory");
	return flags;
}

static inline void arch_local_irq_restore(unsigned long flags)
{
	__asm__ __volatile__("msr daif, %0" :: "r"(flags) : "memory");
}

void __attribute__((noinline)) spin_lock(u32 *lock)
{
	u32 old;
	do {
		old = __atomic_fetch_add(lock, 0x10000, __ATOMIC_ACQUIRE);
		while ((old >> 16) != (u16)__atomic_load_n((u16 *)lock, __ATOMIC_ACQUIRE))
			__asm__ __volatile__("wfe");
	} while (0);
}

void __attribute__((noinline)) spin_unlock(u32 *lock)
{
	__atomic_fetch_add((u16 *)lock, 1, __ATOMIC_RELEASE);
}

static inline void list_add_tail(struct list_head *new, struct list_head *head)
{
	struct list_head *prev = head->prev;
	new->next = head;
	new->prev = prev;
	prev->next = new;
	head->prev = new;
}

static inline void list_del(struct list_head *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
	e->next = (void *)0x100;
	e->prev = (void *)0x122;
}

void *memset(void *s, int c, unsigned long n)
{
	u8 *p = s;
	while (n--)
		*p++ = (u8)c;
	return s;
}

void *memcpy(void *d, const void *s, unsigned long n)
{
	u8 *dp = d;
	const u8 *sp = s;
	while (n--)
		*dp++ = *sp++;
	return d;
}

int __attribute__((noinline)) printk(const char *fmt, long a, long b)
{
	long n = 0;
	while (*fmt) {
		n += *fmt++;
		n ^= a;
		n += b >> 3;
	}
	return (int)n;
}

void __attribute__((noinline)) add_task(struct task *t)
{
	unsigned long flags = arch_local_irq_save();
	spin_lock(&spin_word);
	list_add_tail(&t->tasks, &task_list);
	nr_tasks++;
	spin_unlock(&spin_word);
	arch_local_irq_restore(flags);
}

int __attribute__((noinline)) remove_task(struct task *t)
{
	spin_lock(&spin_word);
	list_del(&t->tasks);
	int n = --nr_tasks;
	spin_unlock(&spin_word);
	return n;
}

struct task *find_task(int pid)
{
	struct list_head *p;
	for (p = task_list.next; p != &task_list; p = p->next) {
		struct task *t = (struct task *)((char *)p - __builtin_offsetof(struct task, tasks));
		if (t->pid == pid)
			return t;
	}
	return 0;
}

u64 __attribute__((noinline)) sum_times(void)
{
	u64 sum = 0;
	struct list_head *p;
	for (p = task_list.next; p != &task_list; p = p->next) {
		struct task *t = (struct task *)((char *)p - __builtin_offsetof(struct task, tasks));
		sum += t->utime + t->stime * 3;
	}
	return sum;
}

int hweight64(u64 w)
{
	return __builtin_popcountll(w);
}

int fls64(u64 x)
{
	return x ? 64 - __builtin_clzll(x) : 0;
}

int ffs32(u32 x)
{
	return __builtin_ffs(x);
}

u64 bswap(u64 x, u32 y)
{
	return __builtin_bswap64(x) ^ __builtin_bswap32(y);
}

const char *state_name(long state)
{
	switch (state) {
	case 0: return "R (running)";
	case 1: return "S (sleeping)";
	case 2: return "D (disk sleep)";
	case 4: return "T (stopped)";
	case 8: return "t (tracing stop)";
	case 16: return "X (dead)";
	case 32: return "Z (zombie)";
	case 64: return "P (parked)";
	case 128: return "I (idle)";
	default: return "?";
	}
}

int classify(int c)
{
	switch (c) {
	case 0: return 10;
	case 1: return 22;
	case 2: return 7;
	case 3: return 91;
	case 4: return -3;
	case 5: return 44;
	case 6: return 12;
	case 7: return 0;
	case 8: return 1000;
	default: return -1;
	}
}

void run_all(int arg)
{
	struct list_head *p;
	for (p = task_list.next; p != &task_list; p = p->next) {
		struct task *t = (struct task *)((char *)p - __builtin_offsetof(struct task, tasks));
		if (t->fn)
			t->fn(t, arg);
	}
}

long div_stuff(long a, long b, unsigned long c, unsigned long d)
{
	return a / b + (long)(c / d) + a % b + (long)(c % 7) + (a * b) - (long)((unsigned __int128)c * d >> 64);
}

s32 clamp(s32 v, s32 lo, s32 hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

u64 bits_and_fields(u64 x, u32 y)
{
	u64 r = (x >> 12) & 0xfff;
	r |= (u64)(y & 0xff) << 40;
	r ^= (x << 3) | (x >> 61);
	r += (s64)(s32)y;
	r += (u64)(signed char)y;
	return r;
}

int cmpxchg_loop(long *p, long old, long new)
{
	return __atomic_compare_exchange_n(p, &old, new, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
}

long xchg_it(long *p, long v)
{
	return __atomic_exchange_n(p, v, __ATOMIC_ACQ_REL);
}

void atomic_ops(long *p, int *q)
{
	__atomic_fetch_or(p, 4, __ATOMIC_RELAXED);
	__atomic_fetch_and(p, ~8L, __ATOMIC_RELEASE);
	__atomic_fetch_xor(q, 1, __ATOMIC_ACQUIRE);
	__atomic_fetch_sub(q, 3, __ATOMIC_SEQ_CST);
	__atomic_store_n(p, 0, __ATOMIC_RELEASE);
}

void flush_range(u64 start, u64 end)
{
	for (; start < end; start += 64)
		__asm__ __volatile__("dc civac, %0" :: "r"(start) : "memory");
	dsb(ish);
	__asm__ __volatile__("tlbi vmalle1is" ::: "memory");
	dsb(ish);
	isb();
}

u64 current_task_ptr(void)
{
	return read_sp_el0() + 16;
}

u64 read_counter(void)
{
	u64 v;
	isb();
	__asm__ __volatile__("mrs %0, cntvct_el0" : "=r"(v));
	return v;
}

void __attribute__((noinline)) bug_on(int cond)
{
	if (cond)
		__asm__ __volatile__("brk #0x800");
}

int syscall1(long nr, long a)
{
	register long x8 __asm__("x8") = nr;
	register long x0 __asm__("x0") = a;
	__asm__ __volatile__("svc #0" : "+r"(x0) : "r"(x8) : "memory");
	return (int)x0;
}

struct big { long a[12]; };

long use_big(struct big b, int i)
{
	return b.a[i & 7] + b.a[11];
}

long call_big(void)
{
	struct big b;
	for (int i = 0; i < 12; i++)
		b.a[i] = i * jiffies;
	return use_big(b, 3) + printk("big %ld %ld", b.a[1], b.a[2]);
}

int many_args(int a, int b, int c, int d, int e, int f, int g, int h, int i, int j)
{
	return a + b * c - d / (e | 1) + f * g + h - i + j;
}

int call_many(void)
{
	return many_args(1, 2, 3, 4, 5, 6, 7, 8, 9, (int)jiffies);
}

void init(void)
{
	memset(&init_task, 0, sizeof(init_task));
	init_task.pid = 1;
	memcpy(init_task.comm, "swapper/0", 10);
	add_task(&init_task);
	counters[nr_tasks & 63] += (long)sum_times();
	bug_on(find_task(1) != &init_task);
	flush_range((u64)&init_task, (u64)&init_task + sizeof(init_task));
	run_all(classify(nr_tasks) + hweight64(jiffies) + fls64(jiffies));
	remove_task(&init_task);
}

void _start(void)
{
	init();
	for (;;)
		__asm__ __volatile__("wfi");
}

/* -mgeneral-regs-only turns popcount into a libgcc call; the kernel has
 * its own. */
int __popcountdi2(u64 w)
{
	w = w - ((w >> 1) & 0x5555555555555555ul);
	w = (w & 0x3333333333333333ul) + ((w >> 2) & 0x3333333333333333ul);
	w = (w + (w >> 4)) & 0x0f0f0f0f0f0f0f0ful;
	return (int)((w * 0x0101010101010101ul) >> 56);
}
