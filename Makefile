# restsync — plain Makefile (see README.md).
#
#   make            build the FastCGI programs, the CLI and the unit tests
#   make run        install packages, build, start the stack under var/, seed
#   make stop       stop what make run started
#   make test       unit tests, sanitizer unit tests, integration tests
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

CFLAGS	+= -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(OPT) $(WARN) \
	   -fstack-protector-strong -fPIE -Icommon $(PKG_CFLAGS)
LDFLAGS	+= -pie -Wl,-z,relro,-z,now $(LDSAN)
LDLIBS	 = $(PKG_LIBS) -lfcgi -lm

COMMON_SRC = $(wildcard common/*.c)
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

clean:
	rm -rf build

# libFuzzer harnesses (clang): make fuzz runs each for FUZZ_SECONDS (60);
# make test runs fuzz-smoke (a few seconds each).  New inputs go to
# build/fuzz/corpus/<name>; the seeds in tests/fuzz/corpus/<name> are read.
FUZZ_CC	   ?= clang
FUZZ_SRC   = $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN   = $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
FUZZ_OBJ   = $(COMMON_SRC:common/%.c=build/fuzz/common/%.o)
FUZZ_FLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -g -O1 \
	     -fno-omit-frame-pointer -Icommon $(PKG_CFLAGS)
FUZZ_SECONDS ?= 60

.PHONY: fuzz fuzz-smoke fuzz-bin

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
		$$b -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
		    build/fuzz/corpus/$$n tests/fuzz/corpus/$$n 2>build/fuzz/$$n.log || \
		    { tail -40 build/fuzz/$$n.log; exit 1; }; \
		grep -E '^stat::number_of_executed_units' build/fuzz/$$n.log; \
	done

fuzz-smoke:
	$(MAKE) -s fuzz FUZZ_SECONDS=$${FUZZ_SECONDS:-5}

-include $(COMMON_OBJ:.o=.d)

# make bench: throughput, latency and memory of full syncs on a stack of its
# own (var/bench, ports 28080/25432/28090/28091), plus micro-benchmarks;
# prints a table and writes bench/results.json.  See README "Performance".
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
