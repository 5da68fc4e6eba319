/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The block line, written in one place for every refusal: DNS (engine,
 * answer_check), packets and sockets (packet_events.c), raw sockets refused by
 * a run's seccomp supervisor (job_confine.c). Its shape is a contract:
 *
 *   KIND reason=R blocked=B blockedAt=AT WHAT pid=P cmd=C firewallMethod=M
 *     policy=N[EXTRA][ nspid=Q] ancestry=A KEY=ID exe=E rule=RULE
 *
 * e.g. WARN DNS BLOCKED reason=FromDNSRequest blocked=true blockedAt=dns
 * domain=github.com pid=266767 cmd="curl github.com" firewallMethod=blocklist ...
 * Values a process controls (CMD, ANCESTRY, EXE) come quoted (logfmt_quote);
 * WHAT and EXTRA come as logfmt fields. Built with copies, no printf: it is on
 * the path of every refused query.
 */
#ifndef DEPFENCE_BLOCK_LINE_H
#define DEPFENCE_BLOCK_LINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct block_line {
	const char *kind;	/* "DNS BLOCKED", "DNS QUERY", "PACKET BLOCKED" */
	const char *reason;	/* "FromDNSRequest", "FromCNAME", "RawSocket", ... */
	bool blocked;		/* false: audit mode, it would have been */
	const char *blocked_at; /* "dns", "none", "packet", "socket" */
	const char *what;	/* "domain=D", "domain=D cname=C", "ip=A port=P", "path=...", ... */
	size_t what_len;
	uint32_t pid, nspid;		  /* nspid written only when set and not PID */
	const char *cmd, *ancestry, *exe; /* quoted */
	const char *mode, *policy;
	const char *extra;	 /* fields after policy=: " qtype=A", " proto=tcp" (or NULL) */
	const char *id_key, *id; /* "run"/"container", the id as a logfmt value */
	const char *rule;	 /* as a logfmt value */
};

/* The line (no level, no newline) into BUF: its length, or 0 when it does not fit CAP. */
size_t block_line_format(const struct block_line *b, char *buf, size_t cap);

#endif
