/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_broker_exec - the exec plugin (plugins/exec.c) behind a real broker,
 * through the vAccel API, over the transport ACCELRING_TEST_TRANSPORT names:
 * vaccel_exec of the test library's functions (tests/plugins/exec_lib.h) on
 * exec-allow, vaccel_exec_with_resource of the same library shipped as a LIB
 * resource and allowed by its SHA-256 on exec-allow-sha256, and every way to
 * be refused (EPERM with the reason in the broker's log).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <accelring/client.h>
#include <accelring/optable.h>
#include <vaccel.h>

#include "broker_harness.h"
#include "exec_lib.h"

static struct test_broker broker;
static char tmpdir[64], dir_allowed[128], link_out[256], lib_copy[256], missing[256];
static char sha_hex[65];

/* The test library's SHA-256, as `sha256sum` prints it. */
static void file_sha256(const char *path, char *out)
{
	static const char digits[] = "0123456789abcdef";
	uint8_t buf[65536], md[32];
	unsigned int n = 0;
	EVP_MD_CTX *x = EVP_MD_CTX_new();
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t k;

	if (!x || fd < 0 || !EVP_DigestInit_ex(x, EVP_sha256(), NULL))
		abort();
	while ((k = read(fd, buf, sizeof(buf))) > 0)
		EVP_DigestUpdate(x, buf, (size_t)k);
	EVP_DigestFinal_ex(x, md, &n);
	EVP_MD_CTX_free(x);
	close(fd);
	for (int i = 0; i < 32; i++) {
		out[2 * i] = digits[md[i] >> 4];
		out[2 * i + 1] = digits[md[i] & 15];
	}
	out[64] = '\0';
}

static int copy_file(const char *from, const char *to, bool extra_byte)
{
	char buf[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC), out;
	ssize_t k;

	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	if (in < 0 || out < 0)
		return -1;
	while ((k = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)k) != k)
			return -1;
	if (extra_byte && write(out, "", 1) != 1)
		return -1;
	close(in);
	return close(out);
}

static int setup(void **state)
{
	static char allow[2048], allow_sha[256];
	const char *args[] = { "--plugins=exec:noop", allow, allow_sha, NULL };

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/accelring-exec.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	/* An allowed directory holding a link that leads out of it. */
	snprintf(dir_allowed, sizeof(dir_allowed), "%s/allowed", tmpdir);
	snprintf(link_out, sizeof(link_out), "%s/libout.so", dir_allowed);
	snprintf(missing, sizeof(missing), "%s/libmissing.so", dir_allowed);
	/* A copy of the library, one byte longer: another SHA-256. */
	snprintf(lib_copy, sizeof(lib_copy), "%s/libcopy.so", tmpdir);
	if (mkdir(dir_allowed, 0755) || copy_file(AR_TEST_EXEC_LIB, lib_copy, true) ||
	    symlink(lib_copy, link_out))
		return -1;
	file_sha256(AR_TEST_EXEC_LIB, sha_hex);
	snprintf(allow, sizeof(allow),
		 "--exec-allow=%s:ar_test_checksum,ar_test_count,ar_test_fail,ar_test_noop;%s/:*",
		 AR_TEST_EXEC_LIB, dir_allowed);
	snprintf(allow_sha, sizeof(allow_sha), "--exec-allow-sha256=%s:ar_test_checksum",
		 sha_hex);
	return test_broker_start(&broker, args);
}

static int teardown(void **state)
{
	(void)state;
	unlink(link_out);
	unlink(lib_copy);
	rmdir(dir_allowed);
	rmdir(tmpdir);
	return test_broker_stop(&broker);
}

static struct vaccel_arg arg(void *buf, size_t size, vaccel_arg_type_t type, uint32_t id)
{
	return (struct vaccel_arg){ .buf = buf, .size = size, .type = type,
				    .custom_type_id = id };
}

/* ar_test_checksum on n bytes through lib (or through res), checked. */
static int checksum(struct vaccel_session *s, const char *lib, struct vaccel_resource *res,
		    const char *sym, size_t n, bool check)
{
	uint8_t *data = malloc(n);
	struct ar_test_exec_in in = { .seed = 0x1234, .rounds = 3 };
	struct ar_test_exec_out out = { 0 };
	uint64_t sum = 0;
	uint32_t nonzero = 0;
	struct vaccel_arg rd[2], wr[2];
	int ret;

	assert_non_null(data);
	for (size_t i = 0; i < n; i++) {
		data[i] = (uint8_t)(i * 13 + (i >> 9));
		nonzero += data[i] != 0;
	}
	rd[0] = arg(data, n, VACCEL_ARG_BUFFER, 0);
	rd[1] = arg(&in, sizeof(in), VACCEL_ARG_CUSTOM, AR_TEST_EXEC_IN_ID);
	wr[0] = arg(&sum, sizeof(sum), VACCEL_ARG_UINT64, 0);
	wr[1] = arg(&out, sizeof(out), VACCEL_ARG_RAW, 0);
	ret = res ? vaccel_exec_with_resource(s, res, sym, rd, 2, wr, 2)
		  : vaccel_exec(s, lib, sym, rd, 2, wr, 2);
	if (!ret && check) {
		assert_true(sum == ar_test_exec_expect(data, n, in.seed, in.rounds));
		assert_int_equal(out.bytes, n);
		assert_int_equal(out.nonzero, nonzero);
		assert_int_equal(out.type_seen, VACCEL_ARG_BUFFER);
	}
	free(data);
	return ret;
}

