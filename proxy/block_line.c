// SPDX-License-Identifier: GPL-2.0-only
#include "block_line.h"

#include <string.h>

struct out {
	char *p, *end;
	bool over;
};

static void put(struct out *o, const char *s, size_t len)
{
	if (o->over || (size_t)(o->end - o->p) < len) {
		o->over = true;
		return;
	}
	memcpy(o->p, s, len);
	o->p += len;
}

static void puts_(struct out *o, const char *s)
{
	put(o, s ?: "?", strlen(s ?: "?"));
}

#define PUTL(o, lit) put(o, lit, sizeof(lit) - 1)

static void put_u32(struct out *o, uint32_t v)
{
	char tmp[10];
	size_t n = 0;

	do
		tmp[sizeof(tmp) - ++n] = (char)('0' + v % 10);
	while ((v /= 10));
	put(o, tmp + sizeof(tmp) - n, n);
}

size_t block_line_format(const struct block_line *b, char *buf, size_t cap)
{
	struct out o = {.p = buf, .end = buf + cap};

	puts_(&o, b->kind);
	PUTL(&o, " reason=");
	puts_(&o, b->reason);
	if (b->blocked)
		PUTL(&o, " blocked=true blockedAt=");
	else
		PUTL(&o, " blocked=false blockedAt=");
	puts_(&o, b->blocked_at);
	PUTL(&o, " ");
	put(&o, b->what, b->what_len);
	PUTL(&o, " pid=");
	put_u32(&o, b->pid);
	PUTL(&o, " cmd=");
	puts_(&o, b->cmd);
	PUTL(&o, " firewallMethod=");
	puts_(&o, b->mode);
	PUTL(&o, " policy=");
	puts_(&o, b->policy);
	if (b->extra)
		puts_(&o, b->extra);
	/* Where the job's own pid namespace numbers it differently (a container). */
	if (b->nspid && b->nspid != b->pid) {
		PUTL(&o, " nspid=");
		put_u32(&o, b->nspid);
	}
	PUTL(&o, " ancestry=");
	puts_(&o, b->ancestry);
	PUTL(&o, " ");
	puts_(&o, b->id_key);
	PUTL(&o, "=");
	puts_(&o, b->id);
	PUTL(&o, " exe=");
	puts_(&o, b->exe);
	PUTL(&o, " rule=");
	puts_(&o, b->rule);
	if (o.over || o.p == o.end)
		return 0;
	*o.p = '\0';
	return (size_t)(o.p - buf);
}
