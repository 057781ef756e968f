#include "hookd/common/proto_input.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "hookd/common/status.h"

namespace hookd {
namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

absl::Status Walk(const Message& message, const std::string& prefix) {
  const google::protobuf::Reflection* reflection = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const FieldDescriptor* field : fields) {
    const std::string name = prefix + field->name();
    if (field->is_map()) {
      // Entries are messages of key and value: named by their key when it is a string.
      for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
        const Message& entry = reflection->GetRepeatedMessage(message, field, i);
        const FieldDescriptor* key = entry.GetDescriptor()->map_key();
        std::string label = key->cpp_type() == FieldDescriptor::CPPTYPE_STRING
                                ? entry.GetReflection()->GetString(entry, key)
                                : std::to_string(i);
        if (label.find('\0') != std::string::npos) {
          return InvalidField(name, "a key holds a NUL character");
        }
        if (label.size() > 64) label = label.substr(0, 64) + "...";  // quoted in the error
        if (absl::Status inner = Walk(entry, name + "[" + label + "]."); !inner.ok()) {
          return inner;
        }
      }
      continue;
    }
    const bool is_string = field->type() == FieldDescriptor::TYPE_STRING;
    const bool is_message = field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE;
    if (!is_string && !is_message) continue;
    if (field->is_repeated()) {
      for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
        const std::string element = absl::StrCat(name, "[", i, "]");
        if (is_string) {
          std::string scratch;
          const std::string& value =
              reflection->GetRepeatedStringReference(message, field, i, &scratch);
          if (value.find('\0') != std::string::npos) {
            return InvalidField(element, "holds a NUL character");
          }
        } else if (absl::Status inner =
                       Walk(reflection->GetRepeatedMessage(message, field, i), element + ".");
                   !inner.ok()) {
          return inner;
        }
      }
    } else if (is_string) {
      std::string scratch;
      const std::string& value = reflection->GetStringReference(message, field, &scratch);
      if (value.find('\0') != std::string::npos) return InvalidField(name, "holds a NUL character");
    } else if (absl::Status inner = Walk(reflection->GetMessage(message, field), name + ".");
               !inner.ok()) {
      return inner;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RefuseNulCharacters(const Message& message) { return Walk(message, ""); }

}  // namespace hookd
