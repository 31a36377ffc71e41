# wsc build. Sources are found by globbing, so adding a file needs no edit here:
#   src/<layer>/*.c         -> build/lib/libwsc.a, build/lib/libwsc.so
#   src/proto/*.c           -> libwsc_proto.a, the I/O-free core fuzzers link alone
#   tests/unit/test_*.c     -> two test programs each: ASan+UBSan and ThreadSanitizer. Every
#                              test runs under both, so no test that starts a thread (a server
#                              in pool mode, a client's read loop) escapes TSan.
#   fuzz/fuzz_*.c           -> one libFuzzer target each (clang), on libwsc_proto.a; fuzz_conn
#                              runs a server, so it links the whole library built for fuzzing
#   examples, tools, bench  -> build/bin/<prog> (a directory bench/<prog>/ is one program)
#
# Variants: release (build/lib, build/bin), asan (build/asan), tsan (build/tsan),
# fuzz (build/fuzz). `make test` builds all it needs and runs tests/run.sh.
#
# Warnings are errors in the sanitizer, fuzz and test builds and in check-clang, always; in the
# release build only with WERROR=1 (CI, developers), so that a user building a release with a
# newer compiler than ours is not stopped by a warning we have not seen yet.

CC      ?= cc
FUZZ_CC ?= clang
PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
DESTDIR ?=
WERROR  ?=
FUZZ_SECONDS ?= 30
VERSION := 0.1.0

WARN := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
        -Wmissing-prototypes -Wvla -Wformat=2 -Wimplicit-fallthrough -fno-common
BASE := -std=c11 -D_GNU_SOURCE -Iinclude -Isrc $(WARN) -MMD -MP
LIBS := -lssl -lcrypto -lz -lpthread

# Recursive: `make test` sets WERROR=1 for what it builds (see the test target).
REL_FLAGS   = $(BASE) $(if $(filter 1,$(WERROR)),-Werror) -O2 -g -fPIC -fvisibility=hidden
ASAN_FLAGS := $(BASE) -Werror -O1 -g -fno-omit-frame-pointer \
              -fsanitize=address,undefined -fno-sanitize-recover=all
TSAN_FLAGS := $(BASE) -Werror -O1 -g -fno-omit-frame-pointer -fsanitize=thread
FUZZ_FLAGS := $(BASE) -Werror -O1 -g -fno-omit-frame-pointer \
              -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all

LIB_SRC   := $(sort $(wildcard src/*/*.c))
PROTO_SRC := $(sort $(wildcard src/proto/*.c src/deflate/*.c))
TEST_SRC  := $(sort $(wildcard tests/unit/test_*.c))
FUZZ_SRC  := $(sort $(wildcard fuzz/fuzz_*.c))

# The Redis cluster module (src/cluster/redis.c) needs hiredis; without it redis_none.c says so.
HAVE_HIREDIS := $(shell pkg-config --exists hiredis 2>/dev/null && echo yes)
ifeq ($(HAVE_HIREDIS),yes)
LIBS    += $(shell pkg-config --libs hiredis)
LIB_SRC := $(filter-out src/cluster/redis_none.c,$(LIB_SRC))
else
LIB_SRC := $(filter-out src/cluster/redis.c,$(LIB_SRC))
endif

# Single-file programs, and multi-file programs (one directory each).
# bench/lws_*.c need libwebsockets and are built only when it is installed.
PROG_SRC  := $(filter-out bench/lws_%.c,$(sort $(wildcard examples/*.c tools/*.c bench/*.c)))
PROG_DIRS := $(patsubst %/,%,$(sort $(dir $(wildcard bench/*/*.c tools/*/*.c examples/*/*.c))))
PROGS     := $(notdir $(basename $(PROG_SRC))) $(notdir $(PROG_DIRS))
HAVE_LWS  := $(shell pkg-config --exists libwebsockets 2>/dev/null && echo yes)

obj = $(patsubst %.c,build/$(1)/obj/%.o,$(2))

REL_LIB_OBJ   := $(call obj,release,$(LIB_SRC))
ASAN_LIB_OBJ  := $(call obj,asan,$(LIB_SRC))
TSAN_LIB_OBJ  := $(call obj,tsan,$(LIB_SRC))
FUZZ_PROTO_OBJ := $(call obj,fuzz,$(PROTO_SRC))
FUZZ_LIB_OBJ  := $(call obj,fuzz,$(LIB_SRC))

