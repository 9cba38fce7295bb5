import type { Redis } from 'ioredis'

/** Entries up to this size (the fields' bytes) travel in their wake-up; a larger one is read from the stream. */
export const INLINE_ENTRY_BYTES = 64 * 1024

/** One entry to append: `fields` are name/value pairs (at least one pair). */
export interface StreamAppend { key: string, maxLen: number, ttlMs: number, fields: Array<string | Buffer> }

/** Entries per script call (a script blocks Redis while it runs). */
export const APPENDS_PER_CALL = 200

/**
 * Appends entries to streams and announces each, in one script (one round trip, atomic), per entry in
 * order: `XADD key MAXLEN ~ maxLen * fields…`, `PEXPIRE key ttlMs` when ttlMs > 0, then a PUBLISH on
 * the channel named like the stream (StreamReader subscribes to it). The message holds the id of the
 * entry before it in the stream ('' when none), the new id and the fields, each as a netstring
 * (`<length>:<bytes>`), so a reader that holds everything up to the previous id takes the entry
 * from the message without reading the stream. Entries are never deleted from a stream's tail (trims
 * remove the oldest), so no entry can lie between the two ids. An entry larger than `inlineBytes`
 * is announced with an empty message: read it from the stream.
 * KEYS: one stream per entry. ARGV: inlineBytes, then per entry maxLen, ttlMs, field count, fields.
 */
const SCRIPT = `
local inline = tonumber(ARGV[1])
local a = 2
local ids = {}
for k = 1, #KEYS do
  local key = KEYS[k]
  local first = a + 3
  local last = a + 2 + tonumber(ARGV[a + 2])
  local top = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)
  local prev = top[1] and top[1][1] or ''
  local id = redis.call('XADD', key, 'MAXLEN', '~', ARGV[a], '*', unpack(ARGV, first, last))
  if tonumber(ARGV[a + 1]) > 0 then redis.call('PEXPIRE', key, ARGV[a + 1]) end
  local parts = { #prev .. ':' .. prev, #id .. ':' .. id }
  local size = 0
  for i = first, last do
    size = size + #ARGV[i]
    parts[#parts + 1] = #ARGV[i] .. ':' .. ARGV[i]
  end
  if size > inline then parts = {} end
  redis.call('PUBLISH', key, table.concat(parts))
  ids[k] = id
  a = last + 1
end
return ids
`

type Appender = Redis & { syncStreamAppend: (keys: number, ...args: Array<string | number | Buffer>) => Promise<string[]> }

/**
 * Appends `appends` in order (APPENDS_PER_CALL per script call; the calls of one turn go out in one
 * write on an auto-pipelining connection); resolves with their ids.
 */
export const appendToStreams = async (redis: Redis, appends: StreamAppend[], inlineBytes = INLINE_ENTRY_BYTES): Promise<string[]> => {
  const r = redis as Appender
  // ioredis sends EVALSHA, and the script itself once when Redis does not have it (a restart, SCRIPT FLUSH).
  if (typeof r.syncStreamAppend !== 'function') redis.defineCommand('syncStreamAppend', { lua: SCRIPT })
  const calls: Array<Promise<string[]>> = []
  for (let i = 0; i < appends.length; i += APPENDS_PER_CALL) {
    const chunk = appends.slice(i, i + APPENDS_PER_CALL)
    const args: Array<string | number | Buffer> = chunk.map(e => e.key)
    args.push(inlineBytes)
    for (const e of chunk) args.push(e.maxLen, e.ttlMs, e.fields.length, ...e.fields)
    calls.push(r.syncStreamAppend(chunk.length, ...args))
  }
  return (await Promise.all(calls)).flat()
}

/** Appends one entry (see appendToStreams); resolves with its id. */
export const appendToStream = async (redis: Redis, key: string, maxLen: number, ttlMs: number, fields: Array<string | Buffer>, inlineBytes = INLINE_ENTRY_BYTES): Promise<string> =>
  (await appendToStreams(redis, [{ key, maxLen, ttlMs, fields }], inlineBytes))[0]!

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
