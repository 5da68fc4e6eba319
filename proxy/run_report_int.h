/* SPDX-License-Identifier: GPL-2.0-only */
/* The run report's tables, shared by run_report.c (filling) and run_report_json.c (writing). */
#ifndef DEPFENCE_RUN_REPORT_INT_H
#define DEPFENCE_RUN_REPORT_INT_H

#include "run_report.h"

struct rr_name {
	uint64_t count, first_ms;
	uint8_t verdict; /* enum rr_verdict */
	uint8_t n_askers, n_addrs;
	bool askers_cut, addrs_cut;
	char rule[RR_RULE_MAX];
	uint32_t askers[RR_ASKERS];
	struct {
		uint8_t family; /* 4 or 6 */
		uint8_t a[16];
	} addrs[RR_ADDRS];
	size_t len;
	char name[]; /* NUL-terminated */
};

struct rr_proc {
	uint32_t pid, ppid;
	uint64_t start_ms;
	bool asked;
	char *cmd, *exe, *ancestry;
};

struct rr_refusal_ent {
	uint64_t count, first_ms;
	uint32_t pid;
	bool blocked;
	char reason[32], rule[RR_RULE_MAX], what[96];
};

/* Slot numbers + 1 (0: empty), CAP a power of two. */
struct rr_index {
	uint32_t *slot;
	uint32_t cap;
};

struct run_report {
	char kind[16], id[128], policy[128], mode[16];
	uint64_t start_ms, end_ms;
	int exit_status; /* < 0: unknown */
	bool truncated;
	struct rr_name **names;
	uint32_t n_names, names_cap;
	struct rr_index name_ix;
	struct rr_proc *procs;
	uint32_t n_procs, procs_cap;
	struct rr_index proc_ix;
	struct rr_refusal_ent *refusals;
	uint32_t n_refusals;
};

#endif
