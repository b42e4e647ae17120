#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vpcctl.h"

const struct verb *current_verb;

void verb_usage(const struct verb *v, FILE *f)
{
	fprintf(f, "usage: vpcctl %s%s%s%s\n\n%s\n", v->name, v->usage ? " " : "",
		v->usage ? v->usage : "", v->opts ? " [options]" : "", v->help);
	if (v->opts) {
		fprintf(f, "\noptions:\n");
		for (const struct optspec *o = v->opts; o->name; o++) {
			char left[48];
			snprintf(left, sizeof(left), "--%s%s", o->name, o->has_arg ? " VALUE" : "");
			fprintf(f, "  %-24s %s\n", left, o->help);
		}
	}
	if (v->read_only)
		fprintf(f, "  %-24s %s\n", "-o json", "print JSON instead of a table");
}

static int find_opt(const struct verb *v, const char *name)
{
	for (int i = 0; v->opts && v->opts[i].name; i++)
		if (!strcmp(v->opts[i].name, name))
			return i;
	return -1;
}

const char *opt(const struct verb *v, const struct args *a, const char *name)
{
	int i = find_opt(v, name);
	return i < 0 ? NULL : a->val[i];
}

int verb_parse(const struct verb *v, int argc, char **argv, struct args *a)
{
	memset(a, 0, sizeof(*a));
	for (int i = 0; i < argc; i++) {
		const char *s = argv[i];
		if (!strcmp(s, "--")) {
			a->rest = (const char **)argv + i + 1;
			a->n_rest = argc - i - 1;
			break;
		}
		if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
			verb_usage(v, stdout);
			return 1;
		}
		if (s[0] == '-' && s[1] == '-' && s[2]) {
			char name[64];
			const char *eq = strchr(s + 2, '=');
			snprintf(name, sizeof(name), "%.*s", eq ? (int)(eq - s - 2) : 63, s + 2);
			int k = find_opt(v, name);
			if (k < 0) {
				fprintf(stderr, "vpcctl %s: unknown option --%s\n", v->name, name);
				return -1;
			}
			if (!v->opts[k].has_arg) {
				a->val[k] = "";
				continue;
			}
			if (eq)
				a->val[k] = eq + 1;
			else if (i + 1 < argc)
				a->val[k] = argv[++i];
			else {
				fprintf(stderr, "vpcctl %s: --%s needs a value\n", v->name, name);
				return -1;
			}
			continue;
		}
		if (a->n_pos == (int)(sizeof(a->pos) / sizeof(a->pos[0])) || a->n_pos >= v->max_pos) {
			fprintf(stderr, "vpcctl %s: unexpected argument \"%s\"\n", v->name, s);
			return -1;
		}
		a->pos[a->n_pos++] = s;
	}
	if (a->n_pos < v->min_pos) {
		fprintf(stderr, "vpcctl %s: missing arguments\n", v->name);
		return -1;
	}
	return 0;
}

const char *need(struct args *a, const char *name)
{
	const char *v = OPT(a, name);
	if (!v) {
		fprintf(stderr, "vpcctl %s: --%s is required\n", current_verb->name, name);
		exit(EXIT_USAGE);
	}
	return v;
}
