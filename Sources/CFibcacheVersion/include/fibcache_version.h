#ifndef FIBCACHE_VERSION_H
#define FIBCACHE_VERSION_H

/* The version `fibcache --version` prints, given to the build (Package.swift). */
const char *fibcache_version(void);

#endif
