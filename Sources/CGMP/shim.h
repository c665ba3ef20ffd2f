// GMP's public names (mpz_add, mpz_fib_ui, ...) are macros over __gmpz_*
// symbols, and Swift does not import function-like macro aliases: these
// one-line wrappers give Swift the documented names.
#ifndef CGMP_SHIM_H
#define CGMP_SHIM_H

#include <gmp.h>

static inline void cgmp_init(mpz_ptr x) { mpz_init(x); }
static inline void cgmp_clear(mpz_ptr x) { mpz_clear(x); }
static inline void cgmp_set_ui(mpz_ptr x, unsigned long v) { mpz_set_ui(x, v); }
static inline void cgmp_swap(mpz_ptr a, mpz_ptr b) { mpz_swap(a, b); }
static inline void cgmp_add(mpz_ptr r, mpz_srcptr a, mpz_srcptr b) { mpz_add(r, a, b); }
static inline void cgmp_fib_ui(mpz_ptr r, unsigned long n) { mpz_fib_ui(r, n); }
static inline size_t cgmp_sizeinbase10(mpz_srcptr x) { return mpz_sizeinbase(x, 10); }
static inline char *cgmp_get_str10(char *buf, mpz_srcptr x) { return mpz_get_str(buf, 10, x); }
static inline int cgmp_set_str10(mpz_ptr x, const char *s) { return mpz_set_str(x, s, 10); }

#endif
