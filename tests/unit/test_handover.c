#include <stdlib.h>
#include <string.h>

#include "handover.h"
#include "suites.h"

static partition_start at(int32_t p, int64_t next) {
    return (partition_start){p, {OFFSET_ABSOLUTE, next}};
}

static const int32_t all[] = {0, 1, 2};

/* The record of a run that wrote rows of partition 0 up to offset 999 and
 * of partition 2 up to 40, at time 1000000 ms. */
static char *record(void) {
    handover h;
    handover_init(&h);
    ck_assert_int_eq(handover_note(&h, 0, 5), 0);
    ck_assert_int_eq(handover_note(&h, 0, 999), 0);
    ck_assert_int_eq(handover_note(&h, 2, 40), 0);
    ck_assert_int_eq(handover_note(&h, 0, 7), 0); /* the highest offset wins */
    char *text = handover_format(&h, "t", 1000000);
    handover_free(&h);
    ck_assert_ptr_nonnull(text);
    ck_assert_str_eq(text, "handover 1\ntopic t\ntime 1000000\n0 1000\n2 41\n");
    return text;
}

START_TEST(table_caught_up_goes_on) {
    char *rec = record(), err[512], note[512];
    partition_start stored[] = {at(0, 1000), at(1, 3), at(2, 50)};
    ck_assert_int_eq(handover_check(rec, "t", all, 3, stored, 3, 60, 1000500, note, sizeof note, err, sizeof err), 0);
    ck_assert_str_eq(note, "");
    free(rec);
}
END_TEST

START_TEST(table_behind_within_grace_refuses) {
    char *rec = record(), err[512], note[512];
    partition_start stored[] = {at(0, 200), at(2, 41)};
    ck_assert_int_eq(handover_check(rec, "t", all, 3, stored, 2, 60, 1000500, note, sizeof note, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "rows of the previous run are not in the table yet (topic 't' partition 0: "
                                      "table at 200, that run wrote up to offset 999, 0.5 s ago)"));
    /* A partition the table has no rows of is behind too. */
    ck_assert_int_eq(handover_check(rec, "t", all, 3, stored + 1, 1, 60, 1000500, note, sizeof note, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "partition 0: table at none"));
    /* A clock stepped back is no licence to read. */
    ck_assert_int_eq(handover_check(rec, "t", all, 3, stored, 2, 60, 990000, note, sizeof note, err, sizeof err), -1);
    free(rec);
}
END_TEST

START_TEST(table_behind_after_grace_is_trusted) {
    char *rec = record(), err[512], note[512];
    partition_start stored[] = {at(0, 200), at(2, 41)};
    ck_assert_int_eq(handover_check(rec, "t", all, 3, stored, 2, 60, 1061000, note, sizeof note, err, sizeof err), 0);
    ck_assert_ptr_nonnull(strstr(note, "partition 0: the previous run's rows up to offset 999 never became visible"));
    /* A partition this run does not read (another shard's) is not checked. */
    static const int32_t others[] = {1, 2};
    ck_assert_int_eq(handover_check(rec, "t", others, 2, stored, 2, 60, 1000500, note, sizeof note, err, sizeof err), 0);
    /* lock-grace = 0: no check. */
    ck_assert_int_eq(handover_check(rec, "t", all, 3, stored, 2, 0, 1000001, note, sizeof note, err, sizeof err), 0);
    free(rec);
}
END_TEST

START_TEST(no_usable_record_goes_on) {
    char err[512], note[512];
    partition_start stored[] = {at(0, 1)};
    const char *const none[] = {"", "12\n", "handover 2\ntopic t\ntime 1\n0 9\n",
                                "handover 1\ntopic other\ntime 1000000\n0 1000\n",
                                "handover 1\ntopic t\ntime x\n0 1000\n", "handover 1\ntopic t\ntime 1000000\n0 x\n"};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++)
        ck_assert_int_eq(handover_check(none[i], "t", all, 3, stored, 1, 60, 1000001, note, sizeof note, err, sizeof err), 0);
}
END_TEST

Suite *handover_suite(void) {
    Suite *s = suite_create("handover");
    TCase *tc = tcase_create("check");
    tcase_add_test(tc, table_caught_up_goes_on);
    tcase_add_test(tc, table_behind_within_grace_refuses);
    tcase_add_test(tc, table_behind_after_grace_is_trusted);
    tcase_add_test(tc, no_usable_record_goes_on);
    suite_add_tcase(s, tc);
    return s;
}
