/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The answer stage's name check, its pure half: which name of an answer's
 * CNAME/DNAME chain a policy refuses. The engine's half (the line, learning,
 * the refusal) is answer_check() in engine_int.h.
 */
#ifndef DEPFENCE_ANSWER_CHECK_H
#define DEPFENCE_ANSWER_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "dns_wire.h"
#include "policy.h"

/*
 * Match the owner and the target of every CNAME and DNAME record in the answer
 * section of PKT (parsed as M) against P with policy__match(), the query path's
 * matcher, in the order they come. The question's own name is skipped: the
 * query path decided it (and in audit mode already logged it).
 * Returns the verdict of the first name that is not VERDICT_ALLOW (BLOCK, or
 * AUDIT in audit mode), that name copied to RET_NAME (DNS_NAME_BUF bytes) and
 * its length to RET_LEN; VERDICT_ALLOW when every name is allowed; or -ELOOP /
 * -EBADMSG when the chain does not read (see dns_for_each_alias()).
 */
int answer_chain_verdict(const struct policy *p, const uint8_t *pkt, size_t len,
			 const struct dns_msg *m, char *ret_name, size_t *ret_len);

#endif
