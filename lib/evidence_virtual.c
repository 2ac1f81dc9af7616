/*
 * evidence_virtual: the local virtual SEV-SNP host (emulator/vsnp-host) on the
 * Unix socket SNP_VIRTUAL_SOCKET.  Its reports have the real format but are
 * signed by a local test VCEK chain, so they are always marked emulated and a
 * production verifier never trusts them.  Protocol: request "VSNP" | u32 vmpl |
 * report_data[64]; answer u32 status | u32 length | report or error text.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "evidence.h"
#include "fetch.h"

/* Longest error text accepted from the virtual host; longer means it is not speaking VSNP. */
#define VSNP_MAX_MSG 4096

/* The time the current call may take, in seconds, for messages (virtual_report sets it). */
static double limit_s = EVIDENCE_VIRTUAL_TIMEOUT_S;

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* 1 ready, 0 deadline passed, -1 poll failed (errno set). */
static int wait_fd(int fd, short events, double deadline)
{
	for (;;) {
		double left = deadline - now_ms();
		if (left <= 0)
			return 0;
		struct pollfd p = {fd, events, 0};
		int r = poll(&p, 1, (int)left + 1);
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

enum io_result { IO_OK = 0, IO_ERR = -1, IO_TIMEOUT = -2, IO_EOF = -3 };

static enum io_result write_all(int fd, const uint8_t *p, size_t n, double deadline)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int r = wait_fd(fd, POLLOUT, deadline);
			if (r == 0)
				return IO_TIMEOUT;
			if (r < 0)
				return IO_ERR;
			continue;
		}
		return IO_ERR;
	}
	return IO_OK;
}

static enum io_result read_all(int fd, uint8_t *p, size_t n, double deadline)
{
	while (n) {
		ssize_t r = recv(fd, p, n, 0);
		if (r > 0) {
			p += r;
			n -= (size_t)r;
			continue;
		}
		if (r == 0)
			return IO_EOF;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			int w = wait_fd(fd, POLLIN, deadline);
			if (w == 0)
				return IO_TIMEOUT;
			if (w < 0)
				return IO_ERR;
			continue;
		}
		return IO_ERR;
	}
	return IO_OK;
}

static int vsnp_connect(const char *path, double deadline, int *out, struct err *e)
{
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	size_t plen = strlen(path);
	if (plen >= sizeof(sa.sun_path))
		return err_set(e, ERR_UNAVAILABLE,
		               "SNP_VIRTUAL_SOCKET: path longer than %zu bytes: %.200s",
		               sizeof(sa.sun_path) - 1, path);
	memcpy(sa.sun_path, path, plen + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return err_set(e, ERR_INTERNAL, "cannot create a Unix socket: %s", strerror(errno));
	for (;;) {
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			break;
		int en = errno;
		if (en == EINTR)
			continue;
		/* A full backlog on a Unix socket fails with EAGAIN instead of waiting. */
		if (en == EAGAIN && now_ms() < deadline) {
			poll(NULL, 0, 20);
			continue;
		}
		close(fd);
		if (en == EAGAIN)
			return err_set(
			    e, ERR_TIMEOUT,
			    "the virtual SEV-SNP host at %.200s accepted no connection within "
			    "%g s (busy)",
			    path, limit_s);
		return err_set(
		    e, ERR_UNAVAILABLE,
		    "virtual SEV-SNP host not reachable at %.200s: %s (is emulator/vsnp-host "
		    "running?)",
		    path, strerror(en));
	}
	*out = fd;
	return 0;
}

static int io_fail(enum io_result r, const char *path, const char *what, struct err *e)
{
	if (r == IO_TIMEOUT)
		return err_set(e, ERR_TIMEOUT,
		               "the virtual SEV-SNP host at %.200s did not answer "
		               "within %g s",
		               path, limit_s);
	if (r == IO_EOF)
		return err_set(e, ERR_UPSTREAM,
		               "the virtual SEV-SNP host at %.200s closed the "
		               "connection in the middle of the %s (truncated response)",
		               path, what);
	return err_set(e, ERR_UPSTREAM,
	               "talking to the virtual SEV-SNP host at %.200s failed "
	               "during the %s: %s",
	               path, what, strerror(errno));
}

static int virtual_report(const uint8_t rd[64], uint8_t out[SNP_REPORT_SIZE], struct err *e)
{
	const char *path = cfg.virtual_socket;
	/* Its own limit, but never past the outbound-call limits (HTTP_TIMEOUT_SECONDS, the
	 * request's budget): the virtual host is an outbound call like any other. */
	double start = now_ms(), deadline = fetch_call_deadline(0, NULL);
	if (deadline > start + EVIDENCE_VIRTUAL_TIMEOUT_S * 1000.0)
		deadline = start + EVIDENCE_VIRTUAL_TIMEOUT_S * 1000.0;
	limit_s = (double)(long)((deadline - start) / 100.0 + 0.5) / 10.0;
	int fd = -1;
	if (vsnp_connect(path, deadline, &fd, e) < 0)
		return -1;
	uint8_t req[72];
	/* The 4-byte magic of a binary message, not a string.
	 * NOLINTNEXTLINE(bugprone-not-null-terminated-result) */
	memcpy(req, "VSNP", 4);
	put_le32(req + 4, 0);
	memcpy(req + 8, rd, 64);
	uint8_t hdr[8];
	enum io_result r = write_all(fd, req, sizeof(req), deadline);
	if (r != IO_OK) {
		close(fd);
		return io_fail(r, path, "request", e);
	}
	r = read_all(fd, hdr, sizeof(hdr), deadline);
	if (r != IO_OK) {
		close(fd);
		return io_fail(r, path, "response header", e);
	}
	uint32_t status = le32(hdr), len = le32(hdr + 4);
	int ret = 0;
	if (status == 0) {
		if (len != SNP_REPORT_SIZE) {
			ret = err_set(e, ERR_UPSTREAM,
			              "the virtual SEV-SNP host at %.200s sent a %u-byte report; "
			              "expected %d",
			              path, len, SNP_REPORT_SIZE);
		} else {
			r = read_all(fd, out, SNP_REPORT_SIZE, deadline);
			if (r != IO_OK)
				ret = io_fail(r, path, "report", e);
		}
	} else if (len > VSNP_MAX_MSG) {
		ret =
		    err_set(e, ERR_UPSTREAM,
		            "the virtual SEV-SNP host at %.200s answered status %u with a %u-byte "
		            "message (more than %d: not the VSNP protocol?)",
		            path, status, len, VSNP_MAX_MSG);
	} else {
		char *msg = xcalloc(1, (size_t)len + 1);
		r = read_all(fd, (uint8_t *)msg, len, deadline);
		if (r != IO_OK) {
			ret = io_fail(r, path, "error message", e);
		} else {
			err_blank_controls(msg);
			ret = err_set(
			    e, ERR_UPSTREAM,
			    "the virtual SEV-SNP host refused the report request (status %u): "
			    "%.500s",
			    status, len ? msg : "(no message)");
		}
		free(msg);
	}
	close(fd);
	return ret;
}

static int virtual_present(void)
{
	struct stat st;
	return cfg.virtual_socket && *cfg.virtual_socket && stat(cfg.virtual_socket, &st) == 0 &&
	       S_ISSOCK(st.st_mode);
}

const struct evidence_provider evidence_virtual = {
    "virtual", EVIDENCE_VIRTUAL, &tee_sev_snp, 1, NULL, virtual_present, virtual_report,
};
