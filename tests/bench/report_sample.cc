// bench_report_sample DIR: writes DIR/logins.html and DIR/idle.html, the reports of tests/bench/suite/
// report_samples.h, for report_chromium_test.sh to open in a headless browser.
#include <cstdio>
#include <fstream>
#include <string>

#include "bench/suite/html_report.h"
#include "tests/bench/suite/report_samples.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: bench_report_sample DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  const std::pair<const char*, strait::bench::BenchResult> pages[] = {
      {"logins", strait::bench::testing::LoginsReportSample()},
      {"idle", strait::bench::testing::IdleReportSample()},
  };
  for (const auto& [name, result] : pages) {
    std::ofstream out(dir + "/" + name + ".html", std::ios::binary);
    out << strait::bench::RenderHtmlReport(result);
    if (!out) {
      std::fprintf(stderr, "bench_report_sample: cannot write %s/%s.html\n", dir.c_str(), name);
      return 1;
    }
  }
  return 0;
}
