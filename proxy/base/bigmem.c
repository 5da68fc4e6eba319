// SPDX-License-Identifier: GPL-2.0-only
#include "bigmem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define HUGE_PAGE (2u << 20)

static size_t round_huge(size_t n)
{
	return (n + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
}

void *bigmem_alloc(size_t n)
{
	size_t len = round_huge(n);
	uintptr_t a;
	char *p;

	if (n < BIGMEM_FROM)
		return calloc(1, n);
	/* One huge page more than needed, trimmed to a 2 MiB boundary at both ends. */
	p = mmap(NULL, len + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	a = ((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
	if (a > (uintptr_t)p)
		munmap(p, a - (uintptr_t)p);
	munmap((void *)(a + len), (uintptr_t)p + len + HUGE_PAGE - (a + len));
	/* A hint: where THP is off it is 4 KiB pages, as from malloc. */
	madvise((void *)a, len, MADV_HUGEPAGE);
	return (void *)a;
}

void *bigmem_grow(void *p, size_t old, size_t n)
{
	void *q;

	if (n < BIGMEM_FROM)
		return realloc(p, n);
	q = bigmem_alloc(n);
	if (!q)
		return NULL;
	if (p)
		memcpy(q, p, old);
	bigmem_free(p, old);
	return q;
}

void bigmem_free(void *p, size_t n)
{
	if (!p)
		return;
	if (n < BIGMEM_FROM)
		free(p);
	else
		munmap(p, round_huge(n));
}
