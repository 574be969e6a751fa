/*
 * String interning for the store's columns.
 *
 * Access logs repeat themselves: a few thousand user agents, some tens of
 * thousands of paths, one address per client.  Keeping each distinct
 * string once and a 4-byte id per row is what makes the store compact,
 * and it lets the query engine group and count by integer.
 *
 * The table is open addressing with linear probing, kept at most half
 * full.  Each slot keeps the id and, beside it, 32 bits of the hash so a
 * probe rarely has to touch the arena.  Strings are appended to one arena
 * and never move relative to its start, so an id's (offset, length) is
 * stable while the arena grows by realloc.
 */
#include <stdlib.h>
#include <string.h>

#include "anomaly.h"

#define OFF_SHIFT 20
#define LEN_MASK ((1ull << OFF_SHIFT) - 1)

/*
 * A 64-bit hash over 8-byte words: multiply-xorshift mixing, good enough
 * for a hash table (not for adversaries who can see the table; the
 * probe length is bounded by the load factor and the cost of a bad chain
 * is one memcmp per entry, and the per-run random seed keeps crafted
 * collisions from being precomputed).
 */
static uint64_t intern_seed = 0x9e3779b97f4a7c15ull;

static inline uint64_t
mix64(uint64_t x)
{
	x ^= x >> 32;
	x *= 0xd6e8feb86659fd93ull;
	x ^= x >> 32;
	x *= 0xd6e8feb86659fd93ull;
	x ^= x >> 32;
	return x;
}

static inline uint64_t
hash_bytes(const char *p, size_t n)
{
	uint64_t h = intern_seed ^ (n * 0x9fb21c651e98df25ull);
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
		h ^= h >> 29;
	}
	if (i < n) {
		uint64_t w = 0;
		memcpy(&w, p + i, n - i);
		h = (h ^ w) * 0x94d049bb133111ebull;
	}
	return mix64(h);
}

static void
intern_rehash(struct intern *t, size_t nslots)
{
	uint32_t *slots = xcalloc(nslots, sizeof(*slots));
	uint32_t *hashes = xcalloc(nslots, sizeof(*hashes));
	size_t mask = nslots - 1;

	for (size_t i = 0; i < t->nslots; i++) {
		if (t->slots[i] == 0)
			continue;
		size_t j = t->hashes[i] & mask;
		while (slots[j] != 0)
			j = (j + 1) & mask;
		slots[j] = t->slots[i];
		hashes[j] = t->hashes[i];
	}
	free(t->slots);
	free(t->hashes);
	t->slots = slots;
	t->hashes = hashes;
	t->nslots = nslots;
}

void
intern_init(struct intern *t)
{
	static int seeded;

	if (!seeded) {
		/* Per-process seed: crafted collisions can't be precomputed. */
		intern_seed ^= (uint64_t)clock_wall_ns() * 0x2545f4914f6cdd1dull;
		seeded = 1;
	}
	memset(t, 0, sizeof(*t));
	t->nslots = 1024;
	t->slots = xcalloc(t->nslots, sizeof(*t->slots));
	t->hashes = xcalloc(t->nslots, sizeof(*t->hashes));
	t->cap = 512;
	t->offs = xcalloc(t->cap, sizeof(*t->offs));
	t->arena_cap = 4096;
	t->arena = xmalloc(t->arena_cap);
	/* id 0: the empty string, so "absent" needs no special case. */
	t->offs[0] = 0;
	t->n = 1;
}

void
intern_release(struct intern *t)
{
	free(t->slots);
	free(t->hashes);
	free(t->offs);
	free(t->arena);
	memset(t, 0, sizeof(*t));
}

static inline int
slot_matches(const struct intern *t, uint32_t id, const char *p, size_t n)
{
	uint64_t o = t->offs[id];

	return (o & LEN_MASK) == n &&
	    memcmp(t->arena + (o >> OFF_SHIFT), p, n) == 0;
}

uint32_t
intern_find(const struct intern *t, const char *p, size_t n)
{
	if (n == 0)
		return 0;
	if (n > INTERN_MAX_LEN)
		n = INTERN_MAX_LEN;
	uint64_t h = hash_bytes(p, n);
	uint32_t h32 = (uint32_t)h;
	size_t mask = t->nslots - 1;
	size_t j = h32 & mask;

	while (t->slots[j] != 0) {
		if (t->hashes[j] == h32 &&
		    slot_matches(t, t->slots[j] - 1, p, n))
			return t->slots[j] - 1;
		j = (j + 1) & mask;
	}
	return UINT32_MAX;
}

uint32_t
intern_add(struct intern *t, const char *p, size_t n)
{
	if (n == 0)
		return 0;
	if (n > INTERN_MAX_LEN)
		n = INTERN_MAX_LEN;
	/*
	 * Consecutive rows often share a value (one host, a client's
	 * session with one user agent and referer): compare with the last
	 * string before hashing.
	 */
	if (t->last != 0 && slot_matches(t, t->last, p, n))
		return t->last;
	uint64_t h = hash_bytes(p, n);
	uint32_t h32 = (uint32_t)h;
	size_t mask = t->nslots - 1;
	size_t j = h32 & mask;

	while (t->slots[j] != 0) {
		if (t->hashes[j] == h32 &&
		    slot_matches(t, t->slots[j] - 1, p, n))
			return t->last = t->slots[j] - 1;
		j = (j + 1) & mask;
	}
	if (t->n >= UINT32_MAX - 2)
		fatalx("intern: more than 4 billion distinct strings");
	/* New string. */
	if (t->n == t->cap) {
		t->cap *= 2;
		t->offs = xreallocarray(t->offs, t->cap, sizeof(*t->offs));
	}
	if (t->arena_len + n > t->arena_cap) {
		size_t cap = t->arena_cap;
		while (cap < t->arena_len + n)
			cap *= 2;
		if (cap >= (1ull << (64 - OFF_SHIFT)))
			fatalx("intern: arena too large");
		t->arena = xrealloc(t->arena, cap);
		t->arena_cap = cap;
	}
	memcpy(t->arena + t->arena_len, p, n);
	uint32_t id = (uint32_t)t->n++;
	t->offs[id] = ((uint64_t)t->arena_len << OFF_SHIFT) | n;
	t->arena_len += n;
	t->slots[j] = id + 1;
	t->hashes[j] = h32;
	if (t->n * 2 > t->nslots)
		intern_rehash(t, t->nslots * 2);
	t->last = id;
	return id;
}

struct span
intern_get(const struct intern *t, uint32_t id)
{
	struct span s = { "", 0 };

	if (id == 0 || id >= t->n)
		return s;
	uint64_t o = t->offs[id];
	s.p = t->arena + (o >> OFF_SHIFT);
	s.n = (size_t)(o & LEN_MASK);
	return s;
}

size_t
intern_count(const struct intern *t)
{
	return t->n;
}

size_t
intern_memory(const struct intern *t)
{
	return t->nslots * (sizeof(*t->slots) + sizeof(*t->hashes)) +
	    t->cap * sizeof(*t->offs) + t->arena_cap;
}
