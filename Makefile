# Confidential ACI attestation demo in C.
#   make            build lib, the FastCGI programs, tools and local stand-ins
#   make run        install what is missing, build, start the local multi-party demo
#   make test       install what is missing, build, run every test
#   make install DESTDIR=dir   the tree the container image copies (and contrib/ for other servers)
#   make clean

CC      ?= cc
PREFIX  ?= /app
BUILD   ?= build
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wformat=2 \
           -Wno-missing-field-initializers -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE -Ilib
LDFLAGS ?=
# GCC warns when snprintf may cut a message; cutting long messages is deliberate.
CFLAGS  += $(shell $(CC) -Werror -Wno-format-truncation -x c -c -o /dev/null /dev/null 2>/dev/null && echo -Wno-format-truncation)
LDLIBS  += -lfcgi -lcurl -ljson-c -lexpat -lssl -lcrypto -lpthread
# Quiet by default; `make V=1` shows the commands.
V ?= 0
ifeq ($(V),0)
Q := @
endif
MAKEFLAGS += -j$(shell nproc 2>/dev/null || echo 2)
DEMO_PORT      ?= 8000
DEMO_STATE_DIR ?= $(CURDIR)/var

LIB_SRC   := $(wildcard lib/*.c)
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB_A     := $(BUILD)/libdemo.a
PROGRAMS  := $(patsubst fcgi-bin/%.c,$(BUILD)/fcgi-bin/%,$(wildcard fcgi-bin/*.c))
TOOLS     := $(patsubst tools/%.c,$(BUILD)/tools/%,$(wildcard tools/*.c))
EMULATORS := $(patsubst emulator/%.c,$(BUILD)/emulator/%,$(wildcard emulator/*.c))
# Code shared by the local stand-ins only (virtual SEV-SNP CA and signer...):
# never linked into the FastCGI programs or installed into the image.
EMU_SRC   := $(wildcard emulator/lib/*.c)
EMU_OBJ   := $(EMU_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC  := $(wildcard tests/unit/test_*.c)

# Unit tests run with AddressSanitizer and UndefinedBehaviorSanitizer.
SAN_BUILD  := $(BUILD)/san
SAN_FLAGS  := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
SAN_LIB_OBJ := $(LIB_SRC:%.c=$(SAN_BUILD)/%.o)
SAN_EMU_OBJ := $(EMU_SRC:%.c=$(SAN_BUILD)/%.o)
UNIT_BINS  := $(patsubst tests/unit/%.c,$(SAN_BUILD)/tests/%,$(UNIT_SRC))
# Linked into every unit test: the fixture server for the outbound-call tests (fixture.h).
UNIT_HELPER_OBJ := $(SAN_BUILD)/tests/unit/fixture.o

.SECONDARY:
.PHONY: all run test unit-test deps install clean distclean bench fuzz
all: $(LIB_A) $(PROGRAMS) $(TOOLS) $(EMULATORS)

$(BUILD)/%.o: %.c $(wildcard lib/*.h emulator/lib/*.h) | $(BUILD)
	@mkdir -p $(dir $@)
	@[ "$(V)" != 0 ] || echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) -Iemulator/lib -c -o $@ $<

$(LIB_A): $(LIB_OBJ)
	@rm -f $@
	$(Q)$(AR) rcs $@ $^

$(BUILD)/fcgi-bin/%: $(BUILD)/fcgi-bin/%.o $(LIB_A)
	@[ "$(V)" != 0 ] || echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -pie $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/tools/%: $(BUILD)/tools/%.o $(LIB_A)
	@[ "$(V)" != 0 ] || echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -pie $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/emulator/%: $(BUILD)/emulator/%.o $(EMU_OBJ) $(LIB_A)
	@[ "$(V)" != 0 ] || echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -pie $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(SAN_BUILD)/%.o: %.c $(wildcard lib/*.h emulator/lib/*.h)
	@mkdir -p $(dir $@)
	@[ "$(V)" != 0 ] || echo "  CC(san) $<"
	$(Q)$(CC) $(CFLAGS) -U_FORTIFY_SOURCE -O1 $(SAN_FLAGS) -Iemulator/lib -Itests/unit -c -o $@ $<
# Test objects also depend on the test headers (testlib.h, fixture.h).
$(UNIT_BINS:$(SAN_BUILD)/tests/%=$(SAN_BUILD)/tests/unit/%.o) $(UNIT_HELPER_OBJ): $(wildcard tests/unit/*.h)
$(SAN_BUILD)/tests/%: $(SAN_BUILD)/tests/unit/%.o $(UNIT_HELPER_OBJ) $(SAN_LIB_OBJ) $(SAN_EMU_OBJ)
	@mkdir -p $(dir $@)
	@[ "$(V)" != 0 ] || echo "  LD(san) $@"
	$(Q)$(CC) $(CFLAGS) $(SAN_FLAGS) -o $@ $^ $(LDLIBS)

$(BUILD):
	@mkdir -p $@

deps:
	@scripts/deps.sh

# deps first: on a fresh machine the compiler and libraries come from it.
run:
	@scripts/deps.sh
	@$(MAKE) --no-print-directory all
	@# with-parent: the demo stops with make, however make ends (even kill -9).
	@DEMO_PORT=$(DEMO_PORT) DEMO_STATE_DIR=$(DEMO_STATE_DIR) BUILD=$(abspath $(BUILD)) \
		exec $(BUILD)/emulator/with-parent $$PPID -- scripts/run-local.sh

test:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory all $(UNIT_BINS)
	@BUILD=$(abspath $(BUILD)) scripts/test-all.sh $(UNIT_BINS)

unit-test: all $(UNIT_BINS)
	@scripts/test-all.sh --only unit $(UNIT_BINS)

install: all
	install -d $(DESTDIR)$(PREFIX)/fcgi-bin $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/www \
	           $(DESTDIR)$(PREFIX)/data
	install -m 0755 $(PROGRAMS) $(DESTDIR)$(PREFIX)/fcgi-bin/
	install -m 0755 $(TOOLS) $(DESTDIR)$(PREFIX)/bin/
	cp -R www/. $(DESTDIR)$(PREFIX)/www/
	install -m 0644 data/*.csv $(DESTDIR)$(PREFIX)/data/
	install -m 0644 lighttpd.conf supervisord.conf $(DESTDIR)$(PREFIX)/
	# Configuration for dropping the programs into Apache, nginx or lighttpd (README).
	install -d $(DESTDIR)$(PREFIX)/contrib/apache $(DESTDIR)$(PREFIX)/contrib/nginx \
	           $(DESTDIR)$(PREFIX)/contrib/lighttpd $(DESTDIR)$(PREFIX)/contrib/fastcgi
	install -m 0644 contrib/apache/*.conf $(DESTDIR)$(PREFIX)/contrib/apache/
	install -m 0644 contrib/nginx/*.conf $(DESTDIR)$(PREFIX)/contrib/nginx/
	install -m 0644 contrib/lighttpd/*.conf $(DESTDIR)$(PREFIX)/contrib/lighttpd/
	install -m 0644 contrib/fastcgi/*.conf contrib/fastcgi/*.env $(DESTDIR)$(PREFIX)/contrib/fastcgi/
	install -m 0755 contrib/fastcgi/*.sh $(DESTDIR)$(PREFIX)/contrib/fastcgi/

# The benchmark's bare libfcgi responder (bench/fcgi-hello.c): built here, never installed.
$(BUILD)/bench/%: bench/%.c | $(BUILD)
	@mkdir -p $(dir $@)
	@[ "$(V)" != 0 ] || echo "  CC+LD   $@"
	$(Q)$(CC) $(CFLAGS) -pie $(LDFLAGS) -o $@ $< -lfcgi

bench: all $(BUILD)/bench/fcgi-hello
	@BUILD=$(abspath $(BUILD)) bench/run.sh

# Coverage-guided fuzzing of the parsers with clang's libFuzzer (not part of `make test`,
# which replays the seed corpora and deterministic mutations under ASan+UBSan).
fuzz: all
	tests/fuzz/run.sh --libfuzzer $(or $(FUZZ_SECONDS),60)

clean:
	rm -rf $(BUILD)

# Also the local demo's state (keys, logs, records) and test artifacts.
# Only a directory that run-local.sh made (it holds supervisord.conf) is removed.
distclean: clean
	@if [ -f "$(DEMO_STATE_DIR)/supervisord.conf" ]; then rm -rf "$(DEMO_STATE_DIR)"; fi
	rm -rf test-artifacts tests/node_modules
