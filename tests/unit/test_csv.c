/* CSV import: RFC 4180 edge cases, strict rejection with line numbers, the shipped data files. */
#include "csv.h"
#include "testlib.h"

static int parse(const char *text, struct csv_table *t, struct err *e)
{
	err_clear(e);
	return csv_parse(text, strlen(text), t, e);
}

static void test_simple_lf_and_crlf(void)
{
	struct csv_table t;
	struct err e;
	CHECK(parse("name,phone\nAnn,123\nBob,456\n", &t, &e) == 0);
	CHECK_INT(t.ncols, 2);
	CHECK_INT(t.nrows, 2);
	CHECK_STR(csv_get(&t, 0, "name"), "Ann");
	CHECK_STR(csv_get(&t, 1, "phone"), "456");
	CHECK_INT(t.line[1], 3);
	csv_free(&t);
	CHECK(parse("name,phone\r\nAnn,123\r\nBob,456", &t, &e) == 0);
	CHECK_INT(t.nrows, 2);
	CHECK_STR(csv_get(&t, 1, "phone"), "456");
	CHECK_STR(csv_get(&t, 0, "phone"), "123");
	csv_free(&t);
}

static void test_quoted_fields(void)
{
	struct csv_table t;
	struct err e;
	CHECK_MSG(parse("name,phone\n\"Smith, John\",\"+1 \"\"work\"\"\"\n\"\",x\n", &t, &e) == 0,
	          "%s", e.msg);
	CHECK_INT(t.nrows, 2);
	CHECK_STR(csv_get(&t, 0, "name"), "Smith, John");
	CHECK_STR(csv_get(&t, 0, "phone"), "+1 \"work\"");
	CHECK_STR(csv_get(&t, 1, "name"), "");
	csv_free(&t);
}

static void test_embedded_newline_keeps_line_numbers(void)
{
	struct csv_table t;
	struct err e;
	CHECK(parse("name,phone\n\"two\nlines\",1\r\n\"a\r\nb\",2\nlast,3\n", &t, &e) == 0);
	CHECK_INT(t.nrows, 3);
	CHECK_STR(csv_get(&t, 0, "name"), "two\nlines");
	CHECK_STR(csv_get(&t, 1, "name"), "a\r\nb");
	CHECK_INT(t.line[0], 2);
	CHECK_INT(t.line[1], 4);
	CHECK_INT(t.line[2], 6);
	csv_free(&t);
	/* The bad row after a multi-line field is reported on its own line. */
	CHECK(parse("name,phone\n\"x\ny\",1\nbad\n", &t, &e) < 0);
	CHECK_MSG(strstr(e.msg, "line 4") != NULL, "%s", e.msg);
}

static void test_bom_and_utf8(void)
{
	struct csv_table t;
	struct err e;
	CHECK(parse("\xEF\xBB\xBFname,phone\nJos\xC3\xA9 M\xC3\xBCller,\xE2\x98\x8E 1\n", &t, &e) ==
	      0);
	CHECK_INT(csv_col(&t, "name"), 0);
	CHECK_STR(csv_get(&t, 0, "name"), "Jos\xC3\xA9 M\xC3\xBCller");
	csv_free(&t);
	static const char *const bad[] = {
	    "name,phone\nok,1\nb\xFF,2\n",             /* invalid byte */
	    "name,phone\nok,1\nb\xC0\xAF,2\n",         /* overlong '/' */
	    "name,phone\nok,1\nb\xED\xA0\x80,2\n",     /* surrogate */
	    "name,phone\nok,1\nb\xC3,2\n",             /* truncated */
	    "name,phone\nok,1\nb\xF4\x90\x80\x80,2\n", /* > U+10FFFF */
	};
	for (size_t i = 0; i < NELEM(bad); i++) {
		CHECK_MSG(parse(bad[i], &t, &e) < 0, "bad %zu accepted", i);
		CHECK_MSG(strstr(e.msg, "line 3") && strstr(e.msg, "UTF-8"), "%zu: %s", i, e.msg);
	}
	char nul[] = "name,phone\nA\0B,1\n";
	err_clear(&e);
	CHECK(csv_parse(nul, sizeof(nul) - 1, &t, &e) < 0);
	CHECK_MSG(strstr(e.msg, "line 2") != NULL, "%s", e.msg);
}

