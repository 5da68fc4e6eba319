/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * User side of the dnsguard object: load it (optionally with its maps pinned
 * in bpffs so they outlive this process), attach its programs to a cgroup
 * (optionally pinning the links), and read and write its maps.
 */
#ifndef DEPFENCE_DNSGUARD_API_H
#define DEPFENCE_DNSGUARD_API_H

#include <stdbool.h>
#include <linux/types.h>

#include "dnsguard.h"
#include "util.h"

struct dnsguard;
struct bpf_map;

/*
 * Load the object. PIN_DIR NULL: private maps, gone with the process (the
 * embedded proxy of `depfence run`). Otherwise maps live in PIN_DIR/maps/: an
 * existing pin is reused, so a restarted daemon sees the same state, and the
 * maps not pinned yet are pinned by dnsguard__pin_maps(), never by the load.
 */
int dnsguard__load(const char *pin_dir, struct dnsguard **ret, struct df_err *err);
/*
 * Pin the maps the load created in PIN_DIR/maps/ (made if missing). A no-op
 * without PIN_DIR, and while upgrading: dnsguard__take_over pins those maps.
 */
int dnsguard__pin_maps(struct dnsguard *g, struct df_err *err);
void dnsguard__destroy(struct dnsguard *g);
/*
 * True if PIN_DIR held pins of another build of the object (an upgrade). Our
 * maps are then private; dnsguard__attach_pinned switches each pinned link to
 * our programs in place and dnsguard__take_over pins our maps at the end.
 */
bool dnsguard__upgrading(const struct dnsguard *g);
/*
 * Remove the daemon's pins below PIN_DIR (maps/, links/: attached links
 * detach), never embedded runs' (embedded/), and PIN_DIR if then empty.
 */
void dnsguard__remove_pins(const char *pin_dir);

/*
 * Make sure the programs are attached to the cgroup open at CGFD with links pinned at
 * PIN_PREFIX/<program>, attached until guard_unpin(PIN_PREFIX). A pin that
 * already links that very cgroup (a restart, an upgrade) is switched to our
 * program in place with bpf_link_update, never detached; a pin of an older
 * cgroup that had the same path is replaced; a missing one is attached.
 */
int dnsguard__attach_pinned(struct dnsguard *g, int cgfd, const char *pin_prefix,
			    struct df_err *err);
/*
 * After an upgrade (dnsguard__upgrading), once every guard is restored: the
 * links nobody claimed run our programs too, and our maps replace the old
 * build's pins. A no-op otherwise.
 */
int dnsguard__take_over(struct dnsguard *g, struct df_err *err);
/* Remove the pins in directory PIN_PREFIX (and it), detaching those links. Missing is fine. */
int guard_unpin(const char *pin_prefix);

int dnsguard__set_guard(struct dnsguard *g, __u64 cgid, const struct df_guard *val);
int dnsguard__del_guard(struct dnsguard *g, __u64 cgid);
int dnsguard__lookup_client(struct dnsguard *g, __u64 netns_cookie, __u8 proto, __u16 port,
			    struct df_client *ret);
/* Policy CIDR rules (block-ip / allow-ip) for POLICY_ID. ADDR is 4 or 16 bytes by FAMILY. */
int dnsguard__set_cidr(struct dnsguard *g, __u32 policy_id, int family, const void *addr,
		       int prefix_len, enum df_ip_verdict verdict);
int dnsguard__del_cidr(struct dnsguard *g, __u32 policy_id, int family, const void *addr,
		       int prefix_len);
/* An address handed to cgroup CGID (MAP "handed") or learned for a policy ("learned"). */
int dnsguard__set_addr(struct dnsguard *g, bool learned, __u64 id, int family, const void *addr,
		       __u64 expires_ns);
/*
 * Reserve a range of policy ids (DF_POLICY_ID_RANGE) that no earlier daemon of
 * these pinned maps used: RET_BASE for policy__set_id_base().
 */
