/*
 * murmur: MurmurHash3_x86_32, written from the published algorithm.
 * Blocks are read little-endian so the hash is the same on every host.
 */
#include "murmur.h"

static uint32_t
murmur_rotl(uint32_t x, int r)
{
	return (x << r) | (x >> (32 - r));
}

static uint32_t
murmur_mix(uint32_t k)
{
	k *= 0xcc9e2d51;
	k = murmur_rotl(k, 15);
	return k * 0x1b873593;
}

uint32_t
murmur3_32(const void *key, size_t len, uint32_t seed)
{
	const uint8_t *p = key;
	uint32_t h = seed, k;
	size_t i, nblocks = len / 4;

	for (i = 0; i < nblocks; i++, p += 4) {
		k = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
		    (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
		h ^= murmur_mix(k);
		h = murmur_rotl(h, 13);
		h = h * 5 + 0xe6546b64;
	}
	k = 0;
	switch (len & 3) {
	case 3:
		k ^= (uint32_t)p[2] << 16;
		/* FALLTHROUGH */
	case 2:
		k ^= (uint32_t)p[1] << 8;
		/* FALLTHROUGH */
	case 1:
		k ^= p[0];
		h ^= murmur_mix(k);
	}
	h ^= (uint32_t)len;
	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return h;
}
