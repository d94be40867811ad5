/*
 * A strict RFC 8259 syntax check run before json-c parses a body: json-c
 * is lenient (single quotes, NaN, Infinity, raw control characters), and
 * the contract calls anything that is not JSON a 400 MALFORMED_JSON.
 */
#ifndef SP_JSONV_H
#define SP_JSONV_H

#include <stddef.h>

/* 0 when s[0..n) is exactly one JSON value (whitespace around it allowed), nesting <= max_depth. */
int sp_json_check(const char *s, size_t n, int max_depth);

#endif
