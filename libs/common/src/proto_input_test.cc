#include "hookd/common/proto_input.h"

#include "gtest/gtest.h"
#include "hookd/v1/app.pb.h"
#include "hookd/v1/ingest.pb.h"

namespace hookd {
namespace {

const std::string kNul("a\0b", 3);

TEST(RefuseNulCharacters, NamesTheFieldOfTheFirstNul) {
  v1::CreateAppRequest clean;
  clean.mutable_app()->set_name("encoder hooks");
  clean.mutable_app()->add_event_types("video.ready");
  (*clean.mutable_app()->mutable_headers())["X-Key"] = "value";
  EXPECT_TRUE(RefuseNulCharacters(clean).ok());

  v1::CreateAppRequest name = clean;
  name.mutable_app()->set_name(kNul);
  EXPECT_EQ(RefuseNulCharacters(name).message(), "app.name: holds a NUL character");

  v1::CreateAppRequest repeated = clean;
  repeated.mutable_app()->add_event_types(kNul);
  EXPECT_EQ(RefuseNulCharacters(repeated).message(), "app.event_types[1]: holds a NUL character");

  v1::CreateAppRequest header = clean;
  (*header.mutable_app()->mutable_headers())["X-Key"] = kNul;
  EXPECT_EQ(RefuseNulCharacters(header).message(),
            "app.headers[X-Key].value: holds a NUL character");

  v1::CreateAppRequest header_name = clean;
  (*header_name.mutable_app()->mutable_headers())[kNul] = "v";
  EXPECT_EQ(RefuseNulCharacters(header_name).message(), "app.headers: a key holds a NUL character");

  v1::PublishBatchRequest batch;
  batch.add_events()->set_payload("{}");
  batch.add_events()->set_payload("{\"a\":\"" + kNul + "\"}");
  EXPECT_EQ(RefuseNulCharacters(batch).message(), "events[1].payload: holds a NUL character");
}

}  // namespace
}  // namespace hookd
