// SPDX-License-Identifier: GPL-2.0
/*
 * trace-cmd's trace.dat, read with libtracecmd: every event in time order
 * as the line `trace-cmd report` prints for it,
 *   comm-pid [cpu] secs.usecs: name: fields
 * where the fields are the event's own print format, applied by
 * libtraceevent to the recorded payload. The importer reads these lines as
 * it reads tracefs text.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event-parse.h>
#include <trace-cmd.h>
#include <trace-seq.h>

struct daedalus_tracedat {
	struct tep_handle *tep;
	struct trace_seq seq;
	char *text;
	size_t len;
	size_t cap;
	int failed;
};

static int daedalus_tracedat_append(struct daedalus_tracedat *t,
				    const char *s, size_t n)
{
	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 1 << 16;
		char *p;

		while (cap < t->len + n + 1)
			cap *= 2;
		p = realloc(t->text, cap);
		if (!p)
			return -1;
		t->text = p;
		t->cap = cap;
	}
	memcpy(t->text + t->len, s, n);
	t->len += n;
	t->text[t->len] = '\0';
	return 0;
}

static int daedalus_tracedat_event(struct tracecmd_input *handle,
				   struct tep_record *record, int cpu,
				   void *data)
{
	struct daedalus_tracedat *t = data;
	struct tep_event *event;
	const char *comm;
	int pid;

	event = tep_find_event_by_record(t->tep, record);
	if (!event)
		return 0;
	pid = tep_data_pid(t->tep, record);
	comm = tep_data_comm_from_pid(t->tep, pid);
	trace_seq_reset(&t->seq);
	trace_seq_printf(&t->seq, "%16s-%-7d [%03d] %llu.%06llu: %s: ",
			 comm ? comm : "<...>", pid, cpu,
			 record->ts / 1000000000ull,
			 (record->ts % 1000000000ull) / 1000ull, event->name);
	tep_print_event(t->tep, &t->seq, record, "%s", TEP_PRINT_INFO);
	trace_seq_putc(&t->seq, '\n');
	trace_seq_terminate(&t->seq);
	if (t->seq.state != TRACE_SEQ__GOOD ||
	    daedalus_tracedat_append(t, t->seq.buffer, t->seq.len)) {
		t->failed = 1;
		return 1;
	}
	return 0;
}

/*
 * Returns the text (free() it), or NULL with *why set to a static reason.
 */
char *daedalus_tracedat_read(const char *path, const char **why)
{
	struct daedalus_tracedat t = { 0 };
	struct tracecmd_input *handle;

	/*
	 * No libtraceevent plugins: the daedalus, v4l2 and vb2 events print by
	 * their own formats, and the text must not depend on what plugins the
	 * machine has installed.
	 */
	handle = tracecmd_open(path, TRACECMD_FL_LOAD_NO_PLUGINS);
	if (!handle) {
		*why = "libtracecmd cannot open it (not a trace.dat, or truncated)";
		return NULL;
	}
	t.tep = tracecmd_get_tep(handle);
	trace_seq_init(&t.seq);
	if (tracecmd_iterate_events(handle, NULL, 0, daedalus_tracedat_event,
				    &t) < 0 && !t.failed) {
		*why = "libtracecmd cannot read its events";
		t.failed = 1;
	} else if (t.failed) {
		*why = "out of memory formatting its events";
	}
	trace_seq_destroy(&t.seq);
	tracecmd_close(handle);
	if (t.failed) {
		free(t.text);
		return NULL;
	}
	if (!t.text)
		t.text = calloc(1, 1);
	if (!t.text)
		*why = "out of memory";
	return t.text;
}
