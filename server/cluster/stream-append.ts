import type { Redis } from 'ioredis'

/** Entries up to this size (the fields' bytes) travel in their wake-up; a larger one is read from the stream. */
export const INLINE_ENTRY_BYTES = 64 * 1024

/** One entry to append: `fields` are name/value pairs (at least one pair). */
export interface StreamAppend { key: string, maxLen: number, ttlMs: number, fields: Array<string | Buffer> }

/** Entries per script call (a script blocks Redis while it runs). */
export const APPENDS_PER_CALL = 200

/** The hash of a stream's followers: wake-up channel → registration expiry (Redis ms). Doc names cannot hold '#'. */
export const followersKey = (stream: string): string => `${stream}#followers`

/**
 * Appends entries to streams and wakes their followers, in one script (one round trip, atomic). Per
 * entry, in order: `XADD key MAXLEN ~ maxLen * fields…`, `PEXPIRE key ttlMs` when ttlMs > 0; then
 * the entry's record joins the wake-up of every channel registered in the stream's followers hash
 * (an expired registration is removed instead). Each channel then gets one message with its records
 * of the call, in order: one wake-up per reader per call, whatever the number of entries.
 *
 * A record is netstrings (`<length>:<bytes>`): stream key, the id of the entry before it in the
 * stream ('' when none), its id, then either the field count and the fields, or `o` (to `origin`, the
 * appending node's own channel: it has the fields) or `r` (an entry larger than `inlineBytes`: read
 * it from the stream). A reader that holds everything up to the previous id takes the entry from the
 * record without reading the stream. Entries are never deleted from a stream's tail (trims remove the
 * oldest), so no entry can lie between the two ids.
 * Returns the entries' ids, or with `ids` 0 only their count (a reply of one integer).
 * KEYS: per entry, the stream and its followers hash. ARGV: inlineBytes, origin ('' for none), ids
 * (1 or 0), then per entry maxLen, ttlMs, field count, fields.
 */
const SCRIPT = `
local inline = tonumber(ARGV[1])
local origin = ARGV[2]
local wantIds = ARGV[3] == '1'
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out, order, ids = {}, {}, {}
local a = 4
for k = 1, #KEYS, 2 do
  local key = KEYS[k]
  local n = tonumber(ARGV[a + 2])
  local first, last = a + 3, a + 2 + n
  local top = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)
  local prev = top[1] and top[1][1] or ''
  local id = redis.call('XADD', key, 'MAXLEN', '~', ARGV[a], '*', unpack(ARGV, first, last))
  if tonumber(ARGV[a + 1]) > 0 then redis.call('PEXPIRE', key, ARGV[a + 1]) end
  ids[#ids + 1] = id
  local followers = redis.call('HGETALL', KEYS[k + 1])
  if #followers > 0 then
    local head = #key .. ':' .. key .. #prev .. ':' .. prev .. #id .. ':' .. id
    local full
    for i = 1, #followers, 2 do
      local channel = followers[i]
      if tonumber(followers[i + 1]) < now then
        redis.call('HDEL', KEYS[k + 1], channel)
      else
        local record
        if channel == origin then
          record = head .. '1:o'
        else
          if not full then
            local size = 0
            for j = first, last do size = size + #ARGV[j] end
            if size > inline then
              full = head .. '1:r'
            else
              local parts = { head, #tostring(n) .. ':' .. n }
              for j = first, last do parts[#parts + 1] = #ARGV[j] .. ':' .. ARGV[j] end
              full = table.concat(parts)
            end
          end
          record = full
        end
        local list = out[channel]
        if not list then
          list = {}
          out[channel] = list
          order[#order + 1] = channel
        end
        list[#list + 1] = record
      end
    end
  end
  a = last + 1
end
for _, channel in ipairs(order) do redis.call('PUBLISH', channel, table.concat(out[channel])) end
if wantIds then return ids end
return #ids
`

/**
 * Registers `channel` as a follower of each stream in `keys` (their followers hashes) until `ttlMs`
 * from now by Redis's clock; the hash itself expires then too unless registered again.
 * KEYS: followers hashes. ARGV: channel, ttlMs.
 */
const REGISTER = `
local t = redis.call('TIME')
local expires = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[2])
for k = 1, #KEYS do
  redis.call('HSET', KEYS[k], ARGV[1], expires)
  redis.call('PEXPIRE', KEYS[k], ARGV[2])
end
return #KEYS
`

type Scripted = Redis & {
  syncStreamAppend: (keys: number, ...args: Array<string | number | Buffer>) => Promise<string[] | number>
  syncStreamFollow: (keys: number, ...args: Array<string | number>) => Promise<number>
}

/** The connection with the scripts defined (ioredis sends EVALSHA, and the script once when Redis lacks it). */
const scripted = (redis: Redis): Scripted => {
  const r = redis as Scripted
  if (typeof r.syncStreamAppend !== 'function') redis.defineCommand('syncStreamAppend', { lua: SCRIPT })
  if (typeof r.syncStreamFollow !== 'function') redis.defineCommand('syncStreamFollow', { lua: REGISTER })
  return r
}

