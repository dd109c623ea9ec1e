/* common/cfg.c - INI tokenizer and typed key tables; see cfg.h for the syntax and the error
 * format. The tokenizer holds one line at a time in a CFG_LINE_MAX buffer: a longer line is an
 * error, never cut. */
#include "common/cfg.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/netacl.h"
#include "common/units.h"

/* State of one tokenizer pass over a file or a string. */
struct cfg_reader {
	const char *name;           /* file name for messages */
	unsigned line;              /* current line number */
	char section[CFG_NAME_MAX]; /* current header's section */
	char inst[CFG_NAME_MAX];    /* current header's instance name */
};

/* Writes "FILE:LINE: <message>" into <err>. */
void cfg_item_err(char *err, size_t errlen, const struct cfg_item *it, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(err, errlen, "%s:%u: ", it->file, it->line);
	if (n < 0 || (size_t)n >= errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

static char *cfg_trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static bool cfg_is_name(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
			return false;
	}
	return true;
}

/* Handles one line (without its newline). Returns 0 or -1 with <err> filled. */
static int cfg_line(struct cfg_reader *r, char *line, cfg_item_fn fn, void *arg, char *err,
                    size_t errlen)
{
	struct cfg_item it = { .file = r->name, .line = r->line };
	char *s = cfg_trim(line);
	char *eq;
	char *key;
	char *val;

	if (*s == '\0' || *s == '#' || *s == ';')
		return 0;
	if (*s == '[') {
		char *close = strchr(s, ']');
		char *sp;
		char *inst = "";

		if (close == NULL || *cfg_trim(close + 1) != '\0') {
			cfg_item_err(err, errlen, &it, "malformed section header (got \"%s\")", s);
			return -1;
		}
		*close = '\0';
		s = cfg_trim(s + 1);
		sp = strpbrk(s, " \t");
		if (sp != NULL) {
			*sp = '\0';
			inst = cfg_trim(sp + 1);
		}
		if (!cfg_is_name(s) || (*inst != '\0' && !cfg_is_name(inst)) ||
		    strlen(s) >= sizeof(r->section) || strlen(inst) >= sizeof(r->inst)) {
			cfg_item_err(err, errlen, &it,
			             "bad section header: names are letters, digits, '_', '-', "
			             "'.', up to %d bytes (got \"[%s%s%s]\")",
			             CFG_NAME_MAX - 1, s, *inst != '\0' ? " " : "", inst);
			return -1;
		}
		strcpy(r->section, s);
		strcpy(r->inst, inst);
		it.section = r->section;
		it.name = r->inst;
		return fn(arg, &it, err, errlen);
	}
	eq = strchr(s, '=');
	if (eq == NULL) {
		cfg_item_err(err, errlen, &it, "expected 'key = value' or '[section]' (got \"%s\")",
		             s);
		return -1;
	}
	*eq = '\0';
	key = cfg_trim(s);
	val = cfg_trim(eq + 1);
	if (!cfg_is_name(key)) {
		cfg_item_err(err, errlen, &it, "bad key name (got \"%s\")", key);
		return -1;
	}
	if (val[0] == '"') {
		size_t vl = strlen(val);

		if (vl < 2 || val[vl - 1] != '"') {
			cfg_item_err(err, errlen, &it,
			             "key '%s': unterminated quoted value (got %s)", key, val);
			return -1;
		}
		val[vl - 1] = '\0';
		val++;
	}
	if (r->section[0] == '\0') {
		cfg_item_err(err, errlen, &it, "key '%s': outside any [section] (got \"%s\")", key,
		             val);
		return -1;
	}
	it.section = r->section;
	it.name = r->inst;
	it.key = key;
	it.value = val;
	return fn(arg, &it, err, errlen);
}

/* Reads <path> and calls <fn> for every header and key, in order. Returns 0, or -1 with
 * <err> filled as "FILE: cannot open: ..." or "FILE:LINE: ..." (and errno set). */
int cfg_read_file(const char *path, cfg_item_fn fn, void *arg, char *err, size_t errlen)
{
	struct cfg_reader r = { .name = path };
	char line[CFG_LINE_MAX + 2]; /* the line, its '\n', the NUL */
	bool skipping = false;       /* inside the rest of an over-long line */
	int ret = 0;
	FILE *f;

	f = fopen(path, "r");
	if (f == NULL) {
		int e = errno;

		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(e));
		errno = e;
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		size_t len = strlen(line);
		bool complete = len > 0 && line[len - 1] == '\n';

		if (skipping) {
			skipping = !complete;
			continue;
		}
		r.line++;
		if (!complete && !feof(f)) {
			struct cfg_item it = { .file = path, .line = r.line };

			cfg_item_err(err, errlen, &it, "line longer than %d bytes", CFG_LINE_MAX);
			errno = E2BIG;
			ret = -1;
			break;
		}
		if (complete)
			line[len - 1] = '\0';
		if (memchr(line, '\0', len - (complete ? 1 : 0)) != NULL &&
		    strlen(line) != len - (complete ? 1 : 0)) {
			struct cfg_item it = { .file = path, .line = r.line };

			cfg_item_err(err, errlen, &it, "NUL byte in line");
			errno = EINVAL;
			ret = -1;
			break;
		}
		if (cfg_line(&r, line, fn, arg, err, errlen) == -1) {
			errno = EINVAL;
			ret = -1;
			break;
		}
	}
	if (ret == 0 && ferror(f)) {
		snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
		ret = -1;
	}
	fclose(f);
	return ret;
}

