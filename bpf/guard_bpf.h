/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * User side of the dnsguard object: load it (optionally with its maps pinned
 * in bpffs so they outlive this process), attach its programs to a cgroup
 * (optionally pinning the links), and read and write its maps.
 */
#ifndef DEPFENCE_GUARD_BPF_H
#define DEPFENCE_GUARD_BPF_H

#include <stdbool.h>
#include <linux/types.h>

#include "dnsguard.h"
#include "util.h"

struct guard_bpf;
struct bpf_map;

/*
 * Load the object. PIN_DIR NULL: private maps, gone with the process (the
 * embedded proxy of `depfence run`). Otherwise maps live in PIN_DIR/maps/ and
 * an existing pin is reused, so a restarted daemon sees the same state.
 */
int guard_bpf__load(const char *pin_dir, struct guard_bpf **ret, struct df_err *err);
void guard_bpf__destroy(struct guard_bpf *g);
/*
 * True if PIN_DIR held pins of another build of the object (an upgrade). Our
 * maps are then private; guard_bpf__attach_pinned switches each pinned link to
 * our programs in place and guard_bpf__take_over pins our maps at the end.
 */
bool guard_bpf__upgrading(const struct guard_bpf *g);
/*
 * Remove the daemon's pins below PIN_DIR (maps/, links/: attached links
 * detach), never embedded runs' (embedded/), and PIN_DIR if then empty.
 */
void guard_bpf__remove_pins(const char *pin_dir);

/*
 * Make sure the programs are attached to the cgroup open at CGFD with links pinned at
 * PIN_PREFIX/<program>, attached until guard_unpin(PIN_PREFIX). A pin that
 * already links that very cgroup (a restart, an upgrade) is switched to our
 * program in place with bpf_link_update, never detached; a pin of an older
 * cgroup that had the same path is replaced; a missing one is attached.
 */
int guard_bpf__attach_pinned(struct guard_bpf *g, int cgfd, const char *pin_prefix,
			     struct df_err *err);
/*
 * After an upgrade (guard_bpf__upgrading), once every guard is restored: the
 * links nobody claimed run our programs too, and our maps replace the old
 * build's pins. A no-op otherwise.
 */
int guard_bpf__take_over(struct guard_bpf *g, struct df_err *err);
/* Remove the pins in directory PIN_PREFIX (and it), detaching those links. Missing is fine. */
int guard_unpin(const char *pin_prefix);

int guard_bpf__set_guard(struct guard_bpf *g, __u64 cgid, const struct df_guard *val);
int guard_bpf__del_guard(struct guard_bpf *g, __u64 cgid);
int guard_bpf__lookup_client(struct guard_bpf *g, __u64 netns_cookie, __u8 proto, __u16 port,
			     struct df_client *ret);
/* Policy CIDR rules (block-ip / allow-ip) for POLICY_ID. ADDR is 4 or 16 bytes by FAMILY. */
int guard_bpf__set_cidr(struct guard_bpf *g, __u32 policy_id, int family, const void *addr,
			int prefix_len, enum df_ip_verdict verdict);
int guard_bpf__del_cidr(struct guard_bpf *g, __u32 policy_id, int family, const void *addr,
			int prefix_len);
/* An address handed to cgroup CGID (MAP "handed") or learned for a policy ("learned"). */
int guard_bpf__set_addr(struct guard_bpf *g, bool learned, __u64 id, int family, const void *addr,
			__u64 expires_ns);
/*
 * Reserve a range of policy ids (DF_POLICY_ID_RANGE) that no earlier daemon of
 * these pinned maps used: RET_BASE for policy__set_id_base().
 */
int guard_bpf__reserve_policy_ids(struct guard_bpf *g, __u32 *ret_base);
/* Delete the cidrs and learned entries of every policy id not in KEEP. Returns how many. */
int guard_bpf__purge_policies(struct guard_bpf *g, const __u32 *keep, int n_keep);
/* Copy policy FROM_ID's learned addresses to TO_ID (a reload keeps them). Returns how many. */
int guard_bpf__copy_learned(struct guard_bpf *g, __u32 from_id, __u32 to_id);
/* Delete every entry of the handed or learned map whose id is ID. Returns how many. */
int guard_bpf__purge_addrs(struct guard_bpf *g, bool learned, __u64 id);
/* Delete the clients and cg_guard entries that point at guard cgroup CGID, and its ev_limit. */
void guard_bpf__purge_guard(struct guard_bpf *g, __u64 cgid);
/*
 * Guard CGID's event budget (ev_limit): how many refusals of each reason were
 * counted without an event, ever. -ENOENT: none yet (its first event makes it).
 */
