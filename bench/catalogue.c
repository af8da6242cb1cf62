#include "catalogue.h"

#include "core/backends.h"
#include "core/lib/json.h"
#include "measure/floors.h"
#include "options.h"
#include "workloads/readside.h"

/* The KB_* flag bits of core/backend_attrs.h, by name. */
static const struct {
	unsigned int bit;
	const char *name;
} flag_names[] = {
	{ KB_COUNTS, "counts" },
	{ KB_DEFERRED_RELEASE, "deferred_release" },
	{ KB_KILL_RELEASES, "kill_releases" },
	{ KB_EPOCH_RELEASE, "epoch_release" },
	{ KB_NO_GET_UNLESS_ZERO, "no_get_unless_zero" },
	{ KB_OWNER_RELEASE, "owner_release" },
	{ KB_WEAK_GET_UNLESS_ZERO, "weak_get_unless_zero" },
	{ KB_APPROX_READ, "approx_read" },
	{ KB_HELPER_THREAD, "helper_thread" },
	{ KB_BLOCKING, "blocking" },
};
#define NFLAGS (sizeof(flag_names) / sizeof(flag_names[0]))

static void json_names(FILE *f, const char *const *names)
{
	fputc('[', f);
	for (int i = 0; names && names[i]; i++) {
		fputs(i ? ", " : "", f);
		kb_json_put_string(f, names[i]);
	}
	fputc(']', f);
}

static void json_backend(FILE *f, const struct kb_backend *b)
{
	int n = 0;

	fputs("    {\"name\": ", f);
	kb_json_put_string(f, b->name);
	fputs(", \"model\": ", f);
	kb_json_put_string(f, b->model);
	fputs(", \"flags\": [", f);
	for (size_t i = 0; i < NFLAGS; i++)
		if (b->flags & flag_names[i].bit) {
			fputs(n++ ? ", " : "", f);
			kb_json_put_string(f, flag_names[i].name);
		}
	fprintf(f, "], \"typesafe\": %s, \"bytes_per_object\": %zu}",
		b->init_typesafe ? "true" : "false", b->bytes_per_object());
}

static void json_workload(FILE *f, const struct kb_workload *w)
{
	fputs("    {\"name\": ", f);
	kb_json_put_string(f, w->name);
	fputs(", \"about\": ", f);
	kb_json_put_string(f, w->about);
	fputs(", \"op\": ", f);
	kb_json_put_string(f, w->op ? w->op : "op");
	fputs(", \"variants\": ", f);
	json_names(f, w->variants);
	fprintf(f, ", \"uses_writer\": %s, \"uses_flavor\": %s}",
		w->uses_writer ? "true" : "false", w->chosen_by == KB_VARIANTS_BY_RCU_FLAVOR ? "true" : "false");
}

static void print_json(FILE *f)
{
	fputs("{\n  \"backends\": [\n", f);
	for (unsigned int i = 0; i < kb_nbackends; i++) {
		json_backend(f, kb_backends[i]);
		fputs(i + 1 < kb_nbackends ? ",\n" : "\n", f);
	}
	fputs("  ],\n  \"workloads\": [\n", f);
	for (int i = 0; i < kb_nall_workloads; i++) {
		json_workload(f, kb_all_workloads[i]);
		fputs(i + 1 < kb_nall_workloads ? ",\n" : "\n", f);
	}
	fputs("  ],\n  \"readside_mechanisms\": [", f);
	for (int i = 0; i < kb_nreadside_mechanisms; i++) {
		fputs(i ? ", " : "", f);
		kb_json_put_string(f, kb_readside_mechanisms[i].name);
	}
	fputs("],\n  \"floors\": [", f);
	for (int i = 0; i < kb_nfloors; i++) {
		fputs(i ? ", " : "", f);
		kb_json_put_string(f, kb_floors[i].name);
	}
	fputs("]\n}\n", f);
}

static void print_text(FILE *f)
{
	fputs("backends (core/backends.list):\n", f);
	for (unsigned int i = 0; i < kb_nbackends; i++)
		fprintf(f, "  %-14s %s\n", kb_backends[i]->name, kb_backends[i]->model);
	fputs("workloads:\n", f);
	for (int i = 0; i < kb_nall_workloads; i++) {
		const struct kb_workload *w = kb_all_workloads[i];

		fprintf(f, "  %-16s %s", w->name, w->about);
		for (int v = 0; w->variants && w->variants[v]; v++)
			fprintf(f, "%s%s", v ? ", " : " (variants: ", w->variants[v]);
		fputs(w->variants ? ")\n" : "\n", f);
	}
	fputs("read-side mechanisms (readside rows, not schemes):", f);
	for (int i = 0; i < kb_nreadside_mechanisms; i++)
		fprintf(f, " %s", kb_readside_mechanisms[i].name);
	fputs("\nfloors (backend floor):", f);
	for (int i = 0; i < kb_nfloors; i++)
		fprintf(f, " %s", kb_floors[i].name);
	fputc('\n', f);
}

void kb_catalogue_print(FILE *f, bool json)
{
	if (json)
		print_json(f);
	else
		print_text(f);
}
