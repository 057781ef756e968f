#include "hookd/schema/json_schema.h"

#include <exception>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "hookd/common/absl_view.h"
#include "hookd/common/json_pointer.h"
#include "hookd/common/status.h"
#include "nlohmann/json.hpp"
#include "valijson/adapters/nlohmann_json_adapter.hpp"
#include "valijson/schema.hpp"
#include "valijson/schema_parser.hpp"
#include "valijson/validation_results.hpp"
#include "valijson/validator.hpp"

namespace hookd::schema {
namespace {

// Refuses what Postgres's jsonb cannot store, anywhere in the document (data members that
// Prepare skips included): nesting deeper than kMaxSchemaDepth, where Postgres would fail with
// "stack depth limit exceeded", and a NUL character (`\u0000`) in a string or a name, which
// jsonb has no way to hold. Recursion stops at the limit.
absl::Status CheckStorable(const nlohmann::json& node, const std::string& pointer, int depth,
                           std::string_view field) {
  const std::string at = pointer.empty() ? "/" : pointer;
  if (depth > kMaxSchemaDepth) {
    return InvalidField(field,
                        absl::StrCat("nests deeper than ", kMaxSchemaDepth, " levels at ", at));
  }
  auto has_nul = [](const std::string& text) { return text.find('\0') != std::string::npos; };
  if (node.is_string() && has_nul(node.get_ref<const std::string&>())) {
    return InvalidField(field, absl::StrCat("holds a NUL character (\\u0000) at ", at));
  }
  if (node.is_array()) {
    for (size_t i = 0; i < node.size(); ++i) {
      HOOKD_RETURN_IF_ERROR(
          CheckStorable(node[i], absl::StrCat(pointer, "/", i), depth + 1, field));
    }
  } else if (node.is_object()) {
    for (const auto& [key, value] : node.items()) {
      if (has_nul(key)) {
        return InvalidField(field,
                            absl::StrCat("holds a NUL character (\\u0000) in a name at ", at));
      }
      HOOKD_RETURN_IF_ERROR(CheckStorable(value, pointer + JsonPointerStep(key), depth + 1, field));
    }
  }
  return absl::OkStatus();
}

// Refuses what valijson must not see, and drops `format` (an annotation). `names` is true for
// an object that maps names to schemas (`properties`, `definitions`, ...), whose keys are no
// keywords. Recursion is bounded by the depth check it makes first.
absl::Status Prepare(nlohmann::json& node, const std::string& pointer, int depth, bool names,
                     std::string_view field) {
  const std::string at = pointer.empty() ? "/" : pointer;
  if (depth > kMaxSchemaDepth) {
    return InvalidField(field,
                        absl::StrCat("nests deeper than ", kMaxSchemaDepth, " levels at ", at));
  }
  if (node.is_array()) {
    for (size_t i = 0; i < node.size(); ++i) {
      HOOKD_RETURN_IF_ERROR(
          Prepare(node[i], absl::StrCat(pointer, "/", i), depth + 1, false, field));
    }
    return absl::OkStatus();
  }
  if (!node.is_object()) return absl::OkStatus();
  if (!names) {
    for (const char* keyword : {"pattern", "patternProperties"}) {
      if (node.contains(keyword)) {
        return InvalidField(field, absl::StrCat(keyword, " at ", at,
                                                " is not supported: hookd runs no regular "
                                                "expression of a schema over payload data"));
      }
    }
    if (auto it = node.find("format"); it != node.end() && it->is_string()) node.erase(it);
  }
  for (auto& [key, value] : node.items()) {
    // Payload values, not schemas: a "format" or "pattern" member in them is data.
    if (!names && (key == "const" || key == "enum" || key == "default" || key == "examples")) {
      continue;
    }
    const bool child_names = !names && (key == "properties" || key == "definitions" ||
                                        key == "$defs" || key == "dependencies");
    HOOKD_RETURN_IF_ERROR(
        Prepare(value, pointer + JsonPointerStep(key), depth + 1, child_names, field));
  }
  return absl::OkStatus();
}

// valijson's context ("<root>", "[video]", "[0]") as a JSON pointer.
std::string Pointer(const std::vector<std::string>& context) {
  std::string pointer;
  for (const std::string& part : context) {
    if (part == "<root>") continue;
    std::string inner = part;
    if (inner.size() >= 2 && inner.front() == '[' && inner.back() == ']') {
      inner = inner.substr(1, inner.size() - 2);
      if (inner.size() >= 2 && inner.front() == '"' && inner.back() == '"') {
        inner = inner.substr(1, inner.size() - 2);
      }
    }
    pointer += JsonPointerStep(inner);
  }
  return pointer;
}

}  // namespace

struct CompiledSchema::Impl {
  valijson::Schema schema;
};

CompiledSchema::CompiledSchema(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CompiledSchema::~CompiledSchema() = default;

absl::StatusOr<std::shared_ptr<const CompiledSchema>> CompiledSchema::Compile(
    std::string_view text, std::string_view field) {
  if (text.size() > kMaxSchemaBytes) {
    return InvalidField(field, absl::StrCat("must be at most ", kMaxSchemaBytes / 1024, " KiB"));
  }
  // nlohmann's parser keeps its own stack: a deep text cannot exhaust ours before Prepare
  // refuses the depth.
  nlohmann::json document = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded() || !document.is_object()) {
    return InvalidField(field, "must be a JSON object (a JSON Schema)");
  }
  HOOKD_RETURN_IF_ERROR(CheckStorable(document, "", 0, field));
  HOOKD_RETURN_IF_ERROR(Prepare(document, "", 0, false, field));
  auto impl = std::make_unique<Impl>();
  try {
    valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
    valijson::adapters::NlohmannJsonAdapter adapter(document);
    parser.populateSchema(adapter, impl->schema);
  } catch (const std::exception& error) {
    return InvalidField(field,
                        absl::StrCat("is not a valid JSON Schema (draft 7): ", error.what()));
  }
  return std::shared_ptr<const CompiledSchema>(new CompiledSchema(std::move(impl)));
}

absl::Status CompiledSchema::Validate(std::string_view payload, std::string_view field) const {
  nlohmann::json document = nlohmann::json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) return InvalidField(field, "must be JSON");
  valijson::Validator validator(valijson::Validator::kStrongTypes);
  valijson::ValidationResults results;
  valijson::adapters::NlohmannJsonAdapter adapter(document);
  bool valid = false;
  try {
    valid = validator.validate(impl_->schema, adapter, &results);
  } catch (const std::exception& error) {
    return InvalidField(field,
                        absl::StrCat("could not be checked against the schema: ", error.what()));
  }
  if (valid) return absl::OkStatus();
  // The deepest error names the failing value most precisely.
  valijson::ValidationResults::Error error;
  valijson::ValidationResults::Error deepest;
  size_t depth = 0;
  bool any = false;
  while (results.popError(error)) {
    if (!any || error.context.size() > depth) {
      deepest = error;
      depth = error.context.size();
      any = true;
    }
  }
  return InvalidField(absl::StrCat(AbslView(field), Pointer(deepest.context)),
                      any ? deepest.description : "does not match the schema");
}

}  // namespace hookd::schema
