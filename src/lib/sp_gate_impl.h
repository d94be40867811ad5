/*
 * The gate's inside, shared with its unit tests: the call it builds from a
 * request (which keys and arguments stand in which slots) and the reading of
 * the script's answer back into the request, both testable without a server.
 */
#ifndef SP_GATE_IMPL_H
#define SP_GATE_IMPL_H

#include "sp_config.h"
#include "sp_gate.h"
#include "sp_kv.h"

#define SP_GATE_MAX_RULES 4
/* 4 counters, 4 token keys, prefetch, version and counter, the step's */
#define SP_GATE_MAX_KEYS (11 + SP_STEP_MAX_KEYS)
/* the head, a limit and window per counter, the step's */
#define SP_GATE_MAX_ARGS (SP_GATE_HEAD_SIZE + 2 * SP_GATE_MAX_RULES + SP_STEP_MAX_ARGS)

/*
 * The head of ARGV, named once for both sides: the C side fills these
 * slots (SP_GATE_ARG_<ID>), the script's first lines read them, in this
 * order, into locals of the same names (SP_GATE_LUA_HEAD). Positions are
 * KEYS and ARGV indexes as Lua counts them, from 1; 0 means "absent".
 */
#define SP_GATE_HEAD(X)                                                                            \
	X(COUNTERS, counters, tonumber)     /* rate counters: KEYS[1..counters] */                 \
	X(COUNTING, counting, tonumber)     /* 1 count the request, 0 only read (preflight) */     \
	X(TOKEN, token, tonumber)           /* KEYS index of the token's slots (below) */          \
	X(PREFETCH, prefetch, tonumber)     /* KEYS index of the prefetch key */                   \
	X(VERSION, version, tonumber)       /* KEYS index of its group's version slots (below) */  \
	X(STEP, step, tonumber)             /* KEYS index of the step's slots (below) */           \
	X(LIMITS, limits, tonumber)         /* ARGV index of counter 1's limit, then window... */  \
	X(STEP_ARGS, step_args, tonumber)   /* ARGV index of the step's arguments (to the end) */  \
	X(STEP_KIND, step_kind, tonumber)   /* which step function (sp_step_kind), 0 none */       \
	X(TOKEN_VERSION, token_version, )   /* the token's version */                              \
	X(COPIES_VERSION, copies_version, ) /* the version of this process's copies, "" none */    \
	X(HAVE, have, ) /* the scopes of the copies held, "|2|2a13|" ("||": a key without "{L}")   \
	                 */

enum sp_gate_arg {
#define SP_GATE_ARG_ENUM(id, name, conv) SP_GATE_ARG_##id,
	SP_GATE_HEAD(SP_GATE_ARG_ENUM)
#undef SP_GATE_ARG_ENUM
	    SP_GATE_HEAD_SIZE
};

#define SP_GATE_LUA_LOCAL(id, name, conv) "local " #name " = " #conv "(ARGV[at]); at = at + 1\n"
#define SP_GATE_LUA_HEAD                  "local at = 1\n" SP_GATE_HEAD(SP_GATE_LUA_LOCAL)

/*
 * Every key has the answer slot of the same index, holding what was read
 * for it. The parts after the counters, each starting at its head position:
 */
enum sp_gate_token_slot {
	SP_GATE_DENY_JTI,   /* deny:jti:<jti>; answer: 1 when it exists, else 0 */
	SP_GATE_DENY_CHAIN, /* deny:sid:<sid>; answer: 1 when it exists, else 0 */
	SP_GATE_TV,         /* tv:<uid>; answer: the cached token version, "" none */
	SP_GATE_LEVEL,      /* lvl:<uid>; answer: the cached level (sp_tier), "" none */
	SP_GATE_TOKEN_SLOTS
};
/* The prefetch key's slot holds the value, "" none, or "=" (this process's copy is current). */
enum sp_gate_version_slot {
	SP_GATE_VERSION, /* the group's version key; answer: the version (made if missing) */
	SP_GATE_COUNTER, /* the group's version counter key; answer: the value's PTTL, 0 none */
	SP_GATE_VERSION_SLOTS
};
enum sp_gate_step_slot {
	SP_GATE_STEP_STATUS, /* first step key; answer: the step's status ("OK", "ENDED"...) */
	SP_GATE_STEP_VALUE,  /* second step key; answer: what goes with it (r->step_text) */
	SP_GATE_STEP_SLOTS   /* no answer at all when the step did not run; keys after the
	                        second (up to the last key) have no answer */
};

/* One rate-limit rule counted for the request. */
typedef struct sp_gate_rule {
	const char *name;         /* "anon", "user", "auth", "stream", "search" */
	const sp_rate_rule *rule; /* limit and window */
	char subject[80];         /* "u:<id>" or "ip:<client key>" */
	long long window;         /* the window's number */
	long long reset;          /* when it ends (s) */
	long long count;          /* the count Redis answered, 0 until then */
} sp_gate_rule;

typedef struct sp_gate_call {
	/* what the request asks (sp_gate_collect) */
	const sp_claims *claims; /* NULL: anonymous */
	int peek;
	long long now; /* seconds */
	sp_gate_rule rules[SP_GATE_MAX_RULES];
	int n_rules;
	char prefetch[SP_KEY_MAX]; /* the route's prefetch key name, "" none */
	char group[32];            /* its cache group when the key holds "{V}", "" none */
	int local;                 /* that group is kept as this process's copies */
	int has_step;
	sp_step step;

	/* the call (sp_gate_layout): each part's first slot, from 0, -1 absent */
	int at_token, at_prefetch, at_version, at_step;
	const char *keys[SP_GATE_MAX_KEYS];
	int nkeys;
	const char *args[SP_GATE_MAX_ARGS];
	int nargs;
	char key_text[SP_GATE_MAX_KEYS][SP_KEY_MAX];
	char num_text[SP_GATE_MAX_ARGS][24];
	int n_num;
	char have[256]; /* every scope fits: 4 levels x (1 + SP_AGE_CAPS) of at most 5 bytes */

	/* what the answer said of the token (sp_gate_read) */
	int token_unread; /* no usable answer for it: MariaDB checks the marks too */
	int have_tv;      /* the version was cached (and matched) */
} sp_gate_call;

enum sp_gate_outcome {
	SP_GATE_GO,      /* allowed so far; a token not fully answered goes to MariaDB */
	SP_GATE_STOPPED, /* the response is set (429, 401) */
	SP_GATE_OPEN     /* no usable answer: the limits failed open */
};

/* What r asks of the gate: its rules, the route's prefetch key and step. */
void sp_gate_collect(sp_gate_call *c, sp_req *r, const sp_route *route, const sp_claims *claims,
                     int peek, long long now_s);
/* The script's KEYS and ARGV for c, with each part's slot. */
void sp_gate_layout(sp_gate_call *c);
/* Reads the script's answer (NULL: none) into r: counts, token, prefetch, step. */
enum sp_gate_outcome sp_gate_read(sp_req *r, sp_gate_call *c, const sp_kv_result *ans);

#endif
