#include "evidence.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "jsonx.h"

#define DEV_SEV_GUEST "/dev/sev-guest"
#define DEV_SEV "/dev/sev"

/*
 * The kernel's UAPI structs, declared here rather than taken from
 * <linux/sev-guest.h> because the 5.x /dev/sev interface has no public
 * header and the build host's headers need not match the guest kernel.
 * Layouts are fixed by PROTOCOLS.md §2 and pinned by the asserts below.
 */
struct snp_report_req {
	uint8_t user_data[64];
	uint32_t vmpl;
	uint8_t rsvd[28];
};

#define SNP_RESP_SIZE 4000
#define SNP_RESP_REPORT_OFF 0x20

struct snp_guest_request_ioctl {
	uint8_t msg_version;
	uint64_t req_data;
	uint64_t resp_data;
	union {
		uint64_t exitinfo2;
		struct {
			uint32_t fw_error;
			uint32_t vmm_error;
		};
	};
};

struct sev_snp_guest_request {
	uint8_t req_msg_type;
	uint8_t rsp_msg_type;
	uint8_t msg_version;
	uint16_t request_len;
	uint64_t request_uaddr;
	uint16_t response_len;
	uint64_t response_uaddr;
	uint32_t error;
};

#define SNP_GET_REPORT _IOWR('S', 0x0, struct snp_guest_request_ioctl)
#define SEV_SNP_GUEST_MSG_REPORT _IOWR('S', 0x1, struct sev_snp_guest_request)
#define SNP_MSG_REPORT_REQ 5
#define SNP_MSG_REPORT_RSP 6
#define SEV_OLD_RESP_LEN 1280

_Static_assert(sizeof(struct snp_report_req) == 96, "MSG_REPORT_REQ is 96 bytes");
_Static_assert(sizeof(struct snp_guest_request_ioctl) == 32, "snp_guest_request_ioctl is 32 bytes");
_Static_assert(sizeof(struct sev_snp_guest_request) == 40, "sev_snp_guest_request is 40 bytes");
_Static_assert(SNP_GET_REPORT == 0xC0205300u, "SNP_GET_REPORT number");
_Static_assert(SEV_SNP_GUEST_MSG_REPORT == 0xC0285301u, "SEV_SNP_GUEST_MSG_REPORT number");
_Static_assert(SNP_RESP_REPORT_OFF + SNP_REPORT_SIZE <= SEV_OLD_RESP_LEN, "report fits");

/* Longest error text accepted from the virtual host; longer means it is not speaking VSNP. */
#define VSNP_MAX_MSG 4096

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

static int is_char_dev(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISCHR(st.st_mode);
}

static const char *virtual_path(void)
{
	return cfg.virtual_socket && *cfg.virtual_socket ? cfg.virtual_socket : NULL;
}