REL_BIN  := $(addprefix build/bin/,$(PROGS))
ASAN_BIN := $(addprefix build/asan/bin/,$(PROGS))
ASAN_TESTS := $(patsubst tests/unit/%.c,build/asan/test/%,$(TEST_SRC))
TSAN_TESTS := $(patsubst tests/unit/%.c,build/tsan/test/%,$(TEST_SRC))
FUZZERS    := $(patsubst fuzz/%.c,build/fuzz/%,$(FUZZ_SRC))
REPLAYS    := $(patsubst fuzz/%.c,build/asan/replay/%,$(FUZZ_SRC))

.PHONY: all lib asan tsan test fuzz fuzz-build bench install uninstall clean check-symbols \
        check-clang
.DEFAULT_GOAL := all
# Keep objects make considers intermediate, so nothing is printed after the test summary.
.SECONDARY:

all: lib $(REL_BIN) $(if $(HAVE_LWS),build/bin/lws_echo)
lib: build/lib/libwsc.a build/lib/libwsc.so

# ---- objects --------------------------------------------------------------
build/release/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(REL_FLAGS) -c $< -o $@
build/asan/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ASAN_FLAGS) -c $< -o $@
build/tsan/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(TSAN_FLAGS) -c $< -o $@
build/fuzz/obj/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -c $< -o $@

