/*
 * frame: parse and build the Lars 8-byte frame header; see frame.h.
 */
#include <string.h>

#include "frame.h"

static int32_t
frame_get_le32(const uint8_t *p)
{
	return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 |
	    (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
}

static void
frame_put_le32(uint8_t *p, int32_t v)
{
	uint32_t u = (uint32_t)v;

	p[0] = u & 0xff;
	p[1] = (u >> 8) & 0xff;
	p[2] = (u >> 16) & 0xff;
	p[3] = (u >> 24) & 0xff;
}

enum frame_status
frame_parse(const uint8_t *buf, size_t len, size_t max_body, struct frame *f)
{
	memset(f, 0, sizeof(*f));
	if (len < FRAME_HDR_LEN)
		return FRAME_SHORT;
	f->msgid = frame_get_le32(buf);
	f->msglen = frame_get_le32(buf + 4);
	if (f->msglen < 0 || (size_t)f->msglen > max_body)
		return FRAME_BADLEN;
	f->size = FRAME_HDR_LEN + (size_t)f->msglen;
	if (len < f->size)
		return FRAME_SHORT;
	f->body = buf + FRAME_HDR_LEN;
	return FRAME_OK;
}

void
frame_put_header(uint8_t *p, int32_t msgid, int32_t msglen)
{
	frame_put_le32(p, msgid);
	frame_put_le32(p + 4, msglen);
}
