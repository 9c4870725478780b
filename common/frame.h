/*
 * frame: the Lars reactor's 8-byte header (int32 msgid, int32 msglen, both
 * little-endian) in front of a protobuf body of msglen bytes.
 *
 * frame_parse() looks at the start of a buffer and says whether a whole
 * frame is there, more bytes are needed, or the length is unusable.  It
 * keeps no state: the caller's buffer is the state, so a frame split at any
 * byte boundary parses the same as one delivered whole.
 */
#ifndef LARS_FRAME_H
#define LARS_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_HDR_LEN		8
#define FRAME_MAX_BODY		65527	/* the original reactor's limit */
#define FRAME_MSGID_REPORT	3	/* ID_ReportStatusRequest */

enum frame_status {
	FRAME_OK,		/* a whole frame: see struct frame */
	FRAME_SHORT,		/* need more bytes */
	FRAME_BADLEN,		/* msglen < 0 or > max_body: close */
};

struct frame {
	int32_t msgid;
	int32_t msglen;		/* valid from FRAME_SHORT on once 8 bytes */
	const uint8_t *body;
	size_t size;		/* header + body: bytes to consume */
};

enum frame_status frame_parse(const uint8_t *, size_t, size_t max_body,
    struct frame *);
void frame_put_header(uint8_t *, int32_t msgid, int32_t msglen);

#endif