# ---- libraries ------------------------------------------------------------
build/lib/libwsc.a: $(REL_LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^
build/lib/libwsc.so: $(REL_LIB_OBJ)
	@mkdir -p $(@D)
	$(CC) -shared -Wl,-soname,libwsc.so.0 -Wl,--no-undefined -o $@ $^ $(LIBS)
build/asan/libwsc.a: $(ASAN_LIB_OBJ)
	rm -f $@ && ar rcs $@ $^
build/tsan/libwsc.a: $(TSAN_LIB_OBJ)
	rm -f $@ && ar rcs $@ $^
build/fuzz/libwsc_proto.a: $(FUZZ_PROTO_OBJ)
	rm -f $@ && ar rcs $@ $^
build/fuzz/libwsc.a: $(FUZZ_LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

# ---- programs -------------------------------------------------------------
# The source of a program is either <dir>/<prog>.c or every .c in <dir>/<prog>/. The wsc tool
# also takes the load generator without its main() (its bench subcommand is wsc_load_main).
WSC_LOAD_SRC := $(filter-out bench/wsc_load/main.c,$(sort $(wildcard bench/wsc_load/*.c)))
prog_src = $(filter %/$(1).c,$(PROG_SRC)) $(wildcard $(filter %/$(1),$(PROG_DIRS))/*.c) \
           $(if $(filter wsc,$(1)),$(WSC_LOAD_SRC))

define program_rules
build/bin/$(1): $(call obj,release,$(call prog_src,$(1))) build/lib/libwsc.a
	@mkdir -p $$(@D)
	$$(CC) -o $$@ $$^ $$(LIBS) -lm
build/asan/bin/$(1): $(call obj,asan,$(call prog_src,$(1))) build/asan/libwsc.a
	@mkdir -p $$(@D)
	$$(CC) -fsanitize=address,undefined -o $$@ $$^ $$(LIBS) -lm
endef
$(foreach p,$(PROGS),$(eval $(call program_rules,$(p))))

build/bin/lws_echo: bench/lws_echo.c
	@mkdir -p $(@D)
	$(CC) -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -o $@ $< $$(pkg-config --cflags --libs libwebsockets)

# ---- tests ----------------------------------------------------------------
build/asan/test/%: build/asan/obj/tests/unit/%.o build/asan/libwsc.a
	@mkdir -p $(@D)
	$(CC) -fsanitize=address,undefined -o $@ $^ $(LIBS) -lm
build/tsan/test/%: build/tsan/obj/tests/unit/%.o build/tsan/libwsc.a
	@mkdir -p $(@D)
	$(CC) -fsanitize=thread -o $@ $^ $(LIBS) -lm

# Fuzz targets built with a plain main that replays their corpus (make test).
build/asan/replay/fuzz_%: build/asan/obj/fuzz/fuzz_%.o build/asan/obj/tests/fuzz_replay.o build/asan/libwsc.a
	@mkdir -p $(@D)
	$(CC) -fsanitize=address,undefined -o $@ $^ $(LIBS) -lm

asan: $(ASAN_TESTS) $(ASAN_BIN) $(REPLAYS)
tsan: $(TSAN_TESTS)

# The release build that the tests run (examples, tools, the installed library) counts too.
test: WERROR = 1
test: all asan tsan
	@tests/run.sh

check-symbols: build/lib/libwsc.so
	@bad=$$(nm -D --defined-only $< | awk '{print $$3}' | grep -v '^wsc_' | grep -v '^_' || true); \
	if [ -n "$$bad" ]; then echo "exported symbols without wsc_ prefix:"; echo "$$bad"; exit 1; fi; \
	if nm -D --undefined-only $< | grep -q __tls_get_addr; then \
	    echo "a thread-local is not declared with WSC__THREAD_LOCAL (util/thread_local.h)"; exit 1; fi; \
	echo "exported symbols ok"

# Compiles every C file with clang and the same warnings (gcc builds the rest),
# so both compilers stay warning-free.
check-clang:
	@for f in $(LIB_SRC) $(TEST_SRC) $(PROG_SRC) $(wildcard $(addsuffix /*.c,$(PROG_DIRS))) $(FUZZ_SRC); do \
	    clang $(filter-out -MMD -MP,$(BASE)) -Werror -fsyntax-only $$f || exit 1; done; \
	echo "clang: no warnings"

# ---- fuzzing ---------------------------------------------------------------
build/fuzz/fuzz_%: build/fuzz/obj/fuzz/fuzz_%.o build/fuzz/libwsc_proto.a
	@mkdir -p $(@D)
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $(filter %.o %.a,$^) -lcrypto -lz
# The connection target drives real servers over sockets: the whole library, not the core alone.
build/fuzz/fuzz_conn: build/fuzz/obj/fuzz/fuzz_conn.o build/fuzz/libwsc.a
	@mkdir -p $(@D)
	$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LIBS)

fuzz-build: $(FUZZERS)
fuzz: fuzz-build
	@tests/fuzz.sh $(FUZZ_SECONDS) $(FUZZERS)

# ---- benchmarks ------------------------------------------------------------
bench: all
	@bench/run.sh

# ---- install ---------------------------------------------------------------
# Header, both libraries, wsc.pc, the CMake package, and the wsc tool with its man page when this
# tree has them. The CMake package finds the libraries beside itself and the header by a relative
# path, so an installed tree may move. uninstall removes exactly these files (and the CMake
# package's own directory), never a directory that may have been there before.
TOOL       := $(if $(wildcard tools/wsc/*.c),build/bin/wsc)
TOOL_MAN   := $(wildcard tools/wsc/wsc.1)
CMAKE_DIR   = $(LIBDIR)/cmake/wsc
INSTALLED   = $(INCLUDEDIR)/wsc.h $(LIBDIR)/libwsc.a $(LIBDIR)/libwsc.so.$(VERSION) \
              $(LIBDIR)/libwsc.so.0 $(LIBDIR)/libwsc.so $(LIBDIR)/pkgconfig/wsc.pc \
              $(CMAKE_DIR)/wsc-config.cmake $(CMAKE_DIR)/wsc-config-version.cmake \
              $(if $(TOOL),$(BINDIR)/wsc) $(if $(TOOL_MAN),$(MANDIR)/man1/wsc.1)

install: lib $(TOOL)
	install -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(CMAKE_DIR)
	install -m 644 include/wsc.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 644 build/lib/libwsc.a $(DESTDIR)$(LIBDIR)/
	install -m 755 build/lib/libwsc.so $(DESTDIR)$(LIBDIR)/libwsc.so.$(VERSION)
	ln -sf libwsc.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libwsc.so.0
	ln -sf libwsc.so.0 $(DESTDIR)$(LIBDIR)/libwsc.so
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	    -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
	    -e 's|@HIREDIS_PC@|$(if $(filter yes,$(HAVE_HIREDIS)), hiredis)|g' cmake/wsc.pc.in \
	    > $(DESTDIR)$(LIBDIR)/pkgconfig/wsc.pc
	sed -e 's|@INCLUDE_FROM_CMAKE@|'"$$(realpath -m -s --relative-to='$(CMAKE_DIR)' '$(INCLUDEDIR)')"'|g' \
	    -e 's|@VERSION@|$(VERSION)|g' \
	    -e 's|@HIREDIS_CMAKE@|$(if $(filter yes,$(HAVE_HIREDIS)),;hiredis)|g' cmake/wsc-config.cmake.in \
	    > $(DESTDIR)$(CMAKE_DIR)/wsc-config.cmake
	sed -e 's|@VERSION@|$(VERSION)|g' cmake/wsc-config-version.cmake.in \
	    > $(DESTDIR)$(CMAKE_DIR)/wsc-config-version.cmake
ifneq ($(TOOL),)
	install -d $(DESTDIR)$(BINDIR)
	install -m 755 $(TOOL) $(DESTDIR)$(BINDIR)/wsc
endif
ifneq ($(TOOL_MAN),)
	install -d $(DESTDIR)$(MANDIR)/man1
	install -m 644 $(TOOL_MAN) $(DESTDIR)$(MANDIR)/man1/wsc.1
endif

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	rmdir $(DESTDIR)$(CMAKE_DIR) 2>/dev/null || true

clean:
	rm -rf build

-include $(shell find build -name '*.d' 2>/dev/null)
