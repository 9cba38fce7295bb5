/**
 * The wire protocol, defined once and shared by server, client SDK and load tool.
 *
 * Messages are the y-websocket protocol: `[messageType: varUint, ...payload]`. Types 0–3 are the
 * stock y-websocket ones (y-protocols); types from 100 up are this server's own extensions, which a
 * stock client never sends. The server sends them only to a client that asked (`?ext=1`, or by sending
 * a reauth): a stock client logs "Unable to compute message" for every type it does not know.
 */
import * as encoding from 'lib0/encoding'
import * as decoding from 'lib0/decoding'

export const MessageType = {
  sync: 0,
  awareness: 1,
  auth: 2,
  queryAwareness: 3,
  /** Client → server: `[100, accessToken: varString]` re-authenticates a live socket in-band. */
  reauth: 100,
  /** Server → client: `[101, expiresAtMs: varUint]` the socket's (new) authentication expiry. */
  authExpiry: 101,
  /**
   * Server → client, on the user's session document only: `[102, json: varString]`, a
   * `SecurityAlertMessage` (shared/api.ts): a new security alert, or one resolved on another device.
   */
  securityAlert: 102
} as const

/** Query parameter on the sync URL: `?ext=1` asks for the server's extension messages (authExpiry). */
export const EXTENSIONS_PARAM = 'ext'

/** Sub-types of a `sync` message (y-protocols/sync). */
export const SyncType = { step1: 0, step2: 1, update: 2 } as const

/** Sub-types of an `auth` message (y-protocols/auth). */
export const AuthType = { permissionDenied: 0 } as const

/**
 * WebSocket close codes the server uses. Clients act on them: 4401 → refresh the token and reconnect,
 * 4403 → stop (the device session ended), anything else → reconnect with backoff.
 */
export const CloseCode = {
  /** Server shutting down; reconnect later. */
  goingAway: 1001,
  /** Malformed message: bad varint, unknown message type, undecodable or inapplicable Yjs update. */
  badMessage: 4400,
  /** The socket's access token expired and was not renewed in-band; refresh and reconnect. */
  tokenExpired: 4401,
  /** The device session ended (logout, revocation, refresh reuse, password change, expiry). Do not retry. */
  sessionEnded: 4403,
  /**
   * The user's access to this document changed (removed from a shared draft, downgraded to viewer, or
   * the draft was deleted). Reconnect with backoff: the upgrade then answers with the new rights or 403.
   */
  accessChanged: 4409,
  /** Document name fails validation (charset, length). */
  invalidDocName: 4404,
  /** The client did not read fast enough: its send buffer passed the configured limit. */
  slowConsumer: 4408,
  /**
   * A message (one frame, or its fragments together) exceeded the configured maximum size: RFC 6455's
   * "message too big", sent by the frame layer before the message is read. Do not resend it as is.
   */
  messageTooLarge: 1009,
  /** The document could not be loaded from storage. */
  internalError: 4500
} as const
export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode]

/**
 * The reason text of close 4403, machine-readable: `device session ended: <reason>` where `<reason>`
 * is a SessionEndReason of shared/api.ts (`expired_idle`, `signed_out_elsewhere`, …), followed by
 * ` +wipe` when the device is to delete its local data.
 */
export const sessionEndedCloseReason = (reason: string, wipe = false): string => `device session ended: ${reason}${wipe ? ' +wipe' : ''}`
export const parseSessionEndedCloseReason = (text: string): { reason: string, wipe: boolean } | null => {
  const m = /^device session ended: ([a-z_]+)( \+wipe)?$/.exec(text)
  return m ? { reason: m[1]!, wipe: m[2] !== undefined } : null
}

/** A close frame's payload is at most 125 bytes: the 2-byte code and a reason of up to 123. */
const MAX_CLOSE_REASON_BYTES = 123

/**
 * `reason` cut to fit a close frame, on a character boundary (a reason cut inside a character would
 * not be UTF-8, and the peer would fail the connection with 1007 instead of reading the code).
 */
export const fitCloseReason = (reason: string): string => {
  const bytes = new TextEncoder().encode(reason)
  if (bytes.length <= MAX_CLOSE_REASON_BYTES) return reason
  let end = MAX_CLOSE_REASON_BYTES
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end-- // back off continuation bytes to a character start
  return new TextDecoder().decode(bytes.subarray(0, end))
}

/**
 * Document names: 1–128 characters of `A–Z a–z 0–9 . _ : -`, starting with a letter or digit.
 * `:` lets namespaces such as `session:<userId>` and `draft:<id>` share one flat key space; `!` is
 * deliberately excluded because storage uses it as its key separator.
 */
export const DOC_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/
export const isValidDocName = (name: string): boolean => DOC_NAME_PATTERN.test(name)

/** Path prefix under which documents are served: `/sync/<docName>`. */
export const SYNC_PATH_PREFIX = '/sync/'

/**
 * `error` of the JSON body of an upgrade refused before any socket opens (the HTTP status says the
 * rest). An authentication refusal carries the HTTP API's error code instead (shared/api.ts).
 */
export const UpgradeRefusal = {
  /** Not a valid WebSocket opening handshake (400, 405, 426). */
  badHandshake: 'bad_handshake',
  /** Not `/sync/<docName>` (404). */
  notFound: 'not_found',
  /** A browser page of an origin that is neither the server's own nor listed in `--cors-origins` (403). */
  originNotAllowed: 'origin_not_allowed',
  /** The server is shutting down (503). */
  shuttingDown: 'shutting_down',
  /** The authenticate hook failed (500). */
  internal: 'internal'
} as const

