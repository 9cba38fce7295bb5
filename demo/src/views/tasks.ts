/**
 * Tasks: a list in the account's session document, the same on every device. Add, complete, reorder
 * (drag a task, or its up/down buttons), remove; another device's changes show as they arrive.
 */
import { h, icon, clear } from '../dom.js'
import type { Ctx } from '../app.js'
import type { Task } from '../backend.js'

export const tasksPage = (ctx: Ctx) => {
  const { backend } = ctx
  const list = h('ol', { class: 'task-list', 'data-testid': 'task-list', 'aria-label': 'Tasks' })
  const input = h('input', { class: 'input', id: 'task-title', name: 'title', maxLength: 200, placeholder: 'Add a task', autocomplete: 'off', 'aria-label': 'New task' })
  const form = h('form', { class: 'row task-form', 'data-testid': 'task-form' },
    input, h('button', { class: 'btn btn-primary', type: 'submit' }, icon('plus', 16), 'Add'))
  const empty = h('p', { class: 'muted', 'data-testid': 'tasks-empty' }, 'No tasks yet. Add one here and it shows on every device you sign in on.')
  const el = h('div', { class: 'page tasks' },
    h('div', { class: 'page-head' }, h('div', null, h('h1', null, 'Tasks'), h('p', { class: 'muted', style: 'margin:4px 0 0' }, 'Synced between your devices, offline too.'))),
    form, list, empty)

  form.addEventListener('submit', (e) => {
    e.preventDefault()
    const title = input.value.trim()
    if (!title) return
    backend.addTask(title)
    input.value = ''
    input.focus()
  })

  let dragged: string | null = null
  const row = (t: Task, i: number, n: number) => {
    const li = h('li', { class: 'task', 'data-testid': 'task', 'data-id': t.id, 'data-done': t.done ? '1' : undefined, draggable: 'true' },
      h('span', { class: 'task-grip', 'aria-hidden': 'true' }, '⋮⋮'),
      h('label', { class: 'task-title grow' },
        h('input', { type: 'checkbox', checked: t.done, 'data-testid': 'task-done', onchange: (e: Event) => backend.setTaskDone(t.id, (e.target as HTMLInputElement).checked) }),
        h('span', { 'data-testid': 'task-text' }, t.title)),
      h('button', { class: 'icon-btn', type: 'button', 'aria-label': `Move “${t.title}” up`, 'data-testid': 'task-up', disabled: i === 0, onclick: () => backend.moveTask(t.id, i - 1) }, icon('up', 14)),
      h('button', { class: 'icon-btn', type: 'button', 'aria-label': `Move “${t.title}” down`, 'data-testid': 'task-down', disabled: i === n - 1, onclick: () => backend.moveTask(t.id, i + 1) }, icon('down', 14)),
      h('button', { class: 'icon-btn', type: 'button', 'aria-label': `Remove “${t.title}”`, 'data-testid': 'task-remove', onclick: () => backend.removeTask(t.id) }, icon('close', 14)))
    li.addEventListener('dragstart', (e) => { dragged = t.id; e.dataTransfer?.setData('text/plain', t.id); li.classList.add('dragging') })
    li.addEventListener('dragend', () => { dragged = null; li.classList.remove('dragging') })
    li.addEventListener('dragover', (e) => { if (dragged && dragged !== t.id) e.preventDefault() })
    li.addEventListener('drop', (e) => {
      e.preventDefault()
      const id = dragged ?? e.dataTransfer?.getData('text/plain')
      if (id && id !== t.id) backend.moveTask(id, i)
    })
    return li
  }

  let key = ''
  const render = () => {
    const tasks = backend.tasks()
    const next = JSON.stringify(tasks)
    if (next === key) return
    key = next
    clear(list)
    tasks.forEach((t, i) => list.append(row(t, i, tasks.length)))
    empty.hidden = tasks.length > 0
    list.dataset.count = String(tasks.length)
  }
  const off = backend.onSessionState(render)
  void backend.sessionDoc().then(render, () => {})
  render()
  return { el, destroy () { off() } }
}