static int is_socket(const char *path)
{
	struct stat st;
	return path && stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

const char *evidence_source(void)
{
	switch (cfg.evidence) {
	case EVIDENCE_NONE:
		return NULL;
	case EVIDENCE_SEV_GUEST:
		return is_char_dev(DEV_SEV_GUEST) ? "sev-guest" : NULL;
	case EVIDENCE_SEV:
		return is_char_dev(DEV_SEV) ? "sev" : NULL;
	case EVIDENCE_VIRTUAL:
		return is_socket(virtual_path()) ? "virtual" : NULL;
	case EVIDENCE_AUTO:
		break;
	}
	if (is_char_dev(DEV_SEV_GUEST))
		return "sev-guest";
	if (is_char_dev(DEV_SEV))
		return "sev";
	if (is_socket(virtual_path()))
		return "virtual";
	return NULL;
}

static int no_provider(struct err *e)
{
	const char *vs = virtual_path();
	switch (cfg.evidence) {
	case EVIDENCE_NONE:
		return err_set(
			e, ERR_UNAVAILABLE,
			"SNP_EVIDENCE=none: collecting SEV-SNP evidence is switched off in this "
			"instance's configuration");
	case EVIDENCE_SEV_GUEST:
		return err_set(e, ERR_UNAVAILABLE,
			       "SNP_EVIDENCE=sev-guest, but " DEV_SEV_GUEST
			       " is not a character device "
			       "here: this container is not running on confidential hardware");
	case EVIDENCE_SEV:
		return err_set(e, ERR_UNAVAILABLE,
			       "SNP_EVIDENCE=sev, but " DEV_SEV " is not a character device here: "
			       "this container is not running on confidential hardware");
	case EVIDENCE_VIRTUAL:
		return err_set(
			e, ERR_UNAVAILABLE,
			"SNP_EVIDENCE=virtual, but the virtual SEV-SNP host socket %.200s does "
			"not exist: start the virtual SEV-SNP host (emulator/vsnp-host)",
			vs ? vs : "(unset)");
	case EVIDENCE_AUTO:
		break;
	}
	if (vs)
		return err_set(
			e, ERR_UNAVAILABLE,
			"no SEV-SNP device: this container is not running on confidential hardware "
			"(checked " DEV_SEV_GUEST ", " DEV_SEV "; SNP_VIRTUAL_SOCKET=%.200s is not "
			"a socket: is the virtual SEV-SNP host running?)",
			vs);
	return err_set(e, ERR_UNAVAILABLE,
		       "no SEV-SNP device: this container is not running on confidential hardware "
		       "(checked " DEV_SEV_GUEST ", " DEV_SEV "; SNP_VIRTUAL_SOCKET not set)");
}

static int open_device(const char *path, int *fd, struct err *e)
{
	*fd = open(path, O_RDWR | O_CLOEXEC);
	if (*fd >= 0)
		return 0;
	int en = errno;
	if (en == EACCES || en == EPERM)
		return err_set(
			e, ERR_UNAVAILABLE,
			"cannot open %s: %s (errno %d): this program needs read and write "
			"access to the device (run it as root or give its user the device's group)",
			path, strerror(en), en);
	if (en == ENOENT || en == ENXIO || en == ENODEV)
		return err_set(
			e, ERR_UNAVAILABLE,
			"cannot open %s: %s (errno %d): the SEV-SNP guest driver is not loaded",
			path, strerror(en), en);
	return err_set(e, ERR_UNAVAILABLE, "cannot open %s: %s (errno %d)", path, strerror(en), en);
}

static const char *fw_hint(uint32_t fw_error, uint32_t vmm_error, int en)
{
	if (en == EACCES || en == EPERM)
		return ": the guest driver refused the request (permission)";
	if (vmm_error == 2)
		return ": the host is throttling guest requests; try again shortly";
	if (fw_error == 0x16)
		return ": the PSP rejected a parameter (INVALID_PARAM), e.g. a VMPL this guest "
		       "may not request";
	if (en == ENOTTY || en == EINVAL)
		return ": the driver does not support this request (wrong kernel interface?)";
	return "";
}

/* Check MSG_REPORT_RSP and copy the report out (PROTOCOLS.md §2.1). */
static int take_report(const uint8_t *resp, const char *dev, uint8_t out[SNP_REPORT_SIZE],
		       struct err *e)
{
	uint32_t status = le32(resp), size = le32(resp + 4);
	if (status != 0)
		return err_set(
			e, ERR_UPSTREAM,
			"the SEV-SNP firmware refused the report request via %s: status 0x%x%s",
			dev, status, status == 0x16 ? " (INVALID_PARAM)" : "");
	if (size != SNP_REPORT_SIZE)
		return err_set(e, ERR_UPSTREAM,
			       "the SEV-SNP firmware via %s returned a %u-byte report; expected %d",
			       dev, size, SNP_REPORT_SIZE);
	memcpy(out, resp + SNP_RESP_REPORT_OFF, SNP_REPORT_SIZE);
	return 0;
}

/* ioctl retried on EINTR, then the device closed: the result, with *en its errno. */
static int device_ioctl(int fd, unsigned long request, void *arg, int *en)
{
	int rc;
	do
		rc = ioctl(fd, request, arg);
	while (rc < 0 && errno == EINTR);
	*en = errno;
	close(fd);
	return rc;
}

static int sev_guest_report(const uint8_t rd[64], uint8_t out[SNP_REPORT_SIZE], struct err *e)
{
	int fd = -1;
	if (open_device(DEV_SEV_GUEST, &fd, e) < 0)
		return -1;
	struct snp_report_req req;
	memset(&req, 0, sizeof(req));
	memcpy(req.user_data, rd, 64);
	req.vmpl = 0;
	uint8_t *resp = xcalloc(1, SNP_RESP_SIZE);
	struct snp_guest_request_ioctl g;
	memset(&g, 0, sizeof(g));
	g.msg_version = 1;
	g.req_data = (uint64_t)(uintptr_t)&req;
	g.resp_data = (uint64_t)(uintptr_t)resp;
	int en, rc = device_ioctl(fd, SNP_GET_REPORT, &g, &en), ret;
	if (rc < 0)
		ret = err_set(e, ERR_UPSTREAM,
			      "SNP_GET_REPORT ioctl on " DEV_SEV_GUEST " failed: %s (errno %d, "
			      "fw_error 0x%x, vmm_error 0x%x)%s",
			      strerror(en), en, g.fw_error, g.vmm_error,
			      fw_hint(g.fw_error, g.vmm_error, en));
	else
		ret = take_report(resp, DEV_SEV_GUEST, out, e);
	free(resp);
	return ret;
}

static int sev_report(const uint8_t rd[64], uint8_t out[SNP_REPORT_SIZE], struct err *e)
{
	int fd = -1;
	if (open_device(DEV_SEV, &fd, e) < 0)
		return -1;
	struct snp_report_req req;
	memset(&req, 0, sizeof(req));
	memcpy(req.user_data, rd, 64);
	uint8_t *resp = xcalloc(1, SNP_RESP_SIZE);
	struct sev_snp_guest_request g;
	memset(&g, 0, sizeof(g));
	g.req_msg_type = SNP_MSG_REPORT_REQ;
	g.rsp_msg_type = SNP_MSG_REPORT_RSP;
	g.msg_version = 1;
	g.request_len = sizeof(req);
	g.request_uaddr = (uint64_t)(uintptr_t)&req;
	g.response_len = SEV_OLD_RESP_LEN;
	g.response_uaddr = (uint64_t)(uintptr_t)resp;
	int en, rc = device_ioctl(fd, SEV_SNP_GUEST_MSG_REPORT, &g, &en), ret;
	if (rc < 0)
		ret = err_set(e, ERR_UPSTREAM,
			      "SEV_SNP_GUEST_MSG_REPORT ioctl on " DEV_SEV " failed: %s (errno %d, "
			      "fw_error 0x%x)%s",
			      strerror(en), en, g.error, fw_hint(g.error, 0, en));
	else
		ret = take_report(resp, DEV_SEV, out, e);
	free(resp);
	return ret;
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
				"%d s (busy)",
				path, EVIDENCE_VIRTUAL_TIMEOUT_S);
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
			       "within %d s",
			       path, EVIDENCE_VIRTUAL_TIMEOUT_S);
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
	const char *path = virtual_path();
	if (!path)
		return no_provider(e);
	double deadline = now_ms() + EVIDENCE_VIRTUAL_TIMEOUT_S * 1000.0;
	int fd = -1;
	if (vsnp_connect(path, deadline, &fd, e) < 0)
		return -1;
	uint8_t req[72];
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
		ret = err_set(
			e, ERR_UPSTREAM,
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

int evidence_report(const uint8_t report_data[64], uint8_t out[SNP_REPORT_SIZE],
		    const char **source, struct err *e)
{
	const char *src = evidence_source();
	if (source)
		*source = src;
	if (!src)
		return no_provider(e);
	if (!strcmp(src, "sev-guest"))
		return sev_guest_report(report_data, out, e);
	if (!strcmp(src, "sev"))
		return sev_report(report_data, out, e);
	return virtual_report(report_data, out, e);
}

static struct json_object *dev_listing(void)
{
	struct json_object *a = json_object_new_array();
	DIR *d = opendir("/dev");
	if (!d)
		return a;
	struct dirent *de;
	while ((de = readdir(d)))
		if (strcasestr(de->d_name, "sev") || strcasestr(de->d_name, "tpm") ||
		    strcasestr(de->d_name, "sgx"))
			json_object_array_add(a, json_object_new_string(de->d_name));
	closedir(d);
	return a;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(json_object_get_string(*(struct json_object *const *)a),
		      json_object_get_string(*(struct json_object *const *)b));
}

static struct json_object *device_info(const struct stat *st, const char *path)
{
	struct json_object *o = json_object_new_object();
	char mode[24];
	/* Python's oct() format, as the original printed it. */
	snprintf(mode, sizeof(mode), "0o%o", (unsigned)st->st_mode);
	jsonx_add_str(o, "mode", mode);
	jsonx_add_str(o, "type",
		      S_ISCHR(st->st_mode)    ? "character device"
		      : S_ISSOCK(st->st_mode) ? "socket"
					      : "other");
	/* Both directions: the ioctl and the socket protocol need read and write. */
	jsonx_add_bool(o, "accessible", access(path, R_OK | W_OK) == 0);
	return o;
}

struct json_object *evidence_device_status(void)
{
	static const char *const devs[] = {DEV_SEV_GUEST, DEV_SEV, "/dev/sev0"};
	struct json_object *o = json_object_new_object();
	const char *prov = evidence_source();
	const char *vs = virtual_path();
	const char *found = NULL;
	struct stat st;
	char *expl = NULL;

	if (prov && !strcmp(prov, "virtual") && stat(vs, &st) == 0) {
		found = vs;
		expl = xasprintf("No AMD SEV-SNP hardware is used: reports come from the virtual "
				 "SEV-SNP host at %s, signed by a local test key chain. The "
				 "attestation flow runs end to end, but everything it produces is "
				 "marked emulated and a production verifier never trusts it.",
				 vs);
	} else {
		for (size_t i = 0; i < NELEM(devs); i++)
			if (stat(devs[i], &st) == 0) {
				found = devs[i];
				break;
			}
		if (found)
			expl = xasprintf("AMD SEV-SNP device found at %s. Hardware attestation "
					 "should be available.%s",
					 found,
					 prov ? ""
					      : " (SNP_EVIDENCE does not select it, so this "
						"instance will not use it.)");
		else
			expl = xasprintf(
				"No AMD SEV-SNP device found (/dev/sev-guest, /dev/sev, "
				"/dev/sev0). "
				"This means the container is NOT running inside a Trusted "
				"Execution "
				"Environment (TEE). Hardware-based attestation is not possible. To "
				"enable attestation, deploy with the Confidential SKU on AMD "
				"SEV-SNP "
				"capable hardware%s.",
				vs ? ", or start the virtual SEV-SNP host for a local run" : "");
	}
	jsonx_add_bool(o, "available", found != NULL);
	jsonx_add_str(o, "device_path", found);
	jsonx_add(o, "device_info", found ? device_info(&st, found) : NULL);
	jsonx_add_str(o, "explanation", expl);
	free(expl);
	struct json_object *list = dev_listing();
	json_object_array_sort(list, cmp_str);
	jsonx_add(o, "dev_listing", list);
	jsonx_add_bool(o, "emulated", prov && !strcmp(prov, "virtual"));
	jsonx_add_str(o, "provider", prov);
	return o;
}
