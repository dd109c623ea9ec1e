/* ctl/views.c - HAProxy's and haprole-spoa's views for haprolectl; see views.h. */
#include "ctl/views.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- parsing ------------------------------------------------------------------------------ */

/* The field <idx> (0-based) of the CSV line [p, end), copied to <out> (room <outlen>).
 * Returns 0, or -1 when the line has fewer fields or the field does not fit. */
static int ctlv_csv_field(const char *p, const char *end, size_t idx, char *out, size_t outlen)
{
	const char *f = p;
	size_t i = 0;

	for (;;) {
		const char *c = memchr(f, ',', (size_t)(end - f));
		const char *fe = c != NULL ? c : end;

		if (i == idx) {
			if ((size_t)(fe - f) >= outlen)
				return -1;
			memcpy(out, f, (size_t)(fe - f));
			out[fe - f] = '\0';
			return 0;
		}
		if (c == NULL)
			return -1;
		f = c + 1;
		i++;
	}
}

/* Index of the column named <name> in the header line [p, end) ("# pxname,svname,..."), or -1. */
static long ctlv_csv_col(const char *p, const char *end, const char *name)
{
	size_t nlen = strlen(name);
	long i = 0;

	while (p <= end) {
		const char *c = memchr(p, ',', (size_t)(end - p));
		const char *fe = c != NULL ? c : end;

		if ((size_t)(fe - p) == nlen && memcmp(p, name, nlen) == 0)
			return i;
		if (c == NULL)
			return -1;
		p = c + 1;
		i++;
	}
	return -1;
}

/* Parses the answer to `show stat` (<len> bytes at <csv>): its header line names the columns,
 * then one line per proxy, frontend, backend or server; keeps the server lines in <out>.
 * Returns 0, or -1 when the text is not a stat CSV (no header with pxname, svname, scur,
 * status), a field does not fit, or there are more than CTLV_SERVERS_MAX servers. */
int ctlv_stat_parse(const char *csv, size_t len, struct ctlv_haproxy *out)
{
	const char *p = csv;
	const char *end = csv + len;
	const char *nl = memchr(p, '\n', len);
	long c_px, c_sv, c_scur, c_status;

	out->n = 0;
	if (len < 2 || nl == NULL || memcmp(p, "# ", 2) != 0)
		return -1;
	c_px = ctlv_csv_col(p + 2, nl, "pxname");
	c_sv = ctlv_csv_col(p + 2, nl, "svname");
	c_scur = ctlv_csv_col(p + 2, nl, "scur");
	c_status = ctlv_csv_col(p + 2, nl, "status");
	if (c_px < 0 || c_sv < 0 || c_scur < 0 || c_status < 0)
		return -1;
	for (p = nl + 1; p < end; p = nl + 1) {
		struct ctlv_server sv;
		char num[24];
		char *numend = NULL;

		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		if (nl == p)
			continue;
		if (ctlv_csv_field(p, nl, (size_t)c_px, sv.backend, sizeof(sv.backend)) == -1 ||
		    ctlv_csv_field(p, nl, (size_t)c_sv, sv.server, sizeof(sv.server)) == -1 ||
		    ctlv_csv_field(p, nl, (size_t)c_status, sv.status, sizeof(sv.status)) == -1 ||
		    ctlv_csv_field(p, nl, (size_t)c_scur, num, sizeof(num)) == -1)
			return -1;
		if (strcmp(sv.server, "FRONTEND") == 0 || strcmp(sv.server, "BACKEND") == 0)
			continue;
		/* An empty scur (a server without stats yet) counts as no session. */
		sv.scur = 0;
		if (num[0] != '\0') {
			if (num[0] < '0' || num[0] > '9')
				return -1;
			sv.scur = strtoull(num, &numend, 10);
			if (*numend != '\0')
				return -1;
		}
		if (out->n == CTLV_SERVERS_MAX)
			return -1;
		out->servers[out->n++] = sv;
	}
	return 0;
}

/* Reads the JSON string at *<p> (at its opening quote) into <out>; moves *<p> past it. Names in
 * the SPOA's view are config names: an escape is refused rather than decoded. Returns 0 or -1. */
