#pragma once

// Reading Redis replies: the limits of hiredis's reader, copying its replies into Reply, and
// stream entries out of those. Apart from RedisConnection and DeliveryQueue so that the fuzz
// harness (stream_reply_fuzz.cc) runs the same code on arbitrary bytes.

#include <string_view>
#include <vector>

#include "hookd/queue/delivery_queue.h"
#include "hookd/queue/redis_connection.h"

struct redisReply;
struct redisReader;

namespace hookd::queue {

// Whether `text` is a decimal integer in [min, max] without '+' or blanks; sets `out` if so.
bool ParseIntInRange(std::string_view text, int min, int max, int& out);

// Whether `text` is a decimal integer of at least 1 without sign or blanks; sets `out` if so.
bool ParsePositiveInt(std::string_view text, int& out);

// Parses a list of [id, fields] entries of `partition`, as XREADGROUP and XAUTOCLAIM return
// them, into `out`; entries that do not parse go to `malformed`. Entries deleted while pending
// come back as nil (Redis 6.2) and are skipped.
void ParseStreamEntries(const Reply& list, int partition, std::vector<StreamEntry>& out,
                        std::vector<StreamEntry>& malformed);

// A hiredis reply copied into a Reply.
Reply ConvertReply(const redisReply& reply);

// The most elements one array of a reply may claim. The largest hookd reads are a few thousand
// stream entries; a server claiming more is broken or hostile.
inline constexpr int kMaxReplyElements = 1 << 20;

// Makes `reader` refuse an array header claiming more than kMaxReplyElements elements (hiredis
// would allocate them all at once) with a protocol error, instead of hiredis's defaults.
void LimitReplySizes(redisReader* reader);

// The whole replies at the start of `bytes`, read as a RedisConnection reads them (with
// LimitReplySizes), up to a protocol error or an incomplete reply.
std::vector<Reply> ReadReplies(std::string_view bytes);

}  // namespace hookd::queue
