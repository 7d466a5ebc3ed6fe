/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fuzz target: arbitrary bytes as what the endpoint mapper sent on TCP 135
 * → the stream parser (in segments whose sizes the first byte picks), and
 * the stub and tower parsers directly.  Must never crash, leak, hang or read
 * past the input (run under ASan+UBSan), and never report more towers than
 * the bound or a port 0.
 *
 * Built with clang -fsanitize=fuzzer it is a libFuzzer target.  Built
 * normally (the `fuzz` suite) main() replays the captured Samba replies given
 * on the command line and a bounded number of deterministic, binary-aware
 * mutations of each: byte flips, cuts, and length fields (16 and 32 bits,
 * both byte orders) set to boundary values.
 */
#include <assert.h>

#include "dcerpc.h"
#include "fuzz-replay.h"

static void check_reply(const struct pst_dcerpc_ept_map *m, void *userdata) {
        size_t *towers = userdata;

        assert(m->n_towers <= PST_DCERPC_MAX_TOWERS);
        for (size_t i = 0; i < m->n_towers; i++)
                assert(m->towers[i].port != 0);
        *towers += m->n_towers;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(pst_dcerpc_stream_freep) struct pst_dcerpc_stream *s = NULL;
        struct pst_dcerpc_ept_map m;
        struct pst_dcerpc_tower t;
        size_t chunk = size ? 1 + data[0] % 64 : 1, towers = 0;

        if (pst_dcerpc_stream_new(&s) < 0)
                return 0;
        for (size_t off = 0; off < size; off += chunk)
                if (pst_dcerpc_stream_feed(s, data + off, MIN(chunk, size - off), check_reply, &towers) < 0)
                        break;
        assert(pst_dcerpc_stream_counters(s)->towers == towers);
        for (int syn = PST_DCERPC_SYNTAX_UNKNOWN; syn <= PST_DCERPC_SYNTAX_NDR64; syn++)
                if (pst_dcerpc_parse_ept_map(data, size, size & 1, syn, &m) == 0)
                        assert(m.n_towers <= PST_DCERPC_MAX_TOWERS);
        if (pst_dcerpc_parse_tower(data, size, &t) == 0)
                assert(t.port != 0);
        return 0;
}

#ifndef POSTERN_LIBFUZZER
/* splitmix64: deterministic, the same mutations in every run */
static uint64_t state = 42;
static uint64_t next(uint64_t *x) {
        uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
}

static const uint32_t boundaries[] = { 0, 1, 2, 4, 16, 24, 75, 0x7f, 0xff, 0x100, 0xffff, 0x10000, 0x7fffffff,
                                       0xffffffff };

static size_t mutate_one(uint8_t *m, size_t size, size_t cap, uint64_t *x) {
        size_t at = size ? next(x) % size : 0;
        uint32_t v = boundaries[next(x) % ELEMENTSOF(boundaries)];
        size_t width = next(x) & 1 ? 2 : 4;

        switch (next(x) % 4) {
        case 0:
                if (size)
                        m[at] ^= (uint8_t) (1 + next(x) % 255);
                return size;
        case 1:
                return at;
        case 2: /* a length field, little- or big-endian */
                for (size_t i = 0; i < width && at + i < size; i++)
                        m[at + i] = (uint8_t) (v >> (8 * (next(x) & 1 ? i : width - 1 - i)));
                return size;
        default: /* repeat a slice: more towers, more fragments */
                if (size < cap && at < size) {
                        size_t n = MIN(cap - size, size - at);

                        memmove(m + at + n, m + at, size - at);
                        memcpy(m + at, m + at + n, n);
                        return size + n;
                }
                return size;
        }
}

static size_t mutate(uint8_t *m, size_t size, size_t cap) {
        for (int e = 0; e < 1 + (int) (next(&state) % 4); e++)
                size = mutate_one(m, size, cap, &state);
        return size;
}

int main(int argc, char **argv) {
        return fuzz_replay(argc, argv, fuzz_iterations(argc, argv, 500), 1 << 16, mutate);
}
#endif
