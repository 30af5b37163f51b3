// control_event_line_fuzzer: bytes of an event stream (tunnel/control/event_line.h), the first byte choosing how
// they are cut into reads.
// Properties: nothing crashes or reads out of bounds; feeding the stream whole and in chunks gives the same events,
// the same status and the same resume point (the splitter's bound is checked the same wherever reads end); the
// resume point never goes back and every event returned lies after the one before; every line DecodeEvent accepts
// has a type whose name maps back to it.
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "tunnel/control/event_line.h"

namespace {

using strait::control::Event;
using strait::control::EventReader;
using strait::control::EventType;
using strait::control::StreamStatus;

void Check(bool ok) {
  if (!ok) std::abort();
}

// A small line bound so the fuzzer reaches it; the real one is 2 MiB.
constexpr size_t kMaxLine = 512;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t cut = data[0];
  const std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);

  EventReader whole(kMaxLine);
  std::vector<Event> whole_events;
  const StreamStatus whole_status = whole.Feed(stream, &whole_events);

  EventReader chunked(kMaxLine);
  std::vector<Event> chunked_events;
  StreamStatus chunked_status = StreamStatus::kOk;
  uint64_t last_resume = 0;
  size_t step = 1 + cut % 13;
  for (size_t at = 0; at < stream.size() && chunked_status == StreamStatus::kOk;) {
    const size_t before = chunked_events.size();
    chunked_status = chunked.Feed(stream.substr(at, step), &chunked_events);
    at += step;
    Check(chunked.resume_point() >= last_resume);
    for (size_t i = before; i < chunked_events.size(); ++i) {
      const Event& e = chunked_events[i];
      Check(e.type != EventType::kUnknown);
      Check(e.type == EventType::kHeartbeat ? e.id >= last_resume : e.id > last_resume);
      Check(strait::control::EventTypeFromName(strait::control::EventTypeName(e.type)) == e.type);
      last_resume = e.id;
    }
    last_resume = chunked.resume_point();
    step = 1 + (step * 7 + cut) % 97;
  }

  Check(whole_status == chunked_status);
  Check(whole.resume_point() == chunked.resume_point());
  Check(whole_events.size() == chunked_events.size());
  for (size_t i = 0; i < whole_events.size(); ++i) {
    Check(whole_events[i].id == chunked_events[i].id && whole_events[i].type == chunked_events[i].type &&
          whole_events[i].at == chunked_events[i].at);
  }
  Check(whole.unknown_skipped() == chunked.unknown_skipped());

  // A failed reader takes nothing until Reset; after it, the same bytes give the same verdict again.
  if (whole_status != StreamStatus::kOk) {
    std::vector<Event> none;
    Check(whole.Feed(stream, &none) == whole_status && none.empty());
  }

  // The whole input as one line, too (the decoder alone, at the real bound).
  auto one = strait::control::DecodeEvent(stream);
  if (!one.ok()) Check(!one.error().reason.empty());
  return 0;
}
