#include <stdlib.h>

#include "suites.h"

int main(void) {
    SRunner *sr = srunner_create(chtype_suite());
    srunner_add_suite(sr, json_suite());
    srunner_add_suite(sr, jsonrow_suite());
    srunner_add_suite(sr, timeparse_suite());
    srunner_add_suite(sr, options_suite());
    srunner_add_suite(sr, startpos_suite());
    srunner_add_suite(sr, tz_suite());
    srunner_add_suite(sr, textvalue_suite());
    srunner_add_suite(sr, kafkaconf_suite());
    srunner_add_suite(sr, avro_suite());
    srunner_add_suite(sr, rbwriter_suite());
    srunner_add_suite(sr, handover_suite());
    srunner_add_suite(sr, native_suite());
    srunner_add_suite(sr, avroudf_suite());
    srunner_add_suite(sr, consumer_suite());
    srunner_add_suite(sr, output_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