/* Listed functions run and compute; small and large (staged) inputs. */
static void test_exec_allowed_runs(void **state)
{
	struct vaccel_session s;

	(void)state;
	assert_int_equal(vaccel_session_init(&s, 0), 0);
	assert_int_equal(checksum(&s, AR_TEST_EXEC_LIB, NULL, "ar_test_checksum", 100, true), 0);
	assert_int_equal(checksum(&s, AR_TEST_EXEC_LIB, NULL, "ar_test_checksum", 3 << 20, true),
			 0);
	{
		uint32_t w[4] = { 0 }, r2 = 40;
		struct vaccel_arg rd[3] = { arg(&r2, 4, VACCEL_ARG_UINT32, 0),
					    arg(&r2, 4, VACCEL_ARG_UINT32, 0),
					    arg(&r2, 4, VACCEL_ARG_UINT32, 2) };
		struct vaccel_arg wr[4];

		for (int i = 0; i < 4; i++)
			wr[i] = arg(&w[i], 4, VACCEL_ARG_UINT32, 0);
		assert_int_equal(vaccel_exec(&s, AR_TEST_EXEC_LIB, "ar_test_count", rd, 3, wr, 4),
				 0);
		assert_int_equal(w[0], 3);
		assert_int_equal(w[1], 4);
		assert_int_equal(w[2], 42);
		assert_int_equal(w[3], 0xffffffffu);
	}
	/* A function's failure is the op's: ENOEXEC, the code in the log. */
	assert_int_equal(vaccel_exec(&s, AR_TEST_EXEC_LIB, "ar_test_fail", NULL, 0, NULL, 0),
			 VACCEL_ENOEXEC);
	assert_true(test_broker_logged(&broker, "ar_test_fail"));
	assert_int_equal(vaccel_session_release(&s), 0);
}

/* Everything not listed: EPERM with the reason; missing: ENOENT. */
static void test_exec_refused(void **state)
{
	char dotdot[512];
	struct vaccel_session s;

	(void)state;
	snprintf(dotdot, sizeof(dotdot), "%s/../allowed/../libcopy.so", dir_allowed);
	assert_int_equal(vaccel_session_init(&s, 0), 0);
	/* A symbol not listed for a listed library. */
	assert_int_equal(checksum(&s, AR_TEST_EXEC_LIB, NULL, "ar_test_hidden", 8, false),
			 VACCEL_EPERM);
	assert_true(test_broker_logged(&broker, "symbol ar_test_hidden is not on exec-allow"));
	/* A relative path, and one through "..". */
	assert_int_equal(checksum(&s, "libartest-exec.so", NULL, "ar_test_checksum", 8, false),
			 VACCEL_EPERM);
	assert_true(test_broker_logged(&broker, "not an absolute path"));
	assert_int_equal(checksum(&s, dotdot, NULL, "ar_test_checksum", 8, false), VACCEL_EPERM);
	/* A library not listed (libc's system, a real host function). */
	assert_int_equal(vaccel_exec(&s, "/lib/x86_64-linux-gnu/libc.so.6", "system", NULL, 0,
				     NULL, 0), VACCEL_EPERM);
	assert_int_equal(checksum(&s, lib_copy, NULL, "ar_test_checksum", 8, false),
			 VACCEL_EPERM);
	/* A link inside an allowed directory that leads out of it (to a
	 * library listed nowhere). */
	assert_int_equal(checksum(&s, link_out, NULL, "ar_test_checksum", 8, false),
			 VACCEL_EPERM);
	/* Missing under an allowed directory. */
	assert_int_equal(checksum(&s, missing, NULL, "ar_test_checksum", 8, false),
			 VACCEL_ENOENT);
	/* And the broker serves on. */
	assert_int_equal(vaccel_noop(&s), 0);
	assert_true(test_broker_alive(&broker));
	assert_int_equal(vaccel_session_release(&s), 0);
}

