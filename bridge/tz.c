#include "tz.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timeparse.h"

/* One end of daylight saving time in a POSIX TZ rule: a day of the year
 * in one of three spellings, and a local time of that day. */
typedef struct rule_day {
    char kind;      /* 'J': Jn, 1..365 without Feb 29; 'N': n, 0..365; 'M': Mm.w.d */
    int n, month, week, weekday;
    int32_t time;   /* seconds after local midnight; may be negative or > 24 h */
} rule_day;

/* The footer rule: standard offset, and optionally a daylight offset with
 * the days it starts and ends.  Offsets are east of UTC (POSIX writes them
 * the other way round; the parser flips them). */
typedef struct rule {
    int32_t std_offset, dst_offset;
    int has_dst;
    rule_day start, end;
} rule;

struct tz_zone {
    int64_t *trans;        /* transition instants, ascending */
    uint8_t *trans_type;   /* the type each transition switches to */
    int32_t *type_offset;  /* UTC offset of each local time type */
    size_t ntrans, ntypes;
    int has_rule;          /* the footer rule governs instants after the last transition */
    rule footer;
    int fixed;             /* one offset for all time */
    int32_t fixed_offset;
};

#define MAX_TZIF_BYTES (1 << 20)

static tz_zone *new_zone(void) {
    tz_zone *z = calloc(1, sizeof *z);
    if (!z) {
        fprintf(stderr, "kafka-bridge: out of memory\n");
        abort();
    }
    return z;
}

static tz_zone *fixed_zone(int32_t offset) {
    tz_zone *z = new_zone();
    z->fixed = 1;
    z->fixed_offset = offset;
    return z;
}

void tz_free(tz_zone *z) {
    if (!z) return;
    free(z->trans);
    free(z->trans_type);
    free(z->type_offset);
    free(z);
}

int tz_is_fixed(const tz_zone *z, int32_t *offset) {
    if (z->fixed) *offset = z->fixed_offset;
    return z->fixed;
}

/* ---- POSIX TZ rules ----------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static int is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int month_days(int64_t y, int m) {
    static const int len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : len[m - 1];
}

/* Civil year of a day number (days since 1970-01-01). */
static int64_t year_of_day(int64_t day) {
    /* The inverse of tp_days_from_civil, as far as the year. */
    int64_t z = day + 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    return yoe + era * 400 + (mp >= 10);
}

/* Day number on which a rule day falls in year y. */
static int64_t rule_day_in_year(const rule_day *r, int64_t y) {
    int64_t jan1 = tp_days_from_civil(y, 1, 1);
    switch (r->kind) {
    case 'J':
        return jan1 + r->n - 1 + (is_leap(y) && r->n >= 60);
    case 'N':
        return jan1 + r->n;
    default: {
        int64_t first = tp_days_from_civil(y, (unsigned)r->month, 1);
        int64_t first_weekday = (first + 4) % 7; /* 1970-01-01 was a Thursday */
        if (first_weekday < 0) first_weekday += 7;
        int64_t day = first + (r->weekday - first_weekday + 7) % 7 + (int64_t)(r->week - 1) * 7;
        while (day >= first + month_days(y, r->month)) day -= 7; /* week 5: the last one */
        return day;
    }
    }
}

static int32_t rule_offset_at(const rule *r, int64_t t) {
    if (!r->has_dst) return r->std_offset;
    int64_t y = year_of_day(floor_div(t + r->std_offset, 86400));
    /* Each end of DST is a local time: the start in standard time, the end
     * in daylight time. */
    int64_t start = rule_day_in_year(&r->start, y) * 86400 + r->start.time - r->std_offset;
    int64_t end = rule_day_in_year(&r->end, y) * 86400 + r->end.time - r->dst_offset;
    int dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
    return dst ? r->dst_offset : r->std_offset;
}

/* Parsing the rule, e.g. "CET-1CEST,M3.5.0,M10.5.0/3" or "<+0330>-3:30". */
typedef struct rule_cursor {
    const char *p;
} rule_cursor;

