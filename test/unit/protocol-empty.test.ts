import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { EMPTY_UPDATE, isEmptyStateVector, isEmptyUpdate } from '../../shared/protocol.js'

describe('the empty encodings in shared/protocol.ts are what Yjs writes', () => {
  it('an empty document encodes to EMPTY_UPDATE, and its state vector counts as empty', () => {
    const empty = new Y.Doc()
    expect(Y.encodeStateAsUpdate(empty)).toEqual(EMPTY_UPDATE)
    expect(isEmptyUpdate(Y.encodeStateAsUpdate(empty))).toBe(true)
    expect(isEmptyStateVector(Y.encodeStateVector(empty))).toBe(true)
    expect(Y.encodeStateVectorFromUpdate(EMPTY_UPDATE)).toEqual(Y.encodeStateVector(empty))
  })

  it('a document holding anything is not empty', () => {
    const doc = new Y.Doc()
    doc.getMap('m').set('k', 1)
    expect(isEmptyUpdate(Y.encodeStateAsUpdate(doc))).toBe(false)
    expect(isEmptyStateVector(Y.encodeStateVector(doc))).toBe(false)
  })
})
