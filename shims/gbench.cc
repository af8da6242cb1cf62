// The C API of gbench.h over Google Benchmark.
#include "gbench.h"

#include <benchmark/benchmark.h>

#include <cerrno>
#include <fcntl.h>
#include <unistd.h>
#include <cstdio>
#include <deque>
#include <exception>
#include <sstream>
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

// The spec gb_run_once is running: Setup/Teardown get only the State.
int running_spec = -1;

void run_setup(const benchmark::State &st)
{
	const gb_spec &s = specs()[running_spec];
	if (s.setup)
		s.setup(static_cast<int>(st.threads()), s.ctx);
}

void run_teardown(const benchmark::State &st)
{
	const gb_spec &s = specs()[running_spec];
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

// Forwards the run's result to the C callback and prints nothing itself.
class ForwardingReporter : public benchmark::BenchmarkReporter {
public:
	ForwardingReporter(int spec, gb_report_fn fn, void *arg) : spec_(spec), fn_(fn), arg_(arg) {}
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
		r.name = specs()[spec_].name;
		r.spec = spec_;
		r.threads = static_cast<int>(run.threads);
		r.error = run.error_occurred ? run.error_message.c_str() : nullptr;
		r.counters = counters.data();
		r.ncounters = static_cast<int>(counters.size());
		fn_(&r, arg_);
	}

	int spec_;
	gb_report_fn fn_;
	void *arg_;
};

// Every repetition recorded for the JSON, in the library's own Run form.
std::vector<benchmark::BenchmarkReporter::Run> &json_runs()
{
	static std::vector<benchmark::BenchmarkReporter::Run> all;
	return all;
}

} // namespace

extern "C" int gb_init(const char *argv0)
{
	// The library keeps argv[0] (the JSON's "executable"): it must outlive us.
	static std::string name;
	name = argv0 ? argv0 : "krefbench";
	std::vector<char *> argv{&name[0], nullptr};
	int argc = 1;

	benchmark::Initialize(&argc, argv.data());
	return benchmark::ReportUnrecognizedArguments(argc, argv.data()) ? -1 : 0;
}

extern "C" int gb_register(const gb_spec *spec)
{
	if (!spec || !spec->name || !spec->name[0] || !spec->body || spec->threads < 1 ||
	    spec_of(spec->name) >= 0)
		return -1;
	int index = static_cast<int>(specs().size());
	spec_names().emplace_back(spec->name);
	gb_spec copy = *spec;
	copy.name = spec_names().back().c_str();
	specs().push_back(copy);
	return index;
}

extern "C" void gb_start(gb_state *st)
{
	// The first KeepRunning waits at the library's start barrier and
	// starts its clock: one iteration is the whole window.
	(void)st->st->KeepRunning();
}

extern "C" void gb_stop(gb_state *st)
{
	// The iteration is used up: this one stops the clock (end barrier).
	while (st->st->KeepRunning())
		;
}

extern "C" int gb_thread_index(const gb_state *st) { return st->st->thread_index(); }
extern "C" int gb_threads(const gb_state *st) { return st->st->threads(); }

extern "C" void gb_counter_set(gb_state *st, const char *name, double value)
{
	st->st->counters[name] = benchmark::Counter(value);
}

extern "C" void gb_skip_with_error(gb_state *st, const char *message)
{
	st->st->SkipWithError(message);
}

extern "C" int gb_run_once(int index, gb_report_fn report, void *arg)
{
	if (index < 0 || index >= static_cast<int>(specs().size()))
		return -1;
	try {
		// One registered benchmark at a time: the library runs exactly
		// it, with no name filter to escape.
		benchmark::ClearRegisteredBenchmarks();
		const gb_spec &s = specs()[index];
		benchmark::RegisterBenchmark(s.name, [index](benchmark::State &st) {
			gb_state g{&st};
			const gb_spec &sp = specs()[index];
			sp.body(&g, sp.ctx);
		})->Threads(s.threads)->Iterations(1)->UseRealTime()->Setup(run_setup)->Teardown(run_teardown);
		running_spec = index;
		ForwardingReporter forward(index, report, arg);
		benchmark::RunSpecifiedBenchmarks(&forward);
		running_spec = -1;
		return 0;
	} catch (const std::exception &e) {
		std::fprintf(stderr, "krefbench: %s: %s\n", specs()[index].name, e.what());
	} catch (...) {
		std::fprintf(stderr, "krefbench: %s: unknown C++ exception\n", specs()[index].name);
	}
	running_spec = -1;
	return -1;
}

extern "C" int gb_json_add(const gb_json_run *in)
{
	try {
		benchmark::BenchmarkReporter::Run run;
		run.run_name.function_name = in->name;
		run.run_name.threads = "threads:" + std::to_string(in->threads);
		run.family_index = 0;
		run.per_family_instance_index = 0;
		run.threads = in->threads;
		run.repetitions = in->repetitions;
		run.repetition_index = in->repetition;
		run.iterations = static_cast<benchmark::IterationCount>(in->iterations);
		run.real_accumulated_time = in->real_s;
		run.cpu_accumulated_time = in->cpu_s;
		run.time_unit = benchmark::kNanosecond;
		for (int i = 0; i < in->ncounters; i++)
			run.counters[in->counters[i].name] = benchmark::Counter(in->counters[i].value);
		json_runs().push_back(run);
		return 0;
	} catch (...) {
		return -1;
	}
}

extern "C" int gb_json_write(const char *path)
{
	std::string doc;
	try {
		std::ostringstream out;
		benchmark::JSONReporter json;
		json.SetOutputStream(&out);
		json.SetErrorStream(&out);
		benchmark::BenchmarkReporter::Context context;
		json.ReportContext(context);
		if (!json_runs().empty())
			json.ReportRuns(json_runs());
		json.Finalize();
		doc = out.str();
	} catch (...) {
		errno = ENOMEM;
		return -1;
	}
	// Created, never followed: a temporary left by a killed run is replaced
	// only if it is a plain file of ours (unlinked first, then O_EXCL).
	std::string tmp = std::string(path) + ".tmp";
	(void)unlink(tmp.c_str());
	int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	const char *p = doc.data();
	size_t left = doc.size();
	while (left) {
		ssize_t n = write(fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int saved = n < 0 ? errno : ENOSPC;
			close(fd);
			unlink(tmp.c_str());
			errno = saved;
			return -1;
		}
		p += n;
		left -= static_cast<size_t>(n);
	}
	// No fsync: the rename protects readers from a killed run, which is
	// what this guards against; syncing every round cost ~10 ms a round.
	if (close(fd) != 0) {
		int saved = errno;
		unlink(tmp.c_str());
		errno = saved;
		return -1;
	}
	if (std::rename(tmp.c_str(), path) != 0) {
		int saved = errno;
		unlink(tmp.c_str());
		errno = saved;
		return -1;
	}
	return 0;
}
