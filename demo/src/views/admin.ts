/**
 * The admin page (`/admin`, admins only): deployment analytics as charts, user search, a user's
 * device sessions with force logout, disable/enable, and security events. Everything goes through the
 * admin API (docs/identity.md#admin-role), whose calls are audited.
 */
import { ArcElement, BarController, BarElement, CategoryScale, Chart, DoughnutController, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip, type ChartConfiguration } from 'chart.js'
import type { AdminSessionInfo, AdminSessionListResponse, AdminUserInfo, AdminUserListResponse, AnalyticsDay, AnalyticsResponse, SecurityEventInfo, SecurityEventListResponse } from '../../../shared/api.js'
import { h, icon, clear, toast, confirmDialog, relativeTime } from '../dom.js'
import type { Ctx } from '../app.js'
import { friendlyError } from '../backend.js'
import { platformLabel } from '../device.js'
import { withStepUp } from './devices.js'

Chart.register(LineController, LineElement, PointElement, BarController, BarElement, DoughnutController, ArcElement, CategoryScale, LinearScale, Legend, Tooltip)

const COLORS = ['#6c5ce7', '#00b894', '#e17055', '#0984e3', '#fdcb6e', '#e84393', '#636e72', '#00cec9', '#d63031', '#a29bfe']

/** Marks a chart's canvas once drawn, with the sum of its data (what tests and people can check). */
const renderedMark = { id: 'renderedMark', afterRender: (chart: Chart) => { chart.canvas.dataset.rendered = 'true' } }

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0)
const minutes = (ms: number) => ms ? `${Math.round(ms / 60_000)} min` : '–'

