#include "vsnp_server.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "codec.h"
#include "log.h"
#include "snp.h"
#include "util.h"

#define DEFAULT_MAX_CONNS  64
#define DEFAULT_TIMEOUT_MS 5000
#define MAX_WORKERS        8
#define TICK_MS            250 /* longest poll: how soon a stop request is seen */

enum conn_state { C_FREE, C_READ, C_SIGN, C_WRITE };

/*
 * One connection.  While C_SIGN the slot belongs to a signer (which fills out, status and
 * sign_error); otherwise to the loop thread.  The hand-over goes through the mutex.
 */
struct conn {
	enum conn_state st;
	int fd;
	double deadline;
	uint8_t req[VSNP_REQ_SIZE];
	size_t got;
	uint32_t vmpl;
	uint32_t status;
	uint8_t *out; /* header + body */
	size_t out_len, sent;
	char *sign_error; /* signer's message, logged by the loop */
};

struct server {
	const struct vsnp_server_cfg *cfg;
	int max_conns, timeout_ms;
	struct conn *conns;
	int open; /* slots not C_FREE */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int *todo; /* ring of slots waiting for a signer, capacity max_conns */
	int todo_head, todo_n;
	int *done; /* slots a signer finished, for the loop */
	int done_n;
	int quit;
	int wake[2]; /* a signer writes a byte per finished job; the loop polls the read end */
	pthread_t *threads;
	int nthreads;
};

static void set_response(struct conn *c, uint32_t status, const void *body, size_t n)
{
	c->status = status;
	c->out = xmalloc(8 + n);
	for (int i = 0; i < 4; i++) {
		c->out[i] = (uint8_t)(status >> (8 * i));
		c->out[4 + i] = (uint8_t)((uint32_t)n >> (8 * i));
	}
	memcpy(c->out + 8, body, n);
	c->out_len = 8 + n;
	c->sent = 0;
}

static void conn_close(struct server *s, struct conn *c)
{
	close(c->fd);
	free(c->out);
	free(c->sign_error);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->st = C_FREE;
	s->open--;
}

static void *signer(void *arg)
{
	struct server *s = arg;
	for (;;) {
		pthread_mutex_lock(&s->mu);
		while (!s->todo_n && !s->quit)
			pthread_cond_wait(&s->cv, &s->mu);
		if (s->quit) {
			pthread_mutex_unlock(&s->mu);
			return NULL;
		}
		int slot = s->todo[s->todo_head];
		s->todo_head = (s->todo_head + 1) % s->max_conns;
		s->todo_n--;
		pthread_mutex_unlock(&s->mu);

		struct conn *c = &s->conns[slot];
		uint8_t report[SNP_REPORT_SIZE];
		struct err e = {0};
		if (vsnp_report_sign(s->cfg->launch, c->req + 8, c->vmpl, s->cfg->vcek, report,
		                     &e) < 0) {
			set_response(c, VSNP_STATUS_INTERNAL, e.msg, strlen(e.msg));
			c->sign_error = xstrdup(e.msg);
		} else {
			set_response(c, VSNP_STATUS_OK, report, sizeof(report));
		}
		pthread_mutex_lock(&s->mu);
		s->done[s->done_n++] = slot;
		pthread_mutex_unlock(&s->mu);
		/* A full pipe already means "wake up"; nothing else can go wrong that matters. */
		ssize_t w = write(s->wake[1], "", 1);
		(void)w;
	}
}

static void log_report(const struct conn *c, const char *what)
{
	char *rd = hex_encode(c->req + 8, 16);
	if (c->status == VSNP_STATUS_OK)
		log_msg(what ? LOG_WARN : LOG_INFO, "report vmpl=%u report_data=%s...%s", c->vmpl,
		        rd, what ? what : " signed");
	else if (what)
		log_warn("request: answer 0x%x not delivered%s", c->status, what);
	free(rd);
}

