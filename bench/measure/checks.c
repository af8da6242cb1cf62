#include "checks.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define KB_MAX_CHECKS 64
static char check_texts[KB_MAX_CHECKS][160];
static int ncheck_texts;
static pthread_mutex_t check_lock = PTHREAD_MUTEX_INITIALIZER;

int kb_check_code(const char *text)
{
	int code;

	pthread_mutex_lock(&check_lock);
	for (code = 0; code < ncheck_texts; code++)
		if (strcmp(check_texts[code], text) == 0)
			break;
	if (code == ncheck_texts && ncheck_texts < KB_MAX_CHECKS)
		snprintf(check_texts[ncheck_texts++], sizeof(check_texts[0]), "%s", text);
	pthread_mutex_unlock(&check_lock);
	return code + 1;
}

const char *kb_check_text(int code)
{
	if (code == 0)
		return "ok";
	if (code < 1 || code > ncheck_texts)
		return "check result lost";
	return check_texts[code - 1];
}
