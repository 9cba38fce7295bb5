/**
 * A Backend with no server, for working on the UI alone: `VITE_MOCK=1 npm run dev:demo`. Everything
 * lives in this tab (accounts and drafts in localStorage, documents in memory). Never in a real build:
 * main.ts imports it only when VITE_MOCK is set at build time.
 */
import * as Y from 'yjs'
import { Awareness } from 'y-protocols/awareness'
import { BackendError, DEFAULT_PREFS, type Account, type Backend, type DocInfo, type LastActive, type OpenDoc, type PasskeyInfo, type Preferences, type SessionInfo } from './backend.js'

interface Store { users: Array<{ id: string, email: string, password: string }>, docs: DocInfo[], account: Account | null, prefs: Preferences, last: LastActive | null, playback?: Record<string, number>, passkeys?: PasskeyInfo[] }

export const createMockBackend = (): Backend => {
  const load = (): Store => {
    try { return JSON.parse(localStorage.getItem('tandem.mock') ?? '') as Store } catch { return { users: [], docs: [], account: null, prefs: DEFAULT_PREFS, last: null } }
  }
  const s = load()
  const save = () => localStorage.setItem('tandem.mock', JSON.stringify(s))
  const stateListeners = new Set<() => void>()
  const docs = new Map<string, Y.Doc>()
  const me = () => { if (!s.account) throw new BackendError('session_ended', 'signed out'); return s.account }
  const wait = () => new Promise(r => setTimeout(r, 150))

  const open = async (name: string): Promise<OpenDoc> => {
    let doc = docs.get(name)
    if (!doc) docs.set(name, doc = new Y.Doc())
    const awareness = new Awareness(doc)
    const fake = new Awareness(new Y.Doc())
    fake.setLocalState({ user: { name: 'sam', color: 'hsl(150 70% 40%)', colorLight: 'hsl(150 70% 40% / .2)' }, device: { name: 'Safari on iPhone', platform: 'ios' } })
    awareness.getStates().set(fake.clientID, fake.getLocalState()!)
    return {
      name, doc, awareness,
      status: () => 'synced',
      hasUnsyncedChanges: () => false,
      onChange: () => () => {},
      onAccessChanged: () => () => {},
      close: () => awareness.destroy()
    }
  }

  const sessions = (): SessionInfo[] => [
    { id: me().sessionId, deviceName: me().deviceName, platform: me().platform, userAgent: navigator.userAgent, createdAt: Date.now() - 86400e3, lastSeenAt: Date.now(), lastIp: '127.0.0.1', current: true, online: 1 },
    { id: 's2', deviceName: 'Sam’s iPhone', platform: 'ios', userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Version/17.0 Mobile Safari/604.1', createdAt: Date.now() - 5 * 86400e3, lastSeenAt: Date.now() - 3600e3, lastIp: '192.168.1.24', current: false, online: 0 },
    { id: 's3', deviceName: 'Work laptop', platform: 'windows', userAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0 Safari/537.36', createdAt: Date.now() - 20 * 86400e3, lastSeenAt: Date.now() - 60e3, lastIp: '10.2.3.4', current: false, online: 1 }
  ]

  return {
    async restore () { return s.account },
    async register (email, password) {
      await wait()
      if (s.users.some(u => u.email === email)) throw new BackendError('email_taken', 'taken', 409)
      if (password.length < 10) throw new BackendError('weak_password', 'weak', 400)
      s.users.push({ id: crypto.randomUUID(), email, password }); save()
    },
    async login (email, password, device) {
      await wait()
      const u = s.users.find(x => x.email === email && x.password === password)
      if (!u) throw new BackendError('invalid_credentials', 'no', 401)
      s.account = { userId: u.id, email, sessionId: crypto.randomUUID(), deviceName: device.name, platform: device.platform, mfaEnabled: false }
      save()
      return s.account
    },
    async verifyMfa () { return me() },
    async logout () { s.account = null; save() },
    async changePassword () { await wait() },
    async mfaEnroll () { return { secret: 'JBSWY3DPEHPK3PXPJBSWY3DP', otpauthUri: `otpauth://totp/Tandem:${me().email}?secret=JBSWY3DPEHPK3PXPJBSWY3DP&issuer=Tandem` } },
    async mfaConfirm () { me().mfaEnabled = true; save(); return ['a1b2-c3d4', 'e5f6-g7h8', 'i9j0-k1l2', 'm3n4-o5p6', 'q7r8-s9t0', 'u1v2-w3x4'] },
    async mfaDisable () { me().mfaEnabled = false; save() },
    async stepUp () {},
    async listDevices () { await wait(); return sessions() },
    async revokeDevice () {},
    async revokeOtherDevices () {},
    async pairDevice (device, onCode, signal) {
      const code = 'BCDF-GHJK'
      onCode({ device_code: 'mock', user_code: code, verification_uri: `${location.origin}/device`, verification_uri_complete: `${location.origin}/device?code=${code}`, expires_in: 600, interval: 5 })
      await new Promise((resolve, reject) => { const t = setTimeout(resolve, 8000); signal.addEventListener('abort', () => { clearTimeout(t); reject(signal.reason) }) })
      const u = s.users[0] ?? { id: 'mock-user', email: 'tv@example.com' }
      s.account = { userId: u.id, email: u.email, sessionId: crypto.randomUUID(), deviceName: device.name, platform: device.platform, mfaEnabled: false }
      save()
      return s.account
    },
    async lookupPairing (userCode) {
      await wait()
      return { userCode: userCode.toUpperCase(), device: { name: 'Living room TV', platform: 'tv' }, ip: '192.168.1.40', userAgent: 'Mozilla/5.0 (SMART-TV; Linux; Tizen 7.0)', requestedAt: Date.now() - 30e3, expiresAt: Date.now() + 570e3, sameNetwork: true }
    },
    async approvePairing () { await wait() },
    async denyPairing () { await wait() },
    passkeysSupported: () => false,
    async loginWithPasskey () { throw new BackendError('passkey_unknown', 'no passkeys in the mock') },
    async listPasskeys () { return s.passkeys ?? [] },
    async registerPasskey (name) { const p: PasskeyInfo = { id: crypto.randomUUID(), name: name ?? 'Passkey', createdAt: Date.now(), deviceType: 'multiDevice', backedUp: true }; s.passkeys = [...(s.passkeys ?? []), p]; save(); return p },
    async renamePasskey (id, name) { const p = s.passkeys?.find(x => x.id === id); if (p) p.name = name; save() },
    async removePasskey (id) { s.passkeys = s.passkeys?.filter(x => x.id !== id); save() },
    async stepUpWithPasskey () {},
    async listDrafts () { await wait(); return s.docs.filter(d => d.ownerId === me().userId || d.members?.some(m => m.userId === me().userId)) },
    async getDraft (id) { const d = s.docs.find(x => x.id === id); if (!d) throw new BackendError('not_found', 'no', 404); return d },
    async createDraft (title) {
      const id = crypto.randomUUID().slice(0, 8)
      const d: DocInfo = { id, docName: `draft:${id}`, title, ownerId: me().userId, role: 'owner', createdAt: Date.now(), updatedAt: Date.now(), members: [{ userId: me().userId, email: me().email, role: 'owner' }] }
      s.docs.push(d); save(); return d
    },
    async renameDraft (id, title) { const d = s.docs.find(x => x.id === id)!; d.title = title; d.updatedAt = Date.now(); save(); return d },
    async deleteDraft (id) { s.docs = s.docs.filter(d => d.id !== id); save() },
    async addMember (id, email, role) { const d = s.docs.find(x => x.id === id)!; d.members = [...(d.members ?? []), { userId: email, email, role }]; save() },
    async removeMember (id, userId) { const d = s.docs.find(x => x.id === id)!; d.members = d.members?.filter(m => m.userId !== userId); save() },
    openDoc: open,
    sessionDoc: () => open('session'),
    preferences: () => s.prefs,
    setPreferences (p) { s.prefs = { ...s.prefs, ...p }; save(); for (const fn of stateListeners) fn() },
    lastActive: () => s.last,
    setLastActive (a) { s.last = { ...a, sessionId: 'other', deviceName: 'Safari on iPhone', at: Date.now() }; save() },
    playback: (mediaId) => { const sec = s.playback?.[mediaId]; return sec === undefined ? null : { seconds: sec, at: Date.now() } },
    setPlayback (mediaId, seconds) { s.playback = { ...s.playback, [mediaId]: seconds }; save(); for (const fn of stateListeners) fn() },
    onSessionState (fn) { stateListeners.add(fn); return () => { stateListeners.delete(fn) } },
    onSessionEnded () { return () => {} },
    // The admin page needs a server.
    isAdmin: async () => false,
    admin: () => Promise.reject(new Error('the admin page needs the server'))
  }
}
