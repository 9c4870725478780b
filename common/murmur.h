/*
 * murmur: MurmurHash3 x86 32-bit (Austin Appleby, public domain), the hash
 * that places (modid, cmdid) and the worker points on the ring.
 */
#ifndef LARS_MURMUR_H
#define LARS_MURMUR_H

#include <stddef.h>
#include <stdint.h>

uint32_t murmur3_32(const void *, size_t, uint32_t seed);

#endif
