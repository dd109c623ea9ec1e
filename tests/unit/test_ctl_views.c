/* tests/unit/test_ctl_views.c - haprolectl's views beside the agents (ctl/views.h):
 * HAProxy's `show stat` CSV (header captured from HAProxy 2.6), the "drained" rule of drain
 * --wait, the SPOA status page's decision, the admin socket's hex state line, and the health
 * problems and output they add. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ctl/views.h"
#include "common/compiler.h"

/* The header line of `show stat` from HAProxy 2.6 (129 columns; scur is the 5th, status the
 * 18th). Rows below are built on it, so a parser that hard-codes positions of another version
 * would still be caught by the name lookup. */
static const char stat_header[] =
    "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wr"
    "etr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid"
    ",throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_du"
    "ration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req"
    "_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last"
    "_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_d"
    "esc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health"
    ",addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,c"
    "onnect,reuse,cache_lookups,cache_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_ma"
    "x,ttime_max,eint,idle_conn_cur,safe_conn_cur,used_conn_cur,need_conn_est,uweight,agg"
    "_server_status,agg_server_check_status,agg_check_status,-,ssl_sess,ssl_reused_sess,s"
    "sl_failed_handshake,h2_headers_rcvd,h2_data_rcvd,h2_settings_rcvd,h2_rst_stream_rcvd"
    ",h2_goaway_rcvd,h2_detected_conn_protocol_errors,h2_detected_strm_protocol_errors,h2"
    "_rst_stream_resp,h2_goaway_resp,h2_open_connections,h2_backend_open_streams,h2_total"
    "_connections,h2_backend_total_streams,h1_open_connections,h1_open_streams,h1_total_c"
    "onnections,h1_total_streams,h1_bytes_in,h1_bytes_out,h1_spliced_bytes_in,h1_spliced_"
    "bytes_out,";

/* Appends a server line with <px>, <sv>, <scur>, <status> at their columns, the rest empty. */
static void row(char *csv, size_t len, const char *px, const char *sv, const char *scur,
                const char *status)
{
	size_t used = strlen(csv);

	snprintf(csv + used, len - used, "%s,%s,0,0,%s,0,,0,0,0,,0,,0,0,0,0,%s%s\n", px, sv, scur,
	         status, ",1,1,0,,,1,,,1,2,2,,0,,2,0,,0,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,");
}

static char *stat_csv(const char *const (*rows)[4], size_t n)
{
	static char csv[16384];

	snprintf(csv, sizeof(csv), "%s\n", stat_header);
	for (size_t i = 0; i < n; i++)
		row(csv, sizeof(csv), rows[i][0], rows[i][1], rows[i][2], rows[i][3]);
	return csv;
}

static void test_ctlv_stat_parse_servers(void **state)
{
	static const char *const rows[][4] = {
		{ "pg_write", "db1", "3", "UP" },     { "pg_write", "db2", "0", "DOWN" },
		{ "pg_write", "BACKEND", "3", "UP" }, { "pg_read", "db1", "1", "UP" },
		{ "pg_read", "db2", "2", "DRAIN" },   { "pg_read", "BACKEND", "3", "UP" },
		{ "stats", "FRONTEND", "0", "OPEN" }, { "app", "app1", "", "no check" },
	};
	static struct ctlv_haproxy h;
	const char *csv = stat_csv(rows, HR_ARRAY_SIZE(rows));

	(void)state;
	assert_int_equal(ctlv_stat_parse(csv, strlen(csv), &h), 0);
	assert_int_equal(h.n, 5);
	assert_string_equal(h.servers[0].backend, "pg_write");
	assert_string_equal(h.servers[0].server, "db1");
	assert_string_equal(h.servers[0].status, "UP");
	assert_int_equal(h.servers[0].scur, 3);
	assert_string_equal(h.servers[3].status, "DRAIN");
	assert_int_equal(h.servers[3].scur, 2);
	assert_string_equal(h.servers[4].status, "no check");
	assert_int_equal(h.servers[4].scur, 0);
}

