import * as Y from 'yjs'
import { draftDocName, sessionDocName } from '../../shared/api.js'
import type { SessionStore, UserRecord } from '../storage/session-store.js'

/** Security events read per page while exporting. */
const EVENT_PAGE = 500
/** Bytes of a document's update per base64 chunk (a multiple of 3: chunks concatenate to one base64 string). */
const BASE64_CHUNK = 3 * 64 * 1024

/**
 * A document's content as JSON: each shared type at the top level by its name. Types are not named
 * in an update, so each is read as what its content shows: keys (a map), text, XML, or a list.
 */
export const docContentJson = (update: Uint8Array): Record<string, unknown> => {
  const doc = new Y.Doc()
  try {
    Y.applyUpdate(doc, update)
    const out: Record<string, unknown> = {}
    for (const [name, type] of [...doc.share.entries()]) {
      const first = type._start?.content
      if (type._map.size > 0 && !type._start) out[name] = doc.getMap(name).toJSON()
      else if (first instanceof Y.ContentString || first instanceof Y.ContentFormat || first instanceof Y.ContentEmbed) out[name] = doc.getText(name).toString()
      else if (first instanceof Y.ContentType) out[name] = doc.getXmlFragment(name).toString()
      else if (type._start) out[name] = doc.getArray(name).toJSON()
      else out[name] = null
    }
    return out
  } finally {
    doc.destroy()
  }
}

/**
 * The account's data as one JSON document, produced in pieces so that it can be streamed: the
 * account, its device sessions, passkeys and security events, and every document it owns (its
 * session document and its drafts), each as JSON (`content`) and as its Yjs update in base64
 * (`update`). One document is held in memory at a time. Never secrets: no password hash, MFA secret,
 * recovery code hashes, refresh token hashes or passkey public keys.
 */
export async function * accountExport (store: SessionStore, readDoc: (name: string) => Promise<Uint8Array>, user: UserRecord, now = Date.now()): AsyncGenerator<string> {
  const account = { id: user.id, email: user.email, createdAt: user.createdAt, mfaEnabled: Boolean(user.mfaSecret) }
  yield `{"format":"sync-account-export/1","exportedAt":${now},"account":${JSON.stringify(account)},"sessions":[`
  const sessions = await store.sessionsOfUser(user.id)
  yield sessions.map(s => JSON.stringify({
    id: s.id, deviceName: s.deviceName, platform: s.platform, userAgent: s.userAgent, createdAt: s.createdAt, lastSeenAt: s.lastSeenAt,
    lastActiveAt: s.lastActiveAt, lastIp: s.lastIp, amr: s.amr, endedAt: s.endedAt, endReason: s.endReason
  })).join(',')
  const passkeys = await store.passkeysOfUser(user.id)
  yield '],"passkeys":' + JSON.stringify(passkeys.map(p => ({ id: p.id, name: p.name, createdAt: p.createdAt, lastUsedAt: p.lastUsedAt, deviceType: p.deviceType, backedUp: p.backedUp })))
  yield ',"securityEvents":['
  let before: string | undefined
  let first = true
  for (;;) {
    const page = await store.securityEvents({ userId: user.id, limit: EVENT_PAGE, ...(before ? { before } : {}) })
    if (page.length === 0) break
    yield (first ? '' : ',') + page.map(e => JSON.stringify(e)).join(',')
    first = false
    before = page[page.length - 1]!.id
    if (page.length < EVENT_PAGE) break
  }
  yield '],"documents":['
  const owned = (await store.docsOfUser(user.id)).filter(d => d.ownerId === user.id)
  const docs = [
    { name: sessionDocName(user.id), kind: 'session' },
    ...owned.map(d => ({ name: draftDocName(d.id), kind: 'draft', id: d.id, title: d.title, createdAt: d.createdAt, updatedAt: d.updatedAt, members: d.members }))
  ]
  for (let i = 0; i < docs.length; i++) {
    const update = await readDoc(docs[i]!.name)
    yield `${i > 0 ? ',' : ''}{${JSON.stringify(docs[i]).slice(1, -1)},"content":${JSON.stringify(docContentJson(update))},"update":"`
    for (let at = 0; at < update.length; at += BASE64_CHUNK) yield Buffer.from(update.buffer, update.byteOffset + at, Math.min(BASE64_CHUNK, update.length - at)).toString('base64')
    yield '"}'
  }
  yield ']}'
}
