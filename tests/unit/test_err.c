/* Errors stay valid UTF-8 whatever they quote: they travel in JSON replies (a
 * string jansson cannot take would leave a reply empty). */
#include <jansson.h>
#include <string.h>

#include "test.h"
#include "vpc/err.h"
#include "vpc/topo.h"

static const char *msg_of(const char *quoted)
{
	static struct vpc_err e;
	vpc_err_clear(&e);
	vpc_fail(&e, VPC_E_INVALID, "line 1.rule", "\"%s\" must be a number", quoted);
	return e.msg;
}

static bool json_takes(const char *s)
{
	json_t *j = json_string(s);
	json_decref(j);
	return j != NULL;
}

void test_err(void)
{
	CHECK_STR(msg_of("\xef" "5"), "\"\\xef5\" must be a number");
	CHECK_STR(msg_of("caf\xc3\xa9"), "\"caf\xc3\xa9\" must be a number");
	CHECK_STR(msg_of("\xf0\x9f\x98\x80"), "\"\xf0\x9f\x98\x80\" must be a number");
	/* an overlong '/', a surrogate, a sequence cut short */
	CHECK_STR(msg_of("\xc0\xaf"), "\"\\xc0\\xaf\" must be a number");
	CHECK_STR(msg_of("\xed\xa0\x80"), "\"\\xed\\xa0\\x80\" must be a number");
	CHECK_STR(msg_of("\xe2\x82"), "\"\\xe2\\x82\" must be a number");
	/* Longer than the message holds: cut between characters, never inside one. */
	char long_text[1024] = "";
	for (int i = 0; i < 300; i++)
		strcat(long_text, "\xc3\xa9");
	const char *m = msg_of(long_text);
	CHECK(strlen(m) < sizeof(((struct vpc_err *)0)->msg));
	CHECK(strlen(m) % 2 == 1); /* the opening quote, then whole characters */
	CHECK(json_takes(m));
	for (int i = 0; i < 200; i++)
		strcat(long_text, "\xff");
	CHECK(json_takes(msg_of(long_text)));
	/* From the text reader, as vpcd gets it. */
	struct nacl_entries ent = {0};
	struct vpc_err e = {0};
	const char text[] = "inbound 1\xbf tcp 80 0.0.0.0/0 allow\n";
	CHECK(nacl_text_parse(text, sizeof(text) - 1, &ent, &e) != 0);
	CHECK_STR(e.path, "line 1.rule");
	CHECK(json_takes(e.msg) && strstr(e.msg, "1\\xbf"));
}
