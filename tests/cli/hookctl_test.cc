// The flag parser and the parts of hookctl that need no server: help, usage errors, output;
// and what the apps commands send, checked against a recording AppService in this process.

#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>

#include "absl/time/clock.h"
#include "cli.h"
#include "deliveries.h"
#include "flag_parser.h"
#include "gmock/gmock.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "hookd/common/proto_time.h"
#include "hookd/service/grpc_util.h"
#include "hookd/v1/app.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "output.h"
#include "pdf_table.h"

namespace hookd::hookctl {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
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
  EXPECT_EQ(ToAbslDuration(ToProto(absl::Milliseconds(1500))), absl::Milliseconds(1500));
  EXPECT_EQ(FormatDuration(google::protobuf::Duration()), "-");
}

TEST(FlagParser, OneLetterFlagsAreShownWithOneDash) {
  std::string output;
  FlagParser parser("test", "");
  parser.AddString("o", "FILE", "Output file.", &output);
  EXPECT_THAT(parser.Help(), HasSubstr("  -o FILE "));
  ASSERT_TRUE(parser.Parse({"-o", "out.csv"}).ok());
  EXPECT_EQ(output, "out.csv");
  EXPECT_EQ(parser.Parse({"-o"}).status().message(), "flag -o needs a value (FILE)");
}

const absl::Time kNow =
    absl::FromCivil(absl::CivilSecond(2024, 5, 1, 12, 0, 0), absl::UTCTimeZone());

TEST(ParseTimeOrAgo, DurationsMeanThatLongBeforeNow) {
  EXPECT_EQ(*ParseTimeOrAgo("since", "1h", kNow), kNow - absl::Hours(1));
  EXPECT_EQ(*ParseTimeOrAgo("since", "30m", kNow), kNow - absl::Minutes(30));
  EXPECT_EQ(*ParseTimeOrAgo("since", "1h30m", kNow), kNow - absl::Minutes(90));
  EXPECT_EQ(*ParseTimeOrAgo("since", "1.5s", kNow), kNow - absl::Milliseconds(1500));
  EXPECT_EQ(*ParseTimeOrAgo("until", "0", kNow), kNow);
}

TEST(ParseTimeOrAgo, Rfc3339TimesAreTakenAsTheyAre) {
  EXPECT_EQ(*ParseTimeOrAgo("since", "2024-05-01T12:00:00Z", kNow), kNow);
  EXPECT_EQ(*ParseTimeOrAgo("since", "2024-05-01T14:00:00+02:00", kNow), kNow);
  EXPECT_EQ(*ParseTimeOrAgo("since", "2024-05-01T11:30:00-00:30", kNow), kNow);
  EXPECT_EQ(*ParseTimeOrAgo("since", "2024-05-01T12:00:00.25Z", kNow),
            kNow + absl::Milliseconds(250));
  // Not relative to now: a time in the future stays in the future.
  EXPECT_EQ(*ParseTimeOrAgo("until", "2030-01-01T00:00:00Z", kNow),
            absl::FromCivil(absl::CivilDay(2030, 1, 1), absl::UTCTimeZone()));
}

TEST(ParseTimeOrAgo, AnythingElseIsRefusedNamingTheFlag) {
  for (const char* text :
       {"", "yesterday", "10", "-1h", "inf", "1d", "2024-05-01", "2024-05-01T12:00:00",
        "2024-05-01 12:00:00Z", "infinite-future", "infinite-past", "2024-13-01T00:00:00Z"}) {
    absl::StatusOr<absl::Time> parsed = ParseTimeOrAgo("since", text, kNow);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(std::string(parsed.status().message()),
                AllOf(StartsWith("--since: \""), HasSubstr("RFC 3339")))
        << text;
  }
}

TEST(FlagParser, TimeFlagsAreRelativeToTheTimeOfParsing) {
  absl::Time since;
  FlagParser parser("test", "");
  parser.AddTime("since", "T", "Since.", &since);
  const absl::Time before = absl::Now();
  ASSERT_TRUE(parser.Parse({"--since", "1h"}).ok());
  const absl::Time after = absl::Now();
  EXPECT_GE(since, before - absl::Hours(1));
  EXPECT_LE(since, after - absl::Hours(1));
  ASSERT_TRUE(parser.Parse({"--since=2024-05-01T12:00:00Z"}).ok());
  EXPECT_EQ(since, kNow);
  EXPECT_THAT(std::string(parser.Parse({"--since", "soon"}).status().message()),
              StartsWith("--since: \"soon\" is neither a duration"));
}

TEST(TimestampToProto, KeepsSecondsAndNanos) {
  google::protobuf::Timestamp proto = ToProto(kNow + absl::Nanoseconds(5));
  EXPECT_EQ(proto.seconds(), absl::ToUnixSeconds(kNow));
  EXPECT_EQ(proto.nanos(), 5);
  EXPECT_EQ(FormatTimestamp(ToProto(kNow)), "2024-05-01T12:00:00Z");
  // Before the epoch the nanoseconds stay positive, as Timestamp requires.
  proto = ToProto(absl::FromUnixMillis(-1500));
  EXPECT_EQ(proto.seconds(), -2);
  EXPECT_EQ(proto.nanos(), 500000000);
}