/* Same as cfg_read_file() over <text> (tests, built-in defaults); <name> is used in errors. */
int cfg_read_string(const char *name, const char *text, cfg_item_fn fn, void *arg, char *err,
                    size_t errlen)
{
	struct cfg_reader r = { .name = name };
	char line[CFG_LINE_MAX + 1];
	const char *p = text;

	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);

		r.line++;
		if (len > CFG_LINE_MAX) {
			struct cfg_item it = { .file = name, .line = r.line };

			cfg_item_err(err, errlen, &it, "line longer than %d bytes", CFG_LINE_MAX);
			errno = E2BIG;
			return -1;
		}
		memcpy(line, p, len);
		line[len] = '\0';
		if (cfg_line(&r, line, fn, arg, err, errlen) == -1) {
			errno = EINVAL;
			return -1;
		}
		p += len;
		if (*p == '\n')
			p++;
	}
	return 0;
}

/* The entry named exactly <name> (length and bytes), or NULL. */
const struct cfg_key *cfg_find_key(const struct cfg_key *table, const char *name)
{
	for (const struct cfg_key *k = table; k->name != NULL; k++) {
		if (strcmp(k->name, name) == 0)
			return k;
	}
	return NULL;
}

static int cfg_parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < HR_ARRAY_SIZE(yes); i++) {
		if (strcmp(v, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(v, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

/* Parses a numeric "ip:port", "[ip6]:port", "*:port" or ":port" (any address). No DNS.
 * Returns 0, or -1 with <why> set. */
int cfg_parse_addr(const char *text, struct cfg_addr *out, const char **why)
{
	char host[64];
	const char *colon;
	const char *port_s;
	char *end;
	unsigned long port;
	size_t hlen;

	memset(out, 0, sizeof(*out));
	if (strlen(text) >= sizeof(out->text)) {
		*why = "address too long";
		return -1;
	}
	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (close == NULL || close[1] != ':') {
			*why = "expected [IPv6]:PORT";
			return -1;
		}
		hlen = (size_t)(close - text - 1);
		if (hlen >= sizeof(host)) {
			*why = "address too long";
			return -1;
		}
		memcpy(host, text + 1, hlen);
		host[hlen] = '\0';
		port_s = close + 2;
	} else {
		colon = strrchr(text, ':');
		if (colon == NULL) {
			*why = "expected IP:PORT";
			return -1;
		}
		hlen = (size_t)(colon - text);
		if (hlen >= sizeof(host)) {
			*why = "address too long";
			return -1;
		}
		memcpy(host, text, hlen);
		host[hlen] = '\0';
		port_s = colon + 1;
	}
	errno = 0;
	port = strtoul(port_s, &end, 10);
	if (port_s[0] < '0' || port_s[0] > '9' || *end != '\0' || errno != 0 || port > 65535) {
		*why = "port must be a number from 0 to 65535";
		return -1;
	}
	if (host[0] == '\0' || strcmp(host, "*") == 0) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&out->ss;

		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
		sin->sin_port = htons((uint16_t)port);
		out->len = sizeof(*sin);
	} else if (strchr(host, ':') != NULL) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->ss;

		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) {
			*why = "not a numeric IPv6 address (host names are not resolved)";
			return -1;
		}
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		out->len = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&out->ss;

		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
			*why = "not a numeric IPv4 address (host names are not resolved)";
			return -1;
		}
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		out->len = sizeof(*sin);
	}
	strcpy(out->text, text);
	return 0;
}

