/**
 * Platforms as analytics and metrics count them. Devices name their own platform (free text, up to 32
 * characters), so anything unknown is `other`: label values and figure names stay a small fixed set.
 */
export const PLATFORMS = ['web', 'ios', 'android', 'macos', 'windows', 'linux', 'node', 'tv', 'cli'] as const

export const platformOf = (platform: string): string => {
  const p = platform.trim().toLowerCase()
  return (PLATFORMS as readonly string[]).includes(p) ? p : 'other'
}
