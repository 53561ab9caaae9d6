#ifndef KB_TEST_SUITES_H
#define KB_TEST_SUITES_H

#include <check.h>

Suite *chtype_suite(void);
Suite *json_suite(void);
Suite *jsonrow_suite(void);
Suite *timeparse_suite(void);
Suite *options_suite(void);
Suite *startpos_suite(void);
Suite *tz_suite(void);
Suite *textvalue_suite(void);
Suite *kafkaconf_suite(void);
Suite *avro_suite(void);
Suite *rbwriter_suite(void);
Suite *handover_suite(void);
Suite *native_suite(void);
Suite *avroudf_suite(void);
Suite *consumer_suite(void);
Suite *output_suite(void);

#endif
