#include "hookd/dialect/payload_template.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace hookd::dialect {
namespace {

TemplateValues Values(std::string_view payload) {
  TemplateValues values;
  values.event_type = "video.ready";
  values.event_id = "evt_01";
  values.time = absl::FromUnixMillis(1614908944250);
  values.payload = payload;
  values.secret = "your_secret_key_0123";
  return values;
}

std::string Render(std::string_view text, std::string_view payload) {
  absl::StatusOr<std::string> out = RenderPayloadTemplate(text, Values(payload));
  EXPECT_TRUE(out.ok()) << out.status();
  return out.value_or("");
}

TEST(RenderPayloadTemplate, VideoPilotShapeEmbedsThePayloadByteForByte) {
  // Whitespace and number spelling of the payload survive: it is not re-serialized.
  EXPECT_EQ(Render(R"({"event": "{{event_type}}", "data": "{{payload}}",
                      "timestamp": "{{timestamp}}"})",
                   R"({"video_id": "v_1", "duration": 87.50})"),
            R"({"event":"video.ready","data":{"video_id": "v_1", "duration": 87.50},)"
            R"("timestamp":"2021-03-05T01:49:04.250Z"})");
}

TEST(RenderPayloadTemplate, EveryPlaceholder) {
  EXPECT_EQ(Render(R"(["{{event_type}}","{{event_id}}","{{timestamp}}","{{timestamp_unix}}",)"
                   R"("{{timestamp_ms}}","{{payload}}","{{secret}}",1.5,true,null,"text"])",
                   "[1]"),
            R"(["video.ready","evt_01","2021-03-05T01:49:04.250Z",1614908944,1614908944250,)"
            R"([1],"your_secret_key_0123",1.5,true,null,"text"])");
}

TEST(RenderPayloadTemplate, TargetvideoMergesThePayloadMembersInOrder) {
  EXPECT_EQ(
      Render(R"({"...":"{{payload}}","timestamp":"{{timestamp_unix}}","secret":"{{secret}}"})",
             R"({"response":{"Video":{"id":"734392"}},"event":"sd_encoded","api":false})"),
      R"({"response":{"Video":{"id":"734392"}},"event":"sd_encoded","api":false,)"
      R"("timestamp":1614908944,"secret":"your_secret_key_0123"})");
  // Members before the merge keep their place; an empty payload adds nothing.
  EXPECT_EQ(Render(R"({"first":1,"...":"{{payload}}","last":2})", "{}"), R"({"first":1,"last":2})");
  EXPECT_EQ(Render(R"({"...":"{{payload}}"})", R"({ "a" : 1 , "b":"x\"y" })"),
            R"({"a":1,"b":"x\"y"})");
  // Nested merge.
  EXPECT_EQ(Render(R"({"outer":{"...":"{{payload}}","k":0}})", R"({"a":[1,2]})"),
            R"({"outer":{"a":[1,2],"k":0}})");
}

TEST(RenderPayloadTemplate, AMergeClashOrANonObjectFailsThatRenderingByName) {
  absl::StatusOr<std::string> clash = RenderPayloadTemplate(
      R"({"...":"{{payload}}","secret":"{{secret}}"})", Values(R"({"secret":"mine"})"));
  EXPECT_EQ(clash.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(clash.status().message(), "\"secret\"")) << clash.status();
  EXPECT_FALSE(absl::StrContains(clash.status().message(), "your_secret_key")) << clash.status();
  absl::StatusOr<std::string> array =
      RenderPayloadTemplate(R"({"...":"{{payload}}"})", Values("[1,2]"));
  EXPECT_EQ(array.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(array.status().message(), "not a JSON object")) << array.status();
}

TEST(RenderPayloadTemplate, SecretWithoutASharedSecretFails) {
  TemplateValues values = Values("{}");
  values.secret = "";
  EXPECT_EQ(RenderPayloadTemplate(R"({"s":"{{secret}}"})", values).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(RenderPayloadTemplate(R"({"s":"{{event_id}}"})", values).ok());
}

TEST(RenderPayloadTemplate, EscapesTemplateTextAndValues) {
  TemplateValues values = Values("{}");
  values.secret = "quote\"and\\back-0123";
  absl::StatusOr<std::string> out =
      RenderPayloadTemplate(R"({"a\u0000b":"line\nbreak","s":"{{secret}}"})", values);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, R"({"a\u0000b":"line\nbreak","s":"quote\"and\\back-0123"})");
}

void ExpectInvalid(const std::string& text, const std::string& says) {
  absl::Status status = ValidatePayloadTemplate(text, "app.payload_template");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << text.substr(0, 80);
  EXPECT_TRUE(absl::StartsWith(status.message(), "app.payload_template: ")) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), says)) << status;
}

TEST(ValidatePayloadTemplate, RefusesHostileTemplatesWithThePosition) {
  ExpectInvalid(R"({"a": "{{payload}}",})", "syntax error at byte 21");
  ExpectInvalid("", "is required");
  ExpectInvalid("not json", "syntax error at byte 2");
  ExpectInvalid(R"({"a":{"b":["{{nope}}"]}})", "unknown placeholder at /a/b/0");
  ExpectInvalid(R"({"a/b~c":"{{Payload}}"})", "unknown placeholder at /a~1b~0c");
  ExpectInvalid(R"({"a":"Hello {{event_type}}"})", "must be a whole JSON string");
  ExpectInvalid(R"({"{{event_type}}":1})", "member name cannot be a placeholder");
  ExpectInvalid(R"({"...":"{{event_type}}"})", "its value must be \"{{payload}}\"");
  ExpectInvalid(R"({"...":{"x":1}})", "its value must be \"{{payload}}\"");
  ExpectInvalid(absl::StrCat(R"({"a":")", std::string(16 * 1024, 'x'), R"("})"),
                "at most 16384 bytes");
  ExpectInvalid(std::string(40, '[') + std::string(40, ']'), "nests deeper than 32");
  // A depth that would exhaust a recursive parser's stack is refused, not crashed on.
  ExpectInvalid(std::string(8000, '[') + std::string(8000, ']'), "nests deeper than 32");
  ExpectInvalid("{\"a\":\"\xff\"}", "syntax error");
  // nlohmann throws out_of_range, not parse_error, for a number beyond a double; that once
  // escaped and ended hookd-subscription.
  ExpectInvalid(R"({"a": 1E400})", "a number is out of range");
  ExpectInvalid("[888888E8888999999999999999999999]", "a number is out of range");
}

TEST(ValidatePayloadTemplate, AcceptsTheSeedShapes) {
  for (const char* text :
       {R"({"event":"{{event_type}}","data":"{{payload}}","timestamp":"{{timestamp}}"})",
        R"({"...":"{{payload}}","timestamp":"{{timestamp_unix}}","secret":"{{secret}}"})",
        R"("{{payload}}")", R"({"literal":"{ not a placeholder }"})"}) {
    EXPECT_TRUE(ValidatePayloadTemplate(text, "app.payload_template").ok()) << text;
  }
}

TEST(UsesSecret, FindsThePlaceholder) {
  EXPECT_TRUE(UsesSecret(R"({"s":"{{secret}}"})"));
  EXPECT_FALSE(UsesSecret(R"({"s":"{{payload}}"})"));
}

}  // namespace
}  // namespace hookd::dialect