static void test_ctlv_stat_parse_refuses(void **state)
{
	static const struct {
		const char *text;
		int line;
	} vec[] = {
		{ "", __LINE__ },
		{ "Unknown command. Please enter one of the following commands only :\n",
		  __LINE__ },
		{ "# pxname,svname,status\npg,db1,UP\n", __LINE__ },        /* no scur column */
		{ "# pxname,svname,scur,status\npg,db1\n", __LINE__ },      /* a short row */
		{ "# pxname,svname,scur,status\npg,db1,x,UP\n", __LINE__ }, /* scur not a number */
		{ "# pxname,svname,scur,status\npg,db1,1,"
		  "UPUPUPUPUPUPUPUPUPUPUPUPUPUPUPUPUPUPUP\n",
		  __LINE__ }, /* a status too long */
	};
	static struct ctlv_haproxy h;

	(void)state;
	for (size_t i = 0; i < HR_ARRAY_SIZE(vec); i++) {
		if (ctlv_stat_parse(vec[i].text, strlen(vec[i].text), &h) != -1)
			fail_msg("vector at line %d accepted", vec[i].line);
	}
	/* Minimal but valid: columns found by name, a last line without '\n'. */
	assert_int_equal(ctlv_stat_parse("# pxname,svname,scur,status\npg,db1,4,DRAIN", 42, &h), 0);
	assert_int_equal(h.n, 1);
	assert_int_equal(h.servers[0].scur, 4);
}

/* drain --wait returns when every server of the node is out of load balancing and empty. */
static void test_ctlv_drained_vectors(void **state)
{
	static const struct {
		const char *rows[3][4];
		size_t n;
		bool drained;
		size_t servers;
		uint64_t sessions;
		int line;
	} vec[] = {
		/* HAProxy has not asked the agent yet: UP, no session, still gets new ones */
		{ { { "r", "db2", "0", "UP" }, { "w", "db2", "0", "DOWN" } },
		  2,
		  false,
		  2,
		  0,
		  __LINE__ },
		{ { { "r", "db2", "1", "DRAIN" }, { "w", "db2", "0", "DOWN" } },
		  2,
		  false,
		  2,
		  1,
		  __LINE__ },
		{ { { "r", "db2", "0", "DRAIN" }, { "w", "db2", "0", "DOWN" } },
		  2,
		  true,
		  2,
		  0,
		  __LINE__ },
		{ { { "r", "db2", "0", "MAINT" }, { "r", "db1", "5", "UP" } },
		  2,
		  true,
		  1,
		  0,
		  __LINE__ },
		{ { { "r", "db2", "0", "UP 1/2" } }, 1, false, 1, 0, __LINE__ },
		{ { { "r", "db2", "0", "DRAIN 1/2" } }, 1, true, 1, 0, __LINE__ },
		{ { { "r", "db2", "2", "DOWN" } },
		  1,
		  false,
		  1,
		  2,
		  __LINE__ }, /* sessions not cut */
		{ { { "r", "db1", "0", "DRAIN" } }, 1, false, 0, 0, __LINE__ }, /* no such server */
	};

	(void)state;
	for (size_t i = 0; i < HR_ARRAY_SIZE(vec); i++) {
		static struct ctlv_haproxy h;
		const char *csv = stat_csv(vec[i].rows, vec[i].n);
		size_t servers;
		uint64_t sessions;
		bool d;

		assert_int_equal(ctlv_stat_parse(csv, strlen(csv), &h), 0);
		d = ctlv_drained(&h, "db2", &servers, &sessions);
		if (d != vec[i].drained || servers != vec[i].servers || sessions != vec[i].sessions)
			fail_msg("vector at line %d: drained %d, %zu servers, %llu sessions",
			         vec[i].line, d, servers, (unsigned long long)sessions);
	}
}

/* The SPOA's status page, as spoe/status_http.c writes it (two clusters). */
static const char spoa_json[] =
    "{\"uptime_s\":12.5,\"connections\":2,\"route_version\":9,\"clusters\":["
    "{\"name\":\"other\",\"status\":\"no-primary\",\"writer\":\"\",\"reader\":\"\",\"epoch\":0,"
    "\"writer_changes\":0,\"view_age_s\":1.0,\"hold\":false,\"hold_max_s\":0.000,\"held\":0,"
    "\"nodes\":[]},"
    "{\"name\":\"demo\",\"status\":\"ok\",\"writer\":\"db1\",\"reader\":\"db2\",\"epoch\":4,"
    "\"writer_changes\":3,\"view_age_s\":0.2,\"hold\":false,\"hold_max_s\":0.000,\"held\":0,"
    "\"nodes\":[{\"name\":\"db1\",\"server\":\"db1\",\"agent\":\"198.18.0.21:5555\","
    "\"known\":true,\"feed\":\"STREAMING\"}]}]}\n";

