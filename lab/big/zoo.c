// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * krash-zoo: the user-space half of the lab's big machine (lab/big/README.md),
 * run by the big guest's /init.  It leaves behind, and then exits:
 *
 *  - processes of many sizes: 1 000 with one thread, 200 with 8, 50 with 64
 *    and 4 with 512, each touching its own amount of memory (64 KiB to 64 MiB);
 *  - 50 stopped processes and 50 zombies;
 *  - thousands of open files: every small process holds /dev/null, a pipe, a
 *    socketpair and files on tmpfs; one process holds 4 000 tmpfs files;
 *  - 100 listening TCP sockets on 127.0.0.1 (in the process named zoo-listen;
 *    the 4 000 files are zoo-files');
 *  - 2 000 tmpfs mounts under /mnt;
 *  - a cgroup v2 tree 7 levels deep with 1 093 groups, processes in its leaves.
 *
 * It prints one line, "krash-zoo: {json}", with what it made; the lab keeps it
 * beside the module's facts.  Written for the guest only: static, no libraries.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define MOUNTS 2000
#define LISTENERS 100
#define BIG_FILES 4000
#define CGROUP_ROOT "/sys/fs/cgroup"
#define CGROUP_FANOUT 3
#define CGROUP_DEPTH 6

struct shape {
	int processes;
	int threads;		/* per process, the main one included */
	size_t memory;		/* bytes each process touches */
};

static const struct shape shapes[] = {
	{ 1000, 1, 64 << 10 },
	{ 200, 8, 1 << 20 },
	{ 50, 64, 8 << 20 },
	{ 4, 512, 64 << 20 },
};

static int ready_pipe[2];

static void die(const char *what)
{
	fprintf(stderr, "krash-zoo: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void *sleeper(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

/* Touch each page with a word that is not zero, so the dump keeps it. */
static void touch(size_t bytes)
{
	char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap");
	for (size_t off = 0; off < bytes; off += 4096)
		*(unsigned long *)(p + off) = 0x6b72617368000000UL | off;
}

static void hold_files(int index)
{
	char path[64];
	int fds[2];

	if (open("/dev/null", O_RDONLY) < 0)
		die("open /dev/null");
	if (pipe(fds) < 0)
		die("pipe");
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) < 0)
		die("socketpair");
	snprintf(path, sizeof(path), "/tmp/zoo-%d", index);
	if (open(path, O_CREAT | O_RDWR, 0600) < 0)
		die("open tmpfs file");
}

/* A process of one shape: its threads, its memory, its files; then it sleeps. */
static void be_process(const struct shape *s, int index)
{
	pthread_attr_t attr;
	char one = 1;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 << 10);
	for (int t = 1; t < s->threads; t++) {
		pthread_t id;

		if (pthread_create(&id, &attr, sleeper, NULL) != 0)
			die("pthread_create");
	}
	touch(s->memory);
	hold_files(index);
	if (write(ready_pipe[1], &one, 1) != 1)
		die("write ready");
	sleeper(NULL);
}

static void wait_ready(int n)
{
	char buf[256];

	while (n > 0) {
		ssize_t got = read(ready_pipe[0], buf, n < (int)sizeof(buf) ? (size_t)n : sizeof(buf));

		if (got <= 0)
			die("read ready");
		n -= (int)got;
	}
}

static int spawn(const struct shape *s, int index)
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork");
	if (pid == 0)
		be_process(s, index);
	return pid;
}

/* Groups of a complete tree, breadth first; returns how many. */
static int make_cgroups(char leaves[][256], int *nr_leaves)
{
	static char level[1 << 12][256];
	static char next[1 << 12][256];
	int n = 1, made = 0;

	if (mount("none", CGROUP_ROOT, "cgroup2", 0, NULL) < 0 && errno != EBUSY)
		die("mount cgroup2");
	strcpy(level[0], CGROUP_ROOT "/zoo");
	if (mkdir(level[0], 0755) < 0)
		die("mkdir cgroup");
	made++;
	for (int depth = 1; depth <= CGROUP_DEPTH; depth++) {
		int m = 0;

		for (int i = 0; i < n; i++)
			for (int f = 0; f < CGROUP_FANOUT; f++) {
				snprintf(next[m], sizeof(next[m]), "%.240s/g%d", level[i], f);
				if (mkdir(next[m], 0755) < 0)
					die("mkdir cgroup");
				m++;
				made++;
			}
		memcpy(level, next, sizeof(next[0]) * m);
		n = m;
	}
	for (int i = 0; i < n; i++)
		strcpy(leaves[i], level[i]);
	*nr_leaves = n;
	return made;
}