static void test_rejections_name_the_line(void)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
	    {"name,phone\nAnn,1\n\"open,2\nmore\n", "line 3: quoted field never closed"},
	    {"name,phone\nAnn,1\nBob\n", "line 3: 1 fields, but the header has 2"},
	    {"name,phone\nAnn,1,extra\n", "line 2: 3 fields"},
	    {"name,phone\nA\"nn,1\n", "line 2: '\"' inside an unquoted field"},
	    {"name,phone\n\"Ann\"x,1\n", "line 2: text after a closing quote"},
	    {"name,phone\nAnn,1\rBob,2\n", "line 2: bare CR"},
	    {"name,name\nAnn,1\n", "appears twice"},
	    {"name,\nAnn,1\n", "header column 2 is empty"},
	    {"", "no header row"},
	    {"\xEF\xBB\xBF", "no header row"},
	};
	struct csv_table t;
	struct err e;
	for (size_t i = 0; i < NELEM(cases); i++) {
		CHECK_MSG(parse(cases[i].text, &t, &e) < 0, "case %zu accepted", i);
		CHECK_MSG(strstr(e.msg, cases[i].want) != NULL, "case %zu: '%s'", i, e.msg);
		CHECK_INT(e.code, ERR_BAD_REQUEST);
		CHECK(t.nrows == 0 && t.rows == NULL && t.header == NULL);
	}
}

static void test_blank_lines_and_header_lookup(void)
{
	struct csv_table t;
	struct err e;
	CHECK(parse("Name , PHONE\n\nAnn,1\n\n", &t, &e) == 0);
	CHECK_INT(t.nrows, 1);
	CHECK_INT(csv_col(&t, "name"), 0);
	CHECK_INT(csv_col(&t, "phone"), 1);
	CHECK_INT(csv_col(&t, "email"), -1);
	CHECK(csv_get(&t, 0, "email") == NULL);
	CHECK(csv_get(&t, 5, "name") == NULL);
	csv_free(&t);
	/* Header only: a table with no rows. */
	CHECK(parse("name,phone\n", &t, &e) == 0);
	CHECK_INT(t.nrows, 0);
	csv_free(&t);
}

static void check_data_file(const char *file, const char *first_name)
{
	const char *dir = getenv("TEST_DATA_DIR");
	char *path = xasprintf("%s/../../../data/%s", dir ? dir : "tests/unit/data", file);
	struct buf b;
	buf_init(&b);
	int rc = read_file(path, 1 << 20, &b);
	CHECK_MSG(rc == 0, "cannot read %s", path);
	struct csv_table t;
	struct err e;
	err_clear(&e);
	if (rc == 0) {
		CHECK_MSG(csv_parse((char *)b.p, b.len, &t, &e) == 0, "%s: %s", file, e.msg);
		CHECK_INT(t.nrows, 9);
		CHECK_STR(csv_get(&t, 0, "name"), first_name);
		for (size_t i = 0; i < t.nrows; i++)
			CHECK(*csv_get(&t, i, "name") && *csv_get(&t, i, "phone"));
		csv_free(&t);
	}
	buf_free(&b);
	free(path);
}

static void test_shipped_data_files(void)
{
	check_data_file("contoso-data.csv", "Emma Richardson");
	check_data_file("fabrikam-data.csv", "Rachel Hoffman");
}

/* Every 1- and 2-byte input parses or fails cleanly (ASan/UBSan watch). */
static void test_small_inputs_exhaustive(void)
{
	int ok = 0;
	char in[2];
	for (int a = 0; a < 256; a++) {
		struct csv_table t;
		struct err e;
		in[0] = (char)a;
		if (csv_parse(in, 1, &t, &e) == 0) {
			ok++;
			csv_free(&t);
		}
		for (int b = 0; b < 256; b++) {
			in[1] = (char)b;
			if (csv_parse(in, 2, &t, &e) == 0) {
				ok++;
				csv_free(&t);
			}
		}
	}
	CHECK(ok > 0);
}

TESTS(test_simple_lf_and_crlf, test_quoted_fields, test_embedded_newline_keeps_line_numbers,
      test_bom_and_utf8, test_rejections_name_the_line, test_blank_lines_and_header_lookup,
      test_shipped_data_files, test_small_inputs_exhaustive)