/* The library shipped as a resource runs from its memfd when its hash is
 * listed; another library's bytes (one byte more), or a symbol not listed
 * for the hash, is EPERM, naming the hash. */
static void test_exec_with_resource(void **state)
{
	struct vaccel_resource lib, other;
	struct vaccel_session s;
	char reason[128];

	(void)state;
	assert_int_equal(vaccel_session_init(&s, 0), 0);
	assert_int_equal(vaccel_resource_init(&lib, AR_TEST_EXEC_LIB, VACCEL_RESOURCE_LIB), 0);
	assert_int_equal(vaccel_resource_init(&other, lib_copy, VACCEL_RESOURCE_LIB), 0);
	assert_int_equal(vaccel_resource_register(&lib, &s), 0);
	assert_int_equal(vaccel_resource_register(&other, &s), 0);
	assert_int_equal(checksum(&s, NULL, &lib, "ar_test_checksum", 5000, true), 0);
	assert_int_equal(checksum(&s, NULL, &lib, "ar_test_checksum", 2 << 20, true), 0);
	assert_int_equal(checksum(&s, NULL, &lib, "ar_test_count", 8, false), VACCEL_EPERM);
	assert_int_equal(checksum(&s, NULL, &other, "ar_test_checksum", 8, false), VACCEL_EPERM);
	{
		char sha[65];

		file_sha256(lib_copy, sha);
		snprintf(reason, sizeof(reason), "library sha256 %s is not on exec-allow-sha256",
			 sha);
		assert_true(test_broker_logged(&broker, reason));
	}
	assert_int_equal(vaccel_resource_unregister(&other, &s), 0);
	assert_int_equal(vaccel_resource_unregister(&lib, &s), 0);
	assert_int_equal(vaccel_resource_release(&other), 0);
	assert_int_equal(vaccel_resource_release(&lib), 0);
	assert_int_equal(vaccel_session_release(&s), 0);
}

/* A broker without the settings: exec is off (native API: this process's
 * vAccel sessions are bound to the first broker). */
static void test_exec_off_by_default(void **state)
{
	const char *args[] = { "--plugins=noop:exec", NULL };
	struct ar_res_piece pc = { .name = "libartest-exec.so" };
	struct test_broker b2;
	struct ar_client *c;
	struct ar_queue *q;
	struct ar_res_file f;
	struct ar_cqe cqe;
	uint64_t bytes, id;
	uint32_t sid;
	struct stat st;
	int fd;

	(void)state;
	assert_int_equal(test_broker_start(&b2, args), 0);
	assert_int_equal(ar_client_connect(b2.address, &c), 0);
	assert_int_equal(ar_queue_get(c, &q), 0);
	assert_int_equal(ar_session_open(q, 0, &sid), 0);
	assert_int_equal(ar_submit_generic(q, sid, AR_OP_EXEC, AR_TEST_EXEC_LIB, "ar_test_noop",
					   NULL, 0, NULL, 0, 1), 0);
	assert_int_equal(ar_wait(q, &cqe, 1, 1, -1), 1);
	assert_int_equal(cqe.status, -EPERM);
	assert_true(test_broker_logged(&b2, "exec-allow is empty"));
	pc.fd = open(AR_TEST_EXEC_LIB, O_RDONLY | O_CLOEXEC);
	assert_true(pc.fd >= 0);
	assert_int_equal(fstat(pc.fd, &st), 0);
	pc.size = (uint64_t)st.st_size;
	fd = ar_resource_pack(&pc, 1, &f, &bytes);
	close(pc.fd);
	assert_true(fd >= 0);
	assert_int_equal(ar_resource_register(q, sid, VACCEL_RESOURCE_LIB, fd, bytes, &f, 1, &id),
			 0);
	close(fd);
	assert_int_equal(ar_submit_resource_op(q, sid, AR_OP_EXEC_WITH_RESOURCE, id,
					       "ar_test_noop", NULL, 0, NULL, 0, 2), 0);
	assert_int_equal(ar_wait(q, &cqe, 1, 1, -1), 1);
	assert_int_equal(cqe.status, -EPERM);
	assert_true(test_broker_logged(&b2, "exec-allow-sha256 is"));
	ar_client_close(c);
	assert_int_equal(test_broker_stop(&b2), 0);
	setenv("ACCELRING_ADDRESS", broker.address, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exec_allowed_runs),
		cmocka_unit_test(test_exec_refused),
		cmocka_unit_test(test_exec_with_resource),
		cmocka_unit_test(test_exec_off_by_default),
	};

	if (getenv("ACCELRING_TEST_FILTER"))
		cmocka_set_test_filter(getenv("ACCELRING_TEST_FILTER"));
	return cmocka_run_group_tests_name("broker_exec", tests, setup, teardown);
}
