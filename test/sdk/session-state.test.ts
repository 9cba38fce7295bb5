import * as Y from 'yjs'
import { describe, expect, it } from 'vitest'
import { SessionState, type PreferenceGuards } from '../../client/index.js'

// The session-state API over two Y.Docs standing for two devices: each edits its own copy, then
// they exchange updates (in both orders), as sync would; both must end up equal, losing nothing.

interface Prefs { theme: 'light' | 'dark', fontSize: number, language: string }
const guards: PreferenceGuards<Prefs> = {
  theme: v => v === 'light' || v === 'dark',
  fontSize: v => typeof v === 'number' && v >= 10 && v <= 32
}

/** A device with its own doc and a clock the test sets. */
const device = (deviceId: string) => {
  const doc = new Y.Doc()
  const clock = { t: 1000 }
  const state = new SessionState<Prefs>(doc, { deviceId, deviceName: `${deviceId}-name`, now: () => clock.t, preferenceGuards: guards })
  return { doc, state, clock }
}

/** Delivers each side's missing updates to the other. */
const sync = (a: Y.Doc, b: Y.Doc) => {
  const toB = Y.encodeStateAsUpdate(a, Y.encodeStateVector(b))
  const toA = Y.encodeStateAsUpdate(b, Y.encodeStateVector(a))
  Y.applyUpdate(b, toB, 'remote')
  Y.applyUpdate(a, toA, 'remote')
}

const pair = () => {
  const a = device('device-a')
  const b = device('device-b')
  return { a, b }
}