int guard_bpf__ev_limit(struct guard_bpf *g, __u64 cgid, struct df_ev_limit *ret);
/* The proxy listener (NETNS_COOKIE, PROTO, PORT) belongs to guard CGID. */
int guard_bpf__set_listener(struct guard_bpf *g, __u64 netns_cookie, __u8 proto, __u16 port,
			    __u64 cgid);
/* Mark listener socket FD as the proxy's, for guard CGID (dies with the socket). */
int guard_bpf__mark_proxy_socket(struct guard_bpf *g, int fd, __u64 cgid);
void guard_bpf__del_listener(struct guard_bpf *g, __u64 netns_cookie, __u8 proto, __u16 port);
/*
 * A closed guard entry: no listener (DNS fails with EPERM) and allowlist mode
 * with nothing allowed (every connect fails). For a cgroup that is attached
 * but cannot be served.
 */
int guard_bpf__set_closed(struct guard_bpf *g, __u64 cgid);
/* Close every guard entry whose cgroup is not in KEEP (a restart's leftovers). */
int guard_bpf__close_others(struct guard_bpf *g, const __u64 *keep, int n_keep);
/* Forget remembered sub-cgroup -> guard walks (a new registration may be nearer). */
void guard_bpf__flush_cg_cache(struct guard_bpf *g);
/* The events ring buffer, FN called per struct df_event. */
struct ring_buffer *guard_bpf__events(struct guard_bpf *g,
				      int (*fn)(void *ctx, void *data, size_t size), void *ctx);

/*
 * The loaded object's map NAME ("guards", "cidrs", "learned", ...), or NULL:
 * for tests that read what the proxy wrote (tests/unit/test_reload.c). The
 * proxy itself goes through the functions above.
 */
struct bpf_map *guard_bpf__map(struct guard_bpf *g, const char *name);

/*
 * The programs G loaded, by their pin names ("connect4", ..., "connect_unix"),
 * comma-separated in BUF: how many. depfence doctor reports what this kernel
 * took, not what it was expected to take.
 */
int guard_bpf__loaded_programs(const struct guard_bpf *g, char *buf, size_t cap);

/* Sum of the per-CPU counter WHICH (0 if it cannot be read). */
__u64 guard_bpf__counter(struct guard_bpf *g, enum df_counter which);
/* Every counter, by enum df_counter: what `depfence status` and the metrics show. */
void guard_bpf__counters(struct guard_bpf *g, __u64 ret[DF_CNT__MAX]);
/* Counter WHICH's snake_case name ("redirect_udp4") and help text; NULL past the end. */
const char *guard_bpf__counter_name(enum df_counter which);
const char *guard_bpf__counter_help(enum df_counter which);

/*
 * The fd of the loaded program pinned as PIN_NAME ("egress", "connect4": its
 * name without "df_"), or -ENOENT (none, or not loaded on this kernel): for
 * tests that run it on crafted input (BPF_PROG_TEST_RUN).
 */
int guard_bpf__prog_fd(const struct guard_bpf *g, const char *pin_name);

/*
 * True if the cgroup at CGROUP_PATH is already guarded: our connect4 program
 * is among its effective ones (attached to it or to an ancestor).
 */
bool guard_bpf__cgroup_guarded(const char *cgroup_path);
/*
 * Read from the kernel, not from our tables: 1 if df_connect4, df_sendmsg4 and
 * df_recvmsg4 are all effective on the cgroup at CGROUP_PATH (attached to it or
 * an ancestor), 0 if one is missing, -errno if the kernel cannot say.
 */
int guard_bpf__cgroup_enforcing(const char *cgroup_path);

/* Mount bpffs at PATH if nothing of type bpf is mounted there. */
int bpffs_ensure(const char *path, struct df_err *err);

#endif
