/** Where an address is, as far as an offline database knows. */
export interface Place { lat: number, lon: number, city?: string, country?: string }
export type Locate = (ip: string) => Place | undefined

export const placeName = (p: Place | undefined): string | undefined =>
  p ? [p.city, p.country].filter(Boolean).join(', ') || undefined : undefined

/** Great-circle distance in km. */
export const distanceKm = (a: Place, b: Place): number => {
  const rad = Math.PI / 180
  const dLat = (b.lat - a.lat) * rad
  const dLon = (b.lon - a.lon) * rad
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2
  return 2 * 6371 * Math.asin(Math.min(1, Math.sqrt(h)))
}

/**
 * `--geoip`: the optional `geoip-lite` package (1.4.x runs on Node 20; it is not a dependency, as its
 * database is large: `npm install geoip-lite@1.4`), loaded only when the flag is on.
 */
export const loadGeoip = async (): Promise<Locate> => {
  const name = 'geoip-lite'
  let mod: { lookup (ip: string): { ll?: [number, number], city?: string, country?: string } | null }
  try {
    const imported = await import(name) as { default?: typeof mod } & typeof mod
    mod = imported.default ?? imported
  } catch {
    throw new Error('--geoip needs the geoip-lite package: npm install geoip-lite@1.4')
  }
  return ip => {
    const r = mod.lookup(ip)
    if (!r?.ll) return undefined
    return { lat: r.ll[0], lon: r.ll[1], city: r.city || undefined, country: r.country || undefined }
  }
}
