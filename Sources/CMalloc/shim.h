// glibc's malloc tuning (<malloc.h>), which Swift's Glibc module does not show.
#ifndef CMALLOC_SHIM_H
#define CMALLOC_SHIM_H

#include <malloc.h>

// glibc gives threads up to 8 x cores malloc arenas, each keeping its own high
// water mark: with 64 worker threads that multiplies resident memory for no
// speed on a few cores. Returns 1 on success.
static inline int cmalloc_limit_arenas(int arenas) {
#ifdef __GLIBC__
    return mallopt(M_ARENA_MAX, arenas);
#else
    (void)arenas;
    return 0;
#endif
}

// Large values (F(10^6) is 209 kB of digits, F(10^7) 2.1 MB) pass through several
// buffers per answer. Above this size glibc maps each allocation on its own and
// unmaps it on free, so they leave nothing resident behind; without a fixed
// threshold glibc raises it after the first such free and keeps later ones in its
// heaps, where freed memory stays resident. Returns 1 on success.
static inline int cmalloc_map_large_allocations(int threshold) {
#ifdef __GLIBC__
    return mallopt(M_MMAP_THRESHOLD, threshold);
#else
    (void)threshold;
    return 0;
#endif
}

#endif
