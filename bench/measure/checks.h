/*
 * Self-check verdicts as small codes: a run's check travels from thread 0
 * to the row in a Google Benchmark counter, which holds a number, so each
 * distinct message gets a code (0 is "ok") and the row asks for its text.
 */
#ifndef KREFBENCH_BENCH_CHECKS_H
#define KREFBENCH_BENCH_CHECKS_H

/* The code of a failure message (1 or more; the same text, the same code). */
int kb_check_code(const char *text);
/* The message of a code in the "check" counter. */
const char *kb_check_text(int code);

#endif
