# haprole - top-level build. `make help` lists the targets.
#
# Layout the rules rely on (new files need no Makefile edit):
#   common/*.c                  -> $(BUILD)/libcommon.a
#   agent/*.c minus MAIN_SRC    -> $(BUILD)/libagent.a
#   spoe/*.c  minus MAIN_SRC    -> $(BUILD)/libspoe.a
#   ctl/*.c   minus MAIN_SRC    -> $(BUILD)/libctl.a (haprolectl's code)
#   agent/main.c                -> haprole-agent      ctl/main.c -> haprolectl
#   spoe/main.c                 -> haprole-spoa
#   tests/unit/test_NAME.c      -> $(BUILD)/tests/test_NAME (cmocka), extra link flags in
#                                  LDFLAGS_test_NAME (e.g. -Wl,--wrap=malloc)
#   tests/fuzz/fuzz_NAME.c      -> build/fuzz/fuzz_NAME (libFuzzer, clang; `make fuzz`)
#   bench/*.c                   -> $(BUILD)/bench/NAME (not installed)

PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
CC      ?= cc
SAN     ?=

PKGS        := libpq msgpack openssl
PKG_CFLAGS  := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS    := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN     := -Wall -Wextra -Wmissing-prototypes -Wstrict-prototypes -Wshadow -Wformat=2 -Werror
CFLAGS   ?= -O2 -g
ALL_CFLAGS := -std=gnu11 $(WARN) $(CFLAGS) -I. $(PKG_CFLAGS) -D_GNU_SOURCE -MMD -MP
LIBS     := $(PKG_LIBS) -lev -lm
ifeq ($(SAN),1)
ALL_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDSAN      := -fsanitize=address,undefined
endif
ifeq ($(SAN),fuzz)
ALL_CFLAGS += -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
LDSAN      := -fsanitize=address,undefined
endif

