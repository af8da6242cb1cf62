// The C API of gbench.h over Google Benchmark.
#include "gbench.h"

#include <benchmark/benchmark.h>

#include <cstdio>
#include <deque>
#include <memory>
#include <string>
#include <vector>

struct gb_state {
	benchmark::State *st;
};

namespace {

std::vector<gb_spec> &specs()
{
	static std::vector<gb_spec> all;
	return all;
}

// Our own copies of the names: the caller's string need not outlive gb_register.
std::deque<std::string> &spec_names()
{
	static std::deque<std::string> all;
	return all;
}

// Setup/Teardown get only the State; the spec index rides in range(0).
void run_setup(const benchmark::State &st)
{
	const gb_spec &s = specs()[st.range(0)];
	if (s.setup)
		s.setup(static_cast<int>(st.threads()), s.ctx);
}

void run_teardown(const benchmark::State &st)
{
	const gb_spec &s = specs()[st.range(0)];
	if (s.teardown)
		s.teardown(static_cast<int>(st.threads()), s.ctx);
}

int spec_of(const std::string &name)
{
	for (size_t i = 0; i < specs().size(); i++)
		if (name == specs()[i].name)
			return static_cast<int>(i);
	return -1;
}

// Forwards each repetition to the C callback and prints nothing itself.
class ForwardingReporter : public benchmark::BenchmarkReporter {
public:
	ForwardingReporter(gb_report_fn fn, void *arg) : fn_(fn), arg_(arg) {}
	bool ReportContext(const Context &) override { return true; }
	void ReportRuns(const std::vector<Run> &runs) override
	{
		for (const Run &run : runs)
			if (run.run_type == Run::RT_Iteration)
				forward(run);
	}

private:
	void forward(const Run &run)
	{
		std::vector<std::string> names;
		std::vector<gb_counter> counters;
		names.reserve(run.counters.size());
		for (const auto &kv : run.counters)
			names.push_back(kv.first);
		for (size_t i = 0; i < names.size(); i++)
			counters.push_back({names[i].c_str(), run.counters.at(names[i]).value});

		gb_result r{};
		std::string name = run.run_name.function_name;
		r.name = name.c_str();
		r.spec = spec_of(name);
		r.threads = static_cast<int>(run.threads);
		r.repetition = static_cast<int>(run.repetition_index < 0 ? 0 : run.repetition_index);
		// The library counts iterations over all threads, and reports
		// real time per thread (summed thread times / threads); CPU time
		// is summed over threads. Measured on libbenchmark 1.7.1 with a
		// sleep-per-iteration body; tests/test_gbench.c pins it down.
		double threads = static_cast<double>(run.threads);
		double per_thread_iters = static_cast<double>(run.iterations) / threads;
		r.iterations = static_cast<uint64_t>(per_thread_iters);
		r.real_ns = run.real_accumulated_time * 1e9 / per_thread_iters;
		r.cpu_ns = run.cpu_accumulated_time * 1e9 / static_cast<double>(run.iterations);
		r.error = run.error_occurred ? run.error_message.c_str() : nullptr;
		r.counters = counters.data();
		r.ncounters = static_cast<int>(counters.size());
		fn_(&r, arg_);
	}

	gb_report_fn fn_;
	void *arg_;
};

} // namespace

extern "C" int gb_register(const gb_spec *spec)
{
	if (!spec || !spec->name || !spec->body || spec->threads < 1 || spec->repetitions < 1 ||
	    spec_of(spec->name) >= 0)
		return -1;
	int index = static_cast<int>(specs().size());
	spec_names().emplace_back(spec->name);
	gb_spec copy = *spec;
	copy.name = spec_names().back().c_str();
	specs().push_back(copy);
	benchmark::internal::Benchmark *b = benchmark::RegisterBenchmark(
		spec->name, [index](benchmark::State &st) {
			gb_state s{&st};
			const gb_spec &sp = specs()[index];
			sp.body(&s, sp.ctx);
		});
	b->Arg(index)->Threads(spec->threads)->UseRealTime()->Repetitions(spec->repetitions);
	b->Setup(run_setup)->Teardown(run_teardown);
	if (spec->iterations)
		b->Iterations(static_cast<benchmark::IterationCount>(spec->iterations));
	else if (spec->min_time_s > 0)
		b->MinTime(spec->min_time_s);
	return index;
}

extern "C" bool gb_keep_running_batch(gb_state *st, uint64_t n)
{
	return st->st->KeepRunningBatch(static_cast<benchmark::IterationCount>(n));
}

extern "C" int gb_thread_index(const gb_state *st) { return st->st->thread_index(); }
extern "C" int gb_threads(const gb_state *st) { return st->st->threads(); }
extern "C" uint64_t gb_max_iterations(const gb_state *st) { return st->st->max_iterations; }
extern "C" void gb_pause(gb_state *st) { st->st->PauseTiming(); }
extern "C" void gb_resume(gb_state *st) { st->st->ResumeTiming(); }

extern "C" void gb_counter_set(gb_state *st, const char *name, double value)
{
	st->st->counters[name] = benchmark::Counter(value);
}

extern "C" void gb_skip_with_error(gb_state *st, const char *message)
{
	st->st->SkipWithError(message);
}

extern "C" int gb_run(const char *const *args, int nargs, const char *json_path,
		      gb_report_fn report, void *arg)
{
	std::vector<std::string> argv_store{"krefbench"};
	for (int i = 0; i < nargs; i++)
		argv_store.emplace_back(args[i]);
	if (json_path) {
		argv_store.emplace_back(std::string("--benchmark_out=") + json_path);
		argv_store.emplace_back("--benchmark_out_format=json");
	}
	std::vector<char *> argv;
	for (auto &a : argv_store)
		argv.push_back(&a[0]);
	argv.push_back(nullptr);
	int argc = static_cast<int>(argv_store.size());
	benchmark::Initialize(&argc, argv.data());
	if (benchmark::ReportUnrecognizedArguments(argc, argv.data()))
		return -1;

	ForwardingReporter display(report, arg);
	std::unique_ptr<benchmark::BenchmarkReporter> file;
	if (json_path)
		file.reset(new benchmark::JSONReporter());
	benchmark::RunSpecifiedBenchmarks(&display, file.get());
	benchmark::Shutdown();
	return 0;
}