static int ctlv_json_plain_str(const char **p, const char *end, char *out, size_t outlen)
{
	const char *s = *p;
	const char *q;

	if (s >= end || *s != '"')
		return -1;
	s++;
	for (q = s; q < end && *q != '"'; q++) {
		if (*q == '\\' || (unsigned char)*q < 0x20)
			return -1;
	}
	if (q >= end || (size_t)(q - s) >= outlen)
		return -1;
	memcpy(out, s, (size_t)(q - s));
	out[q - s] = '\0';
	*p = q + 1;
	return 0;
}

/* Moves *<p> past <lit> when the bytes there are exactly <lit>. */
static bool ctlv_skip(const char **p, const char *end, const char *lit)
{
	size_t n = strlen(lit);

	if ((size_t)(end - *p) < n || memcmp(*p, lit, n) != 0)
		return false;
	*p += n;
	return true;
}

/* Parses the SPOA status page's JSON (<len> bytes at <body>): each cluster object starts
 * {"name":N,"status":S,"writer":W,"reader":R,"epoch":E (spoe/status_http.c writes them in this
 * order). Fills <out> for the cluster named <out->cluster>, or the first one when that is "".
 * Returns 0 when found, -1 otherwise (<out->err> says why). */
int ctlv_spoa_parse(const char *body, size_t len, struct ctlv_spoa *out)
{
	static const char open[] = "{\"name\":";
	const char *end = body + len;
	const char *p = body;
	bool any = false;

	out->found = false;
	while ((size_t)(end - p) >= sizeof(open) - 1) {
		const char *q = memmem(p, (size_t)(end - p), open, sizeof(open) - 1);
		char name[NS_NAME_MAX];
		char num[24];
		size_t i = 0;

		if (q == NULL)
			break;
		p = q + sizeof(open) - 1;
		/* Node objects start the same way; only a cluster has "status" next. */
		if (ctlv_json_plain_str(&p, end, name, sizeof(name)) == -1 ||
		    !ctlv_skip(&p, end, ",\"status\":"))
			continue;
		any = true;
		if (out->cluster[0] != '\0' && strcmp(out->cluster, name) != 0)
			continue;
		if (ctlv_json_plain_str(&p, end, out->status, sizeof(out->status)) == -1 ||
		    !ctlv_skip(&p, end, ",\"writer\":") ||
		    ctlv_json_plain_str(&p, end, out->writer, sizeof(out->writer)) == -1 ||
		    !ctlv_skip(&p, end, ",\"reader\":") ||
		    ctlv_json_plain_str(&p, end, out->reader, sizeof(out->reader)) == -1 ||
		    !ctlv_skip(&p, end, ",\"epoch\":")) {
			snprintf(out->err, sizeof(out->err), "cluster %.63s: unexpected JSON",
			         name);
			return -1;
		}
		while (p < end && i < sizeof(num) - 1 && *p >= '0' && *p <= '9')
			num[i++] = *p++;
		num[i] = '\0';
		if (i == 0 || i == sizeof(num) - 1) {
			snprintf(out->err, sizeof(out->err), "cluster %.63s: bad epoch", name);
			return -1;
		}
		out->epoch = strtoull(num, NULL, 10);
		memcpy(out->cluster, name, sizeof(out->cluster));
		out->found = true;
		return 0;
	}
	if (any)
		snprintf(out->err, sizeof(out->err), "no cluster '%.63s' in its view",
		         out->cluster);
	else
		snprintf(out->err, sizeof(out->err),
		         "no cluster in its answer (not haprole-spoa?)");
	return -1;
}

/* Checks that the HTTP response (<len> bytes at <resp>) is a 200 and sets *<off> to its body.
 * Returns 0, or -1 (another status, or no end of headers). */
int ctlv_http_body(const char *resp, size_t len, size_t *off)
{
	const char *hdr_end = memmem(resp, len, "\r\n\r\n", 4);

	if (hdr_end == NULL || len < 12 || memcmp(resp, "HTTP/1.", 7) != 0 ||
	    memcmp(resp + 8, " 200", 4) != 0)
		return -1;
	*off = (size_t)(hdr_end - resp) + 4;
	return 0;
}

