import * as Y from 'yjs'

/**
 * The JSON form of a document built from stored updates: each top-level type by name. A document
 * built from updates does not know which kind each top-level type was created as, so the kind is read
 * from its content: keys only → map; a sequence of characters → text; any other sequence → array.
 */
export const docToJson = (doc: Y.Doc): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const [name, type] of [...doc.share.entries()]) {
    const kind = topLevelKind(type)
    if (kind === 'map') out[name] = doc.getMap(name).toJSON()
    else if (kind === 'text') out[name] = doc.getText(name).toString()
    else if (kind === 'array') out[name] = doc.getArray(name).toJSON()
  }
  return out
}

type Shared = NonNullable<ReturnType<Y.Doc['share']['get']>>

const topLevelKind = (type: Shared): 'map' | 'text' | 'array' | 'empty' => {
  if (type instanceof Y.Map) return 'map'
  if (type instanceof Y.Text) return 'text'
  if (type instanceof Y.Array) return 'array'
  let item = type._start
  while (item && item.deleted) item = item.right
  if (item) return item.content instanceof Y.ContentString || item.content instanceof Y.ContentFormat ? 'text' : 'array'
  for (const entry of type._map.values()) if (!entry.deleted) return 'map'
  return 'empty'
}
