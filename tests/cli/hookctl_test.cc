// The flag parser and the parts of hookctl that need no server: help, usage errors, output.

#include <sstream>

#include "cli.h"
#include "flag_parser.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "output.h"

namespace hookd::hookctl {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

struct Flags {
  std::string name;
  std::vector<std::string> tags;
  bool force = false;
  int count = 0;
  absl::Duration wait;
};

FlagParser MakeParser(Flags& f) {
  FlagParser parser("test [flags] ARG", "A parser under test.");
  parser.AddString("name", "N", "A name.", &f.name);
  parser.AddStrings("tag", "T", "A tag.", &f.tags);
  parser.AddBool("force", "Force it.", &f.force);
  parser.AddInt("count", "N", "How many.", &f.count);
  parser.AddDuration("wait", "D", "How long.", &f.wait);
  return parser;
}

TEST(FlagParser, AcceptsBothValueFormsAndRepeatedFlags) {
  Flags f;
  FlagParser parser = MakeParser(f);
  auto result = parser.Parse({"a", "--name", "x", "--tag=1", "b", "--tag", "2", "--force",
                              "--count=-3", "--wait", "1h30m"});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_FALSE(result->help);
  EXPECT_THAT(result->positional, ElementsAre("a", "b"));
  EXPECT_EQ(f.name, "x");
  EXPECT_THAT(f.tags, ElementsAre("1", "2"));
  EXPECT_TRUE(f.force);
  EXPECT_EQ(f.count, -3);
  EXPECT_EQ(f.wait, absl::Minutes(90));
  EXPECT_TRUE(parser.IsSet("name"));
  EXPECT_FALSE(parser.IsSet("missing"));
}

TEST(FlagParser, EmptyValueStillCountsAsSet) {
  Flags f;
  f.name = "before";
  FlagParser parser = MakeParser(f);
  ASSERT_TRUE(parser.Parse({"--name="}).ok());
  EXPECT_TRUE(parser.IsSet("name"));
  EXPECT_EQ(f.name, "");
  EXPECT_FALSE(parser.IsSet("tag"));
}

TEST(FlagParser, BoolTakesNoSeparateValueButAcceptsEquals) {
  Flags f;
  FlagParser parser = MakeParser(f);
  auto result = parser.Parse({"--force=false", "arg"});
  ASSERT_TRUE(result.ok());
  EXPECT_FALSE(f.force);
  EXPECT_THAT(result->positional, ElementsAre("arg"));
  EXPECT_EQ(parser.Parse({"--force=maybe"}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(FlagParser, DoubleDashEndsFlags) {
  Flags f;
  FlagParser parser = MakeParser(f);
  auto result = parser.Parse({"--", "--name", "-x"});
  ASSERT_TRUE(result.ok());
  EXPECT_THAT(result->positional, ElementsAre("--name", "-x"));
  EXPECT_FALSE(parser.IsSet("name"));
}

TEST(FlagParser, StopAtPositionalLeavesTheRestAlone) {
  Flags f;
  FlagParser parser = MakeParser(f);
  auto result =
      parser.Parse({"--force", "apps", "list", "--name", "x"}, FlagParser::Mode::kStopAtPositional);
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(f.force);
  EXPECT_THAT(result->positional, ElementsAre("apps", "list", "--name", "x"));
  EXPECT_EQ(f.name, "");
}

TEST(FlagParser, ReportsUnknownFlagsMissingAndMalformedValues) {
  Flags f;
  FlagParser parser = MakeParser(f);
  auto unknown = parser.Parse({"--nope"});
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(unknown.status().message(), "unknown flag --nope");
  auto missing = parser.Parse({"--name"});
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("--name needs a value"));
  auto integer = parser.Parse({"--count", "many"});
  EXPECT_THAT(std::string(integer.status().message()), HasSubstr("--count"));
  auto duration = parser.Parse({"--wait", "10"});
  EXPECT_THAT(std::string(duration.status().message()), HasSubstr("not a duration"));
}

TEST(FlagParser, HelpWinsOverErrors) {
  Flags f;
  FlagParser parser = MakeParser(f);
  auto result = parser.Parse({"--nope", "-h", "--count", "x"});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->help);
}

TEST(FlagParser, HelpListsEveryFlag) {
  Flags f;
  FlagParser parser = MakeParser(f);
  parser.AddHelpSection("Extra", "  more text\n");
  std::string help = parser.Help();
  EXPECT_THAT(help, StartsWith("Usage: test [flags] ARG\n\nA parser under test.\n"));
  for (const char* line : {"--name N", "--tag T", "A tag. Repeatable.", "--force", "--count N",
                           "--wait D", "-h, --help", "Extra:\n  more text"}) {
    EXPECT_THAT(help, HasSubstr(line));
  }
}

TEST(Table, AlignsColumnsWithoutTrailingBlanks) {
  Table table({"ID", "NAME", "X"});
  table.AddRow({"app_1", "a", ""});
  table.AddRow({"app_22", "long name", "y"});
  std::ostringstream out;
  table.Print(out);
  EXPECT_EQ(out.str(),
            "ID      NAME       X\n"
            "app_1   a\n"
            "app_22  long name  y\n");
}

TEST(PrintFields, AlignsValuesAndIndentsContinuationLines) {
  std::ostringstream out;
  PrintFields(out, {{"id", "1"}, {"headers", "A=1\nB=2"}});
  EXPECT_EQ(out.str(),
            "id:      1\n"
            "headers: A=1\n"
            "         B=2\n");
}

TEST(Durations, RoundTripAndFormatGoStyle) {
  EXPECT_EQ(FormatDuration(ToProto(absl::Minutes(90))), "1h30m");
  EXPECT_EQ(FormatDuration(ToProto(absl::Milliseconds(1500))), "1.5s");
  EXPECT_EQ(FromProto(ToProto(absl::Milliseconds(1500))), absl::Milliseconds(1500));
  EXPECT_EQ(FormatDuration(google::protobuf::Duration()), "-");
}

struct RunResult {
  int code;
  std::string out;
  std::string err;
};

RunResult RunCli(const std::vector<std::string>& args) {
  std::ostringstream out;
  std::ostringstream err;
  int code = Run(args, out, err);
  return {code, out.str(), err.str()};
}

TEST(Run, HelpGoesToStdoutAndExitsZero) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--help"},
                                             {"apps", "-h"},
                                             {"event-types", "--help"},
                                             {"apps", "update", "--help"},
                                             {"events", "--help"},
                                             {"events", "publish", "-h"},
                                             {"--ingest-server", "h:1", "events", "get", "-h"},
                                             {"--json", "event-types", "list", "-h"}}) {
    RunResult r = RunCli(args);
    EXPECT_EQ(r.code, kExitOk);
    EXPECT_THAT(r.out, StartsWith("Usage: hookctl"));
    EXPECT_THAT(r.err, IsEmpty());
  }
}