static void join_cgroup(const char *group, pid_t pid)
{
	char path[300];
	FILE *f;

	snprintf(path, sizeof(path), "%s/cgroup.procs", group);
	f = fopen(path, "w");
	if (!f)
		die("open cgroup.procs");
	fprintf(f, "%d\n", pid);
	if (fclose(f) != 0)
		die("write cgroup.procs");
}

static int make_mounts(void)
{
	char path[64];

	if (mkdir("/mnt", 0755) < 0 && errno != EEXIST)
		die("mkdir /mnt");
	for (int i = 0; i < MOUNTS; i++) {
		snprintf(path, sizeof(path), "/mnt/m%d", i);
		if (mkdir(path, 0755) < 0)
			die("mkdir mount point");
		if (mount("zoo", path, "tmpfs", 0, "size=64k") < 0)
			die("mount tmpfs");
	}
	return MOUNTS;
}

static void be_listener(void)
{
	char one = 1;

	prctl(PR_SET_NAME, "zoo-listen");
	for (int i = 0; i < LISTENERS; i++) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(20000 + i),
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		int s = socket(AF_INET, SOCK_STREAM, 0);

		if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 16) < 0)
			die("listen");
	}
	if (write(ready_pipe[1], &one, 1) != 1)
		die("write ready");
	sleeper(NULL);
}

static void be_file_holder(void)
{
	struct rlimit lim = { BIG_FILES + 64, BIG_FILES + 64 };
	char path[64], one = 1;

	prctl(PR_SET_NAME, "zoo-files");
	if (setrlimit(RLIMIT_NOFILE, &lim) < 0)
		die("setrlimit");
	for (int i = 0; i < BIG_FILES; i++) {
		snprintf(path, sizeof(path), "/tmp/held-%d", i);
		if (open(path, O_CREAT | O_RDWR, 0600) < 0)
			die("open held file");
	}
	if (write(ready_pipe[1], &one, 1) != 1)
		die("write ready");
	sleeper(NULL);
}

int main(void)
{
	static char leaves[1 << 12][256];
	int processes = 0, threads = 0, nr_leaves = 0, cgroups, mounts;
	size_t memory = 0;

	if (pipe(ready_pipe) < 0)
		die("pipe");
	cgroups = make_cgroups(leaves, &nr_leaves);
	mounts = make_mounts();
	for (size_t k = 0; k < sizeof(shapes) / sizeof(shapes[0]); k++) {
		for (int i = 0; i < shapes[k].processes; i++) {
			pid_t pid = spawn(&shapes[k], processes);

			/* Every fourth process lives in a leaf of the tree. */
			if (processes % 4 == 0)
				join_cgroup(leaves[(processes / 4) % nr_leaves], pid);
			processes++;
			threads += shapes[k].threads;
			memory += shapes[k].memory;
		}
	}
	if (fork() == 0)
		be_listener();
	if (fork() == 0)
		be_file_holder();
	wait_ready(processes + 2);
	processes += 2;
	threads += 2;
	/* Stopped processes, and zombies: children of a parent that never reaps. */
	for (int i = 0; i < 50; i++) {
		pid_t pid = fork();

		if (pid == 0)
			sleeper(NULL);
		kill(pid, SIGSTOP);
	}
	if (fork() == 0) {
		for (int i = 0; i < 50; i++)
			if (fork() == 0)
				_exit(0);
		sleeper(NULL);
	}
	sleep(2);
	printf("krash-zoo: {\"processes\":%d,\"threads\":%d,\"stopped\":50,\"zombies\":50,"
	       "\"zombie_parent\":1,\"touched_bytes\":%zu,\"mounts\":%d,\"cgroups\":%d,"
	       "\"cgroup_depth\":%d,\"listeners\":%d,\"held_files\":%d}\n",
	       processes, threads, memory, mounts, cgroups, CGROUP_DEPTH + 1, LISTENERS, BIG_FILES);
	fflush(stdout);
	return 0;
}
