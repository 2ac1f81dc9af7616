/*
 * The virtual SEV-SNP host's request loop (emulator/lib/vsnp_server): signed reports, the
 * protocol's refusals, many clients at once, and that a slow, stuck or vanishing client
 * neither blocks the others nor outlives its deadline.  Each test runs a server in a thread
 * of this process on a Unix socket in a temporary directory.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "snp.h"
#include "testlib.h"
#include "util.h"
#include "vsnp.h"
#include "vsnp_server.h"

static EVP_PKEY *key;
static struct vsnp_launch launch = {.version = 3, .policy = 0x30000, .tcb = 0x7308000000000003ULL};

struct srv {
	char dir[64], path[128];
	int lfd;
	volatile sig_atomic_t stop;
	struct vsnp_server_cfg cfg;
	pthread_t th;
	int rc;
};

static void *srv_main(void *arg)
{
	struct srv *s = arg;
	struct err e = {0};
	s->rc = vsnp_serve(&s->cfg, &e);
	if (s->rc)
		fprintf(stderr, "vsnp_serve: %s\n", e.msg);
	return NULL;
}

static struct srv *srv_start(int max_conns, int timeout_ms)
{
	if (!key)
		key = EVP_EC_gen("P-384");
	struct srv *s = xcalloc(1, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "/tmp/test_vsnp_server.XXXXXX");
	if (!mkdtemp(s->dir))
		abort();
	snprintf(s->path, sizeof(s->path), "%s/sev.sock", s->dir);
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	memcpy(sa.sun_path, s->path, strlen(s->path) + 1);
	if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(s->lfd, 128) < 0)
		abort();
	s->cfg = (struct vsnp_server_cfg){.listen_fd = s->lfd,
	                                  .launch = &launch,
	                                  .vcek = key,
	                                  .workers = 2,
	                                  .max_conns = max_conns,
	                                  .io_timeout_ms = timeout_ms,
	                                  .stop = &s->stop};
	if (pthread_create(&s->th, NULL, srv_main, s))
		abort();
	return s;
}

/* Stop the server; 1 if it returned 0 within a second and a half. */
static int srv_stop(struct srv *s)
{
	double t0 = now_ms();
	s->stop = 1;
	pthread_join(s->th, NULL);
	int ok = s->rc == 0 && now_ms() - t0 < 1500;
	close(s->lfd);
	unlink(s->path);
	rmdir(s->dir);
	free(s);
	return ok;
}

static int dial(const struct srv *s)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	memcpy(sa.sun_path, s->path, strlen(s->path) + 1);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		abort();
	struct timeval tv = {.tv_sec = 10};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static void request(uint8_t req[VSNP_REQ_SIZE], uint32_t vmpl, uint8_t fill)
{
	memcpy(req, "VSNP", 4);
	for (int i = 0; i < 4; i++)
		req[4 + i] = (uint8_t)(vmpl >> (8 * i));
	memset(req + 8, fill, 64);
}

static int send_all(int fd, const void *p, size_t n)
{
	return send(fd, p, n, MSG_NOSIGNAL) == (ssize_t)n ? 0 : -1;
}

static int read_all(int fd, uint8_t *p, size_t n)
{
	for (size_t off = 0; off < n;) {
		ssize_t r = read(fd, p + off, n - off);
		if (r <= 0)
			return -1;
		off += (size_t)r;
	}
	return 0;
}

/* Read one answer: its status, and its body into buf (at most cap bytes); -1 when none came. */
static int answer(int fd, uint32_t *status, uint8_t *buf, size_t cap, size_t *len)
{
	uint8_t hdr[8];
	if (read_all(fd, hdr, sizeof(hdr)) < 0)
		return -1;
	*status = (uint32_t)hdr[0] | (uint32_t)hdr[1] << 8 | (uint32_t)hdr[2] << 16 |
	          (uint32_t)hdr[3] << 24;
	*len = (size_t)hdr[4] | (size_t)hdr[5] << 8 | (size_t)hdr[6] << 16 | (size_t)hdr[7] << 24;
	if (*len > cap)
		return -1;
	return read_all(fd, buf, *len);
}

