/*
 * evidence_ioctl: the two kernel interfaces of an SEV-SNP guest.
 *
 *   sev-guest  /dev/sev-guest, SNP_GET_REPORT ioctl (Linux >= 6.x)
 *   sev        /dev/sev, SEV_SNP_GUEST_MSG_REPORT ioctl (older 5.x SNP kernels)
 *
 * Reports are always requested at VMPL 0.  Only sizes and status words are
 * checked here, not signatures (that is the verifier's job).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "evidence.h"

#define DEV_SEV_GUEST "/dev/sev-guest"
#define DEV_SEV       "/dev/sev"

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

#define SNP_RESP_SIZE       4000
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

#define SNP_GET_REPORT           _IOWR('S', 0x0, struct snp_guest_request_ioctl)
#define SEV_SNP_GUEST_MSG_REPORT _IOWR('S', 0x1, struct sev_snp_guest_request)
#define SNP_MSG_REPORT_REQ       5
#define SNP_MSG_REPORT_RSP       6
#define SEV_OLD_RESP_LEN         1280

_Static_assert(sizeof(struct snp_report_req) == 96, "MSG_REPORT_REQ is 96 bytes");
_Static_assert(sizeof(struct snp_guest_request_ioctl) == 32, "snp_guest_request_ioctl is 32 bytes");
_Static_assert(sizeof(struct sev_snp_guest_request) == 40, "sev_snp_guest_request is 40 bytes");
_Static_assert(SNP_GET_REPORT == 0xC0205300u, "SNP_GET_REPORT number");
_Static_assert(SEV_SNP_GUEST_MSG_REPORT == 0xC0285301u, "SEV_SNP_GUEST_MSG_REPORT number");
_Static_assert(SNP_RESP_REPORT_OFF + SNP_REPORT_SIZE <= SEV_OLD_RESP_LEN, "report fits");

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
		    "cannot open %s: %s (errno %d): the SEV-SNP guest driver is not loaded", path,
		    strerror(en), en);
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

static uint32_t le32(const uint8_t *p);

/* Check MSG_REPORT_RSP and copy the report out (PROTOCOLS.md §2.1). */
static int take_report(const uint8_t *resp, const char *dev, uint8_t out[SNP_REPORT_SIZE],
                       struct err *e)
{
	uint32_t status = le32(resp), size = le32(resp + 4);
	if (status != 0)
		return err_set(
		    e, ERR_UPSTREAM,
		    "the SEV-SNP firmware refused the report request via %s: status 0x%x%s", dev,
		    status, status == 0x16 ? " (INVALID_PARAM)" : "");
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

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int is_char_dev(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISCHR(st.st_mode);
}

static int sev_guest_present(void)
{
	return is_char_dev(DEV_SEV_GUEST);
}

static int sev_present(void)
{
	return is_char_dev(DEV_SEV);
}

const struct evidence_provider evidence_sev_guest = {
    "sev-guest",   EVIDENCE_SEV_GUEST, &tee_sev_snp,     0,
    DEV_SEV_GUEST, sev_guest_present,  sev_guest_report,
};
const struct evidence_provider evidence_sev = {
    "sev", EVIDENCE_SEV, &tee_sev_snp, 0, DEV_SEV, sev_present, sev_report,
};
