/*
 * Where the per-CPU arena's memory lands (core/backends/percpu.c): CPU c's block of
 * slots must be allocated by CPU c's own first write, so that on a NUMA
 * machine it sits on c's node, as the kernel's per-CPU chunks do. That needs
 * init, read, the fold after kill and reinit never to write a slot that is
 * already zero (a write allocates the page wherever the writer runs), and no
 * transparent huge page spanning several CPUs' blocks.
 *
 * Page state comes from /proc/self/pagemap: bit 63 = present, bit 56 =
 * mapped exclusively by this process. A page nobody wrote is absent, or
 * maps the shared zero page (present, not exclusive); a written page is
 * exclusive. The node of a page comes from move_pages(2) with no target
 * nodes, the node of a CPU from /sys/devices/system/cpu/cpuN/nodeM. On a
 * one-node machine the node check is trivially true and says so; the
 * allocation checks are not. The arena asks for no transparent huge pages;
 * this VM never gives a huge page on a fault (AnonHugePages stays 0 with THP
 * "always"), so that advice is not what these checks prove here; on a
 * machine that does, check 2 fails without it.
 *
 * For each per-CPU backend (`percpu`: the rseq section where usable;
 * `percpu_atomic`: the atomic add):
 *   1. after init, no CPU's page for the object is allocated;
 *   2. a thread pinned to CPU c gets and puts: c's page is now allocated,
 *      on c's node, and the pages of CPUs that have not run yet are not;
 *   3. read() allocates nothing;
 *   4. an object whose slots share no page with the first one, used on one
 *      CPU only, killed, folded and reinit: the other CPUs' pages are still
 *      not allocated.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"
#include "core/backends/percpu.h"

/* CHECK_EQ with a formatted description. */
#define EXPECT_EQ(a, b, ...)							\
	do {									\
		char what_[160];						\
		snprintf(what_, sizeof(what_), __VA_ARGS__);			\
		CHECK_EQ((a), (b), what_);					\
	} while (0)

#define PM_PRESENT (1ULL << 63)
#define PM_EXCLUSIVE (1ULL << 56)

static int pagemap_fd = -1;
static long page_size;
static int allowed[CPU_SETSIZE], nallowed;

static uint64_t pagemap_entry(const void *addr)
{
	uint64_t e = 0;
	off_t at = (off_t)((uintptr_t)addr / (uintptr_t)page_size * sizeof(e));

	if (pread(pagemap_fd, &e, sizeof(e), at) != (ssize_t)sizeof(e))
		return 0;
	return e;
}

/* Written by this process (not absent, not the shared zero page). */
static bool allocated(const void *addr)
{
	uint64_t e = pagemap_entry(addr);

	return (e & PM_PRESENT) && (e & PM_EXCLUSIVE);
}

/* The page's node; -errno when the kernel will not say (see node_unknown). */
static int node_of_page(void *addr)
{
	void *page = (void *)((uintptr_t)addr & ~(uintptr_t)(page_size - 1));
	int status = -1;

	if (syscall(SYS_move_pages, 0, 1UL, &page, NULL, &status, 0) != 0)
		return -errno;
	return status;
}

/*
 * A kernel without NUMA (ENOSYS) or a sandbox that forbids move_pages
 * (EPERM: Docker's default seccomp profile without CAP_SYS_NICE) cannot say
 * where a page is: said once, and the allocation checks still run.
 */
static bool node_unknown(int page_node)
{
	static bool said;

	if (page_node != -ENOSYS && page_node != -EPERM)
		return false;
	if (!said)
		printf("NOTE: move_pages: %s here: the page-node checks are not made; "
		       "the allocation checks are\n", strerror(-page_node));
	said = true;
	return true;
}

/* The node directory under the CPU's sysfs entry; 0 where there is none. */
static int node_of_cpu(int cpu)
{
	char path[64];
	struct dirent *d;
	DIR *dir;
	int node = 0;

	snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d", cpu);
	dir = opendir(path);
	if (!dir)
		return 0;
	while ((d = readdir(dir)))
		if (sscanf(d->d_name, "node%d", &node) == 1)
			break;
	closedir(dir);
	return node;
}

static int allocated_pages(const struct kref_percpu *r)
{
	int n = 0;

	for (int c = 0; c < r->ncpus; c++)
		n += allocated(kb_percpu_slot_of(r, c));
	return n;
}

struct pinned_use {
	struct kref_percpu *ref;
	int cpu;
	bool rseq;		/* which backend's ops */
	bool pinned;
	int released;		/* puts that returned 1: must stay 0 */
};

static void never_released(struct kref_percpu *r)
{
	(void)r;
	CHECK(0, "release must not run: the test holds the initial reference");
}

static void *use_on_cpu(void *arg)
{
	struct pinned_use *u = arg;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(u->cpu, &set);
	u->pinned = sched_setaffinity(0, sizeof(set), &set) == 0 && sched_getcpu() == u->cpu;
	for (int i = 0; i < 1000 && u->pinned; i++) {
		if (u->rseq) {
			kref_percpu_get(u->ref);
			u->released += kref_percpu_put(u->ref, never_released);
		} else {
			kref_percpu_atomic_get(u->ref);
			u->released += kref_percpu_atomic_put(u->ref, never_released);
		}
	}
	return NULL;
}

