# restsync — plain Makefile (see README.md).
#
#   make            build the FastCGI programs, the CLI and the unit tests
#   make run        install packages, build, start the stack under var/, seed
#   make stop       stop what make run started
#   make test       unit tests, sanitizer unit tests, integration tests
#   make soak       the chaos soak (SOAK_SECONDS=600, SOAK_SEED=random)
#   make unit       unit tests only
#   make clean

CC	?= cc
PKGS	 = libpq libcurl json-c openssl
SAN	?= 0

WARN	 = -Wall -Wextra -Wstrict-prototypes -Wmissing-prototypes -Wshadow \
	   -Wpointer-arith -Wcast-qual -Wwrite-strings -Wformat=2
ifeq ($(SAN),1)
BUILD	?= build/asan
OPT	 = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	   -fno-sanitize-recover=undefined
LDSAN	 = -fsanitize=address,undefined
else
BUILD	?= build/release
OPT	 = -O2 -g -D_FORTIFY_SOURCE=2
LDSAN	 =
endif
ifeq ($(WERROR),1)
WARN	+= -Werror
endif

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS))

# common/ in layers, each including only the layers below it
# (docs/ARCHITECTURE.md "Layers"; tests/gates/layers.sh checks it).
LAYERS	 = base db pipeline edge admin runner
LAYER_INC = $(LAYERS:%=-Icommon/%)

CFLAGS	+= -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(OPT) $(WARN) \
	   -pthread -fstack-protector-strong -fPIE $(LAYER_INC) $(PKG_CFLAGS)
LDFLAGS	+= -pthread -pie -Wl,-z,relro,-z,now $(LDSAN)
LDLIBS	 = $(PKG_LIBS) -lfcgi -lm

