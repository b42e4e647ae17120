/* A minimal unit-test harness: CHECK macros and a failure count. */
#ifndef VPC_TEST_H
#define VPC_TEST_H

#include <stdio.h>
#include <string.h>

extern int t_run, t_failed;

#define CHECK(cond)                                                                               \
	do {                                                                                      \
		t_run++;                                                                          \
		if (!(cond)) {                                                                    \
			t_failed++;                                                               \
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);  \
		}                                                                                 \
	} while (0)

#define CHECK_STR(got, want)                                                                      \
	do {                                                                                      \
		const char *g_ = (got), *w_ = (want);                                             \
		t_run++;                                                                          \
		if (!g_ || strcmp(g_, w_)) {                                                      \
			t_failed++;                                                               \
			fprintf(stderr, "%s:%d: got  \"%s\"\n%*swant \"%s\"\n", __FILE__,          \
				__LINE__, g_ ? g_ : "(null)", (int)strlen(__FILE__) + 6, "", w_); \
		}                                                                                 \
	} while (0)

#define CHECK_INT(got, want)                                                                      \
	do {                                                                                      \
		long long g_ = (long long)(got), w_ = (long long)(want);                          \
		t_run++;                                                                          \
		if (g_ != w_) {                                                                   \
			t_failed++;                                                               \
			fprintf(stderr, "%s:%d: %s = %lld, want %lld\n", __FILE__, __LINE__, #got, \
				g_, w_);                                                          \
		}                                                                                 \
	} while (0)

struct topology;
/* Compiles a topology text with every feature on; aborts on error (test input). */
struct topology *compile_or_die(const char *text);

/* Runs `fn` three times (up to 50 while it has to) with the helper thread on
 * (par.h), and checks that the helper's half of the work was taken at least once
 * (`*joined` grew). */
void with_helper(const char *name, void (*fn)(void), const unsigned long *joined);

void test_cidr(void);
void test_par(void);
void test_err(void);
void test_topo(void);
void test_plan(void);
void test_edit(void);
void test_rule_memo(void);
void test_rule_memo_places(void);
void test_edit_index(void);
void test_edit_nacl_entries_only(void);
void test_nacl(void);
void test_nacl_diff(void);
void test_nacl_text(void);
void test_topo_load(void);
void test_sg(void);

#endif
