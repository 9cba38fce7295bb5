/** This device's default name and platform for the session dashboard, guessed from the user agent. */
import type { DeviceInfo } from '../../shared/api.js'

const has = (s: string, re: RegExp) => re.test(s)

export const detectPlatform = (ua = navigator.userAgent): string => {
  if (has(ua, /iPhone|iPad|iPod/)) return 'ios'
  if (has(ua, /Android/)) return 'android'
  if (has(ua, /Mac OS X|Macintosh/)) return 'macos'
  if (has(ua, /Windows/)) return 'windows'
  if (has(ua, /CrOS/)) return 'chromeos'
  if (has(ua, /Linux/)) return 'linux'
  return 'web'
}

const browserName = (ua: string): string => {
  if (has(ua, /Edg\//)) return 'Edge'
  if (has(ua, /Firefox\//)) return 'Firefox'
  if (has(ua, /Chrome\/|Chromium\//)) return 'Chrome'
  if (has(ua, /Safari\//)) return 'Safari'
  return 'Browser'
}

const deviceKind: Record<string, string> = {
  ios: 'iPhone', android: 'Android', macos: 'Mac', windows: 'Windows', chromeos: 'Chromebook', linux: 'Linux', web: 'the web'
}

export const isPhonePlatform = (platform: string) => platform === 'ios' || platform === 'android'

export const defaultDevice = (): DeviceInfo => {
  const ua = navigator.userAgent
  const platform = detectPlatform(ua)
  const mobile = has(ua, /Mobi|iPhone|Android/)
  const label = platform === 'ios' && has(ua, /iPad/) ? 'iPad' : deviceKind[platform] ?? 'the web'
  return { name: `${browserName(ua)} on ${label}${mobile && platform === 'android' ? ' phone' : ''}`.slice(0, 64), platform }
}

export const platformIcon = (platform: string): string =>
  isPhonePlatform(platform) ? 'phone' : platform === 'tv' ? 'tv' : platform === 'web' || platform === 'node' ? 'globe' : 'laptop'

const PLATFORM_NAMES: Record<string, string> = {
  ios: 'iOS', android: 'Android', macos: 'macOS', windows: 'Windows', linux: 'Linux', chromeos: 'ChromeOS', web: 'Web', node: 'Node.js', tv: 'TV'
}

/** A platform as people say it: `macos` → macOS. */
export const platformLabel = (platform: string): string => PLATFORM_NAMES[platform] ?? platform

/** "Chrome 131 on Linux" from a raw user agent, for the dashboard's detail line. */
export const describeUserAgent = (ua: string): string => {
  if (!ua) return ''
  const m = ua.match(/(Edg|Firefox|Chrome|Chromium|Version)\/(\d+)/)
  const browser = browserName(ua)
  const version = m?.[2] ? ` ${m[2]}` : ''
  return `${browser}${version} on ${deviceKind[detectPlatform(ua)] ?? 'the web'}`
}
