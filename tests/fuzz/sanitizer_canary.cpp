// A program with deliberate bugs, built only in sanitized builds
// (-DSLOPE_SANITIZE=ON). Each mode must be stopped by its sanitizer; the CTest
// registrations (sanitizer_canary.cmake) check the report and that the line
// after the bug is never printed, so a build that silently lost its
// sanitizers (flags not applied, recovery left on) fails the suite.
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {
// Opaque to the optimizer, so the bugs below are not folded away.
volatile int g_one = 1;
volatile int g_index = 8;
volatile int g_count = 8;  // an unknown size: UBSan's object-size check stays out of ASan's way
void* volatile g_keep = nullptr;
}  // namespace

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  if (std::strcmp(mode, "heap-overflow") == 0) {
    int* p = new int[g_count];
    p[g_index] = 1;  // one past the end
    std::printf("value %d\n", p[g_index]);
    delete[] p;
  } else if (std::strcmp(mode, "use-after-free") == 0) {
    int* p = new int[g_count];
    delete[] p;
    std::printf("value %d\n", p[g_index - 8]);
  } else if (std::strcmp(mode, "signed-overflow") == 0) {
    int x = INT_MAX;
    x += g_one;
    std::printf("value %d\n", x);
  } else if (std::strcmp(mode, "leak") == 0) {
    g_keep = std::malloc(1000);
    g_keep = nullptr;  // the only pointer is gone: a leak at exit
    std::printf("canary leaked and exits\n");
    return 0;
  } else {
    std::fprintf(stderr, "usage: sanitizer_canary heap-overflow|use-after-free|signed-overflow|leak\n");
    return 2;
  }
  std::printf("canary survived\n");
  return 0;
}
