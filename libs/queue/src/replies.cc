#include "replies.h"

#include <hiredis/hiredis.h>

#include <charconv>
#include <limits>

#include "absl/strings/numbers.h"

namespace hookd::queue {
namespace {

// hiredis's own reply constructors, read once from a reader it made: they are not exported.
const redisReplyObjectFunctions& DefaultFunctions() {
  static const redisReplyObjectFunctions functions = [] {
    redisReader* reader = redisReaderCreate();
    const redisReplyObjectFunctions copy = *reader->fn;
    redisReaderFree(reader);
    return copy;
  }();
  return functions;
}

// hiredis allocates an array's element pointers as soon as it reads the array's header, for as
// many elements as the header claims (up to 2^31, 16 GiB). Refusing the header makes the reader
// fail with "Out of memory", which breaks the connection like any other protocol error.
void* CreateBoundedArray(const redisReadTask* task, int elements) {
  if (elements > kMaxReplyElements) return nullptr;
  return DefaultFunctions().createArray(task, elements);
}

const redisReplyObjectFunctions& BoundedFunctions() {
  static const redisReplyObjectFunctions functions = [] {
    redisReplyObjectFunctions copy = DefaultFunctions();
    copy.createArray = CreateBoundedArray;
    return copy;
  }();
  return functions;
}

// Parses the flat field list of a stream entry ([d, v, e, v, a, v, n, v]).
bool ParseFields(const Reply& fields, DeliveryMessage& message) {
  if (fields.type != Reply::Type::kArray || fields.elements.size() % 2 != 0) return false;
  bool have_d = false, have_a = false, have_n = false, have_p = false, have_c = false;
  auto event = [&message]() -> InlineEvent& {
    if (!message.event) message.event.emplace();
    return *message.event;
  };
  for (size_t i = 0; i + 1 < fields.elements.size(); i += 2) {
    const std::string& name = fields.elements[i].str;
    const std::string& value = fields.elements[i + 1].str;
    if (name == "d") {
      message.delivery_id = value;
      have_d = !value.empty();
    } else if (name == "e") {
      message.event_id = value;
    } else if (name == "a") {
      message.app_id = value;
      have_a = !value.empty();
    } else if (name == "n") {
      have_n = ParsePositiveInt(value, message.attempt);
    } else if (name == "t") {
      event().event_type = value;
    } else if (name == "p") {
      event().payload = value;
      have_p = true;
    } else if (name == "tp") {
      event().traceparent = value;
    } else if (name == "c") {
      int64_t micros = 0;
      have_c = absl::SimpleAtoi(value, &micros);
      event().create_time = absl::FromUnixMicros(micros);
    }
  }
  // An incomplete inline event is ignored: the worker then loads the delivery.
  if (message.event && !(have_p && have_c && !message.event->event_type.empty())) {
    message.event.reset();
  }
  return have_d && have_a && have_n;
}

}  // namespace

bool ParseIntInRange(std::string_view text, int min, int max, int& out) {
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < min ||
      value > max) {
    return false;
  }
  out = value;
  return true;
}

bool ParsePositiveInt(std::string_view text, int& out) {
  return ParseIntInRange(text, 1, std::numeric_limits<int>::max(), out);
}

void ParseStreamEntries(const Reply& list, int partition, std::vector<StreamEntry>& out,
                        std::vector<StreamEntry>& malformed) {
  for (const Reply& item : list.elements) {
    if (item.type != Reply::Type::kArray || item.elements.size() != 2) continue;
    StreamEntry entry;
    entry.partition = partition;
    entry.entry_id = item.elements[0].str;
    if (item.elements[1].is_nil()) continue;
    if (ParseFields(item.elements[1], entry.message)) {
      out.push_back(std::move(entry));
    } else {
      malformed.push_back(std::move(entry));
    }
  }
}

Reply ConvertReply(const redisReply& reply) {
  Reply out;
  switch (reply.type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      out.type = reply.type == REDIS_REPLY_STRING   ? Reply::Type::kString
                 : reply.type == REDIS_REPLY_STATUS ? Reply::Type::kStatus
                                                    : Reply::Type::kError;
      out.str.assign(reply.str, reply.len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::kInteger;
      out.integer = reply.integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::kArray;
      out.elements.reserve(reply.elements);
      for (size_t i = 0; i < reply.elements; ++i) {
        out.elements.push_back(reply.element[i] != nullptr ? ConvertReply(*reply.element[i])
                                                           : Reply{});
      }
      break;
    default:
      break;  // REDIS_REPLY_NIL
  }
  return out;
}

void LimitReplySizes(redisReader* reader) {
  // The table is static and never written: hiredis only reads through the pointer.
  reader->fn = const_cast<redisReplyObjectFunctions*>(&BoundedFunctions());
}

std::vector<Reply> ReadReplies(std::string_view bytes) {
  std::vector<Reply> replies;
  redisReader* reader = redisReaderCreate();
  LimitReplySizes(reader);
  if (redisReaderFeed(reader, bytes.data(), bytes.size()) == REDIS_OK) {
    void* raw = nullptr;
    while (redisReaderGetReply(reader, &raw) == REDIS_OK && raw != nullptr) {
      replies.push_back(ConvertReply(*static_cast<redisReply*>(raw)));
      freeReplyObject(raw);
      raw = nullptr;
    }
  }
  redisReaderFree(reader);
  return replies;
}

}  // namespace hookd::queue
