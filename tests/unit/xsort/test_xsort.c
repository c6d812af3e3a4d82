/* SPDX-License-Identifier: BSD-2-Clause */
/* The external sort against qsort of the same records: in memory, over
 * many runs on disk, equal keys in the order added across runs, a record
 * larger than the budget, nothing at all, and the errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xsort.h"

struct ref {
  uint64_t key;
  size_t idx, len;
};

static int ref_cmp(const void *a, const void *b) {
  const struct ref *p = a, *q = b;
  if (p->key != q->key)
    return p->key < q->key ? -1 : 1;
  return p->idx < q->idx ? -1 : p->idx > q->idx;
}

/* Record i's bytes: its index, then a pattern of it, len bytes in all. */
static void fill_rec(unsigned char *b, size_t i, size_t len) {
  for (size_t k = 0; k < len; k++)
    b[k] = (unsigned char)(k < sizeof i ? i >> (8 * k) : i * 31 + k);
}

/* n records of keys in [0, keys) and lengths in [0, maxlen], through a
 * sort with a budget of mem; checked against qsort.  Returns the runs. */
static size_t check(size_t n, uint64_t keys, size_t maxlen, size_t mem,
                    unsigned seed) {
  srand(seed);
  struct ref *r = calloc(n ? n : 1, sizeof *r);
  unsigned char *b = malloc(maxlen + 16);
  assert_non_null(r);
  assert_non_null(b);
  struct tf_xsort *x = tf_xsort_new(mem);
  assert_non_null(x);
  for (size_t i = 0; i < n; i++) {
    r[i] =
        (struct ref){(uint64_t)rand() % keys, i, (size_t)rand() % (maxlen + 1)};
    fill_rec(b, i, r[i].len);
    assert_int_equal(tf_xsort_add(x, r[i].key, b, r[i].len), 0);
  }
  assert_int_equal(tf_xsort_count(x), n);
  assert_int_equal(tf_xsort_finish(x), 0);
  qsort(r, n, sizeof *r, ref_cmp);
  for (size_t i = 0; i < n; i++) {
    uint64_t k = 0, pk = 0;
    const void *p;
    size_t len;
    assert_int_equal(tf_xsort_peek(x, &pk), 1);
    assert_int_equal(tf_xsort_next(x, &k, &p, &len), 1);
    assert_true(pk == k);
    assert_true(k == r[i].key);
    assert_int_equal(len, r[i].len);
    fill_rec(b, r[i].idx, len);
    assert_memory_equal(p, b, len);
  }
  uint64_t k;
  const void *p;
  size_t len;
  assert_int_equal(tf_xsort_next(x, &k, &p, &len), 0);
  assert_int_equal(tf_xsort_peek(x, &k), 0);
  size_t runs = tf_xsort_runs(x);
  tf_xsort_free(x);
  free(b);
  free(r);
  return runs;
}

static void in_memory(void **state) {
  (void)state;
  assert_int_equal(check(5000, 1000, 40, 1 << 24, 1), 0);
}

static void many_runs(void **state) {
  (void)state;
  /* the smallest budget: hundreds of runs, each with a small buffer */
  assert_true(check(20000, 5000, 300, 4096, 2) > 100);
  assert_true(check(3000, 1u << 31, 64, 65536, 3) > 1);
}

static void equal_keys_keep_their_order(void **state) {
  (void)state;
  /* three keys over dozens of runs: the order added must survive both the
   * sort inside a run and the merge between runs */
  assert_true(check(10000, 3, 50, 8192, 4) > 10);
  assert_true(check(2000, 1, 10, 4096, 5) > 1);
}

static void a_record_larger_than_the_budget(void **state) {
  (void)state;
  struct tf_xsort *x = tf_xsort_new(4096);
  static unsigned char big[200000];
  fill_rec(big, 7, sizeof big);
  assert_int_equal(tf_xsort_add(x, 9, "a", 1), 0);
  assert_int_equal(tf_xsort_add(x, 5, big, sizeof big), 0);
  assert_int_equal(tf_xsort_add(x, 1, "b", 1), 0);
  assert_int_equal(tf_xsort_add(x, 5, "c", 1), 0);
  assert_int_equal(tf_xsort_finish(x), 0);
  assert_true(tf_xsort_runs(x) >= 1);
  uint64_t k;
  const void *p;
  size_t len;
  assert_int_equal(tf_xsort_next(x, &k, &p, &len), 1);
  assert_true(k == 1 && len == 1 && !memcmp(p, "b", 1));
  assert_int_equal(tf_xsort_next(x, &k, &p, &len), 1);
  assert_true(k == 5 && len == sizeof big);
  assert_memory_equal(p, big, sizeof big);
  assert_int_equal(tf_xsort_next(x, &k, &p, &len), 1);
  assert_true(k == 5 && len == 1 && !memcmp(p, "c", 1));
  assert_int_equal(tf_xsort_next(x, &k, &p, &len), 1);
  assert_true(k == 9 && len == 1 && !memcmp(p, "a", 1));
  assert_int_equal(tf_xsort_next(x, &k, &p, &len), 0);
  tf_xsort_free(x);
}

static void nothing(void **state) {
  (void)state;
  check(0, 1, 0, 4096, 6);
  struct tf_xsort *x = tf_xsort_new(0);
  tf_xsort_free(x);
  tf_xsort_free(NULL);
}

static void errors(void **state) {
  (void)state;
  struct tf_xsort *x = tf_xsort_new(4096);
  uint64_t k;
  assert_int_equal(tf_xsort_peek(x, &k), -1);
  assert_non_null(strstr(tf_xsort_error(x), "before the end"));
  tf_xsort_free(x);

  x = tf_xsort_new(4096);
  assert_int_equal(tf_xsort_finish(x), 0);
  assert_int_equal(tf_xsort_add(x, 1, "a", 1), -1);
  assert_non_null(strstr(tf_xsort_error(x), "after the end"));
  tf_xsort_free(x);

  /* no temporary directory: the first run cannot be written */
  char *old = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;
  setenv("TMPDIR", "/nonexistent/tlsfin-test", 1);
  x = tf_xsort_new(4096);
  char rec[100] = {0};
  int rc = 0;
  for (int i = 0; i < 100 && rc == 0; i++)
    rc = tf_xsort_add(x, (uint64_t)i, rec, sizeof rec);
  assert_int_equal(rc, -1);
  assert_non_null(strstr(tf_xsort_error(x), "cannot create a temporary file "
                                            "in /nonexistent/tlsfin-test"));
  assert_int_equal(tf_xsort_finish(x), -1); /* and it stays failed */
  tf_xsort_free(x);
  if (old) {
    setenv("TMPDIR", old, 1);
    free(old);
  } else {
    unsetenv("TMPDIR");
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(in_memory),
      cmocka_unit_test(many_runs),
      cmocka_unit_test(equal_keys_keep_their_order),
      cmocka_unit_test(a_record_larger_than_the_budget),
      cmocka_unit_test(nothing),
      cmocka_unit_test(errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
