/**
 * Bundles the server into one minified ES module, `build/server.js` (with `build/server.js.map`), which
 * `npm start` runs under plain node.
 *
 * Why a bundle and not tsc's one file per module: the process keeps the source text of every module it
 * loads and a module record for each of several hundred files. One minified file cuts RSS at start by
 * about 13 MB (91 → 78 MB) and the peak of an idle-bench run (`npm run bench -- --mode idle`) by about
 * 20 MB; with 5000 idle devices connected the difference is within that measurement's noise.
 *
 * Native addons and packages that load files at run time stay external (resolved from node_modules):
 * level/classic-level and @node-rs/argon2 load prebuilt binaries, pino may start worker threads by file.
 * `--keep-names` keeps class and function names, which error messages and logs show. Yjs
 * and its lib0 get two allocation fixes on the way in (server/yjs-patch.ts).
 */
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { build } from 'esbuild'
import { yjsPatchPlugin } from './yjs-patch.js'

const root = path.resolve(import.meta.dirname, '..')
export const SERVER_BUNDLE = path.join(root, 'build/server.js')
const EXTERNAL = ['level', 'classic-level', '@node-rs/argon2', 'pino']

export const buildServerBundle = async (): Promise<string> => {
  await build({
    entryPoints: [path.join(root, 'server/main.ts')],
    outfile: SERVER_BUNDLE,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    minify: true,
    keepNames: true,
    sourcemap: 'linked',
    external: EXTERNAL,
    plugins: [yjsPatchPlugin()],
    // Some bundled CommonJS packages call require() for Node built-ins; ESM output has no require.
    banner: { js: "import { createRequire as __bundleRequire } from 'node:module'; const require = __bundleRequire(import.meta.url);" },
    logLevel: 'warning'
  })
  return SERVER_BUNDLE
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const out = await buildServerBundle()
  console.log(`server bundled: ${path.relative(root, out)}`)
}