TEST(Csv, QuotesOnlyFieldsThatNeedItAndDoublesQuotes) {
  EXPECT_EQ(CsvField("plain value"), "plain value");
  EXPECT_EQ(CsvField(""), "");
  EXPECT_EQ(CsvField("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvField("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(CsvField("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(CsvField("cr\rhere"), "\"cr\rhere\"");
  EXPECT_EQ(CsvRecord({"a,b", "say \"hi\"", "two\r\nlines", "x"}),
            "\"a,b\",\"say \"\"hi\"\"\",\"two\r\nlines\",x\r\n");
  EXPECT_EQ(CsvRecord({"", ""}), ",\r\n");
}

TEST(PrettyJson, IndentsInTheStoredOrderAndKeepsOtherText) {
  EXPECT_EQ(PrettyJson(R"({"b":1,"a":[true]})"), "{\n  \"b\": 1,\n  \"a\": [\n    true\n  ]\n}");
  EXPECT_EQ(PrettyJson("not json {"), "not json {");
}

TEST(Deliveries, StatusNamesRoundTrip) {
  for (v1::DeliveryStatus status : {v1::PENDING, v1::SUCCEEDED, v1::RETRYING, v1::FAILED}) {
    absl::StatusOr<v1::DeliveryStatus> parsed = ParseDeliveryStatus(DeliveryStatusName(status));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, status);
  }
  EXPECT_EQ(DeliveryStatusName(v1::RETRYING), "retrying");
  EXPECT_EQ(DeliveryStatusName(v1::DELIVERY_STATUS_UNSPECIFIED), "unknown(0)");
  for (const char* name : {"PENDING", "", "unknown(0)", "done"}) {
    EXPECT_THAT(std::string(ParseDeliveryStatus(name).status().message()), StartsWith("--status: "))
        << name;
  }
}

v1::Delivery SampleDelivery() {
  v1::Delivery delivery;
  delivery.set_id("dlv_1");
  delivery.set_event_id("evt_1");
  delivery.set_app_id("app_1");
  delivery.set_tenant("acme");
  delivery.set_event_type("video.ready");
  delivery.set_status(v1::RETRYING);
  delivery.set_attempt_count(2);
  delivery.set_last_status_code(503);
  delivery.set_endpoint_url("https://example.com/hook?a=1,2");
  *delivery.mutable_create_time() = ToProto(kNow);
  *delivery.mutable_update_time() = ToProto(kNow + absl::Seconds(10));
  *delivery.mutable_next_attempt_time() = ToProto(kNow + absl::Minutes(5));
  delivery.set_payload(R"({"video_id":"v1","sizes":[720]})");
  return delivery;
}

TEST(Deliveries, ShowPrintsFieldsAttemptsTableAndPayload) {
  v1::Delivery delivery = SampleDelivery();
  v1::Attempt* refused = delivery.add_attempts();
  refused->set_attempt(1);
  *refused->mutable_start_time() = ToProto(kNow + absl::Seconds(1));
  refused->set_error(v1::ATTEMPT_ERROR_CONNECTION);
  refused->set_error_detail("connection refused");
  refused->set_worker("worker-a");
  v1::Attempt* unavailable = delivery.add_attempts();
  unavailable->set_attempt(2);
  *unavailable->mutable_start_time() = ToProto(kNow + absl::Seconds(6));
  *unavailable->mutable_duration() = ToProto(absl::Milliseconds(1250));
  unavailable->set_status_code(503);
  unavailable->set_error(v1::ATTEMPT_ERROR_HTTP_STATUS);
  unavailable->set_worker("worker-b");
  // 70 characters over two lines, with a multi-byte one where the cut falls.
  unavailable->set_response_excerpt("<html>\n" + std::string(52, 'x') + "\xC3\xA9" +
                                    std::string(10, 'y'));
  std::ostringstream out;
  PrintDelivery(out, delivery);
  EXPECT_EQ(out.str(),
            "id:                dlv_1\n"
            "tenant:            acme\n"
            "app_id:            app_1\n"
            "endpoint_url:      https://example.com/hook?a=1,2\n"
            "event_id:          evt_1\n"
            "event_type:        video.ready\n"
            "status:            retrying\n"
            "attempt_count:     2\n"
            "last_status_code:  503\n"
            "next_attempt_time: 2024-05-01T12:05:00Z\n"
            "create_time:       2024-05-01T12:00:00Z\n"
            "update_time:       2024-05-01T12:00:10Z\n"
            "\n"
            "Attempts:\n"
            "#  START                 DURATION  STATUS  ERROR                           WORKER    "
            "RESPONSE\n"
            "1  2024-05-01T12:00:01Z  0         -       connection: connection refused  worker-a  "
            "-\n"
            "2  2024-05-01T12:00:06Z  1.25s     503     http_status                     worker-b  "
            "<html> " +
                std::string(52, 'x') +
                "\xC3\xA9\n"
                "\n"
                "Payload:\n"
                "{\n"
                "  \"video_id\": \"v1\",\n"
                "  \"sizes\": [\n"
                "    720\n"
                "  ]\n"
                "}\n");

  v1::Delivery bare = SampleDelivery();
  bare.set_payload("not json");
  std::ostringstream bare_out;
  PrintDelivery(bare_out, bare);
  EXPECT_THAT(bare_out.str(), HasSubstr("\nAttempts: none\n\nPayload:\nnot json\n"));
}

TEST(Deliveries, ExportRecordsHaveTheColumnsInOrder) {
  EXPECT_EQ(ExportHeader(ExportFormat::kCsv),
            "app_id,time,event_type,event_id,endpoint,attempts,status,last_status_code\r\n");
  EXPECT_EQ(ExportHeader(ExportFormat::kJsonl), "");
  const v1::Delivery delivery = SampleDelivery();
  EXPECT_EQ(ExportRecord(ExportFormat::kCsv, delivery),
            "app_1,2024-05-01T12:00:00Z,video.ready,evt_1,\"https://example.com/hook?a=1,2\",2,"
            "retrying,503\r\n");
  const std::string line = ExportRecord(ExportFormat::kJsonl, delivery);
  ASSERT_THAT(line, testing::EndsWith("}\n"));
  EXPECT_EQ(std::count(line.begin(), line.end(), '\n'), 1);
  EXPECT_EQ(line, R"({"app_id":"app_1","time":"2024-05-01T12:00:00Z","event_type":"video.ready",)"
                  R"("event_id":"evt_1","endpoint":"https://example.com/hook?a=1,2","attempts":2,)"
                  R"("status":"retrying","last_status_code":503})"
                  "\n");
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
                                             {"--json", "event-types", "list", "-h"},
                                             {"deliveries", "--help"},
                                             {"deliveries", "list", "-h"},
                                             {"deliveries", "show", "--help"},
                                             {"deliveries", "retry", "--help"},
                                             {"deliveries", "recover", "--help"},
                                             {"deliveries", "export", "--help"},
                                             {"deliveries", "export", "--format", "xml", "-h"}}) {
    RunResult r = RunCli(args);
    EXPECT_EQ(r.code, kExitOk);
    EXPECT_THAT(r.out, StartsWith("Usage: hookctl"));
    EXPECT_THAT(r.err, IsEmpty());
  }
}