/* The report's ECDSA P-384 signature (r, s little-endian at 0x2A0, 0x2E8) checks with key. */
static int signature_ok(const uint8_t *r)
{
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *br = BN_lebin2bn(r + 0x2A0, 72, NULL), *bs = BN_lebin2bn(r + 0x2E8, 72, NULL);
	unsigned char *der = NULL;
	int ok = 0;
	if (sig && br && bs && ECDSA_SIG_set0(sig, br, bs)) {
		br = bs = NULL;
		int n = i2d_ECDSA_SIG(sig, &der);
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		ok = n > 0 && ctx &&
		     EVP_DigestVerifyInit(ctx, NULL, EVP_sha384(), NULL, key) == 1 &&
		     EVP_DigestVerify(ctx, der, (size_t)n, r, SNP_SIGNED_SIZE) == 1;
		EVP_MD_CTX_free(ctx);
	}
	BN_free(br);
	BN_free(bs);
	OPENSSL_free(der);
	ECDSA_SIG_free(sig);
	return ok;
}

/* One whole exchange on fd: a report for vmpl and fill that verifies. */
static int good_report(int fd, uint32_t vmpl, uint8_t fill, uint8_t report_id[32])
{
	uint8_t req[VSNP_REQ_SIZE], rep[SNP_REPORT_SIZE], want[64];
	uint32_t st;
	size_t n;
	request(req, vmpl, fill);
	memset(want, fill, sizeof(want));
	if (send_all(fd, req, sizeof(req)) < 0 || answer(fd, &st, rep, sizeof(rep), &n) < 0)
		return 0;
	if (report_id)
		memcpy(report_id, rep + 0x140, 32);
	return st == VSNP_STATUS_OK && n == SNP_REPORT_SIZE && rep[0x30] == vmpl &&
	       !memcmp(rep + 0x50, want, 64) && signature_ok(rep);
}

/* 1 when the server has closed fd (EOF within wait_ms), 0 if it is still open and silent. */
static int closed_within(int fd, int wait_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	if (poll(&p, 1, wait_ms) <= 0)
		return 0;
	char c;
	return read(fd, &c, 1) == 0;
}

static void test_good_reports(void)
{
	struct srv *s = srv_start(0, 0);
	uint8_t id1[32], id2[32];
	int fd = dial(s);
	CHECK(good_report(fd, 0, 0xab, id1));
	close(fd);
	fd = dial(s);
	CHECK(good_report(fd, 2, 0x11, id2));
	close(fd);
	CHECK(memcmp(id1, id2, 32) != 0); /* a fresh report_id each time */
	CHECK(srv_stop(s));
}

static void test_invalid_params(void)
{
	struct srv *s = srv_start(0, 0);
	uint8_t req[VSNP_REQ_SIZE], body[256];
	uint32_t st = 0;
	size_t n = 0;
	request(req, 0, 1);
	memcpy(req, "XSNP", 4);
	int fd = dial(s);
	CHECK(send_all(fd, req, sizeof(req)) == 0 &&
	      answer(fd, &st, body, sizeof(body) - 1, &n) == 0);
	body[n] = 0;
	CHECK_INT(st, VSNP_STATUS_INVALID_PARAM);
	CHECK(strstr((char *)body, "bad request magic") != NULL);
	close(fd);

	request(req, 4, 1);
	fd = dial(s);
	CHECK(send_all(fd, req, sizeof(req)) == 0 &&
	      answer(fd, &st, body, sizeof(body) - 1, &n) == 0);
	body[n] = 0;
	CHECK_INT(st, VSNP_STATUS_INVALID_PARAM);
	CHECK_STR((char *)body, "invalid param: vmpl 4 is out of range (0..3)");
	close(fd);
	CHECK(srv_stop(s));
}

