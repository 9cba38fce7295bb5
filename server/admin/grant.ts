import type { SessionStore } from '../storage/session-store.js'
import { validEmail } from '../identity/email.js'

/**
 * Grants or revokes the admin role of an existing account (`npm run admin -- grant|revoke <email>`).
 * Takes effect with the account's next request: the role is read from the stored account each time.
 */
export const setAdmin = async (store: SessionStore, email: string, admin: boolean): Promise<{ userId: string, email: string, admin: boolean }> => {
  const canonical = validEmail(email)
  const user = await store.userByEmail(canonical)
  if (!user) throw new Error(`no account with the email ${canonical}`)
  if (admin) user.admin = true
  else delete user.admin
  await store.putUser(user)
  return { userId: user.id, email: user.email, admin }
}