/* Writes one bound of key <k>'s range to <out> in the key's own units: "100ms", "5m", "64k". */
static void cfg_fmt_bound(const struct cfg_key *k, double v, char *out, size_t outlen)
{
	static const struct {
		const char *suffix; /* as units_parse_*() read it */
		double factor;      /* base units per suffix */
	} dur[] = { { "h", 3600 }, { "m", 60 } },
	  size[] = { { "G", 1073741824.0 }, { "MB", 1048576.0 }, { "k", 1024.0 } };

	switch (k->type) {
	case CFG_T_DURATION:
		for (size_t i = 0; i < sizeof(dur) / sizeof(dur[0]); i++) {
			if (v >= dur[i].factor && fmod(v, dur[i].factor) == 0.0) {
				snprintf(out, outlen, "%.0f%s", v / dur[i].factor, dur[i].suffix);
				return;
			}
		}
		if (units_format_duration(v, out, outlen) == -1)
			snprintf(out, outlen, "%gs", v);
		return;
	case CFG_T_SIZE:
		for (size_t i = 0; i < sizeof(size) / sizeof(size[0]); i++) {
			if (v >= size[i].factor && fmod(v, size[i].factor) == 0.0) {
				snprintf(out, outlen, "%.0f%s", v / size[i].factor, size[i].suffix);
				return;
			}
		}
		snprintf(out, outlen, "%.0f", v);
		return;
	case CFG_T_INT:
	case CFG_T_BOOL:
	case CFG_T_STRING:
	case CFG_T_ENUM:
	case CFG_T_ADDR:
	case CFG_T_NETS:
	case CFG_T_COUNT:
		break;
	}
	snprintf(out, outlen, "%.0f", v);
}

/* Sets <why> to "out of range: MIN to MAX" for key <k> (a static buffer: single-threaded
 * config load), so that the error says what would be accepted. */
static void cfg_range_why(const struct cfg_key *k, const char **why)
{
	static char buf[96];
	char lo[32];
	char hi[32];

	cfg_fmt_bound(k, k->min, lo, sizeof(lo));
	cfg_fmt_bound(k, k->max, hi, sizeof(hi));
	snprintf(buf, sizeof(buf), "out of range: %s to %s", lo, hi);
	*why = buf;
}

/* Parses <value> for key <k> into <base> + k->offset. Returns 0, or -1 with <why> saying
 * what is wrong in words a user understands. <base> is unchanged on failure. */