export const adminPage = (ctx: Ctx) => {
  const b = ctx.backend
  const charts = new Map<string, Chart>()
  let destroyed = false

  // ----------------------------------------------------------------------------- analytics
  const range = h('select', { class: 'input', 'aria-label': 'Days shown', 'data-testid': 'admin-range', onchange: () => void loadAnalytics() },
    h('option', { value: '7' }, 'Last 7 days'), h('option', { value: '30', selected: true }, 'Last 30 days'), h('option', { value: '90' }, 'Last 90 days'))
  const stats = h('div', { class: 'admin-stats', 'data-testid': 'admin-stats' })
  const chartBox = (id: string, title: string) => {
    const canvas = h('canvas', { 'data-testid': `chart-${id}`, role: 'img', 'aria-label': title })
    return { canvas, el: h('section', { class: 'card admin-chart' }, h('h3', null, title), h('div', { class: 'admin-chart-area' }, canvas)) }
  }
  const boxes = {
    active: chartBox('active', 'Active users'),
    sessions: chartBox('sessions', 'Device sessions started and ended'),
    platforms: chartBox('platforms', 'Platforms of new sessions'),
    usage: chartBox('usage', 'Edits per session, devices per user, hand-offs')
  }

  const draw = (key: string, config: ChartConfiguration, total: number) => {
    const box = boxes[key as keyof typeof boxes]
    box.canvas.dataset.total = String(total)
    const existing = charts.get(key)
    if (existing) {
      existing.data = config.data
      existing.update()
      return
    }
    charts.set(key, new Chart(box.canvas, { ...config, plugins: [renderedMark], options: { responsive: true, maintainAspectRatio: false, animation: false, ...config.options } }))
  }

  const renderAnalytics = (days: AnalyticsDay[]) => {
    const labels = days.map(d => d.date.slice(5))
    const last = days.at(-1)
    const ended = sum(days.map(d => d.sessionsEnded))
    const avg = ended ? sum(days.map(d => d.avgSessionMs * d.sessionsEnded)) / ended : 0
    clear(stats)
    const stat = (label: string, value: string | number, testid: string) => h('div', { class: 'card admin-stat', 'data-testid': testid }, h('div', { class: 'value' }, String(value)), h('div', { class: 'muted small' }, label))
    stats.append(
      stat('active users today', last?.activeUsers ?? 0, 'stat-dau'),
      stat('active users, 7 days', last?.weeklyActiveUsers ?? 0, 'stat-wau'),
      stat('active users, 30 days', last?.monthlyActiveUsers ?? 0, 'stat-mau'),
      stat('sessions started', sum(days.map(d => d.sessionsStarted)), 'stat-started'),
      stat('average session', minutes(avg), 'stat-duration'),
      stat('hand-offs', sum(days.map(d => d.handoffs)), 'stat-handoffs'))
    draw('active', {
      type: 'line',
      data: {
        labels,
        datasets: [
          { label: 'daily', data: days.map(d => d.activeUsers), borderColor: COLORS[0], backgroundColor: COLORS[0] },
          { label: 'weekly', data: days.map(d => d.weeklyActiveUsers), borderColor: COLORS[1], backgroundColor: COLORS[1] },
          { label: 'monthly', data: days.map(d => d.monthlyActiveUsers), borderColor: COLORS[3], backgroundColor: COLORS[3] }
        ]
      },
      options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
    }, sum(days.map(d => d.activeUsers)))
    draw('sessions', {
      type: 'bar',
      data: {
        labels,
        datasets: [
          { label: 'started', data: days.map(d => d.sessionsStarted), backgroundColor: COLORS[0] },
          { label: 'ended', data: days.map(d => d.sessionsEnded), backgroundColor: COLORS[2] }
        ]
      },
      options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
    }, sum(days.map(d => d.sessionsStarted)))
    const platforms: Record<string, number> = {}
    for (const d of days) for (const [p, n] of Object.entries(d.platforms)) platforms[p] = (platforms[p] ?? 0) + n
    const names = Object.keys(platforms).sort()
    draw('platforms', {
      type: 'doughnut',
      data: { labels: names.map(platformLabel), datasets: [{ label: 'sessions', data: names.map(p => platforms[p]!), backgroundColor: names.map((_, i) => COLORS[i % COLORS.length]!) }] }
    }, sum(Object.values(platforms)))
    draw('usage', {
      type: 'line',
      data: {
        labels,
        datasets: [
          { label: 'edits per session', data: days.map(d => Math.round(d.editsPerSession * 10) / 10), borderColor: COLORS[0], backgroundColor: COLORS[0] },
          { label: 'devices per user', data: days.map(d => Math.round(d.devicesPerUser * 10) / 10), borderColor: COLORS[1], backgroundColor: COLORS[1] },
          { label: 'hand-offs', data: days.map(d => d.handoffs), borderColor: COLORS[2], backgroundColor: COLORS[2] }
        ]
      },
      options: { scales: { y: { beginAtZero: true } } }
    }, sum(days.map(d => d.edits)))
  }

  const loadAnalytics = async () => {
    const n = Number(range.value)
    const today = new Date()
    const from = new Date(today.getTime() - (n - 1) * 86_400_000).toISOString().slice(0, 10)
    try {
      const res = await b.admin<AnalyticsResponse>('GET', `/admin/analytics?from=${from}&to=${today.toISOString().slice(0, 10)}&bucket=day`)
      if (!destroyed) renderAnalytics(res.days)
    } catch (err) { toast(friendlyError(err), 'error') }
  }

  // --------------------------------------------------------------------------------- users
  const search = h('input', { class: 'input', type: 'search', placeholder: 'Email starts with…', 'aria-label': 'Search users by email', 'data-testid': 'admin-search' })
  const userList = h('div', { class: 'admin-users', 'data-testid': 'admin-users' })
  const detail = h('div', { class: 'admin-detail', 'data-testid': 'admin-detail' })
  const events = h('div', { class: 'admin-events', 'data-testid': 'admin-events' })
  let selected: AdminUserInfo | null = null

  const loadUsers = async () => {
    try {
      const res = await b.admin<AdminUserListResponse>('GET', `/admin/users?prefix=${encodeURIComponent(search.value.trim())}&limit=20`)
      if (destroyed) return
      clear(userList)
      if (!res.users.length) userList.append(h('p', { class: 'muted' }, 'No users match.'))
      for (const u of res.users) {
        userList.append(h('button', { class: 'admin-user', type: 'button', 'data-testid': 'admin-user', 'data-user': u.id, 'aria-pressed': String(selected?.id === u.id), onclick: () => void select(u) },
          h('span', { class: 'email' }, u.email),
          u.admin ? h('span', { class: 'role-tag' }, 'admin') : null,
          u.disabledAt ? h('span', { class: 'role-tag danger' }, 'disabled') : null))
      }
    } catch (err) { toast(friendlyError(err), 'error') }
  }
  let searchTimer: ReturnType<typeof setTimeout> | undefined
  search.addEventListener('input', () => { clearTimeout(searchTimer); searchTimer = setTimeout(() => void loadUsers(), 250) })

  const renderEvents = (list: SecurityEventInfo[]) => {
    clear(events)
    if (!list.length) { events.append(h('p', { class: 'muted' }, 'No security events.')); return }
    events.append(h('table', { class: 'admin-table' },
      h('thead', null, h('tr', null, h('th', null, 'When'), h('th', null, 'Event'), h('th', null, 'Details'), h('th', null, 'IP'))),
      h('tbody', null, list.map(e => h('tr', { 'data-testid': 'admin-event', 'data-kind': e.kind },
        h('td', { title: new Date(e.at).toISOString() }, relativeTime(e.at)),
        h('td', null, e.kind),
        h('td', null, [e.reason, ...Object.entries(e.detail ?? {}).filter(([k]) => k !== 'action').map(([k, v]) => `${k}: ${String(v)}`)].filter(Boolean).join(' · ')),
        h('td', null, e.ip ?? ''))))))
  }

  const loadEvents = async () => {
    const q = selected ? `?userId=${encodeURIComponent(selected.id)}&limit=50` : '?limit=50'
    try {
      const res = await b.admin<SecurityEventListResponse>('GET', `/admin/security-events${q}`)
      if (!destroyed) renderEvents(res.events)
    } catch (err) { toast(friendlyError(err), 'error') }
  }

  const sensitive = async (why: string, fn: () => Promise<unknown>, done: string) => {
    try {
      if (await withStepUp(ctx, why, async () => { await fn() })) toast(done, 'success')
    } catch (err) { toast(friendlyError(err), 'error') }
    if (selected) await select(selected)
    await loadUsers()
  }

  const sessionRow = (u: AdminUserInfo, s: AdminSessionInfo) => h('article', { class: 'device', 'data-testid': 'admin-session', 'data-session': s.id },
    h('div', { style: 'min-width:0' },
      h('div', { class: 'name' }, s.deviceName, h('span', { class: 'online-dot', 'data-online': String(s.online > 0) })),
      h('div', { class: 'facts' }, [platformLabel(s.platform), s.online > 0 ? 'Online now' : `Last seen ${relativeTime(s.lastSeenAt)}`, `Signed in ${relativeTime(s.createdAt)}`].map(f => h('span', null, f)))),
    h('div', { class: 'actions' },
      h('button', {
        class: 'btn btn-sm', type: 'button', 'data-testid': 'admin-end-session',
        onclick: async () => {
          if (!(await confirmDialog(`Sign out ${s.deviceName}?`, `${u.email} is signed out on that device at once.`, 'Sign out', true))) return
          await sensitive('Ending a user\'s session needs a fresh code from your authenticator app.', () => b.admin('DELETE', `/admin/sessions/${encodeURIComponent(s.id)}`), `${s.deviceName} was signed out.`)
        }
      }, 'Sign out')))

  const select = async (u: AdminUserInfo) => {
    selected = u
    for (const el of userList.querySelectorAll('[data-user]')) el.setAttribute('aria-pressed', String(el.getAttribute('data-user') === u.id))
    let sessions: AdminSessionInfo[] = []
    try {
      selected = u = await b.admin<AdminUserInfo>('GET', `/admin/users/${encodeURIComponent(u.id)}`)
      sessions = (await b.admin<AdminSessionListResponse>('GET', `/admin/users/${encodeURIComponent(u.id)}/sessions`)).sessions
    } catch (err) { toast(friendlyError(err), 'error') }
    if (destroyed) return
    clear(detail)
    const logoutAll = h('button', {
      class: 'btn btn-danger', type: 'button', 'data-testid': 'admin-logout-all', disabled: sessions.length === 0,
      onclick: async () => {
        if (!(await confirmDialog(`Sign out ${u.email} everywhere?`, `All ${sessions.length} device session${sessions.length === 1 ? '' : 's'} end at once; open documents close on every device.`, 'Sign out everywhere', true))) return
        await sensitive('Signing a user out needs a fresh code from your authenticator app.', () => b.admin('POST', `/admin/users/${encodeURIComponent(u.id)}/logout`), `${u.email} was signed out everywhere.`)
      }
    }, icon('logout', 16), 'Sign out everywhere')
    const toggle = h('button', {
      class: u.disabledAt ? 'btn' : 'btn btn-danger', type: 'button', 'data-testid': u.disabledAt ? 'admin-enable' : 'admin-disable', disabled: u.id === ctx.account.userId,
      onclick: async () => {
        if (!u.disabledAt && !(await confirmDialog(`Disable ${u.email}?`, 'Their sessions end now and they cannot sign in until the account is enabled again.', 'Disable', true))) return
        await sensitive('Changing an account needs a fresh code from your authenticator app.', () => b.admin('POST', `/admin/users/${encodeURIComponent(u.id)}/${u.disabledAt ? 'enable' : 'disable'}`), u.disabledAt ? `${u.email} was enabled.` : `${u.email} was disabled.`)
      }
    }, u.disabledAt ? 'Enable account' : 'Disable account')
    detail.append(
      h('div', { class: 'page-head' },
        h('div', null, h('h2', { 'data-testid': 'admin-selected' }, u.email),
          h('p', { class: 'muted small' }, [`Joined ${relativeTime(u.createdAt)}`, u.mfaEnabled ? 'two-factor on' : 'two-factor off', u.disabledAt ? `disabled ${relativeTime(u.disabledAt)}` : ''].filter(Boolean).join(' · '))),
        h('span', { class: 'spacer' }), logoutAll, toggle),
      h('div', { class: 'device-list' }, sessions.length ? sessions.map(s => sessionRow(u, s)) : h('p', { class: 'muted' }, 'No signed-in devices.')))
    await loadEvents()
  }

  const refresh = h('button', { class: 'btn', type: 'button', 'data-testid': 'admin-refresh', onclick: () => { void loadAnalytics(); void loadUsers(); if (selected) void select(selected); else void loadEvents() } }, icon('refresh', 16), 'Refresh')

  const el = h('div', { class: 'page admin' },
    h('div', { class: 'page-head' },
      h('div', null, h('h1', null, 'Admin'), h('p', { class: 'muted', style: 'margin:4px 0 0' }, 'Usage of this deployment, its users and their devices. Every action here is recorded.')),
      h('span', { class: 'spacer' }), range, refresh),
    stats,
    h('div', { class: 'admin-charts' }, boxes.active.el, boxes.sessions.el, boxes.platforms.el, boxes.usage.el),
    h('div', { class: 'admin-people' },
      h('section', { class: 'card' }, h('h3', null, 'Users'), search, userList),
      h('section', { class: 'card' }, detail, h('h3', null, 'Security events'), events)))

  detail.append(h('p', { class: 'muted' }, 'Choose a user to see their devices.'))
  void loadAnalytics()
  void loadUsers()
  void loadEvents()
  const timer = setInterval(() => { if (document.visibilityState === 'visible') void loadAnalytics() }, 10_000)
  return { el, destroy () { destroyed = true; clearInterval(timer); clearTimeout(searchTimer); for (const c of charts.values()) c.destroy() } }
}
