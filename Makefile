# SPDX-License-Identifier: GPL-2.0-only
#
# depfence build. Everything generated lands in $(BUILD); nothing is fetched.
#   make            build/depfenced, build/depfence, build/depfence-hook
#   make SAN=1      the same with ASan+UBSan, in build/san
#   make TSAN=1     the same with ThreadSanitizer, in build/tsan (tests/tsan.sh)
#   make check      deps, the builds, unit tests (ASan/UBSan and valgrind), short fuzz
#                   runs, hook contract tests, e2e tests (ASan/UBSan build), the
#                   threaded daemon's e2e tests under ThreadSanitizer
#   make demo       deps, build, then the guarded deploy script of docs/demo.md
#   make install    binaries, hooks.d, systemd unit, man pages, policies (DESTDIR, PREFIX)
#   make uninstall  removes what install laid, except /etc/depfence
#   make deb        a Debian package of that layout with PREFIX=/usr, in $(BUILD)
#   V=1             show the commands

SAN ?= 0
TSAN ?= 0
ifeq ($(SAN),1)
BUILD ?= build/san
else ifeq ($(TSAN),1)
BUILD ?= build/tsan
else
BUILD ?= build
endif

CC ?= cc
CLANG ?= clang
BPFTOOL ?= bpftool
ARCH := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

# snprintf into PATH_MAX buffers is deliberate; truncation is checked where it matters.
WARN := -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wformat=2 -Wno-format-nonliteral \
	-Wno-format-truncation
CFLAGS ?= -O2 -g
CFLAGS += $(WARN) -std=gnu11 -D_GNU_SOURCE -fno-strict-aliasing -fstack-protector-strong
CPPFLAGS += -I$(BUILD) -Iproxy -Iproxy/base -Ibpf -Ioci
LDLIBS := -lbpf -lelf -lz -ljson-c -lseccomp
ifeq ($(SAN),1)
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif
# ThreadSanitizer: the daemon's engine workers (proxy/workers.c), tests/tsan.sh.
ifeq ($(TSAN),1)
CFLAGS += -fsanitize=thread -fno-omit-frame-pointer
LDFLAGS += -fsanitize=thread
endif

