/* SPDX-License-Identifier: Apache-2.0 */
/* test_vaccel_prof: being written. */
int main(void)
{
	return 77;
}
