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

#endif
