#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vpcctl.h"

struct table {
	int ncols;
	char ***rows; /* rows[0] is the header */
	int nrows, cap;
};

static void add_row(struct table *t, va_list ap)
{
	if (t->nrows == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->rows = realloc(t->rows, (size_t)t->cap * sizeof(char **));
		if (!t->rows)
			abort();
	}
	char **r = calloc((size_t)t->ncols, sizeof(char *));
	if (!r)
		abort();
	for (int i = 0; i < t->ncols; i++) {
		const char *s = va_arg(ap, const char *);
		r[i] = strdup(s && *s ? s : "-");
	}
	t->rows[t->nrows++] = r;
}

struct table *table_new(int ncols, ...)
{
	struct table *t = calloc(1, sizeof(*t));
	va_list ap;
	if (!t)
		abort();
	t->ncols = ncols;
	va_start(ap, ncols);
	add_row(t, ap);
	va_end(ap);
	return t;
}

void table_row(struct table *t, ...)
{
	va_list ap;
	va_start(ap, t);
	add_row(t, ap);
	va_end(ap);
}

/* Prints and frees the table. */
void table_print(struct table *t, FILE *f, const char *indent)
{
	int w[16] = {0};
	for (int r = 0; r < t->nrows; r++)
		for (int c = 0; c < t->ncols && c < 16; c++) {
			int n = (int)strlen(t->rows[r][c]);
			if (n > w[c])
				w[c] = n;
		}
	for (int r = 0; r < t->nrows; r++) {
		fputs(indent, f);
		for (int c = 0; c < t->ncols; c++)
			fprintf(f, c + 1 < t->ncols ? "%-*s  " : "%-*s", c + 1 < t->ncols ? w[c] : 0,
				t->rows[r][c]);
		fputc('\n', f);
		for (int c = 0; c < t->ncols; c++)
			free(t->rows[r][c]);
		free(t->rows[r]);
	}
	free(t->rows);
	free(t);
}

void print_json(const json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2));
	if (s) {
		puts(s);
		free(s);
	}
}

const char *str_or_dash(const json_t *j)
{
	const char *s = json_string_value(j);
	return s && *s ? s : "-";
}
