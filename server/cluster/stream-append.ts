import type { Redis } from 'ioredis'

/** Entries up to this size (the fields' bytes) travel in their wake-up; a larger one is read from the stream. */
export const INLINE_ENTRY_BYTES = 64 * 1024

/**
 * Appends one entry to a stream and announces it, in one script (one round trip, atomic):
 * `XADD key MAXLEN ~ maxLen * fields…`, `PEXPIRE key ttlMs` when ttlMs > 0, then a PUBLISH on the
 * channel named like the stream (StreamReader subscribes to it). The message holds the id of the
 * entry before it in the stream ('' when none), the new id and the fields, each as a netstring
 * (`<length>:<bytes>`), so a reader that holds everything up to the previous id takes the entry
 * from the message without reading the stream. Entries are never deleted from a stream's tail (trims
 * remove the oldest), so no entry can lie between the two ids. An entry larger than `inlineBytes`
 * is announced with an empty message: read it from the stream. Returns the entry's id.
 */
const SCRIPT = `
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local prev = last[1] and last[1][1] or ''
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(ARGV, 4))
if tonumber(ARGV[2]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
local parts = { #prev .. ':' .. prev, #id .. ':' .. id }
local size = 0
for i = 4, #ARGV do
  size = size + #ARGV[i]
  parts[#parts + 1] = #ARGV[i] .. ':' .. ARGV[i]
end
if size > tonumber(ARGV[3]) then parts = {} end
redis.call('PUBLISH', KEYS[1], table.concat(parts))
return id
`

type Appender = Redis & { syncStreamAppend: (key: string, maxLen: number, ttlMs: number, inlineBytes: number, ...fields: Array<string | Buffer>) => Promise<string> }

export const appendToStream = (redis: Redis, key: string, maxLen: number, ttlMs: number, fields: Array<string | Buffer>, inlineBytes = INLINE_ENTRY_BYTES): Promise<string> => {
  const r = redis as Appender
  // ioredis sends EVALSHA, and the script itself once when Redis does not have it (a restart, SCRIPT FLUSH).
  if (typeof r.syncStreamAppend !== 'function') redis.defineCommand('syncStreamAppend', { numberOfKeys: 1, lua: SCRIPT })
  return r.syncStreamAppend(key, maxLen, ttlMs, inlineBytes, ...fields)
}

/**
 * An announcement's previous id, entry id and fields; undefined for one without the entry (read the
 * stream). Parsed without decoding the lengths to strings: every node runs this for every update.
 */
export const decodeAnnouncement = (message: Buffer): { prev: string, id: string, fields: Buffer[] } | undefined => {
  const spans: number[] = [] // start, end of each part
  let at = 0
  while (at < message.length) {
    let length = 0
    let i = at
    for (; i < message.length && i - at <= 10; i++) {
      const c = message[i]!
      if (c === 0x3a) break // ':'
      if (c < 0x30 || c > 0x39) return undefined
      length = length * 10 + c - 0x30
    }
    if (i === at || message[i] !== 0x3a) return undefined
    const end = i + 1 + length
    if (end > message.length) return undefined
    spans.push(i + 1, end)
    at = end
  }
  const parts = spans.length / 2
  if (parts < 4 || parts % 2 !== 0) return undefined // an entry has at least one field
  const fields = new Array<Buffer>(parts - 2)
  for (let k = 2; k < parts; k++) fields[k - 2] = message.subarray(spans[2 * k], spans[2 * k + 1])
  return { prev: message.toString('latin1', spans[0], spans[1]), id: message.toString('latin1', spans[2], spans[3]), fields }
}
