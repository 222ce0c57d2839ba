/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sessions: each is opened on the broker, whose id is remote_id.
 * (Interim: init/release/new/delete; the full group is being written.)
 */
#include <stdlib.h>
#include <string.h>

#include "vaccel_pvt.h"

int ar__vaccel_session_remote(const struct vaccel_session *sess, uint32_t *id)
{
	if (!sess || sess->remote_id <= 0)
		return -EINVAL;
	*id = (uint32_t)sess->remote_id;
	return 0;
}

AR_VISIBLE int vaccel_session_init(struct vaccel_session *sess, uint32_t flags)
{
	static _Atomic vaccel_id_t next_id = 1;
	uint32_t id;
	int ret;

	if (!sess)
		return VACCEL_EINVAL;
	ret = ar__vaccel_session_open(flags, &id);
	if (ret)
		return ar__vaccel_err(ret);
	memset(sess, 0, sizeof(*sess));
	sess->id = next_id++;
	sess->remote_id = id;
	sess->hint = flags;
	return 0;
}

AR_VISIBLE int vaccel_session_release(struct vaccel_session *sess)
{
	uint32_t id;
	int ret;

	if (ar__vaccel_session_remote(sess, &id))
		return VACCEL_EINVAL;
	ret = ar__vaccel_session_close(id);
	sess->remote_id = 0;
	sess->id = 0;
	return ar__vaccel_err(ret);
}

AR_VISIBLE int vaccel_session_new(struct vaccel_session **sess, uint32_t flags)
{
	struct vaccel_session *s;
	int ret;

	if (!sess)
		return VACCEL_EINVAL;
	s = malloc(sizeof(*s));
	if (!s)
		return VACCEL_ENOMEM;
	ret = vaccel_session_init(s, flags);
	if (ret) {
		free(s);
		return ret;
	}
	*sess = s;
	return 0;
}

AR_VISIBLE int vaccel_session_delete(struct vaccel_session *sess)
{
	int ret = vaccel_session_release(sess);

	free(sess);
	return ret;
}