export const encodeSyncStep1 = (stateVector: Uint8Array): Uint8Array => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, MessageType.sync)
  encoding.writeVarUint(e, SyncType.step1)
  encoding.writeVarUint8Array(e, stateVector)
  return encoding.toUint8Array(e)
}

export const encodeSyncStep2 = (update: Uint8Array): Uint8Array => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, MessageType.sync)
  encoding.writeVarUint(e, SyncType.step2)
  encoding.writeVarUint8Array(e, update)
  return encoding.toUint8Array(e)
}

/** A sync update frame: the two message type bytes, the update's length as a varUint, the update; one allocation. */
export const encodeUpdate = (update: Uint8Array): Uint8Array => {
  let header = 3
  for (let n = update.byteLength; n > 0x7f; n = Math.floor(n / 128)) header++
  const frame = new Uint8Array(header + update.byteLength)
  frame[0] = MessageType.sync
  frame[1] = SyncType.update
  let at = 2
  let n = update.byteLength
  for (; n > 0x7f; n = Math.floor(n / 128)) frame[at++] = 0x80 | (n & 0x7f)
  frame[at] = n
  frame.set(update, header)
  return frame
}

export const encodeAwareness = (awarenessUpdate: Uint8Array): Uint8Array => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, MessageType.awareness)
  encoding.writeVarUint8Array(e, awarenessUpdate)
  return encoding.toUint8Array(e)
}

export const encodeQueryAwareness = (): Uint8Array => Uint8Array.of(MessageType.queryAwareness)

export const encodeReauth = (accessToken: string): Uint8Array => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, MessageType.reauth)
  encoding.writeVarString(e, accessToken)
  return encoding.toUint8Array(e)
}

export const encodeAuthExpiry = (expiresAtMs: number): Uint8Array => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, MessageType.authExpiry)
  encoding.writeVarUint(e, expiresAtMs)
  return encoding.toUint8Array(e)
}

export const encodeSecurityAlert = (json: string): Uint8Array => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, MessageType.securityAlert)
  encoding.writeVarString(e, json)
  return encoding.toUint8Array(e)
}

export const encodePermissionDenied = (reason: string): Uint8Array => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, MessageType.auth)
  encoding.writeVarUint(e, AuthType.permissionDenied)
  encoding.writeVarString(e, reason)
  return encoding.toUint8Array(e)
}

/** Yjs's v1 encoding of an update that changes nothing: no structs, an empty delete set. */
export const EMPTY_UPDATE: Uint8Array = Uint8Array.of(0, 0)
export const isEmptyUpdate = (u: Uint8Array): boolean => u.length === 2 && u[0] === 0 && u[1] === 0
/** Yjs's encoding of the state vector of an empty document (a device that holds nothing yet). */
export const isEmptyStateVector = (sv: Uint8Array): boolean => sv.length === 1 && sv[0] === 0

/** One decoded incoming message. Payloads are views into the received buffer (no copy). */
export type Message =
  | { type: typeof MessageType.sync; syncType: number; payload: Uint8Array }
  | { type: typeof MessageType.awareness; payload: Uint8Array }
  | { type: typeof MessageType.auth; authType: number; reason: string }
  | { type: typeof MessageType.queryAwareness }
  | { type: typeof MessageType.reauth; token: string }
  | { type: typeof MessageType.authExpiry; expiresAt: number }
  | { type: typeof MessageType.securityAlert; json: string }

export class ProtocolError extends Error {}

/**
 * Decode one message, once. Throws ProtocolError for unknown types, truncated varints or trailing
 * garbage, so that a malformed frame is rejected before it touches a document.
 */
export const decodeMessage = (data: Uint8Array): Message => {
  const d = decoding.createDecoder(data)
  let msg: Message
  try {
    const type = decoding.readVarUint(d)
    switch (type) {
      case MessageType.sync: {
        const syncType = decoding.readVarUint(d)
        if (syncType > SyncType.update) throw new ProtocolError(`unknown sync message type ${syncType}`)
        msg = { type, syncType, payload: decoding.readVarUint8Array(d) }
        break
      }
      case MessageType.awareness:
        msg = { type, payload: decoding.readVarUint8Array(d) }
        break
      case MessageType.auth:
        msg = { type, authType: decoding.readVarUint(d), reason: decoding.readVarString(d) }
        break
      case MessageType.queryAwareness:
        msg = { type }
        break
      case MessageType.reauth:
        msg = { type, token: decoding.readVarString(d) }
        break
      case MessageType.authExpiry:
        msg = { type, expiresAt: decoding.readVarUint(d) }
        break
      case MessageType.securityAlert:
        msg = { type, json: decoding.readVarString(d) }
        break
      default:
        throw new ProtocolError(`unknown message type ${type}`)
    }
  } catch (err) {
    if (err instanceof ProtocolError) throw err
    throw new ProtocolError(`malformed message: ${(err as Error).message}`)
  }
  // lib0 reads past the end without throwing in some paths; a length mismatch is malformed too.
  if (d.pos !== data.length) throw new ProtocolError('malformed message: length mismatch')
  return msg
}

/** The subprotocol the server selects. Browsers require the server to pick one of those offered. */
export const SYNC_SUBPROTOCOL = 'y-websocket'
/**
 * An access token can travel as a `Sec-WebSocket-Protocol` entry `access_token.<jwt>` (offered
 * together with `y-websocket`), or as the `token` query parameter (the stock provider's `params`).
 */
export const TOKEN_SUBPROTOCOL_PREFIX = 'access_token.'
export const TOKEN_QUERY_PARAM = 'token'
