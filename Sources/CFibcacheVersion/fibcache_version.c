#include "fibcache_version.h"

/* A C target because only C defines carry a value: Package.swift passes
   FIBCACHE_VERSION, from debian/changelog when debian/rules builds. */
const char *fibcache_version(void) { return FIBCACHE_VERSION; }