static void test_slow_client_does_not_block_others(void)
{
	struct srv *s = srv_start(0, 1500);
	uint8_t req[VSNP_REQ_SIZE];
	request(req, 0, 7);
	int slow = dial(s);
	double t0 = now_ms();
	CHECK(send_all(slow, req, 10) == 0); /* and then nothing */
	int fast = dial(s);
	CHECK(good_report(fast, 1, 0x42, NULL));
	close(fast);
	/* Answered while the slow one still holds its connection. */
	CHECK(!closed_within(slow, 0));
	/* The slow one is dropped at its deadline, not before, without an answer. */
	CHECK(closed_within(slow, 5000));
	CHECK_MSG(now_ms() - t0 >= 1300, "dropped after %.0f ms", now_ms() - t0);
	close(slow);
	CHECK(srv_stop(s));
}

static void test_many_clients_at_once(void)
{
	struct srv *s = srv_start(0, 0);
	enum { N = 24 };
	int fd[N];
	uint8_t req[VSNP_REQ_SIZE];
	for (int i = 0; i < N; i++) {
		fd[i] = dial(s);
		request(req, (uint32_t)i % 4, (uint8_t)i);
		CHECK(send_all(fd[i], req, sizeof(req)) == 0);
	}
	int good = 0;
	for (int i = N - 1; i >= 0; i--) {
		uint8_t rep[SNP_REPORT_SIZE], want[64];
		uint32_t st;
		size_t n;
		memset(want, i, sizeof(want));
		if (answer(fd[i], &st, rep, sizeof(rep), &n) == 0 && st == 0 &&
		    n == SNP_REPORT_SIZE && !memcmp(rep + 0x50, want, 64) && rep[0x30] == i % 4 &&
		    signature_ok(rep))
			good++;
		close(fd[i]);
	}
	CHECK_INT(good, N);
	CHECK(srv_stop(s));
}

static void test_connections_are_bounded(void)
{
	/* Two slots, both taken by clients that send nothing: a third waits for a deadline. */
	struct srv *s = srv_start(2, 600);
	int stuck1 = dial(s), stuck2 = dial(s);
	double t0 = now_ms();
	int fd = dial(s); /* sits in the backlog */
	CHECK(good_report(fd, 0, 0x5a, NULL));
	CHECK_MSG(now_ms() - t0 >= 450, "answered after %.0f ms", now_ms() - t0);
	close(fd);
	CHECK(closed_within(stuck1, 3000));
	CHECK(closed_within(stuck2, 3000));
	close(stuck1);
	close(stuck2);
	CHECK(srv_stop(s));
}

static void test_clients_that_vanish(void)
{
	struct srv *s = srv_start(0, 0);
	uint8_t req[VSNP_REQ_SIZE];
	request(req, 0, 3);
	for (int i = 0; i < 8; i++) {
		int fd = dial(s);
		/* A whole request and gone before the answer, or half of one. */
		CHECK(send_all(fd, req, i % 2 ? sizeof(req) : 30) == 0);
		close(fd);
	}
	int fd = dial(s);
	CHECK(good_report(fd, 3, 0x99, NULL));
	close(fd);
	/* Bytes after the 72 of the request are ignored. */
	uint8_t longer[VSNP_REQ_SIZE + 8];
	request(longer, 0, 0x77);
	memset(longer + VSNP_REQ_SIZE, 0xee, 8);
	fd = dial(s);
	uint8_t rep[SNP_REPORT_SIZE];
	uint32_t st = 1;
	size_t n = 0;
	CHECK(send_all(fd, longer, sizeof(longer)) == 0 &&
	      answer(fd, &st, rep, sizeof(rep), &n) == 0);
	CHECK(st == 0 && n == SNP_REPORT_SIZE && rep[0x50] == 0x77);
	close(fd);
	CHECK(srv_stop(s));
}

static void test_stops_with_clients_connected(void)
{
	struct srv *s = srv_start(0, 0);
	int idle = dial(s);
	uint8_t req[VSNP_REQ_SIZE];
	request(req, 0, 1);
	CHECK(send_all(idle, req, 5) == 0);
	usleep(50 * 1000);
	CHECK(srv_stop(s));
	CHECK(closed_within(idle, 1000));
	close(idle);
}

TESTS(test_good_reports, test_invalid_params, test_slow_client_does_not_block_others,
      test_many_clients_at_once, test_connections_are_bounded, test_clients_that_vanish,
      test_stops_with_clients_connected)
