/* SPDX-License-Identifier: Apache-2.0 */
/*
 * logging - vAccel's log macros and where their lines land. Run with
 * VACCEL_LOG_FILE=PATH and VACCEL_LOG_LEVEL=N (1 error .. 4 debug): the
 * program logs one line at each level, shuts logging down (which closes the
 * file), and checks that exactly the lines at or below level N are in it.
 *
 * A plain vAccel program: only <vaccel.h>. Exit status 0 when every check
 * passed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vaccel.h>

static const char *const names[] = { "error", "warn", "info", "debug" };

/* Whether the file at path holds a line containing s. */
static int file_has(const char *path, const char *s)
{
	char line[1024];
	FILE *f = fopen(path, "r");
	int found = 0;

	if (!f)
		return -1;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, s) != NULL;
	fclose(f);
	return found;
}

int main(void)
{
	const char *path = getenv("VACCEL_LOG_FILE");
	const char *lvl = getenv("VACCEL_LOG_LEVEL");
	int level = lvl ? atoi(lvl) : 0, failures = 0;
	char marks[4][96];

	if (!path || !*path || level < 1 || level > 4) {
		fprintf(stderr, "run with VACCEL_LOG_FILE=PATH VACCEL_LOG_LEVEL=1..4\n");
		return 2;
	}
	for (int i = 0; i < 4; i++)
		snprintf(marks[i], sizeof(marks[i]), "logging example %s line, pid %ld",
			 names[i], (long)getpid());
	vaccel_error("%s", marks[0]);
	vaccel_warn("%s", marks[1]);
	vaccel_info("%s", marks[2]);
	vaccel_debug("%s", marks[3]);
	if (vaccel_log_shutdown() != VACCEL_OK) {
		fprintf(stderr, "FAIL: vaccel_log_shutdown\n");
		failures++;
	}

	for (int i = 0; i < 4; i++) {
		int want = i + 1 <= level, got = file_has(path, marks[i]);

		printf("%-5s line %s %s\n", names[i], got > 0 ? "in" : "not in", path);
		if (got < 0) {
			fprintf(stderr, "FAIL: cannot read %s\n", path);
			failures++;
			break;
		}
		if (got != want) {
			fprintf(stderr, "FAIL: the %s line is%s in the log at level %d\n",
				names[i], got ? "" : " not", level);
			failures++;
		}
	}
	printf("logging: %s\n", failures ? "FAILED" : "ok");
	return failures ? 1 : 0;
}
