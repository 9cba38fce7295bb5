/**
 * Bundles the server into one ES module, `build/server.js` (with `build/server.js.map`), which `npm start`
 * runs under plain node, and copies the PostgreSQL migrations next to it.
 *
 * Why a bundle and not tsc's one file per module: the process keeps the source text of every module it
 * loads and a module record for each of several hundred files; one minified file starts with less
 * resident memory and a smaller peak when many devices connect.
 *
 * Native addons stay external (resolved from node_modules): level/classic-level and @node-rs/argon2 load
 * prebuilt binaries. pino is bundled: it would load worker files only for transports, which the server
 * does not use (it writes JSON lines to stdout), and bundled it costs less JS heap at start.
 * Whitespace and syntax are minified, identifiers are not: function and class names stay as written, for
 * stack traces and logs, without esbuild's `keepNames`. That option wraps every function expression in
 * a `__name()` call, a defineProperty that runs each time a closure is created (Yjs creates several per
 * transaction) and moves the closure's properties into a dictionary: more JS heap per loaded document
 * and more server CPU per edit. Yjs and its lib0 get two allocation fixes on the way in
 * (server/yjs/yjs-patch.ts).
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { build, type Plugin } from 'esbuild'
import { yjsPatchPlugin } from './yjs/yjs-patch.js'

const root = path.resolve(import.meta.dirname, '..')
export const SERVER_BUNDLE = path.join(root, 'build/server.js')
const EXTERNAL = ['level', 'classic-level', '@node-rs/argon2']

/**
 * Two packages whose loading costs more than their use, each ~0.25 MB of JS heap at start:
 * - `rate-limiter-flexible`'s index loads every limiter it has (Redis, Mongo, Postgres, DynamoDB, …);
 *   the server uses the in-memory one. Named re-exports, so importing anything else fails the build.
 * - prom-client loads `@opentelemetry/api` only to label exemplars with the active span, and the server
 *   enables no exemplars. With no OpenTelemetry SDK registered, the real API answers exactly this:
 *   no active span.
 */
const trimPlugin = (): Plugin => ({
  name: 'trim-unused-modules',
  setup (b) {
    b.onResolve({ filter: /^rate-limiter-flexible$/ }, () => ({ path: 'rate-limiter-flexible', namespace: 'trimmed' }))
    b.onResolve({ filter: /^@opentelemetry\/api$/ }, () => ({ path: '@opentelemetry/api', namespace: 'trimmed' }))
    b.onLoad({ filter: /^rate-limiter-flexible$/, namespace: 'trimmed' }, () => ({
      resolveDir: root,
      loader: 'js',
      contents: "export { default as RateLimiterMemory } from 'rate-limiter-flexible/lib/RateLimiterMemory.js'\n" +
        "export { default as RateLimiterRes } from 'rate-limiter-flexible/lib/RateLimiterRes.js'\n"
    }))
    b.onLoad({ filter: /^@opentelemetry\/api$/, namespace: 'trimmed' }, () => ({
      loader: 'js',
      contents: 'export const trace = { getSpan: () => undefined }\nexport const context = { active: () => undefined }\n'
    }))
  }
})

export const buildServerBundle = async (): Promise<string> => {
  await build({
    entryPoints: [path.join(root, 'server/main.ts')],
    outfile: SERVER_BUNDLE,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: 'linked',
    external: EXTERNAL,
    plugins: [yjsPatchPlugin(), trimPlugin()],
    // Some bundled CommonJS packages call require() for Node built-ins; ESM output has no require.
    banner: { js: "import { createRequire as __bundleRequire } from 'node:module'; const require = __bundleRequire(import.meta.url);" },
    logLevel: 'warning'
  })
  // The PostgreSQL schema migrations are read at start from `migrations/` next to the running module.
  await fs.cp(path.join(root, 'server/storage/postgres/migrations'), path.join(path.dirname(SERVER_BUNDLE), 'migrations'), { recursive: true })
  return SERVER_BUNDLE
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const out = await buildServerBundle()
  console.log(`server bundled: ${path.relative(root, out)}`)
}