static int parse_rule_name(rule_cursor *c) {
    const char *start = c->p;
    if (*c->p == '<') {
        while (*c->p && *c->p != '>') c->p++;
        if (*c->p != '>') return -1;
        c->p++;
        return 0;
    }
    while ((*c->p >= 'A' && *c->p <= 'Z') || (*c->p >= 'a' && *c->p <= 'z')) c->p++;
    return c->p - start >= 3 ? 0 : -1;
}

static int parse_rule_number(rule_cursor *c, int max, int *out) {
    if (*c->p < '0' || *c->p > '9') return -1;
    int v = 0;
    while (*c->p >= '0' && *c->p <= '9') {
        v = v * 10 + (*c->p++ - '0');
        if (v > max) return -1;
    }
    *out = v;
    return 0;
}

/* [+-]hh[:mm[:ss]], hours up to 167 as RFC 8536 allows for rule times. */
static int parse_rule_time(rule_cursor *c, int32_t *out) {
    int sign = 1, h, m = 0, s = 0;
    if (*c->p == '+' || *c->p == '-') sign = *c->p++ == '-' ? -1 : 1;
    if (parse_rule_number(c, 167, &h)) return -1;
    if (*c->p == ':') {
        c->p++;
        if (parse_rule_number(c, 59, &m)) return -1;
        if (*c->p == ':') {
            c->p++;
            if (parse_rule_number(c, 59, &s)) return -1;
        }
    }
    *out = sign * (h * 3600 + m * 60 + s);
    return 0;
}

static int parse_rule_day(rule_cursor *c, rule_day *d) {
    d->time = 7200; /* 02:00 when not given */
    if (*c->p == 'M') {
        c->p++;
        d->kind = 'M';
        if (parse_rule_number(c, 12, &d->month) || d->month < 1 || *c->p++ != '.' ||
            parse_rule_number(c, 5, &d->week) || d->week < 1 || *c->p++ != '.' ||
            parse_rule_number(c, 6, &d->weekday))
            return -1;
    } else if (*c->p == 'J') {
        c->p++;
        d->kind = 'J';
        if (parse_rule_number(c, 365, &d->n) || d->n < 1) return -1;
    } else {
        d->kind = 'N';
        if (parse_rule_number(c, 365, &d->n)) return -1;
    }
    if (*c->p == '/') {
        c->p++;
        if (parse_rule_time(c, &d->time)) return -1;
    }
    return 0;
}

static int parse_rule(const char *text, rule *r) {
    rule_cursor c = {text};
    int32_t posix_offset;
    memset(r, 0, sizeof *r);
    if (parse_rule_name(&c) || parse_rule_time(&c, &posix_offset)) return -1;
    r->std_offset = -posix_offset;
    if (*c.p == '\0') return 0;
    if (parse_rule_name(&c)) return -1;
    r->has_dst = 1;
    r->dst_offset = r->std_offset + 3600;
    if (*c.p && *c.p != ',') {
        if (parse_rule_time(&c, &posix_offset)) return -1;
        r->dst_offset = -posix_offset;
    }
    /* tzdata always spells the days out; POSIX's default (US rules) is
     * not worth guessing at. */
    if (*c.p++ != ',' || parse_rule_day(&c, &r->start) || *c.p++ != ',' ||
        parse_rule_day(&c, &r->end) || *c.p != '\0')
        return -1;
    return 0;
}