export interface AppendOptions {
  /** The appending node's own wake-up channel: its record carries no fields (`o`). */
  origin?: string
  inlineBytes?: number
  /** false: resolve with no ids (Redis answers with a count only). */
  ids?: boolean
}

/** Appends `appends` in order (APPENDS_PER_CALL per script call); resolves with their ids (none with `ids: false`). */
export const appendToStreams = async (redis: Redis, appends: StreamAppend[], opts: AppendOptions = {}): Promise<string[]> => {
  const r = scripted(redis)
  const calls: Array<Promise<string[] | number>> = []
  for (let i = 0; i < appends.length; i += APPENDS_PER_CALL) {
    const chunk = appends.slice(i, i + APPENDS_PER_CALL)
    const args: Array<string | number | Buffer> = []
    for (const e of chunk) args.push(e.key, followersKey(e.key))
    args.push(opts.inlineBytes ?? INLINE_ENTRY_BYTES, opts.origin ?? '', opts.ids === false ? 0 : 1)
    for (const e of chunk) args.push(e.maxLen, e.ttlMs, e.fields.length, ...e.fields)
    calls.push(r.syncStreamAppend(chunk.length * 2, ...args))
  }
  return (await Promise.all(calls)).flatMap(ids => typeof ids === 'number' ? [] : ids)
}

/** Appends one entry (see appendToStreams); resolves with its id. */
export const appendToStream = async (redis: Redis, key: string, maxLen: number, ttlMs: number, fields: Array<string | Buffer>, opts: AppendOptions = {}): Promise<string> =>
  (await appendToStreams(redis, [{ key, maxLen, ttlMs, fields }], opts))[0]!

/** Registers `channel` as a follower of `keys` for `ttlMs` (see REGISTER). */
export const registerFollower = async (redis: Redis, channel: string, keys: string[], ttlMs: number): Promise<void> => {
  if (keys.length === 0) return
  await scripted(redis).syncStreamFollow(keys.length, ...keys.map(followersKey), channel, ttlMs)
}

/** Removes `channel` from the followers of `key`. */
export const unregisterFollower = async (redis: Redis, channel: string, key: string): Promise<void> => {
  await redis.hdel(followersKey(key), channel)
}

/**
 * One record of a wake-up: the stream, the previous id and the entry's id, and its fields, or
 * 'own' (the reader's node appended it) or 'read' (too large to travel: read the stream).
 */
export interface WakeRecord { key: string, prev: string, id: string, fields: Buffer[] | 'own' | 'read' }

/**
 * The netstring at `at` in `message`: its bytes' start, and its end (where the next begins); -1 for
 * a malformed one.
 */
const netstring = (message: Buffer, at: number): [number, number] => {
  let length = 0
  let i = at
  for (; i < message.length && i - at <= 10; i++) {
    const c = message[i]!
    if (c === 0x3a) break // ':'
    if (c < 0x30 || c > 0x39) return [-1, -1]
    length = length * 10 + c - 0x30
  }
  const end = i + 1 + length
  return i === at || message[i] !== 0x3a || end > message.length ? [-1, -1] : [i + 1, end]
}

/**
 * The records of a wake-up message, in order; undefined for a malformed message (read every followed
 * stream instead). Parsed without decoding lengths to strings: every node runs this for every update.
 */
export const decodeWakeup = (message: Buffer): WakeRecord[] | undefined => {
  const records: WakeRecord[] = []
  let at = 0
  while (at < message.length) {
    const [keyStart, keyEnd] = netstring(message, at)
    if (keyStart < 0) return undefined
    const [prevStart, prevEnd] = netstring(message, keyEnd)
    if (prevStart < 0) return undefined
    const [idStart, idEnd] = netstring(message, prevEnd)
    if (idStart < 0) return undefined
    const [kindStart, kindEnd] = netstring(message, idEnd)
    if (kindStart < 0) return undefined
    at = kindEnd
    const record: WakeRecord = { key: message.toString('latin1', keyStart, keyEnd), prev: message.toString('latin1', prevStart, prevEnd), id: message.toString('latin1', idStart, idEnd), fields: 'read' }
    const kind = kindEnd - kindStart === 1 ? message[kindStart] : undefined
    if (kind === 0x6f) { // 'o'
      record.fields = 'own'
    } else if (kind !== 0x72) { // not 'r': a field count
      const count = Number(message.toString('latin1', kindStart, kindEnd))
      if (!Number.isSafeInteger(count) || count < 2 || count % 2 !== 0) return undefined
      const fields = new Array<Buffer>(count)
      for (let f = 0; f < count; f++) {
        const [start, end] = netstring(message, at)
        if (start < 0) return undefined
        fields[f] = message.subarray(start, end)
        at = end
      }
      record.fields = fields
    }
    records.push(record)
  }
  return records
}
