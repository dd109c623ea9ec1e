/* tests/fuzz/gen_feed_corpus.c - writes the seed corpus of fuzz_feed_frame: real frames from
 * ns_encode_frame() for the states a subscriber meets (primary, standby with lag, app-only node,
 * drained, fenced, every string at its longest, two frames back to back). Not built by make;
 * regenerate with:
 *   cc -std=gnu11 -I. -D_GNU_SOURCE tests/fuzz/gen_feed_corpus.c build/libcommon.a -lmsgpackc \
 *      -o /tmp/gen && /tmp/gen tests/fuzz/corpus/fuzz_feed_frame */
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "common/node_state.h"

static int emit(const char *dir, const char *name, const struct node_state *a,
                const struct node_state *b)
{
	static uint8_t mem[2 * (NS_FRAME_HDR + NS_FRAME_MAX)];
	struct buf out;
	char path[512];
	FILE *f;

	buf_init_static(&out, mem, sizeof(mem));
	if (ns_encode_frame(a, &out) != 0 || (b != NULL && ns_encode_frame(b, &out) != 0))
		return -1;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL)
		return -1;
	fwrite(buf_head(&out), 1, buf_len(&out), f);
	return fclose(f);
}

static void base(struct node_state *s, const char *node)
{
	ns_init(s);
	snprintf(s->cluster, sizeof(s->cluster), "itsm");
	snprintf(s->node, sizeof(s->node), "%s", node);
	s->boot = 0x1234567890abcdefULL;
	s->seq = 7;
	s->ts_ms = 1795000000000ULL;
}

int main(int argc, char **argv)
{
	struct node_state p, s, app, big;
	const char *dir = argc > 1 ? argv[1] : ".";
	size_t i;

	base(&p, "db1");
	p.pg.present = true;
	p.pg.up = true;
	p.pg.role = NS_ROLE_PRIMARY;
	p.pg.tl = 3;
	snprintf(p.pg.sysid, sizeof(p.pg.sysid), "7311111111111111111");
	p.pg.lsn = 0x3000060;
	p.n_checks = 2;
	snprintf(p.checks[0].name, NS_NAME_MAX, "writer");
	snprintf(p.checks[0].line, NS_CHECK_LINE_MAX, "up ready 100%%");
	snprintf(p.checks[1].name, NS_NAME_MAX, "reader");
	snprintf(p.checks[1].line, NS_CHECK_LINE_MAX, "up ready 10%%");

	base(&s, "db2");
	s.pg = p.pg;
	s.pg.role = NS_ROLE_STANDBY;
	s.pg.lag_bytes = 123456;
	s.pg.lag_ms = 250;
	s.pg.streaming = true;
	s.admin = NS_ADMIN_DRAIN;
	snprintf(s.admin_reason, sizeof(s.admin_reason), "upgrade to 5.2");
	s.n_checks = 2;
	snprintf(s.checks[0].name, NS_NAME_MAX, "writer");
	snprintf(s.checks[0].line, NS_CHECK_LINE_MAX, "down drain #admin: upgrade to 5.2");
	snprintf(s.checks[1].name, NS_NAME_MAX, "reader");
	snprintf(s.checks[1].line, NS_CHECK_LINE_MAX, "up drain 37%%");

	base(&app, "app1");
	app.app.present = true;
	app.app.up = true;
	app.app.ms = 3;
	app.nginx.present = true;
	app.nginx.up = false;
	snprintf(app.nginx.err, sizeof(app.nginx.err), "connect: Connection refused");
	app.n_checks = 1;
	snprintf(app.checks[0].name, NS_NAME_MAX, "app");
	snprintf(app.checks[0].line, NS_CHECK_LINE_MAX, "fail ready #nginx: connect refused");

	big = p;
	memset(big.cluster, 'c', NS_NAME_MAX - 1);
	memset(big.node, 'n', NS_NAME_MAX - 1);
	memset(big.admin_reason, 'r', NS_REASON_MAX - 1);
	big.fenced = true;
	memset(big.fence_reason, 'f', NS_REASON_MAX - 1);
	memset(big.pg.err, 'e', NS_REASON_MAX - 1);
	big.n_checks = NS_CHECKS_MAX;
	for (i = 0; i < NS_CHECKS_MAX; i++) {
		memset(big.checks[i].name, 'a' + (int)i, NS_NAME_MAX - 1);
		memset(big.checks[i].line, 'l', NS_CHECK_LINE_MAX - 1);
	}

	if (emit(dir, "primary", &p, NULL) || emit(dir, "standby_drained", &s, NULL) ||
	    emit(dir, "app_only", &app, NULL) || emit(dir, "longest", &big, NULL) ||
	    emit(dir, "two_frames", &p, &s)) {
		perror("gen_feed_corpus");
		return 1;
	}
	return 0;
}