/* ---- TZif files ------------------------------------------------------- */

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p) {
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* The six counts of a TZif header, in file order. */
enum { ISUT, ISSTD, LEAP, TIME, TYPE, CHAR, NCOUNTS };

static int read_header(const unsigned char *p, size_t avail, uint32_t counts[NCOUNTS]) {
    if (avail < 44 || memcmp(p, "TZif", 4) != 0) return -1;
    for (int i = 0; i < NCOUNTS; i++) counts[i] = be32(p + 20 + 4 * i);
    return 0;
}

static size_t data_size(const uint32_t n[NCOUNTS], size_t time_size) {
    return (size_t)n[TIME] * time_size + n[TIME] + (size_t)n[TYPE] * 6 + n[CHAR] +
           (size_t)n[LEAP] * (time_size + 4) + n[ISSTD] + n[ISUT];
}

static int parse_tzif(const unsigned char *p, size_t len, tz_zone *z, const char **why) {
    uint32_t n[NCOUNTS];
    *why = "not a TZif file";
    if (read_header(p, len, n)) return -1;
    size_t time_size = 4;
    const unsigned char *data = p + 44, *end = p + len;
    if (p[4] >= '2') {
        /* Skip the 32-bit block; the 64-bit one follows with its own header. */
        size_t skip = data_size(n, 4);
        if ((size_t)(end - data) < skip) return -1;
        const unsigned char *h2 = data + skip;
        if (read_header(h2, (size_t)(end - h2), n)) return -1;
        data = h2 + 44;
        time_size = 8;
    }
    if ((size_t)(end - data) < data_size(n, time_size) || n[TYPE] == 0 || n[TYPE] > 256) return -1;
    if (n[LEAP]) {
        *why = "zones with leap seconds are not supported";
        return -1;
    }
    z->ntrans = n[TIME];
    z->ntypes = n[TYPE];
    z->trans = malloc((z->ntrans ? z->ntrans : 1) * sizeof *z->trans);
    z->trans_type = malloc(z->ntrans ? z->ntrans : 1);
    z->type_offset = malloc(z->ntypes * sizeof *z->type_offset);
    if (!z->trans || !z->trans_type || !z->type_offset) {
        fprintf(stderr, "kafka-bridge: out of memory\n");
        abort();
    }
    const unsigned char *q = data;
    for (size_t i = 0; i < z->ntrans; i++, q += time_size) {
        z->trans[i] = time_size == 8 ? be64(q) : (int32_t)be32(q);
        if (i && z->trans[i] <= z->trans[i - 1]) {
            *why = "transitions out of order";
            return -1;
        }
    }
    for (size_t i = 0; i < z->ntrans; i++) {
        z->trans_type[i] = *q++;
        if (z->trans_type[i] >= z->ntypes) {
            *why = "bad local time type index";
            return -1;
        }
    }
    for (size_t i = 0; i < z->ntypes; i++, q += 6) z->type_offset[i] = (int32_t)be32(q);

    /* The footer: "\nTZ-STRING\n" after the 64-bit data. */
    const unsigned char *footer = data + data_size(n, time_size);
    if (time_size == 8 && footer < end && *footer == '\n') {
        const unsigned char *nl = memchr(footer + 1, '\n', (size_t)(end - footer - 1));
        size_t flen = nl ? (size_t)(nl - footer - 1) : 0;
        if (nl && flen > 0 && flen < 128) {
            char text[128];
            memcpy(text, footer + 1, flen);
            text[flen] = '\0';
            if (parse_rule(text, &z->footer)) {
                *why = "cannot read the POSIX rule in the file's footer";
                return -1;
            }
            z->has_rule = 1;
        }
    }

    /* A zone whose every type has one offset, and whose rule agrees, is
     * fixed: then no lookup is needed per value. */
    z->fixed = 1;
    z->fixed_offset = z->type_offset[0];
    for (size_t i = 1; i < z->ntypes; i++)
        if (z->type_offset[i] != z->fixed_offset) z->fixed = 0;
    if (z->has_rule && (z->footer.has_dst || z->footer.std_offset != z->fixed_offset)) z->fixed = 0;
    return 0;
}

static int load_file(const char *path, const char *name, tz_zone **out, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT)
            snprintf(err, errlen, "unknown time zone '%s' (no file %s)", name, path);
        else
            snprintf(err, errlen, "time zone '%s': cannot open %s: %s", name, path, strerror(errno));
        return -1;
    }
    unsigned char *data = malloc(MAX_TZIF_BYTES);
    if (!data) {
        fprintf(stderr, "kafka-bridge: out of memory\n");
        abort();
    }
    size_t len = fread(data, 1, MAX_TZIF_BYTES, f);
    int bad_read = ferror(f) || !feof(f);
    fclose(f);
    tz_zone *z = new_zone();
    const char *why = "file too large or unreadable";
    if (bad_read || parse_tzif(data, len, z, &why)) {
        snprintf(err, errlen, "time zone '%s': cannot use %s: %s", name, path, why);
        free(data);
        tz_free(z);
        return -1;
    }
    free(data);
    *out = z;
    return 0;
}

