/** The signed-in layout: top bar (status, account), sidebar (drafts, devices, settings), main area. */
import { h, icon, clear, initials, colorFor } from '../dom.js'
import { currentPath, type Ctx } from '../app.js'
import { statusBadge } from './status.js'
import type { DocInfo } from '../backend.js'
import { newDraftFlow } from './drafts.js'

export interface Shell { el: HTMLElement, main: HTMLElement, badge: ReturnType<typeof statusBadge>, refreshNav (): void, closeDrawer (): void, destroy (): void }

export const createShell = (ctx: Ctx): Shell => {
  const badge = statusBadge()
  const main = h('main', { class: 'main', id: 'main', tabindex: '-1' })
  const myList = h('div', { class: 'nav-list', 'data-testid': 'nav-mine' })
  const sharedList = h('div', { class: 'nav-list', 'data-testid': 'nav-shared' })
  const { color } = colorFor(ctx.account.userId)

  const menuBtn = h('button', { class: 'icon-btn only-phone', type: 'button', 'aria-label': 'Menu', 'aria-expanded': 'false', 'aria-controls': 'sidebar', onclick: () => toggleDrawer() }, icon('menu', 20))

  const navLink = (href: string, label: string, ic: string, testid?: string) =>
    h('a', { class: 'nav-item', href, 'data-link': true, 'data-testid': testid }, icon(ic), h('span', { class: 'title' }, label))

  // Shown once the server says this account is an admin.
  const adminSlot = h('div', { class: 'nav-admin-slot' })
  void ctx.backend.isAdmin().then(admin => {
    if (admin) { adminSlot.replaceChildren(navLink('/admin', 'Admin', 'shield', 'nav-admin')); refreshNav() }
  }, () => {})

  const sidebar = h('nav', { class: 'sidebar', id: 'sidebar', 'aria-label': 'Drafts and account' },
    h('button', { class: 'btn btn-primary btn-block', type: 'button', 'data-testid': 'new-draft-side', onclick: () => { closeDrawer(); void newDraftFlow(ctx) } }, icon('plus'), 'New draft'),
    h('div', { class: 'nav-section' },
      navLink('/', 'All drafts', 'doc', 'nav-home')),
    h('div', { class: 'nav-section' },
      h('div', { class: 'nav-title' }, 'My drafts'), myList),
    h('div', { class: 'nav-section' },
      h('div', { class: 'nav-title' }, 'Shared with me'), sharedList),
    h('div', { class: 'sidebar-foot' },
      navLink('/devices', 'Devices', 'devices', 'nav-devices'),
      navLink('/device', 'Add a device', 'tv', 'nav-add-device'),
      // The TV page has its own full-screen layout: a page load, not an in-app route.
      h('a', { class: 'nav-item', href: '/tv', 'data-testid': 'nav-watch' }, icon('play'), h('span', { class: 'title' }, 'Watch')),
      navLink('/settings', 'Settings', 'settings', 'nav-settings'),
      adminSlot,
      h('button', { class: 'nav-item nav-button', type: 'button', onclick: () => void ctx.signOut() }, icon('logout'), h('span', { class: 'title' }, 'Sign out'))))

  const topbar = h('header', { class: 'topbar' },
    menuBtn,
    h('a', { class: 'brand', href: '/', 'data-link': true, 'aria-label': 'Tandem home' }, h('span', { class: 'brand-logo' }), h('span', { class: 'brand-name' }, 'Tandem')),
    h('span', { class: 'spacer' }),
    badge.el,
    h('a', { class: 'user-menu', href: '/settings', 'data-link': true, title: `${ctx.account.email} · ${ctx.account.deviceName}`, 'aria-label': `Account settings for ${ctx.account.email}` },
      h('span', { class: 'avatar', style: `background:${color}` }, initials(ctx.account.email)),
      h('span', { class: 'user-email only-desktop' }, ctx.account.email)))

  const el = h('div', { class: 'shell', 'data-drawer': 'closed' }, topbar, sidebar, main)
  el.addEventListener('click', (e) => {
    // Tapping the dimmed area (the shell's ::after overlay) closes the drawer on phones.
    if (el.dataset.drawer === 'open' && e.target === el) closeDrawer()
  })
  el.addEventListener('keydown', (e) => { if (e.key === 'Escape' && el.dataset.drawer === 'open') { closeDrawer(); menuBtn.focus() } })

  const toggleDrawer = () => {
    const open = el.dataset.drawer !== 'open'
    el.dataset.drawer = open ? 'open' : 'closed'
    menuBtn.setAttribute('aria-expanded', String(open))
    if (open) sidebar.querySelector<HTMLElement>('a, button')?.focus()
  }
  const closeDrawer = () => { el.dataset.drawer = 'closed'; menuBtn.setAttribute('aria-expanded', 'false') }
  sidebar.addEventListener('click', (e) => { if ((e.target as Element).closest('a')) closeDrawer() })

  const item = (d: DocInfo) =>
    h('a', { class: 'nav-item', href: `/d/${d.id}`, 'data-link': true, 'data-doc': d.id },
      icon(d.role === 'viewer' ? 'eye' : 'doc', 16),
      h('span', { class: 'title' }, d.title || 'Untitled'),
      d.role !== 'owner' ? h('span', { class: 'role-tag' }, d.role) : null)

  const refreshNav = () => {
    clear(myList)
    clear(sharedList)
    const mine = ctx.drafts.mine
    const shared = ctx.drafts.shared
    if (mine.length) for (const d of mine) myList.append(item(d))
    else myList.append(h('div', { class: 'nav-empty' }, ctx.drafts.loaded ? 'No drafts yet.' : 'Loading…'))
    if (shared.length) for (const d of shared) sharedList.append(item(d))
    else sharedList.append(h('div', { class: 'nav-empty' }, 'Nothing shared with you yet.'))
    const path = currentPath()
    for (const a of el.querySelectorAll<HTMLAnchorElement>('.sidebar a.nav-item')) {
      if (a.pathname === path) a.setAttribute('aria-current', 'page')
      else a.removeAttribute('aria-current')
    }
  }

  const unsub = ctx.drafts.subscribe(refreshNav)
  refreshNav()

  return { el, main, badge, refreshNav, closeDrawer, destroy () { unsub(); badge.destroy() } }
}
