/* common/prom.c - Prometheus text from tables. See prom.h. */
#include "common/prom.h"

#include <string.h>

static const char *const prom_type_names[PROM_TYPE_COUNT] = {
	[PROM_COUNTER] = "counter",
	[PROM_GAUGE] = "gauge",
};

int prom_head(struct buf *b, const char *name, enum prom_type type, const char *help)
{
	return buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
	                  prom_type_names[type]) < 0
	           ? -1
	           : 0;
}

int prom_one(struct buf *b, const char *name, enum prom_type type, const char *help, uint64_t v)
{
	if (prom_head(b, name, type, help) < 0 ||
	    buf_printf(b, "%s %llu\n", name, (unsigned long long)v) < 0)
		return -1;
	return 0;
}

int prom_write(struct buf *b, const struct prom_metric *t, size_t n, const void *base)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t v;
		int r;

		memcpy(&v, (const char *)base + t[i].offset, sizeof(v));
		if ((i == 0 || strcmp(t[i].name, t[i - 1].name) != 0) &&
		    prom_head(b, t[i].name, t[i].type, t[i].help) < 0)
			return -1;
		if (t[i].labels != NULL)
			r = buf_printf(b, "%s{%s} %llu\n", t[i].name, t[i].labels,
			               (unsigned long long)v);
		else
			r = buf_printf(b, "%s %llu\n", t[i].name, (unsigned long long)v);
		if (r < 0)
			return -1;
	}
	return 0;
}

int prom_label(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		const char *esc = NULL;

		if (*s == '\\')
			esc = "\\\\";
		else if (*s == '"')
			esc = "\\\"";
		else if (*s == '\n')
			esc = "\\n";
		if (esc != NULL ? buf_append(b, esc, 2) == -1 : buf_append(b, s, 1) == -1)
			return -1;
	}
	return 0;
}
