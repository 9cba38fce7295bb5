/**
 * The platform's passkey ceremonies, as the SDK needs them: WebAuthn JSON options in, the WebAuthn
 * JSON response out. Browsers get one from `@simplewebauthn/browser` (browser.ts); elsewhere pass
 * your own (a native bridge, a security-key library, a test authenticator).
 */
import type { WebAuthnJson } from '../shared/api.js'

export interface PasskeyAuthenticator {
  /** `navigator.credentials.create` for registration options. */
  create (options: WebAuthnJson): Promise<WebAuthnJson>
  /** `navigator.credentials.get` for sign-in or step-up options. */
  get (options: WebAuthnJson): Promise<WebAuthnJson>
}