MAIN_SRC    := agent/main.c ctl/main.c spoe/main.c
COMMON_SRC  := $(wildcard common/*.c)
AGENT_SRC   := $(filter-out $(MAIN_SRC),$(wildcard agent/*.c))
SPOE_SRC    := $(filter-out $(MAIN_SRC),$(wildcard spoe/*.c))
CTL_SRC     := $(filter-out $(MAIN_SRC),$(wildcard ctl/*.c))
UNIT_SRC    := $(wildcard tests/unit/test_*.c)
UNIT_BINS   := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
BENCH_SRC   := $(wildcard bench/*.c)
BENCH_BINS  := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))
FUZZ_SRC    := $(wildcard tests/fuzz/fuzz_*.c)

# Daemons exist once their main file does.
PROGS := $(if $(wildcard agent/main.c),haprole-agent) \
         $(if $(wildcard ctl/main.c),haprolectl) \
         $(if $(wildcard spoe/main.c),haprole-spoa)

LIBCOMMON := $(BUILD)/libcommon.a
LIBAGENT  := $(BUILD)/libagent.a
LIBSPOE   := $(BUILD)/libspoe.a
LIBCTL    := $(BUILD)/libctl.a
# Order matters for static linking: users before what they use (haprolectl reads the agent's
# config and admin protocol).
ALL_LIBS  := $(LIBCTL) $(LIBAGENT) $(LIBSPOE) $(LIBCOMMON)

.PHONY: all help deps test test-unit test-integration asan fuzz fuzz-smoke bench install \
        clean format format-check demo demo-status demo-failover demo-switchover demo-heal \
        demo-stop

all: $(PROGS) $(BENCH_BINS)

help:
	@echo "Build"
	@echo "  make, make all        build haprole-agent, haprolectl, haprole-spoa and the bench tools"
	@echo "  make deps             install the Debian build/test packages that are missing (root)"
	@echo "  make install          programs, man pages, units, the user haprole, sample configs to"
	@echo "                        /etc/haprole kept if present (PREFIX=$(PREFIX), DESTDIR; docs/install.md)"
	@echo "  make install-user     only the system user haprole (under DESTDIR when set)"
	@echo "  make clean            remove build/ and the three programs"
	@echo "  make format           clang-format every C file in place"
	@echo "  make format-check     only check the format (exit 1 when a file would change)"
	@echo "Tests"
	@echo "  make test             everything CI runs: deps, unit, ASan+UBSan, fuzz smoke, integration"
	@echo "                        (and test-docker when it exists); ends with"
	@echo "                        \"total: N passed, N failed, N skipped\" (tests/README.md)"
	@echo "  make test-unit        unit tests only (one: $(BUILD)/tests/test_NAME)"
	@echo "  make asan             unit tests under ASan+UBSan (objects in build/asan)"
	@echo "  make test-integration every tests/integration/test_*.sh against real haproxy/postgres/nginx"
	@echo "                        (one: tests/integration/run.sh tests/integration/test_NAME.sh)"
	@echo "  make test-spoe        haprole-spoa behind real HAProxy 2.6 and 3.x (says which versions ran)"
	@echo "  make test-docker      the docker-compose demo cluster: build, up, fail over, down (root;"
	@echo "                        docker/README.md)"
	@echo "  make fuzz             build the libFuzzer targets in build/fuzz (clang)"
	@echo "  make fuzz-smoke       run each fuzz target FUZZ_SECONDS (default $(FUZZ_SECONDS)) seconds"
	@echo "  make bench            run every benchmark, print one table against the targets (root, ~9 min;"
	@echo "                        BENCH_QUICK=1 for a smoke run; bench/README.md)"
	@echo "  make bench-smoke      BENCH_QUICK=1 make bench, failing when a row of the table is missing"
	@echo "Demo (docs/demo.md; root on Debian 12)"
	@echo "  make demo             start the demo cluster on this machine (HAProxy, SPOA, 2 app, 2 PG nodes)"
	@echo "  make demo PATRONI=1   the same with Patroni + etcd managing PostgreSQL, beside the guides' HAProxy config"
	@echo "  make demo-status      haprolectl status of the demo, plus HAProxy's view of each server"
	@echo "  make demo-failover    unplanned: stop the primary, promote the standby"
	@echo "  make demo-heal        back to one primary + one streaming standby, every node ready"
	@echo "  make demo-switchover  planned: drain, promote the standby, rejoin the old primary (pg_rewind)"
	@echo "  make demo-stop        stop everything, remove the namespaces and .demo/"
	@echo "  make help             this list"

deps:
	@$(if $(PATRONI),PATRONI=$(PATRONI)) tools/deps.sh

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIBCOMMON): $(patsubst %.c,$(BUILD)/%.o,$(COMMON_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
$(LIBAGENT): $(patsubst %.c,$(BUILD)/%.o,$(AGENT_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
$(LIBSPOE): $(patsubst %.c,$(BUILD)/%.o,$(SPOE_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
$(LIBCTL): $(patsubst %.c,$(BUILD)/%.o,$(CTL_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

haprole-agent: $(BUILD)/agent/main.o $(ALL_LIBS)
	$(CC) $(LDSAN) -o $@ $< $(ALL_LIBS) $(LIBS)
haprolectl: $(BUILD)/ctl/main.o $(ALL_LIBS)
	$(CC) $(LDSAN) -o $@ $< $(ALL_LIBS) $(LIBS)
haprole-spoa: $(BUILD)/spoe/main.o $(ALL_LIBS)
	$(CC) $(LDSAN) -o $@ $< $(ALL_LIBS) $(LIBS)

# haprole-spoa: the NOTIFY->ACK path must not allocate; the test counts every allocation.
LDFLAGS_test_spop_conn := -Wl,--wrap=malloc -Wl,--wrap=calloc -Wl,--wrap=realloc
# haprole-agent: a SIGHUP reload that fails at its last step (fencing, a new probe) changes nothing.
LDFLAGS_test_agent_reload := -Wl,--wrap=fence_start -Wl,--wrap=hp_init
# haprole-spoa: a SIGHUP reload whose new cluster view cannot be built changes nothing.
LDFLAGS_test_spoa_reload := -Wl,--wrap=feed_sub_init

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDSAN) -o $@ $< $(ALL_LIBS) $(LIBS) -lcmocka $(LDFLAGS_$*)

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDSAN) -o $@ $< $(ALL_LIBS) $(LIBS) -lpthread

# ---- tests ---------------------------------------------------------------------------------

test-unit: $(UNIT_BINS)
	@tests/run-unit.sh $(UNIT_BINS)

asan:
	UNIT_STAGE=asan $(MAKE) BUILD=build/asan SAN=1 test-unit

fuzz:
	$(MAKE) BUILD=build/fuzz SAN=fuzz CC=clang fuzz-bins

FUZZ_BINS := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(FUZZ_SRC))
.PHONY: fuzz-bins
fuzz-bins: $(FUZZ_BINS)
build/fuzz/fuzz_%: $(BUILD)/tests/fuzz/fuzz_%.o $(ALL_LIBS)
	$(CC) -fsanitize=fuzzer,address,undefined -o $@ $< $(ALL_LIBS) $(LIBS)

FUZZ_SECONDS ?= 20
fuzz-smoke: fuzz
	@tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_BINS)

# Every benchmark, one table against docs/design.md section 10's targets (bench/run-all.sh,
# bench/README.md; root, about 9 minutes here; BENCH_QUICK=1: a smoke run). bench-smoke: that quick run,
# failing when a row of the table is missing or not measured; kept out of `make test` (it holds
# the shared demo for minutes and measures nothing worth keeping).
.PHONY: bench-smoke
bench: all
	@bench/run-all.sh

bench-smoke: all
	@tests/bench-smoke.sh

test-integration: all
	@tests/integration/run.sh

# haprole-spoa's SPOE scenarios on HAProxy 2.6 and every 3.x available (tests/integration/lib/
# haproxy3.sh makes 3.0/3.2 roots in /var/cache/haprole when missing); says which versions ran.
.PHONY: test-spoe
test-spoe: all
	@tests/integration/run.sh tests/integration/test_spoa_haproxy.sh tests/integration/test_spoa_pg.sh \
		tests/integration/test_spoa_hold.sh

# The docker-compose demo cluster (docker/README.md) built, failed over and torn down for real;
# installs docker.io/docker-compose and starts dockerd when needed (root), skips with the reason
# when no engine can be had (exit 0, the skip counted in `docker: N passed, N failed, N skipped`).
.PHONY: test-docker
test-docker:
	@tests/docker/test_compose.sh; rc=$$?; [ $$rc = 77 ] && rc=0; exit $$rc

# `make test` = deps + build + prereq + unit + asan + fuzz smoke + integration (+ docker), one
# summary at the end; tests/README.md says how skips, lanes and the time budget work.
test: deps
	@tests/run-all.sh

# ---- demo (issue 7) --------------------------------------------------------------------------

# ROUTER=spoa|lua|push|agent (default spoa): how HAProxy learns the writer (docs/lua.md).
demo: deps all
	@if [ -x docker/demo.sh ]; then $(if $(ROUTER),DEMO_ROUTER=$(ROUTER)) $(if $(PATRONI),DEMO_PATRONI=$(PATRONI)) docker/demo.sh up; else \
	  echo "make demo: the demo cluster is not built yet (see README, 'Status')."; fi
demo-status demo-failover demo-switchover demo-heal demo-stop:
	@if [ -x docker/demo.sh ]; then docker/demo.sh $(patsubst demo-%,%,$@); else \
	  echo "make $@: the demo cluster is not built yet."; fi

# ---- install ----------------------------------------------------------------------------------

# make install [PREFIX=/usr/local] [DESTDIR=] [SYSCONFDIR=/etc] (docs/install.md):
#   $(PREFIX)/bin/                        haprole-agent, haprole-spoa, haprolectl
#   $(PREFIX)/share/man/man8/             their man pages (man/*.8)
#   $(UNITDIR)/                           the systemd units, their paths set to PREFIX
#   $(SYSUSERSDIR)/haprole.conf           the system user haprole (sysusers.d)
#   $(SYSCONFDIR)/haprole/                the sample configs, never over an existing file
#   $(PREFIX)/share/haprole/              the samples again (conf/), haproxy/, docs/
# Installing to the live system (DESTDIR empty) also creates the user haprole when missing
# (`make install-user`). A staging root (DESTDIR=...) gets files only: a package creates the
# user from the sysusers.d file at its installation.
SYSCONFDIR  ?= /etc
MANDIR      ?= $(PREFIX)/share/man
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
CONFDIR     := $(SYSCONFDIR)/haprole
.PHONY: install-user
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR) \
	           $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(CONFDIR) \
	           $(DESTDIR)$(PREFIX)/share/haprole/conf $(DESTDIR)$(PREFIX)/share/haprole/haproxy \
	           $(DESTDIR)$(PREFIX)/share/haprole/docs
	$(if $(strip $(PROGS)),install -m 0755 $(PROGS) $(DESTDIR)$(PREFIX)/bin/)
	install -m 0644 $(wildcard man/*.8) $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 conf/haprole.sysusers $(DESTDIR)$(SYSUSERSDIR)/haprole.conf
	$(if $(wildcard conf/*.conf),install -m 0644 $(wildcard conf/*.conf) $(DESTDIR)$(PREFIX)/share/haprole/conf/)
	$(if $(wildcard haproxy/*),install -m 0644 $(wildcard haproxy/*) $(DESTDIR)$(PREFIX)/share/haprole/haproxy/)
	$(if $(wildcard docs/*.md),install -m 0644 $(wildcard docs/*.md) $(DESTDIR)$(PREFIX)/share/haprole/docs/)
	for u in $(wildcard conf/*.service); do \
	  sed -e 's|/usr/\(local/\)\{0,1\}bin/haprole|$(PREFIX)/bin/haprole|g' \
	      -e 's|/usr/\(local/\)\{0,1\}share/haprole|$(PREFIX)/share/haprole|g' \
	      -e 's|/etc/haprole/|$(CONFDIR)/|g' \
	      "$$u" > $(DESTDIR)$(UNITDIR)/$$(basename "$$u") || exit 1; \
	done
	@# The configs may hold a password (conninfo): readable by root and the group haprole
	@# only. An existing file is the administrator's: never replaced.
	@for c in $(wildcard conf/*.conf); do \
	  t=$(DESTDIR)$(CONFDIR)/$$(basename "$$c"); \
	  if [ -e "$$t" ]; then echo "kept $$t (the new sample: $(PREFIX)/share/haprole/conf/)"; \
	  else install -m 0640 "$$c" "$$t" && echo "installed $$t"; fi; \
	done
	@if [ -z "$(DESTDIR)" ]; then $(MAKE) -s install-user SYSUSERSDIR=$(SYSUSERSDIR) CONFDIR=$(CONFDIR); \
	 else echo "DESTDIR set: no user created (the package does it from $(SYSUSERSDIR)/haprole.conf)"; fi

# The system user and group haprole (conf/haprole.sysusers), under DESTDIR when set; then
# /etc/haprole's configs are given to the group (root:haprole, 0640).
install-user:
	@if id haprole >/dev/null 2>&1 && [ -z "$(DESTDIR)" ]; then echo "user haprole exists"; \
	 elif command -v systemd-sysusers >/dev/null 2>&1; then \
	   systemd-sysusers $(if $(DESTDIR),--root=$(DESTDIR)) $(DESTDIR)$(SYSUSERSDIR)/haprole.conf && \
	   echo "created the system user haprole$(if $(DESTDIR), in $(DESTDIR))"; \
	 elif [ -z "$(DESTDIR)" ]; then \
	   useradd --system --user-group --home-dir /var/lib/haprole --no-create-home \
	           --shell /usr/sbin/nologin --comment "haprole agent and SPOA" haprole && \
	   echo "created the system user haprole (useradd)"; \
	 else echo "install-user: no systemd-sysusers to create the user under $(DESTDIR)" >&2; exit 1; fi
	@for f in $(DESTDIR)$(CONFDIR)/*.conf; do \
	  [ -e "$$f" ] || continue; \
	  chgrp $(if $(DESTDIR),--no-dereference) $$( [ -n "$(DESTDIR)" ] && sed -n 's/^haprole:x:\([0-9]*\):.*/\1/p' $(DESTDIR)/etc/group || echo haprole) "$$f" && chmod 0640 "$$f"; \
	done

format:
	clang-format -i $$(git ls-files '*.c' '*.h')
format-check:
	@clang-format --dry-run -Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build haprole-agent haprolectl haprole-spoa

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