int cfg_parse_value(const struct cfg_key *k, const char *value, void *base, const char **why)
{
	char *dst = (char *)base + k->offset;
	static char why_buf[160]; /* only for the enum list below; single-threaded config load */

	switch (k->type) {
	case CFG_T_INT: {
		long long v;
		char *end;

		errno = 0;
		v = strtoll(value, &end, 10);
		if (value[0] == '\0' || *end != '\0' || errno != 0) {
			*why = "not an integer";
			return -1;
		}
		if ((double)v < k->min || (double)v > k->max) {
			cfg_range_why(k, why);
			return -1;
		}
		*(int64_t *)(void *)dst = (int64_t)v;
		return 0;
	}
	case CFG_T_BOOL: {
		bool b;

		if (cfg_parse_bool(value, &b) == -1) {
			*why = "expected yes or no";
			return -1;
		}
		*(bool *)(void *)dst = b;
		return 0;
	}
	case CFG_T_DURATION: {
		double d;

		if (units_parse_duration(value, &d) == -1) {
			*why = "not a duration (examples: 250ms, 2s, 1m)";
			return -1;
		}
		if (d < k->min || d > k->max) {
			cfg_range_why(k, why);
			return -1;
		}
		*(double *)(void *)dst = d;
		return 0;
	}
	case CFG_T_SIZE: {
		uint64_t s;

		if (units_parse_size(value, &s) == -1) {
			*why = "not a size (examples: 512, 64k, 16MB)";
			return -1;
		}
		if ((double)s < k->min || (double)s > k->max) {
			cfg_range_why(k, why);
			return -1;
		}
		*(uint64_t *)(void *)dst = s;
		return 0;
	}
	case CFG_T_STRING: {
		size_t len = strlen(value);

		if (len >= k->len) {
			*why = "value too long";
			return -1;
		}
		if (len < (size_t)k->min) {
			*why = "must not be empty";
			return -1;
		}
		memcpy(dst, value, len + 1);
		return 0;
	}
	case CFG_T_ENUM: {
		size_t off = 0;

		for (int i = 0; k->enum_names[i] != NULL; i++) {
			if (strcmp(k->enum_names[i], value) == 0) {
				*(int *)(void *)dst = i;
				return 0;
			}
		}
		off = (size_t)snprintf(why_buf, sizeof(why_buf), "expected one of");
		for (int i = 0; k->enum_names[i] != NULL && off < sizeof(why_buf); i++)
			off += (size_t)snprintf(why_buf + off, sizeof(why_buf) - off, "%s %s",
			                        i == 0 ? "" : ",", k->enum_names[i]);
		*why = why_buf;
		return -1;
	}
	case CFG_T_ADDR: {
		struct cfg_addr a;

		if (cfg_parse_addr(value, &a, why) == -1)
			return -1;
		*(struct cfg_addr *)(void *)dst = a;
		return 0;
	}
	case CFG_T_NETS:
		return netacl_parse(value, (struct netacl *)dst, why);
	case CFG_T_COUNT:
		break;
	}
	*why = "unknown key type (bug)";
	return -1;
}

/* Routes a key item to <table>: finds the key, refuses a second setting of it in the same
 * instance (<seen>), parses the value. Returns 0, or -1 with <err> as
 * "FILE:LINE: key 'KEY': what is wrong (got "VALUE")". */
int cfg_set_key(const struct cfg_key *table, void *base, struct cfg_seen *seen,
                const struct cfg_item *it, char *err, size_t errlen)
{
	const struct cfg_key *k = cfg_find_key(table, it->key);
	const char *why = NULL;
	size_t idx;

	if (k == NULL) {
		cfg_item_err(err, errlen, it, "key '%s': unknown key in section [%s] (got \"%s\")",
		             it->key, it->section, it->value);
		return -1;
	}
	idx = (size_t)(k - table);
	if (idx >= CFG_MAX_KEYS) {
		cfg_item_err(err, errlen, it, "key '%s': table too large (bug)", it->key);
		return -1;
	}
	if (seen != NULL && seen->line[idx] != 0) {
		cfg_item_err(err, errlen, it, "key '%s': set twice, first at line %u (got \"%s\")",
		             it->key, seen->line[idx], it->value);
		return -1;
	}
	if (cfg_parse_value(k, it->value, base, &why) == -1) {
		cfg_item_err(err, errlen, it, "key '%s': %s (got \"%s\")", it->key, why, it->value);
		return -1;
	}
	if (seen != NULL)
		seen->line[idx] = it->line;
	return 0;
}

/* Sets every key of <table> in <base> to its default. Returns 0, or -1 (a default that does
 * not parse is a bug in the table, reported in <err>). */
int cfg_set_defaults(const struct cfg_key *table, void *base, char *err, size_t errlen)
{
	for (const struct cfg_key *k = table; k->name != NULL; k++) {
		const char *why = NULL;

		if (k->def == NULL)
			continue;
		if (cfg_parse_value(k, k->def, base, &why) == -1) {
			snprintf(err, errlen, "built-in default of key '%s': %s (got \"%s\")",
			         k->name, why, k->def);
			return -1;
		}
	}
	return 0;
}