static int ctlv_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decodes the admin socket's answer to `state` (<len> bytes at <line>, "state HEX", no '\n')
 * into <out>. Returns 0, or -1 with <why> a static text. */
int ctlv_hex_frame(const char *line, size_t len, struct node_state *out, const char **why)
{
	uint8_t frame[NS_FRAME_HDR + NS_FRAME_MAX];
	size_t n = 0;
	size_t payload = 0;
	size_t i;

	if (len < 6 || memcmp(line, "state ", 6) != 0) {
		*why = "not a state line";
		return -1;
	}
	if ((len - 6) % 2 != 0 || (len - 6) / 2 > sizeof(frame)) {
		*why = "state frame of a bad length";
		return -1;
	}
	for (i = 6; i < len; i += 2) {
		int hi = ctlv_hex_digit(line[i]);
		int lo = ctlv_hex_digit(line[i + 1]);

		if (hi < 0 || lo < 0) {
			*why = "state frame is not lower-case hex";
			return -1;
		}
		frame[n++] = (uint8_t)(hi << 4 | lo);
	}
	if (ns_frame_peek(frame, n, NS_FRAME_MAX, &payload) != (int)n) {
		*why = "state frame cut or oversized";
		return -1;
	}
	return ns_decode(frame + NS_FRAME_HDR, payload, out, why);
}

/* ---- judging ------------------------------------------------------------------------------ */

/* Whether every server of <h> named <server> is out of load balancing with no session (see
 * ctl/views.h). Counts those servers in *<servers> and their sessions in *<sessions>; false
 * when there is none. */
bool ctlv_drained(const struct ctlv_haproxy *h, const char *server, size_t *servers,
                  uint64_t *sessions)
{
	bool drained = true;

	*servers = 0;
	*sessions = 0;
	for (size_t i = 0; i < h->n; i++) {
		const struct ctlv_server *sv = &h->servers[i];

		if (strcmp(sv->server, server) != 0)
			continue;
		(*servers)++;
		*sessions += sv->scur;
		if (sv->scur > 0 || strncmp(sv->status, "UP", 2) == 0)
			drained = false;
	}
	return drained && *servers > 0;
}

/* Adds to <health> what the operator asked to be shown and cannot be read, and a SPOA whose
 * decision is not a healthy one or names another writer than the agents' states do. */
void ctlv_health(const struct ctlv_haproxy *h, const struct ctlv_spoa *s,
                 const struct ctl_node *nodes, struct ctl_health *health)
{
	if (h != NULL && !h->reachable)
		ctl_problem(health, "HAProxy %.100s: %.100s", h->socket, h->err);
	if (s == NULL)
		return;
	if (!s->reachable || !s->found) {
		ctl_problem(health, "haprole-spoa %.63s: %.100s", s->address, s->err);
		return;
	}
	if (strcmp(s->status, "ok") != 0)
		ctl_problem(health, "haprole-spoa %.63s: cluster %.63s is %.31s", s->address,
		            s->cluster, s->status);
	else if (health->writer >= 0 && strcmp(s->writer, nodes[health->writer].st.node) != 0)
		ctl_problem(health,
		            "haprole-spoa %.63s routes writes to %.63s, the agents say %.63s",
		            s->address, s->writer, nodes[health->writer].st.node);
}

/* ---- formatting --------------------------------------------------------------------------- */

/* Appends HAProxy's servers (all, or those named <server>) as text lines or JSON objects. */
int ctlv_format_servers(const struct ctlv_haproxy *h, const char *server, bool json,
                        struct buf *out)
{
	bool first = true;