COMMON_SRC = $(wildcard $(LAYERS:%=common/%/*.c))
COMMON_OBJ = $(COMMON_SRC:common/%.c=$(BUILD)/common/%.o)
CGI_SRC	   = $(wildcard cgi-src/*.c)
CGI_BIN	   = $(CGI_SRC:cgi-src/%.c=$(BUILD)/bin/%)
CLI_SRC	   = $(wildcard cli/*.c)
CLI_BIN	   = $(CLI_SRC:cli/%.c=$(BUILD)/cli/%)
UNIT_SRC   = $(wildcard tests/unit/test_*.c)
UNIT_BIN   = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all unit test run stop clean deps asan-unit

all: $(CGI_BIN) $(CLI_BIN) $(UNIT_BIN)

$(BUILD)/common/%.o: common/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/librs.a: $(COMMON_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/bin/%: cgi-src/%.c $(BUILD)/librs.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/librs.a $(LDLIBS)

$(BUILD)/cli/%: cli/%.c $(BUILD)/librs.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/librs.a $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/librs.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/librs.a $(LDLIBS) -lcmocka

# The sanitizer gate's planted leak (scripts/test.sh; see the source).
$(BUILD)/gates/%: tests/gates/%.c $(BUILD)/librs.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/librs.a $(LDLIBS)

unit: $(UNIT_BIN)
	@fail=0; for t in $(UNIT_BIN); do $$t || fail=1; done; exit $$fail

asan-unit:
	$(MAKE) SAN=1 unit

deps:
	scripts/deps.sh

run:
	scripts/deps.sh
	$(MAKE) all
	scripts/stack.sh start
	scripts/seed.sh
	scripts/stack.sh banner

stop:
	scripts/stack.sh stop

test:
	scripts/test.sh

# The chaos soak (README "Reliability"): SOAK_SECONDS (600), SOAK_SEED
# (random, printed; the same seed replays the same schedule).
SOAK_SECONDS ?= 600
.PHONY: soak
soak: all
	SOAK_SECONDS=$(SOAK_SECONDS) SOAK_SEED=$(SOAK_SEED) tests/soak/run.sh

clean:
	rm -rf build

# libFuzzer harnesses (clang): make fuzz runs each for FUZZ_SECONDS (60);
# make test runs fuzz-smoke (a few seconds each) after fuzz-selftest.  New
# inputs go to build/fuzz/corpus/<name>; the seeds in tests/fuzz/corpus/<name>
# are read.  Sanitizer reports stop the run (-fno-sanitize-recover=all,
# halt_on_error=1) and tests/fuzz/run.sh also fails a run whose log holds
# one; fuzz-selftest shows that a planted overflow fails it.
FUZZ_CC	   ?= clang
FUZZ_SRC   = $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN   = $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
FUZZ_OBJ   = $(COMMON_SRC:common/%.c=build/fuzz/common/%.o)
FUZZ_FLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -g -O1 \
	     -fno-omit-frame-pointer -fno-sanitize-recover=all $(LAYER_INC) \
	     $(PKG_CFLAGS)
FUZZ_SECONDS ?= 60

.PHONY: fuzz fuzz-smoke fuzz-bin fuzz-selftest

build/fuzz/common/%.o: common/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link,address,undefined -c -o $@ $<

build/fuzz/%: tests/fuzz/%.c $(FUZZ_OBJ)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< \
	    $(FUZZ_OBJ) $(PKG_LIBS) -lfcgi -lm

fuzz-bin: $(FUZZ_BIN)

fuzz: fuzz-bin
	@for b in $(FUZZ_BIN); do \
		n=$${b##*/fuzz_}; mkdir -p build/fuzz/corpus/$$n; \
		echo "fuzz: $$n for $(FUZZ_SECONDS) s"; \
		tests/fuzz/run.sh $$b $(FUZZ_SECONDS) build/fuzz/$$n.log \
		    build/fuzz/corpus/$$n tests/fuzz/corpus/$$n || exit 1; \
	done

fuzz-smoke: fuzz-selftest
	$(MAKE) -s fuzz FUZZ_SECONDS=$${FUZZ_SECONDS:-5}

# The gate's self-test: a planted signed overflow must fail tests/fuzz/run.sh
# when it stops the process (the flags above) and when it does not (a build
# that recovers, run with halt_on_error=0: the log check); the same harness
# without the overflow must pass.
FUZZ_ST	   = tests/fuzz/selftest
fuzz-selftest:
	@mkdir -p build/fuzz/selftest/corpus
	@$(FUZZ_CC) $(FUZZ_FLAGS) -DPLANT_UB -fsanitize=fuzzer,address,undefined \
	    -o build/fuzz/selftest/ub $(FUZZ_ST)/fuzz_selftest.c
	@$(FUZZ_CC) $(FUZZ_FLAGS) -DPLANT_UB -fsanitize-recover=undefined \
	    -fsanitize=fuzzer,address,undefined -o build/fuzz/selftest/ub-recover \
	    $(FUZZ_ST)/fuzz_selftest.c
	@$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer,address,undefined \
	    -o build/fuzz/selftest/clean $(FUZZ_ST)/fuzz_selftest.c
	@rm -rf build/fuzz/selftest/c1 build/fuzz/selftest/c2 && \
	    mkdir -p build/fuzz/selftest/c1 build/fuzz/selftest/c2
	@if tests/fuzz/run.sh build/fuzz/selftest/ub 2 build/fuzz/selftest/ub.log \
	    build/fuzz/selftest/c1 $(FUZZ_ST)/corpus >/dev/null 2>&1; then \
		echo "fuzz-selftest: a planted overflow did not fail the run" >&2; exit 1; fi
	@grep -q 'runtime error: signed integer overflow' build/fuzz/selftest/ub.log || \
		{ echo "fuzz-selftest: no UBSan report in the log" >&2; exit 1; }
	@if FUZZ_UBSAN_OPTIONS=halt_on_error=0 tests/fuzz/run.sh build/fuzz/selftest/ub-recover \
	    2 build/fuzz/selftest/ub-recover.log build/fuzz/selftest/c2 \
	    $(FUZZ_ST)/corpus >/dev/null 2>&1; then \
		echo "fuzz-selftest: a report that did not stop the run passed" >&2; exit 1; fi
	@grep -q 'Done [0-9]* runs' build/fuzz/selftest/ub-recover.log || \
		{ echo "fuzz-selftest: the recovering run did not run to its end" >&2; exit 1; }
	@tests/fuzz/run.sh build/fuzz/selftest/clean 1 build/fuzz/selftest/clean.log \
	    build/fuzz/selftest/corpus $(FUZZ_ST)/corpus >/dev/null || \
		{ echo "fuzz-selftest: the clean harness failed" >&2; exit 1; }
	@echo "fuzz-selftest: a planted overflow fails the gate (halting and not); a clean run passes"

-include $(COMMON_OBJ:.o=.d)

# make bench: throughput, latency and memory of full syncs on a stack of its
# own (var/bench, ports 28080/25432/28090/28091), plus micro-benchmarks,
# BENCH_RUNS (5) times; prints the tables (median, min-max) and writes
# bench/results/<date>.json.  See README "Performance".
BENCH_SRC  = $(wildcard bench/*.c)
BENCH_BIN  = $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

.PHONY: bench bench-bin bench-commit

$(BUILD)/bench/%: bench/%.c bench/micro_common.h $(BUILD)/librs.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/librs.a $(LDLIBS)

bench-bin: $(CGI_BIN) $(CLI_BIN) $(BENCH_BIN)

bench: bench-bin
	BENCH_BIN_DIR=$(BUILD)/bench RS_BIN=$(CURDIR)/$(BUILD)/bin bench/run.sh

bench-commit: bench-bin
	BENCH_BIN_DIR=$(BUILD)/bench bench/probe_commit.sh

# Debian packaging (debian/, README "Deploying"): make progs builds the
# programs and the CLI only; make man renders man/*.[18] into build/man
# (warnings fail); make deb builds build/deb/restsync_<version>_<arch>.deb
# with dpkg-buildpackage and checks it with lintian (scripts/build-deb.sh).
MAN_SRC	= $(wildcard man/*.[18])

.PHONY: progs man deb

progs: $(CGI_BIN) $(CLI_BIN)

man:
	@mkdir -p build/man
	@for m in $(MAN_SRC); do \
		out=build/man/$${m##*/}.txt; \
		LC_ALL=C.UTF-8 MANWIDTH=80 MAN_KEEP_FORMATTING= man --warnings -l \
		    $$m >$$out 2>build/man/warnings || exit 1; \
		if [ -s build/man/warnings ]; then cat build/man/warnings >&2; exit 1; fi; \
		echo "man: $$out"; \
	done

deb:
	scripts/build-deb.sh
