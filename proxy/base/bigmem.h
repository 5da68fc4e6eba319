/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Big tables (a million-rule policy's name table and arena) on transparent
 * huge pages: 2 MiB aligned anonymous maps with MADV_HUGEPAGE, so filling
 * them costs a page fault per 2 MiB instead of per 4 KiB, and a hash probe
 * misses the TLB less. Below BIGMEM_FROM it is plain malloc. Zeroed.
 */
#ifndef DEPFENCE_BIGMEM_H
#define DEPFENCE_BIGMEM_H

#include <stddef.h>

#define BIGMEM_FROM (4u << 20)

/* N bytes, zeroed; NULL when out of memory. */
void *bigmem_alloc(size_t n);
/* P (OLD bytes from bigmem_*) grown to N; on NULL, P is unchanged. */
void *bigmem_grow(void *p, size_t old, size_t n);
/* P of N bytes, as it was allocated (or grown); NULL is fine. */
void bigmem_free(void *p, size_t n);

#endif