/* Writes the value of <k> in <base> as a config would say it. Returns 0, or -1 (ENOBUFS). */
size_t cfg_value_size(const struct cfg_key *k)
{
	switch (k->type) {
	case CFG_T_INT:
		return sizeof(int64_t);
	case CFG_T_BOOL:
		return sizeof(bool);
	case CFG_T_DURATION:
		return sizeof(double);
	case CFG_T_SIZE:
		return sizeof(uint64_t);
	case CFG_T_STRING:
		return k->len;
	case CFG_T_ENUM:
		return sizeof(int);
	case CFG_T_ADDR:
		return sizeof(struct cfg_addr);
	case CFG_T_NETS:
		return sizeof(struct netacl);
	case CFG_T_COUNT:
		break;
	}
	return 0;
}

int cfg_format_value(const struct cfg_key *k, const void *base, char *out, size_t outlen)
{
	const char *src = (const char *)base + k->offset;
	int n = -1;

	switch (k->type) {
	case CFG_T_INT:
		n = snprintf(out, outlen, "%lld", (long long)*(const int64_t *)(const void *)src);
		break;
	case CFG_T_BOOL:
		n = snprintf(out, outlen, "%s", *(const bool *)(const void *)src ? "yes" : "no");
		break;
	case CFG_T_DURATION:
		return units_format_duration(*(const double *)(const void *)src, out, outlen);
	case CFG_T_SIZE:
		n = snprintf(out, outlen, "%llu",
		             (unsigned long long)*(const uint64_t *)(const void *)src);
		break;
	case CFG_T_STRING:
		n = snprintf(out, outlen, "%s", src);
		break;
	case CFG_T_ENUM:
		n = snprintf(out, outlen, "%s", k->enum_names[*(const int *)(const void *)src]);
		break;
	case CFG_T_ADDR:
		n = snprintf(out, outlen, "%s", ((const struct cfg_addr *)(const void *)src)->text);
		break;
	case CFG_T_NETS:
		n = snprintf(out, outlen, "%s", ((const struct netacl *)(const void *)src)->text);
		break;
	case CFG_T_COUNT:
		break;
	}
	if (n < 0 || (size_t)n >= outlen) {
		errno = ENOBUFS;
		return -1;
	}
	return 0;
}

/* Copies a libpq conninfo ("key=value ..." or a postgres:// URI) into <out> with the password
 * replaced by "***", for logs. Returns <out>; a result that does not fit becomes "(conninfo)". */
const char *cfg_redact(const char *conninfo, char *out, size_t outlen)
{
	const char *scheme_end = strstr(conninfo, "://");
	const char *p = conninfo;
	size_t o = 0;

	if (outlen == 0)
		return out;
	if (scheme_end != NULL) {
		/* URI: scheme://user:password@host/db?params */
		const char *auth = scheme_end + 3;
		size_t auth_len = strcspn(auth, "/?");
		const char *at = memchr(auth, '@', auth_len);
		const char *colon = at != NULL ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
		int n;

		if (colon == NULL)
			n = snprintf(out, outlen, "%s", conninfo);
		else
			n = snprintf(out, outlen, "%.*s:***%s", (int)(colon - conninfo), conninfo,
			             at);
		if (n < 0 || (size_t)n >= outlen)
			snprintf(out, outlen, "(conninfo)");
		return out;
	}
	while (*p != '\0') {
		bool at_word = p == conninfo || p[-1] == ' ' || p[-1] == '\t';
		const char *q = p + 8;

		if (at_word && strncmp(p, "password", 8) == 0) {
			while (*q == ' ')
				q++;
		}
		if (at_word && strncmp(p, "password", 8) == 0 && *q == '=') {
			q++;
			while (*q == ' ')
				q++;
			if (*q == '\'') {
				for (q++; *q != '\0' && *q != '\''; q++) {
					if (*q == '\\' && q[1] != '\0')
						q++;
				}
				if (*q == '\'')
					q++;
			} else {
				q += strcspn(q, " \t");
			}
			if (o + 12 >= outlen)
				goto out_too_long;
			memcpy(out + o, "password=***", 12);
			o += 12;
			p = q;
			continue;
		}
		if (o + 1 >= outlen)
			goto out_too_long;
		out[o++] = *p++;
	}
	out[o] = '\0';
	return out;

out_too_long:
	snprintf(out, outlen, "(conninfo)");
	return out;
}
