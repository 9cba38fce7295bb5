import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import readline from 'node:readline'

const root = path.resolve(import.meta.dirname, '../..')

export interface ChildServer { proc: ChildProcess, url: string, wsUrl: string, logs: string[], exited: Promise<number | null> }

/** The source CLI under tsx; `npm start` runs the same modules compiled (`build/server/main.js`). */
const SOURCE_ENTRY = ['--import', 'tsx', path.join(root, 'server/main.ts')]

/** The real CLI (`server/main.ts`, or `entry`) in its own process, on a free port on 127.0.0.1. */
export const startChildServer = async (args: string[], env: NodeJS.ProcessEnv = {}, entry = SOURCE_ENTRY): Promise<ChildServer> => {
  const proc = spawn(process.execPath, [...entry, '--port', '0', '--host', '127.0.0.1', ...args], {
    cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe']
  })
  const logs: string[] = []
  const exited = new Promise<number | null>(resolve => proc.on('exit', code => resolve(code)))
  proc.stderr!.on('data', d => logs.push(String(d)))
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${logs.join('')}`)), 90_000)
    readline.createInterface({ input: proc.stdout! }).on('line', line => {
      logs.push(line)
      try {
        const entry = JSON.parse(line) as { msg?: string, url?: string }
        if (entry.msg === 'listening' && entry.url) { clearTimeout(timer); resolve(entry.url) }
      } catch { /* not JSON */ }
    })
    void exited.then(code => { clearTimeout(timer); reject(new Error(`server exited with ${code}: ${logs.join('\n')}`)) })
  })
  return { proc, url, wsUrl: url.replace('http', 'ws') + '/sync', logs, exited }
}
