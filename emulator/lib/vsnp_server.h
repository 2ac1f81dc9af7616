/*
 * vsnp_server: the request loop of the virtual SEV-SNP host (emulator/vsnp-host).
 *
 * Wire protocol on a Unix stream socket, one request per connection:
 *   request  = "VSNP" + u32 LE vmpl + 64 bytes report_data           (72 bytes)
 *   response = u32 LE status (0 OK) + u32 LE length + length bytes
 *              (status 0: the 1184-byte signed report; otherwise a UTF-8 message;
 *               0x16 "invalid param" for a bad magic or vmpl > 3, 0x27 when signing fails)
 * A connection that sends fewer than 72 bytes before its deadline, or closes early, is dropped
 * without an answer; bytes after the first 72 are ignored.
 *
 * Concurrency: one thread owns every socket.  It accepts, reads requests and writes answers
 * without ever blocking (poll), and hands each well-formed request to a small pool of signing
 * threads, which never touch a socket.  At most max_conns connections are open at once (the
 * rest wait in the listen backlog, where the client's own connect timeout applies), and each
 * has io_timeout_ms from accept to its last response byte.  So a slow or stuck client holds one
 * connection slot until its deadline, never a signer, and never delays another client.
 *
 * Ownership: the caller owns listen_fd, launch and vcek and keeps them alive until vsnp_serve
 * returns; vsnp_serve makes listen_fd non-blocking but does not close it.  The signers share
 * vcek read-only.  Only the loop thread logs (lib/log).
 * Linked only into emulator programs and unit tests.
 */
#ifndef VSNP_SERVER_H
#define VSNP_SERVER_H

#include <signal.h>

#include <openssl/evp.h>

#include "err.h"
#include "vsnp.h"

#define VSNP_REQ_SIZE             72
#define VSNP_STATUS_OK            0
#define VSNP_STATUS_INVALID_PARAM 0x16
#define VSNP_STATUS_INTERNAL      0x27 /* firmware "unknown error"-like */

struct vsnp_server_cfg {
	int listen_fd;                    /* bound and listening */
	const struct vsnp_launch *launch; /* every launch-time field of the reports */
	EVP_PKEY *vcek;                   /* EC P-384 signing key */
	int workers;                      /* signing threads; 0 = online CPUs, at most 8 */
	int max_conns;                    /* connections open at once; 0 = 64 */
	int io_timeout_ms;                /* per connection, accept to last byte; 0 = 5000 */
	volatile sig_atomic_t *stop;      /* returns within ~250 ms once *stop is non-zero */
};

/*
 * Serve until *stop is set.  0 then; -1 with e set when the loop cannot go on (poll fails,
 * no thread can be started).  Requests in flight when it stops are dropped unanswered.
 */
int vsnp_serve(const struct vsnp_server_cfg *cfg, struct err *e) MUST_CHECK;

#endif
