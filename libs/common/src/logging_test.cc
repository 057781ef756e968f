#include "hookd/common/logging.h"

#include <sstream>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "spdlog/sinks/ostream_sink.h"
#include "spdlog/spdlog.h"

namespace hookd {
namespace {

// Routes the default logger into a string for one test.
class CapturedLog {
 public:
  explicit CapturedLog(std::string_view format,
                       spdlog::level::level_enum level = spdlog::level::info) {
    previous_ = spdlog::default_logger();
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    auto logger = std::make_shared<spdlog::logger>("captured", sink);
    auto formatter = NewLogFormatter("hookd-test", format);
    EXPECT_TRUE(formatter.ok());
    logger->set_formatter(std::move(*formatter));
    logger->set_level(level);
    spdlog::set_default_logger(logger);
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }

  std::vector<std::string> Lines() const {
    std::vector<std::string> lines;
    std::istringstream in(out_.str());
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
};

TEST(JsonString, EscapesWhatJsonRequires) {
  EXPECT_EQ(JsonString("plain"), "\"plain\"");
  EXPECT_EQ(JsonString("q\"b\\n\nt\tc\x01"), "\"q\\\"b\\\\n\\nt\\tc\\u0001\"");
  EXPECT_EQ(JsonString("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
  // Invalid UTF-8 still makes valid JSON.
  std::string bad = JsonString(
      "a\xff\xfe"
      "b");
  EXPECT_TRUE(nlohmann::json::accept(bad)) << bad;
}

TEST(Log, JsonLineCarriesLevelServiceMessageAndFields) {
  CapturedLog log("json");
  Log(spdlog::level::warn, "delivery \"failed\"\nbadly",
      {{"delivery_id", "dlv_1"},
       {"app_id", std::string("app_2")},
       {"attempt", 3},
       {"ratio", 0.5},
       {"final", true}});
  auto lines = log.Lines();
  ASSERT_EQ(lines.size(), 1u);
  auto json = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(json["level"], "warn");
  EXPECT_EQ(json["service"], "hookd-test");
  EXPECT_EQ(json["msg"], "delivery \"failed\"\nbadly");
  EXPECT_EQ(json["delivery_id"], "dlv_1");
  EXPECT_EQ(json["app_id"], "app_2");
  EXPECT_EQ(json["attempt"], 3);
  EXPECT_EQ(json["ratio"], 0.5);
  EXPECT_EQ(json["final"], true);
  std::string time = json["time"];
  // 2026-11-23T17:34:21.123Z
  ASSERT_EQ(time.size(), 24u) << time;
  EXPECT_EQ(time[10], 'T');
  EXPECT_EQ(time.back(), 'Z');
  // The members come in a fixed order, fields last.
  EXPECT_EQ(lines[0].rfind("{\"time\":\"", 0), 0u);
  EXPECT_NE(lines[0].find("\",\"level\":\"warn\",\"service\":\"hookd-test\",\"msg\":"),
            std::string::npos);
}

TEST(Log, PlainSpdlogCallsAreJsonToo) {
  CapturedLog log("json");
  spdlog::info("started {} with \"{}\"", 3, "quotes");
  spdlog::debug("below the level");
  auto lines = log.Lines();
  ASSERT_EQ(lines.size(), 1u);
  auto json = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(json["level"], "info");
  EXPECT_EQ(json["msg"], "started 3 with \"quotes\"");
  EXPECT_EQ(json.size(), 4u);
}

TEST(Log, MarkersInTheMessageCannotForgeFields) {
  CapturedLog log("json");
  Log(spdlog::level::info,
      "a\x1f"
      "app_id\x1e\"forged\"",
      {{"k\x1fx", "v"}});
  auto json = nlohmann::json::parse(log.Lines().at(0));
  EXPECT_FALSE(json.contains("app_id"));
  EXPECT_EQ(json["msg"], "a app_id \"forged\"");
  EXPECT_EQ(json["k x"], "v");
}

TEST(Log, EveryLevelHasItsName) {
  CapturedLog log("json", spdlog::level::trace);
  for (auto level : {spdlog::level::trace, spdlog::level::debug, spdlog::level::info,
                     spdlog::level::warn, spdlog::level::err, spdlog::level::critical}) {
    Log(level, "x");
  }
  std::vector<std::string> names;
  for (const auto& line : log.Lines()) names.push_back(nlohmann::json::parse(line)["level"]);
  EXPECT_EQ(names,
            (std::vector<std::string>{"trace", "debug", "info", "warn", "error", "critical"}));
}

TEST(Log, TextFormatIsForPeople) {
  CapturedLog log("text");
  Log(spdlog::level::info, "app disabled", {{"app_id", "app_1"}, {"streak", 5}});
  auto lines = log.Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("Z I hookd-test app disabled app_id=\"app_1\" streak=5"),
            std::string::npos)
      << lines[0];
}

TEST(Log, RejectsUnknownFormatAndLevel) {
  EXPECT_EQ(NewLogFormatter("s", "xml").status().code(), absl::StatusCode::kInvalidArgument);
  absl::Status level = InitLogging("hookd-test-init", "loud");
  EXPECT_EQ(level.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(level.message().find("log_level"), std::string::npos);
  absl::Status format = InitLogging("hookd-test-init", "info", "xml");
  EXPECT_NE(format.message().find("log_format"), std::string::npos);
}

}  // namespace
}  // namespace hookd
