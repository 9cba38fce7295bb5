import type { Signal } from '../signal.js'

/** A rotated refresh token came back: a copy of it exists (identity has ended its session). */
export const refreshReuse: Signal = {
  name: 'refresh_reuse',
  triggers: ['refresh_reuse'],
  async check () { return { signal: 'refresh_reuse', score: 80 } }
}
