#include "hookd/schema/json_schema.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace hookd::schema {
namespace {

// The shape of a VideoPilot render.completed payload (seed 002).
constexpr char kRenderSchema[] = R"({
  "type": "object",
  "required": ["render_job_id", "video_id", "status"],
  "properties": {
    "render_job_id": {"type": "string", "minLength": 1},
    "video_id": {"type": "string"},
    "status": {"enum": ["processing", "completed", "failed"]},
    "duration": {"type": "number", "minimum": 0},
    "output_url": {"type": "string", "format": "uri"},
    "pattern": {"type": "string"},
    "video": {"type": "object", "properties": {"status": {"enum": ["ready", "draft"]}}}
  }
})";

std::shared_ptr<const CompiledSchema> MustCompile(std::string_view text) {
  auto compiled = CompiledSchema::Compile(text, "event_type.schema");
  EXPECT_TRUE(compiled.ok()) << compiled.status();
  return compiled.value_or(nullptr);
}

TEST(CompiledSchema, ValidPayloadsPassAndTheFirstFailureIsNamedByPointer) {
  auto schema = MustCompile(kRenderSchema);
  ASSERT_NE(schema, nullptr);
  EXPECT_TRUE(
      schema
          ->Validate(R"({"render_job_id":"r","video_id":"v","status":"completed",)"
                     R"("duration":87.5,"output_url":"not checked: format is an annotation"})",
                     "payload")
          .ok());
  absl::Status status =
      schema->Validate(R"({"render_job_id":"r","video_id":"v","status":"done"})", "payload");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(status.message(), "payload/status: ")) << status;
  status = schema->Validate(
      R"({"render_job_id":"r","video_id":"v","status":"failed","video":{"status":"gone"}})",
      "events[2].payload");
  EXPECT_TRUE(absl::StartsWith(status.message(), "events[2].payload/video/status: ")) << status;
  status = schema->Validate(R"({"video_id":"v","status":"failed"})", "payload");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(status.message(), "payload")) << status;
  status = schema->Validate(R"({"render_job_id":"r","video_id":7,"status":"failed"})", "payload");
  EXPECT_TRUE(absl::StartsWith(status.message(), "payload/video_id: ")) << status;
}

void ExpectRefused(std::string_view text, const std::string& says) {
  auto compiled = CompiledSchema::Compile(text, "event_type.schema");
  EXPECT_EQ(compiled.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(compiled.status().message(), "event_type.schema: "))
      << compiled.status();
  EXPECT_TRUE(absl::StrContains(compiled.status().message(), says)) << compiled.status();
}

// const, enum, default and examples hold payload values: what they contain is compared, not
// taken for a schema (a "format" member stays, a "pattern" member is no regular expression).
TEST(CompiledSchema, ValuesOfConstAndEnumAreDataNotSchemas) {
  auto schema = MustCompile(
      R"({"properties":{"f":{"const":{"format":"pdf"}},"g":{"enum":[{"pattern":"x"}]}}})");
  ASSERT_NE(schema, nullptr);
  EXPECT_TRUE(schema->Validate(R"({"f":{"format":"pdf"},"g":{"pattern":"x"}})", "payload").ok());
  EXPECT_EQ(schema->Validate(R"({"f":{}})", "payload").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(schema->Validate(R"({"g":{"pattern":"y"}})", "payload").code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(CompiledSchema, HostileSchemasAreRefusedBeforeTheValidatorSeesThem) {
  // The 65,002-byte schema of 6,500 nested `items` that crashes valijson's parser: refused by
  // its depth, found without recursing deeper than the limit.
  std::string items;
  for (int i = 0; i < 6500; ++i) items += R"({"items":)";
  items += "{}";
  for (int i = 0; i < 6500; ++i) items += "}";
  ASSERT_EQ(items.size(), 65002u);
  ExpectRefused(items, "nests deeper than 32 levels");
  ExpectRefused(R"({"description":")" + std::string(70000, 'x') + R"("})", "at most 64 KiB");
  // std::regex over payload data: `^(a|b)*$` overflows its stack on a 50,000-character string.
  ExpectRefused(R"({"properties":{"s":{"type":"string","pattern":"^(a|b)*$"}}})",
                "pattern at /properties/s is not supported");
  ExpectRefused(R"({"patternProperties":{"^x":{"type":"string"}}})", "patternProperties at /");
  // Data members (default, const, enum, examples) are stored too: Postgres's jsonb fails on
  // 30,000 levels ("stack depth limit exceeded") and on \u0000 anywhere.
  std::string deep_default = R"({"default":)";
  for (int i = 0; i < 30000; ++i) deep_default += "[";
  for (int i = 0; i < 30000; ++i) deep_default += "]";
  deep_default += "}";
  ExpectRefused(deep_default, "nests deeper than 32 levels at /default/0/0");
  ExpectRefused(R"({"description":"a\u0000b"})", "holds a NUL character (\\u0000) at /description");
  ExpectRefused(R"({"properties":{"a\u0000":{}}})",
                "NUL character (\\u0000) in a name at /properties");
  ExpectRefused(R"({"enum":["ok","x\u0000"]})", "NUL character (\\u0000) at /enum/1");
  ExpectRefused("[1]", "must be a JSON object");
  ExpectRefused(R"({"type":"no-such-type"})", "is not a valid JSON Schema");
  ExpectRefused(R"({"$ref":"https://example.com/schema.json"})", "is not a valid JSON Schema");
}

TEST(CompiledSchema, LongStringsAreCheckedWithoutRegularExpressions) {
  auto schema =
      MustCompile(R"({"properties":{"s":{"type":"string","maxLength":10,"format":"date-time"}}})");
  ASSERT_NE(schema, nullptr);
  const std::string ten_mb(10 * 1024 * 1024, 'a');
  absl::Status status = schema->Validate(absl::StrCat(R"({"s":")", ten_mb, R"("})"), "payload");
  EXPECT_TRUE(absl::StartsWith(status.message(), "payload/s: ")) << status.message().substr(0, 80);
  EXPECT_TRUE(schema->Validate(R"({"s":"not a date"})", "payload").ok());
}

}  // namespace
}  // namespace hookd::schema