static const char *zoneinfo_dir(void) {
    const char *dir = getenv("TZDIR");
    return dir && *dir ? dir : "/usr/share/zoneinfo";
}

int tz_load(const char *name, tz_zone **out, char *err, size_t errlen) {
    /* The zero-offset zones are built in, so that the common case needs no
     * time zone database on the machine. */
    static const char *const utc_names[] = {"UTC", "Etc/UTC", "UCT", "Etc/UCT", "GMT", "Etc/GMT",
                                            "Universal", "Etc/Universal", "Zulu", "Etc/Zulu",
                                            "Greenwich", "Etc/Greenwich", "GMT0", "Etc/GMT0",
                                            "GMT+0", "Etc/GMT+0", "GMT-0", "Etc/GMT-0"};
    for (size_t i = 0; i < sizeof utc_names / sizeof utc_names[0]; i++) {
        if (strcmp(name, utc_names[i]) == 0) {
            *out = fixed_zone(0);
            return 0;
        }
    }
    /* A name is a path below the zone directory, and no more. */
    if (!*name || name[0] == '/' || strstr(name, "..") || strlen(name) > 200) {
        snprintf(err, errlen, "invalid time zone name '%s'", name);
        return -1;
    }
    char path[512];
    snprintf(path, sizeof path, "%s/%s", zoneinfo_dir(), name);
    return load_file(path, name, out, err, errlen);
}

int tz_load_default(tz_zone **out, char *err, size_t errlen) {
    const char *tz = getenv("TZ");
    if (tz && *tz) {
        if (*tz == ':') tz++;
        if (*tz == '/') return load_file(tz, tz, out, err, errlen);
        return tz_load(tz, out, err, errlen);
    }
    FILE *f = fopen("/etc/localtime", "rb");
    if (f) {
        fclose(f);
        return load_file("/etc/localtime", "/etc/localtime", out, err, errlen);
    }
    *out = fixed_zone(0);
    return 0;
}

/* ---- lookups -------------------------------------------------------------- */

int32_t tz_offset_at(const tz_zone *z, int64_t t) {
    if (z->fixed) return z->fixed_offset;
    if (z->ntrans == 0 || t < z->trans[0])
        return z->ntrans == 0 && z->has_rule ? rule_offset_at(&z->footer, t) : z->type_offset[0];
    if (t >= z->trans[z->ntrans - 1] && z->has_rule) return rule_offset_at(&z->footer, t);
    /* The last transition at or before t. */
    size_t lo = 0, hi = z->ntrans; /* trans[lo] <= t < trans[hi] */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->trans[mid] <= t) lo = mid;
        else hi = mid;
    }
    return z->type_offset[z->trans_type[lo]];
}

int64_t tz_local_to_utc(const tz_zone *z, int64_t local) {
    if (z->fixed) return local - z->fixed_offset;
    /* Offsets stay within about 15 hours of UTC, so the instant sought lies
     * within 15 hours of `local` read as UTC.  The offsets in force at
     * both ends of that window are the candidates: an offset o is right
     * when the instant local - o does have offset o. */
    const int64_t window = 15 * 3600;
    int32_t a = tz_offset_at(z, local - window), b = tz_offset_at(z, local + window);
    int a_ok = tz_offset_at(z, local - a) == a, b_ok = tz_offset_at(z, local - b) == b;
    if (a_ok != b_ok) return local - (a_ok ? a : b);
    /* Both (a repeated hour), or neither (a skipped hour): the larger
     * offset, as ClickHouse's date tables give. */
    return local - (a > b ? a : b);
}
