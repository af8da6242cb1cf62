/*
 * JSON text for what the binary writes about itself (the sidecar, the perf
 * probe, --list): one string writer, so every string from the machine (a
 * host name, a CPU model) is escaped the same way. Quotes, backslashes and
 * control characters are escaped; '<', '>' and '&' too, so the text is safe
 * to embed in an HTML <script> block as it stands.
 */
#ifndef KREFBENCH_CORE_LIB_JSON_H
#define KREFBENCH_CORE_LIB_JSON_H

#include <stdio.h>

static inline void kb_json_put_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (s = s ? s : ""; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20 || c == '<' || c == '>' || c == '&' || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

#endif