// The completion script, run by bash itself: groups, commands, then the command's own and the
// global flags; a global flag's value before the group is not taken for the group.
TEST(Run, TheBashCompletionCompletesGroupsCommandsAndFlags) {
  RunResult r = RunCli({"completion", "bash"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  const std::string script = ::testing::TempDir() + "/hookctl-completion.bash";
  std::ofstream(script) << r.out;
  const std::string probe = ::testing::TempDir() + "/hookctl-completion-probe.bash";
  std::ofstream(probe) << "source " << script << "\n"
                       << "t() { COMP_WORDS=(\"$@\"); COMP_CWORD=$(($# - 1)); _hookctl;"
                          " echo \"${COMPREPLY[*]}\"; }\n"
                          "t hookctl ap\n"
                          "t hookctl apps l\n"
                          "t hookctl --server h:1 apps li\n"
                          "t hookctl apps list --te\n"
                          "t hookctl audit list --to\n"
                          "t hookctl deliveries list --json --stat\n"
                          "t hookctl completion z\n";
  FILE* bash = popen(("bash " + probe).c_str(), "r");
  ASSERT_NE(bash, nullptr);
  std::string out;
  char buffer[256];
  while (fgets(buffer, sizeof buffer, bash) != nullptr) out += buffer;
  EXPECT_EQ(pclose(bash), 0);
  EXPECT_EQ(out, "apps\nlist\nlist\n--tenant\n--token\n--status\nzsh\n");

  r = RunCli({"completion", "zsh"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out, StartsWith("#compdef hookctl\nautoload -U +X bashcompinit && bashcompinit\n"));
}

// kubectl's and gh's habit: global flags after the command.
TEST(Run, GlobalFlagsMayFollowTheCommand) {
  RunResult r = RunCli({"apps", "list", "--timeout", "0s"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, StartsWith("hookctl: --timeout must be positive\n\nUsage: hookctl apps list"));
  // apps create has a --timeout of its own (the app's), which the server checks: it is not the
  // request's deadline, so the request is sent (to nothing here).
  r = RunCli({"--server", "127.0.0.1:1", "apps", "create", "--tenant", "t", "--name", "n", "--url",
              "u", "--timeout", "0s"});
  EXPECT_EQ(r.code, kExitFailure);
  EXPECT_THAT(r.err, StartsWith("hookctl: UNAVAILABLE"));
  r = RunCli({"apps", "list", "--tls-cert", "c.pem"});
  EXPECT_EQ(r.code, kExitUsage);
  EXPECT_THAT(r.err, StartsWith("hookctl: --tls-cert and --tls-key need --tls-ca"));
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

TEST(Run, DeliveriesUsageErrorsNeedNoServer) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
    std::string usage;
  };
  const std::vector<Case> cases = {
      {{"deliveries"}, "hookctl: missing command", "Usage: hookctl [global flags] deliveries"},
      {{"deliveries", "list", "--since", "yesterday"},
       "hookctl: --since: \"yesterday\" is neither a duration",
       "Usage: hookctl deliveries list"},
      {{"deliveries", "list", "--until=-5m"},
       "hookctl: --until: \"-5m\" is neither",
       "Usage: hookctl deliveries list"},
      {{"deliveries", "list", "--status", "done"},
       "hookctl: --status: \"done\" is not one of pending, succeeded, retrying, failed",
       "Usage: hookctl deliveries list"},
      {{"deliveries", "list", "--page-size", "many"},
       "hookctl: --page-size: \"many\" is not an integer",
       "Usage: hookctl deliveries list"},
      {{"deliveries", "show"}, "hookctl: missing ID", "Usage: hookctl deliveries show ID"},
      {{"deliveries", "retry", "a", "b"},
       "hookctl: unexpected argument \"b\"",
       "Usage: hookctl deliveries retry ID"},
      {{"deliveries", "recover", "--since", "1h"},
       "hookctl: missing --app",
       "Usage: hookctl deliveries recover"},
      {{"deliveries", "recover", "--app", "app_1"},
       "hookctl: missing --since",
       "Usage: hookctl deliveries recover"},
      {{"deliveries", "recover", "--app", "app_1", "--since", "2024-05-01"},
       "hookctl: --since: \"2024-05-01\"",
       "Usage: hookctl deliveries recover"},
      {{"deliveries", "export"}, "hookctl: missing --format", "Usage: hookctl deliveries export"},
      {{"deliveries", "export", "--format", "xml"},
       "hookctl: --format: \"xml\" is not csv, jsonl or pdf",
       "Usage: hookctl deliveries export"},
      {{"deliveries", "export", "--format", "pdf"},
       "hookctl: --format pdf needs -o FILE",
       "Usage: hookctl deliveries export"},
      {{"deliveries", "export", "--format", "pdf", "-o", "-"},
       "hookctl: --format pdf needs -o FILE",
       "Usage: hookctl deliveries export"},
      {{"apps", "stats"}, "hookctl: missing ID", "Usage: hookctl apps stats ID"},
      {{"apps", "stats", "app_1", "--since", "yesterday"},
       "hookctl: --since: \"yesterday\" is neither a duration",
       "Usage: hookctl apps stats ID"},
      {{"deliveries", "export", "--format", "csv", "-o"},
       "hookctl: flag -o needs a value",
       "Usage: hookctl deliveries export"},
      {{"deliveries", "export", "--format", "csv", "--status", "FAILED"},
       "hookctl: --status: \"FAILED\"",
       "Usage: hookctl deliveries export"},
  };
  for (const Case& c : cases) {
    // An unreachable server: a usage error is found before any request.
    std::vector<std::string> args = {"--server", "127.0.0.1:1"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    RunResult r = RunCli(args);
    EXPECT_EQ(r.code, kExitUsage) << c.message;
    EXPECT_THAT(r.err, AllOf(StartsWith(c.message), HasSubstr("\n\n" + c.usage)));
    EXPECT_THAT(r.out, IsEmpty());
  }
}

// An AppService that records the last request of each kind and answers with the app it carried
// (GetApp with `get_answer`), so that tests see exactly what hookctl sends and prints.
class RecordingAppService final : public v1::AppService::Service {
 public:
  grpc::Status CreateApp(grpc::ServerContext*, const v1::CreateAppRequest* request,
                         v1::App* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_;
    create_ = *request;
    *response = request->app();
    response->set_id("app_1");
    return grpc::Status::OK;
  }

  grpc::Status GetApp(grpc::ServerContext*, const v1::GetAppRequest* request,
                      v1::App* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_;
    *response = get_answer_;
    response->set_id(request->id());
    return grpc::Status::OK;
  }

  grpc::Status UpdateApp(grpc::ServerContext*, const v1::UpdateAppRequest* request,
                         v1::App* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_;
    update_ = *request;
    *response = request->app();
    return grpc::Status::OK;
  }

  grpc::Status RotateSecret(grpc::ServerContext*, const v1::RotateSecretRequest* request,
                            v1::App* response) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_;
    rotate_ = *request;
    response->set_id(request->id());
    response->set_secret(request->secret());
    return grpc::Status::OK;
  }

  int calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  v1::CreateAppRequest create() {
    std::lock_guard<std::mutex> lock(mu_);
    return create_;
  }
  v1::UpdateAppRequest update() {
    std::lock_guard<std::mutex> lock(mu_);
    return update_;
  }
  v1::RotateSecretRequest rotate() {
    std::lock_guard<std::mutex> lock(mu_);
    return rotate_;
  }
  void set_get_answer(v1::App app) {
    std::lock_guard<std::mutex> lock(mu_);
    get_answer_ = std::move(app);
  }

 private:
  std::mutex mu_;
  int calls_ = 0;
  v1::CreateAppRequest create_;
  v1::UpdateAppRequest update_;
  v1::RotateSecretRequest rotate_;
  v1::App get_answer_;
};

// `hookctl apps ...` in-process against a RecordingAppService.
class AppsRequestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port_, 0);
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
  }

  // hookctl --server <fake> apps `args`.
  RunResult Apps(std::vector<std::string> args) {
    args.insert(args.begin(), {"--server", "127.0.0.1:" + std::to_string(port_), "apps"});
    return RunCli(args);
  }

  // Writes `content` byte for byte to a file in the test's temporary directory; returns its path.
  static std::string WriteFile(const std::string& name, const std::string& content) {
    const std::string path = ::testing::TempDir() + "/hookctl_test_" + name;
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file << content;
    EXPECT_TRUE(file.good()) << path;
    return path;
  }

  static std::vector<std::string> CreateArgs(std::vector<std::string> extra) {
    std::vector<std::string> args = {
        "create",       "--tenant", "acme", "--name", "n", "--url", "https://example.com/hook",
        "--event-type", "*"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  static std::vector<std::string> Paths(const v1::UpdateAppRequest& request) {
    return {request.update_mask().paths().begin(), request.update_mask().paths().end()};
  }

  RecordingAppService service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

TEST_F(AppsRequestTest, CreateSendsPresetProfilesThenTheFilesInOrder) {
  const std::string file = WriteFile(
      "profiles.json",
      R"([{"signature_header": "X-VideoPilot-Signature", "signature_format": "sha256={sig}"},
          {"preset": "slack", "signature_separator": " ", "rotation": "SIGNATURE_ROTATION_ALL_KEYS",
           "algorithm": "SIGNATURE_ALGORITHM_HMAC_SHA512"}])");
  RunResult r = Apps(CreateArgs({"--signature-preset", "github", "--signature-profile-file", file,
                                 "--signature-preset=stripe"}));
  ASSERT_EQ(r.code, kExitOk) << r.err;
  const v1::App app = service_.create().app();
  ASSERT_EQ(app.signature_profiles_size(), 4) << app.DebugString();
  // Every preset first, in the order given, wherever the file flag stands.
  EXPECT_EQ(app.signature_profiles(0).preset(), "github");
  EXPECT_EQ(app.signature_profiles(0).signature_header(), "");
  EXPECT_EQ(app.signature_profiles(1).preset(), "stripe");
  EXPECT_EQ(app.signature_profiles(2).preset(), "");
  EXPECT_EQ(app.signature_profiles(2).signature_header(), "X-VideoPilot-Signature");
  EXPECT_EQ(app.signature_profiles(2).signature_format(), "sha256={sig}");
  EXPECT_EQ(app.signature_profiles(3).preset(), "slack");
  EXPECT_EQ(app.signature_profiles(3).signature_separator(), " ");
  EXPECT_EQ(app.signature_profiles(3).rotation(), v1::SIGNATURE_ROTATION_ALL_KEYS);
  EXPECT_EQ(app.signature_profiles(3).algorithm(), v1::SIGNATURE_ALGORITHM_HMAC_SHA512);
  EXPECT_EQ(app.secret(), "");
  EXPECT_EQ(app.compat_signature_header(), "");

  // The answer (the fake echoes the app) shows one line per profile, set fields only.
  EXPECT_THAT(r.out, HasSubstr("signature_profiles[0]:  preset=github\n"));
  EXPECT_THAT(r.out, HasSubstr("signature_profiles[1]:  preset=stripe\n"));
  EXPECT_THAT(r.out, HasSubstr("signature_profiles[2]:  signature_header=X-VideoPilot-Signature "
                               "signature_format=sha256={sig}\n"));
  EXPECT_THAT(r.out, HasSubstr("signature_profiles[3]:  preset=slack algorithm=hmac_sha512 "
                               "signature_separator=\" \" rotation=all_keys\n"));
  EXPECT_THAT(r.out, Not(HasSubstr("signature_profiles:")));
}

TEST_F(AppsRequestTest, BadProfileFilesAreUsageErrorsNamingTheFileAndElement) {
  struct Case {
    std::string content;
    std::string problem;
  };
  const std::vector<Case> cases = {
      {R"([{"preset": "github"}, {"signature_heder": "X-Sig"}])", ": element [1] is not a"},
      {R"([{"preset": "github"}, "github"])", ": element [1] is not a JSON object"},
      {R"([{"timestamp_unit": "HOURS"}])", ": element [0] is not a SignatureProfile"},
      {R"({"preset": "github"})", " is not a JSON array of signature profiles"},
      {"[{\"preset\": \"github\"", " is not a JSON array of signature profiles"},
  };
  int n = 0;
  for (const Case& c : cases) {
    const std::string file = WriteFile("bad_profiles_" + std::to_string(n++) + ".json", c.content);
    for (const std::vector<std::string>& args :
         {CreateArgs({"--signature-profile-file", file}),
          std::vector<std::string>{"update", "app_1", "--signature-profile-file", file}}) {
      RunResult r = Apps(args);
      EXPECT_EQ(r.code, kExitUsage) << c.content;
      EXPECT_THAT(r.err, StartsWith("hookctl: --signature-profile-file: " + file + c.problem))
          << r.err;
      EXPECT_THAT(r.err, HasSubstr("\n\nUsage: hookctl apps " + args[0]));
      EXPECT_THAT(r.out, IsEmpty());
    }
  }
  RunResult missing = Apps(CreateArgs({"--signature-profile-file", "/nonexistent/profiles.json"}));
  EXPECT_EQ(missing.code, kExitFailure);
  EXPECT_EQ(missing.err,
            "hookctl: NOT_FOUND: --signature-profile-file: cannot read "
            "/nonexistent/profiles.json\n");
  RunResult empty_preset = Apps(CreateArgs({"--signature-preset="}));
  EXPECT_EQ(empty_preset.code, kExitUsage);
  EXPECT_THAT(empty_preset.err, StartsWith("hookctl: --signature-preset: expected a preset name"));
  EXPECT_EQ(service_.calls(), 0);  // nothing was sent
}

TEST_F(AppsRequestTest, UpdateReplacesTheProfilesThroughTheMask) {
  RunResult r = Apps({"update", "app_1", "--signature-preset", "shopify", "--signature-preset",
                      "standard-webhooks"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  v1::UpdateAppRequest request = service_.update();
  EXPECT_EQ(request.app().id(), "app_1");
  EXPECT_THAT(Paths(request), ElementsAre("signature_profiles"));
  ASSERT_EQ(request.app().signature_profiles_size(), 2);
  EXPECT_EQ(request.app().signature_profiles(0).preset(), "shopify");
  EXPECT_EQ(request.app().signature_profiles(1).preset(), "standard-webhooks");

  // An empty array empties the list: back to the default profile.
  const std::string file = WriteFile("no_profiles.json", "[]\n");
  r = Apps({"update", "app_1", "--signature-profile-file", file, "--name", "renamed"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  request = service_.update();
  EXPECT_THAT(Paths(request), ElementsAre("name", "signature_profiles"));
  EXPECT_EQ(request.app().signature_profiles_size(), 0);
  EXPECT_THAT(r.out, HasSubstr("signature_profiles:     default (standard-webhooks)\n"));

  // The deprecated flag still works, as one more field.
  r = Apps({"update", "app_1", "--compat-signature-header", "X-Hub-Signature-256"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  request = service_.update();
  EXPECT_THAT(Paths(request), ElementsAre("compat_signature_header"));
  EXPECT_EQ(request.app().compat_signature_header(), "X-Hub-Signature-256");
  EXPECT_EQ(request.app().signature_profiles_size(), 0);
}

TEST_F(AppsRequestTest, SecretFileLosesExactlyOneTrailingNewline) {
  for (const auto& [content, secret] : std::vector<std::pair<std::string, std::string>>{
           {"customer-chosen-secret-1\n", "customer-chosen-secret-1"},
           {"customer-chosen-secret-2\r\n", "customer-chosen-secret-2"},
           {"customer-chosen-secret-3", "customer-chosen-secret-3"},
           {"customer-chosen-secret-4\n\n", "customer-chosen-secret-4\n"},
           {"  spaced secret stays as it is  \r\n", "  spaced secret stays as it is  "},
           {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}) {
    const std::string file = WriteFile("secret", content);
    RunResult created = Apps(CreateArgs({"--signature-preset", "github", "--secret-file", file}));
    ASSERT_EQ(created.code, kExitOk) << created.err;
    EXPECT_EQ(service_.create().app().secret(), secret);

    RunResult rotated = Apps({"rotate-secret", "app_1", "--secret-file", file, "--grace", "1h"});
    ASSERT_EQ(rotated.code, kExitOk) << rotated.err;
    const v1::RotateSecretRequest request = service_.rotate();
    EXPECT_EQ(request.id(), "app_1");
    EXPECT_EQ(request.secret(), secret);
    EXPECT_EQ(request.grace_period().seconds(), 3600);
  }
  // Without the flag the server generates the secret.
  RunResult generated = Apps({"rotate-secret", "app_2"});
  ASSERT_EQ(generated.code, kExitOk) << generated.err;
  EXPECT_EQ(service_.rotate().id(), "app_2");
  EXPECT_EQ(service_.rotate().secret(), "");
  EXPECT_FALSE(service_.rotate().has_grace_period());
  RunResult created = Apps(CreateArgs({}));
  ASSERT_EQ(created.code, kExitOk) << created.err;
  EXPECT_EQ(service_.create().app().secret(), "");
}

TEST_F(AppsRequestTest, SecretFileErrorsNameTheFileButNeverTheSecret) {
  const int calls = service_.calls();
  for (const char* content : {"", "\n", "\r\n"}) {
    const std::string file = WriteFile("empty_secret", content);
    for (const std::vector<std::string>& args :
         {CreateArgs({"--secret-file", file}),
          std::vector<std::string>{"rotate-secret", "app_1", "--secret-file", file}}) {
      RunResult r = Apps(args);
      EXPECT_EQ(r.code, kExitUsage);
      EXPECT_THAT(r.err, StartsWith("hookctl: --secret-file: " + file + " is empty\n\nUsage: "));
    }
  }
  RunResult missing = Apps({"rotate-secret", "app_1", "--secret-file", "/nonexistent/secret"});
  EXPECT_EQ(missing.code, kExitFailure);
  EXPECT_EQ(missing.err, "hookctl: NOT_FOUND: --secret-file: cannot read /nonexistent/secret\n");

  // A usage error elsewhere on the line does not echo the secret either.
  const std::string file = WriteFile("secret_kept", "do-not-print-this-secret\n");
  RunResult other = Apps(CreateArgs({"--secret-file", file, "--header", "novalue"}));
  EXPECT_EQ(other.code, kExitUsage);
  EXPECT_THAT(other.err, Not(HasSubstr("do-not-print-this-secret")));
  // --secret-file belongs to create and rotate-secret only.
  RunResult update = Apps({"update", "app_1", "--secret-file", file});
  EXPECT_EQ(update.code, kExitUsage);
  EXPECT_THAT(update.err, StartsWith("hookctl: unknown flag --secret-file"));
  EXPECT_EQ(service_.calls(), calls);
}

TEST_F(AppsRequestTest, PayloadTemplateFileImpliesTheTemplateFormat) {
  const std::string text =
      "{\n  \"kind\": \"{{event_type}}\",\n  \"at\": \"{{timestamp_ms}}\",\n"
      "  \"...\": \"{{payload}}\"\n}\n";
  const std::string file = WriteFile("template.json", text);
  RunResult created = Apps(CreateArgs({"--payload-template-file", file}));
  ASSERT_EQ(created.code, kExitOk) << created.err;
  EXPECT_EQ(service_.create().app().payload_template(), text);  // byte for byte
  EXPECT_EQ(service_.create().app().payload_format(), v1::PAYLOAD_FORMAT_TEMPLATE);
  EXPECT_THAT(created.out, HasSubstr("PAYLOAD_FORMAT_TEMPLATE"));
  EXPECT_THAT(created.out, HasSubstr("payload_template:"));
  EXPECT_THAT(created.out, HasSubstr("\"kind\": \"{{event_type}}\""));

  // An explicit --payload-format wins.
  created = Apps(CreateArgs({"--payload-template-file", file, "--payload-format", "raw"}));
  ASSERT_EQ(created.code, kExitOk) << created.err;
  EXPECT_EQ(service_.create().app().payload_format(), v1::PAYLOAD_FORMAT_RAW);
  EXPECT_EQ(service_.create().app().payload_template(), text);

  RunResult updated = Apps({"update", "app_1", "--payload-template-file", file});
  ASSERT_EQ(updated.code, kExitOk) << updated.err;
  EXPECT_THAT(Paths(service_.update()), ElementsAre("payload_template", "payload_format"));
  EXPECT_EQ(service_.update().app().payload_format(), v1::PAYLOAD_FORMAT_TEMPLATE);
  EXPECT_EQ(service_.update().app().payload_template(), text);

  updated = Apps({"update", "app_1", "--payload-format=envelope", "--payload-template-file", file});
  ASSERT_EQ(updated.code, kExitOk) << updated.err;
  EXPECT_THAT(Paths(service_.update()), ElementsAre("payload_format", "payload_template"));
  EXPECT_EQ(service_.update().app().payload_format(), v1::PAYLOAD_FORMAT_ENVELOPE);

  updated = Apps({"update", "app_1", "--payload-format", "template"});
  ASSERT_EQ(updated.code, kExitOk) << updated.err;
  EXPECT_THAT(Paths(service_.update()), ElementsAre("payload_format"));
  EXPECT_EQ(service_.update().app().payload_format(), v1::PAYLOAD_FORMAT_TEMPLATE);

  RunResult bad = Apps(CreateArgs({"--payload-format", "xml"}));
  EXPECT_EQ(bad.code, kExitUsage);
  EXPECT_THAT(bad.err,
              StartsWith("hookctl: --payload-format: expected envelope, raw or template\n"));
  RunResult missing = Apps({"update", "app_1", "--payload-template-file", "/nonexistent/t.json"});
  EXPECT_EQ(missing.code, kExitFailure);
  EXPECT_EQ(missing.err,
            "hookctl: NOT_FOUND: --payload-template-file: cannot read /nonexistent/t.json\n");
}

TEST_F(AppsRequestTest, GetShowsResolvedProfilesAndJsonHasThem) {
  v1::App app;
  app.set_tenant("acme");
  v1::SignatureProfile* github = app.add_signature_profiles();
  github->set_preset("github");
  github->set_id_header("X-GitHub-Delivery");
  github->set_event_type_header("X-GitHub-Event");
  github->set_signature_header("X-Hub-Signature-256");
  github->set_signed_content("{body}");
  github->set_algorithm(v1::SIGNATURE_ALGORITHM_HMAC_SHA256);
  github->set_encoding(v1::SIGNATURE_ENCODING_HEX);
  github->set_signature_format("sha256={sig}");
  github->set_key(v1::SIGNATURE_KEY_SECRET_TEXT);
  github->set_rotation(v1::SIGNATURE_ROTATION_NEWEST_KEY);
  v1::SignatureProfile* custom = app.add_signature_profiles();
  custom->set_timestamp_header("X-Time");
  custom->set_timestamp_unit(v1::TIMESTAMP_UNIT_MILLISECONDS);
  custom->set_signature_header("X-Sig");
  custom->set_signed_content("{timestamp} {body}");
  custom->set_encoding(v1::SIGNATURE_ENCODING_BASE64);
  custom->set_key(v1::SIGNATURE_KEY_WHSEC_BYTES);
  app.set_payload_format(v1::PAYLOAD_FORMAT_TEMPLATE);
  app.set_payload_template("{\"data\": \"{{payload}}\"}\n");
  service_.set_get_answer(app);

  RunResult got = Apps({"get", "app_9"});
  ASSERT_EQ(got.code, kExitOk) << got.err;
  EXPECT_THAT(got.out,
              HasSubstr("signature_profiles[0]:  preset=github id_header=X-GitHub-Delivery "
                        "event_type_header=X-GitHub-Event "
                        "signature_header=X-Hub-Signature-256 signed_content={body} "
                        "algorithm=hmac_sha256 encoding=hex signature_format=sha256={sig} "
                        "key=secret_text rotation=newest_key\n"));
  EXPECT_THAT(got.out, HasSubstr("signature_profiles[1]:  timestamp_header=X-Time "
                                 "signature_header=X-Sig timestamp_unit=milliseconds "
                                 "signed_content=\"{timestamp} {body}\" encoding=base64 "
                                 "key=whsec_bytes\n"));
  EXPECT_THAT(got.out, HasSubstr("payload_template:       {\"data\": \"{{payload}}\"}\n"));
  EXPECT_THAT(got.out, Not(HasSubstr("secret:")));

  RunResult json =
      RunCli({"--server", "127.0.0.1:" + std::to_string(port_), "--json", "apps", "get", "app_9"});
  ASSERT_EQ(json.code, kExitOk) << json.err;
  nlohmann::json parsed = nlohmann::json::parse(json.out);
  EXPECT_EQ(parsed["id"], "app_9");
  EXPECT_EQ(parsed["signature_profiles"][0]["preset"], "github");
  EXPECT_EQ(parsed["signature_profiles"][0]["rotation"], "SIGNATURE_ROTATION_NEWEST_KEY");
  EXPECT_EQ(parsed["signature_profiles"][1]["signature_header"], "X-Sig");
  EXPECT_EQ(parsed["payload_template"], "{\"data\": \"{{payload}}\"}\n");
  EXPECT_EQ(parsed["payload_format"], "PAYLOAD_FORMAT_TEMPLATE");
}

TEST(Run, AppsHelpNamesTheSignatureSecretAndTemplateFlags) {
  RunResult create = RunCli({"apps", "create", "--help"});
  ASSERT_EQ(create.code, kExitOk);
  for (const char* text :
       {"--signature-preset NAME", "standard-webhooks", "github", "stripe", "shopify", "slack",
        "--signature-profile-file FILE", "--secret-file FILE", "--payload-template-file FILE",
        "--payload-format envelope|raw|template",
        "deprecated: use --signature-preset/--signature-profile-file"}) {
    EXPECT_THAT(create.out, HasSubstr(text));
  }
  RunResult update = RunCli({"apps", "update", "-h"});
  ASSERT_EQ(update.code, kExitOk);
  for (const char* text : {"--signature-preset NAME", "--signature-profile-file FILE",
                           "--payload-template-file FILE", "replace the app's profiles"}) {
    EXPECT_THAT(update.out, HasSubstr(text));
  }
  EXPECT_THAT(update.out, Not(HasSubstr("--secret-file")));
  RunResult rotate = RunCli({"apps", "rotate-secret", "--help"});
  ASSERT_EQ(rotate.code, kExitOk);
  EXPECT_THAT(rotate.out, AllOf(StartsWith("Usage: hookctl apps rotate-secret ID [--grace 24h] "
                                           "[--secret-file FILE]"),
                                HasSubstr("--secret-file FILE")));
}

TEST(PdfTable, FillsPagesOfFortyRowsAndRefusesColumnsWiderThanThePage) {
  const std::vector<PdfTable::Column> columns = {{"ID", 30}, {"TEXT", 0}, {"N", 5}};
  for (const auto& [rows, pages] :
       std::vector<std::pair<int, int>>{{0, 1},
                                        {1, 1},
                                        {PdfTable::kRowsPerPage, 1},
                                        {PdfTable::kRowsPerPage + 1, 2},
                                        {3 * PdfTable::kRowsPerPage, 3}}) {
    auto table = PdfTable::Create("title", columns);
    ASSERT_TRUE(table.ok()) << table.status();
    for (int i = 0; i < rows; ++i) {
      // Text beyond ASCII and longer than its column is replaced and cut, not an error.
      ASSERT_TRUE((*table)->AddRow({"id", "caf\xC3\xA9 " + std::string(300, 'x'), "1"}).ok());
    }
    EXPECT_EQ((*table)->pages(), pages) << rows << " rows";
    std::ostringstream out;
    ASSERT_TRUE((*table)->Write(out).ok());
    EXPECT_THAT(out.str(), StartsWith("%PDF-"));
    EXPECT_THAT(out.str(), testing::EndsWith("%%EOF\n"));
  }
  auto wide = PdfTable::Create("title", {{"A", 100}, {"B", 100}});
  EXPECT_EQ(wide.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Run, ExportToAnUnwritableFileFailsBeforeAnyRequest) {
  RunResult r = RunCli({"--server", "127.0.0.1:1", "deliveries", "export", "--format", "csv", "-o",
                        "/nonexistent/dir/out.csv"});
  EXPECT_EQ(r.code, kExitFailure);
  EXPECT_EQ(r.err,
            "hookctl: NOT_FOUND: -o: cannot write /nonexistent/dir/out.csv: No such file "
            "or directory\n");
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

// `hookctl health check` against a hookd server's plaintext health listener: SERVING and exit
// 0; nothing listening: exit 1 once --timeout passes.
TEST(Run, HealthCheckAsksTheHealthListener) {
  absl::StatusOr<StartedServer> started =
      StartGrpcServer("127.0.0.1:0", {}, 4 << 20, "127.0.0.1:0");
  ASSERT_TRUE(started.ok()) << started.status();
  const std::string address = "127.0.0.1:" + std::to_string(started->health_port);
  RunResult serving = RunCli({"health", "check", address});
  EXPECT_EQ(serving.code, kExitOk) << serving.err;
  EXPECT_EQ(serving.out, "SERVING\n");
  started->health_server->Shutdown();
  started->server->Shutdown();

  const absl::Time start = absl::Now();
  RunResult down = RunCli({"--timeout", "300ms", "health", "check", address});
  EXPECT_EQ(down.code, kExitFailure);
  EXPECT_EQ(down.out, "");
  EXPECT_NE(down.err.find("hookctl: DEADLINE_EXCEEDED"), std::string::npos) << down.err;
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

}  // namespace
}  // namespace hookd::hookctl