static void test_ctlv_spoa_parse_decision(void **state)
{
	struct ctlv_spoa s;

	(void)state;
	memset(&s, 0, sizeof(s));
	snprintf(s.cluster, sizeof(s.cluster), "demo");
	assert_int_equal(ctlv_spoa_parse(spoa_json, strlen(spoa_json), &s), 0);
	assert_true(s.found);
	assert_string_equal(s.status, "ok");
	assert_string_equal(s.writer, "db1");
	assert_string_equal(s.reader, "db2");
	assert_int_equal(s.epoch, 4);

	memset(&s, 0, sizeof(s)); /* "": the first cluster */
	assert_int_equal(ctlv_spoa_parse(spoa_json, strlen(spoa_json), &s), 0);
	assert_string_equal(s.cluster, "other");
	assert_string_equal(s.status, "no-primary");
	assert_string_equal(s.writer, "");

	memset(&s, 0, sizeof(s));
	snprintf(s.cluster, sizeof(s.cluster), "nope");
	assert_int_equal(ctlv_spoa_parse(spoa_json, strlen(spoa_json), &s), -1);
	assert_false(s.found);
	assert_string_equal(s.err, "no cluster 'nope' in its view");

	/* Cut anywhere inside the demo cluster's decision: never found, never read past. */
	for (size_t cut = 0; cut < 250; cut++) {
		memset(&s, 0, sizeof(s));
		snprintf(s.cluster, sizeof(s.cluster), "demo");
		if (ctlv_spoa_parse(spoa_json, cut, &s) != -1)
			fail_msg("cut at %zu found", cut);
	}
}

static void test_ctlv_http_body(void **state)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
	static const char nf[] = "HTTP/1.1 404 Not Found\r\n\r\nno";
	size_t off = 0;

	(void)state;
	assert_int_equal(ctlv_http_body(ok, strlen(ok), &off), 0);
	assert_string_equal(ok + off, "{}");
	assert_int_equal(ctlv_http_body(nf, strlen(nf), &off), -1);
	assert_int_equal(ctlv_http_body(ok, 20, &off), -1); /* headers not complete */
}

static void test_ctlv_hex_frame(void **state)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t mem[NS_FRAME_HDR + NS_FRAME_MAX];
	char line[6 + 2 * sizeof(mem) + 1] = "state ";
	struct node_state in;
	struct node_state out;
	const char *why = NULL;
	struct buf b;
	size_t len = 6;

	(void)state;
	ns_init(&in);
	snprintf(in.cluster, sizeof(in.cluster), "demo");
	snprintf(in.node, sizeof(in.node), "db2");
	in.boot = 1;
	in.seq = 2;
	in.admin = NS_ADMIN_DRAIN;
	buf_init_static(&b, mem, sizeof(mem));
	assert_int_equal(ns_encode_frame(&in, &b), 0);
	for (size_t i = 0; i < buf_len(&b); i++) {
		line[len++] = hex[buf_head(&b)[i] >> 4];
		line[len++] = hex[buf_head(&b)[i] & 15];
	}
	assert_int_equal(ctlv_hex_frame(line, len, &out, &why), 0);
	assert_string_equal(out.node, "db2");
	assert_int_equal(out.admin, NS_ADMIN_DRAIN);
	assert_int_equal(ctlv_hex_frame(line, len - 2, &out, &why), -1); /* cut */
	assert_int_equal(ctlv_hex_frame(line, len - 1, &out, &why), -1); /* odd */
	line[7] = 'G';
	assert_int_equal(ctlv_hex_frame(line, len, &out, &why), -1);
	assert_int_equal(ctlv_hex_frame("error: state unavailable", 24, &out, &why), -1);
}