# Each room is a static library; mains are the files named for their binary.
# proxy/base/ is what every room may use (errors, logging, the loop, cgroups,
# netns, the control protocol); it includes nothing of the others.
BASE_SRCS := $(wildcard proxy/base/*.c)
PROXY_MAINS := proxy/depfenced.c proxy/depfence.c
PROXY_SRCS := $(filter-out $(PROXY_MAINS) proxy/cli_%.c,$(wildcard proxy/*.c))
CLI_SRCS := $(wildcard proxy/cli_*.c)
BPFU_SRCS := $(filter-out %.bpf.c,$(wildcard bpf/*.c))
OCI_SRCS := $(wildcard oci/*.c)
HOOK_SRCS := $(wildcard hook/*.c)
BPF_PROGS := $(wildcard bpf/*.bpf.c)
SKELS := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_PROGS))

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
# Low rooms see only themselves and base, so a wrong include fails to build.
$(call obj,$(BASE_SRCS)): CPPFLAGS := -Iproxy/base
$(call obj,$(BPFU_SRCS)): CPPFLAGS := -I$(BUILD) -Iproxy/base -Ibpf
$(call obj,$(OCI_SRCS)): CPPFLAGS := -Iproxy/base -Ioci
LIBS := $(BUILD)/libproxy.a $(BUILD)/libdfbpf.a $(BUILD)/liboci.a $(BUILD)/libdfbase.a
# Order matters for static linking: users before what they use, each once.
LINK_LIBS := $(BUILD)/libproxy.a $(BUILD)/liboci.a $(BUILD)/libdfbpf.a $(BUILD)/libdfbase.a

BINS := $(BUILD)/depfenced $(BUILD)/depfence
ifneq ($(HOOK_SRCS),)
BINS += $(BUILD)/depfence-hook
endif

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))

.DEFAULT_GOAL := all
.DELETE_ON_ERROR:
.SECONDARY:
.PHONY: all deps check demo unit e2e fuzz san bench clean format install uninstall deb image

all: $(BINS)

$(BUILD)/obj/%.o: %.c $(SKELS) | $(BUILD)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

# BPF: clang -> bpftool gen object (links, strips DWARF) -> bpftool gen skeleton.
$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c bpf/%.h | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror -Ibpf -I/usr/include/$(shell uname -m)-linux-gnu \
		-c $< -o $@.tmp.o
	$(Q)$(BPFTOOL) gen object $@ $@.tmp.o
	$(Q)rm -f $@.tmp.o

$(BUILD)/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

$(BUILD)/libproxy.a: $(call obj,$(PROXY_SRCS))
$(BUILD)/libdfbpf.a: $(call obj,$(BPFU_SRCS))
$(BUILD)/liboci.a: $(call obj,$(OCI_SRCS))
$(BUILD)/libdfbase.a: $(call obj,$(BASE_SRCS))
$(LIBS):
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/depfenced: $(call obj,proxy/depfenced.c) $(LIBS)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $< $(LINK_LIBS) $(LDLIBS) -o $@

$(BUILD)/depfence: $(call obj,proxy/depfence.c $(CLI_SRCS)) $(LIBS)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $(filter %.o,$^) $(LINK_LIBS) $(LDLIBS) -o $@

$(BUILD)/depfence-hook: $(call obj,$(HOOK_SRCS)) $(LIBS)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) $(filter %.o,$^) $(LINK_LIBS) $(LDLIBS) -o $@

# A unit test may watch calls one room makes into another, as cmocka's __wrap_
# mocks do in facebook/bpfilter: WRAP_<test> names the symbols the linker
# routes to the test's __wrap_<symbol> (__real_<symbol> reaches the original).
comma := ,
WRAP_test_reload := bpf_map__update_elem bpf_map__delete_elem bpf_map_delete_batch

$(BUILD)/tests/%: $(call obj,tests/unit/%.c) $(LIBS)
	$(call msg,LD,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) $(addprefix -Wl$(comma)--wrap=,$(WRAP_$*)) $< $(LINK_LIBS) $(LDLIBS) \
		-lcmocka -o $@

$(BUILD):
	$(Q)mkdir -p $@

# Debian packages the build, the tests and the demo need. `make deps` installs
# only what is missing, so a machine that has them all never touches the network.
# nscd is for tests/e2e/t_escape_local.sh, which runs it only inside a private
# mount namespace: its package would start it on the host (a host-wide cache in
# front of the host's resolver), so packages are installed with a
# /usr/sbin/policy-rc.d that exits 101 (invoke-rc.d starts nothing); one that
# was there before is put back afterwards. systemd (systemd-analyze verify) and
# man-db (man -l) are for tests/e2e/t_install.sh; neither starts anything here.
DEB_PKGS := clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev libjson-c-dev libseccomp-dev \
	libcmocka-dev libclang-rt-14-dev pkg-config make gcc iproute2 procps \
	dnsutils dnsmasq-base curl python3 runc podman busybox-static dnsperf iperf3 \
	hyperfine unbound valgrind nscd chromium libcap2-bin python3-yaml systemd man-db
deps:
	@missing=$$(for p in $(DEB_PKGS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' \
		|| echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "deps: installing" $$missing; \
		rcd=/usr/sbin/policy-rc.d; \
		if [ -e $$rcd ]; then mv $$rcd $$rcd.depfence-saved || exit 1; fi; \
		printf '#!/bin/sh\n# make deps: start no service while installing\nexit 101\n' >$$rcd; \
		chmod 755 $$rcd; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
		st=$$?; \
		rm -f $$rcd; \
		if [ -e $$rcd.depfence-saved ]; then mv $$rcd.depfence-saved $$rcd; fi; \
		[ $$st -eq 0 ] || exit 1; \
	fi

unit: $(UNIT_BINS)
	@tests/run-unit.sh $(UNIT_BINS)

san:
	$(Q)$(MAKE) --no-print-directory SAN=1

fuzz:
	$(Q)tests/fuzz/run.sh 20

e2e: all san
	$(Q)tests/e2e/run.sh

check: deps
	$(Q)$(MAKE) --no-print-directory all $(UNIT_BINS)
	$(Q)$(MAKE) --no-print-directory SAN=1 all unit
	$(Q)tests/valgrind.sh
	$(Q)tests/fuzz/run.sh 20
	$(Q)DEPFENCE_BIN=$(abspath build/san) tests/hook/contract.sh
	$(Q)DEPFENCE_BIN=$(abspath build/san) tests/e2e/run.sh
	$(Q)$(MAKE) --no-print-directory TSAN=1 all build/tsan/tests/test_workers
	$(Q)tests/tsan.sh

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)deploy/demo/demo.sh

bench: all
	$(Q)tests/bench/run.sh

# ------------------------------------------------------------------ install
# PREFIX defaults to /usr/local (a package uses PREFIX=/usr). Everything lands
# under PREFIX but the policies, which are SYSCONFDIR's (/etc) whatever PREFIX
# is; the unit goes to PREFIX/lib/systemd/system, which systemd reads for
# /usr and /usr/local alike. default.policy is never overwritten, and
# uninstall leaves SYSCONFDIR/depfence alone: it may hold the host's policies.
# The hooks.d files and the unit name the installed binaries.
PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
BINDIR := $(PREFIX)/bin
SBINDIR := $(PREFIX)/sbin
MANDIR := $(PREFIX)/share/man
DOCDIR := $(PREFIX)/share/doc/depfence
HOOKSDIR := $(PREFIX)/share/containers/oci/hooks.d
UNITDIR := $(PREFIX)/lib/systemd/system
INSTALL ?= install
HOOK_JSONS := $(notdir $(wildcard deploy/hooks.d/*.json))
MAN_PAGES := $(notdir $(wildcard deploy/man/*.[58]))
EXAMPLES := $(filter-out default.policy,$(notdir $(wildcard deploy/policies/*.policy)))
# Every file install lays, bar SYSCONFDIR's, as uninstall removes them.
INSTALLED := $(SBINDIR)/depfenced $(BINDIR)/depfence $(BINDIR)/depfence-hook \
	$(addprefix $(HOOKSDIR)/,$(HOOK_JSONS)) $(UNITDIR)/depfenced.service \
	$(foreach m,$(MAN_PAGES),$(MANDIR)/man$(subst .,,$(suffix $(m)))/$(m).gz) \
	$(addprefix $(DOCDIR)/examples/,$(EXAMPLES))

install: $(BINS)
	$(Q)$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(HOOKSDIR) \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(SYSCONFDIR)/depfence/policies
	$(Q)$(INSTALL) -m 0755 $(BUILD)/depfenced $(DESTDIR)$(SBINDIR)/depfenced
	$(Q)$(INSTALL) -m 0755 $(BUILD)/depfence $(BUILD)/depfence-hook $(DESTDIR)$(BINDIR)/
	$(Q)for f in $(HOOK_JSONS); do \
		sed 's|"path": *"[^"]*/depfence-hook"|"path": "$(BINDIR)/depfence-hook"|' \
			deploy/hooks.d/$$f >$(DESTDIR)$(HOOKSDIR)/$$f.tmp && \
		chmod 0644 $(DESTDIR)$(HOOKSDIR)/$$f.tmp && \
		mv $(DESTDIR)$(HOOKSDIR)/$$f.tmp $(DESTDIR)$(HOOKSDIR)/$$f || exit 1; \
	done
	$(Q)sed 's|@SBINDIR@|$(SBINDIR)|g' deploy/systemd/depfenced.service \
		>$(DESTDIR)$(UNITDIR)/depfenced.service.tmp && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/depfenced.service.tmp && \
		mv $(DESTDIR)$(UNITDIR)/depfenced.service.tmp $(DESTDIR)$(UNITDIR)/depfenced.service
	$(Q)for m in $(MAN_PAGES); do \
		d=$(DESTDIR)$(MANDIR)/man$${m##*.}; \
		gzip -9n <deploy/man/$$m >$$d/$$m.gz.tmp && chmod 0644 $$d/$$m.gz.tmp && \
		mv $$d/$$m.gz.tmp $$d/$$m.gz || exit 1; \
	done
	$(Q)$(INSTALL) -m 0644 $(addprefix deploy/policies/,$(EXAMPLES)) $(DESTDIR)$(DOCDIR)/examples/
	$(Q)if [ -e $(DESTDIR)$(SYSCONFDIR)/depfence/policies/default.policy ]; then \
		echo "install: keeping $(DESTDIR)$(SYSCONFDIR)/depfence/policies/default.policy"; \
	else \
		$(INSTALL) -m 0644 deploy/policies/default.policy \
			$(DESTDIR)$(SYSCONFDIR)/depfence/policies/default.policy; \
	fi

uninstall:
	$(Q)rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	$(Q)rmdir $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(DOCDIR) 2>/dev/null || true
	@echo "uninstall: left $(DESTDIR)$(SYSCONFDIR)/depfence (policies) in place"

# make deb: the install layout with PREFIX=/usr, packaged by dpkg-deb.
# DEB_ROOT and DEB_OUT move the tree and the package elsewhere (the tests do).
VERSION ?= 0.1.0
DEB_ROOT ?= $(BUILD)/deb/root
DEB_OUT ?= $(BUILD)
deb: $(BINS)
	$(Q)rm -rf $(DEB_ROOT)
	$(Q)$(MAKE) --no-print-directory install DESTDIR=$(abspath $(DEB_ROOT)) PREFIX=/usr \
		SYSCONFDIR=/etc BUILD=$(BUILD) $(addprefix -o ,$(BINS))
	$(Q)deploy/deb/mkdeb.sh $(DEB_ROOT) $(VERSION) $(DEB_OUT) $(BINS)

# make image: the DaemonSet's image (deploy/kubernetes/), built from the install
# layout with no base image and no network; imported into podman when it is
# there (localhost/depfence:VERSION: push it to your registry), else left as
# IMAGE_TAR for `docker import`.
IMAGE_ROOT ?= $(BUILD)/image/root
IMAGE_TAR ?= $(BUILD)/depfence-image.tar
IMAGE ?= localhost/depfence:$(VERSION)
image: $(BINS)
	$(Q)rm -rf $(IMAGE_ROOT)
	$(Q)$(MAKE) --no-print-directory install DESTDIR=$(abspath $(IMAGE_ROOT)) PREFIX=/usr/local \
		SYSCONFDIR=/etc BUILD=$(BUILD) $(addprefix -o ,$(BINS)) >/dev/null
	$(Q)deploy/kubernetes/mkimage.sh $(IMAGE_ROOT) $(IMAGE_TAR)
	$(Q)if [ -n "$(IMAGE)" ] && command -v podman >/dev/null; then \
		podman import -q $(IMAGE_TAR) $(IMAGE) >/dev/null && echo "image: $(IMAGE)"; \
	fi

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