TEST(Run, UsageErrorsGoToStderrAndExitTwo) {
  RunResult r = RunCli({"apps", "delete"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.out, IsEmpty());
  EXPECT_THAT(r.err, StartsWith("hookctl: missing ID\n\nUsage: hookctl apps delete ID\n"));

  r = RunCli({"apps", "disable", "app_1", "--reason"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, StartsWith("hookctl: flag --reason needs a value"));

  r = RunCli({"--server"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("--server needs a value"));
}

TEST(Run, EventsUsageErrorsAndUnreadableData) {
  RunResult r = RunCli({"events", "publish", "--type", "video.ready", "--data", "{}"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, StartsWith("hookctl: missing --tenant\n\nUsage: hookctl events publish"));

  r = RunCli({"--ingest-server"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, HasSubstr("--ingest-server needs a value"));

  // Read before any request: no server is needed to find out.
  r = RunCli({"--ingest-server", "127.0.0.1:1", "events", "publish", "--tenant", "t", "--type",
              "video.ready", "--data", "@/nonexistent/payload.json"});
  EXPECT_EQ(r.code, kExitFailure);
  EXPECT_EQ(r.err, "hookctl: NOT_FOUND: --data: cannot read /nonexistent/payload.json\n");
  EXPECT_THAT(r.out, IsEmpty());
}

TEST(Run, UnreachableServerIsUnavailable) {
  RunResult r = RunCli({"--server", "127.0.0.1:1", "--timeout", "5s", "apps", "get", "app_1"});
  EXPECT_EQ(r.code, kExitFailure);
  EXPECT_THAT(r.err, StartsWith("hookctl: UNAVAILABLE: "));

  // The events commands go to --ingest-server, not --server.
  r = RunCli({"--server", "127.0.0.1:2", "--ingest-server", "127.0.0.1:1", "--timeout", "5s",
              "events", "get", "evt_1"});
  EXPECT_EQ(r.code, kExitFailure);
  EXPECT_THAT(r.err, AllOf(StartsWith("hookctl: UNAVAILABLE: "), HasSubstr("127.0.0.1:1")));
}

}  // namespace
}  // namespace hookd::hookctl