describe('session state', () => {
  it('preferences are typed, guarded and default', () => {
    const { a } = pair()
    expect(a.state.getPreference('theme')).toBeUndefined()
    a.state.setPreference('theme', 'dark')
    a.state.setPreference('language', 'pt')
    expect(a.state.getPreference('theme')).toBe('dark')
    expect(a.state.getPreferences({ theme: 'light', fontSize: 16, language: 'en' })).toEqual({ theme: 'dark', fontSize: 16, language: 'pt' })
    // Written by another app version: a value the guard rejects reads as missing.
    a.state.preferences.set('fontSize', 'huge')
    a.state.preferences.set('theme', 'sepia')
    expect(a.state.getPreference('fontSize')).toBeUndefined()
    expect(a.state.getPreferences({ theme: 'light', fontSize: 16, language: 'en' })).toEqual({ theme: 'light', fontSize: 16, language: 'pt' })
    a.state.deletePreference('language')
    expect(a.state.getPreference('language')).toBeUndefined()
  })

  it('concurrent preference edits: different keys both survive, one key converges on one value', () => {
    const { a, b } = pair()
    a.state.setPreferences({ theme: 'dark', fontSize: 20 })
    b.state.setPreferences({ language: 'de', fontSize: 12 })
    sync(a.doc, b.doc)
    expect(a.state.getPreference('theme')).toBe('dark')
    expect(a.state.getPreference('language')).toBe('de')
    expect(a.state.getPreferences({ theme: 'light', fontSize: 16, language: 'en' })).toEqual(b.state.getPreferences({ theme: 'light', fontSize: 16, language: 'en' }))
    expect([12, 20]).toContain(a.state.getPreference('fontSize'))
  })

  it('concurrent task edits: adds on both devices, rename and done on one task, all survive', () => {
    const { a, b } = pair()
    const shared = a.state.addTask('write report')
    sync(a.doc, b.doc)
    a.state.renameTask(shared, 'write the report')
    b.state.setTaskDone(shared, true)
    const onA = a.state.addTask('from a')
    const onB = b.state.addTask('from b')
    sync(a.doc, b.doc)
    expect(a.state.listTasks()).toEqual(b.state.listTasks())
    expect(a.state.listTasks()).toHaveLength(3)
    expect(a.state.listTasks().find(t => t.id === shared)).toEqual({ id: shared, title: 'write the report', done: true })
    expect(a.state.listTasks().map(t => t.id)).toEqual(expect.arrayContaining([onA, onB]))
    // A removal concurrent with a rename: the task is gone on both.
    a.state.removeTask(onB)
    b.state.renameTask(onB, 'renamed meanwhile')
    sync(a.doc, b.doc)
    expect(a.state.listTasks().map(t => t.id)).not.toContain(onB)
    expect(a.state.listTasks()).toEqual(b.state.listTasks())
  })

  it('reordering tasks: a move is one field write, so a concurrent rename and done survive it', () => {
    const { a, b } = pair()
    const [t1, t2, t3] = ['one', 'two', 'three'].map(t => a.state.addTask(t))
    sync(a.doc, b.doc)
    const ids = (s: SessionState<Prefs>) => s.listTasks().map(t => t.id)
    expect(ids(b.state)).toEqual([t1, t2, t3])
    a.state.moveTask(t3!, 0)
    b.state.renameTask(t3!, 'three (renamed)')
    b.state.setTaskDone(t3!, true)
    sync(a.doc, b.doc)
    expect(ids(a.state)).toEqual([t3, t1, t2])
    expect(b.state.listTasks()).toEqual(a.state.listTasks())
    expect(a.state.listTasks()[0]).toEqual({ id: t3, title: 'three (renamed)', done: true })
    // Down one, to the end (clamped), and concurrent moves of one task converge on one place.
    a.state.moveTask(t3!, 1)
    expect(ids(a.state)).toEqual([t1, t3, t2])
    a.state.moveTask(t1!, 99)
    expect(ids(a.state)).toEqual([t3, t2, t1])
    sync(a.doc, b.doc)
    a.state.moveTask(t2!, 0)
    b.state.moveTask(t2!, 2)
    sync(a.doc, b.doc)
    expect(ids(a.state)).toEqual(ids(b.state))
    expect(a.state.listTasks()).toHaveLength(3)
    // Many moves between the same two neighbours keep the order exact (renumbering when needed).
    for (let i = 0; i < 80; i++) a.state.moveTask(ids(a.state)[2]!, 1)
    expect(new Set(ids(a.state)).size).toBe(3)
    const before = ids(a.state)
    a.state.moveTask(before[0]!, 1)
    expect(ids(a.state)).toEqual([before[1], before[0], before[2]])
  })

  it('the recent-documents index merges entries from both devices, newest first', () => {
    const { a, b } = pair()
    a.clock.t = 100
    a.state.upsertDraft({ id: 'd1', docName: 'draft:d1', title: 'One' })
    b.clock.t = 200
    b.state.upsertDraft({ id: 'd2', docName: 'draft:d2', title: 'Two' })
    sync(a.doc, b.doc)
    expect(a.state.listDrafts().map(d => d.id)).toEqual(['d2', 'd1'])
    expect(b.state.listDrafts()).toEqual(a.state.listDrafts())
    b.state.removeDraft('d1')
    sync(a.doc, b.doc)
    expect(a.state.listDrafts().map(d => d.id)).toEqual(['d2'])
  })

  it('playback: the newest position wins whichever device wrote it; a tie picks one winner everywhere', () => {
    const { a, b } = pair()
    a.clock.t = 5000
    a.state.setPlayback('episode-7', 120)
    b.clock.t = 6000
    b.state.setPlayback('episode-7', 300)
    a.state.setPlayback('episode-8', 10)
    sync(a.doc, b.doc)
    expect(a.state.getPlayback('episode-7')).toEqual({ seconds: 300, at: 6000, deviceId: 'device-b', deviceName: 'device-b-name' })
    expect(b.state.getPlayback('episode-7')).toEqual(a.state.getPlayback('episode-7'))
    expect(b.state.getPlayback('episode-8')?.seconds).toBe(10)
    expect(a.state.getPlayback('episode-9')).toBeNull()
    a.clock.t = 7000
    b.clock.t = 7000
    a.state.setPlayback('episode-7', 1)
    b.state.setPlayback('episode-7', 2)
    sync(a.doc, b.doc)
    expect(a.state.getPlayback('episode-7')).toEqual({ seconds: 2, at: 7000, deviceId: 'device-b', deviceName: 'device-b-name' })
    expect(b.state.getPlayback('episode-7')).toEqual(a.state.getPlayback('episode-7'))
  })

  it('continue where you left off: the newest record of another device', () => {
    const { a, b } = pair()
    const c = device('device-c')
    a.clock.t = 100
    a.state.setLastActive('draft:x', { index: 5 })
    c.clock.t = 300
    c.state.setLastActive('draft:z')
    b.clock.t = 200
    b.state.setLastActive('draft:y')
    sync(a.doc, b.doc)
    sync(b.doc, c.doc)
    sync(a.doc, b.doc)
    expect(a.state.continueWhereLeftOff()).toMatchObject({ deviceId: 'device-c', deviceName: 'device-c-name', docName: 'draft:z', at: 300 })
    expect(c.state.continueWhereLeftOff()).toMatchObject({ deviceId: 'device-b', docName: 'draft:y' })
    expect(b.state.getLastActive()).toMatchObject({ deviceId: 'device-b', docName: 'draft:y', cursor: null })
    expect(device('alone').state.continueWhereLeftOff()).toBeNull()
  })

  it('onChange reports local and remote changes once per transaction, until unsubscribed', () => {
    const { a, b } = pair()
    const seen: boolean[] = []
    const off = a.state.onChange(c => seen.push(c.local))
    a.state.setPreferences({ theme: 'dark', fontSize: 18 })
    b.state.addTask('remote')
    sync(a.doc, b.doc)
    a.doc.getText('not-session-state').insert(0, 'ignored')
    expect(seen).toEqual([true, false])
    off()
    a.state.setPreference('language', 'fr')
    expect(seen).toEqual([true, false])
  })

  it('entries of the wrong shape (another app version, a bug elsewhere) are skipped, not thrown on', () => {
    const { a } = pair()
    a.state.drafts.set('bad', { id: 1 })
    a.state.playback.set('episode-1\u0000x', 'nonsense')
    a.state.lastActive.set('other', { deviceId: 'other' })
    a.state.tasks.push([new Y.Map<unknown>([['title', 'no id']])])
    expect(a.state.listDrafts()).toEqual([])
    expect(a.state.getPlayback('episode-1')).toBeNull()
    expect(a.state.continueWhereLeftOff()).toBeNull()
    expect(a.state.listTasks()).toEqual([])
  })
})
