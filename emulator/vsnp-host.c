/*
 * vsnp-host: the virtual SEV-SNP host, one per emulated confidential instance.
 *
 * It stands where the PSP firmware stands on real hardware: the host fixes every
 * launch-time field (measurement, host_data = SHA-256 of the CCE policy, chip id, TCB,
 * policy) on the command line, the guest supplies only report_data and a VMPL, and the
 * VCEK private key is read by this process alone.
 *
 * It serves many guests at once (emulator/lib/vsnp_server: one thread owns the sockets, a
 * few threads sign), so a slow or stuck client never delays another.  The wire protocol,
 * one request per connection on a Unix stream socket, is in vsnp_server.h:
 *   request  = "VSNP" + u32 LE vmpl + 64 bytes report_data           (72 bytes)
 *   response = u32 LE status (0 OK) + u32 LE length + length bytes
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "codec.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "pki.h"
#include "snp.h"
#include "util.h"
#include "vsnp.h"
#include "vsnp_server.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: vsnp-host --socket PATH --vcek-key FILE\n"
	        "                 (--host-data-file FILE | --host-data HEX64)\n"
	        "                 --measurement HEX96 --chip-id HEX128 --tcb HEX16\n"
	        "                 [--policy 0xHEX] [--guest-svn N] [--report-version N]\n"
	        "                 [--workers N]\n"
	        "Virtual SEV-SNP host (EMULATED, not AMD hardware): signs 1184-byte attestation\n"
	        "reports with the VCEK key for guests connecting to the Unix socket.\n"
	        "host_data is SHA-256 of --host-data-file (the CCE policy text) or --host-data.\n"
	        "--tcb is the tcbm form (reported_tcb as a LE u64 in 16 hex digits).\n"
	        "--workers: signing threads (default: one per online CPU, at most 8).\n");
}

static _Noreturn void bad_arg(const char *opt, const char *why)
{
	fprintf(stderr, "vsnp-host: %s: %s\n", opt, why);
	exit(2);
}

static void hex_arg(const char *opt, const char *s, uint8_t *out, size_t n)
{
	if (strlen(s) != 2 * n || hex_decode_fixed(s, out, n) < 0) {
		char why[64];
		snprintf(why, sizeof(why), "expected %zu hex digits", 2 * n);
		bad_arg(opt, why);
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"socket", required_argument, NULL, 's'},
	    {"vcek-key", required_argument, NULL, 'k'},
	    {"host-data-file", required_argument, NULL, 'f'},
	    {"host-data", required_argument, NULL, 'd'},
	    {"measurement", required_argument, NULL, 'm'},
	    {"chip-id", required_argument, NULL, 'c'},
	    {"tcb", required_argument, NULL, 't'},
	    {"policy", required_argument, NULL, 'p'},
	    {"guest-svn", required_argument, NULL, 'g'},
	    {"report-version", required_argument, NULL, 'v'},
	    {"workers", required_argument, NULL, 'w'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct vsnp_launch l = {.version = 3, .policy = 0x30000};
	const char *sock_path = NULL, *key_path = NULL;
	int have_hd = 0, have_meas = 0, have_chip = 0, have_tcb = 0, workers = 0, c;
	unsigned long ul;

	log_init("vsnp-host", config_env("LOG_FILE"), LOG_INFO);
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			sock_path = optarg;
			break;
		case 'k':
			key_path = optarg;
			break;
		case 'f': {
			struct buf b;
			buf_init(&b);
			if (read_file(optarg, 16 * 1024 * 1024, &b) < 0)
				bad_arg("--host-data-file", strerror(errno));
			SHA256(b.p, b.len, l.host_data);
			buf_free(&b);
			have_hd++;
			break;
		}
		case 'd':
			hex_arg("--host-data", optarg, l.host_data, sizeof(l.host_data));
			have_hd++;
			break;
		case 'm':
			hex_arg("--measurement", optarg, l.measurement, sizeof(l.measurement));
			have_meas = 1;
			break;
		case 'c':
			hex_arg("--chip-id", optarg, l.chip_id, sizeof(l.chip_id));
			have_chip = 1;
			break;
		case 't':
			if (snp_tcbm_parse(optarg, &l.tcb) < 0)
				bad_arg("--tcb", "expected 16 hex digits (tcbm form)");
			have_tcb = 1;
			break;
		case 'p': {
			char *end;
			errno = 0;
			unsigned long long v = strtoull(optarg, &end, 16);
			if (errno || end == optarg || *end || optarg[0] == '-')
				bad_arg("--policy", "expected a hex number such as 0x30000");
			if (!(v & (1ULL << 17)))
				bad_arg("--policy", "bit 17 (reserved, must be 1) is clear");
			l.policy = v;
			break;
		}
		case 'g':
			if (parse_ulong(optarg, 0, UINT32_MAX, &ul) < 0)
				bad_arg("--guest-svn", "expected a decimal number 0..4294967295");
			l.guest_svn = (uint32_t)ul;
			break;
		case 'v':
			if (parse_ulong(optarg, 2, 5, &ul) < 0)
				bad_arg("--report-version", "expected 2, 3 or 5");
			l.version = (uint32_t)ul;
			break;
		case 'w':
			if (parse_ulong(optarg, 1, 8, &ul) < 0)
				bad_arg("--workers", "expected a number of threads 1..8");
			workers = (int)ul;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc)
		bad_arg(argv[optind], "unexpected argument");
	if (!sock_path)
		bad_arg("--socket", "required");
	if (strlen(sock_path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		bad_arg("--socket", "path too long for a Unix socket");
	if (!key_path)
		bad_arg("--vcek-key", "required");
	if (have_hd != 1)
		bad_arg("--host-data", "give exactly one of --host-data-file or --host-data");
	if (!have_meas)
		bad_arg("--measurement", "required");
	if (!have_chip)
		bad_arg("--chip-id", "required");
	if (!have_tcb)
		bad_arg("--tcb", "required");

	struct err e = {0};
	EVP_PKEY *vcek = pki_load_private_key(key_path, &e);
	if (!vcek)
		bad_arg("--vcek-key", e.msg);

	struct stat st;
	if (lstat(sock_path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			bad_arg("--socket", "path exists and is not a socket");
		unlink(sock_path); /* stale socket from an earlier run */
	}
	int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(sock_path, 0666) < 0 || listen(lfd, 128) < 0) {
		log_error("cannot listen on %s: %s", sock_path, strerror(errno));
		EVP_PKEY_free(vcek);
		return 1;
	}

	struct sigaction sa_sig = {.sa_handler = on_signal}; /* no SA_RESTART: poll returns */
	sigemptyset(&sa_sig.sa_mask);
	sigaction(SIGTERM, &sa_sig, NULL);
	sigaction(SIGINT, &sa_sig, NULL);
	signal(SIGPIPE, SIG_IGN);

	char tcbm[17], *hd = hex_encode(l.host_data, sizeof(l.host_data));
	snp_tcbm_format(l.tcb, tcbm);
	log_info("EMULATED SEV-SNP host listening on %s (report v%u, tcb %s, policy 0x%llx, "
	         "host_data %s)",
	         sock_path, l.version, tcbm, (unsigned long long)l.policy, hd);
	free(hd);

	struct vsnp_server_cfg sc = {
	    .listen_fd = lfd, .launch = &l, .vcek = vcek, .workers = workers, .stop = &stop};
	int rc = vsnp_serve(&sc, &e);
	if (rc < 0)
		log_error("%s", e.msg);
	close(lfd);
	unlink(sock_path);
	EVP_PKEY_free(vcek);
	log_info("stopped");
	return rc < 0 ? 1 : 0;
}