	for (size_t i = 0; i < h->n; i++) {
		const struct ctlv_server *sv = &h->servers[i];

		if (server != NULL && strcmp(sv->server, server) != 0)
			continue;
		if (json) {
			if ((!first && buf_append(out, ",", 1) == -1) ||
			    buf_printf(out, "{\"backend\":") == -1 ||
			    ns_json_str(out, sv->backend) == -1 ||
			    buf_printf(out, ",\"server\":") == -1 ||
			    ns_json_str(out, sv->server) == -1 ||
			    buf_printf(out, ",\"status\":") == -1 ||
			    ns_json_str(out, sv->status) == -1 ||
			    buf_printf(out, ",\"sessions\":%" PRIu64 "}", sv->scur) == -1)
				return -1;
		} else if (buf_printf(out, "  %-12s %-16s %-14s %" PRIu64 "\n", sv->server,
		                      sv->backend, sv->status, sv->scur) == -1) {
			return -1;
		}
		first = false;
	}
	return 0;
}

/* Appends the text block printed under the status table: HAProxy's servers, the SPOA's
 * decision. Either may be NULL (not asked). */
int ctlv_format_text(const struct ctlv_haproxy *h, const struct ctlv_spoa *s, struct buf *out)
{
	if (h != NULL) {
		if (buf_printf(out, "\nHAProxy (%s):\n", h->socket) == -1)
			return -1;
		if (!h->reachable) {
			if (buf_printf(out, "  unreachable: %s\n", h->err) == -1)
				return -1;
		} else if (buf_printf(out, "  %-12s %-16s %-14s %s\n", "Server", "Backend",
		                      "Status", "Sessions") == -1 ||
		           ctlv_format_servers(h, NULL, false, out) == -1) {
			return -1;
		}
	}
	if (s != NULL) {
		if (!s->reachable || !s->found)
			return buf_printf(out, "\nhaprole-spoa (%s): %s\n", s->address, s->err);
		return buf_printf(
		    out,
		    "\nhaprole-spoa (%s): cluster %s: status %s, writer %s, reader %s, "
		    "epoch %" PRIu64 "\n",
		    s->address, s->cluster, s->status, s->writer[0] != '\0' ? s->writer : "-",
		    s->reader[0] != '\0' ? s->reader : "-", s->epoch);
	}
	return 0;
}

/* Appends the JSON members ,"haproxy":{...} and ,"spoa":{...} for the views asked (none when
 * both are NULL); the caller puts them inside its document's outer object. */
int ctlv_format_json(const struct ctlv_haproxy *h, const struct ctlv_spoa *s, struct buf *out)
{
	if (h != NULL) {
		if (buf_printf(out, ",\"haproxy\":{\"socket\":") == -1 ||
		    ns_json_str(out, h->socket) == -1 ||
		    buf_printf(out, ",\"reachable\":%s", h->reachable ? "true" : "false") == -1)
			return -1;
		if (!h->reachable) {
			if (buf_printf(out, ",\"error\":") == -1 || ns_json_str(out, h->err) == -1)
				return -1;
		} else if (buf_printf(out, ",\"servers\":[") == -1 ||
		           ctlv_format_servers(h, NULL, true, out) == -1 ||
		           buf_append(out, "]", 1) == -1) {
			return -1;
		}
		if (buf_append(out, "}", 1) == -1)
			return -1;
	}
	if (s != NULL) {
		if (buf_printf(out, ",\"spoa\":{\"address\":") == -1 ||
		    ns_json_str(out, s->address) == -1 ||
		    buf_printf(out, ",\"reachable\":%s",
		               s->reachable && s->found ? "true" : "false") == -1)
			return -1;
		if (!s->reachable || !s->found)
			return buf_printf(out, ",\"error\":") == -1 ||
			               ns_json_str(out, s->err) == -1 ||
			               buf_append(out, "}", 1) == -1
			           ? -1
			           : 0;
		if (buf_printf(out, ",\"cluster\":") == -1 || ns_json_str(out, s->cluster) == -1 ||
		    buf_printf(out, ",\"status\":") == -1 || ns_json_str(out, s->status) == -1 ||
		    buf_printf(out, ",\"writer\":") == -1 || ns_json_str(out, s->writer) == -1 ||
		    buf_printf(out, ",\"reader\":") == -1 || ns_json_str(out, s->reader) == -1 ||
		    buf_printf(out, ",\"epoch\":%" PRIu64 "}", s->epoch) == -1)
			return -1;
	}
	return 0;
}
