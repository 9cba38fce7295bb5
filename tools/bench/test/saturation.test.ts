import { describe, expect, it } from 'vitest'
import { failedMost, formatSaturationRatio, medianRun, ratioOf, saturationOf, stepFailures, type StepResult } from '../saturation.js'

const step = (target: string, offered: number, ok: boolean, extra: Partial<StepResult> = {}): StepResult => ({
  target, label: target, offered, ok, flags: ok ? [] : ['p99>=250'], p99: ok ? 20 : 400, lost: 0,
  editsSent: offered * 8, serverCpuSeconds: offered / 2000, p99Runs: [], ...extra
})

const sweep = (rows: StepResult[]) => {
  const sat = saturationOf(rows, ['ours', 'peer'], new Map([['ours', 'ok']]))
  return { sat, ratio: ratioOf(sat[0]!, sat[1]!, rows) }
}

describe('bench saturation', () => {
  const limits = { p99Ms: 250, minDelivered: 0.95, loopFull: 0.95 }
  const fine = { p99: 20, deliveredRatio: 1, lost: 0, loopBusy: 0.5, serverGone: false }

  it('passes a step within every limit, and names each limit a step broke', () => {
    expect(stepFailures(fine, limits)).toEqual([])
    expect(stepFailures({ p99: 250, deliveredRatio: 0.9, lost: 3, loopBusy: 0.99, serverGone: true }, limits))
      .toEqual(['p99>=250', 'delivered 90%', 'loop full 99%', 'lost', 'server gone'])
  })

  it('fails a step whose server loop never idled, even with a low p99 and everything delivered', () => {
    expect(stepFailures({ ...fine, loopBusy: 0.97 }, limits)).toEqual(['loop full 97%'])
    expect(stepFailures({ ...fine, loopBusy: 0.94 }, limits)).toEqual([])
    expect(stepFailures({ ...fine, loopBusy: 0.97 }, { ...limits, loopFull: 2 })).toEqual([])
    expect(stepFailures({ ...fine, loopBusy: NaN }, limits)).toEqual([])
  })

  it('is the highest rate that passed, and flags a failure below it as possible noise', () => {
    const [s] = saturationOf([step('ours', 5000, true), step('ours', 10000, false), step('ours', 15000, true), step('ours', 20000, false)], ['ours'], new Map())
    expect(s!.saturationRate).toBe(15000)
    expect(s!.note).toBe('fails from 20000/s: p99>=250; NOISE? also failed below it at 10000/s (p99>=250)')
    expect(s!.serverCheck).toBe('not run')
  })

  it('is null when nothing passed, and a lower bound when the top rate passed', () => {
    const [none, open] = saturationOf([step('a', 5000, false), step('b', 5000, true), step('b', 10000, true)], ['a', 'b'], new Map())
    expect(none!.saturationRate).toBeNull()
    expect(none!.note).toBe('fails from 5000/s: p99>=250')
    expect(open!.note).toBe('not saturated up to 10000/s (lower bound)')
  })

  it('compares ours with a peer at the highest rate both passed', () => {
    const rows = [step('ours', 5000, true), step('ours', 10000, true), step('ours', 15000, false),
      step('peer', 5000, true, { serverCpuSeconds: 5, p99: 40 }), step('peer', 10000, false)]
    const { ratio } = sweep(rows)
    expect(ratio.saturationRatio).toBe(2)
    expect(ratio.saturationBound).toBe('=')
    expect(formatSaturationRatio(ratio)).toBe('2.00x')
    expect(ratio.commonRate).toBe(5000)
    expect(ratio.cpuPerKiloEditRatio).toBeCloseTo(2.5 / 5)
    expect(ratio.p99Ratio).toBeCloseTo(20 / 40)
  })

  it('bounds the ratio when the peer failed its lowest rate, and compares CPU per edit there', () => {
    const rows = [step('ours', 5000, true), step('ours', 10000, true), step('ours', 15000, false),
      step('peer', 5000, false, { serverCpuSeconds: 7.5 })]
    const { sat, ratio } = sweep(rows)
    expect(sat[1]!.saturationRate).toBeNull()
    expect(ratio.saturationRatio).toBe(2)
    expect(formatSaturationRatio(ratio)).toBe('> 2.00x')
    expect(ratio.commonRate).toBeNull()
    expect(ratio.cpuRate).toBe(5000)
    expect(ratio.cpuPerKiloEditRatio).toBeCloseTo(2.5 / 7.5)
    expect(ratio.p99Ratio).toBeNull()
  })

  it('marks a side that was not saturated at its top rate', () => {
    const oursOpen = sweep([step('ours', 5000, true), step('ours', 10000, true), step('peer', 5000, true), step('peer', 10000, false)]).ratio
    expect(formatSaturationRatio(oursOpen)).toBe('>= 2.00x')
    const peerOpen = sweep([step('ours', 5000, true), step('ours', 10000, false), step('peer', 5000, true)]).ratio
    expect(formatSaturationRatio(peerOpen)).toBe('<= 1.00x')
    const both = sweep([step('ours', 5000, true), step('peer', 5000, true)]).ratio
    expect(formatSaturationRatio(both)).toBe('~ 1.00x')
    const oursFailed = sweep([step('ours', 5000, false), step('peer', 5000, true)]).ratio
    expect(formatSaturationRatio(oursFailed)).toBe('n/a')
  })
})

describe('bench repeats', () => {
  it('stands a step for its median-p99 run, failed by an edit lost in any run', () => {
    const runs = [step('ours', 10000, true, { p99: 30 }), step('ours', 10000, true, { p99: 10, lost: 2 }), step('ours', 10000, true, { p99: 20 })]
    const row = medianRun(runs, 3)
    expect(row.p99).toBe(20)
    expect(row.p99Runs).toEqual([30, 10, 20])
    expect(row.ok).toBe(false)
    expect(row.flags).toEqual(['lost in another run'])
  })

  it('fails a step most of whose runs failed, even when the median run passed', () => {
    const runs = [step('ours', 10000, false, { p99: 300 }), step('ours', 10000, true, { p99: 240 }), step('ours', 10000, false, { p99: 200, flags: ['delivered 90%'] })]
    const row = medianRun(runs, 3)
    expect(row.p99).toBe(240)
    expect(row.ok).toBe(false)
    expect(row.flags).toEqual(['failed in most runs'])
  })

  it('counts most of the planned runs, so one failure of three does not end a step early', () => {
    expect(failedMost([step('ours', 10000, false)], 3)).toBe(false)
    expect(failedMost([step('ours', 10000, false), step('ours', 10000, false)], 3)).toBe(true)
  })
})
