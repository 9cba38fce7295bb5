import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { defineConfig, type Plugin } from 'vite'

const demoDir = import.meta.dirname
const publicDir = path.join(demoDir, 'public')

/** Every file under `dir`, as `/relative/path` URLs. */
const listFiles = (dir: string, base = ''): string[] => {
  if (!fs.existsSync(dir)) return []
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap(e =>
    e.isDirectory() ? listFiles(path.join(dir, e.name), `${base}/${e.name}`) : [`${base}/${e.name}`])
}

/**
 * Emits `sw.js` from `demo/sw.js`, with the exact list of files of this build to precache (the app
 * shell: index.html, every hashed chunk and stylesheet, the manifest and icons) and a version derived
 * from their names and contents. A new build therefore changes the service worker's bytes, which is
 * what makes browsers install the new version.
 */
const serviceWorker = (): Plugin => ({
  name: 'demo-service-worker',
  apply: 'build',
  generateBundle (_options, bundle) {
    const hash = createHash('sha256')
    const files: string[] = []
    for (const [fileName, out] of Object.entries(bundle)) {
      if (fileName.endsWith('.map')) continue
      files.push('/' + fileName)
      hash.update(fileName)
      hash.update(out.type === 'chunk' ? out.code : out.source)
    }
    for (const url of listFiles(publicDir)) {
      files.push(url)
      hash.update(url)
      hash.update(fs.readFileSync(path.join(publicDir, url)))
    }
    const precache = ['/', ...files.filter(f => f !== '/index.html').sort(), '/index.html']
    const template = fs.readFileSync(path.join(demoDir, 'sw.js'), 'utf8')
    const source = template
      .replace('__VERSION__', hash.digest('hex').slice(0, 16))
      .replace('[/* __PRECACHE__ */]', JSON.stringify(precache, null, 2))
    this.emitFile({ type: 'asset', fileName: 'sw.js', source })
  }
})

export default defineConfig({
  root: demoDir,
  publicDir,
  base: '/',
  clearScreen: false,
  logLevel: 'warn',
  build: {
    outDir: path.join(demoDir, 'dist'),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    chunkSizeWarningLimit: 1500
  },
  server: {
    host: '127.0.0.1',
    // `npm run dev:demo` beside `npm start`: the API and sockets go to the real server.
    proxy: {
      '/auth': 'http://127.0.0.1:4321',
      '/sessions': 'http://127.0.0.1:4321',
      '/docs': 'http://127.0.0.1:4321',
      '/sync': { target: 'ws://127.0.0.1:4321', ws: true }
    },
    fs: { allow: [path.resolve(demoDir, '..')] }
  },
  plugins: [serviceWorker()]
})
