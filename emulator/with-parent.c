/*
 * with-parent: start one process of the local stack so that it dies with the
 * process that started it (DESIGN.md invariant 8: no process outlives its
 * starter; `make run` leaves nothing behind however it ends).
 *
 *   with-parent PARENT_PID [--unlink GLOB]... -- COMMAND [ARG]...
 *
 * It asks the kernel to send SIGTERM when its parent goes (PR_SET_PDEATHSIG,
 * kept across the exec), then checks that its parent is still PARENT_PID: if
 * the parent died between its fork and the prctl, the signal would never
 * come, so it exits at once instead.  It removes the files each GLOB matches
 * (a predecessor's stale FastCGI sockets) and execs COMMAND.
 *
 * It must run after any change of user (supervisord's user=): the kernel
 * clears the parent-death signal when credentials change.  scripts/run-local.sh
 * starts supervisord through it (parent: the script) and every program of
 * supervisord through it (parent: supervisord), and lighttpd's FastCGI
 * programs die with their lighttpd by themselves (lib/http.c), so the whole
 * tree goes when any part of its root goes.
 */
#include <errno.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "util.h"

static _Noreturn void usage(void)
{
	fputs("usage: with-parent PARENT_PID [--unlink GLOB]... -- COMMAND [ARG]...\n", stderr);
	exit(2);
}

static void unlink_matches(const char *pattern)
{
	glob_t g;
	if (glob(pattern, 0, NULL, &g) != 0)
		return;
	for (size_t i = 0; i < g.gl_pathc; i++)
		if (unlink(g.gl_pathv[i]) != 0 && errno != ENOENT)
			fprintf(stderr, "with-parent: cannot remove %s: %s\n", g.gl_pathv[i],
			        strerror(errno));
	globfree(&g);
}

int main(int argc, char **argv)
{
	unsigned long parent;
	if (argc < 4 || parse_ulong(argv[1], 1, 0x7fffffffUL, &parent) < 0)
		usage();
	int i = 2;
	while (i < argc && strcmp(argv[i], "--")) {
		if (strcmp(argv[i], "--unlink") || i + 1 >= argc)
			usage();
		i += 2;
	}
	if (i + 1 >= argc)
		usage();
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) {
		fprintf(stderr, "with-parent: prctl(PR_SET_PDEATHSIG): %s\n", strerror(errno));
		return 1;
	}
	if (getppid() != (pid_t)parent) {
		fprintf(stderr, "with-parent: parent %lu is gone; not starting %s\n", parent,
		        argv[i + 1]);
		return 1;
	}
	for (int j = 2; j < i; j += 2)
		unlink_matches(argv[j + 1]);
	execvp(argv[i + 1], argv + i + 1);
	fprintf(stderr, "with-parent: cannot run %s: %s\n", argv[i + 1], strerror(errno));
	return 127;
}
