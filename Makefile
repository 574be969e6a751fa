# anomaly-detect: plain Makefile.
#
#   make              build ./anomaly-detect (optimised, with debug info)
#   make test         build, then run every test, plain and under ASan+UBSan
#   make asan         the sanitizer build, in build/asan/
#   make fuzz         libFuzzer targets (clang), in build/fuzz/
#   make install      PREFIX=/usr/local DESTDIR=
#
# Objects go to build/<variant>/; every source in src/ but main.c also
# goes into a static library, so a unit test links only what it uses.

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
SHAREDIR ?= $(PREFIX)/share/anomaly-detect
MANDIR  ?= $(PREFIX)/share/man
DESTDIR ?=

CC      ?= cc
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wpointer-arith -Wformat=2 -Wformat-security -Wvla -Wundef \
           -Wno-unused-parameter -Wimplicit-fallthrough -Werror
STD     := -std=c11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64
PKGS    := libcurl jansson zlib
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lcurl -ljansson -lz)
LIBS    := $(PKG_LIBS) -lm -lpthread
ALL_CFLAGS = $(STD) $(WARN) $(CFLAGS) $(PKG_CFLAGS) $(EXTRA_CFLAGS)

VARIANT ?= release
B       := build/$(VARIANT)

SRCS    := $(sort $(wildcard src/*.c))
LIBSRCS := $(filter-out src/main.c,$(SRCS))
OBJS    := $(patsubst src/%.c,$(B)/obj/%.o,$(SRCS))
LIBOBJS := $(patsubst src/%.c,$(B)/obj/%.o,$(LIBSRCS))
HDRS    := $(wildcard src/*.h)
UNITSRC := $(sort $(wildcard tests/unit/test_*.c))
UNITBIN := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNITSRC))
FUZZSRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))

.PHONY: all build test test-plain test-asan asan units fuzz fuzz-run install \
        uninstall clean deps lint

all: anomaly-detect

# The top-level binary is the release build.
anomaly-detect: $(B)/anomaly-detect
	cp $(B)/anomaly-detect $@

build: $(B)/anomaly-detect units

$(B)/obj/%.o: src/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/libanomaly.a: $(LIBOBJS)
	@rm -f $@
	ar rcs $@ $(LIBOBJS)

$(B)/anomaly-detect: $(B)/obj/main.o $(B)/libanomaly.a
	$(CC) $(CFLAGS) $(EXTRA_CFLAGS) -o $@ $^ $(LIBS)

$(B)/tests/test_%: tests/unit/test_%.c tests/unit/testutil.h $(B)/libanomaly.a $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Isrc -o $@ $< $(B)/libanomaly.a $(LIBS) -lcmocka

units: $(UNITBIN)

# Sanitizer build: the same tests run against it.
ASAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
              -fno-sanitize-recover=undefined
asan:
	$(MAKE) VARIANT=asan CFLAGS="$(ASAN_FLAGS)" build

# Everything: cppcheck, unit and CLI tests on the plain and the sanitizer
# build, and a short run of every fuzz target (FUZZ_SECONDS each).
FUZZ_SECONDS ?= 10
test: lint build asan fuzz
	FUZZ_SECONDS=$(FUZZ_SECONDS) tests/run build/release build/asan --fuzz build/fuzz/bin

test-plain: build
	tests/run build/release

# libFuzzer targets: one per parser of outside input.
FUZZ_CFLAGS := -O1 -g -fsanitize=fuzzer-no-link,address,undefined
fuzz:
	$(MAKE) VARIANT=fuzz CC=clang CFLAGS="$(FUZZ_CFLAGS)" build/fuzz/libanomaly.a
	@mkdir -p build/fuzz/bin
	@for f in $(FUZZSRC); do \
	  n=$$(basename $$f .c); \
	  echo "clang $$n"; \
	  clang $(STD) $(WARN) -O1 -g -fsanitize=fuzzer,address,undefined $(PKG_CFLAGS) -Isrc \
	    -o build/fuzz/bin/$$n $$f build/fuzz/libanomaly.a $(LIBS) || exit 1; \
	done

# A longer fuzzing session: make fuzz-run FUZZ_SECONDS=600.  The seed is
# the one make test uses (1) unless FUZZ_SEED says otherwise (0: random).
FUZZ_SEED ?= 1
fuzz-run: fuzz
	FUZZ_SEED=$(FUZZ_SEED) FUZZ_SECONDS=$(FUZZ_SECONDS) TESTS=fuzz: tests/run --fuzz build/fuzz/bin

install: anomaly-detect
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SHAREDIR)
	install -m 0755 anomaly-detect $(DESTDIR)$(BINDIR)/anomaly-detect
	install -m 0644 samples/access.log.gz $(DESTDIR)$(SHAREDIR)/sample-access.log.gz

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/anomaly-detect
	rm -rf $(DESTDIR)$(SHAREDIR)

deps:
	scripts/install-deps

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability \
	  --suppress=missingIncludeSystem --suppress=unknownMacro \
	  -D__GNUC__ src/

clean:
	rm -rf build anomaly-detect