static void run_pinned(struct kref_percpu *r, int cpu, bool rseq)
{
	struct pinned_use u = { .ref = r, .cpu = cpu, .rseq = rseq };
	pthread_t t;

	CHECK_EQ(pthread_create(&t, NULL, use_on_cpu, &u), 0, "pthread_create");
	pthread_join(t, NULL);
	CHECK(u.pinned, "a thread pinned itself to CPU %d", cpu);
	CHECK_EQ(u.released, 0, "no put released while the initial reference is held");
}

static void released(struct kref_percpu *r)
{
	(void)r;
}

static void check_backend(const char *name, bool rseq)
{
	struct kref_percpu a, *refs, *b = NULL;
	long per_page;
	int nrefs;

	/* A fresh arena of the default size (1 MiB per CPU): every page untouched. */
	struct kb_percpu_arena *arena = kb_percpu_arena_create(1u << 17, (unsigned int)kb_possible_cpus());

	printf("-- %s\n", name);
	CHECK(arena != NULL, "arena");
	if (!arena)
		return;
	CHECK_EQ(kref_percpu_init_in(&a, arena), 0, "init");
	/* 1. */
	EXPECT_EQ(allocated_pages(&a), 0, "%s: after init no CPU's page is allocated", name);

	/* 2. CPUs in order; the ones not visited yet stay unallocated. */
	for (int i = 0; i < nallowed; i++) {
		int cpu = allowed[i], page_node, cpu_node = node_of_cpu(cpu);

		run_pinned(&a, cpu, rseq);
		CHECK(allocated(kb_percpu_slot_of(&a, cpu)),
		      "%s: CPU %d's page is allocated after its first use", name, cpu);
		page_node = node_of_page(kb_percpu_slot_of(&a, cpu));
		if (!node_unknown(page_node))
			EXPECT_EQ(page_node, cpu_node, "%s: CPU %d's page is on its node", name, cpu);
		EXPECT_EQ(allocated_pages(&a), i + 1,
			 "%s: only the CPUs that ran so far have allocated pages", name);
	}

	/* 3. */
	EXPECT_EQ(kref_percpu_read(&a), 1, "%s: read() sums to the initial reference", name);
	EXPECT_EQ(allocated_pages(&a), nallowed, "%s: read() allocates nothing", name);

	/* 4. An object on pages of its own: take slots until past a's page. */
	per_page = page_size / (long)sizeof(atomic_long);
	refs = calloc((size_t)per_page + 1, sizeof(*refs));
	CHECK(refs != NULL, "calloc");
	for (nrefs = 0; refs && nrefs <= per_page && !b; nrefs++) {
		long apart;

		CHECK_EQ(kref_percpu_init_in(&refs[nrefs], arena), 0, "init");
		apart = kb_percpu_slot_of(&refs[nrefs], 0) - kb_percpu_slot_of(&a, 0);
		if (apart >= per_page || -apart >= per_page)
			b = &refs[nrefs];
	}
	CHECK(b != NULL, "%s: an object whose slots share no page with the first one", name);
	if (b) {
		EXPECT_EQ(allocated_pages(b), 0, "%s: a fresh object on its own pages: nothing allocated",
			 name);
		run_pinned(b, allowed[0], rseq);
		CHECK_EQ(kref_percpu_kill(b, released), 0, "kill defers the release");
		kref_percpu_barrier();
		CHECK(kref_percpu_is_atomic(b), "%s: folded after kill", name);
		EXPECT_EQ(kref_percpu_reinit(b), 0, "%s: reinit", name);
		EXPECT_EQ(allocated_pages(b), 1, "%s: kill, fold and reinit allocate no other CPU's page",
			 name);
	}
	for (int i = 0; i < nrefs; i++)
		kref_percpu_destroy(&refs[i]);
	free(refs);
	kref_percpu_destroy(&a);
	kb_percpu_arena_destroy(arena);
}

static bool pagemap_works(void)
{
	static char probe[1 << 16] __attribute__((aligned(4096)));
	char *page = probe + 8192;

	if (allocated(page))
		return false;
	page[0] = 1;
	return allocated(page);
}

int main(void)
{
	cpu_set_t set;

	page_size = sysconf(_SC_PAGESIZE);
	pagemap_fd = open("/proc/self/pagemap", O_RDONLY);
	CHECK(pagemap_fd >= 0, "/proc/self/pagemap opens");
	CHECK(pagemap_works(), "pagemap tells a written page from an unwritten one");
	if (pagemap_fd < 0 || check_failed)
		return check_summary();

	CHECK_EQ(sched_getaffinity(0, sizeof(set), &set), 0, "sched_getaffinity");
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set))
			allowed[nallowed++] = c;
	printf("%d CPUs allowed, %d possible; CPU %d is on node %d, CPU %d on node %d%s\n", nallowed,
	       kb_possible_cpus(), allowed[0], node_of_cpu(allowed[0]), allowed[nallowed - 1],
	       node_of_cpu(allowed[nallowed - 1]),
	       node_of_cpu(allowed[0]) == node_of_cpu(allowed[nallowed - 1])
		       ? " (one node here: the node checks cannot tell nodes apart)" : "");

	check_backend("percpu", true);
	check_backend("percpu_atomic", false);
	close(pagemap_fd);
	return check_summary();
}
