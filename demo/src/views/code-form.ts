import { busy, val } from '../dom.js'
import { friendlyError } from '../backend.js'

/**
 * The submit handling every one-time-code form shares (sign-in MFA, MFA setup, MFA off, step-up): the
 * code without spaces, `check`ed, then `action` with the submit button busy; a failure shows its message
 * and selects the code for retyping.
 */
export const onCodeSubmit = (
  form: HTMLFormElement, submit: HTMLButtonElement, error: HTMLElement,
  action: (code: string) => Promise<void>,
  check: (code: string) => string | null = code => (code ? null : 'Enter the code.')
) => {
  form.addEventListener('submit', (e) => {
    e.preventDefault()
    const code = val(form, 'code').replace(/\s+/g, '')
    const problem = check(code)
    if (problem) { error.textContent = problem; return }
    void busy(submit, async () => {
      try {
        await action(code)
      } catch (err) {
        error.textContent = friendlyError(err)
        form.querySelector<HTMLInputElement>('input[name="code"]')?.select()
      }
    })
  })
}
