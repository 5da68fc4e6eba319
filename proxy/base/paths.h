/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Every path depfence builds, in one place: the instance name of a state
 * directory, its control socket and saved registrations, its bpffs pins and
 * its cgroups. depfenced, depfence run (embedded) and depfence-hook all name
 * things through here, so they always agree.
 *
 *   STATE/depfenced.sock                      control socket
 *   STATE/guards/K-CGID-ID.json               a saved registration (K: c container, r run)
 *   /sys/fs/bpf/INST/maps/NAME                the daemon's maps
 *   /sys/fs/bpf/INST/links/runs/PROG          links on the runs parent
 *   /sys/fs/bpf/INST/links/c-CGID/PROG        links of one registered container
 *   /sys/fs/bpf/INST/embedded/run-PID/PROG    links of one embedded run
 *   CGROUP2/INST/runs/run-N-PID               a daemon run's cgroup
 *   CGROUP2/INST/embedded/run-PID             an embedded run's cgroup
 */
#ifndef DEPFENCE_PATHS_H
#define DEPFENCE_PATHS_H

#include <limits.h>
#include <stdint.h>
#include <stddef.h>

#define DEFAULT_CONFIG_DIR "/etc/depfence"
#define DEFAULT_STATE_DIR  "/run/depfence"
#define BPFFS_ROOT	   "/sys/fs/bpf"
#define CTL_SOCKET_NAME	   "depfenced.sock"

struct df_paths {
	char instance[64];
	char state_dir[PATH_MAX];
	char sock[PATH_MAX];
	char records[PATH_MAX];	  /* STATE/guards */
	char pins[PATH_MAX];	  /* /sys/fs/bpf/INST */
	char runs_pins[PATH_MAX]; /* .../links/runs */
	char embedded_pins[PATH_MAX];
	char cgroup_root[PATH_MAX]; /* the v2 mount; "" if not asked for */
	char runs_parent[PATH_MAX];
	char embedded_cgroups[PATH_MAX];
};

/*
 * Fill P for STATE_DIR. CGROUP_ROOT (the v2 mount) may be NULL when the caller
 * needs no cgroup path. Returns -ENAMETOOLONG if a path does not fit.
 */
int df_paths_init(struct df_paths *p, const char *state_dir, const char *cgroup_root);

/*
 * Per state directory names, so two daemons (or a test's daemon and the host's)
 * never share pins or cgroups: "depfence" for the default state dir, else
 * "depfence-<hash of the path>".
 */
void instance_name(const char *state_dir, char *buf, size_t cap);
/*
 * A file name for ID that bpffs and the state dir accept (no '.', no '/'):
 * [A-Za-z0-9_-] kept, anything else replaced, and a hash of the whole id appended
 * whenever something was replaced or cut, so distinct ids never share a name.
 */
void id_file_name(const char *id, char *buf, size_t cap);

/* STATE/guards/K-CGID-ID.json for a registration of kind letter K ('c' or 'r'). */
void df_paths_record(const struct df_paths *p, char kind, uint64_t cgid, const char *id, char *buf,
		     size_t cap);
/* Does a saved container registration named ID exist (any cgroup, or an
 * earlier build's STATE/guards/ID.json)? For the hook's poststop. */
int df_paths_has_container_record(const struct df_paths *p, const char *id);
/* /sys/fs/bpf/INST/links/c-CGID: the pins of a registered container. */
void df_paths_container_pins(const struct df_paths *p, uint64_t cgid, char *buf, size_t cap);
/* The pins and cgroup of the embedded run of process PID. */
void df_paths_embedded_run(const struct df_paths *p, int pid, char *pins, size_t pins_cap,
			   char *cgroup, size_t cgroup_cap);

#endif
