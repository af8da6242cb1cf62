#include "fold.h"

#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

void kb_print_folded(FILE *f, const char *fmt, ...)
{
	char text[4096];
	va_list ap;
	const char *p = text;
	size_t lead = 0;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	while (*p) {
		size_t line = strcspn(p, "\n"), width = KB_TERMINAL_COLUMNS, cut = line;
		bool cont = p != text && p[-1] != '\n';

		if (!cont)
			lead = strspn(p, " ");
		if (cont)
			width -= lead + 2;
		if (line > width) {
			cut = width;
			while (cut > 0 && p[cut] != ' ')
				cut--;
			if (!cut)
				cut = strcspn(p, " \n");
		}
		fprintf(f, "%*s%.*s", cont ? (int)lead + 2 : 0, "", (int)cut, p);
		p += cut;
		if (*p == ' ') {
			fputc('\n', f);
			p++;
		} else if (*p == '\n') {
			fputc('\n', f);
			p++;
		}
	}
}
