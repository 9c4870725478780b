/*
 * test_murmur: murmur3_32() is MurmurHash3_x86_32.
 *
 * The vectors are the ones collected in the answer by Ian Boyd to
 * "MurmurHash3 test vectors" (stackoverflow.com/questions/14747343), and
 * SMHasher's own verification value for MurmurHash3_x86_32, 0xB0F57EE3
 * (smhasher/src/main.cpp, computed as in its VerificationTest() in
 * KeysetTest.cpp).  All were re-checked against an independent
 * implementation of the algorithm before they went in here.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "murmur.h"
#include "tap.h"

struct vector {
	const char *name;
	const char *key;
	size_t len;
	uint32_t seed;
	uint32_t hash;
};

#define V(k, s, h)	{ #k, k, sizeof(k) - 1, s, h }

static const struct vector vectors[] = {
	V("", 0, 0),
	V("", 1, 0x514E28B7),
	V("", 0xffffffff, 0x81F16F39),
	V("\xff\xff\xff\xff", 0, 0x76293B50),
	V("\x21\x43\x65\x87", 0, 0xF55B516B),
	V("\x21\x43\x65\x87", 0x5082EDEE, 0x2362F9DE),
	V("\x21\x43\x65", 0, 0x7E4A8634),
	V("\x21\x43", 0, 0xA0F7B07A),
	V("\x21", 0, 0x72661CF4),
	V("\0\0\0\0", 0, 0x2362F9DE),
	V("\0\0\0", 0, 0x85F0B427),
	V("\0\0", 0, 0x30F4C306),
	V("\0", 0, 0x514E28B7),
	V("aaaa", 0x9747b28c, 0x5A97808A),
	V("aaa", 0x9747b28c, 0x283E0130),
	V("aa", 0x9747b28c, 0x5D211726),
	V("a", 0x9747b28c, 0x7FA09EA6),
	V("abcd", 0x9747b28c, 0xF0478627),
	V("abc", 0x9747b28c, 0xC84A62DD),
	V("ab", 0x9747b28c, 0x74875592),
	V("Hello, world!", 0x9747b28c, 0x24884CBA),
	/* "ππππππππ" in UTF-8 */
	V("\xcf\x80\xcf\x80\xcf\x80\xcf\x80\xcf\x80\xcf\x80\xcf\x80\xcf\x80",
	    0x9747b28c, 0xD58063C1),
	V("abc", 0, 0xB3DD93FA),
	V("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 0,
	    0xEE925B90),
	V("The quick brown fox jumps over the lazy dog", 0x9747b28c,
	    0x2FA826CD),
};

static void test_vectors(void);
static void test_long_key(void);
static void test_smhasher(void);
static void test_unaligned(void);

static void
test_vectors(void)
{
	size_t i;

	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const struct vector *v = &vectors[i];
		char *copy;

		/* An exact-size heap copy: an over-read shows in ASan. */
		copy = malloc(v->len ? v->len : 1);
		if (copy == NULL)
			abort();
		memcpy(copy, v->key, v->len);
		is_uint(murmur3_32(copy, v->len, v->seed), v->hash,
		    "%s seed 0x%08x", v->name, (unsigned)v->seed);
		free(copy);
	}
}

static void
test_long_key(void)
{
	char key[256];

	memset(key, 'a', sizeof(key));
	is_uint(murmur3_32(key, sizeof(key), 0x9747b28c), 0x37405BDC,
	    "256 x 'a' seed 0x9747b28c");
}

/*
 * SMHasher's VerificationTest: hash the keys {}, {0}, {0,1}, ...,
 * {0..254} with seed 256 - length, concatenate the hashes (little-endian)
 * and hash that with seed 0.
 */
static void
test_smhasher(void)
{
	uint8_t key[256], hashes[256 * 4];
	uint32_t h;
	int i;

	for (i = 0; i < 256; i++) {
		key[i] = (uint8_t)i;
		h = murmur3_32(key, (size_t)i, 256 - (uint32_t)i);
		hashes[i * 4] = h & 0xff;
		hashes[i * 4 + 1] = (h >> 8) & 0xff;
		hashes[i * 4 + 2] = (h >> 16) & 0xff;
		hashes[i * 4 + 3] = (h >> 24) & 0xff;
	}
	is_uint(murmur3_32(hashes, sizeof(hashes), 0), 0xB0F57EE3,
	    "SMHasher verification value");
}

/* The ring hashes keys at any address: the result must not depend on it. */
static void
test_unaligned(void)
{
	static const char text[] = "The quick brown fox jumps over the lazy dog";
	char buf[sizeof(text) + 8];
	size_t off;
	int same = 1;

	for (off = 0; off < 8; off++) {
		memcpy(buf + off, text, sizeof(text) - 1);
		if (murmur3_32(buf + off, sizeof(text) - 1, 0x9747b28c) !=
		    0x2FA826CD) {
			diag("offset %zu differs", off);
			same = 0;
		}
	}
	ok(same, "same hash at every alignment");
}

int
main(void)
{
	test_vectors();
	test_long_key();
	test_smhasher();
	test_unaligned();
	return done_testing();
}
