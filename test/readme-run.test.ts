import { execFile } from 'node:child_process'
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MLP_BIN, alive, mlp, tempDir } from './helpers/cli.js'

// The README runs as written. Every ```sh block of README.md carries a marker
// on the line before it: `<!-- readme-test: alice -->` or `bob` runs it as that
// teammate (each with a HOME of their own, so `~/.mlp` is their MLP_HOME),
// `<!-- readme-test: skip <why> -->` leaves it out (installing, LAN-only).
// The blocks run in order, each in a fresh `bash -e` that starts in the
// directory the same person's previous block ended in. Rewrites, and nothing
// else: each daemon's default listen address becomes 127.0.0.1 on a free port
// with mDNS off (in that person's config.yaml, which the README says it reads),
// `<alice-address>`, `<alice-peer-id>`, `<bob-peer-id>` become the real ones,
// `<git-url>` a bare repository made for the test. bob's machine has a GPU:
// a fake `nvidia-smi` printing output captured on an H200 is first on its PATH.

const README = fileURLToPath(new URL('../README.md', import.meta.url))
const FAKE_GPU = fileURLToPath(new URL('./fixtures/nvidia-smi', import.meta.url))
const PEOPLE = ['alice', 'bob'] as const
type Person = typeof PEOPLE[number]

/** One marked shell block of the README. */
interface Block { who: Person | 'skip', line: number, text: string, why: string }

/** Every ```sh block with the marker before it; a block without one fails the test. */
function readmeBlocks (markdown: string): Block[] {
  const lines = markdown.split('\n')
  const blocks: Block[] = []
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(sh|bash|shell)\s*$/.test(lines[i])) continue
    const marker = /^<!-- readme-test: (alice|bob|skip)\b\s*(.*?)\s*-->$/.exec(lines[i - 1] ?? '')
    const end = lines.findIndex((l, j) => j > i && l.startsWith('```'))
    if (end < 0) throw new Error(`README.md:${i + 1}: unclosed code block`)
    const text = lines.slice(i + 1, end).join('\n')
    if (marker == null) throw new Error(`README.md:${i + 1}: shell block without a <!-- readme-test: alice|bob|skip <why> --> marker`)
    blocks.push({ who: marker[1] as Block['who'], line: i + 1, text, why: marker[2] })
    i = end
  }
  return blocks
}

async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port
      srv.close(() => { resolve(port) })
    })
  })
}

interface Machine { home: string, cwd: string, env: NodeJS.ProcessEnv }

describe('README runs as written', () => {
  let root: string
  const machines = new Map<Person, Machine>()
  const ids = new Map<Person, { peerId: string, addrs: string[] }>()
  let gitUrl: string

  beforeAll(async () => {
    root = await tempDir('mlp-readme-')
    const bin = join(root, 'bin')
    mkdirSync(bin)
    // what `npm link` gives a user: `mlp` on PATH
    writeFileSync(join(bin, 'mlp'), `#!/bin/sh\nexec "${process.execPath}" "${MLP_BIN}" "$@"\n`)
    chmodSync(join(bin, 'mlp'), 0o755)
    gitUrl = join(root, 'origin.git')
    await sh(`git init -q --bare --initial-branch=main ${gitUrl}`, root, process.env)
    for (const who of PEOPLE) {
      const home = join(root, who)
      mkdirSync(join(home, '.mlp'), { recursive: true, mode: 0o700 })
      writeFileSync(join(home, '.mlp', 'config.yaml'), `listen: [/ip4/127.0.0.1/tcp/${await freePort()}]\nmdns: false\n`)
      writeFileSync(join(home, '.gitconfig'), `[user]\n\tname = ${who}\n\temail = ${who}@example.invalid\n[init]\n\tdefaultBranch = main\n`)
      const path = [bin, ...(who === 'bob' ? [FAKE_GPU] : []), process.env.PATH].join(':')
      const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: undefined, MLP_HOME: undefined, HOME: home, PATH: path, NO_COLOR: '1', GIT_CONFIG_NOSYSTEM: '1' }
      machines.set(who, { home, cwd: home, env })
    }
  })

  afterAll(async () => {
    for (const [, m] of machines) {
      const mlpHome = join(m.home, '.mlp')
      let pid: number | undefined
      try {
        pid = Number(readFileSync(join(mlpHome, 'daemon.pid'), 'utf8').trim().split(/\s/)[0])
      } catch {
        // never started
      }
      await mlp(mlpHome, ['daemon', 'stop'], { timeoutMs: 25_000 })
      if (pid != null && pid > 0 && alive(pid)) process.kill(pid, 'SIGKILL')
    }
  })

  async function idOf (who: Person): Promise<{ peerId: string, addrs: string[] }> {
    let id = ids.get(who)
    if (id == null) {
      const r = await mlp(join((machines.get(who) as Machine).home, '.mlp'), ['id', '--json'])
      if (r.code !== 0) throw new Error(`the README uses ${who}'s id before ${who}'s daemon was started: ${r.stderr}`)
      id = JSON.parse(r.stdout) as { peerId: string, addrs: string[] }
      ids.set(who, id)
    }
    return id
  }

  async function rewrite (text: string): Promise<string> {
    let out = text
    for (const who of PEOPLE) {
      if (out.includes(`<${who}-address>`)) {
        const id = await idOf(who)
        out = out.replaceAll(`<${who}-address>`, id.addrs.find((a) => a.startsWith('/ip4/127.0.0.1/')) ?? id.addrs[0])
      }
      if (out.includes(`<${who}-peer-id>`)) out = out.replaceAll(`<${who}-peer-id>`, (await idOf(who)).peerId)
    }
    return out.replaceAll('<git-url>', gitUrl)
  }

  const blocks = readmeBlocks(readFileSync(README, 'utf8'))

  it('marks every shell block and runs some as each teammate', () => {
    for (const who of PEOPLE) expect(blocks.filter((b) => b.who === who).length, `blocks run as ${who}`).toBeGreaterThan(0)
    for (const b of blocks.filter((b) => b.who === 'skip')) expect(b.why, `README.md:${b.line}: a skipped block says why`).not.toBe('')
  })

  for (const b of blocks) {
    if (b.who === 'skip') continue
    const who = b.who
    it(`README.md:${b.line} as ${who}`, async () => {
      const m = machines.get(who) as Machine
      const cwdFile = join(root, `${who}.cwd`)
      const script = `set -eo pipefail\ncd '${m.cwd}'\ntrap 'pwd > "${cwdFile}"' EXIT\n${await rewrite(b.text)}\n`
      const r = await sh(script, m.cwd, m.env)
      expect(r.code, `README.md:${b.line} (${who}) failed:\n${b.text}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`).toBe(0)
      m.cwd = readFileSync(cwdFile, 'utf8').trim()
    }, 120_000)
  }
})

async function sh (script: string, cwd: string, env: NodeJS.ProcessEnv): Promise<{ code: number, stdout: string, stderr: string }> {
  return await new Promise((resolve) => {
    execFile('bash', ['-c', script], { cwd, env, timeout: 110_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err == null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1
      resolve({ code, stdout, stderr })
    })
  })
}