/* Send what is pending; closes the connection when done or when the client went away. */
static void conn_write(struct server *s, struct conn *c)
{
	while (c->sent < c->out_len) {
		ssize_t w = send(c->fd, c->out + c->sent, c->out_len - c->sent, MSG_NOSIGNAL);
		if (w > 0) {
			c->sent += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		log_report(c, ": client went away");
		conn_close(s, c);
		return;
	}
	log_report(c, NULL);
	conn_close(s, c);
}

static void answer_now(struct server *s, struct conn *c, uint32_t status, const char *msg, size_t n)
{
	set_response(c, status, msg, n);
	c->st = C_WRITE;
	conn_write(s, c);
}

/* A whole request is in: refuse it at once, or queue it for a signer. */
static void conn_request(struct server *s, struct conn *c, int slot)
{
	if (memcmp(c->req, "VSNP", 4) != 0) {
		static const char msg[] = "invalid param: bad request magic (want \"VSNP\")";
		log_warn("request: bad magic, answered 0x16");
		answer_now(s, c, VSNP_STATUS_INVALID_PARAM, msg, sizeof(msg) - 1);
		return;
	}
	c->vmpl = (uint32_t)c->req[4] | (uint32_t)c->req[5] << 8 | (uint32_t)c->req[6] << 16 |
	          (uint32_t)c->req[7] << 24;
	if (c->vmpl > 3) {
		char msg[80];
		int n = snprintf(msg, sizeof(msg), "invalid param: vmpl %u is out of range (0..3)",
		                 c->vmpl);
		log_warn("request: vmpl %u out of range, answered 0x16", c->vmpl);
		answer_now(s, c, VSNP_STATUS_INVALID_PARAM, msg, (size_t)n);
		return;
	}
	c->st = C_SIGN;
	pthread_mutex_lock(&s->mu);
	s->todo[(s->todo_head + s->todo_n) % s->max_conns] = slot;
	s->todo_n++;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static void conn_read(struct server *s, struct conn *c, int slot)
{
	for (;;) {
		ssize_t r = read(c->fd, c->req + c->got, sizeof(c->req) - c->got);
		if (r > 0) {
			c->got += (size_t)r;
			if (c->got == sizeof(c->req)) {
				conn_request(s, c, slot);
				return;
			}
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		log_warn("request: short read (%zu of %d bytes), dropped", c->got, VSNP_REQ_SIZE);
		conn_close(s, c);
		return;
	}
}

/* Accept while there is room; 1 if accept failed for lack of descriptors. */
static int accept_some(struct server *s)
{
	while (s->open < s->max_conns) {
		int fd = accept4(s->cfg->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			log_error("accept: %s", strerror(errno));
			return 1;
		}
		int i = 0;
		while (s->conns[i].st != C_FREE)
			i++;
		struct conn *c = &s->conns[i];
		c->st = C_READ;
		c->fd = fd;
		c->deadline = now_ms() + s->timeout_ms;
		s->open++;
	}
	return 0;
}

/* Connections past their deadline; one being signed finishes first (a millisecond). */
static void expire(struct server *s, double now)
{
	for (int i = 0; i < s->max_conns; i++) {
		struct conn *c = &s->conns[i];
		if ((c->st != C_READ && c->st != C_WRITE) || now < c->deadline)
			continue;
		if (c->st == C_READ)
			log_warn("request: short read or timeout (%zu of %d bytes), dropped",
			         c->got, VSNP_REQ_SIZE);
		else
			log_report(c, ": client stopped reading, dropped");
		conn_close(s, c);
	}
}

static void collect_done(struct server *s)
{
	char sink[256];
	while (read(s->wake[0], sink, sizeof(sink)) > 0)
		;
	int local[DEFAULT_MAX_CONNS], *slots = local, n;
	pthread_mutex_lock(&s->mu);
	n = s->done_n;
	if (n > DEFAULT_MAX_CONNS)
		slots = xmalloc((size_t)n * sizeof(*slots));
	memcpy(slots, s->done, (size_t)n * sizeof(*slots));
	s->done_n = 0;
	pthread_mutex_unlock(&s->mu);
	for (int i = 0; i < n; i++) {
		struct conn *c = &s->conns[slots[i]];
		if (c->sign_error)
			log_error("request: signing failed: %s", c->sign_error);
		c->st = C_WRITE;
		conn_write(s, c);
	}
	if (slots != local)
		free(slots);
}

static int start_signers(struct server *s, int n, struct err *e)
{
	/* Signals stay with the loop thread, so a stop request interrupts its poll. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	s->threads = xcalloc((size_t)n, sizeof(*s->threads));
	int rc = 0;
	for (; s->nthreads < n; s->nthreads++) {
		int en = pthread_create(&s->threads[s->nthreads], NULL, signer, s);
		if (en) {
			rc = err_set(e, ERR_INTERNAL, "cannot start a signing thread: %s",
			             strerror(en));
			break;
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

static void stop_signers(struct server *s)
{
	pthread_mutex_lock(&s->mu);
	s->quit = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	for (int i = 0; i < s->nthreads; i++)
		pthread_join(s->threads[i], NULL);
	free(s->threads);
}

static int loop(struct server *s, struct err *e)
{
	struct pollfd *pfd = xcalloc((size_t)s->max_conns + 2, sizeof(*pfd));
	int *slot_of = xcalloc((size_t)s->max_conns + 2, sizeof(*slot_of));
	double accept_pause_until = 0;
	int rc = 0;
	while (!*s->cfg->stop) {
		double now = now_ms();
		int n = 0, timeout = TICK_MS;
		pfd[n++] = (struct pollfd){.fd = s->wake[0], .events = POLLIN};
		int lidx = -1;
		if (s->open < s->max_conns && now >= accept_pause_until) {
			lidx = n;
			pfd[n++] = (struct pollfd){.fd = s->cfg->listen_fd, .events = POLLIN};
		}
		for (int i = 0; i < s->max_conns; i++) {
			struct conn *c = &s->conns[i];
			if (c->st != C_READ && c->st != C_WRITE)
				continue;
			slot_of[n] = i;
			pfd[n++] = (struct pollfd){
			    .fd = c->fd, .events = (short)(c->st == C_READ ? POLLIN : POLLOUT)};
			double left = c->deadline - now;
			if (left < timeout)
				timeout = left > 0 ? (int)left + 1 : 0;
		}
		int ready = poll(pfd, (nfds_t)n, timeout);
		if (ready < 0 && errno != EINTR) {
			rc = err_set(e, ERR_INTERNAL, "poll: %s", strerror(errno));
			break;
		}
		if (ready > 0) {
			/* Sockets first: finishing jobs and accepting below may reuse slots. */
			for (int k = 0; k < n; k++) {
				if (k == 0 || k == lidx || !pfd[k].revents)
					continue;
				struct conn *c = &s->conns[slot_of[k]];
				if (c->fd != pfd[k].fd)
					continue;
				if (c->st == C_READ)
					conn_read(s, c, slot_of[k]);
				else if (c->st == C_WRITE)
					conn_write(s, c);
			}
			if (pfd[0].revents)
				collect_done(s);
			if (lidx >= 0 && pfd[lidx].revents && accept_some(s))
				accept_pause_until =
				    now_ms() + 100; /* out of descriptors: back off */
		}
		expire(s, now_ms());
	}
	free(pfd);
	free(slot_of);
	return rc;
}

int vsnp_serve(const struct vsnp_server_cfg *cfg, struct err *e)
{
	struct server s = {.cfg = cfg};
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int workers = cfg->workers > 0 ? cfg->workers : cpus > 0 ? (int)cpus : 1;
	if (workers > MAX_WORKERS)
		workers = MAX_WORKERS;
	s.max_conns = cfg->max_conns > 0 ? cfg->max_conns : DEFAULT_MAX_CONNS;
	s.timeout_ms = cfg->io_timeout_ms > 0 ? cfg->io_timeout_ms : DEFAULT_TIMEOUT_MS;
	int fl = fcntl(cfg->listen_fd, F_GETFL);
	if (fl < 0 || fcntl(cfg->listen_fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return err_set(e, ERR_INTERNAL, "listening socket: %s", strerror(errno));
	if (pipe2(s.wake, O_CLOEXEC | O_NONBLOCK) < 0)
		return err_set(e, ERR_INTERNAL, "pipe: %s", strerror(errno));
	s.conns = xcalloc((size_t)s.max_conns, sizeof(*s.conns));
	for (int i = 0; i < s.max_conns; i++)
		s.conns[i].fd = -1;
	s.todo = xcalloc((size_t)s.max_conns, sizeof(*s.todo));
	s.done = xcalloc((size_t)s.max_conns, sizeof(*s.done));
	pthread_mutex_init(&s.mu, NULL);
	pthread_cond_init(&s.cv, NULL);

	int rc = start_signers(&s, workers, e);
	if (rc == 0) {
		log_info("serving with %d signing threads, at most %d connections, %d ms each",
		         workers, s.max_conns, s.timeout_ms);
		rc = loop(&s, e);
	}
	stop_signers(&s);
	for (int i = 0; i < s.max_conns; i++)
		if (s.conns[i].st != C_FREE)
			conn_close(&s, &s.conns[i]);
	pthread_cond_destroy(&s.cv);
	pthread_mutex_destroy(&s.mu);
	free(s.conns);
	free(s.todo);
	free(s.done);
	close(s.wake[0]);
	close(s.wake[1]);
	return rc;
}
