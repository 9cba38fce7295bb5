import type { Redis } from 'ioredis'
import type { Logger } from '../observe/logger.js'

/** Called with each entry's fields as name/value pairs, in stream order. */
export type StreamEntryHandler = (fields: Buffer[]) => void

interface Reading { lastId: string, handle: StreamEntryHandler }

const BLOCK_MS = 5000
const COUNT = 1000
const RETRY_MS = 500

/**
 * One blocking XREAD connection for every stream this node follows (documents it holds, session
 * events). Each stream is read from the last id seen. Adding or removing a stream interrupts the
 * blocked read (CLIENT UNBLOCK from `control`), so a new stream is read at once.
 */
export class StreamReader {
  private readonly streams = new Map<string, Reading>()
  private readerId: number | null = null
  private blocked = false
  private stopped = false
  private wake: (() => void) | null = null
  private readonly loop: Promise<void>

  constructor (private readonly reader: Redis, private readonly control: Redis, private readonly logger: Logger) {
    reader.on('ready', () => { this.readerId = null })
    this.loop = this.run()
  }

  /** Follow `key` from after `fromId`; replaces an earlier follow of the same key. */
  follow (key: string, fromId: string, handle: StreamEntryHandler): void {
    this.streams.set(key, { lastId: fromId, handle })
    this.changed()
  }

  /** The id of the last entry read from `key` (or where its follow started); undefined when not followed. */
  position (key: string): string | undefined { return this.streams.get(key)?.lastId }

  unfollow (key: string): void {
    if (this.streams.delete(key)) this.changed()
  }

  async close (): Promise<void> {
    this.stopped = true
    this.changed()
    await this.loop
  }

  private changed (): void {
    this.wake?.()
    if (this.blocked && this.readerId !== null) {
      void this.control.client('UNBLOCK', this.readerId).catch(() => {})
    }
  }

  private async run (): Promise<void> {
    while (!this.stopped) {
      if (this.streams.size === 0) {
        await new Promise<void>(resolve => { this.wake = resolve })
        this.wake = null
        continue
      }
      try {
        this.readerId ??= Number(await this.reader.client('ID'))
        const keys = [...this.streams.keys()]
        const ids = keys.map(k => this.streams.get(k)!.lastId)
        this.blocked = true
        const reply = await this.reader.callBuffer('XREAD', ['COUNT', COUNT, 'BLOCK', BLOCK_MS, 'STREAMS', ...keys, ...ids]) as Array<[Buffer, Array<[Buffer, Buffer[]]>]> | null
        this.blocked = false
        for (const [key, entries] of reply ?? []) {
          const reading = this.streams.get(key.toString())
          if (!reading) continue
          for (const [id, fields] of entries) {
            reading.lastId = id.toString()
            try {
              reading.handle(fields)
            } catch (err) {
              this.logger.error({ stream: key.toString(), err: (err as Error).message }, 'could not apply a stream entry; skipped it')
            }
          }
        }
      } catch (err) {
        this.blocked = false
        if (this.stopped) break
        this.logger.error({ err: (err as Error).message }, 'reading Redis streams failed; retrying')
        await new Promise(resolve => setTimeout(resolve, RETRY_MS))
      }
    }
  }
}

/** The value of field `name` in an entry's name/value pairs. */
export const field = (fields: Buffer[], name: string): Buffer | undefined => {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i]!.toString() === name) return fields[i + 1]
  return undefined
}