int dnsguard__reserve_policy_ids(struct dnsguard *g, __u32 *ret_base);
/* Delete the cidrs and learned entries of every policy id not in KEEP. Returns how many. */
int dnsguard__purge_policies(struct dnsguard *g, const __u32 *keep, int n_keep);
/* Copy policy FROM_ID's learned addresses to TO_ID (a reload keeps them). Returns how many. */
int dnsguard__copy_learned(struct dnsguard *g, __u32 from_id, __u32 to_id);
/* Delete every entry of the handed or learned map whose id is ID. Returns how many. */
int dnsguard__purge_addrs(struct dnsguard *g, bool learned, __u64 id);
/* Delete the clients and cg_guard entries that point at guard cgroup CGID, and its ev_limit. */
void dnsguard__purge_guard(struct dnsguard *g, __u64 cgid);
/*
 * Guard CGID's event budget (ev_limit): how many refusals of each reason were
 * counted without an event, ever. -ENOENT: none yet (its first event makes it).
 */
int dnsguard__ev_limit(struct dnsguard *g, __u64 cgid, struct df_ev_limit *ret);
/* The proxy listener (NETNS_COOKIE, PROTO, PORT) belongs to guard CGID. */
int dnsguard__set_listener(struct dnsguard *g, __u64 netns_cookie, __u8 proto, __u16 port,
			   __u64 cgid);
/* Mark listener socket FD as the proxy's, for guard CGID (dies with the socket). */
int dnsguard__mark_proxy_socket(struct dnsguard *g, int fd, __u64 cgid);
void dnsguard__del_listener(struct dnsguard *g, __u64 netns_cookie, __u8 proto, __u16 port);
/*
 * A closed guard entry: no listener (DNS fails with EPERM) and allowlist mode
 * with nothing allowed (every connect fails). For a cgroup that is attached
 * but cannot be served.
 */
int dnsguard__set_closed(struct dnsguard *g, __u64 cgid);
/* Close every guard entry whose cgroup is not in KEEP (a restart's leftovers). */
int dnsguard__close_others(struct dnsguard *g, const __u64 *keep, int n_keep);
/* Forget remembered sub-cgroup -> guard walks (a new registration may be nearer). */
void dnsguard__flush_cg_cache(struct dnsguard *g);
/* The events ring buffer, FN called per struct df_event. */
struct ring_buffer *dnsguard__events(struct dnsguard *g,
				     int (*fn)(void *ctx, void *data, size_t size), void *ctx);

/*
 * The loaded object's map NAME ("guards", "cidrs", "learned", ...), or NULL:
 * for tests that read what the proxy wrote (tests/unit/test_reload.c). The
 * proxy itself goes through the functions above.
 */
struct bpf_map *dnsguard__map(struct dnsguard *g, const char *name);

/*
 * The programs G loaded, by their pin names ("connect4", ..., "connect_unix"),
 * comma-separated in BUF: how many. depfence doctor reports what this kernel
 * took, not what it was expected to take.
 */
int dnsguard__loaded_programs(const struct dnsguard *g, char *buf, size_t cap);

/* Sum of the per-CPU counter WHICH (0 if it cannot be read). */
__u64 dnsguard__counter(struct dnsguard *g, enum df_counter which);
/* Every counter, by enum df_counter: what `depfence status` and the metrics show. */
void dnsguard__counters(struct dnsguard *g, __u64 ret[DF_CNT__MAX]);
/* Counter WHICH's snake_case name ("redirect_udp4") and help text; NULL past the end. */
const char *dnsguard__counter_name(enum df_counter which);
const char *dnsguard__counter_help(enum df_counter which);

/*
 * The fd of the loaded program pinned as PIN_NAME ("egress", "connect4": its
 * name without "df_"), or -ENOENT (none, or not loaded on this kernel): for
 * tests that run it on crafted input (BPF_PROG_TEST_RUN).
 */
int dnsguard__prog_fd(const struct dnsguard *g, const char *pin_name);

/*
 * True if the cgroup at CGROUP_PATH is already guarded: our connect4 program
 * is among its effective ones (attached to it or to an ancestor).
 */
bool dnsguard__cgroup_guarded(const char *cgroup_path);
/*
 * Read from the kernel, not from our tables: 1 if df_connect4, df_sendmsg4 and
 * df_recvmsg4 are all effective on the cgroup at CGROUP_PATH (attached to it or
 * an ancestor), 0 if one is missing, -errno if the kernel cannot say.
 */
int dnsguard__cgroup_enforcing(const char *cgroup_path);

/* Mount bpffs at PATH if nothing of type bpf is mounted there. */
int bpffs_ensure(const char *path, struct df_err *err);

#endif
