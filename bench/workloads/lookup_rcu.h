/* lookup_rcu's reclamations, the index of its body2's second dimension and its variants. */
#ifndef KREFBENCH_BENCH_LOOKUP_RCU_H
#define KREFBENCH_BENCH_LOOKUP_RCU_H

/* The RCU flavours over liburcu's hash table, then memb, hazard pointers
 * and type-stable reuse over an array of slots (workloads/lookup_rcu.c). */
enum { KB_RCU_MEMB, KB_RCU_QSBR, KB_RCU_MB, KB_RCU_MEMB_ARRAY, KB_RCU_HAZPTR, KB_RCU_TYPESAFE, KB_NRCU };
extern const char *const kb_rcu_flavor_names[];

#endif