static void test_ctlv_health_and_output(void **state)
{
	static const char *const rows[][4] = {
		{ "pg_write", "db1", "1", "UP" },
		{ "pg_read", "db2", "0", "DRAIN" },
	};
	static struct ctlv_haproxy h;
	static struct ctl_node nodes[1];
	struct ctl_health health;
	struct ctlv_spoa s;
	const char *csv = stat_csv(rows, HR_ARRAY_SIZE(rows));
	struct buf out;
	const char *t;

	(void)state;
	snprintf(h.socket, sizeof(h.socket), "/run/haproxy.sock");
	assert_int_equal(ctlv_stat_parse(csv, strlen(csv), &h), 0);
	h.reachable = true;
	memset(&s, 0, sizeof(s));
	snprintf(s.address, sizeof(s.address), "127.0.0.1:24013");
	snprintf(s.cluster, sizeof(s.cluster), "demo");
	assert_int_equal(ctlv_spoa_parse(spoa_json, strlen(spoa_json), &s), 0);
	s.reachable = true;
	ns_init(&nodes[0].st);
	snprintf(nodes[0].st.node, sizeof(nodes[0].st.node), "db1");

	/* The agents' writer is the SPOA's: no problem. Another: one. */
	memset(&health, 0, sizeof(health));
	health.writer = 0;
	ctlv_health(&h, &s, nodes, &health);
	assert_int_equal(health.n, 0);
	snprintf(nodes[0].st.node, sizeof(nodes[0].st.node), "db2");
	ctlv_health(&h, &s, nodes, &health);
	assert_int_equal(health.n, 1);
	assert_string_equal(
	    health.problems[0],
	    "haprole-spoa 127.0.0.1:24013 routes writes to db1, the agents say db2");
	/* Unreachable views are problems: the operator asked for them. */
	memset(&health, 0, sizeof(health));
	health.writer = -1;
	h.reachable = false;
	snprintf(h.err, sizeof(h.err), "cannot connect");
	s.reachable = false;
	snprintf(s.err, sizeof(s.err), "connect 127.0.0.1:24013: Connection refused");
	ctlv_health(&h, &s, nodes, &health);
	assert_int_equal(health.n, 2);
	h.reachable = true;
	s.reachable = true;

	assert_int_equal(buf_init(&out, 65536), 0);
	assert_int_equal(ctlv_format_text(&h, &s, &out), 0);
	assert_int_equal(buf_append(&out, ",", 1), 0);
	assert_int_equal(ctlv_format_json(&h, &s, &out), 0);
	assert_int_equal(buf_append(&out, "", 1), 0);
	t = (const char *)buf_head(&out);
	static const char *const want[] = {
		"\nHAProxy (/run/haproxy.sock):\n  Server       Backend          Status         "
		"Sessions\n",
		"  db1          pg_write         UP             1\n",
		"  db2          pg_read          DRAIN          0\n",
		"\nhaprole-spoa (127.0.0.1:24013): cluster demo: status ok, writer db1, reader "
		"db2, "
		"epoch 4\n",
		",\"haproxy\":{\"socket\":\"/run/haproxy.sock\",\"reachable\":true,\"servers\":["
		"{\"backend\":\"pg_write\",\"server\":\"db1\",\"status\":\"UP\",\"sessions\":1},",
		",\"spoa\":{\"address\":\"127.0.0.1:24013\",\"reachable\":true,\"cluster\":"
		"\"demo\","
		"\"status\":\"ok\",\"writer\":\"db1\",\"reader\":\"db2\",\"epoch\":4}",
	};
	for (size_t i = 0; i < HR_ARRAY_SIZE(want); i++) {
		if (strstr(t, want[i]) == NULL)
			fail_msg("output lacks \"%s\":\n%s", want[i], t);
	}
	buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ctlv_stat_parse_servers),
		cmocka_unit_test(test_ctlv_stat_parse_refuses),
		cmocka_unit_test(test_ctlv_drained_vectors),
		cmocka_unit_test(test_ctlv_spoa_parse_decision),
		cmocka_unit_test(test_ctlv_http_body),
		cmocka_unit_test(test_ctlv_hex_frame),
		cmocka_unit_test(test_ctlv_health_and_output),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
