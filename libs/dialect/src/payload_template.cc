#include "hookd/dialect/payload_template.h"

#include <set>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "hookd/common/absl_view.h"
#include "hookd/common/json_pointer.h"
#include "hookd/common/status.h"
#include "hookd/dialect/json_text.h"
#include "nlohmann/json.hpp"
#include "simdjson.h"

namespace hookd::dialect {
namespace {

// ordered_json keeps the template's member order, which receivers see.
using Json = nlohmann::ordered_json;

constexpr std::string_view kSpreadKey = "...";
constexpr std::string_view kPayload = "{{payload}}";
constexpr std::string_view kNames[] = {"{{event_type}}",     "{{event_id}}",     "{{timestamp}}",
                                       "{{timestamp_unix}}", "{{timestamp_ms}}", "{{payload}}",
                                       "{{secret}}"};

std::string Shown(const std::string& pointer) { return pointer.empty() ? "/" : pointer; }

bool IsKnownPlaceholder(std::string_view text) {
  return std::find(std::begin(kNames), std::end(kNames), text) != std::end(kNames);
}

std::string KnownNames() {
  std::string names;
  for (std::string_view name : kNames) {
    absl::StrAppend(&names, names.empty() ? "" : ", ", AbslView(name));
  }
  return names;
}

// Checks the placeholders and "..." members of a parsed template; `pointer` is where `node` is.
absl::Status Check(const Json& node, const std::string& pointer, int depth,
                   std::string_view field) {
  if (depth > kMaxTemplateDepth) {
    return InvalidField(
        field, absl::StrCat("nests deeper than ", kMaxTemplateDepth, " at ", Shown(pointer)));
  }
  if (node.is_string()) {
    const std::string& text = node.get_ref<const std::string&>();
    if (IsKnownPlaceholder(text)) return absl::OkStatus();
    const bool braces = text.find("{{") != std::string::npos;
    if (braces && text.starts_with("{{") && text.ends_with("}}") &&
        text.find("{{", 2) == std::string::npos) {
      return InvalidField(field, absl::StrCat("unknown placeholder at ", Shown(pointer),
                                              "; the placeholders are ", KnownNames()));
    }
    if (braces) {
      return InvalidField(field, absl::StrCat("a placeholder must be a whole JSON string, as in "
                                              "\"{{event_type}}\"; the string at ",
                                              Shown(pointer), " holds {{ among other text"));
    }
    return absl::OkStatus();
  }
  if (node.is_array()) {
    for (size_t i = 0; i < node.size(); ++i) {
      HOOKD_RETURN_IF_ERROR(Check(node[i], absl::StrCat(pointer, "/", i), depth + 1, field));
    }
    return absl::OkStatus();
  }
  if (node.is_object()) {
    for (const auto& [key, value] : node.items()) {
      const std::string at = pointer + JsonPointerStep(key);
      if (key == kSpreadKey &&
          !(value.is_string() && value.get_ref<const std::string&>() == kPayload)) {
        return InvalidField(field, absl::StrCat("the member \"...\" at ", Shown(pointer),
                                                " merges the payload: its value must be "
                                                "\"{{payload}}\""));
      }
      if (key.find("{{") != std::string::npos) {
        return InvalidField(
            field, absl::StrCat("a member name cannot be a placeholder (at ", Shown(at), ")"));
      }
      HOOKD_RETURN_IF_ERROR(Check(value, at, depth + 1, field));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Json> Parse(std::string_view text, std::string_view field) {
  if (text.size() > kMaxTemplateBytes) {
    return InvalidField(field, absl::StrCat("must be at most ", kMaxTemplateBytes, " bytes"));
  }
  if (absl::StripAsciiWhitespace(AbslView(text)).empty()) {
    return InvalidField(field, "is required with PAYLOAD_FORMAT_TEMPLATE");
  }
  // The parser keeps an explicit stack, so a deeply nested text cannot exhaust ours; Check then
  // refuses the depth before rendering recurses.
  Json parsed = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    // The position of the error, without the parser's message (it may quote the text).
    size_t position = 0;
    try {
      (void)Json::parse(text);
    } catch (const Json::parse_error& error) {
      position = error.byte;
    } catch (const Json::exception&) {
      // out_of_range 406, a number beyond a double ("1E400"), carries no position. Caught, since
      // an escaping exception would end the service (found by dialect_fuzz).
      return InvalidField(field, "is not JSON: a number is out of range");
    }
    return InvalidField(field, absl::StrCat("is not JSON: syntax error at byte ", position));
  }
  return parsed;
}

// The text of a member's value as published. simdjson 3.0 gives whole objects and arrays their
// raw text, and scalars their token (trailing blanks included, which the caller strips).
bool RawJson(simdjson::simdjson_result<simdjson::ondemand::value> result, std::string_view& raw) {
  simdjson::ondemand::value value;
  simdjson::ondemand::json_type type;
  if (result.get(value) != simdjson::SUCCESS || value.type().get(type) != simdjson::SUCCESS) {
    return false;
  }
  if (type == simdjson::ondemand::json_type::object) {
    simdjson::ondemand::object object;
    return value.get_object().get(object) == simdjson::SUCCESS &&
           object.raw_json().get(raw) == simdjson::SUCCESS;
  }
  if (type == simdjson::ondemand::json_type::array) {
    simdjson::ondemand::array array;
    return value.get_array().get(array) == simdjson::SUCCESS &&
           array.raw_json().get(raw) == simdjson::SUCCESS;
  }
  raw = value.raw_json_token();
  return true;
}

class Renderer {
 public:
  explicit Renderer(const TemplateValues& values) : values_(values) {}

  absl::Status Render(const Json& node, const std::string& pointer, std::string& out) {
    if (node.is_string()) {
      const std::string& text = node.get_ref<const std::string&>();
      if (text.starts_with("{{") && IsKnownPlaceholder(text)) return Placeholder(text, out);
      out += '"';
      out += JsonEscape(text);
      out += '"';
      return absl::OkStatus();
    }
    if (node.is_array()) {
      out += '[';
      for (size_t i = 0; i < node.size(); ++i) {
        if (i > 0) out += ',';
        HOOKD_RETURN_IF_ERROR(Render(node[i], absl::StrCat(pointer, "/", i), out));
      }
      out += ']';
      return absl::OkStatus();
    }
    if (node.is_object()) return Object(node, pointer, out);
    out += node.dump();
    return absl::OkStatus();
  }

 private:
  absl::Status Placeholder(std::string_view name, std::string& out) {
    if (name == "{{payload}}") {
      out += values_.payload;
    } else if (name == "{{event_type}}") {
      absl::StrAppend(&out, "\"", JsonEscape(values_.event_type), "\"");
    } else if (name == "{{event_id}}") {
      absl::StrAppend(&out, "\"", JsonEscape(values_.event_id), "\"");
    } else if (name == "{{timestamp}}") {
      absl::StrAppend(&out, "\"", Rfc3339(values_.time), "\"");
    } else if (name == "{{timestamp_unix}}") {
      absl::StrAppend(&out, absl::ToUnixSeconds(values_.time));
    } else if (name == "{{timestamp_ms}}") {
      absl::StrAppend(&out, absl::ToUnixMillis(values_.time));
    } else if (name == "{{secret}}") {
      if (values_.secret.empty()) {
        return absl::InvalidArgumentError(
            "payload template: {{secret}} needs a shared secret; the app's current key is an "
            "Ed25519 key");
      }
      absl::StrAppend(&out, "\"", JsonEscape(values_.secret), "\"");
    }
    return absl::OkStatus();
  }

  absl::Status Object(const Json& node, const std::string& pointer, std::string& out) {
    out += '{';
    bool first = true;
    std::set<std::string_view> own;
    for (const auto& [key, value] : node.items()) {
      if (key != kSpreadKey) own.insert(key);
    }
    for (const auto& [key, value] : node.items()) {
      if (key == kSpreadKey) {
        HOOKD_RETURN_IF_ERROR(Spread(pointer, own, first, out));
        continue;
      }
      if (!first) out += ',';
      first = false;
      absl::StrAppend(&out, "\"", JsonEscape(key), "\":");
      HOOKD_RETURN_IF_ERROR(Render(value, pointer + JsonPointerStep(key), out));
    }
    out += '}';
    return absl::OkStatus();
  }

  // The payload's members, each as published, into the object at `pointer`.
  absl::Status Spread(const std::string& pointer, const std::set<std::string_view>& own,
                      bool& first, std::string& out) {
    const simdjson::padded_string padded(values_.payload);
    simdjson::ondemand::parser parser;
    simdjson::ondemand::document doc;
    simdjson::ondemand::object object;
    if (parser.iterate(padded).get(doc) != simdjson::SUCCESS ||
        doc.get_object().get(object) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError(absl::StrCat("payload template: \"...\" at ",
                                                     Shown(pointer),
                                                     " merges a payload that is not a "
                                                     "JSON object"));
    }
    for (auto member : object) {
      std::string_view key;
      std::string_view raw;
      if (member.unescaped_key().get(key) != simdjson::SUCCESS || !RawJson(member.value(), raw)) {
        return absl::InvalidArgumentError("payload template: the payload is not valid JSON");
      }
      if (own.count(key) > 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("payload template: the payload's member \"", JsonEscape(key),
                         "\" is also a member of the template at ", Shown(pointer)));
      }
      if (!first) out += ',';
      first = false;
      absl::StrAppend(&out, "\"", JsonEscape(key),
                      "\":", absl::StripTrailingAsciiWhitespace(AbslView(raw)));
    }
    return absl::OkStatus();
  }

  const TemplateValues& values_;
};

}  // namespace

bool UsesSecret(std::string_view text) { return text.find("\"{{secret}}\"") != text.npos; }

absl::Status ValidatePayloadTemplate(std::string_view text, std::string_view field) {
  HOOKD_ASSIGN_OR_RETURN(Json parsed, Parse(text, field));
  HOOKD_RETURN_IF_ERROR(Check(parsed, "", 0, field));
  TemplateValues sample;
  sample.event_type = "hookd.sample";
  sample.event_id = "msg_sample";
  sample.time = absl::FromUnixMillis(1700000000123);
  // Empty, so that no member merged by "..." can clash with the template's own: that depends on
  // each event's payload, and fails that event's attempt only.
  sample.payload = "{}";
  sample.secret = "sample-secret-0123";
  std::string out;
  absl::Status rendered = Renderer(sample).Render(parsed, "", out);
  if (!rendered.ok()) return InvalidField(field, std::string(rendered.message()));
  return absl::OkStatus();
}

absl::StatusOr<std::string> RenderPayloadTemplate(std::string_view text,
                                                  const TemplateValues& values) {
  HOOKD_ASSIGN_OR_RETURN(Json parsed, Parse(text, "payload_template"));
  HOOKD_RETURN_IF_ERROR(Check(parsed, "", 0, "payload_template"));
  std::string out;
  out.reserve(text.size() + values.payload.size());
  HOOKD_RETURN_IF_ERROR(Renderer(values).Render(parsed, "", out));
  return out;
}

}  // namespace hookd::dialect
